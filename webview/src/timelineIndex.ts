/**
 * Per-vCPU indexes over a {@link Timeline}, built once when a result arrives, so every frame,
 * hover and selection costs a binary search plus work proportional to the pixels drawn:
 *
 * - `order/starts/ends`: the lane's interval indices in time order (the simulator emits
 *   intervals globally ordered by start, so this is a stable split, sorted only if it is not),
 *   with their start and end times copied into contiguous arrays for cache-friendly search.
 * - exits: maximal runs of exit-related intervals (Exit/Handler/Userspace, plus Halted/Polling
 *   inside an exit such as HLT) opened by an Exit interval, one per VM exit.
 * - a bucket pyramid: time per state and the dominant exit reason per fixed-width bucket, at
 *   resolutions 4× apart, for level-of-detail drawing when a pixel covers many intervals.
 *
 * Pure data code: no DOM, testable in Node.
 */
import { type Timeline, VcpuState } from "../../core/src/results";
import { lowerBound, upperBound } from "../../core/src/util/search";

export const STATE_COUNT = 7;
/** Column value meaning "nothing recorded here". */
export const NO_STATE = 255;

export function isExitState(state: number): boolean {
  return state === VcpuState.Exit || state === VcpuState.Handler || state === VcpuState.Userspace;
}

export interface BucketLevel {
  bucketNs: number;
  count: number;
  /** `count × STATE_COUNT` ns per state. */
  stateTime: Float32Array;
  /** Dominant exit reason per bucket (-1 when no exit time) and its exit time. */
  reason: Int16Array;
  reasonTime: Float32Array;
}

export interface Lane {
  vcpu: number;
  /** Interval indices into the Timeline arrays, in time order. */
  order: Int32Array;
  starts: Float64Array;
  ends: Float64Array;
  /** Exits: lane positions of the first and last interval, start time, latency, reason. */
  exitFirst: Int32Array;
  exitLast: Int32Array;
  exitStart: Float64Array;
  /** Exit + handler + user-space time of the exit (halted time inside it excluded), ns. */
  exitLatency: Float64Array;
  exitReason: Int16Array;
  exitCount: number;
  /** Finest first. */
  levels: BucketLevel[];
  /** Marker indices in time order and their times. */
  markerOrder: Int32Array;
  markerTimes: Float64Array;
}

export interface TimelineIndex {
  timeline: Timeline;
  lanes: Lane[];
  totalExits: number;
  /** Distinct exit reasons in the timeline, most exit time first. */
  reasons: number[];
}

/** Exit reasons are Int16 in the timeline; negative means none. */
const REASON_SLOTS = 1 << 15;

/** Finest bucket count per lane: enough that the exact path only ever sees a few thousand intervals per lane. */
const MAX_BUCKETS = 65536;

export function buildIndex(timeline: Timeline): TimelineIndex {
  const { count, vcpus } = timeline;
  const laneSize = new Int32Array(vcpus);
  for (let i = 0; i < count; i++) {
    const v = timeline.vcpu[i]!;
    if (v < vcpus) laneSize[v]!++;
  }
  const orders = Array.from({ length: vcpus }, (_, v) => new Int32Array(laneSize[v]!));
  const fill = new Int32Array(vcpus);
  for (let i = 0; i < count; i++) {
    const v = timeline.vcpu[i]!;
    if (v < vcpus) orders[v]![fill[v]!++] = i;
  }
  // Exit time per basic exit reason (16-bit codes: the timeline's reason array is Int16).
  const reasonTime = new Float64Array(REASON_SLOTS);
  const markerLanes = splitMarkers(timeline);
  const lanes = orders.map((order, v) => buildLane(timeline, v, order, reasonTime, markerLanes[v]!));
  const reasons: number[] = [];
  for (let code = 0; code < REASON_SLOTS; code++) if (reasonTime[code]! > 0) reasons.push(code);
  reasons.sort((a, b) => reasonTime[b]! - reasonTime[a]!);
  return { timeline, lanes, totalExits: lanes.reduce((sum, lane) => sum + lane.exitCount, 0), reasons };
}

function splitMarkers(timeline: Timeline): Int32Array[] {
  const { markers, vcpus } = timeline;
  const sizes = new Int32Array(vcpus);
  for (let i = 0; i < markers.count; i++) if (markers.vcpu[i]! < vcpus) sizes[markers.vcpu[i]!]!++;
  const lanes = Array.from({ length: vcpus }, (_, v) => new Int32Array(sizes[v]!));
  const fill = new Int32Array(vcpus);
  for (let i = 0; i < markers.count; i++) {
    const v = markers.vcpu[i]!;
    if (v < vcpus) lanes[v]![fill[v]!++] = i;
  }
  for (const lane of lanes) {
    if (!isSortedBy(lane, markers.time)) lane.sort((a, b) => markers.time[a]! - markers.time[b]!);
  }
  return lanes;
}

function isSortedBy(order: Int32Array, keys: Float64Array): boolean {
  for (let k = 1; k < order.length; k++) if (keys[order[k]!]! < keys[order[k - 1]!]!) return false;
  return true;
}

function buildLane(
  timeline: Timeline,
  vcpu: number,
  order: Int32Array,
  reasonTotals: Float64Array,
  markerOrder: Int32Array,
): Lane {
  if (!isSortedBy(order, timeline.start)) order.sort((a, b) => timeline.start[a]! - timeline.start[b]!);
  const n = order.length;
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    starts[k] = timeline.start[i]!;
    ends[k] = timeline.start[i]! + timeline.duration[i]!;
  }
  // Intervals of one vCPU do not overlap, so ends are sorted too; guard against rounding.
  for (let k = 1; k < n; k++) if (ends[k]! < ends[k - 1]!) ends[k] = ends[k - 1]!;

  // Exits.
  let exitFirst: Int32Array = new Int32Array(Math.max(16, n >> 2));
  let exitLast: Int32Array = new Int32Array(exitFirst.length);
  let exitStart: Float64Array = new Float64Array(exitFirst.length);
  let exitLatency: Float64Array = new Float64Array(exitFirst.length);
  let exitReason: Int16Array = new Int16Array(exitFirst.length);
  let exits = 0;
  let open = false;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const state = timeline.state[i]!;
    const reason = timeline.reason[i]!;
    if (state === VcpuState.Exit && (!open || reason !== exitReason[exits - 1])) {
      if (exits === exitFirst.length) {
        const grow = exits * 2;
        exitFirst = growInt32(exitFirst, grow);
        exitLast = growInt32(exitLast, grow);
        exitStart = growFloat64(exitStart, grow);
        exitLatency = growFloat64(exitLatency, grow);
        const r = new Int16Array(grow);
        r.set(exitReason);
        exitReason = r;
      }
      exitFirst[exits] = k;
      exitLast[exits] = k;
      exitStart[exits] = starts[k]!;
      exitLatency[exits] = 0;
      exitReason[exits] = reason;
      exits++;
      open = true;
    }
    if (!open) continue;
    if (state === VcpuState.Guest || state === VcpuState.Descheduled) {
      open = false;
      continue;
    }
    exitLast[exits - 1] = k;
    if (isExitState(state)) {
      const d = timeline.duration[i]!;
      exitLatency[exits - 1]! += d;
      const code = exitReason[exits - 1]!;
      if (code >= 0) reasonTotals[code]! += d;
    }
  }

  return {
    vcpu,
    order,
    starts,
    ends,
    exitFirst: exitFirst.subarray(0, exits),
    exitLast: exitLast.subarray(0, exits),
    exitStart: exitStart.subarray(0, exits),
    exitLatency: exitLatency.subarray(0, exits),
    exitReason: exitReason.subarray(0, exits),
    exitCount: exits,
    levels: buildLevels(timeline, order, starts, ends),
    markerOrder,
    markerTimes: Float64Array.from(markerOrder, (m) => timeline.markers.time[m]!),
  };
}

function growInt32(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
function growFloat64(a: Float64Array, size: number): Float64Array {
  const b = new Float64Array(size);
  b.set(a);
  return b;
}

function buildLevels(
  timeline: Timeline,
  order: Int32Array,
  starts: Float64Array,
  ends: Float64Array,
): BucketLevel[] {
  const n = order.length;
  const total = Math.max(timeline.durationNs, n > 0 ? ends[n - 1]! : 0, 1);
  // ~8 intervals per finest bucket, between 64 and MAX_BUCKETS buckets, a power of 4 times 64.
  let count = 64;
  while (count < MAX_BUCKETS && count * 8 < n) count *= 4;
  const bucketNs = total / count;
  const stateTime = new Float32Array(count * STATE_COUNT);
  const reason = new Int16Array(count).fill(-1);
  const reasonTime = new Float32Array(count);
  // Exit time per reason in the bucket being filled (a dense array plus the list of codes
  // touched, so clearing costs only what was used); finalised when the bucket is left.
  const pending = new Float64Array(REASON_SLOTS);
  const touched: number[] = [];
  let pendingBucket = -1;
  const finalise = (): void => {
    if (pendingBucket < 0) return;
    let best = -1;
    let bestTime = 0;
    for (const code of touched) {
      const t = pending[code]!;
      if (t > bestTime) {
        best = code;
        bestTime = t;
      }
      pending[code] = 0;
    }
    touched.length = 0;
    reason[pendingBucket] = best;
    reasonTime[pendingBucket] = bestTime;
  };
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const state = timeline.state[i]!;
    if (state >= STATE_COUNT) continue;
    const s = starts[k]!;
    const e = ends[k]!;
    const first = Math.min(count - 1, Math.floor(s / bucketNs));
    const last = Math.min(count - 1, Math.max(first, Math.ceil(e / bucketNs) - 1));
    const exit = isExitState(state);
    const code = timeline.reason[i]!;
    for (let b = first; b <= last; b++) {
      const lo = Math.max(s, b * bucketNs);
      const hi = b === last ? e : Math.min(e, (b + 1) * bucketNs);
      const overlap = hi - lo;
      if (overlap <= 0 && e > s) continue;
      stateTime[b * STATE_COUNT + state]! += overlap;
      if (!exit) continue;
      if (b !== pendingBucket) {
        if (b > pendingBucket) {
          finalise();
          pendingBucket = b;
        } else {
          // An earlier bucket (out-of-order data): credit it directly.
          if (overlap > reasonTime[b]!) {
            reason[b] = code;
            reasonTime[b] = overlap;
          }
          continue;
        }
      }
      if (code < 0) continue;
      if (pending[code] === 0) touched.push(code);
      pending[code]! += overlap;
    }
  }
  finalise();

  const levels: BucketLevel[] = [{ bucketNs, count, stateTime, reason, reasonTime }];
  while (levels[levels.length - 1]!.count > 64) {
    const fine = levels[levels.length - 1]!;
    const coarseCount = Math.ceil(fine.count / 4);
    const coarse: BucketLevel = {
      bucketNs: fine.bucketNs * 4,
      count: coarseCount,
      stateTime: new Float32Array(coarseCount * STATE_COUNT),
      reason: new Int16Array(coarseCount).fill(-1),
      reasonTime: new Float32Array(coarseCount),
    };
    for (let b = 0; b < fine.count; b++) {
      const c = b >> 2;
      for (let s = 0; s < STATE_COUNT; s++) {
        coarse.stateTime[c * STATE_COUNT + s]! += fine.stateTime[b * STATE_COUNT + s]!;
      }
      if (fine.reasonTime[b]! > coarse.reasonTime[c]!) {
        coarse.reason[c] = fine.reason[b]!;
        coarse.reasonTime[c] = fine.reasonTime[b]!;
      }
    }
    levels.push(coarse);
  }
  return levels;
}

/** Last position whose value is ≤ `x` (-1 if none), for sorted arrays. */
export function lastAtOrBefore(sorted: Float64Array, x: number, length = sorted.length): number {
  return upperBound(sorted, x, 0, length) - 1;
}

/** First position whose value is > `x` (length if none). */
export function firstAfter(sorted: Float64Array, x: number, length = sorted.length): number {
  return upperBound(sorted, x, 0, length);
}

/** Above this many intervals per pixel column in view, the bucket pyramid draws the lane. */
const EXACT_INTERVALS_PER_COLUMN = 4;

/** Per-column output of {@link aggregateLane}: reused between frames. */
export interface ColumnBuffer {
  width: number;
  /** Dominant state per column, {@link NO_STATE} where nothing was recorded. */
  state: Uint8Array;
  /** Dominant exit reason among the column's exit time, -1 when it has none. */
  reason: Int16Array;
  /** Nested runs: the level with the most time per column; NO_LEVEL also at pyramid zoom. */
  level: Uint8Array;
  /** Scratch: ns per state per column, and exit time of the best reason; ns per level per column. */
  stateTime: Float64Array;
  reasonTime: Float64Array;
  levelTime: Float64Array;
}

/** No level in a column (ColumnBuffer.level); Timeline levels are 0 L0, 1 L1, 2 L2. */
export const NO_LEVEL = 255;
const LEVEL_COUNT = 3;

export function createColumnBuffer(width: number): ColumnBuffer {
  const w = Math.max(1, Math.ceil(width));
  return {
    width: w,
    state: new Uint8Array(w),
    reason: new Int16Array(w),
    level: new Uint8Array(w).fill(NO_LEVEL),
    stateTime: new Float64Array(w * STATE_COUNT),
    reasonTime: new Float64Array(w),
    levelTime: new Float64Array(w * LEVEL_COUNT),
  };
}

/**
 * Level of detail: what each pixel column of a lane shows between `startNs` and `endNs`.
 * Intervals narrower than a column are merged per column and the column takes the dominant
 * state (most time); the reason strip takes the reason with the most exit time. When a column
 * spans at least one finest bucket and the view holds more than a few intervals per column, the
 * precomputed pyramid answers instead of the intervals, so the cost per frame is bounded by the
 * width, not by the number of exits.
 * Returns which path was taken ("buckets" or "intervals"), for tests and the benchmark.
 */
export function aggregateLane(
  index: TimelineIndex,
  lane: Lane,
  startNs: number,
  endNs: number,
  out: ColumnBuffer,
): "buckets" | "intervals" {
  const width = out.width;
  const pxNs = (endNs - startNs) / width;
  out.stateTime.fill(0);
  out.reasonTime.fill(0);
  out.reason.fill(-1);
  out.level.fill(NO_LEVEL);
  const levels = index.timeline.level;
  if (levels) out.levelTime.fill(0);
  const finest = lane.levels[0]!;
  // Exact whenever it is cheap (few intervals in view), so small runs are drawn precisely.
  const firstVisible = firstAfter(lane.ends, startNs);
  const visible = lowerBound(lane.starts, endNs) - firstVisible;
  let path: "buckets" | "intervals";
  if (pxNs >= finest.bucketNs && visible > EXACT_INTERVALS_PER_COLUMN * width) {
    path = "buckets";
    // Coarsest level whose buckets still fit in one column: 1-4 buckets per column.
    let level = finest;
    for (const candidate of lane.levels) if (candidate.bucketNs <= pxNs) level = candidate;
    const bNs = level.bucketNs;
    for (let c = 0; c < width; c++) {
      const colStart = startNs + c * pxNs;
      // Each bucket belongs to the column holding its start.
      const first = Math.max(0, Math.ceil(colStart / bNs - 1e-9));
      const last = Math.min(level.count, Math.ceil((colStart + pxNs) / bNs - 1e-9));
      for (let b = first; b < last; b++) {
        for (let s = 0; s < STATE_COUNT; s++) {
          out.stateTime[c * STATE_COUNT + s]! += level.stateTime[b * STATE_COUNT + s]!;
        }
        if (level.reasonTime[b]! > out.reasonTime[c]!) {
          out.reasonTime[c] = level.reasonTime[b]!;
          out.reason[c] = level.reason[b]!;
        }
      }
    }
  } else {
    path = "intervals";
    const { timeline } = index;
    const n = lane.order.length;
    // First interval ending after startNs (ends are sorted).
    for (let k = firstVisible; k < n; k++) {
      const s = lane.starts[k]!;
      if (s >= endNs) break;
      const e = lane.ends[k]!;
      const i = lane.order[k]!;
      const state = timeline.state[i]!;
      if (state >= STATE_COUNT) continue;
      const exit = isExitState(state);
      const code = timeline.reason[i]!;
      const x0 = (Math.max(s, startNs) - startNs) / pxNs;
      const x1 = (Math.min(e, endNs) - startNs) / pxNs;
      const c0 = Math.min(width - 1, Math.floor(x0));
      const c1 = Math.min(width - 1, Math.max(c0, Math.ceil(x1) - 1));
      for (let c = c0; c <= c1; c++) {
        // Time of the interval inside column c (a zero-length interval still counts a little,
        // so an instantaneous event is not invisible).
        const overlap = Math.max((Math.min(x1, c + 1) - Math.max(x0, c)) * pxNs, 1e-6);
        out.stateTime[c * STATE_COUNT + state]! += overlap;
        if (levels) {
          const level = levels[i]!;
          if (level < LEVEL_COUNT) out.levelTime[c * LEVEL_COUNT + level]! += overlap;
        }
        if (exit && overlap > out.reasonTime[c]!) {
          out.reasonTime[c] = overlap;
          out.reason[c] = code;
        }
      }
    }
  }
  for (let c = 0; c < width; c++) {
    let best = NO_STATE;
    let bestTime = 0;
    for (let s = 0; s < STATE_COUNT; s++) {
      const t = out.stateTime[c * STATE_COUNT + s]!;
      if (t > bestTime) {
        bestTime = t;
        best = s;
      }
    }
    out.state[c] = best;
  }
  if (levels && path === "intervals") {
    for (let c = 0; c < width; c++) {
      for (let l = 0, bestTime = 0; l < LEVEL_COUNT; l++) {
        const t = out.levelTime[c * LEVEL_COUNT + l]!;
        if (t > bestTime) {
          bestTime = t;
          out.level[c] = l;
        }
      }
    }
  }
  return path;
}

export interface Hit {
  lane: Lane;
  /** Lane position of the interval. */
  position: number;
  /** Index into the Timeline arrays. */
  interval: number;
  /** Index of the exit in the lane (-1 when the interval is not part of an exit). */
  exit: number;
}

/**
 * The interval under time `t` in `lane`. When the interval there is not part of an exit and
 * an exit lies within `slopNs` (a few pixels), the exit wins: exits are what users point at and
 * at coarse zoom they are narrower than the pointer.
 */
export function hitTest(index: TimelineIndex, lane: Lane, t: number, slopNs = 0): Hit | undefined {
  const n = lane.order.length;
  if (n === 0) return undefined;
  let k = lastAtOrBefore(lane.starts, t);
  if (k >= 0 && lane.ends[k]! <= t && slopNs === 0) k = -1;
  let exit = k >= 0 ? exitAt(lane, k) : -1;
  if (exit < 0 && slopNs > 0) {
    // Nearest exit starting within the slop window, by binary search over exit start times.
    const lo = firstAfter(lane.exitStart, t - slopNs, lane.exitCount);
    let best = -1;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let e = Math.max(0, lo - 1); e < lane.exitCount && lane.exitStart[e]! <= t + slopNs; e++) {
      const s = lane.exitStart[e]!;
      const end = lane.ends[lane.exitLast[e]!]!;
      const distance = t < s ? s - t : t > end ? t - end : 0;
      if (distance <= slopNs && distance < bestDistance) {
        best = e;
        bestDistance = distance;
      }
    }
    if (best >= 0) {
      exit = best;
      // The exit's longest exit-related interval is the most informative one to describe.
      k = longestExitInterval(index, lane, best);
    }
  }
  if (k < 0 || (exit < 0 && lane.ends[k]! <= t)) return undefined;
  return { lane, position: k, interval: lane.order[k]!, exit };
}

/** Index of the exit containing lane position `k`, or -1. */
export function exitAt(lane: Lane, k: number): number {
  // Last exit whose first position is ≤ k.
  const e = upperBound(lane.exitFirst, k, 0, lane.exitCount) - 1;
  return e >= 0 && lane.exitLast[e]! >= k ? e : -1;
}

function longestExitInterval(index: TimelineIndex, lane: Lane, exit: number): number {
  let best = lane.exitFirst[exit]!;
  let bestDuration = -1;
  for (let k = lane.exitFirst[exit]!; k <= lane.exitLast[exit]!; k++) {
    const i = lane.order[k]!;
    if (index.timeline.state[i] === VcpuState.Handler && index.timeline.duration[i]! > bestDuration) {
      best = k;
      bestDuration = index.timeline.duration[i]!;
    }
  }
  return best;
}

/** Statistics of the intervals and exits inside [startNs, endNs), computed from the drawn timeline. */
export interface RangeStats {
  startNs: number;
  endNs: number;
  /** ns per state summed over vCPUs (clipped to the range). */
  stateTime: Float64Array;
  exits: number;
  byReason: { code: number; count: number; meanNs: number; p99Ns: number; maxNs: number; totalNs: number }[];
}

/** Exits are counted in the range where they start. */
export function rangeStats(index: TimelineIndex, startNs: number, endNs: number): RangeStats {
  const stateTime = new Float64Array(STATE_COUNT);
  const perReason = new Map<number, number[]>();
  let exits = 0;
  for (const lane of index.lanes) {
    const n = lane.order.length;
    for (let k = firstAfter(lane.ends, startNs); k < n && lane.starts[k]! < endNs; k++) {
      const state = index.timeline.state[lane.order[k]!]!;
      if (state < STATE_COUNT) {
        stateTime[state]! += Math.min(lane.ends[k]!, endNs) - Math.max(lane.starts[k]!, startNs);
      }
    }
    for (let e = lowerBound(lane.exitStart, startNs, 0, lane.exitCount); e < lane.exitCount; e++) {
      if (lane.exitStart[e]! >= endNs) break;
      exits++;
      const code = lane.exitReason[e]!;
      let list = perReason.get(code);
      if (!list) {
        list = [];
        perReason.set(code, list);
      }
      list.push(lane.exitLatency[e]!);
    }
  }
  const byReason = [...perReason.entries()].map(([code, list]) => {
    const sorted = Float64Array.from(list).sort();
    const total = sorted.reduce((a, b) => a + b, 0);
    return {
      code,
      count: sorted.length,
      meanNs: total / sorted.length,
      p99Ns: percentile(sorted, 0.99),
      maxNs: sorted[sorted.length - 1]!,
      totalNs: total,
    };
  });
  byReason.sort((a, b) => b.totalNs - a.totalNs);
  return { startNs, endNs, stateTime, exits, byReason };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Logarithmic histogram of exit latencies with `binsPerOctave` bins per power of two:
 * `bins[i]` counts latencies in [2^(i/b), 2^((i+1)/b)) ns.
 */
export function latencyHistogram(index: TimelineIndex, reason?: number, binsPerOctave = 1): number[] {
  const bins: number[] = [];
  for (const lane of index.lanes) {
    for (let e = 0; e < lane.exitCount; e++) {
      if (reason !== undefined && lane.exitReason[e] !== reason) continue;
      const bin = Math.max(0, Math.floor(Math.log2(Math.max(1, lane.exitLatency[e]!)) * binsPerOctave));
      while (bins.length <= bin) bins.push(0);
      bins[bin]!++;
    }
  }
  return bins;
}

/** Index of the exit of `lane` that starts after (dir 1) or before (dir -1) time t, or -1. */
export function neighbourExit(lane: Lane, t: number, dir: 1 | -1): number {
  if (lane.exitCount === 0) return -1;
  if (dir > 0) {
    const e = firstAfter(lane.exitStart, t, lane.exitCount);
    return e < lane.exitCount ? e : -1;
  }
  return lowerBound(lane.exitStart, t, 0, lane.exitCount) - 1;
}
