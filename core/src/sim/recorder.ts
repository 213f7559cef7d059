/**
 * The timeline observer: records the engine's intervals (guest, exit, handler, user space,
 * halted, polling, descheduled) and markers (arrivals, injections, posted deliveries) into the
 * typed arrays of a {@link Timeline}, bounded: the first `capacity` intervals are kept, then
 * recording stops and the timeline says up to when it is complete (docs/simulator.md).
 */
import type { Timeline, TimelineSource } from "./timeline";

const MAX_MARKERS = 1 << 18;

export class TimelineRecorder {
  readonly timeline: Timeline;
  readonly capacity: number;
  /** Time (cycles) up to which the timeline is complete once full; −1 while it records. */
  fullAt = -1;
  /**
   * The engine's global clock (the start of its current batch): every vCPU has been simulated
   * up to it, so a timeline that fills is complete up to the earlier of it and the record.
   */
  clock = 0;
  private readonly nsPerCycle: number;

  constructor(vcpus: number, hz: number, durationSec: number, capacity: number, sources: TimelineSource[]) {
    this.capacity = capacity;
    this.nsPerCycle = 1e9 / hz;
    const markerCap = Math.min(MAX_MARKERS, capacity);
    this.timeline = {
      vcpus,
      hz,
      durationNs: durationSec * 1e9,
      count: 0,
      start: new Float64Array(capacity),
      duration: new Float64Array(capacity),
      vcpu: new Uint16Array(capacity),
      state: new Uint8Array(capacity),
      reason: new Int16Array(capacity),
      source: new Int32Array(capacity),
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

  /** Whether records are still kept (callers skip computing several records when not). */
  get recording(): boolean {
    return this.fullAt < 0;
  }

  /** One interval (times in cycles; stored in nanoseconds). */
  record(start: number, duration: number, v: number, state: number, reason: number, source: number): void {
    const tl = this.timeline;
    const i = tl.count;
    if (i >= this.capacity) {
      if (this.fullAt < 0) {
        // Complete up to the earlier of this record and the global clock (the start of the
        // current batch): other vCPUs' records after it were not written yet.
        this.fullAt = Math.min(start, this.clock);
        tl.decimated = true;
      }
      return;
    }
    const k = this.nsPerCycle;
    tl.start[i] = start * k;
    tl.duration[i] = duration * k;
    tl.vcpu[i] = v;
    tl.state[i] = state;
    tl.reason[i] = reason;
    tl.source[i] = source;
    tl.count = i + 1;
  }

  /** A marker at `t` (cycles): kind 0 injection, 1 arrival, 2 posted (timeline.ts). */
  mark(t: number, v: number, kind: number, vector: number): void {
    const m = this.timeline.markers;
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
    this.timeline.durationNs = t * this.nsPerCycle;
  }
}
