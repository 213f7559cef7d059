/**
 * Guest operations, inside `path`, `irq`, `timer`, `ipi` and `nmi` bodies (and nested `tsx`,
 * `coalesce`, `branch`, `repeat`): the instructions and accesses whose exits the analysis
 * decides, each lowered to a `GuestOp`.
 */

import type { BlockEntry, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords, GUEST_SIMPLE_OPS } from "../../lang/grammar";
import { X2APIC_MSR, XAPIC_BASE, XAPIC_OFFSET } from "../../vmx/apic";
import { exceptionByVector } from "../../vmx/exceptions";
import { msrByIndex } from "../../vmx/msrs";
import { address, choice, cycles, exceptionVector, integer, msrIndex, seconds, u64 } from "../args";
import { itemText, type LowerContext, spanOf } from "../context";
import type { GuestIR, GuestOp } from "../ir";
import { nestedBlockStatements } from "./blocks";
import { guestStateOps } from "./guestState";
import { type StatementLowerer, statementTable } from "./table";

/**
 * Largest `coalesce` batch: the largest virtio ring (32,768 descriptors, VIRTIO 1.2 §2.7) twice
 * over. The estimator's expected batch size is a sum over 0..N−1.
 */
const MAX_COALESCE = 65_536;

/** The ICR: x2APIC MSR 830H, or xAPIC offset 300H (ICR low, the write that sends) in the APIC page (vmx/apic.ts). */
const X2APIC_ICR_MSR = X2APIC_MSR.ICR;
const XAPIC_ICR_LOW_GPA = XAPIC_BASE + BigInt(XAPIC_OFFSET.ICR_LOW);

const MMIO_ACCESS = argumentWords("guestOps", "mmio").choice! as readonly ("read" | "write")[];
const MOV_REGISTERS = argumentWords("guestOps", "mov").choice!;
const CONTROL_REGISTERS: Record<string, 0 | 3 | 4 | 8> = { cr0: 0, cr3: 3, cr4: 4, cr8: 8 };

type GuestOpStatement = StatementLowerer<GuestIR, GuestOp | undefined>;

/**
 * Operations without operands that keep their name in the IR (the grammar's list, less
 * `send_ipi`, which lowers to an ICR write).
 */
const simpleOps: GuestOpStatement = {
  keywords: GUEST_SIMPLE_OPS.filter((op) => op !== "send_ipi" && op !== "vmcall"),
  lower: (_ctx, _guest, statement) => ({ op: statement.keyword as "cpuid", span: spanOf(statement) }),
};

const compute: GuestOpStatement = {
  keywords: ["compute"],
  lower(ctx, _guest, statement) {
    const n = cycles(ctx, statement.items[0], statement);
    return n === undefined ? undefined : { op: "compute", cycles: n, span: spanOf(statement) };
  },
};

/** Extension: the ICR write that sends an IPI, per the guest's APIC mode. */
const sendIpi: GuestOpStatement = {
  keywords: ["send_ipi"],
  lower(_ctx, guest, statement) {
    const span = spanOf(statement);
    return guest.apic === "x2apic"
      ? { op: "wrmsr", msr: X2APIC_ICR_MSR, msrName: msrByIndex(X2APIC_ICR_MSR)?.name ?? "X2APIC_ICR", span }
      : { op: "mmio", access: "write", gpa: XAPIC_ICR_LOW_GPA, span };
  },
};

/** `vmcall [NR]`: the hypercall number (RAX) a `handler VMCALL nr N` dispatches on. */
const vmcall: GuestOpStatement = {
  keywords: ["vmcall"],
  lower(ctx, _guest, statement) {
    const span = spanOf(statement);
    const item = statement.items[0];
    if (item === undefined) return { op: "vmcall", span };
    const nr = integer(ctx, item, "a hypercall number (0–0xffffffff)", "vmcall", item, 0, 0xffffffff);
    return nr === undefined ? { op: "vmcall", span } : { op: "vmcall", nr, span };
  },
};

const msrAccess: GuestOpStatement = {
  keywords: ["rdmsr", "wrmsr"],
  lower(ctx, _guest, statement) {
    const keyword = statement.keyword as "rdmsr" | "wrmsr";
    const msr = msrIndex(ctx, statement.items[0], keyword, keywordSpanOf(statement));
    if (msr === undefined) return undefined;
    const span = spanOf(statement);
    return msr.name === undefined
      ? { op: keyword, msr: msr.index, span }
      : { op: keyword, msr: msr.index, msrName: msr.name, span };
  },
};

const portAccess: GuestOpStatement = {
  keywords: ["in", "out"],
  lower(ctx, _guest, statement) {
    const keyword = statement.keyword as "in" | "out";
    const port = integer(
      ctx,
      statement.items[0],
      "a port (0–0xffff)",
      keyword,
      keywordSpanOf(statement),
      0,
      0xffff,
    );
    return port === undefined ? undefined : { op: keyword, port, span: spanOf(statement) };
  },
};

const mmio: GuestOpStatement = {
  keywords: ["mmio"],
  lower(ctx, _guest, statement) {
    const [first, second] = statement.items;
    const access = choice(ctx, first, MMIO_ACCESS, "mmio", keywordSpanOf(statement), {});
    if (access === undefined) return undefined;
    const gpa = address(ctx, second, `mmio ${access}`, first!);
    return gpa === undefined ? undefined : { op: "mmio", access, gpa, span: spanOf(statement) };
  },
};

const memoryAccess: GuestOpStatement = {
  keywords: ["read", "write", "exec"],
  lower(ctx, _guest, statement) {
    const keyword = statement.keyword as "read" | "write" | "exec";
    const first = statement.items[0];
    const span = spanOf(statement);
    if (keyword === "read" && first?.kind === "Ident" && (first.name === "cr3" || first.name === "cr8")) {
      return { op: "read_cr", cr: first.name === "cr3" ? 3 : 8, span };
    }
    const gpa = address(ctx, first, keyword, keywordSpanOf(statement));
    return gpa === undefined ? undefined : { op: "mem", access: keyword, gpa, span };
  },
};

const mov: GuestOpStatement = {
  keywords: ["mov"],
  lower(ctx, _guest, statement) {
    const [first, second] = statement.items;
    const span = spanOf(statement);
    const register = choice(ctx, first, MOV_REGISTERS, "mov", keywordSpanOf(statement), {
      unknown: "register",
    });
    if (register === undefined) return undefined;
    if (register === "dr") return { op: "mov_dr", span };
    const cr = CONTROL_REGISTERS[register]!;
    if (second === undefined) return { op: "mov_cr", cr, span };
    const value = u64(ctx, second, "a register value", `mov ${register}`, span);
    return value === undefined ? undefined : { op: "mov_cr", cr, value, span };
  },
};

const pauseLoop: GuestOpStatement = {
  keywords: ["pause_loop"],
  lower(ctx, _guest, statement) {
    const time = seconds(ctx, statement.items[0], "pause_loop", keywordSpanOf(statement));
    return time === undefined
      ? undefined
      : { op: "pause_loop", cycles: Math.round(time * ctx.target.hz), span: spanOf(statement) };
  },
};

const exception: GuestOpStatement = {
  keywords: ["exception"],
  lower(ctx, _guest, statement) {
    const [first, second] = statement.items;
    const span = spanOf(statement);
    const vector = exceptionVector(ctx, first, "exception", 31, keywordSpanOf(statement));
    if (vector === undefined) return undefined;
    if (second === undefined) return { op: "exception", vector, span };
    const errorCode = integer(ctx, second, "an error code", "exception", second, 0, 0xffffffff);
    if (errorCode !== undefined && exceptionByVector(vector)?.hasErrorCode === false) {
      ctx.report("warning", "TL205", `${exceptionByVector(vector)!.mnemonic} pushes no error code`, second, {
        reference: "L-x86.h x86_exception_has_error_code",
      });
    }
    return errorCode === undefined ? undefined : { op: "exception", vector, errorCode, span };
  },
};

const dirty: GuestOpStatement = {
  keywords: ["dirty"],
  lower(ctx, _guest, statement) {
    const [first, second] = statement.items;
    const pages = integer(ctx, first, "a page count", "dirty", keywordSpanOf(statement), 0, 1 << 30);
    if (
      second !== undefined &&
      !(second.kind === "Ident" && (second.name === "pages" || second.name === "page"))
    ) {
      ctx.wrongItem(second, "`pages`", `dirty ${first ? itemText(first) : ""}`);
    }
    return pages === undefined ? undefined : { op: "dirty", pages, span: spanOf(statement) };
  },
};

const tsx: GuestOpStatement = {
  keywords: ["tsx"],
  lower: (ctx, guest, statement) => ({
    op: "tsx",
    ops: guestOpsIn(ctx, "tsx", statement, guest),
    span: spanOf(statement),
  }),
};

/**
 * `coalesce N or T { OPS }`. N ≥ 1 (TL205), T > 0 (TL207), and not inside `tsx` or another
 * `coalesce` (TL213): the pending count lives across executions, which a transaction's abort
 * would have to roll back, and an inner batch inside an outer one has no single meaning.
 */
const coalesce: GuestOpStatement = {
  keywords: ["coalesce"],
  lower(ctx, guest, statement) {
    const [countItem, orItem, timeItem] = statement.items;
    const outer = ctx.guestOpsInside;
    const ops = guestOpsIn(ctx, "coalesce", statement, guest);
    if (outer !== undefined) {
      ctx.error(
        "TL213",
        outer.keyword === "tsx"
          ? "`coalesce` cannot be inside `tsx`: its pending count outlives the transaction; put the `tsx` inside the `coalesce` or the `coalesce` after the `tsx`"
          : "`coalesce` cannot be inside another `coalesce`: a batch of batches has no single timeout; merge them into one `coalesce`",
        keywordSpanOf(statement),
        { related: [{ span: outer.span, message: `the enclosing \`${outer.keyword}\`` }] },
      );
      return undefined;
    }
    const count = integer(
      ctx,
      countItem,
      "a batch size",
      "coalesce",
      keywordSpanOf(statement),
      1,
      MAX_COALESCE,
    );
    if (count === undefined) return undefined;
    if (orItem === undefined || orItem.kind !== "Ident" || orItem.name !== "or") {
      if (orItem === undefined)
        ctx.error(
          "TL201",
          `expected \`or T\` (the timeout) after \`coalesce ${count}\`, e.g. \`coalesce ${count} or 50us\``,
          countItem!,
        );
      else ctx.wrongItem(orItem, "`or` and a timeout", `coalesce ${count}`);
      return undefined;
    }
    const timeoutSec = seconds(ctx, timeItem, "or", orItem);
    if (timeoutSec === undefined) return undefined;
    if (count === 1)
      ctx.report(
        "warning",
        "TL214",
        "`coalesce 1` flushes at every execution: the timeout never applies (the operations could be written without `coalesce`)",
        countItem!,
      );
    return { op: "coalesce", count, timeoutSec, ops, span: spanOf(statement) };
  },
};

const GUEST_OP_LOWERERS = statementTable<GuestIR, GuestOp | undefined>("guestOps", [
  simpleOps,
  compute,
  sendIpi,
  msrAccess,
  portAccess,
  vmcall,
  mmio,
  memoryAccess,
  mov,
  pauseLoop,
  exception,
  dirty,
  tsx,
  ...nestedBlockStatements<GuestIR, GuestOp>(guestOps),
  coalesce,
  ...guestStateOps(guestOps),
]);

/** The operations of a block's entries, in order; statements that do not lower are left out (diagnosed). */
export function guestOps(ctx: LowerContext, entries: readonly BlockEntry[], guest: GuestIR): GuestOp[] {
  const ops: GuestOp[] = [];
  for (const entry of entries) {
    if (entry.kind !== "Statement" || !entry.known) continue;
    const op = GUEST_OP_LOWERERS.get(entry.keyword)?.(ctx, guest, entry);
    if (op !== undefined) ops.push(op);
  }
  return ops;
}

/** The body of a `tsx` or `coalesce`, lowered with that block recorded for the nesting rules. */
function guestOpsIn(
  ctx: LowerContext,
  keyword: "tsx" | "coalesce",
  statement: Statement,
  guest: GuestIR,
): GuestOp[] {
  const outer = ctx.guestOpsInside;
  ctx.guestOpsInside = { keyword, span: keywordSpanOf(statement) };
  try {
    return guestOps(ctx, statement.body?.entries ?? [], guest);
  } finally {
    ctx.guestOpsInside = outer;
  }
}
