/**
 * L1's own halt polling of an idle L2's vCPU in a run (sim/nestedIdle.ts builds its plan; docs/
 * simulator.md "Nested idle"): per vCPU, L1's vcpu->halt_poll_ns window, adapted by
 * kvm_vcpu_halt's grow_halt_poll_ns / shrink_halt_poll_ns (virt/kvm/kvm_main.c) exactly as L0's
 * (a HostRuntime with L1's settings), and the phases of the current halt: L1 polls its window
 * (L1 guest mode, no exit), then its HLT exit runs up to L0's block, then L0 polls and blocks.
 * The engine's hooks (hostModels.ts beginHalt, pollSuccess, wake, pollWindowEnds; runEnd.ts).
 */
import { MODE_ROOT } from "./engineConstants";
import { HostRuntime } from "./hostState";
import type { L1PollPlan } from "./nestedIdle";
import type { EngineState } from "./state";

/** L1's per-vCPU halt-poll state in a run: its window (grow/shrink as L0's) and the current halt's phases. */
export class L1PollRuntime {
  readonly window: HostRuntime;
  /** Start of L1's kvm_vcpu_halt, end of its poll window, start of L0's (after L1's HLT exit). */
  readonly begin: Float64Array;
  readonly pollEnd: Float64Array;
  readonly blockAt: Float64Array;
  constructor(
    nV: number,
    hz: number,
    readonly plan: L1PollPlan,
  ) {
    this.window = new HostRuntime(nV, hz, plan.host);
    this.begin = new Float64Array(nV);
    this.pollEnd = new Float64Array(nV);
    this.blockAt = new Float64Array(nV);
  }
}

/** Whether vCPU `v`'s current halt is the idle L2's with L1 polling first. */
export function inL1PollHalt(e: EngineState, v: number): boolean {
  return e.l1Poll !== undefined && e.haltPlan[v] === e.p.idleExit;
}

/**
 * The idle L2's halt begins at `t` (hostModels.ts beginHalt) and L1 polls first: L1's window,
 * then its HLT exit up to L0's block. Returns the cycles before L0's kvm_vcpu_halt.
 */
export function beginL1Poll(e: EngineState, v: number, t: number): number {
  const r = e.l1Poll!;
  const w1 = r.window.pollWindow[v];
  r.begin[v] = t;
  r.pollEnd[v] = t + w1;
  r.blockAt[v] = t + w1 + r.plan.preBlock;
  e.stats.nestedL1PollBlocks++;
  return w1 + r.plan.preBlock;
}

/** Records L1's poll and its HLT exit up to `until`; returns where L0's part begins (its poll). */
export function endL1Phases(e: EngineState, v: number, until: number): number {
  const r = e.l1Poll!;
  const code = e.p.exits[e.haltPlan[v]].code;
  const t0 = r.begin[v];
  const polled = Math.min(until, r.pollEnd[v]) - t0;
  if (polled > 0) {
    e.recorder.recordSegments(t0, polled, v, code, r.plan.polling);
    e.stats.nestedL1PollCycles += polled;
  }
  const exit = Math.min(until, r.blockAt[v]) - r.pollEnd[v];
  if (exit > 0) e.recorder.recordSegments(r.pollEnd[v], exit, v, code, r.plan.preBlockSegments);
  return Math.min(until, r.blockAt[v]);
}

/**
 * An arrival of source `s` at `t` during the idle L2's halt with L1 polling first (hostModels.ts
 * pollSuccess). L1's kvm_vcpu_halt ends either way (its window grows or shrinks). Inside L1's
 * window: L1's poll caught it — the polled chain, no L1 halt_wake; true. During L1's HLT exit:
 * L0's kvm_vcpu_halt finds it at once (kvm_vcpu_check_block before any poll): as an L0 poll
 * success from L0's block on; true. Later (L0 polling): false, with the vCPU's halt start moved
 * to L0's block for the caller's L0 poll success.
 */
export function l1PollArrival(e: EngineState, v: number, t: number, s: number): boolean {
  const r = e.l1Poll!;
  const idle = e.p.nestedIdle!;
  r.window.haltEnded(v, t - r.begin[v]);
  // L1's HLT exit, once begun, runs to L0's block before L0 sees the event.
  const from = endL1Phases(e, v, t < r.pollEnd[v] ? t : Math.max(t, r.blockAt[v]));
  const code = e.p.exits[e.haltPlan[v]].code;
  if (t < r.pollEnd[v]) {
    const chain = idle.wake[s].l1Polled!;
    e.stats.nestedL1PollSuccesses++;
    e.stats.nestedWake(chain);
    e.stats.nestedWakeL1 -= r.plan.l1Wake;
    const w = Math.max(0, e.haltWake[v] - r.plan.l1Wake + chain.l0 + chain.l1);
    if (w > 0) e.recorder.recordSegments(t, w, v, code, chain.segments);
    e.stats.wakeCycles += w;
    e.mode[v] = MODE_ROOT;
    e.vcpuTime[v] = t + w;
    return true;
  }
  e.haltStart[v] = from;
  if (t >= r.blockAt[v]) return false;
  const at = r.blockAt[v];
  const chain = idle.wake[s];
  e.stats.haltPollSuccesses++;
  e.stats.nestedWake(chain);
  e.stats.nestedWakeL0 -= idle.l0Wake;
  const w = Math.max(0, e.haltWake[v] + chain.l0 + chain.l1 - idle.l0Wake - r.plan.preBlock);
  if (w > 0) e.recorder.recordSegments(at, w, v, code, chain.polledSegments);
  e.stats.wakeCycles += w;
  e.mode[v] = MODE_ROOT;
  e.vcpuTime[v] = at + w;
  return true;
}
