/**
 * Results of analysis: why a guest operation exits (or does not), and the static estimate.
 * Plain data so the CLI prints it as JSON and the language server formats it as hovers.
 */
import type { Span } from "../source";
import type { ExitReasonDef } from "../vmx/types";

/** One exit a guest operation causes. */
export interface ExitEffect {
  reason: ExitReasonDef;
  /** Expected exits per execution of the operation (fractional: PML exits once per 512 pages). */
  perExecution: number;
  /**
   * Present when a handler specialised by the exit's operand takes it: its index in
   * `program.operandHandlers.get(reason.code)` (model/handlers.ts); absent: the general handler.
   */
  handler?: number;
}

/**
 * Whether and why one guest operation exits under the VMCS in force. `rule` is the sentence a
 * hover shows; `controls` the language names of the controls that decided it; `reference` the
 * SDM section or KVM function.
 */
export interface ExitDecision {
  exits: ExitEffect[];
  rule: string;
  controls: string[];
  reference: string;
  /** Extra explanation (e.g. "the port is in I/O bitmap A"). */
  detail?: string;
}

export interface ReasonEstimate {
  reason: string;
  code: number;
  exitsPerSecond: number;
  /** Transition + handler (branches weighted). */
  cyclesPerExit: number;
  /** Breakdown of cyclesPerExit. */
  transitionCycles: number;
  handlerCycles: number;
  userspaceCycles: number;
  /** Share of all exit-handling time of the guest. */
  share: number;
  /**
   * Present when handlers specialised by operand take some of the reason's exits
   * (docs/language.md "Handlers by operand"): each handler's part; the row's cycles are their
   * rate-weighted mean.
   */
  handlers?: HandlerEstimate[];
}

/** One handler's part of an exit reason's exits (ReasonEstimate.handlers). */
export interface HandlerEstimate {
  /** "MSR_WRITE IA32_TSC_DEADLINE", or "MSR_WRITE" for the general handler. */
  handler: string;
  /** The specialised handler's operand (`IA32_TSC_DEADLINE`, `port 0x3f8..0x3ff`); absent: the general handler. */
  operand?: string;
  /** The handler's header (the reason token), absent for exits no handler takes. */
  span?: Span;
  /** All vCPUs. */
  exitsPerSecond: number;
  cyclesPerExit: number;
  transitionCycles: number;
  handlerCycles: number;
  userspaceCycles: number;
}

/** Mean, median and 99th percentile, in seconds. */
export interface PathLatencySummary {
  mean: number;
  p50: number;
  p99: number;
}

/** One `coalesce` site of a path: its batches and the wait of an execution until its flush. */
export interface CoalesceWaitEstimate {
  /** Batch size N and timeout T of the site. */
  count: number;
  timeoutSec: number;
  /** Expected executions per batch E[B] and flushes (notifications) per execution 1/E[B]. */
  batchSize: number;
  flushesPerExecution: number;
  /** Share of batches the timeout closes. */
  timeoutShare: number;
  /** Seconds from an execution to its batch's flush (0 for the execution that fills it); max = T. */
  wait: PathLatencySummary & { max: number };
}

export interface PathEstimate {
  name: string;
  kind: string;
  span: Span;
  /** Executions per second per vCPU. */
  executionsPerSecond: number;
  exits: { reason: string; code: number; perExecution: number }[];
  /** Guest cycles + exit cycles of one execution. */
  cyclesPerExecution: number;
  guestCyclesPerExecution: number;
  /** Host cycles of one execution: the exits it takes (transition + handler + user space). */
  exitCyclesPerExecution: number;
  /** Exits per execution, all reasons (Σ exits[].perExecution): exits per packet, per request. */
  exitsPerExecution: number;
  /** Executions per second of the whole guest (executionsPerSecond × vcpus). */
  guestExecutionsPerSecond: number;
  /** How the file wrote the rate (`rate R per vcpu|guest`); absent: not said (per vCPU). */
  ratePer?: "vcpu" | "guest";
  /**
   * Latency one execution's own exits add, seconds (docs/estimator.md §4.3): the distribution of
   * their durations. An interrupt's delivery exit is in `exits` but not here (it comes before
   * the handler runs: the simulator's delivery latency). Absent for `idle`.
   */
  latency?: { mean: number; p50: number; p99: number };
  /** The path's `coalesce` sites: batch, notifications per execution, wait until the flush. */
  coalesce?: CoalesceWaitEstimate[];
}

export interface OperationEstimate {
  span: Span;
  decision: ExitDecision;
  /** Per vCPU. */
  exitsPerSecond: number;
  cyclesPerExit: number;
  /** Share of one vCPU's time spent handling this operation's exits. */
  vcpuShare: number;
  /** Share of one host core. */
  hostShare: number;
}

export interface GuestEstimate {
  guest: string;
  target: { profile: string; hz: number };
  vcpus: number;
  /** All vCPUs together. */
  exitsPerSecond: number;
  /** Exit-handling time / (guest busy time + exit-handling time), idle excluded. */
  overhead: number;
  /** Exit-handling cycles per second across all vCPUs, in cores. */
  hostCpu: number;
  /** Busy share of one vCPU (guest work + exit handling); above 1 means saturated. */
  demand: number;
  /**
   * Codes of the exit reasons with a positive rate, in `byReason` order: what a diagnostic
   * pass asks of every guest, readable without solving the breakdowns below.
   */
  exitingReasonCodes: readonly number[];
  /** Per exit reason, costliest first. */
  byReason: ReasonEstimate[];
  paths: PathEstimate[];
  /** Every guest operation's decision and cost, for hovers and inlay hints. */
  operations: OperationEstimate[];
  /** The host settings in force and what they did (docs/estimator.md, "Host"). */
  host?: HostEstimate;
}

/** One host setting as the estimate used it, and whether the file or the default set it. */
export interface HostSettingEstimate {
  value: number;
  source: "file" | "default";
  /** The statement that set it, or the default's citation. */
  from: string;
}

export interface HostEstimate {
  settings: {
    pcpus: HostSettingEstimate;
    pinned: boolean;
    haltPollNs: HostSettingEstimate;
    haltPollGrow: HostSettingEstimate;
    haltPollGrowStartNs: HostSettingEstimate;
    haltPollShrink: HostSettingEstimate;
    pleWindowGrow: HostSettingEstimate;
    pleWindowShrink: HostSettingEstimate;
    pleWindowMax: HostSettingEstimate;
    preemptRate: HostSettingEstimate;
    preemptSec: HostSettingEstimate;
  };
  /** Blocks per second per vCPU (halts that wait in the host). */
  blocksPerSecond: number;
  /** Share of blocks the adaptive poll window catches. */
  haltPollSuccess: number;
  /** Mean halt_poll_ns window at a block, ns. */
  haltPollWindowNs: number;
  /** Host cores spent polling, all vCPUs (part of `hostCpu`). */
  pollCpu: number;
  /** Sched-ins per second per vCPU (blocks that slept, host preemptions): PLE window resets. */
  schedInsPerSecond: number;
  /** Share of a physical CPU one vCPU can have (1 without overcommit). */
  capacity: number;
  /**
   * Present when the offered load exceeds what a vCPU can deliver (demand above 1, or above
   * its share of an over-committed host): the offered figures, before scaling to the delivered
   * ones the estimate's totals, reasons and paths give (budgets are checked against those).
   */
  saturation?: {
    offeredExitsPerSecond: number;
    offeredHostCpu: number;
    deliveredShare: number;
    note: string;
  };
}
