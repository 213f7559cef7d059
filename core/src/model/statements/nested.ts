/**
 * Nested virtualization (docs/language.md "Nested virtualization"):
 * - `hypervisor NAME on VMCS { handler REASON { OPS } … }`: L1, the vmcs01 L0 runs it with, and
 *   its handlers for the exits of its L2 guests that L0 reflects to it; `halt_poll T grow N
 *   start T shrink N` there is L1's KVM's halt polling of its L2's vCPUs (host.ts lowerHaltPollInto). The handler bodies are
 *   ordinary handler operations (handler.ts), plus L1's VMX instructions (`vmresume`,
 *   `vmlaunch`, `vmptrld`, `vmclear`; `invept`, `invvpid`, `vmread`, `vmwrite` as in L0's).
 * - `guest NAME on VMCS12 in HYPERVISOR`: which L1 runs an L2 guest (`guestHypervisorOf`, and
 *   `checkGuestLevels` once every declaration is known: TL217, TL218; an unknown name is TL117).
 * - `shadow kvm | read FIELD… | write FIELD…` in a vmcs: the fields whose VMREAD / VMWRITE
 *   bitmap bit is 0 (SDM Vol. 3C §25.6.15, pre-2023 §24.6.15), for a vmcs01 with
 *   `proc2 vmcs_shadowing`: L1 reads (writes) them without an exit to L0.
 */
import type { GuestDecl, HypervisorDecl, Statement } from "../../lang/ast";
import { exitReasonByCode, exitReasonByName, exitReasonNames } from "../../vmx/exitReasons";
import { VMCS_SHADOWING_REFERENCE } from "../../vmx/nested";
import type { ExitReasonDef } from "../../vmx/types";
import { vmcsFieldByName, vmcsFieldNames } from "../../vmx/vmcsFields";
import { choice } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { GuestIR, HandlerIR, HypervisorIR, VmcsIR } from "../ir";
import { handlerOps } from "./handler";
import { addOperandHandler, lowerHandlerOperand } from "./handlerOperand";
import { l1HaltPoll, lowerHaltPollInto } from "./host";
import type { StatementLowerer } from "./table";

const SHADOW_WORDS = ["kvm", "read", "write"] as const;

/** `shadow kvm` | `shadow read F…` | `shadow write F…` (statements accumulate). */
export const shadowStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["shadow"],
  lower(ctx, vmcs, statement) {
    const first = statement.items[0];
    const word = choice(ctx, first, SHADOW_WORDS, "shadow", spanOf(statement), { unknown: "shadow word" });
    if (word === undefined) return;
    vmcs.shadow ??= { read: new Set(), write: new Set(), kvm: false, span: spanOf(statement) };
    if (word === "kvm") {
      vmcs.shadow.kvm = true;
      if (statement.items.length > 1)
        ctx.error("TL201", "`shadow kvm` takes no field names (it is KVM's list)", statement.items[1]!);
      return;
    }
    if (statement.items.length === 1)
      ctx.error("TL201", `expected VMCS field names after \`shadow ${word}\``, first!);
    for (let i = 1; i < statement.items.length; i++) {
      const item = statement.items[i]!;
      if (item.kind !== "Ident") {
        ctx.wrongItem(item, "a VMCS field name", `shadow ${word}`);
        continue;
      }
      const field = vmcsFieldByName(item.name);
      if (field === undefined) {
        ctx.unknown("TL106", "VMCS field", item, vmcsFieldNames());
        continue;
      }
      if (word === "write" && field.readOnly) {
        ctx.report(
          "warning",
          "TL216",
          `\`${field.name}\` is a read-only VM-exit information field: L1's VMWRITE of it fails whatever the VMWRITE bitmap says`,
          item,
          { reference: VMCS_SHADOWING_REFERENCE },
        );
        continue;
      }
      (word === "read" ? vmcs.shadow.read : vmcs.shadow.write).add(field.name);
    }
  },
};

/** `hypervisor NAME on VMCS { handler REASON { … } … }` */
export function lowerHypervisor(ctx: LowerContext, decl: HypervisorDecl): void {
  if (decl.name === undefined) return;
  if (decl.vmcs !== undefined) ctx.referenceLater("vmcs", decl.vmcs, "TL111");
  const hypervisor: HypervisorIR = {
    name: decl.name.name,
    span: spanOf(decl),
    nameSpan: decl.name,
    vmcs: decl.vmcs?.name ?? "",
    vmcsSpan: decl.vmcs ?? decl.name,
    handlers: new Map(),
  };
  for (const entry of decl.body?.entries ?? []) {
    if (entry.kind !== "Statement" || !entry.known) continue;
    if (entry.keyword === "halt_poll") {
      // L1's own KVM halt polling (kvm_vcpu_halt in L1), parsed as the target block's.
      hypervisor.haltPoll ??= { ...l1HaltPoll({}) };
      lowerHaltPollInto(ctx, entry, hypervisor.haltPoll);
      continue;
    }
    if (entry.keyword !== "handler") continue;
    const handler = lowerL1Handler(ctx, hypervisor, entry);
    if (handler) hypervisor.handlers.set(handler.reason.code, handler);
  }
  if (ctx.program.hypervisors.has(hypervisor.name)) {
    const first = ctx.program.hypervisors.get(hypervisor.name)!;
    ctx.error("TL101", `duplicate hypervisor \`${hypervisor.name}\``, decl.name, {
      related: [{ span: first.nameSpan, message: "first defined here" }],
    });
    return;
  }
  ctx.program.hypervisors.set(hypervisor.name, hypervisor);
}

function lowerL1Handler(
  ctx: LowerContext,
  hypervisor: HypervisorIR,
  statement: Statement,
): HandlerIR | undefined {
  const item = statement.items[0];
  let reason: ExitReasonDef | undefined;
  if (item === undefined) ctx.error("TL201", "expected an exit reason after `handler`", spanOf(statement));
  else if (item.kind === "Ident") {
    reason = exitReasonByName(item.name);
    if (reason === undefined) ctx.unknown("TL105", "exit reason", item, exitReasonNames());
  } else if (item.kind === "Number") {
    reason = exitReasonByCode(item.value);
    if (reason === undefined || !item.integer) {
      ctx.error("TL105", `no basic exit reason has number ${item.text}`, item);
      reason = undefined;
    }
  } else ctx.wrongItem(item, "an exit reason", "handler");
  const operand =
    reason === undefined ? undefined : lowerHandlerOperand(ctx, reason, statement.items.slice(1));
  const ops = handlerOps(ctx, statement.body?.entries ?? [], undefined);
  if (reason === undefined || item === undefined || operand === null) return undefined;
  if (operand !== undefined) {
    hypervisor.operandHandlers ??= new Map();
    addOperandHandler(ctx, hypervisor.operandHandlers, {
      reason,
      ops,
      span: spanOf(statement),
      reasonSpan: item,
      operand,
    });
    return undefined;
  }
  const existing = hypervisor.handlers.get(reason.code);
  if (existing !== undefined) {
    ctx.error("TL101", `duplicate L1 handler for ${reason.name} in hypervisor \`${hypervisor.name}\``, item, {
      related: [{ span: existing.reasonSpan, message: "the first handler for this exit reason" }],
    });
    return undefined;
  }
  return { reason, ops, span: spanOf(statement), reasonSpan: item };
}

/** The `in HYPERVISOR` clause of a guest declaration, as GuestIR fields (resolved at the end). */
export function guestHypervisorOf(
  ctx: LowerContext,
  decl: GuestDecl,
): Pick<GuestIR, "hypervisor" | "hypervisorSpan"> {
  if (decl.hypervisor === undefined) return {};
  ctx.referenceLater("hypervisor", decl.hypervisor, "TL117");
  return { hypervisor: decl.hypervisor.name, hypervisorSpan: decl.hypervisor };
}

/**
 * Which L1 runs each L2 guest, once every declaration is known (Lowerer.finish): a guest on a
 * nested vmcs in a file with several hypervisors must name one with `in` (TL217; until it does,
 * the first declared runs it, as analysis/nested/reflect.ts computeSetup falls back), and `in`
 * on a guest whose vmcs is not nested means nothing (TL218: that guest runs on L0 directly).
 */
export function checkGuestLevels(ctx: LowerContext): void {
  const { program } = ctx;
  for (const guest of program.guests.values()) {
    const vmcs = program.vmcs.get(guest.vmcs);
    if (vmcs === undefined) continue; // TL111
    if (guest.hypervisor !== undefined && guest.hypervisorSpan !== undefined) {
      if (vmcs.nested) continue;
      const clause = { start: guest.vmcsSpan.end, end: guest.hypervisorSpan.end };
      ctx.error(
        "TL218",
        `\`in ${guest.hypervisor}\`: guest \`${guest.name}\` runs on vmcs \`${vmcs.name}\`, which is not \`nested\`, so L0 runs it directly; only an L2 guest (on a \`vmcs NAME nested\`, a vmcs12) runs in a hypervisor`,
        guest.hypervisorSpan,
        {
          related: [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name} (not nested)` }],
          fixes: [
            {
              title: `Remove \`in ${guest.hypervisor}\``,
              edits: [{ span: clause, newText: "" }],
              preferred: true,
            },
          ],
        },
      );
      continue;
    }
    if (!vmcs.nested || program.hypervisors.size < 2) continue;
    const hypervisors = [...program.hypervisors.values()];
    const names = hypervisors.map((h) => `\`${h.name}\``).join(", ");
    ctx.error(
      "TL217",
      `guest \`${guest.name}\` is an L2 (vmcs \`${vmcs.name}\` is nested) and the file has ${hypervisors.length} hypervisors (${names}): name the one that runs it with \`in HYPERVISOR\` (until then \`${hypervisors[0]!.name}\`, the first, runs it)`,
      guest.vmcsSpan,
      {
        related: hypervisors.map((h) => ({ span: h.nameSpan, message: `hypervisor ${h.name}` })),
        fixes: hypervisors.map((h) => ({
          title: `Run it in \`${h.name}\` (add \`in ${h.name}\`)`,
          edits: [{ span: { start: guest.vmcsSpan.end, end: guest.vmcsSpan.end }, newText: ` in ${h.name}` }],
        })),
      },
    );
  }
}
