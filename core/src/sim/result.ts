/**
 * The result of a run, built whole from what its observers kept: the statistics (sums and
 * histograms), the timeline, and how the run ended (its duration, its event count, a budget
 * that stopped it). Field names follow the CLI's JSON (types.ts).
 */
import { LogHistogram as HistogramOf, type LogHistogram } from "./histogram";
import type { ResolvedHost } from "./hostState";
import { nestedResult } from "./nestedResult";
import type { CompiledGuest } from "./plan";
import type { TimelineRecorder } from "./recorder";
import type { SimStatistics } from "./statistics";
import type {
  DurationStats,
  LatencyStats,
  SimCoalesceStats,
  SimHandlerStats,
  SimPathStats,
  SimReasonStats,
  SimulationResult,
  SimulationStop,
} from "./types";

export interface RunEnd {
  /** Simulated cycles covered. */
  endCycles: number;
  events: number;
  seed: number;
  /** Set when a budget stopped the run before the duration asked for. */
  stopped: SimulationStop | undefined;
  host: ResolvedHost;
  pollGrows: number;
  pollShrinks: number;
}

export function buildResult(
  p: CompiledGuest,
  stats: SimStatistics,
  recorder: TimelineRecorder,
  run: RunEnd,
): SimulationResult {
  const hz = p.hz;
  const duration = run.endCycles / hz;
  let exits = 0;
  let transition = 0;
  let handler = 0;
  let userspace = 0;
  for (let i = 0; i < p.exits.length; i++) {
    exits += stats.exitCount[i];
    transition += stats.exitTransition[i];
    handler += stats.exitHandler[i];
    userspace += stats.exitUserspace[i];
  }
  const exitCycles = transition + handler + userspace;
  const toSec = (cycles: number): number => cycles / hz;
  const durationStats = (h: LogHistogram): DurationStats => ({
    min: h.count ? toSec(h.min) : 0,
    mean: toSec(h.mean),
    p50: toSec(h.percentile(0.5)),
    p99: toSec(h.percentile(0.99)),
    max: toSec(h.max),
  });
  const latencyStats = (h: LogHistogram): LatencyStats => ({ count: h.count, ...durationStats(h) });
  // One row per reason; the plans of one reason (its specialised handlers' and the general
  // one's, sim/plan.ts; in a nested run the plan L0 keeps and the one reflected to L1, whose
  // levels are apart in `nested.byReason`) are summed into it, each handler's part kept in
  // `handlers`.
  const groups = new Map<number, number[]>();
  p.exits.forEach((plan, i) => {
    const group = groups.get(plan.code);
    if (group) group.push(i);
    else groups.set(plan.code, [i]);
  });
  const byReason: SimReasonStats[] = [];
  for (const [code, plans] of groups) {
    let count = 0;
    let tr = 0;
    let hd = 0;
    let us = 0;
    for (const i of plans) {
      count += stats.exitCount[i];
      tr += stats.exitTransition[i];
      hd += stats.exitHandler[i];
      us += stats.exitUserspace[i];
    }
    if (!(count > 0)) continue;
    const cycles = tr + hd + us;
    let hist = stats.exitHist[plans[0]!]!;
    if (plans.length > 1) {
      hist = new HistogramOf();
      for (const i of plans) hist.merge(stats.exitHist[i]!);
    }
    const row: SimReasonStats = {
      reason: p.exits[plans[0]!]!.name,
      code,
      exits: count,
      exitsPerSecond: count / duration,
      cyclesPerExit: cycles / count,
      cycles,
      transitionCycles: tr / count,
      handlerCycles: hd / count,
      userspaceCycles: us / count,
      share: exitCycles > 0 ? cycles / exitCycles : 0,
      duration: durationStats(hist),
    };
    if (plans.some((i) => p.exits[i]!.operand !== undefined))
      row.handlers = handlerRows(p, stats, plans, duration);
    byReason.push(row);
  }
  byReason.sort((x, y) => y.cycles - x.cycles || x.code - y.code);
  const bySource: Record<string, LatencyStats> = {};
  p.sources.forEach((s, i) => {
    if (s.isInterrupt) bySource[s.name] = latencyStats(stats.latencyHist[i]);
  });
  const warnings = [...p.warnings];
  const droppedTotal = stats.dropped.reduce((x, y) => x + y, 0);
  if (droppedTotal > 0) {
    warnings.push(
      `saturated: ${droppedTotal} arrivals were dropped because a vCPU's queue was full (demand above 100 %)`,
    );
  }
  const timeline = recorder.timeline;
  if (timeline.decimated && recorder.capacity > 0) {
    warnings.push(
      `the timeline keeps the first ${recorder.capacity} intervals (to ${(recorder.fullAt / hz).toPrecision(3)} s); statistics cover the whole run`,
    );
  }
  const stopped = run.stopped;
  if (stopped) {
    warnings.push(
      `stopped by the ${stopped.budget === "events" ? `event budget (${formatCount(stopped.limit)} events)` : `step budget (${formatCount(stopped.limit)} interpreter loop iterations)`} at ${stopped.atSec.toPrecision(3)} s of the ${stopped.requestedSec} s asked for; the statistics cover that part`,
    );
  }
  const busy = stats.guestCycles + exitCycles;
  return {
    guest: p.guest.name,
    target: { profile: p.profile, hz },
    vcpus: p.vcpus,
    seed: run.seed,
    duration,
    exits,
    exitsPerSecond: exits / duration,
    overhead: busy > 0 ? exitCycles / busy : 0,
    // The vCPU threads' host CPU outside guest mode: exit handling and halt polling (docs/simulator.md "Host").
    hostCpu: (exitCycles + stats.pollingCycles) / hz / duration,
    byReason,
    paths: pathStats(p, stats, duration, latencyStats),
    latency: { irq: latencyStats(stats.irqLatency), bySource },
    time: {
      guest: toSec(stats.guestCycles),
      idleInGuest: toSec(stats.idleGuestCycles),
      exit: toSec(transition),
      handler: toSec(handler),
      userspace: toSec(userspace),
      halted: toSec(stats.haltedCycles),
      polling: toSec(stats.pollingCycles),
      descheduled: toSec(stats.descheduledCycles),
      spinning: toSec(stats.spinCycles),
    },
    counters: {
      events: run.events,
      tsxAborts: stats.tsxAborts,
      haltWakeups: stats.haltWakeups,
      haltPollSuccesses: stats.haltPollSuccesses,
      directedYields: stats.directedYields,
      kicks: stats.kicks,
      injections: stats.injections,
      haltPollGrows: run.pollGrows,
      haltPollShrinks: run.pollShrinks,
    },
    host: run.host,
    warnings,
    ...(stopped ? { stopped } : {}),
    ...(p.nested ? { nested: nestedResult(p, stats, duration) } : {}),
    timeline,
  };
}

/** Each handler's part of one reason's exits: its plans, specialised first, the general one last. */
function handlerRows(
  p: CompiledGuest,
  stats: SimStatistics,
  plans: number[],
  duration: number,
): SimHandlerStats[] {
  const rows: SimHandlerStats[] = [];
  const ordered = [...plans].sort(
    (a, b) => Number(p.exits[a]!.operand === undefined) - Number(p.exits[b]!.operand === undefined) || a - b,
  );
  for (const i of ordered) {
    const plan = p.exits[i]!;
    const count = stats.exitCount[i];
    if (!(count > 0)) continue;
    const row: SimHandlerStats = {
      handler: plan.operand === undefined ? plan.name : `${plan.name} ${plan.operand}`,
      exits: count,
      exitsPerSecond: count / duration,
      cyclesPerExit: (stats.exitTransition[i] + stats.exitHandler[i] + stats.exitUserspace[i]) / count,
      transitionCycles: stats.exitTransition[i] / count,
      handlerCycles: stats.exitHandler[i] / count,
      userspaceCycles: stats.exitUserspace[i] / count,
    };
    if (plan.operand !== undefined) row.operand = plan.operand;
    rows.push(row);
  }
  return rows;
}

/** 1.23k, 4.56M, 2.00G: the budgets' figures in messages. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "unbounded";
  if (n >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return n.toPrecision(3);
}

/**
 * Per source: arrivals, executions, and the per-execution figures (exits, their cycles, the
 * latency they add). A coalesce site's timeout flushes run as a source of their own
 * (`NAME/coalesce`, plan.ts); their exits are counted in the parent path's per-execution
 * figures too, as the estimator amortises them (1/E[B] flushes per execution).
 */
function pathStats(
  p: CompiledGuest,
  stats: SimStatistics,
  duration: number,
  latencyStats: (h: LogHistogram) => LatencyStats,
): SimPathStats[] {
  const hz = p.hz;
  // Below one cycle is a zero (the histogram's bucket 0: an execution without exits).
  const cycleFloor = (l: LatencyStats): LatencyStats => {
    const z = (x: number) => (x * hz < 1.5 ? 0 : x);
    return { count: l.count, min: z(l.min), mean: z(l.mean), p50: z(l.p50), p99: z(l.p99), max: z(l.max) };
  };
  const parentOf = (site: number): number => {
    const flush = p.sources[p.coalesce.flushSource[site]];
    const name = flush.name.slice(0, flush.name.lastIndexOf("/coalesce"));
    return p.sources.findIndex((s) => s.coalesceSite < 0 && s.name === name);
  };
  const extraExits = new Float64Array(p.sources.length);
  const extraCycles = new Float64Array(p.sources.length);
  const sites: SimCoalesceStats[][] = p.sources.map(() => []);
  const siteParents: number[] = [];
  for (let site = 0; site < p.coalesce.count.length; site++) {
    const parent = parentOf(site);
    siteParents.push(parent);
    if (parent < 0) continue;
    const f = p.coalesce.flushSource[site];
    extraExits[parent] += stats.pathExits[f];
    extraCycles[parent] += stats.pathExitCycles[f];
  }
  for (let site = 0; site < p.coalesce.count.length; site++) {
    const parent = siteParents[site];
    if (parent < 0) continue;
    const wait = stats.coalesceWait[site];
    const flushes = stats.coalesceFlushes[site];
    const executions = stats.executions[parent];
    sites[parent].push({
      count: p.coalesce.count[site],
      timeoutSec: p.coalesce.timeoutCycles[site] / hz,
      batchSize: flushes > 0 ? wait.count / flushes : 0,
      flushesPerExecution: executions > 0 ? flushes / executions : 0,
      wait: cycleFloor(latencyStats(wait)),
    });
  }
  return p.sources.map((s, i) => {
    const executions = stats.executions[i];
    const per = (x: number) => (executions > 0 ? x / executions : 0);
    const out: SimPathStats = {
      name: s.name,
      kind: s.kind,
      arrivals: stats.arrivals[i],
      executions,
      executionsPerSecond: executions / duration,
      dropped: stats.dropped[i],
      exitsPerExecution: per(stats.pathExits[i] + extraExits[i]),
      exitCyclesPerExecution: per(stats.pathExitCycles[i] + extraCycles[i]),
      latency: cycleFloor(latencyStats(stats.pathHist[i])),
    };
    if (sites[i].length > 0) out.coalesce = sites[i];
    return out;
  });
}
