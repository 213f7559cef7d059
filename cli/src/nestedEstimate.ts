/**
 * The per-level part of `trapline estimate` for an L2 guest (nested virtualization): exits per
 * second by level, the chain of each reflected reason, host CPU by level. The JSON object is
 * added as `nested` beside the contract's fields (which keep their meaning: L1's view, the L2
 * guest as if L0 ran it on vmcs12 directly).
 */
import type { NestedEstimate } from "../../core/src/index";
import {
  formatCores,
  formatInteger,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSignificant,
} from "../../core/src/util/format";
import { table } from "./format";

export function nestedJson(n: NestedEstimate): Record<string, unknown> {
  return {
    hypervisor: n.hypervisor,
    vmcs01: n.vmcs01,
    vmcs12: n.vmcs12,
    shadowing: n.shadowing,
    l2ExitsPerSecond: n.l2ExitsPerSecond,
    reflectedPerSecond: n.reflectedPerSecond,
    synthesizedPerSecond: n.synthesizedPerSecond,
    l0HandledPerSecond: n.l0HandledPerSecond,
    l1ExitsPerSecond: n.l1ExitsPerSecond,
    l0ExitsPerSecond: n.l0ExitsPerSecond,
    hostCpu: n.hostCpu,
    overhead: n.overhead,
    byReason: n.byReason,
    chains: n.chains.map((c) => ({
      reason: c.reasonCode,
      handler: c.handlerTitle,
      handled: c.handled,
      l0Cycles: c.l0Cycles,
      l1Cycles: c.l1Cycles,
      total: c.total,
      l0Transitions: c.l0Transitions,
      trappedAccesses: c.trappedAccesses,
      shadowedAccesses: c.shadowedAccesses,
      steps: c.steps.map((s) => ({ label: s.label, level: s.level, cycles: s.cycles })),
    })),
    busyShare: n.busyShare,
    guestShare: n.guestShare,
    idle: n.idle
      ? {
          ...n.idle,
          steps: n.idle.steps.map((s) => ({ label: s.label, level: s.level, cycles: s.cycles })),
        }
      : undefined,
    posted: n.posted,
    l1Notify: n.l1Notify,
    ept02: n.ept02,
  };
}

export function nestedText(n: NestedEstimate, hz: number): string {
  const lines: string[] = [];
  lines.push(
    `nested: L2 ${n.guest} on vmcs ${n.vmcs12}, L1 ${n.hypervisor} on vmcs ${n.vmcs01} (VMCS shadowing ${n.shadowing ? "on" : "off"})`,
  );
  lines.push(
    table([
      [
        "L2 → L0 exits",
        formatRate(n.l2ExitsPerSecond),
        `(${formatRate(n.reflectedPerSecond - n.synthesizedPerSecond)} reflected to L1)`,
      ],
      ...(n.synthesizedPerSecond > 0
        ? [
            [
              "nested exits at entry",
              formatRate(n.synthesizedPerSecond),
              "(interrupts for L1 that found the vCPU outside L2: no L2 exit)",
            ],
          ]
        : []),
      [
        "L1 → L0 exits",
        formatRate(n.l1ExitsPerSecond),
        "(L1's trapped VMX instructions, VMRESUMEs, its own HLTs, ICR writes and interrupts)",
      ],
      ["exits into L0", formatRate(n.l0ExitsPerSecond), "(all levels)"],
      ["overhead", formatPercent(n.overhead), "(share of L2's busy time spent in L0 and L1)"],
      [
        "host CPU",
        formatCores(n.hostCpu.total),
        `(L2 ${formatCores(n.hostCpu.l2)}, L1 ${formatCores(n.hostCpu.l1)}, L0 ${formatCores(n.hostCpu.l0)})`,
      ],
    ]),
  );
  if (n.byReason.length > 0) lines.push("", nestedReasonTable(n.byReason, hz));
  if (n.idle) {
    const i = n.idle;
    lines.push(
      "",
      `idle: ${formatRate(i.idlePeriodsPerSecond)} L2 HLT exits, ${formatRate(i.wakeUpsPerSecond)} wake-ups (${formatPercent(i.survival)} of idle exits block) — blocked by ${i.mode === "none" ? "nobody" : i.mode}: ${i.rule}`,
    );
    if (i.wakeUpsPerSecond > 0) {
      lines.push(
        `  wake-up beyond the HLT: ${formatInteger(i.l0CyclesPerWake + i.l1CyclesPerWake)} cycles (L0 ${formatInteger(i.l0CyclesPerWake)}, L1 ${formatInteger(i.l1CyclesPerWake)}), exits into L0 per wake-up: ${formatSignificant(i.l0ExitsPerWake)}`,
      );
      if (i.steps.length > 0)
        lines.push(table(i.steps.map((s) => [`  ${s.level}`, s.label, formatInteger(s.cycles)])));
    }
    if (i.l1PollWindowNs > 0)
      lines.push(
        `  L1's own halt polling: ${formatPercent(i.l1HaltPollSuccess)} of L1's blocks caught (no L1 HLT, no L0 block), mean window ${formatSeconds(i.l1PollWindowNs / 1e9)}, ${formatCores(i.l1PollCpu)} spinning in L1 (in L1's host CPU)`,
      );
  }
  if (n.posted) {
    const p = n.posted;
    lines.push(
      "",
      `posted into L2: ${formatRate(p.postedPerSecond)} interrupts (${formatRate(p.inGuestModePerSecond)} in guest mode) avoid ${formatRate(p.avoidedExitsPerSecond)} L2 exits, ${formatCores(p.avoidedCyclesPerSecond / hz)}`,
    );
  }
  if (n.l1Notify)
    lines.push(
      `interrupts L1 sends: ${formatRate(n.l1Notify.sendsPerSecond)}, each an ICR write of L1: ${formatRate(n.l1Notify.exitsPerSecond)} exits into L0 on the sender (${formatInteger(n.l1Notify.cyclesPerExit)} cycles each)`,
    );
  if (n.ept02) {
    const e = n.ept02;
    lines.push(
      "",
      `EPT02 start-up (one-time, not in the rates): ${formatInteger(e.pages)} pages × ${formatInteger(e.cyclesPerFault)} cycles = ${formatInteger(e.cycles)} cycles (${formatSignificant(e.seconds * 1e3)} ms of L0)`,
    );
  }
  for (const c of n.chains) {
    const reason =
      n.byReason.find((r) => r.code === c.reasonCode && r.level === "L1")?.reason ?? String(c.reasonCode);
    // A chain run by L1's handler specialised by operand is named by it ("MSR_WRITE IA32_TSC_DEADLINE").
    const title = c.variant !== undefined ? c.handlerTitle : reason;
    lines.push(
      "",
      `chain of a reflected ${title}: ${formatInteger(c.total)} cycles (L0 ${formatInteger(c.l0Cycles)}, L1 ${formatInteger(c.l1Cycles)})`,
    );
    lines.push(table(c.steps.map((s) => [`  ${s.level}`, s.label, formatInteger(s.cycles)])));
  }
  return `${lines.join("\n")}\n`;
}

/** One row per exit reason and level, estimated or simulated: rate, cycles per level, L0 exits, µs. */
export function nestedReasonTable(
  byReason: readonly {
    reason: string;
    level: string;
    exitsPerSecond: number;
    l0CyclesPerExit: number;
    l1CyclesPerExit: number;
    l0TransitionsPerExit: number;
  }[],
  hz: number,
): string {
  const rows: string[][] = [["reason", "level", "exits/s", "L0 cycles", "L1 cycles", "L0 exits", "µs"]];
  for (const r of byReason)
    rows.push([
      r.reason,
      r.level,
      formatRate(r.exitsPerSecond),
      formatInteger(r.l0CyclesPerExit),
      formatInteger(r.l1CyclesPerExit),
      formatSignificant(r.l0TransitionsPerExit),
      formatSignificant(((r.l0CyclesPerExit + r.l1CyclesPerExit) / hz) * 1e6),
    ]);
  return table(rows);
}
