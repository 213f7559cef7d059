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

import { EventHeap } from "./heap";
import {
  type CompiledGuest,
  OP_BRANCH as IMPORTED_OP_BRANCH,
  OP_COALESCE as IMPORTED_OP_COALESCE,
  OP_COMPUTE as IMPORTED_OP_COMPUTE,
  OP_EXIT as IMPORTED_OP_EXIT,
  OP_FRACTIONAL_EXIT as IMPORTED_OP_FRACTIONAL_EXIT,
  OP_JUMP as IMPORTED_OP_JUMP,
  OP_PAUSE_LOOP as IMPORTED_OP_PAUSE_LOOP,
  OP_REPEAT as IMPORTED_OP_REPEAT,
  OP_REPEAT_END as IMPORTED_OP_REPEAT_END,
  OP_TSX as IMPORTED_OP_TSX,
  OP_TSX_END as IMPORTED_OP_TSX_END,
} from "./plan";
import { TimelineRecorder } from "./recorder";
import { buildResult, formatCount } from "./result";
import { Sfc32 } from "./rng";
import { SimStatistics } from "./statistics";
import { VcpuState as ImportedVcpuState } from "./timeline";
import {
  DEFAULT_MAX_EVENTS,
  DEFAULT_MAX_STEPS,
  DEFAULT_TIMELINE_INTERVALS,
  SimulationError,
  type SimulationOptions,
  type SimulationResult,
} from "./types";

// Module-local copies: imported bindings can compile to property getters (CommonJS interop),
// which the per-event switch must not pay for.
const OP_BRANCH = IMPORTED_OP_BRANCH;
const OP_COALESCE = IMPORTED_OP_COALESCE;
const OP_COMPUTE = IMPORTED_OP_COMPUTE;
const OP_EXIT = IMPORTED_OP_EXIT;
const OP_FRACTIONAL_EXIT = IMPORTED_OP_FRACTIONAL_EXIT;
const OP_JUMP = IMPORTED_OP_JUMP;
const OP_PAUSE_LOOP = IMPORTED_OP_PAUSE_LOOP;
const OP_REPEAT = IMPORTED_OP_REPEAT;
const OP_REPEAT_END = IMPORTED_OP_REPEAT_END;
const OP_TSX = IMPORTED_OP_TSX;
const OP_TSX_END = IMPORTED_OP_TSX_END;
const VcpuState = {
  Guest: ImportedVcpuState.Guest as number,
  Exit: ImportedVcpuState.Exit as number,
  Handler: ImportedVcpuState.Handler as number,
  Userspace: ImportedVcpuState.Userspace as number,
  Halted: ImportedVcpuState.Halted as number,
  Polling: ImportedVcpuState.Polling as number,
  Descheduled: ImportedVcpuState.Descheduled as number,
} as const;

// vCPU modes.
const MODE_GUEST = 0;
const MODE_ROOT = 1;
const MODE_HALTED = 2;
const MODE_HALT_POLL = 3;
const MODE_DESCHEDULED = 4;

// Pending actions of a context.
const ACTION_NONE = 0;
const ACTION_EXIT = 1;
const ACTION_END = 2;
/** The context reaches a point that must run at its own time (a coalesce site), then goes on. */
const ACTION_RESUME = 3;
/**
 * The interpreter has run STEP_CHUNK loop iterations in one go: it goes on at its own time, as
 * an event of its own (even after no compute), so long loops are sliced and counted.
 */
const ACTION_YIELD = 4;
/** Loop iterations the interpreter runs in one call before it yields (ACTION_YIELD). */
const STEP_CHUNK = 1 << 16;

// Why a run stopped before its end (result.stopped).
const STOP_NONE = 0;
const STOP_EVENTS = 1;
const STOP_STEPS = 2;
/** Largest timeline the options may ask for (intervals; 48 bytes each). */
const MAX_TIMELINE_INTERVALS = 1 << 24;

/** Marker kinds (timeline.ts). */
const MARK_INJECTION = 0;
const MARK_ARRIVAL = 1;
const MARK_POSTED = 2;

const PATH_QUEUE = 4096;
const IRQ_QUEUE = 1024;
const INJECT_QUEUE = 8;
/** glibc's lock elision retries a transaction a few times before taking the lock. */
const TSX_RETRIES = 3;
const REASON_PAUSE = 40;
/**
 * Bounds that keep one step short (for simulateAsync's slices and the event budget) without
 * depending on where a slice ends, so that slicing never changes the order of events and
 * simulateAsync gives the same result as simulate: entries folded in one chain, events in one
 * batch.
 */
const FOLD_CHAIN_MAX = 4096;
const BATCH_EVENTS_MAX = 4096;
/**
 * Batch window in simulated seconds: how far one vCPU's events may be processed ahead of the
 * others' when the vCPUs cannot observe each other (no host preemption). Statistics do not
 * depend on it; the timeline's records come out of time order across vCPUs by up to this much,
 * and a truncated timeline is complete only to this much before its last record.
 */
const BATCH_WINDOW_SEC = 50e-6;

export class Engine {
  private readonly p: CompiledGuest;
  private readonly rng: Sfc32;
  private readonly heap: EventHeap;
  private readonly nV: number;
  private readonly nS: number;
  /** The run's end in cycles: the duration asked for, or where a budget stopped it. */
  private endTime: number;
  private readonly maxEvents: number;
  private readonly maxSteps: number;
  private readonly requestedSec: number;
  private readonly seed: number;
  /** Interpreter loop iterations so far (counted per STEP_CHUNK yield). */
  private steps = 0;
  private stopReason = STOP_NONE;
  /** Loop levels per context (repCount's stride), from the plan: no level is ever dropped. */
  private readonly repeatDepth: number;
  private readonly haltPollCycles: number;
  private readonly pleGrowth: boolean;
  private readonly pleMax: number;
  private readonly preemptRate: number;
  private readonly preemptCycles: number;
  /** The vCPU's own next event (end of compute, VM entry, wake-up…), +∞ when none. */
  private readonly vcpuTime: Float64Array;
  /** Next arrival of each source on each vCPU, index v·nS + s (+∞ when none). */
  private readonly arrivalTime: Float64Array;
  /** Next host preemption of each vCPU (+∞ without host preemption). */
  private readonly preemptTime: Float64Array;
  private readonly sourceMean: Float64Array;
  private readonly sourcePeriodic: Uint8Array;
  private readonly ticklessSource: number;

  // Per vCPU.
  private readonly mode: Uint8Array;
  private readonly guestSince: Float64Array;
  private readonly idleInGuest: Uint8Array;
  private readonly idleExitTaken: Uint8Array;
  private readonly actionTime: Float64Array;
  private readonly haltRequested: Uint8Array;
  private readonly haltStart: Float64Array;
  private readonly ptDeadline: Float64Array;
  private readonly ptRemaining: Float64Array;
  private readonly ptFire: Uint8Array;
  private readonly descheduleRequested: Uint8Array;
  private readonly descheduledUntil: Float64Array;
  private readonly pleWindowNow: Float64Array;
  /** A busy period ran since the last tickless tick (the guest reprograms it going idle). */
  private readonly tickDue: Uint8Array;
  private readonly haltPlan: Int32Array;
  private readonly haltWake: Float64Array;
  private readonly injectLen: Uint8Array;
  private readonly injectVector: Int16Array;
  private readonly pathHead: Int32Array;
  private readonly pathLen: Int32Array;
  private readonly pathSrc: Int32Array;
  private readonly pathTime: Float64Array;
  private readonly irqHead: Int32Array;
  private readonly irqLen: Int32Array;
  private readonly irqSrc: Int32Array;
  private readonly irqTime: Float64Array;
  private readonly fraction: Float64Array;
  /** Coalesce sites: executions pending in the open batch, index v·nSites + site. */
  private readonly nSites: number;
  private readonly coalescePending: Int32Array;
  private readonly coalesceCount: Int32Array;
  private readonly coalesceTimeout: Float64Array;
  private readonly coalesceFlush: Int32Array;

  // Per context (2 per vCPU).
  private readonly ctxActive: Uint8Array;
  private readonly ctxSrc: Int32Array;
  private readonly ctxPc: Int32Array;
  private readonly computeLeft: Float64Array;
  private readonly action: Uint8Array;
  private readonly actPlan: Int32Array;
  private readonly actCount: Float64Array;
  private readonly actSource: Int32Array;
  private readonly spinLeft: Float64Array;
  private readonly spinning: Uint8Array;
  /** The pending exit is a memory access inside a transaction: abort after taking it. */
  private readonly abortAfter: Uint8Array;
  private readonly spinBase: Float64Array;
  private readonly spinHolder: Int32Array;
  private readonly tsxPc: Int32Array;
  private readonly tsxStart: Float64Array;
  private readonly tsxFallback: Uint8Array;
  private readonly tsxRetries: Uint8Array;
  private readonly tsxDepth: Uint8Array;
  private readonly repDepth: Uint8Array;
  private readonly repCount: Float64Array;

  /** The observers: statistics over every event, and the bounded timeline. */
  readonly stats: SimStatistics;
  readonly recorder: TimelineRecorder;
  events = 0;

  private finished = false;
  /**
   * Whether a VM entry may be processed as soon as its exit is taken instead of through the
   * event queue ("folding"), see scheduleEntry. Only without host preemption: that is the one
   * mechanism by which one vCPU observes another's mode (a descheduled lock holder).
   */
  private readonly foldEntries: boolean;
  private inFold = false;
  private foldVcpu = -1;
  private foldNext = false;
  private foldTime = 0;
  /** Entries folded in the current chain (bounded by FOLD_CHAIN_MAX). */
  private foldLength = 0;
  /**
   * Batching (independent vCPUs only, see run): after the queue's earliest event, the same
   * vCPU's following events up to this many cycles later are processed before any other vCPU's;
   * 0 without batching.
   */
  private readonly batchCycles: number;
  private lastOutcome = 0;
  private readonly straightAllowed: boolean;
  private readonly straightStart: Int32Array;
  private readonly straightLength: Int32Array;
  private readonly straightMax: Float64Array;
  private readonly straightCompute: Float64Array;
  private readonly straightExit: Int32Array;
  private readonly straightSource: Int32Array;
  /**
   * Per source: 1 when its next arrival before a straight-line job's end forbids running the job
   * in one step. Path sources with straight-line jobs do not when run-ahead is allowed: they
   * queue behind the job (see onArrival).
   */
  private readonly blocksStraight: Uint8Array;
  /**
   * Whether a straight-line job may start at a vCPU's run-ahead end (the vCPU is "idle from
   * guestSince", a time after the current event): only when going idle does nothing but start
   * an idle interval (no idle exit, no tickless tick), so that a vCPU's state at the end of its
   * queued jobs is the same whenever the arrivals that make up the queue are processed.
   */
  private readonly runAheadAllowed: boolean;
  /** Timeline state of idle-in-guest time (Halted for `idle halt`, else Polling). */
  private readonly idleState: number;
  // Exit plans flattened into typed arrays for straightArrival: per plan its transition, code,
  // handler source and outcome range; per outcome its cumulative probability, handler and user
  // space cycles.
  private readonly planTransition: Float64Array;
  private readonly planCode: Int32Array;
  private readonly planHandlerSource: Int32Array;
  private readonly planOutcomeStart: Int32Array;
  private readonly planOutcomeCount: Int32Array;
  private readonly outcomeCumulative: Float64Array;
  private readonly outcomeHandler: Float64Array;
  private readonly outcomeUserspace: Float64Array;

  constructor(plan: CompiledGuest, options: SimulationOptions) {
    this.p = plan;
    const hz = plan.hz;
    this.nV = plan.vcpus;
    this.nS = plan.sources.length;
    const nV = this.nV;
    this.seed = options.seed ?? 1;
    this.rng = new Sfc32(this.seed);
    this.endTime = options.durationSec * hz;
    this.requestedSec = options.durationSec;
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.repeatDepth = Math.max(1, plan.repeatDepth);
    this.haltPollCycles = ((options.haltPollNs ?? 0) * hz) / 1e9;
    this.pleGrowth = options.pleWindowGrowth ?? false;
    this.pleMax = options.pleWindowMax ?? 4294967295; // KVM_VMX_DEFAULT_PLE_WINDOW_MAX = UINT_MAX
    this.preemptRate = options.hostPreemption?.ratePerSec ?? 0;
    this.preemptCycles = (options.hostPreemption?.durationSec ?? 0) * hz;
    // One queue slot per vCPU holding the earliest of its own event, its arrivals and its host
    // preemption (refresh): one tree pass per event, over a tree of vCPUs only.
    this.heap = new EventHeap(nV);
    this.vcpuTime = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.arrivalTime = new Float64Array(nV * this.nS).fill(Number.POSITIVE_INFINITY);
    this.preemptTime = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.foldEntries = this.preemptRate <= 0;
    // Without host preemption no vCPU's behaviour depends on another's state (kicks are only
    // counted; a PAUSE loop's lock holder matters only when descheduled): the vCPUs are
    // independent simulations sharing a clock, and the order in which their events are
    // processed changes only which random numbers each one draws.
    this.batchCycles = this.foldEntries ? BATCH_WINDOW_SEC * hz : 0;
    // Straight-line jobs need the folding conditions and no preemption timer (it could expire
    // inside the job); the tickless tick is programmed by goIdle at the job's end as usual.
    this.straightAllowed = this.foldEntries && plan.preemptionTimerCycles <= 0;
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
      } else tickless = i;
    });
    this.ticklessSource = tickless;
    this.runAheadAllowed = this.straightAllowed && tickless < 0 && plan.idleExit < 0;
    this.idleState = plan.idle === "halt" ? VcpuState.Halted : VcpuState.Polling;
    {
      const nPlans = plan.exits.length;
      let outcomes = 0;
      for (const e of plan.exits) outcomes += e.cumulative.length;
      this.planTransition = new Float64Array(nPlans);
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

    validateOptions(options);
    this.stats = new SimStatistics(plan);
    this.recorder = new TimelineRecorder(
      nV,
      hz,
      options.durationSec,
      Math.max(0, Math.floor(options.timelineIntervals ?? DEFAULT_TIMELINE_INTERVALS)),
      plan.timelineSources,
    );

    this.checkBudget(options);
    this.start();
  }

  /** Refuses, before running, a run whose expected event count is beyond the budget. */
  private checkBudget(options: SimulationOptions): void {
    let perSecond = 0;
    for (let s = 0; s < this.nS; s++) {
      const arrival = this.p.sources[s].arrival;
      const bad =
        arrival.kind === "poisson"
          ? !(arrival.ratePerSec >= 0 && Number.isFinite(arrival.ratePerSec))
          : arrival.kind === "periodic" && !(arrival.periodSec >= 0 && Number.isFinite(arrival.periodSec));
      if (bad) {
        throw new SimulationError(
          `source '${this.p.sources[s].name}' has ${arrival.kind === "poisson" ? `rate ${arrival.ratePerSec}/s` : `period ${arrival.kind === "periodic" ? arrival.periodSec : ""} s`}: not a finite, non-negative number`,
          "input",
        );
      }
      const mean = this.sourceMean[s];
      if (mean > 0) perSecond += this.p.hz / mean;
      else if (
        this.p.sources[s].arrival.kind === "poisson" ||
        this.p.sources[s].arrival.kind === "periodic"
      ) {
        if (this.p.sources[s].arrival.kind === "periodic") perSecond = Number.POSITIVE_INFINITY;
      }
    }
    if (this.p.preemptionTimerCycles > 0) perSecond += this.p.hz / this.p.preemptionTimerCycles;
    perSecond += this.preemptRate;
    // Each arrival costs at least one event, and usually an exit and an entry more.
    const expected = perSecond * this.nV * options.durationSec;
    if (expected > this.maxEvents) {
      throw new SimulationError(
        `the simulation would need about ${formatCount(expected)} arrivals (${formatCount(perSecond)}/s per vCPU × ${this.nV} vCPUs × ${options.durationSec} s), over the event budget of ${formatCount(this.maxEvents)}; shorten the duration or lower the rates`,
        "budget",
      );
    }
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
      if (this.preemptRate > 0) this.preemptTime[v] = this.rng.exponential(this.p.hz / this.preemptRate);
      // Every vCPU starts in the guest with nothing to do (it goes idle at once).
      this.mode[v] = MODE_GUEST;
      this.guestSince[v] = 0;
      this.ptDeadline[v] =
        this.p.preemptionTimerCycles > 0 ? this.p.preemptionTimerCycles : Number.POSITIVE_INFINITY;
      this.runGuest(v, 0);
    }
    for (let v = 0; v < nV; v++) this.refresh(v);
  }

  /** The earliest of vCPU `v`'s own event, arrivals and host preemption. */
  private nextTime(v: number): number {
    let next = this.vcpuTime[v];
    const arrivals = this.arrivalTime;
    for (let i = v * this.nS, end = i + this.nS; i < end; i++) {
      if (arrivals[i] < next) next = arrivals[i];
    }
    if (this.preemptTime[v] < next) next = this.preemptTime[v];
    return next;
  }

  /** Puts vCPU `v` in the queue at the earliest of its own event, arrivals and preemption. */
  private refresh(v: number): void {
    let next = this.vcpuTime[v];
    const arrivals = this.arrivalTime;
    for (let i = v * this.nS, end = i + this.nS; i < end; i++) {
      if (arrivals[i] < next) next = arrivals[i];
    }
    if (this.preemptTime[v] < next) next = this.preemptTime[v];
    if (next !== this.heap.time[v]) this.heap.set(v, next);
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
            if (blocksStraight[s] === 1 || !this.straightArrival(v, s, t)) this.onArrival(s, v, t);
          } else this.onHostPreemption(v, t);
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
    if (src.coalesceSite >= 0) this.coalescePending[v * this.nSites + src.coalesceSite] = 0;
    const mean = this.sourceMean[s];
    this.arrivalTime[v * this.nS + s] =
      mean > 0 ? t + (this.sourcePeriodic[s] ? mean : this.rng.exponential(mean)) : Number.POSITIVE_INFINITY;
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
            const end = this.tryStraight(v, s, busyUntil);
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
          const end = this.tryStraight(v, s, t);
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
      if (mode === MODE_HALTED) this.wake(v, t);
      else if (mode === MODE_HALT_POLL) this.pollSuccess(v, t);
      return;
    }
    this.interruptArrives(v, s, t);
  }

  /** Appends a path arrival to the vCPU's FIFO; false (and counted) when the queue is full. */
  private enqueuePath(v: number, s: number, t: number): boolean {
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

  private interruptArrives(v: number, s: number, t: number): void {
    const src = this.p.sources[s];
    const mode = this.mode[v];
    if (!this.pushIrq(v, s, t)) {
      this.stats.dropped[s]++;
      return;
    }
    this.recorder.mark(t, v, MARK_ARRIVAL, src.vector);
    if (mode === MODE_GUEST) {
      if (src.arrivalExit >= 0) {
        this.stopGuest(v, t);
        this.beginExit(v, t, src.arrivalExit, -1);
      } else if (this.ctxActive[2 * v + 1] === 0) {
        // Posted (or not intercepted): delivered in the guest without an exit.
        this.stopGuest(v, t);
        this.deliverIrq(v, t, src.posted ? MARK_POSTED : MARK_INJECTION);
        this.guestSince[v] = t;
        this.runGuest(v, t);
      }
    } else if (mode === MODE_HALTED) this.wake(v, t);
    else if (mode === MODE_HALT_POLL) this.pollSuccess(v, t);
  }

  private pushIrq(v: number, s: number, t: number): boolean {
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

  /** Starts the first waiting interrupt's guest handler at `t` (level-1 context). */
  private deliverIrq(v: number, t: number, markKind: number): void {
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

  private startJob(c: number, s: number): void {
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
  }

  // ---------------------------------------------------------------- host preemption

  private onHostPreemption(v: number, t: number): void {
    this.preemptTime[v] = t + this.rng.exponential(this.p.hz / this.preemptRate);
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
        // The poll window ended without an event: block for real.
        this.recorder.record(this.haltStart[v], t - this.haltStart[v], v, VcpuState.Polling, -1, -1);
        this.stats.pollingCycles += t - this.haltStart[v];
        this.mode[v] = MODE_HALTED;
        this.haltStart[v] = t;
        return;
      case MODE_DESCHEDULED: {
        const since = this.descheduledUntil[v] - this.preemptCycles;
        const start = Math.max(since, 0);
        this.recorder.record(start, t - start, v, VcpuState.Descheduled, -1, -1);
        this.stats.descheduledCycles += t - start;
        // KVM shrinks (with the default ple_window_shrink = 0: resets) the window on sched-in
        // (vmx_sched_in → shrink_ple_window, arch/x86/kvm/vmx/vmx.c; see wake).
        if (this.pleGrowth) this.pleWindowNow[v] = this.p.pleWindow;
        this.descheduledUntil[v] = t;
        this.entry(v, t);
        return;
      }
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

  private activeContext(v: number): number {
    const c1 = 2 * v + 1;
    if (this.ctxActive[c1] === 1) return c1;
    if (this.ctxActive[c1 - 1] === 1) return c1 - 1;
    return -1;
  }

  private endJob(c: number): void {
    this.ctxActive[c] = 0;
    this.action[c] = ACTION_NONE;
    this.stats.executions[this.ctxSrc[c]]++;
  }

  /** Runs the guest on `v` from `t` until the next pending action (scheduled or taken inline). */
  private runGuest(v: number, start: number): void {
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
            const end = this.tryStraight(v, s, t);
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
      if (this.action[c] === ACTION_NONE) this.interpret(v, c, t);
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

  private goIdle(v: number, t: number): void {
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

  /** Ends the current guest interval at `t` (busy or idle). */
  private closeGuest(v: number, t: number): void {
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

  /** Stops the running guest at `t` for an asynchronous event, keeping the context's progress. */
  private stopGuest(v: number, t: number): void {
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
  private syncExit(v: number, c: number, t: number): void {
    this.closeGuest(v, t);
    const plan = this.actPlan[c];
    const remaining = this.actCount[c] - 1;
    this.actCount[c] = remaining;
    if (remaining <= 0) this.action[c] = ACTION_NONE;
    this.computeLeft[c] = 0;
    if (this.spinning[c] === 1 && this.p.exits[plan].code === REASON_PAUSE) this.pleExit(v, c, t);
    if (this.abortAfter[c] === 1) {
      this.abortAfter[c] = 0;
      this.action[c] = ACTION_NONE;
      this.ctxPc[c] = this.abortTsx(c);
    }
    this.beginExit(v, t, plan, this.actSource[c]);
  }

  /**
   * A PAUSE-loop exit: KVM's handle_pause grows the window (grow_ple_window) and calls
   * kvm_vcpu_on_spin, which yields to a preempted vCPU — here the lock holder, which runs
   * again at once and releases the lock after the critical section's remaining time.
   */
  private pleExit(v: number, c: number, t: number): void {
    if (this.pleGrowth) {
      // __grow_ple_window with KVM_DEFAULT_PLE_WINDOW_GROW 2 (< base: multiply), capped at
      // ple_window_max (arch/x86/kvm/x86.h).
      const grown = this.pleWindowNow[v] * 2;
      this.pleWindowNow[v] = Math.min(grown, this.pleMax);
    }
    const h = this.spinHolder[c];
    if (h >= 0 && this.mode[h] === MODE_DESCHEDULED) {
      this.stats.directedYields++;
      this.vcpuTime[h] = t;
      this.refresh(h);
      this.spinHolder[c] = -1;
      if (this.spinLeft[c] > this.spinBase[c]) this.spinLeft[c] = this.spinBase[c];
    }
  }

  /** Interprets the context's ops from its pc until an exit or the end; sets computeLeft. */
  private interpret(v: number, c: number, t: number): void {
    const p = this.p;
    const op = p.op;
    const a = p.a;
    const f = p.f;
    let pc = this.ctxPc[c];
    let acc = 0;
    let iterations = 0;
    for (;;) {
      switch (op[pc]) {
        case OP_COMPUTE:
          acc += f[pc];
          pc++;
          break;
        case OP_EXIT:
          if (this.tsxPc[c] >= 0 && this.tsxFallback[c] === 0) {
            if (!p.exits[a[pc]].memoryAccess) {
              pc = this.abortTsx(c);
              break;
            }
            this.abortAfter[c] = 1;
          }
          this.action[c] = ACTION_EXIT;
          this.actPlan[c] = a[pc];
          this.actCount[c] = f[pc];
          this.actSource[c] = p.opSource[pc];
          this.ctxPc[c] = pc + 1;
          this.computeLeft[c] = acc;
          return;
        case OP_FRACTIONAL_EXIT: {
          const idx = v * p.exits.length + a[pc];
          const x = this.fraction[idx] + f[pc];
          const n = Math.floor(x);
          this.fraction[idx] = x - n;
          if (n > 0) {
            if (this.tsxPc[c] >= 0 && this.tsxFallback[c] === 0) {
              if (!p.exits[a[pc]].memoryAccess) {
                pc = this.abortTsx(c);
                break;
              }
              this.abortAfter[c] = 1;
            }
            this.action[c] = ACTION_EXIT;
            this.actPlan[c] = a[pc];
            this.actCount[c] = n;
            this.actSource[c] = p.opSource[pc];
            this.ctxPc[c] = pc + 1;
            this.computeLeft[c] = acc;
            return;
          }
          pc++;
          break;
        }
        case OP_BRANCH: {
          const cumulative = p.branchCumulative[a[pc]];
          const u = this.rng.next();
          let k = 0;
          while (cumulative[k] <= u) k++;
          pc = p.branchTargets[a[pc]][k];
          break;
        }
        case OP_JUMP:
          pc = a[pc];
          break;
        case OP_COALESCE: {
          if (acc > 0) {
            // Counted at its own time, not ahead of the compute before it: a timeout falling
            // inside that compute closes the batch first.
            this.action[c] = ACTION_RESUME;
            this.ctxPc[c] = pc;
            this.computeLeft[c] = acc;
            return;
          }
          // One more execution in the site's open batch on this vCPU, at t.
          const site = f[pc];
          const i = v * this.nSites + site;
          const pending = this.coalescePending[i] + 1;
          const flushAt = v * this.nS + this.coalesceFlush[site];
          if (pending >= this.coalesceCount[site]) {
            // The N-th: the batch closes; its flush is the body, run inline; no timeout.
            this.coalescePending[i] = 0;
            this.arrivalTime[flushAt] = Number.POSITIVE_INFINITY;
            pc++;
          } else {
            // The first arms the timeout (the flush source's next arrival on this vCPU).
            if (pending === 1) this.arrivalTime[flushAt] = t + this.coalesceTimeout[site];
            this.coalescePending[i] = pending;
            pc = a[pc];
          }
          break;
        }
        case OP_REPEAT: {
          // plan.ts drops loops of no iteration and sizes repeatDepth to the deepest nesting.
          const d = this.repDepth[c];
          this.repCount[c * this.repeatDepth + d] = f[pc];
          this.repDepth[c] = d + 1;
          pc++;
          break;
        }
        case OP_REPEAT_END: {
          const i = c * this.repeatDepth + this.repDepth[c] - 1;
          if (--this.repCount[i] > 0) {
            pc = a[pc] + 1;
            this.steps++;
            if (++iterations >= STEP_CHUNK) {
              // Long loop without exits: go on as an event of its own (sliced, counted).
              this.action[c] = ACTION_YIELD;
              this.ctxPc[c] = pc;
              this.computeLeft[c] = acc;
              return;
            }
          } else {
            this.repDepth[c]--;
            pc++;
          }
          break;
        }
        case OP_TSX:
          if (this.tsxFallback[c] === 0) {
            this.tsxPc[c] = pc;
            this.tsxStart[c] = t + acc;
            this.tsxDepth[c] = this.repDepth[c];
          }
          pc++;
          break;
        case OP_TSX_END:
          if (this.tsxPc[c] >= 0 && acc > 0 && t + acc > this.tsxStart[c]) {
            // The region's compute is still ahead: the transaction stays open through it, so
            // an asynchronous exit landing there aborts it (stopGuest). Commit at its end.
            this.action[c] = ACTION_RESUME;
            this.ctxPc[c] = pc;
            this.computeLeft[c] = acc;
            return;
          }
          this.tsxPc[c] = -1;
          this.tsxFallback[c] = 0;
          this.tsxRetries[c] = 0;
          pc++;
          break;
        case OP_PAUSE_LOOP: {
          let spin = this.spinLeft[c];
          if (this.spinning[c] === 0) {
            this.spinning[c] = 1;
            spin = f[pc];
            this.spinBase[c] = spin;
            this.spinHolder[c] = -1;
            // The lock this loop waits for is taken to be held by the next vCPU: if the host
            // has descheduled it, the wait lasts until it runs again (lock-holder preemption).
            if (this.nV > 1) {
              const h = v + 1 === this.nV ? 0 : v + 1;
              if (this.mode[h] === MODE_DESCHEDULED) {
                const extra = this.descheduledUntil[h] - (t + acc);
                if (extra > 0) spin += extra;
                this.spinHolder[c] = h;
              }
            }
          }
          const plan = a[pc];
          const window = this.pleWindowNow[v];
          if (plan >= 0 && spin >= window) {
            // PLE: the loop exceeds PLE_Window TSC cycles → exit (SDM Vol. 3C §26.1.3).
            acc += window;
            this.stats.spinCycles += window;
            this.spinLeft[c] = spin - window;
            this.action[c] = ACTION_EXIT;
            this.actPlan[c] = plan;
            this.actCount[c] = 1;
            this.actSource[c] = p.opSource[pc];
            this.ctxPc[c] = pc;
            this.computeLeft[c] = acc;
            return;
          }
          acc += spin;
          this.stats.spinCycles += spin;
          this.spinLeft[c] = 0;
          this.spinning[c] = 0;
          this.spinHolder[c] = -1;
          pc++;
          break;
        }
        default: // OP_END
          this.action[c] = ACTION_END;
          this.ctxPc[c] = pc;
          this.computeLeft[c] = acc;
          return;
      }
    }
  }

  /**
   * An exit inside a transaction aborts it: the region runs again, transactionally up to
   * TSX_RETRIES attempts (glibc's retry_try_xbegin = 3, as the estimator), then without TSX.
   */
  private abortTsx(c: number): number {
    this.stats.tsxAborts++;
    const pc = this.tsxPc[c];
    this.repDepth[c] = this.tsxDepth[c];
    this.tsxPc[c] = -1;
    if (++this.tsxRetries[c] >= TSX_RETRIES) this.tsxFallback[c] = 1;
    return pc;
  }

  // ---------------------------------------------------------------- straight-line jobs

  /**
   * Runs a straight-line job (plan.ts, StraightPlans) of path source `s` starting on vCPU `v`
   * at `t` in one step — guest intervals, exits and entries exactly as the interpreter and the
   * queue would produce them — when nothing can interleave: no other event of this vCPU before
   * the job's longest possible end, no interrupt waiting, no preemption timer, no host
   * preemption (the folding conditions, scheduleEntry). Returns the job's end, or −1 when it
   * cannot (the caller then interprets the job).
   */
  private tryStraight(v: number, s: number, t: number): number {
    const end = t + this.straightMax[s];
    if (!this.straightAllowed || end >= this.endTime || this.irqLen[v] !== 0) return -1;
    const arrivals = this.arrivalTime;
    const blocks = this.blocksStraight;
    for (let i = v * this.nS, s2 = 0; s2 < this.nS; i++, s2++)
      if (arrivals[i] < end && blocks[s2] === 1) return -1;
    const segments = this.straightLength[s];
    if (this.idleInGuest[v] === 1) {
      this.closeGuest(v, t);
      this.idleInGuest[v] = 0;
    }
    this.idleExitTaken[v] = 0;
    this.tickDue[v] = 1;
    const compute = this.straightCompute;
    const exit = this.straightExit;
    let now = t;
    for (let i = this.straightStart[s], last = i + segments; i < last; i++) {
      now += compute[i];
      const plan = exit[i];
      if (plan < 0) break; // the tail: its guest interval stays open, as after the interpreter
      this.closeGuest(v, now);
      // The exit, then its VM entry (one event, as scheduleEntry counts a folded entry).
      now += this.exitStatistics(v, now, plan, this.straightSource[i]);
      this.events++;
      this.guestSince[v] = now;
    }
    this.stats.executions[s]++;
    return now;
  }

  /**
   * The common event, specialised: an arrival of a straight-line path source (run-ahead
   * allowed) on a vCPU idle in the guest or running ahead with nothing queued. Draws the next
   * arrival and runs the whole job — the same intervals, exits and statistics as onArrival →
   * tryStraight → goIdle — with flat per-plan arrays and no calls but the histogram and the
   * timeline. Returns false, having changed nothing, when a precondition fails (onArrival then
   * takes the event).
   */
  private straightArrival(v: number, s: number, t: number): boolean {
    if (
      this.mode[v] !== MODE_GUEST ||
      this.ctxActive[2 * v] !== 0 ||
      this.ctxActive[2 * v + 1] !== 0 ||
      this.pathLen[v] !== 0 ||
      this.irqLen[v] !== 0 ||
      this.vcpuTime[v] !== Number.POSITIVE_INFINITY
    )
      return false;
    const since = this.guestSince[v];
    const start = Math.max(since, t);
    const end = start + this.straightMax[s];
    if (end >= this.endTime) return false;
    const nS = this.nS;
    const arrivals = this.arrivalTime;
    const blocks = this.blocksStraight;
    const base = v * nS;
    for (let i = 0; i < nS; i++) if (blocks[i] === 1 && arrivals[base + i] < end) return false;
    const first = this.straightStart[s];
    const segments = this.straightLength[s];

    const mean = this.sourceMean[s];
    arrivals[base + s] = t + (this.sourcePeriodic[s] === 1 ? mean : -Math.log(1 - this.rng.next()) * mean);
    this.stats.arrivals[s]++;
    // The guest interval open since `since` (idle, as goIdle leaves it) ends at the start.
    let guestStart = start;
    if (this.idleInGuest[v] === 0) guestStart = since;
    else if (start > since) {
      this.stats.idleGuestCycles += start - since;
      this.recorder.record(since, start - since, v, this.idleState, -1, -1);
    }
    this.idleExitTaken[v] = 0;
    this.tickDue[v] = 1;
    const compute = this.straightCompute;
    const exit = this.straightExit;
    const exitSource = this.straightSource;
    let now = start;
    for (let i = first, last = first + segments; i < last; i++) {
      now += compute[i];
      if (now > guestStart) {
        this.stats.guestCycles += now - guestStart;
        this.recorder.record(guestStart, now - guestStart, v, VcpuState.Guest, -1, -1);
      }
      const plan = exit[i];
      if (plan < 0) break; // the tail
      // The exit and its VM entry (one event, as a folded entry).
      let k = this.planOutcomeStart[plan];
      const lastOutcome = k + this.planOutcomeCount[plan] - 1;
      if (k < lastOutcome) {
        const u = this.rng.next();
        while (k < lastOutcome && this.outcomeCumulative[k] < u) k++;
      }
      const transition = this.planTransition[plan];
      const handler = this.outcomeHandler[k];
      const userspace = this.outcomeUserspace[k];
      const total = transition + handler + userspace;
      this.stats.exit(plan, transition, handler, userspace, 0);
      if (this.recorder.fullAt < 0) {
        const code = this.planCode[plan];
        const handlerSource = this.planHandlerSource[plan];
        this.recorder.record(now, transition, v, VcpuState.Exit, code, exitSource[i]);
        if (handler > 0)
          this.recorder.record(now + transition, handler, v, VcpuState.Handler, code, handlerSource);
        if (userspace > 0)
          this.recorder.record(
            now + transition + handler,
            userspace,
            v,
            VcpuState.Userspace,
            code,
            handlerSource,
          );
      }
      now += total;
      guestStart = now;
      this.events++;
    }
    this.stats.executions[s]++;
    // Idle in the guest from the job's end (goIdle with nothing to do).
    this.guestSince[v] = now;
    this.idleInGuest[v] = 1;
    return true;
  }

  // ---------------------------------------------------------------- exits and entries

  /**
   * Counts and records an exit taken at `t` (handler arm drawn when it has several); returns
   * its duration to the VM entry. The arm is left in `lastOutcome` for its effects.
   */
  private exitStatistics(v: number, t: number, planIndex: number, source: number): number {
    const plan = this.p.exits[planIndex];
    let k = 0;
    const cumulative = plan.cumulative;
    if (cumulative.length > 1) {
      const u = this.rng.next();
      while (cumulative[k] < u) k++;
    }
    this.lastOutcome = k;
    const transition = plan.transition;
    const handler = plan.handler[k];
    const userspace = plan.userspace[k];
    const total = transition + handler + userspace;
    const wake = plan.wake[k];
    this.stats.exit(planIndex, transition, handler, userspace, wake);
    if (this.recorder.fullAt < 0) {
      const code = plan.code;
      this.recorder.record(t, transition, v, VcpuState.Exit, code, source);
      if (handler > 0)
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

  private beginExit(v: number, t: number, planIndex: number, source: number): void {
    const total = this.exitStatistics(v, t, planIndex, source);
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
      this.mode[v] = MODE_DESCHEDULED;
      this.descheduledUntil[v] = t + this.preemptCycles;
      this.vcpuTime[v] = t + this.preemptCycles;
      return;
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
        if (w > 0) {
          this.recorder.record(t, w, v, VcpuState.Handler, this.p.exits[this.haltPlan[v]].code, -1);
          this.stats.wakeCycles += w;
          this.vcpuTime[v] = t + w;
          return;
        }
      } else {
        this.idleExitTaken[v] = 0;
        this.haltStart[v] = t;
        if (this.haltPollCycles > 0) {
          this.mode[v] = MODE_HALT_POLL;
          this.vcpuTime[v] = t + this.haltPollCycles;
        } else this.mode[v] = MODE_HALTED;
        return;
      }
    }
    this.mode[v] = MODE_GUEST;
    this.guestSince[v] = t;
    this.idleInGuest[v] = 0;
    if (this.p.preemptionTimerCycles > 0) this.ptDeadline[v] = t + this.ptRemaining[v];
    if (this.ctxActive[2 * v + 1] === 0 && this.irqLen[v] > 0) this.deliverIrq(v, t, MARK_INJECTION);
    this.runGuest(v, t);
  }

  /** Wakes a halted vCPU at `t`: KVM schedules its thread back in (the target's halt_wake). */
  private wake(v: number, t: number): void {
    const since = this.haltStart[v];
    this.recorder.record(since, t - since, v, VcpuState.Halted, -1, -1);
    this.stats.haltedCycles += t - since;
    this.stats.haltWakeups++;
    const w = this.haltWake[v];
    this.stats.wakeCycles += w;
    const reason = this.haltPlan[v] >= 0 ? this.p.exits[this.haltPlan[v]].code : -1;
    if (w > 0) this.recorder.record(t, w, v, VcpuState.Handler, reason, -1);
    // The vCPU thread blocked and is scheduled in again: KVM shrinks the PLE window on
    // sched-in (vmx_sched_in → shrink_ple_window, arch/x86/kvm/vmx/vmx.c; since Linux 6.11
    // vmx_vcpu_load when vcpu->scheduled_out), and with the default ple_window_shrink = 0
    // __shrink_ple_window returns the base window (arch/x86/kvm/x86.h). A successful halt
    // poll never schedules out, so pollSuccess keeps the window.
    if (this.pleGrowth) this.pleWindowNow[v] = this.p.pleWindow;
    this.mode[v] = MODE_ROOT;
    this.vcpuTime[v] = t + w;
  }

  /** An event arrived while KVM was halt-polling: no sleep, no wake-up cost. */
  private pollSuccess(v: number, t: number): void {
    const since = this.haltStart[v];
    this.recorder.record(since, t - since, v, VcpuState.Polling, -1, -1);
    this.stats.pollingCycles += t - since;
    this.stats.haltPollSuccesses++;
    // The vCPU never slept: the wake-up charged to its HLT exit did not happen.
    if (this.haltPlan[v] >= 0) this.stats.wakeNotSpent(this.haltPlan[v], this.haltWake[v]);
    this.mode[v] = MODE_ROOT;
    this.vcpuTime[v] = t;
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
    const end = this.endTime;
    for (let v = 0; v < this.nV; v++) {
      switch (this.mode[v]) {
        case MODE_GUEST:
          this.closeGuest(v, end);
          break;
        // A run stopped by a budget ends at the global clock, which a vCPU that ran ahead
        // (folded entries) may have passed: its open interval then adds nothing.
        case MODE_HALTED:
          if (end < this.haltStart[v]) break;
          this.recorder.record(this.haltStart[v], end - this.haltStart[v], v, VcpuState.Halted, -1, -1);
          this.stats.haltedCycles += end - this.haltStart[v];
          break;
        case MODE_HALT_POLL:
          if (end < this.haltStart[v]) break;
          this.recorder.record(this.haltStart[v], end - this.haltStart[v], v, VcpuState.Polling, -1, -1);
          this.stats.pollingCycles += end - this.haltStart[v];
          break;
        case MODE_DESCHEDULED: {
          const since = this.descheduledUntil[v] - this.preemptCycles;
          if (end < since) break;
          this.stats.descheduledCycles += end - since;
          this.recorder.record(since, end - since, v, VcpuState.Descheduled, -1, -1);
          break;
        }
      }
    }
  }

  /** The result, built whole from the observers and how the run ended. */
  result(): SimulationResult {
    const byEvents = this.stopReason === STOP_EVENTS;
    return buildResult(this.p, this.stats, this.recorder, {
      endCycles: this.endTime,
      events: this.events,
      seed: this.seed,
      stopped:
        this.stopReason === STOP_NONE
          ? undefined
          : {
              budget: byEvents ? "events" : "steps",
              limit: byEvents ? this.maxEvents : this.maxSteps,
              atSec: this.endTime / this.p.hz,
              requestedSec: this.requestedSec,
            },
    });
  }
}

/** Refuses options no run could honour (through the API: the CLI and the language bound them). */
function validateOptions(options: SimulationOptions): void {
  const bad = (what: string, value: unknown): never => {
    throw new SimulationError(
      `${what} must be a finite, non-negative number (got ${String(value)})`,
      "input",
    );
  };
  if (!(options.durationSec > 0) || !Number.isFinite(options.durationSec)) {
    throw new SimulationError(`the duration must be a positive number of seconds`, "input");
  }
  const finite = (x: number | undefined): boolean => x === undefined || (x >= 0 && Number.isFinite(x));
  if (!finite(options.maxEvents)) bad("maxEvents", options.maxEvents);
  if (!finite(options.maxSteps)) bad("maxSteps", options.maxSteps);
  if (!finite(options.haltPollNs)) bad("haltPollNs", options.haltPollNs);
  if (options.pleWindowMax !== undefined && !finite(options.pleWindowMax))
    bad("pleWindowMax", options.pleWindowMax);
  const preemption = options.hostPreemption;
  if (preemption && !finite(preemption.ratePerSec)) bad("hostPreemption.ratePerSec", preemption.ratePerSec);
  if (preemption && !finite(preemption.durationSec))
    bad("hostPreemption.durationSec", preemption.durationSec);
  const intervals = options.timelineIntervals;
  if (intervals !== undefined && !(finite(intervals) && intervals <= MAX_TIMELINE_INTERVALS)) {
    throw new SimulationError(
      `timelineIntervals must be between 0 and ${MAX_TIMELINE_INTERVALS} (got ${String(intervals)})`,
      "input",
    );
  }
}
