/**
 * The nested part of a guest operation's hover: for an operation of an L2 guest, which level
 * handles each of its exits and why ("handled by L1 because vmcs12 …"), and what one execution
 * costs at L0 and at L1; on the `idle halt` line, who blocks the idle L2 and what a wake-up
 * costs per level; on an operation of an interrupt source, how its interrupt reaches L2 (a
 * nested exit, or posted by L1). `nestedGuestHover` adds the guest-wide terms (idle, posted
 * interrupts, EPT02's start-up). Markdown lines; the language server appends them.
 */
import type { GuestIR, GuestOp, Program } from "../../model/ir";
import type { Span } from "../../source";
import {
  formatCompact,
  formatCores,
  formatInteger,
  formatPercent,
  formatRate,
  formatSeconds,
} from "../../util/format";
import { type NestedEstimate, type NestedOperationEstimate, nestedEstimate } from "./estimate";
import { nestedSetup } from "./reflect";
import { nestedDelivery } from "./wake";

export function nestedOperationHover(program: Program, opSpan: Span): string[] | undefined {
  for (const guest of program.guests.values()) {
    if (opSpan.start < guest.span.start || opSpan.end > guest.span.end) continue;
    const setup = nestedSetup(program, guest);
    if (!setup) return undefined;
    const estimate = nestedEstimate(program, guest.name);
    const op = estimate?.operations.find((o) => o.span.start === opSpan.start && o.span.end === opSpan.end);
    if (!estimate || !op) return undefined;
    const lines = [
      "",
      `**Nested** (L2 \`${guest.name}\` on ${estimate.vmcs12}, L1 \`${estimate.hypervisor}\` on ${estimate.vmcs01}, VMCS shadowing ${estimate.shadowing ? "on" : "off"}):`,
    ];
    for (const x of op.exits) {
      const times = x.perExecution === 1 ? "" : ` × ${formatCompact(x.perExecution)}`;
      lines.push(`- ${x.reason}${times}: ${x.rule}${handlerNote(x)} — ${x.reference}`);
    }
    lines.push(
      "",
      `Per execution: ${formatInteger(op.l0CyclesPerExecution)} cycles in L0, ${formatInteger(op.l1CyclesPerExecution)} in L1 · ${formatRate(op.exitsPerSecond)} L2 exits per vCPU`,
    );
    const isIdle =
      guest.idleSpan && guest.idleSpan.start === opSpan.start && guest.idleSpan.end === opSpan.end;
    if (isIdle) lines.push(...idleLines(estimate));
    const source = guest.sources.find((s) => s.kind !== "path" && holds(s.ops, opSpan));
    if (source) {
      const d = nestedDelivery(setup, source);
      lines.push("", `Its interrupt (\`${source.name}\`): ${d.rule} — ${d.reference}`);
    }
    return lines;
  }
  return undefined;
}

/**
 * Which handler of its level runs the exit: the one specialised by the operation's operand
 * (model/handlers.ts) or the general one; none: the default handler estimate (L1) or TL310 (L0).
 */
function handlerNote(x: NestedOperationEstimate["exits"][number]): string {
  const level = x.level === "L1" ? "L1's" : "L0's";
  if (x.handler === undefined)
    return x.level === "L1" ? "; L1 has no handler for it (the default handler estimate)" : "";
  const kind = x.handlerVariant !== undefined ? "handler specialised by operand" : "handler";
  return `; runs ${level} ${kind} \`${x.handler}\``;
}

function holds(ops: readonly GuestOp[], span: Span): boolean {
  for (const o of ops) {
    if (o.span.start === span.start && o.span.end === span.end) return true;
    if (o.op === "branch" ? o.arms.some((a) => holds(a.ops, span)) : "ops" in o && holds(o.ops, span))
      return true;
  }
  return false;
}

function idleLines(e: NestedEstimate): string[] {
  const i = e.idle;
  if (!i) return [];
  const lines = [
    "",
    `Idle: ${i.rule}. ${formatRate(i.idlePeriodsPerSecond)} idle exits, ${formatRate(i.wakeUpsPerSecond)} wake-ups (${formatPercent(i.survival)} block) — ${i.reference}`,
  ];
  if (i.wakeUpsPerSecond > 0)
    lines.push(
      `Wake-up beyond the HLT: ${formatInteger(i.l0CyclesPerWake)} cycles in L0, ${formatInteger(i.l1CyclesPerWake)} in L1 (an estimate where the steps say so): ${i.steps.map((s) => `${s.level} ${s.label} ${formatInteger(s.cycles)}`).join("; ") || "nothing beyond the idle exit"}`,
    );
  if (i.l1PollWindowNs > 0)
    lines.push(
      `L1's own halt polling (kvm_vcpu_halt in L1, the hypervisor's \`halt_poll\`): ${formatPercent(i.l1HaltPollSuccess)} of L1's blocks caught (no L1 HLT, no L0 block), mean window ${formatSeconds(i.l1PollWindowNs / 1e9)}, ${formatCores(i.l1PollCpu)} spinning in L1`,
    );
  return lines;
}

/** The guest-wide nested terms for a guest's hover (undefined for a guest that is not an L2). */
export function nestedGuestHover(program: Program, guest: GuestIR): string[] | undefined {
  const e = nestedSetup(program, guest) ? nestedEstimate(program, guest.name) : undefined;
  if (!e) return undefined;
  const lines = [
    "",
    `**Nested**: L2 on ${e.vmcs12} under L1 \`${e.hypervisor}\` (${e.vmcs01}) · ${formatRate(e.l0ExitsPerSecond)} exits into L0 · busy ${formatPercent(e.busyShare)} of a vCPU, ${formatPercent(e.guestShare)} in guest mode`,
    ...idleLines(e),
  ];
  if (e.posted)
    lines.push(
      "",
      `Posted into L2: ${formatRate(e.posted.postedPerSecond)} interrupts avoid ${formatRate(e.posted.avoidedExitsPerSecond)} L2 exits — ${e.posted.reference}`,
    );
  if (e.l1Notify)
    lines.push(
      "",
      `Interrupts L1 sends: ${formatRate(e.l1Notify.sendsPerSecond)}, each an ICR write of L1 (${formatRate(e.l1Notify.exitsPerSecond)} exits into L0 on the sender's vCPU)`,
    );
  if (e.ept02)
    lines.push(
      "",
      `EPT02 start-up (one-time, not in the rates): ${formatInteger(e.ept02.pages)} pages × ${formatInteger(e.ept02.cyclesPerFault)} cycles = ${formatInteger(e.ept02.cycles)} cycles in L0 — ${e.ept02.reference}`,
    );
  return lines;
}
