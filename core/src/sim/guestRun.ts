/**
 * The guest side of the engine: a vCPU running its contexts in VMX non-root mode — starting and
 * ending jobs, interpreting up to the next pending action (runGuest), going idle, being stopped
 * by an asynchronous event (stopGuest, with TSX aborts), reaching a context's exit (syncExit) and
 * interrupt delivery into the guest. The event loop, arrivals, exits and entries are the
 * subclass's (engine.ts, class Engine, the one concrete class: every call stays monomorphic).
 */

import * as S from "./engineConstants";
import { pleExit, pollSuccess, wake } from "./hostModels";
import { abortTsx, interpret } from "./interpreter";
import { deliverOnL1Side, sideAt } from "./l1Side";
import { SIDE_L2 } from "./nestedPlan";
import { EngineState } from "./state";
import { tryStraight } from "./straight";

// Module-local copies (see engineConstants.ts).
const {
  ACTION_NONE,
  ACTION_EXIT,
  ACTION_RESUME,
  ACTION_YIELD,
  MARK_INJECTION,
  MARK_ARRIVAL,
  MARK_POSTED,
  PATH_QUEUE,
  IRQ_QUEUE,
  TSX_RETRIES,
  REASON_PAUSE,
  MODE_GUEST,
  MODE_HALTED,
  MODE_HALT_POLL,
  MODE_ROOT,
} = S;

export abstract class GuestRun extends EngineState {
  /** Takes exit plan `planIndex` at `t` (engine.ts). */
  protected abstract beginExit(
    v: number,
    t: number,
    planIndex: number,
    source: number,
    c?: number,
    credit?: number,
  ): void;

  /** An interrupt of source `s` arrives on `v` at `t`: queued, then delivered in the guest or through its exit. */
  protected interruptArrives(v: number, s: number, t: number): void {
    const src = this.p.sources[s];
    const mode = this.mode[v];
    if (!this.pushIrq(v, s, t)) {
      this.stats.dropped[s]++;
      return;
    }
    // An interrupt for L1 arriving outside L2 owes its reflected exit to the next entry — but
    // not the one that wakes a blocked idle L2: its wake-up chain delivers it (nestedIdle.ts),
    // nor one that finds L1's side of root mode: L1's own interrupt, no nested exit (l1Side.ts).
    if (
      this.sourceToL1[s] === 1 &&
      !(mode === MODE_GUEST && src.arrivalExit >= 0) &&
      !(
        (mode === MODE_HALTED || mode === MODE_HALT_POLL) &&
        this.p.nestedIdle !== undefined &&
        this.haltPlan[v] === this.p.idleExit
      )
    ) {
      const side = mode === MODE_ROOT ? sideAt(this, v, t) : SIDE_L2;
      if (side !== SIDE_L2) deliverOnL1Side(this, v, s, side);
      else this.irqExitsOwed[v]++;
    }
    this.recorder.mark(t, v, MARK_ARRIVAL, src.vector);
    if (mode === MODE_GUEST) {
      if (src.arrivalExit >= 0) {
        this.stopGuest(v, t);
        // The delivery exit is the source's (its per-execution exits, not its handler's latency).
        this.beginExit(v, t, src.arrivalExit, -1, -1, s);
      } else if (this.ctxActive[2 * v + 1] === 0) {
        // Posted (or not intercepted): delivered in the guest without an exit.
        this.stopGuest(v, t);
        this.deliverIrq(v, t, src.posted ? MARK_POSTED : MARK_INJECTION);
        this.guestSince[v] = t;
        this.runGuest(v, t);
      }
    } else if (mode === MODE_HALTED) wake(this, v, t, s);
    else if (mode === MODE_HALT_POLL) pollSuccess(this, v, t, s);
  }

  /** Starts the first waiting interrupt's guest handler at `t` (level-1 context). */
  protected deliverIrq(v: number, t: number, markKind: number): void {
    const i = v * IRQ_QUEUE + this.irqHead[v];
    const s = this.irqSrc[i];
    const latency = t - this.irqTime[i];
    this.irqHead[v] = (this.irqHead[v] + 1) % IRQ_QUEUE;
    this.irqLen[v]--;
    this.stats.delivered(s, latency);
    this.startJob(2 * v + 1, s);
    this.recorder.mark(t, v, markKind, this.p.sources[s].vector);
    if (markKind === MARK_INJECTION) this.stats.injections++;
  }

  protected startJob(c: number, s: number): void {
    if (s !== this.ticklessSource) this.tickDue[c >> 1] = 1;
    this.ctxActive[c] = 1;
    this.ctxSrc[c] = s;
    this.ctxPc[c] = this.p.sources[s].start;
    this.action[c] = ACTION_NONE;
    this.computeLeft[c] = 0;
    this.spinning[c] = 0;
    this.abortAfter[c] = 0;
    this.spinHolder[c] = -1;
    this.tsxPc[c] = -1;
    this.tsxFallback[c] = 0;
    this.tsxRetries[c] = 0;
    this.repDepth[c] = 0;
    this.ctxExits[c] = 0;
    this.ctxExitCycles[c] = 0;
  }

  protected endJob(c: number): void {
    this.ctxActive[c] = 0;
    this.action[c] = ACTION_NONE;
    this.stats.executionDone(this.ctxSrc[c], this.ctxExits[c], this.ctxExitCycles[c]);
  }

  /** Runs the guest on `v` from `t` until the next pending action (scheduled or taken inline). */
  protected runGuest(v: number, start: number): void {
    let t = start;
    for (;;) {
      const c1 = 2 * v + 1;
      // An interrupt that waited for the previous handler to return is delivered now.
      if (this.ctxActive[c1] === 0 && this.irqLen[v] > 0) this.deliverIrq(v, t, MARK_INJECTION);
      let c = this.activeContext(v);
      if (c < 0) {
        if (this.pathLen[v] > 0) {
          const i = v * PATH_QUEUE + this.pathHead[v];
          this.pathHead[v] = (this.pathHead[v] + 1) % PATH_QUEUE;
          this.pathLen[v]--;
          const s = this.pathSrc[i];
          if (this.straightStart[s] >= 0) {
            const end = tryStraight(this, v, s, t);
            if (end >= 0) {
              t = end;
              continue;
            }
          }
          c = c1 - 1;
          this.startJob(c, s);
        } else {
          this.goIdle(v, t);
          return;
        }
      }
      this.idleInGuest[v] = 0;
      this.idleExitTaken[v] = 0;
      if (this.action[c] === ACTION_NONE) interpret(this, v, c, t);
      const left = this.computeLeft[c];
      if (left > 0 || this.action[c] === ACTION_YIELD) {
        const at = t + left;
        this.actionTime[v] = at;
        if (at > this.ptDeadline[v]) {
          this.ptFire[v] = 1;
          this.vcpuTime[v] = this.ptDeadline[v];
        } else {
          this.ptFire[v] = 0;
          this.vcpuTime[v] = at;
        }
        return;
      }
      if (this.action[c] === ACTION_EXIT) {
        this.syncExit(v, c, t);
        return;
      }
      // A resume point reached with no compute left (an interrupt stopped the guest right at
      // it): go on interpreting.
      if (this.action[c] === ACTION_RESUME) {
        this.action[c] = ACTION_NONE;
        continue;
      }
      this.endJob(c);
    }
  }

  protected goIdle(v: number, t: number): void {
    if (this.tickDue[v] === 1 && this.ticklessSource >= 0) {
      // A tickless guest going idle programs its one-shot tick: once per busy period (the
      // estimator's model, docs/estimator.md).
      this.tickDue[v] = 0;
      this.stats.arrivals[this.ticklessSource]++;
      this.interruptArrives(v, this.ticklessSource, t);
      return;
    }
    const idleExit = this.p.idleExit;
    if (idleExit >= 0 && this.idleExitTaken[v] === 0) {
      this.idleExitTaken[v] = 1;
      this.closeGuest(v, t);
      this.beginExit(v, t, idleExit, -1);
      return;
    }
    // Idle in the guest (idle poll, or HLT/MWAIT that do not exit): only interrupts and new
    // work end it, and the preemption timer if it runs.
    if (this.idleInGuest[v] === 0) {
      this.closeGuest(v, t);
      this.idleInGuest[v] = 1;
    }
    if (this.ptDeadline[v] < Number.POSITIVE_INFINITY) {
      this.ptFire[v] = 1;
      this.vcpuTime[v] = this.ptDeadline[v];
    } else this.vcpuTime[v] = Number.POSITIVE_INFINITY;
  }

  /** Stops the running guest at `t` for an asynchronous event, keeping the context's progress. */
  protected stopGuest(v: number, t: number): void {
    this.closeGuest(v, t);
    this.vcpuTime[v] = Number.POSITIVE_INFINITY;
    this.ptFire[v] = 0;
    const c = this.activeContext(v);
    if (c < 0) return;
    if (this.action[c] !== ACTION_NONE) {
      const left = this.actionTime[v] - t;
      this.computeLeft[c] = Math.max(left, 0);
    }
    // An exit inside a transactional region aborts it: the work so far is lost and the region
    // runs again (after a few aborts, non-transactionally, as lock-elision fallbacks do).
    if (this.tsxPc[c] >= 0 && this.tsxFallback[c] === 0 && this.tsxStart[c] <= t) {
      this.stats.tsxAborts++;
      this.ctxPc[c] = this.tsxPc[c];
      this.repDepth[c] = this.tsxDepth[c];
      this.action[c] = ACTION_NONE;
      this.computeLeft[c] = 0;
      this.spinning[c] = 0;
      this.abortAfter[c] = 0;
      this.tsxPc[c] = -1;
      if (++this.tsxRetries[c] >= TSX_RETRIES) this.tsxFallback[c] = 1;
    }
  }

  /** The context's pending exit is reached (`t`). */
  protected syncExit(v: number, c: number, t: number): void {
    this.closeGuest(v, t);
    const plan = this.actPlan[c];
    const remaining = this.actCount[c] - 1;
    this.actCount[c] = remaining;
    if (remaining <= 0) this.action[c] = ACTION_NONE;
    this.computeLeft[c] = 0;
    if (this.spinning[c] === 1 && this.p.exits[plan].code === REASON_PAUSE) pleExit(this, v, c, t);
    if (this.abortAfter[c] === 1) {
      this.abortAfter[c] = 0;
      this.action[c] = ACTION_NONE;
      this.ctxPc[c] = abortTsx(this, c);
    }
    this.beginExit(v, t, plan, this.actSource[c], c);
  }
}
