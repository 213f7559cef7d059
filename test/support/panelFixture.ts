/**
 * Browser-side fixture for the panel page in tests and the benchmark: feeds a generated
 * timeline (test/support/timelineGen.ts) to the panel through the same direct-call host API the
 * playground uses, and reports how long the first paint took after the data arrived.
 * Statistics of generated runs are derived from the generated exits and marked as such; tests of
 * the statistics view use real simulations instead.
 */
import type { PanelRun, RunStats } from "../../protocol/panel";
import { buildIndex } from "../../webview/src/timelineIndex";
import { DEFAULT_REASONS, type GeneratorOptions, generateTimeline } from "./timelineGen";

function generatedStats(run: Omit<PanelRun, "stats">): RunStats {
  const index = buildIndex(run.timeline);
  const byCode = new Map<number, number[]>();
  for (const lane of index.lanes) {
    for (let e = 0; e < lane.exitCount; e++) {
      const list = byCode.get(lane.exitReason[e]!) ?? [];
      list.push(lane.exitLatency[e]!);
      byCode.set(lane.exitReason[e]!, list);
    }
  }
  const seconds = run.timeline.durationNs / 1e9;
  const hz = run.timeline.hz;
  const totalNs = [...byCode.values()].flat().reduce((a, b) => a + b, 0);
  const byReason = [...byCode.entries()].map(([code, list]) => {
    const sorted = Float64Array.from(list).sort();
    const sum = sorted.reduce((a, b) => a + b, 0);
    const at = (q: number): number =>
      sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! / 1e9;
    return {
      reason: DEFAULT_REASONS.find((r) => r.code === code)?.name ?? `R${code}`,
      code,
      exits: sorted.length,
      exitsPerSecond: sorted.length / seconds,
      cyclesPerExit: ((sum / sorted.length) * hz) / 1e9,
      cycles: (sum * hz) / 1e9,
      transitionCycles: 0,
      handlerCycles: 0,
      userspaceCycles: 0,
      share: sum / totalNs,
      duration: {
        min: sorted[0]! / 1e9,
        mean: sum / sorted.length / 1e9,
        p50: at(0.5),
        p99: at(0.99),
        max: at(1),
      },
    };
  });
  const exits = index.totalExits;
  const zero = { count: 0, min: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  return {
    guest: run.guest,
    target: { profile: "generated", hz },
    vcpus: run.timeline.vcpus,
    seed: 0,
    duration: seconds,
    exits,
    exitsPerSecond: exits / seconds,
    overhead: totalNs / (run.timeline.durationNs * run.timeline.vcpus),
    hostCpu: totalNs / 1e9 / seconds,
    byReason,
    paths: [],
    latency: { irq: zero, bySource: {} },
    time: {
      guest: 0,
      idleInGuest: 0,
      exit: 0,
      handler: 0,
      userspace: 0,
      halted: 0,
      polling: 0,
      descheduled: 0,
      spinning: 0,
    },
    // Counters the generator has no notion of; the cast keeps this fixture independent of new ones.
    counters: { events: 0 } as RunStats["counters"],
    warnings: ["generated timeline"],
  };
}

export interface FeedReport {
  intervals: number;
  exits: number;
  generateMs: number;
  /** From handing the result to the panel until its first frame is drawn. */
  firstPaintMs: number;
}

declare global {
  interface Window {
    traplineFixture?: { feed(options: GeneratorOptions): FeedReport };
  }
}

window.traplineFixture = {
  feed(options) {
    const t0 = performance.now();
    const timeline = generateTimeline(options);
    const base = { title: "generated.vmcs — bench", guest: "bench", timeline };
    const run: PanelRun = { ...base, stats: generatedStats(base) };
    const t1 = performance.now();
    const panel = window.traplinePanel;
    if (!panel) throw new Error("panel not loaded");
    panel.receive({ type: "result", run });
    const t2 = performance.now();
    return { intervals: timeline.count, exits: run.stats.exits, generateMs: t1 - t0, firstPaintMs: t2 - t1 };
  },
};
