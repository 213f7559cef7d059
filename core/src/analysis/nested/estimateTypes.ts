/**
 * The result types of the per-level estimate of an L2 guest (estimate.ts nestedEstimate;
 * docs/estimator.md "Nested virtualization").
 */
import type { Span } from "../../source";
import type { ChainCost, ChainStep } from "./chain";
import type { Ept02StartUp } from "./ept02";
import type { Level } from "./reflect";
import type { IdleMode } from "./wake";

export interface NestedReasonEstimate {
  reason: string;
  code: number;
  level: Level;
  /** L2→L0 exits of this reason and level per second, all vCPUs. */
  exitsPerSecond: number;
  /** Cycles per exit spent in L0 (round trips, emulation, L0's handler) and in L1. */
  l0CyclesPerExit: number;
  l1CyclesPerExit: number;
  /**
   * Exits into L0 per exit (1 for an L0-handled exit; the whole chain for a reflected one, its
   * L2 exit included — one less for a nested exit L0 synthesizes, which has none).
   */
  l0TransitionsPerExit: number;
  trappedAccessesPerExit: number;
  shadowedAccessesPerExit: number;
}

export interface NestedOperationEstimate {
  span: Span;
  exits: {
    reason: string;
    code: number;
    level: Level;
    perExecution: number;
    rule: string;
    reference: string;
    /** The specialised handler's index at its level (NestedExit.handler); absent: the general one. */
    handlerVariant?: number;
    /**
     * The handler that takes the exit at its level ("MSR_WRITE IA32_TSC_DEADLINE", "MSR_WRITE");
     * absent when the level has none for it.
     */
    handler?: string;
  }[];
  /** Per vCPU. */
  exitsPerSecond: number;
  /** Cycles at L0 and at L1 per execution of the operation. */
  l0CyclesPerExecution: number;
  l1CyclesPerExecution: number;
}

export interface NestedEstimate {
  guest: string;
  hypervisor: string;
  vmcs01: string;
  vmcs12: string;
  shadowing: boolean;
  vcpus: number;
  /** Every L2→L0 exit per second, all vCPUs (hardware exits from L2: kvm_nested_vmexit). */
  l2ExitsPerSecond: number;
  /**
   * Nested exits into L1 per second (nested_vmx_vmexit: kvm_nested_vmexit_inject): the L2 exits
   * L0 reflects, and the ones it synthesizes at an entry with no L2 exit (`synthesizedPerSecond`).
   */
  reflectedPerSecond: number;
  /**
   * Nested EXTERNAL_INTERRUPT exits L0 synthesizes at an entry for an interrupt for L1 that found
   * the vCPU in root mode (vmx_check_nested_events), per second: in `reflectedPerSecond` and the
   * L1 EXTERNAL_INTERRUPT row, not L2 exits. (A blocked idle L2's wake-ups are `idle`'s.)
   */
  synthesizedPerSecond: number;
  l0HandledPerSecond: number;
  /** L1→L0 exits per second caused by L1's handlers (trapped VMX instructions and VMRESUMEs). */
  l1ExitsPerSecond: number;
  /** Every exit into L0 per second: L2's and L1's. */
  l0ExitsPerSecond: number;
  /** Host cores by level: L2's own work, L1's handlers, L0's transitions and emulation. */
  hostCpu: { l2: number; l1: number; l0: number; total: number };
  /** (L0 + L1 cycles) / (L2 + L0 + L1 cycles): the share of L2's busy time spent outside L2. */
  overhead: number;
  byReason: NestedReasonEstimate[];
  /** The chain of each reflected reason, for hovers and the text report. */
  chains: ChainCost[];
  operations: NestedOperationEstimate[];
  /** Busy share of an L2 vCPU and the share of its time in guest mode (the single-level model's ρ and p). */
  busyShare: number;
  guestShare: number;
  /** The idle model of an `idle halt` L2 (undefined otherwise). */
  idle?: NestedIdleEstimate;
  /** Interrupts L1 posts into L2 (undefined when none is). */
  posted?: NestedPostedEstimate;
  /**
   * Interrupts L1 sends (a `posted` irq, an ipi): its ICR write to the vCPU, exits into L0 on the
   * sender's vCPU per second (all vCPUs) and cycles each (undefined when L1 sends none).
   */
  l1Notify?: { sendsPerSecond: number; exitsPerSecond: number; cyclesPerExit: number };
  /** The one-time cost of building EPT02 (undefined without EPT12). */
  ept02?: Ept02StartUp;
  /**
   * Interrupts for L1 that find the vCPU on L1's side of root mode (analysis/nested/wake.ts
   * RootSide): L1 running (`l1RunningShare` of root-mode time) or L0 emulating an instruction of
   * L1's (`l0ForL1Share`). They are L1's own interrupts (kvm_check_and_inject_events injects into
   * L1, is_guest_mode false), not synthesized nested exits: per second, all vCPUs, and the exits
   * into L0 they cause (the exit from L1, L1's trapped injection VMWRITE), also in
   * `l1ExitsPerSecond`.
   */
  l1SideRoot: {
    l1RunningShare: number;
    l0ForL1Share: number;
    deliveriesPerSecond: number;
    exitsPerSecond: number;
  };
}

export interface NestedIdleEstimate {
  /** Who blocks the idle L2's vCPU. */
  mode: IdleMode;
  rule: string;
  reference: string;
  /** L2 idle exits (HLT) per second, all vCPUs. */
  idlePeriodsPerSecond: number;
  /** Idle periods that block and end with a wake-up, per second, all vCPUs. */
  wakeUpsPerSecond: number;
  /** Share of idle exits that block (no arrival within the window). */
  survival: number;
  /** Cycles from L2's HLT to the block. */
  windowCycles: number;
  /** Mean cycles of a wake-up beyond the idle exit, per level, and the exits into L0 it adds. */
  l0CyclesPerWake: number;
  l1CyclesPerWake: number;
  l0ExitsPerWake: number;
  /** The wake-up chain of the most frequent arrival. */
  steps: ChainStep[];
  /** Share of the blocks whose arrival L0's halt poll catches (0 where L0 does not block it). */
  haltPollSuccess: number;
  /** Share of L1's blocks whose arrival L1's own halt poll catches (0 unless L1 blocks and polls: l1HaltPoll.ts). */
  l1HaltPollSuccess: number;
  /** L1's mean poll window at a block, ns (its vcpu->halt_poll_ns). */
  l1PollWindowNs: number;
  /** Host cores L1 spends polling (in hostCpu.l1), all vCPUs. */
  l1PollCpu: number;
}

export interface NestedPostedEstimate {
  /** Interrupts L1 posts into L2, per second, all vCPUs, and those that find L2 in guest mode. */
  postedPerSecond: number;
  inGuestModePerSecond: number;
  /** L2 exits (the physical exit and, with it, the nested exit into L1) and cycles they avoid, per second. */
  avoidedExitsPerSecond: number;
  avoidedCyclesPerSecond: number;
  rule: string;
  reference: string;
}
