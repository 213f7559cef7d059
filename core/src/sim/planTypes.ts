/**
 * The simulator's compiled guest (plan.ts compileGuest builds it): per source its bytecode and
 * arrival, per exit reason its costed exit plan, and the per-guest run-time facts the engine
 * reads. Split out of plan.ts, which builds them.
 */
import type { Arrival, GuestIR, GuestSource } from "../model/ir";
import type { NestedIdlePlan } from "./nestedIdle";
import type { NestedExitPlan, NestedNotifyPlan, NestedRun, NestedSourceFacts } from "./nestedPlan";
import type { StraightPlans } from "./straightPlan";
import type { TimelineSource } from "./timeline";

export interface ExitPlan {
  code: number;
  name: string;
  /**
   * The transition's body centre; each exit draws body + N(0, jitter) + (with the tail share)
   * an exponential tail of mean tailMean (sim/transitionSample.ts): its mean is the
   * estimator's transition (analysis/transitionCost.ts).
   */
  transition: number;
  jitter: number;
  tailMean: number;
  /** Cumulative probabilities of the outcomes (last is 1). */
  cumulative: Float64Array;
  handler: Float64Array;
  userspace: Float64Array;
  halt: Uint8Array;
  /** Wake-up cycles charged to this exit when it halts (spent when the vCPU wakes). */
  wake: Float64Array;
  /**
   * A memory-access exit (EPT, APIC, PML): inside a transaction it is taken and then aborts it;
   * exiting instructions abort without the exit (SDM Vol. 1 ch. 16; as the estimator's tsx model).
   */
  memoryAccess: boolean;
  kicks: Uint8Array;
  injects: number[][];
  /** Whether any outcome halts, kicks or injects (the engine skips the checks otherwise). */
  hasEffects: boolean;
  /** Timeline source of the handler (−1 when the reason has no handler). */
  handlerSource: number;
  hasHandler: boolean;
  /** The operand of the specialised handler this plan runs (`IA32_TSC_DEADLINE`); absent: the general one. */
  operand?: string;
  /** An L2 guest's plan: its levels and timeline segments (nestedPlan.ts); null for one level. */
  nested: NestedExitPlan | null;
}

export interface SourcePlan {
  name: string;
  kind: GuestSource["kind"];
  arrival: Arrival;
  /** Interrupt-like sources (irq, timer, ipi, nmi) preempt paths and measure delivery latency. */
  isInterrupt: boolean;
  isNmi: boolean;
  vector: number;
  /** Exit the arrival causes while the vCPU runs the guest (−1: delivered without an exit). */
  arrivalExit: number;
  /** Delivered through the posted-interrupt descriptor (no exit; wakes a halted vCPU). */
  posted: boolean;
  start: number;
  /**
   * −1 for the guest's own sources. A coalesce site's flush source (index of the site): its job
   * is the site's body, it has no arrival process of its own, and it "arrives" when a batch's
   * timeout expires (the engine sets its arrival time).
   */
  coalesceSite: number;
}

/** The `coalesce` sites of a guest, by site index (OP_COALESCE's f). */
export interface CoalescePlans {
  /** Batch size N. */
  count: Int32Array;
  /** Timeout T in cycles. */
  timeoutCycles: Float64Array;
  /** Source index of the site's flush source (its body, run at a timeout). */
  flushSource: Int32Array;
}

export interface CompiledGuest {
  guest: GuestIR;
  /** The target's CPU profile name (the result's `target.profile`). */
  profile: string;
  hz: number;
  vcpus: number;
  op: Int32Array;
  a: Int32Array;
  f: Float64Array;
  /** Timeline source of each op (for exits: the guest operation that exits). */
  opSource: Int32Array;
  branchCumulative: Float64Array[];
  branchTargets: Int32Array[];
  sources: SourcePlan[];
  exits: ExitPlan[];
  /** Exit plan index by basic reason (a specialised handler's: by model/handlers.ts handlerKey). */
  exitByCode: Map<number, number>;
  timelineSources: TimelineSource[];
  idle: GuestIR["idle"];
  /** Exit the idle loop's HLT (or MWAIT) causes, −1 when it stays in the guest. */
  idleExit: number;
  /** The EXTERNAL_INTERRUPT plan, for host preemption and kicks. */
  externalInterruptExit: number;
  haltWakeCycles: number;
  /** VMX-preemption timer period in TSC cycles (0: not active). */
  preemptionTimerCycles: number;
  preemptionTimerExit: number;
  /** The exit control "save VMX-preemption timer value". */
  preemptionTimerSaved: boolean;
  pleWindow: number;
  /** Deepest nesting of the loops left in the bytecode (pure-compute repeats are folded). */
  repeatDepth: number;
  /** Straight-line jobs, see {@link StraightPlans}. */
  straight: StraightPlans;
  coalesce: CoalescePlans;
  warnings: string[];
  /** Set for an L2 guest (nestedPlan.ts): the simulator runs the nested chain. */
  nested: NestedRun | undefined;
  /** The reflected EXTERNAL_INTERRUPT owed at entry by an interrupt for L1 that arrived outside L2 (−1: none). */
  nestedIrqExit: number;
  /** An L2 whose idle HLT blocks: its idle plan and each source's wake-up chain (nestedIdle.ts). */
  nestedIdle: NestedIdlePlan | undefined;
  /** An L2's per-source facts: interrupts for L1, L1's notifications (nestedPlan.ts). */
  nestedSources: NestedSourceFacts | undefined;
  /** L1's notifications as exits of the sender's vCPU (nestedPlan.ts notifyStream). */
  nestedNotify: NestedNotifyPlan | undefined;
}
