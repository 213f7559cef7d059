/**
 * The per-level result of an L2 guest's run (`SimulationResult.nested`), with the estimator's
 * field names where they mean the same (analysis/nested/estimate.ts, NestedEstimate): exits into
 * L0 per second by cause, host CPU by level, per reason and level. Counted from every exit of
 * the run: each plan's parts (nestedPlan.ts) times its exits; the L0 cycles of an exit L0 keeps
 * are the ones the run drew, a reflected chain's are its steps'.
 */
import type { CompiledGuest } from "./plan";
import type { SimStatistics } from "./statistics";
import type { SimNestedReason, SimNestedStats } from "./types";

export function nestedResult(
  p: CompiledGuest,
  stats: SimStatistics,
  duration: number,
): SimNestedStats | undefined {
  const run = p.nested;
  if (!run) return undefined;
  const hz = p.hz;
  const perSec = duration > 0 ? 1 / duration : 0;
  // Per (level, reason): its exits may run different handlers (one specialised by operand, the
  // general one), so the per-exit transitions and accesses are count-weighted means too.
  const rows = new Map<
    string,
    {
      row: SimNestedReason;
      count: number;
      l0: number;
      l1: number;
      transitions: number;
      trapped: number;
      shadowed: number;
    }
  >();
  let kept = 0;
  let reflected = 0;
  /** Of `reflected`: nested exits L0 synthesized at an entry (no exit from L2). */
  let synthesized = 0;
  let trapped = 0;
  /** Every exit into L0 of the plans' parts: L2's exits, L1's trapped instructions and VMRESUMEs. */
  let transitions = 0;
  let l0Cycles = 0;
  let l1Cycles = 0;
  p.exits.forEach((plan, i) => {
    const count = stats.exitCount[i];
    const nested = plan.nested;
    if (!nested || !(count > 0)) return;
    const measured = stats.exitTransition[i] + stats.exitHandler[i] + stats.exitUserspace[i];
    // The first part absorbs what the run drew beyond the other parts' expected cycles.
    let others = 0;
    for (let k = 1; k < nested.parts.length; k++) others += count * (nested.parts[k].l0 + nested.parts[k].l1);
    nested.parts.forEach((part, k) => {
      let l0: number;
      let l1: number;
      if (k === 0) {
        l1 = count * part.l1;
        l0 = measured - others - l1;
      } else {
        l0 = count * part.l0;
        l1 = count * part.l1;
      }
      l0Cycles += l0;
      l1Cycles += l1;
      transitions += count * part.transitions;
      if (part.level === "L1") {
        reflected += count;
        // A chain's exits into L0 but its L2 exit (none synthesized) and its VMRESUME.
        const l2Exit = part.synthesized ? 0 : 1;
        if (part.synthesized) synthesized += count;
        trapped += count * (part.transitions - 1 - l2Exit);
      } else kept += count;
      const key = `${part.level}:${part.code}`;
      let r = rows.get(key);
      if (!r) {
        r = {
          row: {
            reason: part.reason,
            code: part.code,
            level: part.level,
            exitsPerSecond: 0,
            l0CyclesPerExit: 0,
            l1CyclesPerExit: 0,
            l0TransitionsPerExit: part.transitions,
            trappedAccessesPerExit: part.trapped,
            shadowedAccessesPerExit: part.shadowed,
          },
          count: 0,
          l0: 0,
          l1: 0,
          transitions: 0,
          trapped: 0,
          shadowed: 0,
        };
        rows.set(key, r);
      }
      r.count += count;
      r.l0 += l0;
      r.l1 += l1;
      r.transitions += count * part.transitions;
      r.trapped += count * part.trapped;
      r.shadowed += count * part.shadowed;
    });
  });
  const byReason = [...rows.values()].map(({ row, count, l0, l1, transitions, trapped, shadowed }) => ({
    ...row,
    exitsPerSecond: count * perSec,
    l0CyclesPerExit: count > 0 ? l0 / count : 0,
    l1CyclesPerExit: count > 0 ? l1 / count : 0,
    l0TransitionsPerExit: count > 0 ? transitions / count : row.l0TransitionsPerExit,
    trappedAccessesPerExit: count > 0 ? trapped / count : row.trappedAccessesPerExit,
    shadowedAccessesPerExit: count > 0 ? shadowed / count : row.shadowedAccessesPerExit,
  }));
  byReason.sort(
    (x, y) =>
      y.exitsPerSecond * (y.l0CyclesPerExit + y.l1CyclesPerExit) -
        x.exitsPerSecond * (x.l0CyclesPerExit + x.l1CyclesPerExit) || x.code - y.code,
  );
  // Blocked idle L2s' wake-up chains, L1's notifications and the interrupts for L1 caught on
  // L1's side of root mode (l1Side.ts): exits into L0 from L1, not L2 exits.
  const l1Extra = stats.nestedWakeExits + stats.nestedNotifyExits + stats.nestedL1SideExits;
  l0Cycles += stats.nestedWakeL0 + stats.nestedNotifyL0 + stats.nestedL1SideL0;
  l1Cycles += stats.nestedWakeL1 + stats.nestedL1PollCycles + stats.nestedL1SideL1;
  const l2Cycles = stats.guestCycles;
  const busy = l2Cycles + l0Cycles + l1Cycles;
  const cores = (cycles: number) => (cycles / hz) * perSec;
  return {
    hypervisor: run.hypervisor,
    vmcs01: run.vmcs01,
    vmcs12: run.vmcs12,
    shadowing: run.shadowing,
    l2ExitsPerSecond: (kept + reflected - synthesized) * perSec,
    reflectedPerSecond: reflected * perSec,
    l0HandledPerSecond: kept * perSec,
    l1ExitsPerSecond: (trapped + reflected + l1Extra) * perSec,
    trappedPerSecond: trapped * perSec,
    vmresumesPerSecond: reflected * perSec,
    synthesizedPerSecond: synthesized * perSec,
    wakeUpsPerSecond: stats.nestedWakeUps * perSec,
    wakeExitsPerSecond: stats.nestedWakeExits * perSec,
    l1HaltPollSuccess:
      stats.nestedL1PollBlocks > 0 ? stats.nestedL1PollSuccesses / stats.nestedL1PollBlocks : 0,
    l1PollCpu: cores(stats.nestedL1PollCycles),
    l1PolledWakeUpsPerSecond: stats.nestedL1PollSuccesses * perSec,
    notifyExitsPerSecond: stats.nestedNotifyExits * perSec,
    l1SideDeliveriesPerSecond: stats.nestedL1SideDeliveries * perSec,
    l1SideExitsPerSecond: stats.nestedL1SideExits * perSec,
    l0ExitsPerSecond: (transitions + l1Extra) * perSec,
    hostCpu: {
      l2: cores(l2Cycles),
      l1: cores(l1Cycles),
      l0: cores(l0Cycles),
      total: cores(busy),
    },
    // A share of L2's busy time: L1's halt-poll spinning (L2 idle) is in hostCpu.l1, not here.
    overhead:
      busy - stats.nestedL1PollCycles > 0
        ? (l0Cycles + l1Cycles - stats.nestedL1PollCycles) / (busy - stats.nestedL1PollCycles)
        : 0,
    byReason,
  };
}
