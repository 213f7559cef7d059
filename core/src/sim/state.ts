/**
 * The engine's state: the compiled plan, the event queue, every per-vCPU and per-context
 * variable in typed arrays (index v, or c = 2·v + level), the run's budgets, and the two
 * observers (statistics, timeline) the engine reports to. The modules of the engine read and
 * write it directly: engine.ts (the event loop, arrivals, exits and entries), interpreter.ts
 * (a context's bytecode), straight.ts (straight-line jobs in one step), hostModels.ts (KVM's
 * halt wake-up and polling, PLE). Nothing here allocates per event.
 */

import * as C from "./engineConstants";
import { checkBudget, validateOptions } from "./engineOptions";
import { EventHeap } from "./heap";
import { type EngineOptions, HostRuntime, type ResolvedHost, resolveDefaults } from "./hostState";
import { L1PollRuntime } from "./l1Poll";
import { L1SideRuntime } from "./l1Side";
import type { CompiledGuest } from "./plan";
import { TimelineRecorder } from "./recorder";
import { Sfc32 } from "./rng";
import { SimStatistics } from "./statistics";
import { sampleTransition, transitionStream } from "./transitionSample";
import { DEFAULT_MAX_EVENTS, DEFAULT_MAX_STEPS, DEFAULT_TIMELINE_INTERVALS } from "./types";

// Module-local copies: imported bindings can compile to property getters (CommonJS interop),
// which the per-event code must not pay for (engineConstants.ts).
const { VcpuState, STOP_NONE, BATCH_WINDOW_SEC, PATH_QUEUE, IRQ_QUEUE, INJECT_QUEUE, COALESCE_TIMES_MAX } = C;

export class EngineState {
  readonly p: CompiledGuest;
  readonly rng: Sfc32;
  /**
   * Per vCPU, the stream transition durations are drawn from (sim/transitionSample.ts): a
   * vCPU's exits come in the same order whichever way the engine steps (event by event, run-
   * ahead jobs, batches), so each exit draws the same duration; and the main stream's draws
   * (arrivals, arms) stay those of a run without the distribution.
   */
  readonly transitionRng: Sfc32[];
  readonly heap: EventHeap;
  readonly nV: number;
  readonly nS: number;
  /** The run's end in cycles: the duration asked for, or where a budget stopped it. */
  endTime: number;
  readonly maxEvents: number;
  readonly maxSteps: number;
  readonly requestedSec: number;
  readonly seed: number;
  /** Interpreter loop iterations so far (counted per STEP_CHUNK yield). */
  steps = 0;
  stopReason = STOP_NONE;
  /** Loop levels per context (repCount's stride), from the plan: no level is ever dropped. */
  readonly repeatDepth: number;
  /** The host settings in force and the per-vCPU halt-poll state (hostState.ts). */
  readonly hostSettings: ResolvedHost;
  readonly host: HostRuntime;
  /** L1's own halt-poll state of an idle L2 that L1 blocks and polls (nestedIdle.ts); undefined otherwise. */
  readonly l1Poll: L1PollRuntime | undefined;
  /** Nested, with interrupts for L1: the reflected chain in progress per vCPU (l1Side.ts). */
  readonly l1Side: L1SideRuntime | undefined;
  readonly pleGrowth: boolean;
  readonly preemptRate: number;
  readonly preemptCycles: number;
  /** The vCPU's own next event (end of compute, VM entry, wake-up…), +∞ when none. */
  readonly vcpuTime: Float64Array;
  /** Next arrival of each source on each vCPU, index v·nS + s (+∞ when none). */
  readonly arrivalTime: Float64Array;
  /** Next host preemption of each vCPU (+∞ without host preemption). */
  readonly preemptTime: Float64Array;
  /**
   * Nested: each vCPU's next notification of an interrupt L1 sends (its ICR write exits to L0
   * on the sender's vCPU, nestedPlan.ts notifyStream), a Poisson stream at the rate the vCPUs
   * receive them (each sends as many as it receives); +∞ without. `notifyOwed`: ones due while
   * the vCPU was outside L2's guest mode, taken at its next entry.
   */
  readonly notifyTime: Float64Array;
  readonly notifyMean: number;
  readonly notifyOwed: Int32Array;
  readonly sourceMean: Float64Array;
  readonly sourcePeriodic: Uint8Array;
  readonly ticklessSource: number;

  // Per vCPU.
  readonly mode: Uint8Array;
  readonly guestSince: Float64Array;
  readonly idleInGuest: Uint8Array;
  readonly idleExitTaken: Uint8Array;
  readonly actionTime: Float64Array;
  readonly haltRequested: Uint8Array;
  readonly haltStart: Float64Array;
  readonly ptDeadline: Float64Array;
  readonly ptRemaining: Float64Array;
  readonly ptFire: Uint8Array;
  readonly descheduleRequested: Uint8Array;
  readonly descheduledUntil: Float64Array;
  readonly pleWindowNow: Float64Array;
  /** A busy period ran since the last tickless tick (the guest reprograms it going idle). */
  readonly tickDue: Uint8Array;
  readonly haltPlan: Int32Array;
  readonly haltWake: Float64Array;
  readonly injectLen: Uint8Array;
  /**
   * Nested runs: interrupts for L1 queued without their reflected exit (they arrived while the
   * vCPU was outside L2); each takes it at a VM entry (engine.ts entry). Per source, whether its
   * interrupts are L1's.
   */
  readonly irqExitsOwed: Int32Array;
  readonly sourceToL1: Uint8Array;
  readonly injectVector: Int16Array;
  readonly pathHead: Int32Array;
  readonly pathLen: Int32Array;
  readonly pathSrc: Int32Array;
  readonly pathTime: Float64Array;
  readonly irqHead: Int32Array;
  readonly irqLen: Int32Array;
  readonly irqSrc: Int32Array;
  readonly irqTime: Float64Array;
  readonly fraction: Float64Array;
  /** Coalesce sites: executions pending in the open batch, index v·nSites + site. */
  readonly nSites: number;
  readonly coalescePending: Int32Array;
  readonly coalesceCount: Int32Array;
  readonly coalesceTimeout: Float64Array;
  readonly coalesceFlush: Int32Array;
  /** Arrival time of each pending execution, index (v·nSites + site)·coalesceCap + j. */
  readonly coalesceTimes: Float64Array;
  readonly coalesceCap: number;

  // Per context (2 per vCPU).
  readonly ctxActive: Uint8Array;
  readonly ctxSrc: Int32Array;
  readonly ctxPc: Int32Array;
  readonly computeLeft: Float64Array;
  readonly action: Uint8Array;
  readonly actPlan: Int32Array;
  readonly actCount: Float64Array;
  readonly actSource: Int32Array;
  readonly spinLeft: Float64Array;
  readonly spinning: Uint8Array;
  /** The pending exit is a memory access inside a transaction: abort after taking it. */
  readonly abortAfter: Uint8Array;
  readonly spinBase: Float64Array;
  readonly spinHolder: Int32Array;
  readonly tsxPc: Int32Array;
  readonly tsxStart: Float64Array;
  readonly tsxFallback: Uint8Array;
  readonly tsxRetries: Uint8Array;
  readonly tsxDepth: Uint8Array;
  readonly repDepth: Uint8Array;
  readonly repCount: Float64Array;
  /** Exits the context's job has taken and their cycles (per-path statistics). */
  readonly ctxExits: Float64Array;
  readonly ctxExitCycles: Float64Array;
  /** Cycles of the last exit exitStatistics drew, the charged wake-up included. */
  lastExitCycles = 0;

  /** The observers: statistics over every event, and the bounded timeline. */
  readonly stats: SimStatistics;
  readonly recorder: TimelineRecorder;
  events = 0;

  finished = false;
  /**
   * Whether a VM entry may be processed as soon as its exit is taken instead of through the
   * event queue ("folding"), see scheduleEntry. Only without host preemption: that is the one
   * mechanism by which one vCPU observes another's mode (a descheduled lock holder).
   */
  readonly foldEntries: boolean;
  inFold = false;
  foldVcpu = -1;
  foldNext = false;
  foldTime = 0;
  /** Entries folded in the current chain (bounded by FOLD_CHAIN_MAX). */
  foldLength = 0;
  /**
   * Batching (independent vCPUs only, see run): after the queue's earliest event, the same
   * vCPU's following events up to this many cycles later are processed before any other vCPU's;
   * 0 without batching.
   */
  readonly batchCycles: number;
  lastOutcome = 0;
  readonly straightAllowed: boolean;
  readonly straightStart: Int32Array;
  readonly straightLength: Int32Array;
  readonly straightMax: Float64Array;
  readonly straightCompute: Float64Array;
  readonly straightExit: Int32Array;
  readonly straightSource: Int32Array;
  /**
   * Per source: 1 when its next arrival before a straight-line job's end forbids running the job
   * in one step. Path sources with straight-line jobs do not when run-ahead is allowed: they
   * queue behind the job (see onArrival).
   */
  readonly blocksStraight: Uint8Array;
  /**
   * Whether a straight-line job may start at a vCPU's run-ahead end (the vCPU is "idle from
   * guestSince", a time after the current event): only when going idle does nothing but start
   * an idle interval (no idle exit, no tickless tick), so that a vCPU's state at the end of its
   * queued jobs is the same whenever the arrivals that make up the queue are processed.
   */
  readonly runAheadAllowed: boolean;
  /** Timeline state of idle-in-guest time (Halted for `idle halt`, else Polling). */
  readonly idleState: number;
  // Exit plans flattened into typed arrays for straightArrival: per plan its transition, code,
  // handler source and outcome range; per outcome its cumulative probability, handler and user
  // space cycles.
  readonly planTransition: Float64Array;
  /** Per plan: the transition body's σ and the tail's mean (sim/transitionSample.ts). */
  readonly planJitter: Float64Array;
  readonly planTailMean: Float64Array;
  readonly planCode: Int32Array;
  readonly planHandlerSource: Int32Array;
  readonly planOutcomeStart: Int32Array;
  readonly planOutcomeCount: Int32Array;
  readonly outcomeCumulative: Float64Array;
  readonly outcomeHandler: Float64Array;
  readonly outcomeUserspace: Float64Array;

  constructor(plan: CompiledGuest, options: EngineOptions) {
    this.p = plan;
    const hz = plan.hz;
    this.nV = plan.vcpus;
    this.nS = plan.sources.length;
    const nV = this.nV;
    this.seed = options.seed ?? 1;
    this.rng = new Sfc32(this.seed);
    this.transitionRng = [];
    for (let v = 0; v < nV; v++) this.transitionRng.push(transitionStream(this.seed, v));
    this.endTime = options.durationSec * hz;
    this.requestedSec = options.durationSec;
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.repeatDepth = Math.max(1, plan.repeatDepth);
    // The options reach the engine resolved against the file (sim/index.ts, resolveHost).
    this.hostSettings = options.resolvedHost ?? resolveDefaults(options);
    this.host = new HostRuntime(nV, hz, this.hostSettings);
    this.l1Poll = plan.nestedIdle?.l1Poll ? new L1PollRuntime(nV, hz, plan.nestedIdle.l1Poll) : undefined;
    this.pleGrowth = this.host.pleGrow >= 1;
    this.preemptRate = this.hostSettings.preemptRate;
    this.preemptCycles = this.hostSettings.preemptSec * hz;
    // One queue slot per vCPU holding the earliest of its own event, its arrivals and its host
    // preemption (refresh): one tree pass per event, over a tree of vCPUs only.
    this.heap = new EventHeap(nV);
    this.vcpuTime = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.arrivalTime = new Float64Array(nV * this.nS).fill(Number.POSITIVE_INFINITY);
    this.preemptTime = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.notifyTime = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.notifyOwed = new Int32Array(nV);
    this.foldEntries = this.preemptRate <= 0 && !this.host.pool;
    // Without host preemption no vCPU's behaviour depends on another's state (kicks are only
    // counted; a PAUSE loop's lock holder matters only when descheduled): the vCPUs are
    // independent simulations sharing a clock, and the order in which their events are
    // processed changes only which random numbers each one draws.
    this.batchCycles = this.foldEntries ? BATCH_WINDOW_SEC * hz : 0;
    // Straight-line jobs need the folding conditions and no preemption timer (it could expire
    // inside the job); the tickless tick is programmed by goIdle at the job's end as usual.
    // An L2 guest's exits are recorded as their chains' segments (exitStatistics): not in one step.
    this.straightAllowed = this.foldEntries && plan.preemptionTimerCycles <= 0 && plan.nested === undefined;
    this.straightStart = plan.straight.start;
    this.straightLength = plan.straight.length;
    this.straightMax = plan.straight.maxCycles;
    this.straightCompute = plan.straight.compute;
    this.straightExit = plan.straight.exit;
    this.straightSource = plan.straight.source;

    this.sourceMean = new Float64Array(this.nS);
    this.sourcePeriodic = new Uint8Array(this.nS);
    let tickless = -1;
    plan.sources.forEach((s, i) => {
      if (s.arrival.kind === "poisson")
        this.sourceMean[i] = s.arrival.ratePerSec > 0 ? hz / s.arrival.ratePerSec : 0;
      else if (s.arrival.kind === "periodic") {
        this.sourceMean[i] = s.arrival.periodSec * hz;
        this.sourcePeriodic[i] = 1;
      } else {
        tickless = i;
        // While busy a tickless guest ticks at HZ on the tick grid (tick_nohz_restart forwards
        // the tick from last_tick, kernel/time/tick-sched.c); ticks that find it idle are
        // stopped (tickStopped, hostModels.ts).
        this.sourceMean[i] = s.arrival.hz > 0 ? hz / s.arrival.hz : 0;
        this.sourcePeriodic[i] = 1;
      }
    });
    {
      // L1's notifications per cycle on a vCPU: the notification exits of its arrivals.
      let perCycle = 0;
      const facts = plan.nestedSources;
      if (plan.nestedNotify && facts)
        for (let i = 0; i < this.nS; i++)
          if (this.sourceMean[i] > 0) perCycle += (facts.notifyExits[i] ?? 0) / this.sourceMean[i];
      this.notifyMean = perCycle > 0 ? 1 / perCycle : 0;
    }
    this.ticklessSource = tickless;
    this.runAheadAllowed = this.straightAllowed && tickless < 0 && plan.idleExit < 0;
    this.idleState = plan.idle === "halt" ? VcpuState.Halted : VcpuState.Polling;
    {
      const nPlans = plan.exits.length;
      let outcomes = 0;
      for (const e of plan.exits) outcomes += e.cumulative.length;
      this.planTransition = new Float64Array(nPlans);
      this.planJitter = new Float64Array(nPlans);
      this.planTailMean = new Float64Array(nPlans);
      this.planCode = new Int32Array(nPlans);
      this.planHandlerSource = new Int32Array(nPlans);
      this.planOutcomeStart = new Int32Array(nPlans);
      this.planOutcomeCount = new Int32Array(nPlans);
      this.outcomeCumulative = new Float64Array(outcomes);
      this.outcomeHandler = new Float64Array(outcomes);
      this.outcomeUserspace = new Float64Array(outcomes);
      let o = 0;
      plan.exits.forEach((e, i) => {
        this.planTransition[i] = e.transition;
        this.planJitter[i] = e.jitter;
        this.planTailMean[i] = e.tailMean;
        this.planCode[i] = e.code;
        this.planHandlerSource[i] = e.handlerSource;
        this.planOutcomeStart[i] = o;
        this.planOutcomeCount[i] = e.cumulative.length;
        for (let k = 0; k < e.cumulative.length; k++, o++) {
          this.outcomeCumulative[o] = e.cumulative[k];
          this.outcomeHandler[o] = e.handler[k];
          this.outcomeUserspace[o] = e.userspace[k];
        }
      });
    }
    this.blocksStraight = new Uint8Array(this.nS);
    for (let i = 0; i < this.nS; i++)
      this.blocksStraight[i] = this.runAheadAllowed && this.straightStart[i] >= 0 ? 0 : 1;

    this.mode = new Uint8Array(nV);
    this.guestSince = new Float64Array(nV);
    this.idleInGuest = new Uint8Array(nV);
    this.idleExitTaken = new Uint8Array(nV);
    this.actionTime = new Float64Array(nV);
    this.haltRequested = new Uint8Array(nV);
    this.haltStart = new Float64Array(nV);
    this.ptDeadline = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.ptRemaining = new Float64Array(nV).fill(plan.preemptionTimerCycles);
    this.ptFire = new Uint8Array(nV);
    this.descheduleRequested = new Uint8Array(nV);
    this.descheduledUntil = new Float64Array(nV);
    this.pleWindowNow = new Float64Array(nV).fill(plan.pleWindow);
    this.tickDue = new Uint8Array(nV);
    this.haltPlan = new Int32Array(nV).fill(-1);
    this.haltWake = new Float64Array(nV);
    this.injectLen = new Uint8Array(nV);
    this.irqExitsOwed = new Int32Array(nV);
    this.l1Side =
      plan.nestedIrqExit >= 0 && plan.nestedSources?.l1Side.some((x) => x !== undefined)
        ? new L1SideRuntime(nV)
        : undefined;
    // An interrupt for L1 (nestedPlan.ts toL1): not an NMI, not one L1 posts into L2.
    this.sourceToL1 =
      plan.nestedIrqExit >= 0 && plan.nestedSources ? plan.nestedSources.toL1 : new Uint8Array(this.nS);
    this.injectVector = new Int16Array(nV * INJECT_QUEUE);
    this.pathHead = new Int32Array(nV);
    this.pathLen = new Int32Array(nV);
    this.pathSrc = new Int32Array(nV * PATH_QUEUE);
    this.pathTime = new Float64Array(nV * PATH_QUEUE);
    this.irqHead = new Int32Array(nV);
    this.irqLen = new Int32Array(nV);
    this.irqSrc = new Int32Array(nV * IRQ_QUEUE);
    this.irqTime = new Float64Array(nV * IRQ_QUEUE);
    const nE = plan.exits.length;
    this.fraction = new Float64Array(nV * Math.max(1, nE));
    // Start each fractional-exit accumulator at a random phase so vCPUs do not fill in lockstep.
    for (let i = 0; i < this.fraction.length; i++) this.fraction[i] = this.rng.next();
    this.nSites = plan.coalesce.count.length;
    this.coalescePending = new Int32Array(nV * this.nSites);
    this.coalesceCount = plan.coalesce.count;
    this.coalesceTimeout = plan.coalesce.timeoutCycles;
    this.coalesceFlush = plan.coalesce.flushSource;
    let cap = 0;
    for (const n of plan.coalesce.count) cap = Math.max(cap, n);
    this.coalesceCap = Math.min(COALESCE_TIMES_MAX, cap);
    this.coalesceTimes = new Float64Array(nV * this.nSites * this.coalesceCap);

    const nC = 2 * nV;
    this.ctxActive = new Uint8Array(nC);
    this.ctxSrc = new Int32Array(nC);
    this.ctxPc = new Int32Array(nC);
    this.computeLeft = new Float64Array(nC);
    this.action = new Uint8Array(nC);
    this.actPlan = new Int32Array(nC);
    this.actCount = new Float64Array(nC);
    this.actSource = new Int32Array(nC);
    this.spinLeft = new Float64Array(nC);
    this.spinning = new Uint8Array(nC);
    this.abortAfter = new Uint8Array(nC);
    this.spinBase = new Float64Array(nC);
    this.spinHolder = new Int32Array(nC).fill(-1);
    this.tsxPc = new Int32Array(nC).fill(-1);
    this.tsxStart = new Float64Array(nC);
    this.tsxFallback = new Uint8Array(nC);
    this.tsxRetries = new Uint8Array(nC);
    this.tsxDepth = new Uint8Array(nC);
    this.repDepth = new Uint8Array(nC);
    this.repCount = new Float64Array(nC * this.repeatDepth);
    this.ctxExits = new Float64Array(nC);
    this.ctxExitCycles = new Float64Array(nC);

    validateOptions(options);
    this.stats = new SimStatistics(plan);
    this.recorder = new TimelineRecorder(
      nV,
      hz,
      options.durationSec,
      Math.max(0, Math.floor(options.timelineIntervals ?? DEFAULT_TIMELINE_INTERVALS)),
      plan.timelineSources,
      plan.nested !== undefined,
    );

    checkBudget(this, options);
  }

  /** The earliest of vCPU `v`'s own event, arrivals and host preemption. */
  nextTime(v: number): number {
    let next = this.vcpuTime[v];
    const arrivals = this.arrivalTime;
    for (let i = v * this.nS, end = i + this.nS; i < end; i++) {
      if (arrivals[i] < next) next = arrivals[i];
    }
    if (this.preemptTime[v] < next) next = this.preemptTime[v];
    if (this.notifyTime[v] < next) next = this.notifyTime[v];
    return next;
  }

  /** Puts vCPU `v` in the queue at the earliest of its own event, arrivals and preemption. */
  refresh(v: number): void {
    let next = this.vcpuTime[v];
    const arrivals = this.arrivalTime;
    for (let i = v * this.nS, end = i + this.nS; i < end; i++) {
      if (arrivals[i] < next) next = arrivals[i];
    }
    if (this.preemptTime[v] < next) next = this.preemptTime[v];
    if (this.notifyTime[v] < next) next = this.notifyTime[v];
    if (next !== this.heap.time[v]) this.heap.set(v, next);
  }

  activeContext(v: number): number {
    const c1 = 2 * v + 1;
    if (this.ctxActive[c1] === 1) return c1;
    if (this.ctxActive[c1 - 1] === 1) return c1 - 1;
    return -1;
  }

  /** Queues a path execution of source `s` on vCPU `v`; false (counted as dropped) when full. */
  enqueuePath(v: number, s: number, t: number): boolean {
    if (this.pathLen[v] >= PATH_QUEUE) {
      this.stats.dropped[s]++;
      return false;
    }
    const i = v * PATH_QUEUE + ((this.pathHead[v] + this.pathLen[v]) % PATH_QUEUE);
    this.pathSrc[i] = s;
    this.pathTime[i] = t;
    this.pathLen[v]++;
    return true;
  }

  /** Queues an interrupt of source `s` (an NMI first); false when the queue is full. */
  pushIrq(v: number, s: number, t: number): boolean {
    const len = this.irqLen[v];
    if (len >= IRQ_QUEUE) return false;
    let i: number;
    if (this.p.sources[s].isNmi) {
      // NMIs go first (SDM Vol. 3A §6.9: NMI has priority over maskable interrupts).
      this.irqHead[v] = (this.irqHead[v] + IRQ_QUEUE - 1) % IRQ_QUEUE;
      i = v * IRQ_QUEUE + this.irqHead[v];
    } else i = v * IRQ_QUEUE + ((this.irqHead[v] + len) % IRQ_QUEUE);
    this.irqSrc[i] = s;
    this.irqTime[i] = t;
    this.irqLen[v] = len + 1;
    return true;
  }

  /** Ends the current guest interval at `t` (busy or idle). */
  closeGuest(v: number, t: number): void {
    const since = this.guestSince[v];
    const d = t - since;
    if (d > 0) {
      if (this.idleInGuest[v] === 1) {
        this.stats.idleGuestCycles += d;
        this.recorder.record(since, d, v, this.idleState, -1, -1);
      } else {
        this.stats.guestCycles += d;
        this.recorder.record(since, d, v, VcpuState.Guest, -1, -1);
      }
    }
    this.guestSince[v] = t;
  }

  /** The `pending`-th execution of coalesce site `site` in batch slot `i` (v·nSites + site) at `t`. */
  coalesceJoin(i: number, site: number, pending: number, t: number): void {
    if (pending <= this.coalesceCap) this.coalesceTimes[i * this.coalesceCap + pending - 1] = t;
    if (pending >= this.coalesceCount[site]) this.coalesceFlushed(i, site, pending, t);
  }

  /** The batch in slot `i` flushes at `t` with `members` executions: each one's wait is recorded. */
  coalesceFlushed(i: number, site: number, members: number, t: number): void {
    if (members <= 0) return;
    const hist = this.stats.coalesceWait[site];
    this.stats.coalesceFlushes[site]++;
    const base = i * this.coalesceCap;
    const n = Math.min(members, this.coalesceCap);
    for (let j = 0; j < n; j++) hist.add(t - this.coalesceTimes[base + j]);
  }

  /**
   * Counts and records an exit taken at `t` (handler arm drawn when it has several); returns
   * its duration to the VM entry. The arm is left in `lastOutcome` for its effects.
   */
  exitStatistics(v: number, t: number, planIndex: number, source: number): number {
    const plan = this.p.exits[planIndex];
    let k = 0;
    const cumulative = plan.cumulative;
    if (cumulative.length > 1) {
      const u = this.rng.next();
      while (cumulative[k] < u) k++;
    }
    this.lastOutcome = k;
    const transition = sampleTransition(this.transitionRng[v]!, plan.transition, plan.jitter, plan.tailMean);
    const handler = plan.handler[k];
    const userspace = plan.userspace[k];
    const total = transition + handler + userspace;
    const wake = plan.wake[k];
    this.lastExitCycles = total + wake;
    this.stats.exit(planIndex, transition, handler, userspace, wake);
    // Nested: the chain in progress, for an interrupt for L1 that arrives during it (l1Side.ts);
    // tracked whether or not the timeline still records.
    this.l1Side?.episode(
      v,
      planIndex,
      plan.nested,
      t + transition,
      handler + userspace,
      t + total,
      this.recorder.size,
    );
    if (this.recorder.fullAt < 0) {
      const code = plan.code;
      this.recorder.record(t, transition, v, VcpuState.Exit, code, source);
      const nested = plan.nested;
      if (nested !== null && nested.segTotal > 0) {
        // An L2 exit: the rest of its chain, level by level (nestedPlan.ts).
        this.recorder.recordSegments(t + transition, handler + userspace, v, code, nested);
      } else if (handler > 0)
        this.recorder.record(t + transition, handler, v, VcpuState.Handler, code, plan.handlerSource);
      if (userspace > 0)
        this.recorder.record(
          t + transition + handler,
          userspace,
          v,
          VcpuState.Userspace,
          code,
          plan.handlerSource,
        );
    }
    return total;
  }
}
