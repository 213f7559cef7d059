/**
 * The discrete-event engine. One state machine per vCPU (guest, VM-exit transition, handler,
 * user space, halted, halt polling, descheduled), events in a tournament tree of per-vCPU numeric
 * times, all per-vCPU and per-context state in typed arrays, and no allocation per event: the
 * hot path is exits of a precompiled plan (see plan.ts). Time is kept in CPU cycles of the
 * target (doubles); the timeline converts to nanoseconds when it records.
 *
 * Each vCPU has two execution contexts: level 0 runs a `path` execution, level 1 an interrupt
 * handler (irq, timer, ipi, nmi), which preempts level 0 and does not nest (the guest runs its
 * handlers with interrupts disabled). Interrupts that arrive while the vCPU is in root mode,
 * halted, descheduled or already in a handler wait, and are delivered at the next VM entry or
 * when the handler returns; delivery latency runs from arrival to the first guest instruction
 * of the handler.
 */

import * as S from "./engineConstants";
import { GuestRun } from "./guestRun";
import {
  beginHalt,
  descheduledEnds,
  hostPreemptionDue,
  pollSuccess,
  pollWindowEnds,
  poolDeschedule,
  startVcpu,
  tickStopped,
  wake,
} from "./hostModels";
import type { EngineOptions } from "./hostState";
import type { CompiledGuest } from "./plan";
import { closeOpenIntervals, engineResult } from "./runEnd";
import { straightArrival, tryStraight } from "./straight";
import type { SimulationResult } from "./types";

// Module-local copies (see engineConstants.ts).
const {
  VcpuState,
  MODE_GUEST,
  MODE_ROOT,
  MODE_HALTED,
  MODE_HALT_POLL,
  MODE_DESCHEDULED,
  ACTION_NONE,
  ACTION_EXIT,
  ACTION_RESUME,
  ACTION_YIELD,
  STOP_NONE,
  STOP_EVENTS,
  STOP_STEPS,
  MARK_INJECTION,
  INJECT_QUEUE,
  FOLD_CHAIN_MAX,
  BATCH_EVENTS_MAX,
} = S;

export class Engine extends GuestRun {
  constructor(plan: CompiledGuest, options: EngineOptions) {
    super(plan, options);
    this.start();
  }

  private start(): void {
    const nV = this.nV;
    for (let v = 0; v < nV; v++) {
      for (let s = 0; s < this.nS; s++) {
        const mean = this.sourceMean[s];
        if (mean <= 0) continue;
        // Periodic sources start at a random phase; Poisson ones after an exponential gap.
        const first = this.sourcePeriodic[s] ? this.rng.next() * mean : this.rng.exponential(mean);
        this.arrivalTime[v * this.nS + s] = first;
      }
      if (this.notifyMean > 0) this.notifyTime[v] = this.rng.exponential(this.notifyMean);
      // The first host preemption; with over-committed pCPUs a vCPU may start waiting for one.
      if (startVcpu(this, v)) continue;
      // Every vCPU starts in the guest with nothing to do (it goes idle at once).
      this.mode[v] = MODE_GUEST;
      this.guestSince[v] = 0;
      this.ptDeadline[v] =
        this.p.preemptionTimerCycles > 0 ? this.p.preemptionTimerCycles : Number.POSITIVE_INFINITY;
      this.runGuest(v, 0);
    }
    for (let v = 0; v < nV; v++) this.refresh(v);
  }

  /** Processes events up to `limit` more; returns true when the run is complete. */
  run(limit: number): boolean {
    if (this.finished) return true;
    const heap = this.heap;
    const endTime = this.endTime;
    const nS = this.nS;
    const stopAt = Math.min(this.events + limit, this.maxEvents + 1);
    const vcpuTime = this.vcpuTime;
    const arrivalTime = this.arrivalTime;
    const blocksStraight = this.blocksStraight;
    const batchCycles = this.batchCycles;
    for (;;) {
      const v = heap.peek();
      let t = heap.time[v];
      if (t >= endTime) break;
      if (this.events >= stopAt || this.steps > this.maxSteps) {
        if (this.events > this.maxEvents) this.stopReason = STOP_EVENTS;
        else if (this.steps > this.maxSteps) this.stopReason = STOP_STEPS;
        if (this.stopReason !== STOP_NONE) {
          this.stopAt(t);
          return true;
        }
        return false;
      }
      // A batch: this event, then (independent vCPUs) the same vCPU's next events before
      // `horizon`, without a queue pass between them; see batchCycles.
      const horizon = Math.min(t + batchCycles, endTime);
      this.recorder.clock = t;
      const batchEnd = this.events + BATCH_EVENTS_MAX;
      for (;;) {
        this.events++;
        // At equal times the vCPU's own event goes first, then arrivals in source order, then
        // host preemption. Handlers set the times they change; refresh requeues the vCPU once.
        if (vcpuTime[v] === t) {
          vcpuTime[v] = Number.POSITIVE_INFINITY;
          this.onVcpuEvent(v, t);
        } else {
          let s = 0;
          const base = v * nS;
          while (s < nS && arrivalTime[base + s] !== t) s++;
          if (s < nS) {
            if (blocksStraight[s] === 1 || !straightArrival(this, v, s)) this.onArrival(s, v, t);
          } else if (this.notifyTime[v] === t) this.onNotify(v, t);
          else this.onHostPreemption(v, t);
        }
        if (batchCycles === 0 || this.events >= batchEnd) break;
        t = this.nextTime(v);
        if (!(t < horizon)) break;
      }
      this.refresh(v);
    }
    this.finish();
    return true;
  }

  // ---------------------------------------------------------------- arrivals

  private onArrival(s: number, v: number, t: number): void {
    const src = this.p.sources[s];
    // A coalesce batch's timeout: the batch closes now and its flush runs as a path job.
    if (src.coalesceSite >= 0) {
      const i = v * this.nSites + src.coalesceSite;
      this.coalesceFlushed(i, src.coalesceSite, this.coalescePending[i], t);
      this.coalescePending[i] = 0;
    }
    const mean = this.sourceMean[s];
    this.arrivalTime[v * this.nS + s] =
      mean > 0 ? t + (this.sourcePeriodic[s] ? mean : this.rng.exponential(mean)) : Number.POSITIVE_INFINITY;
    if (s === this.ticklessSource && tickStopped(this, v)) return;
    this.stats.arrivals[s]++;
    const mode = this.mode[v];
    if (!src.isInterrupt) {
      const c0 = 2 * v;
      if (mode === MODE_GUEST && this.ctxActive[c0] === 0 && this.ctxActive[c0 + 1] === 0) {
        const busyUntil = this.guestSince[v];
        if (busyUntil > t) {
          // Run ahead: earlier straight-line jobs keep the vCPU busy until `busyUntil` (its
          // state is already that of then); this job waits for them, as a queued path would
          // (FIFO), and starts at their end — in one step again when nothing can interleave.
          if (this.pathLen[v] === 0) {
            const end = tryStraight(this, v, s, busyUntil);
            if (end >= 0) {
              this.goIdle(v, end);
              return;
            }
          }
          // Otherwise it waits in the path queue for a vCPU event at `busyUntil`.
          this.enqueuePath(v, s, t);
          if (this.vcpuTime[v] > busyUntil) this.vcpuTime[v] = busyUntil;
          return;
        }
        // Idle in the guest (poll, or HLT that does not exit): start at once.
        if (this.straightStart[s] >= 0) {
          const end = tryStraight(this, v, s, t);
          if (end >= 0) {
            this.goIdle(v, end);
            return;
          }
        }
        this.closeGuest(v, t);
        this.startJob(c0, s);
        this.runGuest(v, t);
        return;
      }
      if (!this.enqueuePath(v, s, t)) return;
      if (mode === MODE_HALTED) wake(this, v, t, s);
      else if (mode === MODE_HALT_POLL) pollSuccess(this, v, t, s);
      return;
    }
    this.interruptArrives(v, s, t);
  }

  // ---------------------------------------------------------------- L1's notifications

  /**
   * Nested: this vCPU sends the notification of an interrupt L1 sends (its ICR write,
   * nestedPlan.ts notifyStream): L1 runs here and its write exits to L0 — now when the vCPU is
   * in guest mode, else at its next entry.
   */
  private onNotify(v: number, t: number): void {
    this.notifyTime[v] = t + this.rng.exponential(this.notifyMean);
    if (this.mode[v] !== MODE_GUEST) {
      this.notifyOwed[v]++;
      return;
    }
    this.stopGuest(v, t);
    this.takeNotify(v, t);
  }

  private takeNotify(v: number, t: number): void {
    const n = this.p.nestedNotify!;
    this.stats.nestedNotify(n.cyclesPerExit);
    this.beginExit(v, t, n.plan, n.source);
  }

  // ---------------------------------------------------------------- host preemption

  private onHostPreemption(v: number, t: number): void {
    if (!hostPreemptionDue(this, v, t)) return;
    const mode = this.mode[v];
    if (mode === MODE_GUEST) {
      // The host's timer tick or reschedule IPI ends guest execution with an external-interrupt
      // exit; the vCPU thread is then switched out.
      this.descheduleRequested[v] = 1;
      this.stopGuest(v, t);
      this.beginExit(v, t, this.p.externalInterruptExit, -1);
    } else if (mode === MODE_ROOT) this.descheduleRequested[v] = 1;
    // A halted or already descheduled vCPU does not hold a host CPU.
  }

  // ---------------------------------------------------------------- vCPU events

  private onVcpuEvent(v: number, t: number): void {
    switch (this.mode[v]) {
      case MODE_ROOT:
        this.entry(v, t);
        return;
      case MODE_HALT_POLL:
        pollWindowEnds(this, v, t);
        return;
      case MODE_DESCHEDULED:
        descheduledEnds(this, v, t);
        this.entry(v, t);
        return;
      case MODE_GUEST: {
        if (this.ptFire[v] === 1) {
          // VMX-preemption timer reached zero (SDM Vol. 3C §26.5.1): exit.
          this.ptFire[v] = 0;
          this.stopGuest(v, t);
          this.ptRemaining[v] = this.p.preemptionTimerCycles;
          this.beginExit(v, t, this.p.preemptionTimerExit, -1);
          return;
        }
        const c = this.activeContext(v);
        if (c < 0) {
          // The end of run-ahead jobs (onArrival) with paths queued behind them.
          if (this.pathLen[v] > 0) {
            this.closeGuest(v, t);
            this.idleInGuest[v] = 0;
            this.runGuest(v, t);
          }
          return;
        }
        this.computeLeft[c] = 0;
        const action = this.action[c];
        if (action === ACTION_EXIT) this.syncExit(v, c, t);
        else if (action === ACTION_RESUME || action === ACTION_YIELD) {
          this.action[c] = ACTION_NONE;
          this.runGuest(v, t);
        } else {
          this.endJob(c);
          this.runGuest(v, t);
        }
        return;
      }
    }
  }

  // ---------------------------------------------------------------- exits and entries

  /**
   * Per-path statistics: `c` is the context whose job takes the exit, `credit` the interrupt
   * source whose delivery it is (−1: neither). Counted before the entry, which may be folded
   * and run the guest on (scheduleEntry).
   */
  protected beginExit(v: number, t: number, planIndex: number, source: number, c = -1, credit = -1): void {
    const total = this.exitStatistics(v, t, planIndex, source);
    if (c >= 0) {
      this.ctxExits[c]++;
      this.ctxExitCycles[c] += this.lastExitCycles;
    } else if (credit >= 0) {
      this.stats.pathExits[credit]++;
      this.stats.pathExitCycles[credit] += this.lastExitCycles;
    }
    const plan = this.p.exits[planIndex];
    const k = this.lastOutcome;
    if (plan.hasEffects) {
      const wake = plan.wake[k];
      if (plan.halt[k] === 1) {
        this.haltRequested[v] = 1;
        this.haltPlan[v] = planIndex;
        this.haltWake[v] = wake;
      }
      for (let i = plan.kicks[k]; i > 0; i--) this.kick();
      const injects = plan.injects[k];
      for (let i = 0; i < injects.length; i++) {
        const n = this.injectLen[v];
        if (n < INJECT_QUEUE) {
          this.injectVector[v * INJECT_QUEUE + n] = injects[i];
          this.injectLen[v] = n + 1;
        }
      }
    }
    if (this.p.preemptionTimerCycles > 0) {
      if (this.p.preemptionTimerSaved) {
        const left = this.ptDeadline[v] - t;
        this.ptRemaining[v] = left > 0 ? left : this.p.preemptionTimerCycles;
      } else this.ptRemaining[v] = this.p.preemptionTimerCycles;
    }
    this.mode[v] = MODE_ROOT;
    this.scheduleEntry(v, t + total);
  }

  /**
   * Schedules the VM entry that ends an exit episode at `te`. When no event for this vCPU can
   * come before `te` (its arrival streams are all later; without host preemption no other vCPU
   * acts on it), the entry is processed at once ("folded"): the vCPU's state runs ahead of the
   * global clock by one episode, which changes nothing it or any other vCPU observes, and saves
   * two queue operations and a dispatch per exit. Chains of exits fold in a loop, not by
   * recursion. Random draws then interleave differently between vCPUs (the same seed still
   * gives the same run).
   */
  private scheduleEntry(v: number, te: number): void {
    if (!this.foldEntries || te >= this.endTime) {
      this.vcpuTime[v] = te;
      return;
    }
    const arrivals = this.arrivalTime;
    for (let i = v * this.nS, end = i + this.nS; i < end; i++) {
      if (arrivals[i] < te) {
        this.vcpuTime[v] = te;
        return;
      }
    }
    if (this.notifyTime[v] < te) {
      this.vcpuTime[v] = te;
      return;
    }
    if (this.inFold) {
      if (v !== this.foldVcpu || this.foldLength >= FOLD_CHAIN_MAX) {
        this.vcpuTime[v] = te;
        return;
      }
      this.foldNext = true;
      this.foldTime = te;
      return;
    }
    // An earlier wake-up still pending (idle preemption-timer deadline) must not fire.
    this.vcpuTime[v] = Number.POSITIVE_INFINITY;
    this.inFold = true;
    this.foldVcpu = v;
    this.foldLength = 0;
    let at = te;
    for (;;) {
      this.events++;
      this.foldLength++;
      this.foldNext = false;
      this.entry(v, at);
      if (!this.foldNext) break;
      at = this.foldTime;
    }
    this.inFold = false;
    this.foldVcpu = -1;
  }

  /**
   * A handler's `kick` (kvm_vcpu_kick) to the next vCPU. Its cost is in the handler; the target
   * is not disturbed: a blocked vCPU woken with no pending event goes back to sleep inside
   * kvm_vcpu_block without re-entering the guest (kvm_vcpu_check_block, virt/kvm/kvm_main.c),
   * and work for it arrives through its own sources. Counted only.
   */
  private kick(): void {
    this.stats.kicks++;
  }

  /** VM entry at `t`: pending events are delivered in architectural order, then the guest runs. */
  private entry(v: number, t: number): void {
    if (this.descheduleRequested[v] === 1) {
      this.descheduleRequested[v] = 0;
      const slice = poolDeschedule(this, v, t);
      if (slice === 1) return;
      if (slice === 0) {
        this.mode[v] = MODE_DESCHEDULED;
        this.descheduledUntil[v] = t + this.preemptCycles;
        this.vcpuTime[v] = t + this.preemptCycles;
        return;
      }
    }
    // Injected exceptions (a #DB owed by an emulated instruction is a trap on that instruction)
    // come before NMIs and external interrupts (SDM Vol. 3A §6.9, event priority classes).
    const n = this.injectLen[v];
    if (n > 0) {
      for (let i = 0; i < n; i++)
        this.recorder.mark(t, v, MARK_INJECTION, this.injectVector[v * INJECT_QUEUE + i]);
      this.stats.injections += n;
      this.injectLen[v] = 0;
    }
    if (this.haltRequested[v] === 1) {
      this.haltRequested[v] = 0;
      if (this.irqLen[v] !== 0 || this.pathLen[v] !== 0 || this.ctxActive[2 * v + 1] !== 0) {
        // An event is already pending: kvm_vcpu_halt returns at once. The wake-up charged to
        // the exit is spent here instead (the estimator charges it on every HLT exit).
        const w = this.haltWake[v];
        // A nested idle L2 that L1 blocks: its L1 thread wake-up and VMRESUME (nestedIdle.ts).
        const pending = this.haltPlan[v] === this.p.idleExit ? this.p.nestedIdle?.pendingSegments : undefined;
        if (w > 0) {
          const code = this.p.exits[this.haltPlan[v]].code;
          if (pending) this.recorder.recordSegments(t, w, v, code, pending);
          else this.recorder.record(t, w, v, VcpuState.Handler, code, -1);
          this.stats.wakeCycles += w;
          this.vcpuTime[v] = t + w;
          return;
        }
      } else {
        this.idleExitTaken[v] = 0;
        this.haltStart[v] = t;
        const poll = beginHalt(this, v, t);
        if (poll > 0) {
          this.mode[v] = MODE_HALT_POLL;
          this.vcpuTime[v] = t + poll;
        } else this.mode[v] = MODE_HALTED;
        return;
      }
    }
    this.mode[v] = MODE_GUEST;
    this.guestSince[v] = t;
    this.idleInGuest[v] = 0;
    if (this.p.preemptionTimerCycles > 0) this.ptDeadline[v] = t + this.ptRemaining[v];
    if (this.notifyOwed[v] > 0) {
      // Nested: a notification due while the vCPU was outside L2 (nestedPlan.ts notifyStream).
      this.notifyOwed[v]--;
      this.takeNotify(v, t);
      return;
    }
    if (this.ctxActive[2 * v + 1] === 0 && this.irqLen[v] > 0) {
      if (this.irqExitsOwed[v] > 0) {
        // Nested: an interrupt for L1 that arrived outside L2. At the nested entry L0 finds it
        // pending and exits to L1 instead (vmx_check_nested_events, nested_vmx_vmexit with
        // EXTERNAL_INTERRUPT); L1 injects it into L2 at its VMRESUME.
        this.irqExitsOwed[v]--;
        this.stats.synthesizedNestedExits++;
        this.beginExit(v, t, this.p.nestedIrqExit, -1);
        return;
      }
      this.deliverIrq(v, t, MARK_INJECTION);
    }
    this.runGuest(v, t);
  }

  /**
   * A budget stopped the run at `t` (the global clock: every vCPU is simulated up to it): the
   * statistics cover [0, t), and the result says so (result.stopped and a warning).
   */
  private stopAt(t: number): void {
    this.endTime = t;
    this.recorder.endAt(t);
    this.finish();
  }

  /** Closes the open intervals at the end of the run so state times add up to the duration. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    closeOpenIntervals(this);
  }

  /** The result, built whole from the observers and how the run ended. */
  result(): SimulationResult {
    return engineResult(this, {
      host: this.hostSettings,
      pollGrows: this.host.pollGrows,
      pollShrinks: this.host.pollShrinks,
    });
  }
}
