/**
 * The statistics observer: what the engine reports (exits with their arm's cycles, guest and
 * idle intervals, halts, wake-ups, arrivals, deliveries, counters) summed over every event. It
 * keeps sums in flat typed arrays per exit plan and source plus one log histogram per exit
 * plan and interrupt source; the engine calls it through a concrete field (monomorphic calls,
 * no allocation per event), as llvm-mca's views observe its pipeline's events.
 */
import { LogHistogram } from "./histogram";
import type { CompiledGuest } from "./plan";

export class SimStatistics {
  // Per exit plan: count and cycle sums (the wake-up charged to a halting exit is in `handler`).
  readonly exitCount: Float64Array;
  readonly exitTransition: Float64Array;
  readonly exitHandler: Float64Array;
  readonly exitUserspace: Float64Array;
  /** Per exit plan: durations (transition + handler + user space + charged wake-up). */
  readonly exitHist: LogHistogram[];
  // Per source: arrivals, finished executions, arrivals dropped at a full queue, and (interrupt
  // sources) delivery latency.
  readonly arrivals: Float64Array;
  readonly executions: Float64Array;
  readonly dropped: Float64Array;
  readonly latencyHist: LogHistogram[];
  /** Delivery latency of every interrupt. */
  readonly irqLatency = new LogHistogram();
  // Per source: the exits its executions took and their cycles (transition + handler + user
  // space + charged wake-up), and a histogram of those cycles per finished execution.
  readonly pathExits: Float64Array;
  readonly pathExitCycles: Float64Array;
  readonly pathHist: LogHistogram[];
  // Per coalesce site: batches flushed and the wait of each execution until its flush (cycles).
  readonly coalesceFlushes: Float64Array;
  readonly coalesceWait: LogHistogram[];
  // vCPU cycles per state, summed over vCPUs.
  guestCycles = 0;
  idleGuestCycles = 0;
  haltedCycles = 0;
  pollingCycles = 0;
  descheduledCycles = 0;
  wakeCycles = 0;
  spinCycles = 0;
  // Counters.
  tsxAborts = 0;
  haltWakeups = 0;
  haltPollSuccesses = 0;
  directedYields = 0;
  kicks = 0;
  injections = 0;
  /** Nested exits L0 synthesized at a nested entry (an interrupt for L1 that arrived outside L2). */
  synthesizedNestedExits = 0;
  /**
   * Nested: the wake-up chains of blocked idle L2s (beyond the idle plan's own wake-up) — cycles
   * at L0 and in L1, exits into L0 — and L1's notifications of the interrupts it sends.
   */
  nestedWakeUps = 0;
  nestedWakeL0 = 0;
  nestedWakeL1 = 0;
  nestedWakeExits = 0;
  /** L1's own halt polling of an idle L2 (nestedIdle.ts): blocks at L1's kvm_vcpu_halt, those its poll caught, its spin time. */
  nestedL1PollBlocks = 0;
  nestedL1PollSuccesses = 0;
  nestedL1PollCycles = 0;
  nestedNotifyExits = 0;
  nestedNotifyL0 = 0;
  /** Interrupts for L1 that found L1's side of root mode (sim/l1Side.ts): count, cycles per level, exits into L0. */
  nestedL1SideDeliveries = 0;
  nestedL1SideL0 = 0;
  nestedL1SideL1 = 0;
  nestedL1SideExits = 0;

  constructor(plan: CompiledGuest) {
    const nE = plan.exits.length;
    const nS = plan.sources.length;
    this.exitCount = new Float64Array(nE);
    this.exitTransition = new Float64Array(nE);
    this.exitHandler = new Float64Array(nE);
    this.exitUserspace = new Float64Array(nE);
    this.exitHist = plan.exits.map(() => new LogHistogram());
    this.arrivals = new Float64Array(nS);
    this.executions = new Float64Array(nS);
    this.dropped = new Float64Array(nS);
    this.latencyHist = plan.sources.map(() => new LogHistogram());
    this.pathExits = new Float64Array(nS);
    this.pathExitCycles = new Float64Array(nS);
    this.pathHist = plan.sources.map(() => new LogHistogram());
    const nSites = plan.coalesce.count.length;
    this.coalesceFlushes = new Float64Array(nSites);
    this.coalesceWait = Array.from({ length: nSites }, () => new LogHistogram());
  }

  /** An execution of source `s` finished, having taken `exits` exits of `cycles` in all. */
  executionDone(s: number, exits: number, cycles: number): void {
    this.executions[s]++;
    this.pathExits[s] += exits;
    this.pathExitCycles[s] += cycles;
    this.pathHist[s].add(cycles);
  }

  /** An exit of plan `plan` with its drawn arm's cycles; `wake` is charged to the handler. */
  exit(plan: number, transition: number, handler: number, userspace: number, wake: number): void {
    this.exitCount[plan]++;
    this.exitTransition[plan] += transition;
    this.exitHandler[plan] += handler + wake;
    this.exitUserspace[plan] += userspace;
    this.exitHist[plan].add(transition + handler + userspace + wake);
  }

  /** An interrupt of source `s` delivered `latency` cycles after its arrival. */
  delivered(s: number, latency: number): void {
    this.latencyHist[s].add(latency);
    this.irqLatency.add(latency);
  }

  /** A blocked idle L2 woke through `chain` (nestedIdle.ts). */
  nestedWake(chain: { l0: number; l1: number; exits: number }): void {
    this.nestedWakeUps++;
    this.nestedWakeL0 += chain.l0;
    this.nestedWakeL1 += chain.l1;
    this.nestedWakeExits += chain.exits;
  }

  /** L1's notification of an interrupt it sends, taken on the sender's vCPU: one exit into L0. */
  nestedNotify(cyclesPerExit: number): void {
    this.nestedNotifyExits++;
    this.nestedNotifyL0 += cyclesPerExit;
  }

  /** An interrupt for L1 that found L1's side of root mode, delivered through `path` (sim/l1Side.ts). */
  nestedL1Side(path: { l0: number; l1: number; exits: number }): void {
    this.nestedL1SideDeliveries++;
    this.nestedL1SideL0 += path.l0;
    this.nestedL1SideL1 += path.l1;
    this.nestedL1SideExits += path.exits;
  }

  /** A halt poll caught an event: the wake-up charged to the halting exit did not happen. */
  wakeNotSpent(plan: number, wake: number): void {
    this.exitHandler[plan] -= wake;
  }
}
