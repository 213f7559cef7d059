/**
 * The timeline panel's pure logic: time scale and ticks, level-of-detail aggregation, hit
 * testing, range statistics. Hand-built timelines give exact expectations; a generated one
 * checks the two LOD paths agree on large data.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Timeline, VcpuState } from "../core/src/sim/timeline";
import {
  clampView,
  generateTicks,
  panBy,
  tickStep,
  timeToX,
  type Viewport,
  xToTime,
  zoomAt,
} from "../webview/src/scale";
import {
  aggregateLane,
  buildIndex,
  createColumnBuffer,
  hitTest,
  latencyHistogram,
  NO_STATE,
  neighbourExit,
  rangeStats,
} from "../webview/src/timelineIndex";
import { generateTimeline } from "./support/timelineGen";

/** Builds a Timeline from [vcpu, start, duration, state, reason] rows (in any order). */
function timelineOf(
  rows: [number, number, number, VcpuState, number][],
  vcpus = 1,
  durationNs?: number,
): Timeline {
  const n = rows.length;
  return {
    vcpus,
    hz: 1e9,
    durationNs: durationNs ?? Math.max(...rows.map((r) => r[1] + r[2])),
    count: n,
    start: Float64Array.from(rows, (r) => r[1]),
    duration: Float64Array.from(rows, (r) => r[2]),
    vcpu: Uint16Array.from(rows, (r) => r[0]),
    state: Uint8Array.from(rows, (r) => r[3]),
    reason: Int16Array.from(rows, (r) => r[4]),
    source: new Int32Array(n).fill(-1),
    sources: [],
    markers: {
      count: 0,
      time: new Float64Array(0),
      vcpu: new Uint16Array(0),
      kind: new Uint8Array(0),
      vector: new Int16Array(0),
    },
    decimated: false,
  };
}

const G = VcpuState.Guest;
const X = VcpuState.Exit;
const H = VcpuState.Handler;
const U = VcpuState.Userspace;
const HALT = VcpuState.Halted;

describe("time scale", () => {
  const view: Viewport = { startNs: 0, endNs: 1_000_000, widthPx: 1000 };

  it("maps time to pixels and back", () => {
    assert.equal(timeToX(view, 500_000), 500);
    assert.equal(xToTime(view, 250), 250_000);
  });

  it("picks 1-2-5 tick steps at least 80 px apart", () => {
    // 1000 ns per px × 80 px = 80 µs → 100 µs
    assert.equal(tickStep(view), 100_000);
    assert.equal(tickStep({ startNs: 0, endNs: 1000, widthPx: 1000 }), 100);
    assert.equal(tickStep({ startNs: 0, endNs: 1.5e6, widthPx: 1000 }), 200_000);
    assert.equal(tickStep({ startNs: 0, endNs: 4e6, widthPx: 1000 }), 500_000);
  });

  it("labels major ticks in one unit with enough decimals", () => {
    const ticks = generateTicks(view);
    const labels = ticks.filter((t) => t.major).map((t) => t.label);
    assert.deepEqual(labels.slice(0, 3), ["0.0 ms", "0.1 ms", "0.2 ms"]);
    assert.equal(ticks.filter((t) => !t.major).length, ticks.length - labels.length);
    const deep = generateTicks({ startNs: 1_234_000, endNs: 1_234_800, widthPx: 800 });
    const deepLabels = deep.filter((t) => t.major).map((t) => t.label);
    assert.ok(deepLabels.length >= 2);
    assert.equal(new Set(deepLabels).size, deepLabels.length, "neighbouring labels differ");
    assert.match(deepLabels[0]!, /^1\.234\d+ ms$/);
  });

  it("zooms around the anchor and clamps to the run", () => {
    const zoomed = zoomAt(view, 250, 0.5, 1_000_000);
    assert.equal(zoomed.endNs - zoomed.startNs, 500_000);
    assert.equal(xToTime(zoomed, 250), 250_000, "the time under the pointer stays put");
    const out = zoomAt(view, 500, 4, 1_000_000);
    assert.deepEqual([out.startNs, out.endNs], [0, 1_000_000]);
    const panned = panBy(zoomed, 10_000, 1_000_000);
    assert.equal(panned.endNs, 1_000_000, "pan stops at the end");
    const tiny = clampView({ startNs: 10, endNs: 11, widthPx: 100 }, 1_000_000);
    assert.ok(tiny.endNs - tiny.startNs >= 20);
  });
});

describe("timeline index", () => {
  // vCPU 0: guest 0-100, EXIT(49) 100-110, handler 110-150, user space 150-400, exit 400-410,
  // guest 410-1000. vCPU 1: guest 0-500, HLT exit 500-505, handler 505-510, halted 510-900,
  // exit 900-905, guest 905-1000. Rows deliberately interleaved across vCPUs.
  const rows: [number, number, number, VcpuState, number][] = [
    [0, 0, 100, G, -1],
    [1, 0, 500, G, -1],
    [0, 100, 10, X, 49],
    [0, 110, 40, H, 49],
    [0, 150, 250, U, 49],
    [0, 400, 10, X, 49],
    [0, 410, 590, G, -1],
    [1, 500, 5, X, 12],
    [1, 505, 5, H, 12],
    [1, 510, 390, HALT, -1],
    [1, 900, 5, X, 12],
    [1, 905, 95, G, -1],
  ];
  const index = buildIndex(timelineOf(rows, 2, 1000));

  it("splits lanes and groups exits", () => {
    assert.equal(index.lanes.length, 2);
    const [l0, l1] = index.lanes;
    assert.deepEqual(Array.from(l0!.starts), [0, 100, 110, 150, 400, 410]);
    assert.equal(l0!.exitCount, 1);
    assert.equal(l0!.exitLatency[0], 310);
    assert.equal(l1!.exitCount, 1, "halted time inside the HLT exit does not split it");
    assert.equal(l1!.exitLatency[0], 15, "halted time is not exit latency");
    assert.equal(index.totalExits, 2);
    assert.deepEqual(index.reasons, [49, 12]);
  });

  it("hit-tests by binary search and prefers nearby exits", () => {
    const lane = index.lanes[0]!;
    const inHandler = hitTest(index, lane, 120);
    assert.equal(inHandler?.interval, 3);
    assert.equal(inHandler?.exit, 0);
    const inGuest = hitTest(index, lane, 50);
    assert.equal(inGuest?.exit, -1);
    assert.equal(index.timeline.state[inGuest!.interval], G);
    const near = hitTest(index, lane, 95, 10);
    assert.equal(near?.exit, 0, "within the slop the exit wins");
    assert.equal(index.timeline.state[near!.interval], H, "and its handler describes it");
    assert.equal(hitTest(index, lane, 2000), undefined);
  });

  it("finds neighbouring exits for keyboard navigation", () => {
    const lane = index.lanes[1]!;
    assert.equal(neighbourExit(lane, 0, 1), 0);
    assert.equal(neighbourExit(lane, 500, 1), -1);
    assert.equal(neighbourExit(lane, 501, -1), 0);
  });

  it("aggregates sub-pixel intervals per column by dominant state", () => {
    const lane = index.lanes[0]!;
    // 10 columns of 100 ns: column 1 (100-200) holds 10 exit + 40 handler + 50 user space.
    const columns = createColumnBuffer(10);
    const path = aggregateLane(index, lane, 0, 1000, columns);
    assert.equal(path, "intervals");
    assert.equal(columns.state[0], G);
    assert.equal(columns.state[1], U, "user space has the most time in 100-200");
    assert.equal(columns.reason[1], 49);
    assert.equal(columns.state[2], U);
    assert.equal(columns.state[4], G, "400-500: 90 ns guest beats 10 ns exit");
    assert.equal(columns.reason[4], 49, "the reason strip still shows the exit");
    assert.equal(columns.reason[6], -1);
  });

  it("marks columns past the data as empty", () => {
    const columns = createColumnBuffer(4);
    aggregateLane(index, index.lanes[0]!, 1000, 2000, columns);
    assert.deepEqual(Array.from(columns.state), [NO_STATE, NO_STATE, NO_STATE, NO_STATE]);
  });

  it("computes statistics of a selected range", () => {
    const stats = rangeStats(index, 0, 600);
    assert.equal(stats.exits, 2);
    assert.equal(stats.stateTime[U], 250);
    assert.equal(stats.stateTime[HALT], 90, "clipped to the range");
    const ept = stats.byReason.find((r) => r.code === 49)!;
    assert.equal(ept.count, 1);
    assert.equal(ept.meanNs, 310);
    assert.equal(rangeStats(index, 600, 1000).exits, 0, "exits count where they start");
  });

  it("builds a log2 latency histogram", () => {
    const bins = latencyHistogram(index);
    assert.equal(bins[8], 1, "310 ns is in [256, 512)");
    assert.equal(bins[3], 1, "15 ns is in [8, 16)");
  });
});

describe("level of detail on a large timeline", () => {
  const timeline = generateTimeline({ vcpus: 2, exits: 200_000, durationNs: 100e6, seed: 7 });
  const index = buildIndex(timeline);

  it("groups every generated exit", () => {
    assert.equal(index.totalExits, 200_000);
  });

  it("uses the bucket pyramid zoomed out and agrees with the exact path", () => {
    const lane = index.lanes[0]!;
    const width = 500;
    const coarse = createColumnBuffer(width);
    assert.equal(aggregateLane(index, lane, 0, timeline.durationNs, coarse), "buckets");
    // The exact path on the same view, forced by handing it a lane without coarse levels.
    const exactLane = { ...lane, levels: [{ ...lane.levels[0]!, bucketNs: Number.POSITIVE_INFINITY }] };
    const exact = createColumnBuffer(width);
    assert.equal(aggregateLane(index, exactLane, 0, timeline.durationNs, exact), "intervals");
    let sameState = 0;
    let bothHaveExits = 0;
    for (let c = 0; c < width; c++) {
      if (coarse.state[c] === exact.state[c]) sameState++;
      if (coarse.reason[c]! >= 0 === exact.reason[c]! >= 0) bothHaveExits++;
    }
    // Buckets are assigned to one column by their start, so edges may differ slightly.
    assert.ok(sameState >= width * 0.95, `states agree in ${sameState}/${width} columns`);
    assert.ok(bothHaveExits >= width * 0.95, `reason strips agree in ${bothHaveExits}/${width}`);
  });

  it("zoomed in to one exit, uses the intervals", () => {
    const lane = index.lanes[1]!;
    const e = 1000;
    const start = lane.exitStart[e]!;
    const columns = createColumnBuffer(800);
    assert.equal(aggregateLane(index, lane, start - 100, start + 2000, columns), "intervals");
    assert.ok(Array.from(columns.reason).includes(lane.exitReason[e]!));
  });
});
