/**
 * Options and results of a simulation. The result's top-level statistics use the CLI's JSON
 * field names (`exitsPerSecond`, `overhead`, `hostCpu`, `byReason`, `duration`, `exits`,
 * `latency.irq`), so `trapline simulate --json` serialises it almost as is.
 */
import type { Position } from "../source";
import type { Timeline } from "./timeline";

export interface SimulationOptions {
  /** Simulated time in seconds (the `simulate` line's `for TIME`, or the CLI's --duration). */
  durationSec: number;
  /** PRNG seed: the same seed gives the same result byte for byte. */
  seed?: number;
  /**
   * Upper bound on processed events (arrivals, exits, entries). A run whose expected event
   * count exceeds it is refused before it starts; one that reaches it stops there, and the
   * result says so (`stopped`).
   * Default {@link DEFAULT_MAX_EVENTS}.
   */
  maxEvents?: number;
  /**
   * Upper bound on interpreter loop iterations (`repeat` bodies that have exits or branches;
   * bodies of computes only are folded into one step). A run that reaches it stops; the result
   * says so (`stopped`). Default {@link DEFAULT_MAX_STEPS}.
   */
  maxSteps?: number;
  /** Timeline capacity in intervals (default {@link DEFAULT_TIMELINE_INTERVALS}); 0 records none. */
  timelineIntervals?: number;
  /**
   * KVM halt polling: poll this long before blocking a halted vCPU (KVM_HALT_POLL_NS_DEFAULT
   * 200000 ns, arch/x86/include/asm/kvm_host.h). Off when absent or 0.
   */
  haltPollNs?: number;
  /** KVM's per-vCPU PLE window growth (grow_ple_window: ×2 per exit, reset on sched-in). */
  pleWindowGrowth?: boolean;
  /** Cap for a grown PLE window in TSC cycles (KVM_VMX_DEFAULT_PLE_WINDOW_MAX is UINT_MAX). */
  pleWindowMax?: number;
  /**
   * Host overcommit: each vCPU is preempted on the host at Poisson rate `ratePerSec` for
   * `durationSec` each time (Descheduled state). Drives the lock-holder-preemption scenario.
   */
  hostPreemption?: { ratePerSec: number; durationSec: number };
  /** Converts a source offset to a line/character for the timeline's source table. */
  positionAt?: (offset: number) => Position;
}

export const DEFAULT_MAX_EVENTS = 200_000_000;
export const DEFAULT_MAX_STEPS = 100_000_000;
export const DEFAULT_TIMELINE_INTERVALS = 1 << 20;

export interface DurationStats {
  /** Seconds. */
  min: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SimReasonStats {
  reason: string;
  code: number;
  exits: number;
  exitsPerSecond: number;
  /** Mean transition + handler + user space, in cycles. */
  cyclesPerExit: number;
  /** Sum over all exits of this reason, cycles. */
  cycles: number;
  transitionCycles: number;
  handlerCycles: number;
  userspaceCycles: number;
  /** Share of all exit-handling time. */
  share: number;
  duration: DurationStats;
}

export interface LatencyStats {
  count: number;
  /** Seconds. */
  min: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SimPathStats {
  name: string;
  kind: string;
  arrivals: number;
  executions: number;
  executionsPerSecond: number;
  /** Arrivals dropped because the vCPU's queue was full (a saturated vCPU). */
  dropped: number;
}

export interface SimulationResult {
  guest: string;
  target: { profile: string; hz: number };
  vcpus: number;
  seed: number;
  /** Simulated seconds. */
  duration: number;
  /** Total exits, all vCPUs. */
  exits: number;
  exitsPerSecond: number;
  /** Exit-handling time / (guest busy time + exit-handling time), idle excluded (as the estimator). */
  overhead: number;
  /** Exit-handling cycles per second across all vCPUs, in host cores. */
  hostCpu: number;
  byReason: SimReasonStats[];
  paths: SimPathStats[];
  latency: { irq: LatencyStats; bySource: Record<string, LatencyStats> };
  /** vCPU-seconds in each state, summed over vCPUs. */
  time: {
    guest: number;
    idleInGuest: number;
    exit: number;
    handler: number;
    userspace: number;
    halted: number;
    polling: number;
    descheduled: number;
    /** Guest time spent spinning in PAUSE loops (part of `guest`). */
    spinning: number;
  };
  counters: {
    events: number;
    tsxAborts: number;
    haltWakeups: number;
    haltPollSuccesses: number;
    directedYields: number;
    kicks: number;
    injections: number;
  };
  warnings: string[];
  /** Present when a budget stopped the run before its end (a warning says so too). */
  stopped?: SimulationStop;
  timeline: Timeline;
}

/** Where and why a run stopped before the duration asked for. */
export interface SimulationStop {
  budget: "events" | "steps";
  /** The budget: events, or interpreter loop iterations. */
  limit: number;
  /** Simulated seconds covered (the result's `duration`). */
  atSec: number;
  /** Simulated seconds asked for. */
  requestedSec: number;
}

/** A run refused or stopped because it would exceed the event budget or was cancelled. */
export class SimulationError extends Error {
  constructor(
    message: string,
    readonly kind: "budget" | "cancelled" | "input",
  ) {
    super(message);
    this.name = "SimulationError";
  }
}
