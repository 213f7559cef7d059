/**
 * The timeline observer: records the engine's intervals (guest, exit, handler, user space,
 * halted, polling, descheduled) and markers (arrivals, injections, posted deliveries) into the
 * typed arrays of a {@link Timeline}, bounded: the first `capacity` intervals are kept, then
 * recording stops and the timeline says up to when it is complete (docs/simulator.md).
 */
import type { Timeline, TimelineSource } from "./timeline";

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

  constructor(vcpus: number, hz: number, durationSec: number, capacity: number, sources: TimelineSource[]) {
    this.capacity = capacity;
    this.nsPerCycle = 1e9 / hz;
    const markerCap = Math.min(MAX_MARKERS, capacity);
    this.starts = new Float64Array(capacity);
    this.durations = new Float64Array(capacity);
    this.vcpus = new Uint16Array(capacity);
    this.states = new Uint8Array(capacity);
    this.reasons = new Int16Array(capacity);
    this.sources = new Int32Array(capacity);
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
    };
  }

  /** The timeline recorded so far (its count brought up to date). */
  get timeline(): Timeline {
    this.tl.count = this.count;
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
