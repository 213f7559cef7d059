/**
 * KVM's host behaviour around a vCPU that waits: the wake-up of a halted vCPU (its thread
 * scheduled in again, which resets a grown PLE window), halt polling that catches an event,
 * and the PAUSE-loop exit (the window's growth and kvm_vcpu_on_spin's directed yield).
 */

import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import type { EngineState } from "./state";
import * as S from "./state";

const { VcpuState, MODE_ROOT, MODE_HALTED, MODE_DESCHEDULED } = S;
const PLE_WINDOW_GROW = KVM_DEFAULTS.pleWindowGrow.value;

/** Wakes a halted vCPU at `t`: KVM schedules its thread back in (the target's halt_wake). */
export function wake(e: EngineState, v: number, t: number): void {
  const since = e.haltStart[v];
  e.recorder.record(since, t - since, v, VcpuState.Halted, -1, -1);
  e.stats.haltedCycles += t - since;
  e.stats.haltWakeups++;
  const w = e.haltWake[v];
  e.stats.wakeCycles += w;
  const reason = e.haltPlan[v] >= 0 ? e.p.exits[e.haltPlan[v]].code : -1;
  if (w > 0) e.recorder.record(t, w, v, VcpuState.Handler, reason, -1);
  // The vCPU thread blocked and is scheduled in again: KVM shrinks the PLE window on
  // sched-in (vmx_sched_in → shrink_ple_window, arch/x86/kvm/vmx/vmx.c; since Linux 6.11
  // vmx_vcpu_load when vcpu->scheduled_out), and with the default ple_window_shrink = 0
  // __shrink_ple_window returns the base window (arch/x86/kvm/x86.h). A successful halt
  // poll never schedules out, so pollSuccess keeps the window.
  if (e.pleGrowth) e.pleWindowNow[v] = e.p.pleWindow;
  e.mode[v] = MODE_ROOT;
  e.vcpuTime[v] = t + w;
}

/** The halt-poll window ended at `t` without an event: the vCPU blocks for real. */
export function pollWindowEnds(e: EngineState, v: number, t: number): void {
  e.recorder.record(e.haltStart[v], t - e.haltStart[v], v, VcpuState.Polling, -1, -1);
  e.stats.pollingCycles += t - e.haltStart[v];
  e.mode[v] = MODE_HALTED;
  e.haltStart[v] = t;
}

/** A descheduled vCPU's thread is scheduled in again at `t` (the caller then enters the guest). */
export function schedIn(e: EngineState, v: number, t: number): void {
  const since = e.descheduledUntil[v] - e.preemptCycles;
  const start = Math.max(since, 0);
  e.recorder.record(start, t - start, v, VcpuState.Descheduled, -1, -1);
  e.stats.descheduledCycles += t - start;
  // KVM shrinks (with the default ple_window_shrink = 0: resets) the window on sched-in
  // (vmx_sched_in → shrink_ple_window, arch/x86/kvm/vmx/vmx.c; see wake).
  if (e.pleGrowth) e.pleWindowNow[v] = e.p.pleWindow;
  e.descheduledUntil[v] = t;
}

/** An event arrived while KVM was halt-polling: no sleep, no wake-up cost. */
export function pollSuccess(e: EngineState, v: number, t: number): void {
  const since = e.haltStart[v];
  e.recorder.record(since, t - since, v, VcpuState.Polling, -1, -1);
  e.stats.pollingCycles += t - since;
  e.stats.haltPollSuccesses++;
  // The vCPU never slept: the wake-up charged to its HLT exit did not happen.
  if (e.haltPlan[v] >= 0) e.stats.wakeNotSpent(e.haltPlan[v], e.haltWake[v]);
  e.mode[v] = MODE_ROOT;
  e.vcpuTime[v] = t;
}

/**
 * A PAUSE-loop exit: KVM's handle_pause grows the window (grow_ple_window) and calls
 * kvm_vcpu_on_spin, which yields to a preempted vCPU — here the lock holder, which runs
 * again at once and releases the lock after the critical section's remaining time.
 */
export function pleExit(e: EngineState, v: number, c: number, t: number): void {
  if (e.pleGrowth) {
    // __grow_ple_window with KVM_DEFAULT_PLE_WINDOW_GROW 2 (< base: multiply), capped at
    // ple_window_max (arch/x86/kvm/x86.h).
    const grown = e.pleWindowNow[v] * PLE_WINDOW_GROW;
    e.pleWindowNow[v] = Math.min(grown, e.pleMax);
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
