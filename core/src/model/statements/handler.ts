/**
 * `handler REASON { OPS }` and `fn NAME { OPS }`: handler operations (vmread, vmwrite, work,
 * inject, userspace, call, branch, repeat and the operand-less ones), the duplicate-handler
 * check and the fn recursion check.
 */

import type { BlockEntry, FnDecl, HandlerDecl } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { vmwriteAnyField } from "../../vmx/capabilities";
import { exitReasonByCode, exitReasonByName, exitReasonNames } from "../../vmx/exitReasons";
import type { ExitReasonDef } from "../../vmx/types";
import { VMCS_READ_ONLY_REFERENCE, vmcsFieldByName, vmcsFieldNames } from "../../vmx/vmcsFields";
import { cycles, exceptionVector, identifier } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { FnIR, HandlerOp } from "../ir";
import { nestedBlockStatements } from "./blocks";
import { addOperandHandler, lowerHandlerOperand } from "./handlerOperand";
import { type StatementLowerer, statementTable } from "./table";

/** The fn whose operations are being lowered (its calls are recorded), or undefined in a handler. */
type InFn = string | undefined;
type HandlerStatement = StatementLowerer<InFn, HandlerOp | undefined>;

const simpleOps: HandlerStatement = {
  keywords: [
    "decode",
    "advance_rip",
    "invept",
    "invvpid",
    "halt",
    "kick",
    "vmresume",
    "vmlaunch",
    "vmptrld",
    "vmclear",
  ],
  lower: (_ctx, _inFn, statement) => ({ op: statement.keyword as "decode", span: spanOf(statement) }),
};

const vmcsAccess: HandlerStatement = {
  keywords: ["vmread", "vmwrite"],
  lower(ctx, _inFn, statement) {
    const keyword = statement.keyword as "vmread" | "vmwrite";
    const first = identifier(ctx, statement.items[0], keyword, keywordSpanOf(statement), {
      expected: "a VMCS field name",
    });
    if (first === undefined) return undefined;
    const field = vmcsFieldByName(first.name);
    if (field === undefined) {
      ctx.unknown("TL106", "VMCS field", first, vmcsFieldNames());
      return undefined;
    }
    if (keyword === "vmwrite" && field.readOnly) {
      if (!vmwriteAnyField(ctx.target.msrs)) {
        ctx.error(
          "TL203",
          `VMWRITE to \`${field.name}\` fails: it is a read-only VM-exit information field and the target's IA32_VMX_MISC[29] is 0`,
          first,
          { reference: VMCS_READ_ONLY_REFERENCE },
        );
      } else {
        // The spec calls this an error; the hardware allows it here. Say both: it succeeds,
        // and it changes nothing VM entry reads (the CPU overwrites the field at the next exit).
        ctx.report(
          "warning",
          "TL203",
          `VMWRITE to \`${field.name}\` succeeds on this target (IA32_VMX_MISC[29] = 1) but has no effect: it is VM-exit information, which VM entry does not read and the next VM exit overwrites`,
          first,
          { reference: VMCS_READ_ONLY_REFERENCE },
        );
      }
    }
    return { op: keyword, field, span: spanOf(statement) };
  },
};

const costOps: HandlerStatement = {
  keywords: ["work", "userspace"],
  lower(ctx, _inFn, statement) {
    const keyword = statement.keyword as "work" | "userspace";
    const first = statement.items[0];
    const span = spanOf(statement);
    if (keyword === "userspace" && first === undefined) return { op: "userspace", cycles: 0, span };
    const n = cycles(ctx, first, statement);
    return n === undefined ? undefined : { op: keyword, cycles: n, span };
  },
};

const inject: HandlerStatement = {
  keywords: ["inject"],
  lower(ctx, _inFn, statement) {
    const vector = exceptionVector(ctx, statement.items[0], "inject", 255, keywordSpanOf(statement));
    return vector === undefined ? undefined : { op: "inject", vector, span: spanOf(statement) };
  },
};

const call: HandlerStatement = {
  keywords: ["call"],
  lower(ctx, inFn, statement) {
    const first = identifier(ctx, statement.items[0], "call", keywordSpanOf(statement), {
      expected: "a fn name",
    });
    if (first === undefined) return undefined;
    // Resolved now: handlers and fns are lowered once every fn is defined.
    const def = ctx.resolveReference("fn", first, "TL109");
    if (def === undefined) return undefined;
    if (inFn !== undefined) {
      const calls = ctx.fnCalls.get(inFn) ?? [];
      calls.push({ fn: first.name, span: first });
      ctx.fnCalls.set(inFn, calls);
    }
    return { op: "call", fn: first.name, span: spanOf(statement) };
  },
};

const HANDLER_LOWERERS = statementTable<InFn, HandlerOp | undefined>("handler", [
  simpleOps,
  vmcsAccess,
  costOps,
  inject,
  call,
  ...nestedBlockStatements<InFn, HandlerOp>(handlerOps),
]);

export function handlerOps(ctx: LowerContext, entries: readonly BlockEntry[], inFn: InFn): HandlerOp[] {
  const ops: HandlerOp[] = [];
  for (const entry of entries) {
    if (entry.kind !== "Statement" || !entry.known) continue;
    const op = HANDLER_LOWERERS.get(entry.keyword)?.(ctx, inFn, entry);
    if (op !== undefined) ops.push(op);
  }
  return ops;
}

export function lowerHandler(ctx: LowerContext, decl: HandlerDecl): void {
  if (decl.reason === undefined) return;
  let reason: ExitReasonDef | undefined;
  if (decl.reason.kind === "Ident") {
    reason = exitReasonByName(decl.reason.name);
    if (reason === undefined) ctx.unknown("TL105", "exit reason", decl.reason, exitReasonNames());
  } else {
    reason = exitReasonByCode(decl.reason.value);
    if (reason === undefined || !decl.reason.integer) {
      ctx.error("TL105", `no basic exit reason has number ${decl.reason.text}`, decl.reason);
      reason = undefined;
    }
  }
  const operand = reason === undefined ? undefined : lowerHandlerOperand(ctx, reason, decl.operand);
  const ops = handlerOps(ctx, decl.body?.entries ?? [], undefined);
  if (reason === undefined || operand === null) return;
  if (operand !== undefined) {
    ctx.program.operandHandlers ??= new Map();
    const handler = { reason, ops, span: spanOf(decl), reasonSpan: decl.reason, operand };
    addOperandHandler(ctx, ctx.program.operandHandlers, handler);
    return;
  }
  const existing = ctx.program.handlers.get(reason.code);
  if (existing !== undefined) {
    ctx.error("TL101", `duplicate handler for ${reason.name}`, decl.reason, {
      related: [{ span: existing.reasonSpan, message: "the first handler for this exit reason" }],
    });
    return;
  }
  ctx.program.handlers.set(reason.code, { reason, ops, span: spanOf(decl), reasonSpan: decl.reason });
}

export function lowerFn(ctx: LowerContext, decl: FnDecl): void {
  if (decl.name === undefined) return;
  const ops = handlerOps(ctx, decl.body?.entries ?? [], decl.name.name);
  const fn: FnIR = { name: decl.name.name, ops, span: spanOf(decl), nameSpan: decl.name };
  if (!ctx.program.fns.has(fn.name)) ctx.program.fns.set(fn.name, fn);
}

/** TL110 at each call that closes a cycle of fn calls (a handler must terminate). */
export function checkRecursion(ctx: LowerContext): void {
  // Iterative DFS over fn → fn calls; report each call that closes a cycle once.
  const state = new Map<string, 1 | 2>();
  for (const root of ctx.fnCalls.keys()) {
    if (state.has(root)) continue;
    const stack: { fn: string; next: number }[] = [{ fn: root, next: 0 }];
    const onPath: string[] = [root];
    state.set(root, 1);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const calls = ctx.fnCalls.get(frame.fn) ?? [];
      if (frame.next >= calls.length) {
        state.set(frame.fn, 2);
        stack.pop();
        onPath.pop();
        continue;
      }
      const call = calls[frame.next++]!;
      const s = state.get(call.fn);
      if (s === 1) {
        const cycle = [...onPath.slice(onPath.indexOf(call.fn)), call.fn].join(" → ");
        ctx.error(
          "TL110",
          `recursive call: ${cycle}; fns cannot recurse (a handler must terminate)`,
          call.span,
        );
      } else if (s === undefined) {
        state.set(call.fn, 1);
        stack.push({ fn: call.fn, next: 0 });
        onPath.push(call.fn);
      }
    }
  }
}
