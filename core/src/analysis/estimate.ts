/**
 * The static estimator: exits per second, cycles per exit, overhead, host CPU and demand of a
 * guest, per source, per exit reason and per operation. Every formula is written out with a
 * worked example in docs/estimator.md. Linear in the number of operations: each operation is
 * decided once, handler costs are cached per program, and the idle model is solved in closed
 * form (the busy share enters the equations linearly).
 */
import type { Arrival, GuestIR, Program } from "../model/ir";
import { hostSettings } from "../model/statements/host";
import type { Span } from "../source";
import type { ExitReasonDef } from "../vmx/types";
import {
  decideDelivery,
  decideIdle,
  type ExitContext,
  exitCount,
  guestContext,
  pathContext,
  sourceContext,
  walkOps,
} from "./exits";
import { handlerSplit } from "./handlerSplit";
import { deliveredScale, hostCapacity, prepareHost } from "./hostEstimate";
import { type SourceModel, solveShares } from "./hostShares";
import { memoOf } from "./memo";
import { ExitDurations, pathLatency, summarize } from "./pathLatency";
import { exitCost, exitCostIn, exitCostsOf, vcpuMayMigrate } from "./transitionCost";
import type { ExitDecision, GuestEstimate, OperationEstimate, PathEstimate, ReasonEstimate } from "./types";

/**
 * The estimate of one guest. Only the totals (and which exit reasons occur) are kept: the
 * per-reason, per-path and per-operation breakdowns are solved again from the program when
 * first read (see GuestEstimateResult), so a whole-file analysis does not keep thousands of
 * small objects alive that a diagnostic pass never reads.
 */
export function estimateGuest(program: Program, guestName: string): GuestEstimate {
  const guest = program.guests.get(guestName);
  const solved = guest ? solveGuest(program, guest, false) : undefined;
  if (!guest || !solved) return emptyEstimate(program, guestName, guest);
  return new GuestEstimateResult(program, guest, solved);
}

/** The CPU profile and frequency an estimate is for: one object per program, shared by its guests. */
function targetSummary(program: Program): GuestEstimate["target"] {
  const memo = memoOf(program);
  memo.targetSummary ??= { profile: program.target.profile.name, hz: program.target.hz };
  return memo.targetSummary;
}

function emptyEstimate(program: Program, guestName: string, guest: GuestIR | undefined): GuestEstimate {
  return {
    guest: guestName,
    target: targetSummary(program),
    vcpus: guest?.vcpus ?? 0,
    exitsPerSecond: 0,
    overhead: 0,
    hostCpu: 0,
    demand: 0,
    exitingReasonCodes: [],
    byReason: [],
    paths: [],
    operations: [],
  };
}

/** Everything one solution of a guest's estimate yields: totals, breakdowns, operation inputs. */
interface SolvedGuest {
  totals: Pick<GuestEstimate, "vcpus" | "exitsPerSecond" | "overhead" | "hostCpu" | "demand" | "host">;
  byReason: ReasonEstimate[];
  paths: PathEstimate[];
  operations: OperationInputs;
}

/**
 * Solves a guest's estimate (steps 1–5 below); undefined when its vmcs is unknown. Without
 * `breakdown`, `paths` is left empty: the totals and `exitingReasonCodes` need only `byReason`.
 */
function solveGuest(program: Program, guest: GuestIR, breakdown: boolean): SolvedGuest | undefined {
  const ctx = guestContext(program, guest);
  if (!ctx) return undefined;
  const target = program.target;
  const hz = target.hz > 0 ? target.hz : 1;
  const vcpus = Math.max(0, guest.vcpus);

  const migrating = vcpuMayMigrate(guest);
  // Each exit costs what the handler its operand selects costs (model/handlers.ts).
  const costs = exitCostsOf(program, ctx.vmcs, migrating);
  const costOf = (code: number, variant?: number) =>
    exitCostIn(costs, program, ctx.vmcs, code, migrating, variant).total;
  const exitCycles = (exits: ExitDecision["exits"]) => {
    let c = 0;
    for (const e of exits) c += e.perExecution * costOf(e.reason.code, e.handler);
    return c;
  };

  // Interrupts that can land while a path runs: each aborts an open transaction (tsxModel).
  let interruptRate = 0;
  for (const source of guest.sources)
    if (source.kind !== "path" && source.arrival.kind !== "tickless")
      interruptRate += arrivalRate(source.arrival);
  const pathCtx: ExitContext = interruptRate > 0 ? pathContext(ctx, interruptRate / hz) : ctx;

  // 1. Decide every operation once, per source (the per-operation figures walk the sources
  //    again when first asked for: see GuestEstimateResult).
  const models: SourceModel[] = guest.sources.map((source) => {
    const sctx = source.kind === "path" ? pathCtx : sourceContext(ctx, source);
    const walked = walkOps(source.ops, sctx, undefined, 1, false, source.arrival);
    const delivery = decideDelivery(source, sctx).decision;
    return {
      source,
      rate: arrivalRate(source.arrival),
      tickless: source.arrival.kind === "tickless",
      computeCycles: walked.computeCycles,
      opExits: walked.decision.exits,
      opExitCycles: exitCycles(walked.decision.exits),
      delivery,
      deliveryExitCycles: exitCycles(delivery.exits),
      deferredFlushes: walked.deferredFlushes,
      context: sctx,
      busyTicks: source.arrival.kind === "tickless" ? source.arrival.hz : 0,
    };
  });
  const idle = decideIdle(ctx);
  const idleExitCycles = exitCycles(idle.decision.exits);

  // 2. The busy share ρ of a vCPU and the share p of interrupt arrivals that take their
  //    delivery exit, solved together in closed form (docs/estimator.md "Idle model"). An
  //    interrupt exits only when it arrives in guest mode (SDM Vol. 3C §26.2: external-interrupt
  //    exiting acts in VMX non-root operation); in root mode it waits for the next VM entry and
  //    is injected there without another exit; while the vCPU is halted in the host it wakes it.
  //    With G = Σ λ·compute, X = Σ λ·op-exit cycles, D = Σ λ·delivery-exit cycles,
  //    N idle periods/s, each costing T = idle exit + tickless (tc guest, tx exits):
  //      ρ·hz = G + X + D·p + N·T
  //      p = (G + N·tc)/hz              when the idle vCPU blocks in the host (guest-mode share)
  //      p = 1 − (X + D·p + N·(T − tc))/hz   otherwise (all but root-mode time)
  //    N = Λ(1−ρ)/S: Λ(1−ρ) arrivals find the vCPU idle (PASTA), and an idle exit whose window
  //    τ (tickless + idle exit up to the block) already saw an arrival returns to work without
  //    an idle period, so N·S = Λ(1−ρ) with S = P(no arrival within τ) =
  //    e^(−Λ_poisson·τ) · Π_periodic (1 − λ_i·τ).
  // Host terms (hostTerms.ts, docs/estimator.md "Host"): halt polling lowers the cost of an
  // idle exit that blocks by the wake-up it saves; PLE window growth lowers the PAUSE-loop
  // exits of `pause_loop`s. Both depend on the solution (blocks and sched-ins per second), so
  // the system is solved again with them, to a fixed point in a few passes.
  const host = hostSettings(program, guest);
  const hostRun = prepareHost(program, guest, models, ctx, idle.blockedInHost);
  let pollSaving = 0; // cycles per idle exit
  let solution = solveShares(models, idleExitCycles, pollSaving, idle.blockedInHost, target, hz);
  let terms = hostRun.update(solution, hz);
  for (let pass = 0; pass < 3 && terms.changed; pass++) {
    pollSaving = terms.pollSavingPerIdleExit;
    solution = solveShares(models, idleExitCycles, pollSaving, idle.blockedInHost, target, hz);
    terms = hostRun.update(solution, hz);
  }
  const { saturated, pRun } = solution;
  // What a vCPU can deliver (item 6 of issue 12): its share of a physical CPU; above it, paths
  // get what interrupts (which preempt them) leave, as in the simulator, and it never idles.
  const capacity = hostCapacity(host, guest);
  const scale = deliveredScale(models, pRun, hz, capacity, saturated || solution.demand > capacity);
  const rho = scale.idle === 0 ? 1 : solution.rho;
  const idlePeriods = scale.idle === 0 ? 0 : solution.idlePeriods;

  // 3. Per-source results.
  // A guest exits with a handful of reasons: a list in first-seen order (a Map per guest costs
  // more to allocate than the linear search).
  // `variants`: the part of the rate each specialised handler takes (by its index), when any does.
  const reasonRates: { reason: ExitReasonDef; perSecond: number; variants?: Map<number, number> }[] = [];
  const addRate = (reason: ExitReasonDef, perSecond: number, variant?: number) => {
    if (perSecond === 0) return;
    const code = reason.code;
    let entry: (typeof reasonRates)[number] | undefined;
    for (let i = 0; i < reasonRates.length; i++) {
      if (reasonRates[i]!.reason.code === code) {
        entry = reasonRates[i]!;
        entry.perSecond += perSecond;
        break;
      }
    }
    if (entry === undefined) {
      entry = { reason, perSecond };
      reasonRates.push(entry);
    }
    if (variant !== undefined) {
      entry.variants ??= new Map();
      entry.variants.set(variant, (entry.variants.get(variant) ?? 0) + perSecond);
    }
  };
  const paths: PathEstimate[] = [];
  const durations = breakdown ? new ExitDurations(program, ctx.vmcs, migrating) : undefined;
  let guestCyclesPerSec = 0;
  let exitCyclesPerSec = 0;

  for (const m of models) {
    const rate = (m.tickless ? idlePeriods + m.busyTicks * rho : m.rate) * scale.of(m);
    const deliveryShare = m.tickless ? 1 : pRun;
    const exitCyclesPerExecution = m.opExitCycles + deliveryShare * m.deliveryExitCycles;
    for (const e of m.delivery.exits) addRate(e.reason, rate * e.perExecution * deliveryShare, e.handler);
    for (const e of m.opExits) addRate(e.reason, rate * e.perExecution, e.handler);
    guestCyclesPerSec += rate * m.computeCycles;
    exitCyclesPerSec += rate * exitCyclesPerExecution;
    if (!breakdown) continue;
    // A source exits with a handful of reasons: a list in first-seen order, not a map.
    const exits: PathEstimate["exits"] = [];
    for (const e of m.delivery.exits) addPathExit(exits, e.reason, e.perExecution * deliveryShare);
    for (const e of m.opExits) addPathExit(exits, e.reason, e.perExecution);
    const latency = pathLatency(m.source.ops, m.context, m.source.arrival, durations!, hz);
    const per = m.source.arrival.kind === "poisson" ? m.source.arrival.per : undefined;
    paths.push({
      name: m.source.name,
      kind: m.source.kind,
      span: m.source.span,
      executionsPerSecond: rate,
      exits,
      cyclesPerExecution: m.computeCycles + exitCyclesPerExecution,
      guestCyclesPerExecution: m.computeCycles,
      exitCyclesPerExecution,
      exitsPerExecution: sumExits(exits),
      guestExecutionsPerSecond: rate * vcpus,
      ...(per === undefined ? {} : { ratePer: per }),
      latency: summarize(latency.dist, hz),
      ...(latency.coalesce.length > 0 ? { coalesce: latency.coalesce } : {}),
    });
  }

  // 4. Idle periods.
  if (idle.decision.exits.length > 0 || guest.idleSpan) {
    for (const e of idle.decision.exits) addRate(e.reason, idlePeriods * e.perExecution);
    exitCyclesPerSec += idlePeriods * (idleExitCycles - pollSaving);
    if (breakdown && idle.decision.exits.length > 0) {
      const exits = idle.decision.exits.map((e) => ({
        reason: e.reason.name,
        code: e.reason.code,
        perExecution: e.perExecution,
      }));
      paths.push({
        name: "idle",
        kind: "idle",
        span: guest.idleSpan ?? guest.span,
        executionsPerSecond: idlePeriods,
        exits,
        cyclesPerExecution: idleExitCycles,
        guestCyclesPerExecution: 0,
        exitCyclesPerExecution: idleExitCycles,
        exitsPerExecution: sumExits(exits),
        guestExecutionsPerSecond: idlePeriods * vcpus,
      });
    }
  }

  // 5. Per reason, all vCPUs.
  const byReason: ReasonEstimate[] = [];
  let totalExitsPerSec = 0;
  // The wake-ups a successful poll saves come off the blocking idle exit's cost.
  const savedPerSec = idlePeriods * pollSaving;
  const idleReason = idle.blockedInHost ? idle.decision.exits[0]?.reason.code : undefined;
  for (const { reason, perSecond, variants } of reasonRates) {
    const general = exitCost(program, ctx.vmcs, reason.code, migrating);
    const split = variants
      ? handlerSplit(program, ctx.vmcs, reason.code, migrating, perSecond, variants, vcpus)
      : undefined;
    const base = split?.mean ?? general;
    const saved = reason.code === idleReason && perSecond > 0 ? savedPerSec / perSecond : 0;
    // The four figures read, not a spread of the whole cost (a spread of its many fields cost
    // more than the rest of this loop).
    const total = saved > 0 ? base.total - saved : base.total;
    const handlerCycles = saved > 0 ? base.handler - saved : base.handler;
    const exitsPerSecond = perSecond * vcpus;
    totalExitsPerSec += exitsPerSecond;
    const row: ReasonEstimate = {
      reason: reason.name,
      code: reason.code,
      exitsPerSecond,
      cyclesPerExit: total,
      transitionCycles: base.transition,
      handlerCycles,
      userspaceCycles: base.userspace,
      share: exitCyclesPerSec > 0 ? (perSecond * total) / exitCyclesPerSec : 0,
    };
    if (split) row.handlers = split.handlers;
    byReason.push(row);
  }
  sortSmall(
    byReason,
    (a, b) => b.exitsPerSecond * b.cyclesPerExit - a.exitsPerSecond * a.cyclesPerExit || a.code - b.code,
  );

  const busy = guestCyclesPerSec + exitCyclesPerSec;
  const pollCpu = terms.blocksPerSecond * terms.poll.pollSec * vcpus * scale.idle;
  const hostCpu = (exitCyclesPerSec * vcpus) / hz + pollCpu;
  const hostEstimate = hostRun.report(terms, capacity, pollCpu, scale.saturation(vcpus));
  return {
    totals: {
      vcpus,
      exitsPerSecond: totalExitsPerSec,
      overhead: busy > 0 ? exitCyclesPerSec / busy : 0,
      hostCpu,
      demand: scale.offeredDemand ?? busy / hz,
      host: hostEstimate,
    },
    byReason,
    paths,
    operations: { models, idle, idlePeriods, pRun, rho, hz, vcpus, guest, exitCycles },
  };
}

/** What the per-operation figures are derived from, kept by the estimate until first asked. */
interface OperationInputs {
  models: SourceModel[];
  idle: ReturnType<typeof decideIdle>;
  idlePeriods: number;
  /** Share of interrupt arrivals that take their delivery exit. */
  pRun: number;
  /** Busy share of a vCPU (a tickless tick fires at HZ while busy). */
  rho: number;
  hz: number;
  vcpus: number;
  guest: GuestIR;
  /** Cycles of a list of exits (transition + handler of each reason, weighted). */
  exitCycles: (exits: ExitDecision["exits"]) => number;
}

/**
 * A guest's estimate: the totals as fields, the breakdowns (`byReason`, `paths`, `operations`)
 * solved again on first read. A diagnostic pass over a large file reads the totals of every
 * guest but the breakdowns of few (budgets per reason, a saturated guest, an unhandled exit);
 * hovers, lenses and reports read those of the guests they show. Solving again gives the same
 * figures: the estimate is a function of the program, which is not changed after lowering.
 * Not kept, the breakdowns die young; kept for every guest they were most of what a whole-file
 * analysis left for the garbage collector to copy (docs/ARCHITECTURE.md, "Data flow").
 * `toJSON` gives the plain figures; `estimateData` does the same for a structured clone.
 */
class GuestEstimateResult implements GuestEstimate {
  readonly guest: string;
  readonly target: GuestEstimate["target"];
  readonly vcpus: number;
  readonly exitsPerSecond: number;
  readonly overhead: number;
  readonly hostCpu: number;
  readonly demand: number;
  readonly host: GuestEstimate["host"];
  readonly exitingReasonCodes: readonly number[];
  readonly #program: Program;
  readonly #guest: GuestIR;
  #breakdown: { byReason: ReasonEstimate[]; paths: PathEstimate[] } | undefined;
  #operations: OperationEstimate[] | undefined;

  constructor(program: Program, guest: GuestIR, solved: SolvedGuest) {
    this.guest = guest.name;
    this.target = targetSummary(program);
    this.vcpus = solved.totals.vcpus;
    this.exitsPerSecond = solved.totals.exitsPerSecond;
    this.overhead = solved.totals.overhead;
    this.hostCpu = solved.totals.hostCpu;
    this.demand = solved.totals.demand;
    this.host = solved.totals.host;
    const codes: number[] = [];
    for (const reason of solved.byReason) if (reason.exitsPerSecond > 0) codes.push(reason.code);
    this.exitingReasonCodes = codes;
    this.#program = program;
    this.#guest = guest;
  }

  get byReason(): ReasonEstimate[] {
    return this.#breakdownOnce().byReason;
  }

  get paths(): PathEstimate[] {
    return this.#breakdownOnce().paths;
  }

  /** Kept apart from the other breakdowns: one object per operation, read for hovers. */
  get operations(): OperationEstimate[] {
    if (this.#operations === undefined) {
      const solved = this.#solveFully();
      this.#breakdown ??= { byReason: solved.byReason, paths: solved.paths };
      this.#operations = operationEstimates(solved.operations);
    }
    return this.#operations;
  }

  #breakdownOnce(): { byReason: ReasonEstimate[]; paths: PathEstimate[] } {
    if (this.#breakdown === undefined) {
      const { byReason, paths } = this.#solveFully();
      this.#breakdown = { byReason, paths };
    }
    return this.#breakdown;
  }

  #solveFully(): SolvedGuest {
    // The vmcs was known when the totals were solved and the program has not changed since.
    return solveGuest(this.#program, this.#guest, true)!;
  }

  toJSON(): GuestEstimate {
    return estimateData(this);
  }
}

/**
 * A guest estimate as plain data, for JSON and for structured clones (which drop getters).
 * Without `operations` unless asked: one object per guest operation, for hovers only.
 */
export function estimateData(estimate: GuestEstimate): GuestEstimate;
export function estimateData(
  estimate: GuestEstimate,
  withOperations: false,
): Omit<GuestEstimate, "operations">;
export function estimateData(
  estimate: GuestEstimate,
  withOperations = true,
): GuestEstimate | Omit<GuestEstimate, "operations"> {
  const data = {
    guest: estimate.guest,
    target: estimate.target,
    vcpus: estimate.vcpus,
    exitsPerSecond: estimate.exitsPerSecond,
    overhead: estimate.overhead,
    hostCpu: estimate.hostCpu,
    demand: estimate.demand,
    ...(estimate.host ? { host: estimate.host } : {}),
    exitingReasonCodes: estimate.exitingReasonCodes,
    byReason: estimate.byReason,
    paths: estimate.paths,
  };
  return withOperations ? { ...data, operations: estimate.operations } : data;
}

/** Every operation's exits per second and cost, in source order, then the idle loop. */
function operationEstimates(inputs: OperationInputs): OperationEstimate[] {
  const { models, idle, idlePeriods, pRun, hz, vcpus, guest, exitCycles } = inputs;
  const operations: OperationEstimate[] = [];
  // Decisions are shared between identical operations: cost each one once.
  const perExitCycles = new Map<ExitDecision, number>();
  const opEstimate = (span: Span, decision: ExitDecision, exitsPerSecond: number): OperationEstimate => {
    let cyclesPerExit = perExitCycles.get(decision);
    if (cyclesPerExit === undefined) {
      const n = exitCount(decision);
      cyclesPerExit = n > 0 ? exitCycles(decision.exits) / n : 0;
      perExitCycles.set(decision, cyclesPerExit);
    }
    const vcpuShare = (exitsPerSecond * cyclesPerExit) / hz;
    return { span, decision, exitsPerSecond, cyclesPerExit, vcpuShare, hostShare: vcpuShare * vcpus };
  };
  for (const m of models) {
    const rate = m.tickless ? idlePeriods + m.busyTicks * inputs.rho : m.rate;
    const deliveryShare = m.tickless ? 1 : pRun;
    if (m.source.kind !== "path")
      operations.push(
        opEstimate(m.source.nameSpan, m.delivery, rate * deliveryShare * exitCount(m.delivery)),
      );
    walkOps(
      m.source.ops,
      m.context,
      (op, decision, executions) => {
        operations.push(
          opEstimate(op.span, decision, decision.exits.length ? rate * executions * exitCount(decision) : 0),
        );
      },
      1,
      false,
      m.source.arrival,
    );
  }
  if (idle.decision.exits.length > 0 || guest.idleSpan)
    operations.push(
      opEstimate(guest.idleSpan ?? guest.nameSpan, idle.decision, idlePeriods * exitCount(idle.decision)),
    );
  return operations;
}

function sumExits(exits: PathEstimate["exits"]): number {
  let n = 0;
  for (const e of exits) n += e.perExecution;
  return n;
}

function addPathExit(exits: PathEstimate["exits"], reason: ExitReasonDef, n: number): void {
  if (n === 0) return;
  for (let i = 0; i < exits.length; i++) {
    const e = exits[i]!;
    if (e.code === reason.code) {
      e.perExecution += n;
      return;
    }
  }
  exits.push({ reason: reason.name, code: reason.code, perExecution: n });
}

/**
 * Stable in-place insertion sort: the per-reason lists have a few entries, for which
 * Array.prototype.sort's merge buffer costs more than the comparisons.
 */
function sortSmall<T>(items: T[], compare: (a: T, b: T) => number): void {
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let j = i - 1;
    while (j >= 0 && compare(items[j]!, item) > 0) {
      items[j + 1] = items[j]!;
      j--;
    }
    items[j + 1] = item;
  }
}

/** Arrivals per second per vCPU; tickless is solved by the idle model (0 here). */
export function arrivalRate(arrival: Arrival): number {
  switch (arrival.kind) {
    case "poisson":
      return Math.max(0, arrival.ratePerSec);
    case "periodic":
      return arrival.periodSec > 0 ? 1 / arrival.periodSec : 0;
    case "tickless":
      return 0;
  }
}

/** Estimates every guest of a program, keyed by guest name (what the facade stores). */
export function estimateAll(program: Program): Map<string, GuestEstimate> {
  const out = new Map<string, GuestEstimate>();
  for (const name of program.guests.keys()) out.set(name, estimateGuest(program, name));
  return out;
}
