/**
 * The result of a run, built whole from what its observers kept: the statistics (sums and
 * histograms), the timeline, and how the run ended (its duration, its event count, a budget
 * that stopped it). Field names follow the CLI's JSON (types.ts).
 */
import { LogHistogram } from "./histogram";
import type { ResolvedHost } from "./hostState";
import { nestedResult } from "./nestedResult";
import type { CompiledGuest } from "./plan";
import type { TimelineRecorder } from "./recorder";
import type { SimStatistics } from "./statistics";
import type { DurationStats, LatencyStats, SimulationResult, SimulationStop } from "./types";

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
  // One row per reason: a nested run has several plans of one reason (kept by L0, reflected to
  // L1), summed here; their levels are apart in `nested.byReason`.
  const plansOf = new Map<number, number[]>();
  p.exits.forEach((plan, i) => {
    const list = plansOf.get(plan.code);
    if (list) list.push(i);
    else plansOf.set(plan.code, [i]);
  });
  const byReason = [...plansOf.values()]
    .map((plans) => {
      const first = p.exits[plans[0]];
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
      const cycles = tr + hd + us;
      return {
        reason: first.name,
        code: first.code,
        exits: count,
        exitsPerSecond: count / duration,
        cyclesPerExit: count ? cycles / count : 0,
        cycles,
        transitionCycles: count ? tr / count : 0,
        handlerCycles: count ? hd / count : 0,
        userspaceCycles: count ? us / count : 0,
        share: exitCycles > 0 ? cycles / exitCycles : 0,
        duration: durationStats(
          plans.length === 1
            ? stats.exitHist[plans[0]]
            : mergedHistogram(plans.map((i) => stats.exitHist[i])),
        ),
      };
    })
    .filter((r) => r.exits > 0)
    .sort((x, y) => y.cycles - x.cycles || x.code - y.code);
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
    paths: p.sources.map((s, i) => ({
      name: s.name,
      kind: s.kind,
      arrivals: stats.arrivals[i],
      executions: stats.executions[i],
      executionsPerSecond: stats.executions[i] / duration,
      dropped: stats.dropped[i],
    })),
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

/** 1.23k, 4.56M, 2.00G: the budgets' figures in messages. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "unbounded";
  if (n >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return n.toPrecision(3);
}

/** One histogram of several plans' samples (a nested run's reason at two levels). */
function mergedHistogram(parts: LogHistogram[]): LogHistogram {
  const h = new LogHistogram();
  for (const x of parts) {
    for (let b = 0; b < x.counts.length; b++) h.counts[b] += x.counts[b];
    h.count += x.count;
    h.sum += x.sum;
    if (x.min < h.min) h.min = x.min;
    if (x.max > h.max) h.max = x.max;
  }
  return h;
}
