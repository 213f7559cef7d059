/**
 * Options and results of a simulation. The result's top-level statistics use the CLI's JSON
 * field names (`exitsPerSecond`, `overhead`, `hostCpu`, `byReason`, `duration`, `exits`,
 * `latency.irq`), so `trapline simulate --json` serialises it almost as is.
 */
import type { Position } from "../source";
import type { ResolvedHost } from "./hostState";
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
   * The host's settings. Each overrides the file's (`target { halt_poll … ple_window … pcpus …
   * preempt … }`, `pinned` in the guest), which default to KVM's (core/src/vmx/kvmDefaults.ts,
   * docs/simulator.md "Host").
   *
   * halt_poll_ns: the ceiling of each vCPU's adaptive poll window in ns (KVM_HALT_POLL_NS_DEFAULT
   * 200000, arch/x86/include/asm/kvm_host.h); 0 disables polling.
   */
  haltPollNs?: number;
  /** halt_poll_ns_grow (default 2). */
  haltPollGrow?: number;
  /** halt_poll_ns_grow_start in ns (default 10000). */
  haltPollGrowStartNs?: number;
  /** halt_poll_ns_shrink (default 2). */
  haltPollShrink?: number;
  /** KVM's per-vCPU PLE window growth on or off (default: on, as ple_window_grow = 2 is ≥ 1). */
  pleWindowGrowth?: boolean;
  /** ple_window_grow (default 2). */
  pleWindowGrow?: number;
  /** ple_window_shrink, applied on sched-in (default 0: back to the base window). */
  pleWindowShrink?: number;
  /** Cap for a grown PLE window in TSC cycles (KVM_VMX_DEFAULT_PLE_WINDOW_MAX is UINT_MAX). */
  pleWindowMax?: number;
  /** Physical CPUs the vCPU threads share; 0 (default): one each. */
  pcpus?: number;
  /** vCPU threads pinned to physical CPUs (vCPU v on pCPU v mod pcpus). */
  pinned?: boolean;
  /**
   * Host preemption: each vCPU is preempted on the host at Poisson rate `ratePerSec` for
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
  /**
   * Present when handlers specialised by operand took some of the reason's exits
   * (docs/language.md "Handlers by operand"): each handler's part, the general one last.
   */
  handlers?: SimHandlerStats[];
}

/** One handler's part of an exit reason's exits (SimReasonStats.handlers). */
export interface SimHandlerStats {
  /** "MSR_WRITE IA32_TSC_DEADLINE", or "MSR_WRITE" for the general handler. */
  handler: string;
  /** The specialised handler's operand; absent: the general handler (or none). */
  operand?: string;
  exits: number;
  exitsPerSecond: number;
  cyclesPerExit: number;
  transitionCycles: number;
  handlerCycles: number;
  userspaceCycles: number;
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
  /**
   * Exits per finished execution and their cycles (transition + handler + user space): the
   * execution's own exits plus, for a path with `coalesce`, its timeout flushes' (run apart as
   * `NAME/coalesce`), as the estimator counts them. Not the interrupts that preempt it.
   */
  exitsPerExecution: number;
  exitCyclesPerExecution: number;
  /** Latency one execution's own exits add (seconds), from a histogram of every execution. */
  latency: LatencyStats;
  /** The path's coalesce sites: batches, notifications per execution, wait until the flush. */
  coalesce?: SimCoalesceStats[];
}

export interface SimCoalesceStats {
  count: number;
  timeoutSec: number;
  /** Executions per flushed batch (members / flushes). */
  batchSize: number;
  /** Flushes per execution of the path. */
  flushesPerExecution: number;
  /** Seconds from an execution to its batch's flush. */
  wait: LatencyStats;
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
    /** grow_halt_poll_ns / shrink_halt_poll_ns calls (the adaptive poll window). */
    haltPollGrows?: number;
    haltPollShrinks?: number;
  };
  /** The host settings the run used (the file's, KVM's defaults, the options' overrides). */
  host?: ResolvedHost;
  warnings: string[];
  /** Present when a budget stopped the run before its end (a warning says so too). */
  stopped?: SimulationStop;
  /** An L2 guest's run per level (nestedResult.ts; field names as the estimator's `nested`). */
  nested?: SimNestedStats;
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

/** An L2 exit's reason and level in a nested run (SimNestedStats.byReason). */
export interface SimNestedReason {
  reason: string;
  code: number;
  level: "L0" | "L1";
  /** L2→L0 exits of this reason and level per second, all vCPUs. */
  exitsPerSecond: number;
  l0CyclesPerExit: number;
  l1CyclesPerExit: number;
  l0TransitionsPerExit: number;
  trappedAccessesPerExit: number;
  shadowedAccessesPerExit: number;
}

export interface SimNestedStats {
  hypervisor: string;
  vmcs01: string;
  vmcs12: string;
  shadowing: boolean;
  /**
   * Every L2→L0 exit per second, all vCPUs (hardware exits from L2): kept by L0 and reflected to
   * L1 — an interrupt for L1 delivered while L2 runs is one of them, not two.
   */
  l2ExitsPerSecond: number;
  /** Nested exits into L1 per second: the L2 exits reflected and the ones L0 synthesized (below). */
  reflectedPerSecond: number;
  l0HandledPerSecond: number;
  /**
   * L1→L0 exits per second: trapped VMX instructions and VMRESUMEs, the exits of idle wake-up
   * chains and L1's notifications (the estimator's l1ExitsPerSecond).
   */
  l1ExitsPerSecond: number;
  /** Of those, L1's trapped VMREAD/VMWRITE/INVEPT/INVVPID/VMPTRLD/VMCLEAR… */
  trappedPerSecond: number;
  /** … and its VMRESUMEs (one per reflected exit). */
  vmresumesPerSecond: number;
  /**
   * Of the reflected exits, those L0 synthesized at a nested entry for an interrupt for L1 that
   * arrived outside L2 (vmx_check_nested_events): no hardware VM exit, so a real trace has no
   * kvm_exit for them (KVM traces kvm_nested_vmexit_inject).
   */
  synthesizedPerSecond: number;
  /**
   * Wake-ups of a blocked idle L2 (sim/nestedIdle.ts: L1 or L0 blocked it) per second, all
   * vCPUs, and the exits into L0 their chains add (L1's own HLT, its trapped injection VMWRITE).
   */
  wakeUpsPerSecond: number;
  wakeExitsPerSecond: number;
  /**
   * L1's own halt polling of the idle L2's vCPU (sim/nestedIdle.ts): the share of L1's blocks
   * its poll caught, and the host cores L1 spends polling (in hostCpu.l1). 0 unless L1 blocks
   * and polls.
   */
  l1HaltPollSuccess: number;
  l1PollCpu: number;
  /** Wake-ups L1's own halt poll caught (among wakeUpsPerSecond: no L1 HLT exit), per second, all vCPUs. */
  l1PolledWakeUpsPerSecond: number;
  /** Exits into L0 of L1's notifications of the interrupts it sends (its ICR writes, on the sender's vCPU). */
  notifyExitsPerSecond: number;
  /**
   * Interrupts for L1 that found the vCPU on L1's side of root mode (L1 running, or L0 emulating
   * its trapped instruction: sim/l1Side.ts) — L1's own interrupts, injected into L1 and by L1
   * into L2 at its VMRESUME, not synthesized nested exits — and the exits into L0 they cause (the
   * exit from L1, L1's trapped injection VMWRITE), also in l1ExitsPerSecond.
   */
  l1SideDeliveriesPerSecond: number;
  l1SideExitsPerSecond: number;
  /** Every exit into L0 per second. */
  l0ExitsPerSecond: number;
  /** Host cores by level: the L2 guest's own work, L1's handlers, L0. */
  hostCpu: { l2: number; l1: number; l0: number; total: number };
  /** (L0 + L1 cycles) / (L2 + L0 + L1 cycles). */
  overhead: number;
  byReason: SimNestedReason[];
}
