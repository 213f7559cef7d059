/**
 * KVM's host behaviour around a vCPU that waits: the wake-up of a halted vCPU (its thread
 * scheduled in again, which shrinks a grown PLE window), adaptive halt polling that catches an
 * event (kvm_vcpu_halt, virt/kvm/kvm_main.c), and the PAUSE-loop exit (the window's growth and
 * kvm_vcpu_on_spin's directed yield). The settings are the file's or KVM's (hostState.ts).
 */

import { growPleWindow, shrinkPleWindow } from "../vmx/kvmDefaults";
import type { EngineState } from "./state";
import * as S from "./state";

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
  e.host.haltBegin[v] = t;
  return e.host.pollWindow[v];
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
  // The halt ended after a block: kvm_vcpu_halt grows or shrinks the poll window.
  e.host.haltEnded(v, t - e.host.haltBegin[v]);
  // The vCPU thread blocked and is scheduled in again (schedIn). A successful halt poll never
  // schedules out, so pollSuccess keeps the window.
  schedIn(e, v);
  e.mode[v] = MODE_ROOT;
  e.vcpuTime[v] = t + w;
}

/** An event arrived while KVM was halt-polling: no sleep, no wake-up cost. */
export function pollSuccess(e: EngineState, v: number, t: number): void {
  const since = e.haltStart[v];
  e.recorder.record(since, t - since, v, VcpuState.Polling, -1, -1);
  e.stats.pollingCycles += t - since;
  e.stats.haltPollSuccesses++;
  // The vCPU never slept: the wake-up charged to its HLT exit did not happen.
  if (e.haltPlan[v] >= 0) e.stats.wakeNotSpent(e.haltPlan[v], e.haltWake[v]);
  e.host.haltEnded(v, t - e.host.haltBegin[v]);
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
