/**
 * The simulated timeline as compact typed arrays (structure of arrays), the format the
 * simulator writes, the CLI exports to Chrome trace JSON, and the webview draws. Typed arrays
 * cross `postMessage` without JSON conversion.
 */

/** What a vCPU is doing during an interval. Numeric values are part of the format. */
export enum VcpuState {
  Guest = 0,
  /** The VM-exit/VM-entry transition (hardware + the hypervisor's minimal path). */
  Exit = 1,
  Handler = 2,
  Userspace = 3,
  Halted = 4,
  /** Idle polling (idle poll, or KVM halt polling). */
  Polling = 5,
  /** Not running: preempted on the host. */
  Descheduled = 6,
}

export const VCPU_STATE_NAMES = ["guest", "exit", "handler", "userspace", "halted", "polling", "descheduled"];

/** A source location an interval or marker refers to (a guest operation or a handler). */
export interface TimelineSource {
  label: string;
  /** 0-based line and character of the source token. */
  line: number;
  character: number;
  start: number;
  end: number;
}

export interface Timeline {
  vcpus: number;
  hz: number;
  durationNs: number;
  /** Number of intervals stored (the arrays may be longer). */
  count: number;
  /** Interval start, nanoseconds from the start of the run. */
  start: Float64Array;
  /** Interval length, nanoseconds. */
  duration: Float64Array;
  vcpu: Uint16Array;
  /** A {@link VcpuState}. */
  state: Uint8Array;
  /** Basic exit reason for Exit/Handler/Userspace intervals; -1 otherwise. */
  reason: Int16Array;
  /** Index into `sources`, -1 when none. */
  source: Int32Array;
  sources: TimelineSource[];
  markers: {
    count: number;
    time: Float64Array;
    vcpu: Uint16Array;
    /** 0 injection at VM entry, 1 interrupt arrival, 2 posted-interrupt delivery. */
    kind: Uint8Array;
    vector: Int16Array;
  };
  /**
   * True when intervals were merged or dropped to keep memory bounded; statistics are still
   * computed from every event, only the drawing data is reduced.
   */
  decimated: boolean;
  /**
   * Nested runs only (an L2 guest): per interval, the level running — 2 the L2 guest's code, 1 L1
   * running its handler, 0 L0 (transitions, L0's handlers, its emulation of nested VM exits and
   * entries and of L1's trapped VMX instructions, halts). Absent for a single-level run.
   */
  level?: Uint8Array;
}

/** Timeline.level values. */
export const TIMELINE_LEVEL_NAMES = ["L0", "L1", "L2"];
