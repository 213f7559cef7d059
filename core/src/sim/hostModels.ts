/**
 * KVM's host behaviour around a vCPU that waits: the wake-up of a halted vCPU (its thread
 * scheduled in again, which shrinks a grown PLE window), adaptive halt polling that catches an
 * event (kvm_vcpu_halt, virt/kvm/kvm_main.c), and the PAUSE-loop exit (the window's growth and
 * kvm_vcpu_on_spin's directed yield). The settings are the file's or KVM's (hostState.ts).
 */

import { growPleWindow, shrinkPleWindow } from "../vmx/kvmDefaults";
import * as S from "./engineConstants";
import { beginL1Poll, endL1Phases, inL1PollHalt, l1PollArrival } from "./l1Poll";
import type { EngineState } from "./state";

const { VcpuState, MODE_ROOT, MODE_DESCHEDULED, MODE_GUEST, MODE_HALTED, MODE_HALT_POLL } = S;

/**
 * A tickless (NO_HZ_IDLE) guest's periodic tick at `t` finds vCPU `v` idle: the tick is
 * stopped (tick_nohz_idle_stop_tick on idle entry, kernel/time/tick-sched.c), so nothing fires.
 * Idle: halted or polling in the host, in its idle loop in the guest, or in the exit that
 * halts it.
 */
export function tickStopped(e: EngineState, v: number): boolean {
  const mode = e.mode[v];
  if (mode === MODE_HALTED || mode === MODE_HALT_POLL) return true;
  if (mode === MODE_GUEST)
    return e.activeContext(v) < 0 && e.pathLen[v] === 0 && e.guestSince[v] <= e.recorder.clock;
  return mode === MODE_ROOT && e.haltRequested[v] === 1;
}

/**
 * A halt begins at `t` (the vCPU blocks in kvm_vcpu_halt): returns how long it polls first —
 * the vCPU's current halt_poll_ns window (0: it blocks at once).
 */
export function beginHalt(e: EngineState, v: number, t: number): number {
  const h = e.host;
  h.haltBegin[v] = t;
  // kvm_vcpu_can_poll: polling needs single_task_running() — not with a vCPU waiting for the CPU.
  // A blocked idle L2 polls in L0 only where L0 blocks the vCPU; L1 may poll first (nestedIdle.ts).
  const idle = e.p.nestedIdle;
  const l1 = inL1PollHalt(e, v) ? beginL1Poll(e, v, t) : 0;
  const poll =
    (h.pool && h.queueLen[h.group[v]] > 0) ||
    (idle !== undefined && !idle.polls && e.haltPlan[v] === e.p.idleExit)
      ? 0
      : h.pollWindow[v];
  if (l1 > 0) {
    // L0's kvm_vcpu_halt begins after L1's poll and HLT exit; the vCPU holds its CPU until then.
    h.haltBegin[v] = t + l1;
    return l1 + poll;
  }
  if (poll <= 0) release(e, v, t);
  return poll;
}

/** The poll window ended without an event: the vCPU blocks and gives up its CPU. */
export function blockAfterPoll(e: EngineState, v: number, t: number): void {
  release(e, v, t);
}

// ------------------------------------------------------------------ over-committed pCPUs

function setPreemptTime(e: EngineState, v: number): void {
  const h = e.host;
  const next = Math.min(h.poissonNext[v], h.sliceEnd[v]);
  if (e.preemptTime[v] !== next) {
    e.preemptTime[v] = next;
    e.refresh(v);
  }
}

/** While vCPUs of the group wait, every running one has a slice end (EEVDF's slice). */
function armSlices(e: EngineState, g: number, t: number): void {
  const h = e.host;
  for (let w = 0; w < e.nV; w++) {
    if (h.group[w] !== g || h.holds[w] === 0 || h.sliceEnd[w] < Number.POSITIVE_INFINITY) continue;
    h.sliceEnd[w] = t + h.sliceCycles;
    setPreemptTime(e, w);
  }
}

/** vCPU `v` waits for a CPU of its group from `t` (Descheduled). */
function enqueue(e: EngineState, v: number, t: number): void {
  const h = e.host;
  const g = h.group[v];
  h.queue[g * e.nV + ((h.queueHead[g] + h.queueLen[g]) % e.nV)] = v;
  h.queueLen[g]++;
  e.mode[v] = MODE_DESCHEDULED;
  e.descheduledUntil[v] = t + e.preemptCycles; // the engine reads the wait's start back from it
  e.vcpuTime[v] = Number.POSITIVE_INFINITY;
  h.sliceEnd[v] = Number.POSITIVE_INFINITY;
  setPreemptTime(e, v);
  armSlices(e, g, t);
  // A polling vCPU of the group stops polling now (kvm_vcpu_can_poll) and gives up its CPU.
  for (let w = 0; w < e.nV; w++) {
    if (h.group[w] === g && e.mode[w] === MODE_HALT_POLL && e.vcpuTime[w] > t) {
      e.vcpuTime[w] = t;
      e.refresh(w);
    }
  }
}

/** vCPU `v` gives up its CPU at `t`; the group's first waiting vCPU gets it. */
function release(e: EngineState, v: number, t: number): void {
  const h = e.host;
  if (!h.pool || h.holds[v] === 0) return;
  h.holds[v] = 0;
  const g = h.group[v];
  h.running[g]--;
  h.sliceEnd[v] = Number.POSITIVE_INFINITY;
  setPreemptTime(e, v);
  if (h.queueLen[g] === 0 || h.running[g] >= h.capacity[g]) return;
  const w = h.queue[g * e.nV + h.queueHead[g]];
  h.queueHead[g] = (h.queueHead[g] + 1) % e.nV;
  h.queueLen[g]--;
  h.holds[w] = 1;
  h.running[g]++;
  e.vcpuTime[w] = t;
  e.refresh(w);
  if (h.queueLen[g] > 0) armSlices(e, g, t);
}

/** A vCPU becomes runnable at `t`: true when it has a CPU, false when it waits for one. */
function acquire(e: EngineState, v: number, t: number): boolean {
  const h = e.host;
  if (!h.pool) return true;
  const g = h.group[v];
  if (h.running[g] < h.capacity[g]) {
    h.holds[v] = 1;
    h.running[g]++;
    if (h.queueLen[g] > 0) armSlices(e, g, t);
    return true;
  }
  enqueue(e, v, t);
  return false;
}

/**
 * At the start every vCPU wants a CPU: the first ones of each group get one, the others wait
 * (true: the engine does not run it). Also draws the first `preempt` time.
 */
export function startVcpu(e: EngineState, v: number): boolean {
  const h = e.host;
  if (e.preemptRate > 0) {
    h.poissonNext[v] = e.rng.exponential(e.p.hz / e.preemptRate);
    e.preemptTime[v] = h.poissonNext[v];
  }
  return !acquire(e, v, 0);
}

/**
 * The vCPU's preemption time is reached: a `preempt` (other host work, for its fixed time) or
 * the end of its slice with vCPUs waiting (to the back of the run queue). False: nothing to do.
 */
export function hostPreemptionDue(e: EngineState, v: number, t: number): boolean {
  const h = e.host;
  if (h.poissonNext[v] <= t) {
    h.poissonNext[v] = t + e.rng.exponential(e.p.hz / e.preemptRate);
    h.sliceDeschedule[v] = 0;
    setPreemptTime(e, v);
    return true;
  }
  h.sliceEnd[v] = Number.POSITIVE_INFINITY;
  setPreemptTime(e, v);
  if (!h.pool || h.holds[v] === 0 || h.queueLen[h.group[v]] === 0) return false;
  h.sliceDeschedule[v] = 1;
  return true;
}

/**
 * A deschedule requested for `v` is due at its VM entry `t`: 0 — a `preempt` (the engine keeps
 * the vCPU off for its fixed time); 1 — a slice end, the vCPU now waits at the back of the run
 * queue; 2 — a slice end with nobody waiting any more: it runs on.
 */
export function poolDeschedule(e: EngineState, v: number, t: number): 0 | 1 | 2 {
  const h = e.host;
  if (h.sliceDeschedule[v] === 0) return 0;
  h.sliceDeschedule[v] = 0;
  if (h.queueLen[h.group[v]] === 0) return 2;
  release(e, v, t);
  enqueue(e, v, t);
  return 1;
}

/**
 * The vCPU thread is scheduled in after it was scheduled out: KVM shrinks the PLE window
 * (vmx_vcpu_load → shrink_ple_window when vcpu->scheduled_out, arch/x86/kvm/vmx/vmx.c; before
 * Linux 6.11 vmx_sched_in); with the default ple_window_shrink = 0, __shrink_ple_window returns
 * the base window (arch/x86/kvm/x86.h).
 */
export function schedIn(e: EngineState, v: number): void {
  if (!e.pleGrowth) return;
  const base = e.p.pleWindow;
  e.pleWindowNow[v] = shrinkPleWindow(e.pleWindowNow[v], base, e.host.pleShrink, base);
}

/**
 * Wakes a halted vCPU at `t` by an arrival of source `s`: KVM schedules its thread back in (the
 * target's halt_wake); a blocked idle L2 then takes the source's wake-up chain (nestedIdle.ts).
 */
export function wake(e: EngineState, v: number, t: number, s: number): void {
  const since = e.haltStart[v];
  e.recorder.record(since, t - since, v, VcpuState.Halted, -1, -1);
  e.stats.haltedCycles += t - since;
  e.stats.haltWakeups++;
  // A blocked idle L2 (nestedIdle.ts): its wake-up chain; the poll window adapts where L0 polls.
  const idle = e.p.nestedIdle;
  const chain = idle !== undefined && e.haltPlan[v] === e.p.idleExit ? idle.wake[s] : undefined;
  if (chain) e.stats.nestedWake(chain);
  // kvm_vcpu_halt grows or shrinks the poll window (L1's own too, when it polls: nestedIdle.ts).
  if (!chain || idle!.polls) e.host.haltEnded(v, t - e.host.haltBegin[v]);
  const l1 = chain && e.l1Poll ? e.l1Poll : undefined;
  if (l1) l1.window.haltEnded(v, t - l1.begin[v]);
  if (e.host.pool && !acquire(e, v, t)) {
    // No CPU free: the woken vCPU waits in the run queue (its wake-up is counted with the exit).
    return;
  }
  let w = e.haltWake[v];
  const reason = e.haltPlan[v] >= 0 ? e.p.exits[e.haltPlan[v]].code : -1;
  if (chain) {
    // L1's HLT exit up to L0's block was spent at the halt when L1 polled first (endL1Phases).
    w += chain.l0 + chain.l1 - (l1 ? l1.plan.preBlock : 0);
    if (w > 0) e.recorder.recordSegments(t, w, v, reason, chain.segments);
  } else if (w > 0) e.recorder.record(t, w, v, VcpuState.Handler, reason, -1);
  e.stats.wakeCycles += w;
  // The vCPU thread blocked and is scheduled in again (schedIn). A successful halt poll never
  // schedules out, so pollSuccess keeps the window.
  schedIn(e, v);
  e.mode[v] = MODE_ROOT;
  e.vcpuTime[v] = t + w;
}

/** The halt-poll window ended at `t` without an event: the vCPU blocks for real. */
export function pollWindowEnds(e: EngineState, v: number, t: number): void {
  // L1 polled first (nestedIdle.ts): its poll and HLT exit, then L0's poll from L0's block.
  const since = inL1PollHalt(e, v) ? endL1Phases(e, v, t) : e.haltStart[v];
  if (t > since || !inL1PollHalt(e, v)) {
    e.recorder.record(since, t - since, v, VcpuState.Polling, -1, -1);
    e.stats.pollingCycles += t - since;
  }
  e.mode[v] = MODE_HALTED;
  e.haltStart[v] = t;
  blockAfterPoll(e, v, t);
}

/** A descheduled vCPU's thread is scheduled in again at `t` (the caller then enters the guest). */
export function descheduledEnds(e: EngineState, v: number, t: number): void {
  const since = e.descheduledUntil[v] - e.preemptCycles;
  const start = Math.max(since, 0);
  e.recorder.record(start, t - start, v, VcpuState.Descheduled, -1, -1);
  e.stats.descheduledCycles += t - start;
  schedIn(e, v);
  e.descheduledUntil[v] = t;
}

/**
 * An event (an arrival of source `s`) arrived while KVM was halt-polling: no sleep, no wake-up
 * cost. A polling idle L2 still takes its wake-up chain, less L0's halt_wake (nestedIdle.ts).
 */
export function pollSuccess(e: EngineState, v: number, t: number, s: number): void {
  // L1's own poll caught it, or L1's HLT exit was under way (nestedIdle.ts); else L0's poll did.
  if (inL1PollHalt(e, v) && l1PollArrival(e, v, t, s)) return;
  const since = e.haltStart[v];
  e.recorder.record(since, t - since, v, VcpuState.Polling, -1, -1);
  e.stats.pollingCycles += t - since;
  e.stats.haltPollSuccesses++;
  e.host.haltEnded(v, t - e.host.haltBegin[v]);
  e.mode[v] = MODE_ROOT;
  const idle = e.p.nestedIdle;
  if (idle !== undefined && e.haltPlan[v] === e.p.idleExit) {
    // L0's wake-up (in the idle plan's `wake` for an L0 block, in the chain's first step for
    // L1's HLT) did not happen: it comes off the chain's L0 cycles, the exit's stay whole.
    const chain = idle.wake[s];
    e.stats.nestedWake(chain);
    e.stats.nestedWakeL0 -= idle.l0Wake;
    const preBlock = e.l1Poll ? e.l1Poll.plan.preBlock : 0;
    const w = Math.max(0, e.haltWake[v] + chain.l0 + chain.l1 - idle.l0Wake - preBlock);
    if (w > 0) e.recorder.recordSegments(t, w, v, e.p.exits[e.haltPlan[v]].code, chain.polledSegments);
    e.stats.wakeCycles += w;
    e.vcpuTime[v] = t + w;
    return;
  }
  // The vCPU never slept: the wake-up charged to its HLT exit did not happen.
  if (e.haltPlan[v] >= 0) e.stats.wakeNotSpent(e.haltPlan[v], e.haltWake[v]);
  e.vcpuTime[v] = t;
}

/**
 * A PAUSE-loop exit: KVM's handle_pause grows the window (grow_ple_window) and calls
 * kvm_vcpu_on_spin, which yields to a preempted vCPU — here the lock holder, which runs
 * again at once and releases the lock after the critical section's remaining time.
 */
export function pleExit(e: EngineState, v: number, c: number, t: number): void {
  if (e.pleGrowth) {
    // grow_ple_window → __grow_ple_window (modifier ple_window_grow, default 2: < base, so it
    // multiplies), capped at ple_window_max (arch/x86/kvm/x86.h).
    const h = e.host;
    e.pleWindowNow[v] = growPleWindow(e.pleWindowNow[v], e.p.pleWindow, h.pleGrow, h.pleMax);
  }
  const h = e.spinHolder[c];
  if (h >= 0 && e.mode[h] === MODE_DESCHEDULED) {
    e.stats.directedYields++;
    e.vcpuTime[h] = t;
    e.refresh(h);
    e.spinHolder[c] = -1;
    if (e.spinLeft[c] > e.spinBase[c]) e.spinLeft[c] = e.spinBase[c];
  }
}
