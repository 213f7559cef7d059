/**
 * The timeline observer: records the engine's intervals (guest, exit, handler, user space,
 * halted, polling, descheduled) and markers (arrivals, injections, posted deliveries) into the
 * typed arrays of a {@link Timeline}, bounded: the first `capacity` intervals are kept, then
 * recording stops and the timeline says up to when it is complete (docs/simulator.md).
 */
import type { NestedExitPlan } from "./nestedPlan";
import { type Timeline, type TimelineSource, VcpuState } from "./timeline";

/** Unset level (filled from the state when the timeline is read). */
const LEVEL_UNSET = 255;
/** The level of an interval by its state, for the records that do not set one (a nested run). */
const LEVEL_OF_STATE = (() => {
  const levels = new Uint8Array(8); // L0: transitions, L0's handlers and user space, halts, descheduled
  levels[VcpuState.Guest] = 2;
  levels[VcpuState.Polling] = 2; // idle in the guest (a nested run's KVM polls are in halts)
  return levels;
})();

const MAX_MARKERS = 1 << 18;

export class TimelineRecorder {
  private readonly tl: Timeline;
  readonly capacity: number;
  /** Time (cycles) up to which the timeline is complete once full; −1 while it records. */
  fullAt = -1;
  /**
   * The engine's global clock (the start of its current batch): every vCPU has been simulated
   * up to it, so a timeline that fills is complete up to the earlier of it and the record.
   */
  clock = 0;
  private readonly nsPerCycle: number;
  // The timeline's interval arrays and count, held directly: `record` is called on the
  // simulator's hottest loop, and the fewer loads it has the smaller it is to inline there.
  private count = 0;
  private readonly starts: Float64Array;
  private readonly durations: Float64Array;
  private readonly vcpus: Uint16Array;
  private readonly states: Uint8Array;
  private readonly reasons: Int16Array;
  private readonly sources: Int32Array;
  /** Per interval, the level (nested runs only): set by recordSegments, else from the state. */
  private readonly levels: Uint8Array | undefined;
  private levelsFilled = 0;

  constructor(
    vcpus: number,
    hz: number,
    durationSec: number,
    capacity: number,
    sources: TimelineSource[],
    nested = false,
  ) {
    this.capacity = capacity;
    this.nsPerCycle = 1e9 / hz;
    const markerCap = Math.min(MAX_MARKERS, capacity);
    this.starts = new Float64Array(capacity);
    this.durations = new Float64Array(capacity);
    this.vcpus = new Uint16Array(capacity);
    this.states = new Uint8Array(capacity);
    this.reasons = new Int16Array(capacity);
    this.sources = new Int32Array(capacity);
    this.levels = nested ? new Uint8Array(capacity).fill(LEVEL_UNSET) : undefined;
    this.tl = {
      vcpus,
      hz,
      durationNs: durationSec * 1e9,
      count: 0,
      start: this.starts,
      duration: this.durations,
      vcpu: this.vcpus,
      state: this.states,
      reason: this.reasons,
      source: this.sources,
      sources,
      markers: {
        count: 0,
        time: new Float64Array(markerCap),
        vcpu: new Uint16Array(markerCap),
        kind: new Uint8Array(markerCap),
        vector: new Int16Array(markerCap),
      },
      decimated: false,
      ...(this.levels ? { level: this.levels } : {}),
    };
  }

  /** The timeline recorded so far (its count brought up to date). */
  get timeline(): Timeline {
    this.tl.count = this.count;
    const levels = this.levels;
    if (levels) {
      // Records without a level of their own take their state's (guest and idle-in-guest
      // intervals are L2's; transitions, L0's handlers, halts are L0's).
      for (let i = this.levelsFilled; i < this.count; i++)
        if (levels[i] === LEVEL_UNSET) levels[i] = LEVEL_OF_STATE[this.states[i]] ?? 0;
      this.levelsFilled = this.count;
    }
    return this.tl;
  }

  /** Whether records are still kept (callers skip computing several records when not). */
  get recording(): boolean {
    return this.fullAt < 0;
  }

  /** One interval (times in cycles; stored in nanoseconds). */
  record(start: number, duration: number, v: number, state: number, reason: number, source: number): void {
    const i = this.count;
    if (i >= this.capacity) {
      this.full(start);
      return;
    }
    const k = this.nsPerCycle;
    this.starts[i] = start * k;
    this.durations[i] = duration * k;
    this.vcpus[i] = v;
    this.states[i] = state;
    this.reasons[i] = reason;
    this.sources[i] = source;
    this.count = i + 1;
  }

  /**
   * The segments of a nested exit after its transition (L0's emulation, L1's handler, L0's
   * emulation of L1's trapped instructions, the VMRESUME), each with its level, scaled to fill
   * `duration` (the drawn arm's time; the segments hold the expected one).
   */
  recordSegments(start: number, duration: number, v: number, reason: number, plan: NestedExitPlan): void {
    const levels = this.levels;
    if (!levels) return;
    const scale = plan.segTotal > 0 ? duration / plan.segTotal : 0;
    let at = start;
    const n = plan.segCycles.length;
    for (let k = 0; k < n; k++) {
      const d = plan.segCycles[k] * scale;
      const i = this.count;
      this.record(at, d, v, plan.segState[k], reason, plan.segSource[k]);
      if (this.count > i) levels[i] = plan.segLevel[k];
      at += d;
    }
  }

  /** Records kept so far (an index for shiftFrom). */
  get size(): number {
    return this.count;
  }

  /**
   * Moves vCPU `v`'s records from index `from` on that start at or after `at` (cycles) later by
   * `by` cycles: a delivery inserted into an episode already recorded (sim/l1Side.ts).
   */
  shiftFrom(from: number, v: number, at: number, by: number): void {
    const k = this.nsPerCycle;
    const atNs = at * k - 1e-6;
    for (let i = from; i < this.count; i++)
      if (this.vcpus[i] === v && this.starts[i] >= atNs) this.starts[i] += by * k;
  }

  /** A record at `start` found the timeline full. */
  private full(start: number): void {
    if (this.fullAt >= 0) return;
    // Complete up to the earlier of this record and the global clock (the start of the
    // current batch): other vCPUs' records after it were not written yet.
    this.fullAt = Math.min(start, this.clock);
    this.tl.decimated = true;
  }

  /** A marker at `t` (cycles): kind 0 injection, 1 arrival, 2 posted (timeline.ts). */
  mark(t: number, v: number, kind: number, vector: number): void {
    const m = this.tl.markers;
    const i = m.count;
    if (i >= m.time.length || this.fullAt >= 0) return;
    m.time[i] = t * this.nsPerCycle;
    m.vcpu[i] = v;
    m.kind[i] = kind;
    m.vector[i] = vector;
    m.count = i + 1;
  }

  /** The run ended at `t` cycles (earlier than asked when a budget stopped it). */
  endAt(t: number): void {
    this.tl.durationNs = t * this.nsPerCycle;
  }
}
