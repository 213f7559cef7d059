/**
 * How an interrupt reaches an L2 and how an idle L2 wakes up, per level (docs/estimator.md
 * "Nested idle and interrupt delivery"). The facts and their KVM functions are in
 * core/src/vmx/nested.ts (NESTED_HALT_*, NESTED_POSTED, L1_NOTIFY_MSR).
 *
 * - Delivery to an L2 in guest mode: the physical interrupt exits to L0 — one hardware exit
 *   (vmcs02 has vmcs01's external-interrupt exiting; vmcs01's posted interrupts do not reach
 *   vmcs02, prepare_vmcs02_early). L0 keeps it (nested_vmx_l0_wants_exit returns true for
 *   EXIT_REASON_EXTERNAL_INTERRUPT, nested.c) and runs the host's handler
 *   (vmx_handle_exit_irqoff → handle_external_interrupt_irqoff, vmx.c). With vmcs12's
 *   external-interrupt exiting the interrupt, now pending for L1, becomes at the next entry an
 *   emulated exit into L1 (vmx_check_nested_events → nested_vmx_vmexit(vcpu,
 *   EXIT_REASON_EXTERNAL_INTERRUPT, …), nested.c): no second hardware exit, so the reflected
 *   chain's own round trip is the physical exit's. Unless the interrupt is posted by L1 into L2
 *   (vmcs12 process posted interrupts + virtual-interrupt delivery, a `posted` irq or an ipi):
 *   then no exit at all on L2's vCPU, and L1's notification (an ICR write) is what remains, on
 *   the sender's vCPU.
 * - Wake-up of an idle L2, by who blocks it: L1 (vmcs12 HLT exiting: L1 halts in turn, L0
 *   wakes L1, L1 injects and VMRESUMEs) or L0 (vmcs02 HLT exiting from vmcs01 only: L0 wakes
 *   it and synthesizes the nested exit for L1's interrupt).
 */
import type { GuestOp, GuestSource } from "../../model/ir";
import { l1Polls } from "../../model/statements/host";
import type { Span } from "../../source";
import { isControlSet } from "../../vmx/controls";
import { EXIT } from "../../vmx/exitReasons";
import { msrByName } from "../../vmx/msrs";
import {
  L1_INJECT_FIELD,
  L1_NOTIFY_MSR,
  L1_PI_WAKEUP_REFERENCE,
  NESTED_C,
  NESTED_EXIT_ON_INTR,
  NESTED_EXIT_ON_INTR_REFERENCE,
  NESTED_HALT_BY_L0_REFERENCE,
  NESTED_HALT_BY_L1_REFERENCE,
  NESTED_POSTED,
  NESTED_POSTED_REFERENCE,
  PIR_SYNC_FIELD,
} from "../../vmx/nested";
import type { CostName, ExitReasonDef } from "../../vmx/types";
import { handlerCost } from "../cost";
import { decideDelivery, decideLeaf, reason } from "../exits";
import { exitCost as singleExitCost, vcpuMayMigrate } from "../transitionCost";
import { type ChainCost, type ChainStep, cyclesByLevel, reflectedChainCost, shadowSets } from "./chain";
import { decideNested, type Level, type NestedSetup } from "./reflect";

/** Who blocks an idle L2's vCPU: L1 (its HLT reflected), L0 (kept), or nobody (no HLT exit, or not `idle halt`). */
export type IdleMode = "L1" | "L0" | "none";

/** One exit of a delivery or wake-up and the level that handles it. */
export interface LevelExit {
  reason: ExitReasonDef;
  level: Level;
  perExecution: number;
}

/** Delivering one interrupt of a source to an L2 that is in guest mode. */
export interface NestedDelivery {
  /** L1 posts it into L2 (no exit on L2's vCPU). */
  posted: boolean;
  /**
   * Its one L2 exit (none when posted) at the level it ends in: L0's own when vmcs12 does not
   * exit on interrupts (L0 injects it into L2), else the EXTERNAL_INTERRUPT exit into L1 — the
   * physical exit L0 takes, then the emulated nested exit, one hardware exit in all.
   */
  exits: LevelExit[];
  /**
   * An exit into L1: L0's handling of the physical interrupt before the nested exit (its exit
   * cost under vmcs01 less the round trip the chain already pays), included in `l0`; 0 otherwise.
   */
  l0IrqCycles: number;
  l0: number;
  l1: number;
  /** Posted: the L2 exit it avoids (with its chain into L1, when it has one) and its cycles. */
  avoidedExits: number;
  avoidedCycles: number;
  /** An interrupt L1 sends: its ICR write to the vCPU exits to L0 this often, at this cost, on the sender. */
  notifyExits: number;
  notifyCycles: number;
  rule: string;
  reference: string;
}

/** What one wake-up of an idle L2 costs beyond its idle exit (L2's HLT), per level. */
export interface WakeChain {
  steps: ChainStep[];
  l0: number;
  l1: number;
  /** Exits into L0 it adds (L1's HLT, L1's trapped VMWRITE, the VMRESUME of a synthesized exit). */
  l0Exits: number;
  rule: string;
  reference: string;
}

const NO_SPAN: Span = { start: 0, end: 0 };

/**
 * The labels of the wake-up steps a trace of the wake-up marks (the simulator's timeline names
 * its segments `<level>: <label>`; trace/exportNested.ts writes L1's exits at them).
 */
export const WAKE_L1_HALT =
  "L1 idles: its HLT → L0 (vmcs01 HLT exiting); L0 blocks L1's vCPU until the interrupt for L1 wakes it";
export const WAKE_L1_HALT_STATE =
  "the interrupt for L1 exits from L1's HLT activity state (vmcs01 without HLT exiting)";
/** L1's halt poll caught the arrival: the interrupt for L1 exits from L1's guest mode (its poll loop). */
export const WAKE_L1_POLL_EXIT =
  "the interrupt for L1 exits from L1's halt-poll loop (kvm_vcpu_halt in L1): no L1 HLT, no block in L0";
/** L1's trapped VMWRITE of the injection (or PIR sync) field: `${prefix}${field}${suffix}`. */
export const WAKE_TRAPPED_PREFIX = "L1's VMWRITE ";
export const WAKE_TRAPPED_SUFFIX = " traps to L0";
export const WAKE_SYNTHESIZED =
  "L0 synthesizes the nested EXTERNAL_INTERRUPT exit into L1 (chain, less the round trip the HLT exit paid)";

function hltOp(setup: NestedSetup): GuestOp {
  return { op: "hlt", span: setup.guest.idleSpan ?? setup.guest.nameSpan };
}

export function idleMode(setup: NestedSetup): IdleMode {
  if (setup.guest.idle !== "halt") return "none";
  const d = decideNested(setup, hltOp(setup));
  if (d.exits.some((x) => x.level === "L1" && x.reason.code === EXIT.HLT)) return "L1";
  return d.exits.length > 0 ? "L0" : "none";
}

/**
 * Whether L0's kvm_vcpu_halt blocks the vCPU of an idle L2 — where L0's halt polling acts (the
 * file's host settings are L0's KVM): L0 blocks it itself, or L1 blocks it and L1's own HLT exits
 * to L0 (vmcs01 HLT exiting) — after L1's own halt poll missed (l1PollsIdle).
 */
export function l0BlocksIdle(setup: NestedSetup, mode: IdleMode): boolean {
  if (mode === "L0") return true;
  return mode === "L1" && decideLeaf(hltOp(setup), setup.ctx01).exits.length > 0;
}

/**
 * Whether L1's KVM halt-polls the idle L2's vCPU before it idles in turn: L1 blocks it (its
 * handle_halt → kvm_emulate_halt → kvm_vcpu_halt, virt/kvm/kvm_main.c) with a poll window that
 * can open (the hypervisor's `halt_poll`, KVM's defaults: model/statements/host.ts l1HaltPoll).
 * L1 spins in its guest mode on vmcs01 (kvm_vcpu_check_block, no exit); only when the window
 * passes without an event does L1 schedule, and its idle task's HLT exits to L0.
 */
export function l1PollsIdle(setup: NestedSetup, mode: IdleMode): boolean {
  return mode === "L1" && l1Polls(setup.hypervisor);
}

const isInterrupt = (s: GuestSource) => s.kind !== "path";

/** Whether L1 sends this source's interrupts (an IPI between L2's vCPUs, a `posted` irq: L1's KVM delivers it). */
export function l1Sends(source: GuestSource): boolean {
  return source.kind === "ipi" || (source.kind === "irq" && source.posted);
}

/** Whether L1 posts this source's interrupts into L2 (vmcs12 PI + VID; a `posted` irq, or an IPI). */
export function postedIntoL2(setup: NestedSetup, source: GuestSource): boolean {
  const c = setup.ctx12.controls;
  if (!isControlSet(c, NESTED_POSTED.pi) || !isControlSet(c, NESTED_POSTED.vid)) return false;
  return l1Sends(source);
}

/** L0's physical exit for an interrupt that arrives while L2 runs (vmcs02's pin controls). */
function physicalExits(setup: NestedSetup, source: GuestSource): LevelExit[] {
  if (source.kind === "nmi")
    return decideDelivery(source, setup.ctx01).decision.exits.map((e) => ({
      reason: e.reason,
      level: "L0",
      perExecution: e.perExecution,
    }));
  const extInt = NESTED_EXIT_ON_INTR; // the same pin bit, read in vmcs01
  return isControlSet(setup.ctx01.controls, extInt)
    ? [{ reason: reason(EXIT.EXTERNAL_INTERRUPT), level: "L0", perExecution: 1 }]
    : [];
}

/**
 * Cycles of one exit at its level: an exit L0 keeps costs the single-level exit under vmcs01
 * (vmcs02's transition is L0's, as estimate.ts exitCost and the simulator's plan); one into L1
 * its reflected chain.
 */
function exitCycles(setup: NestedSetup, x: LevelExit): { l0: number; l1: number } {
  if (x.level === "L0")
    return {
      l0: singleExitCost(setup.program, setup.vmcs01, x.reason.code, vcpuMayMigrate(setup.guest)).total,
      l1: 0,
    };
  const chain = reflectedChainCost(setup.program, setup.hypervisor, x.reason.code);
  return { l0: chain.l0Cycles, l1: chain.l1Cycles };
}

function sum(setup: NestedSetup, exits: readonly LevelExit[]): { l0: number; l1: number } {
  let l0 = 0;
  let l1 = 0;
  for (const x of exits) {
    const c = exitCycles(setup, x);
    l0 += x.perExecution * c.l0;
    l1 += x.perExecution * c.l1;
  }
  return { l0, l1 };
}

/**
 * L0's work on a physical interrupt it then turns into a nested exit into L1: its exit cost
 * under vmcs01 (the host IRQ handler, vmx_handle_exit_irqoff → handle_external_interrupt_irqoff)
 * less the one round trip — L2 → L0 exit, L0 → L1 entry — that the reflected chain's first step
 * already is (analysis/nested/chain.ts).
 */
function l0IrqWork(setup: NestedSetup, physical: readonly LevelExit[]): number {
  const c = sum(setup, physical);
  return Math.max(0, c.l0 - setup.program.target.costs.round_trip.cycles);
}

/**
 * L1's ICR write that notifies an interrupt it sends (L1_NOTIFY_MSR), decided on vmcs01: its
 * exits to L0 (an MSR_WRITE with `msr trap write X2APIC_ICR`), none when vmcs01 passes it through.
 */
export function l1NotifyExits(setup: NestedSetup): ReturnType<typeof decideLeaf>["exits"] {
  const icr = msrByName(L1_NOTIFY_MSR);
  if (!icr) return [];
  return decideLeaf({ op: "wrmsr", msr: icr.index, msrName: icr.name, span: NO_SPAN }, setup.ctx01).exits;
}

/** The delivery of one interrupt of `source` to L2 in guest mode (paths: nothing). */
export function nestedDelivery(setup: NestedSetup, source: GuestSource): NestedDelivery {
  const none = {
    posted: false,
    exits: [],
    l0IrqCycles: 0,
    l0: 0,
    l1: 0,
    avoidedExits: 0,
    avoidedCycles: 0,
    notifyExits: 0,
    notifyCycles: 0,
  };
  if (!isInterrupt(source)) return { ...none, rule: "a path has no interrupt", reference: "" };
  const physical = physicalExits(setup, source);
  const toL1 =
    source.kind !== "nmi" && isControlSet(setup.ctx12.controls, NESTED_EXIT_ON_INTR)
      ? [{ reason: reason(EXIT.EXTERNAL_INTERRUPT), level: "L1" as Level, perExecution: 1 }]
      : [];
  // One hardware exit: L0's own, or — vmcs12 exiting on interrupts — the nested exit into L1
  // that L0 synthesizes after handling it (vmx_check_nested_events → nested_vmx_vmexit), its
  // chain's round trip being the physical exit's; L0's IRQ handling is added to the chain's L0
  // cycles. Without a physical exit (vmcs01 lets interrupts through) only the chain remains.
  const exits = toL1.length > 0 ? toL1 : physical;
  const l0IrqCycles = toL1.length > 0 && physical.length > 0 ? l0IrqWork(setup, physical) : 0;
  const chain = sum(setup, exits);
  const c = { l0: chain.l0 + l0IrqCycles, l1: chain.l1 };
  // An interrupt L1 sends (its emulated device's, an IPI between L2's vCPUs) costs L1 an ICR
  // write to the vCPU running L2 — the notification vector when it posts, a kick otherwise
  // (kvm_vcpu_kick) — decided on vmcs01, on the sender's vCPU.
  // Its cost is L0's exit under vmcs01 (L1's transition and L0's handler), as the simulator's plan.
  let notifyExits = 0;
  let notifyCycles = 0;
  if (l1Sends(source))
    for (const e of l1NotifyExits(setup)) {
      notifyExits += e.perExecution;
      notifyCycles +=
        e.perExecution *
        singleExitCost(setup.program, setup.vmcs01, e.reason.code, vcpuMayMigrate(setup.guest), e.handler)
          .total;
    }
  const sender = l1Sends(source)
    ? `; L1's ${L1_NOTIFY_MSR} write to the vCPU ${notifyExits > 0 ? "exits to L0 on the sender's vCPU" : "does not exit (vmcs01 passes it through)"}`
    : "";
  if (!postedIntoL2(setup, source))
    return {
      ...none,
      exits,
      l0IrqCycles,
      l0: c.l0,
      l1: c.l1,
      notifyExits,
      notifyCycles,
      rule:
        (toL1.length > 0
          ? "one exit: L0 takes the physical interrupt (nested_vmx_l0_wants_exit, handle_external_interrupt_irqoff) and, vmcs12 having external-interrupt exiting, makes it a nested exit into L1 at the next entry (vmx_check_nested_events → nested_vmx_vmexit, no second hardware exit); L1 injects it into L2"
          : "L0 takes the physical interrupt and injects it into L2 itself (vmcs12 has no external-interrupt exiting)") +
        sender,
      reference: NESTED_EXIT_ON_INTR_REFERENCE,
    };
  return {
    ...none,
    posted: true,
    avoidedExits: exits.reduce((n, x) => n + x.perExecution, 0),
    avoidedCycles: c.l0 + c.l1,
    notifyExits,
    notifyCycles,
    rule: `posted by L1 into L2 (vmcs12 process posted interrupts + virtual-interrupt delivery): no exit on L2's vCPU${sender}, and L0 forwards the notification as its nested vector`,
    reference: NESTED_POSTED_REFERENCE,
  };
}

/**
 * L1's write of `field` into vmcs12 for an interrupt it passes to L2 (the injection field, or the
 * PIR sync of a posted one): a trapped VMWRITE (round trip + emulation in L0, handle_vmwrite)
 * unless vmcs01's shadow VMWRITE bitmap serves it, then L1's own step (the shadowed `vmwrite`,
 * plus `inject` when it injects). Appends the steps; returns the exits into L0 it adds.
 */
function pushL1Injection(
  setup: NestedSetup,
  steps: ChainStep[],
  field: string,
  l1Step: { label: string; inject: boolean; reference?: string },
): number {
  const cost = (n: CostName) => setup.program.target.costs[n].cycles;
  const shadowed = shadowSets(setup.program, setup.vmcs01).write.has(field);
  if (!shadowed)
    steps.push({
      label: `${WAKE_TRAPPED_PREFIX}${field}${WAKE_TRAPPED_SUFFIX}`,
      level: "L0",
      cycles: cost("round_trip") + cost("vmx_emulate"),
      traps: 1,
      reference: `${NESTED_C} handle_vmwrite`,
    });
  steps.push({
    label: l1Step.label,
    level: "L1",
    cycles: (shadowed ? cost("vmwrite") : 0) + (l1Step.inject ? cost("inject") : 0),
    traps: 0,
    // Only where the caller names one (a step without a reference has no such key).
    ...("reference" in l1Step ? { reference: l1Step.reference } : {}),
  });
  return shadowed ? 0 : 1;
}

/**
 * The wake-up of an idle L2 by one arrival of `source` (undefined: the mean over no source, a
 * path's own arrival), beyond the idle exit itself. `l1Polled`: L1 blocks and its halt poll
 * caught the arrival (l1PollsIdle) — L1 never idled: no L1 HLT exit, no block in L0; the
 * interrupt for L1 reaches L1 in its guest mode, decided on vmcs01 as for a running L1.
 */
export function wakeChain(
  setup: NestedSetup,
  mode: IdleMode,
  source: GuestSource | undefined,
  l1Polled = false,
): WakeChain {
  const program = setup.program;
  const cost = (n: CostName) => program.target.costs[n].cycles;
  const steps: ChainStep[] = [];
  let l1Exits = 0;
  const interrupt = source !== undefined && isInterrupt(source);
  const posted = interrupt && postedIntoL2(setup, source);
  if (mode === "L1") {
    // L1 blocked the vCPU; L1 itself goes idle: its HLT, decided on vmcs01.
    const own = l1Polled ? [] : decideLeaf(hltOp(setup), setup.ctx01).exits;
    if (own.length > 0) {
      let c = 0;
      for (const e of own) c += e.perExecution * handlerCost(program, e.reason.code).total;
      l1Exits += own.reduce((n, e) => n + e.perExecution, 0);
      steps.push({
        label: WAKE_L1_HALT,
        level: "L0",
        cycles: c,
        traps: l1Exits,
        reference: "L0's handler HLT (kvm_vcpu_halt, virt/kvm/kvm_main.c)",
      });
    } else if (interrupt) {
      // L1 waits in the HLT activity state on vmcs01, or spins in its poll loop: the interrupt
      // exits as for a running L1.
      const d = decideDelivery(source, setup.ctx01).decision.exits;
      let c = 0;
      for (const e of d) c += e.perExecution * handlerCost(program, e.reason.code).total;
      l1Exits += d.reduce((n, e) => n + e.perExecution, 0);
      if (d.length > 0)
        steps.push({
          label: l1Polled ? WAKE_L1_POLL_EXIT : WAKE_L1_HALT_STATE,
          level: "L0",
          cycles: c,
          traps: l1Exits,
        });
    }
    if (interrupt) {
      const field = posted ? PIR_SYNC_FIELD : L1_INJECT_FIELD;
      l1Exits += pushL1Injection(setup, steps, field, {
        label: posted
          ? `L1 syncs L2's PIR into ${field} (its wake-up vector ran)`
          : `L1 injects the interrupt into L2 (VMWRITE ${field})`,
        inject: !posted,
        reference: posted ? L1_PI_WAKEUP_REFERENCE : undefined,
      });
    }
  } else if (mode === "L0" && interrupt) {
    if (posted) {
      steps.push({
        label: `L0 completes the posted interrupt at the entry (PIR → L2's virtual-APIC page, VMWRITE ${PIR_SYNC_FIELD}); no exit into L1`,
        level: "L0",
        cycles: cost("vmwrite"),
        traps: 0,
        reference: `${NESTED_C} vmx_complete_nested_posted_interrupt, nested_mark_vmcs12_pages_dirty`,
      });
    } else if (source.kind !== "nmi" && isControlSet(setup.ctx12.controls, NESTED_EXIT_ON_INTR)) {
      // The HLT exit's own round trip already covers the exit from L2 and this entry into L1.
      const chain = reflectedChainCost(program, setup.hypervisor, EXIT.EXTERNAL_INTERRUPT);
      l1Exits += chain.l0Transitions - 1;
      steps.push({
        label: WAKE_SYNTHESIZED,
        level: "L0",
        cycles: chain.l0Cycles - cost("round_trip"),
        traps: chain.l0Transitions - 1,
        reference: NESTED_HALT_BY_L0_REFERENCE,
      });
      steps.push({
        label: "L1's handler EXTERNAL_INTERRUPT",
        level: "L1",
        cycles: chain.l1Cycles,
        traps: 0,
      });
    }
  }
  const { l0, l1 } = cyclesByLevel(steps);
  return {
    steps,
    l0,
    l1,
    l0Exits: l1Exits,
    rule:
      mode === "L1"
        ? l1Polled
          ? "L1 blocks the idle L2 (vmcs12 HLT exiting) and its own halt poll catches the arrival (kvm_vcpu_halt in L1): no L1 HLT, no block in L0; L1 injects an interrupt into L2 and VMRESUMEs"
          : "L1 blocks the idle L2 (vmcs12 HLT exiting): L1 halts in turn, the interrupt for L1 wakes it in L0, L1 injects it into L2 and VMRESUMEs"
        : mode === "L0"
          ? posted
            ? "L0 blocks the idle L2 (vmcs01's HLT exiting only); L1's posted interrupt wakes it and L0 delivers it without an exit into L1"
            : "L0 blocks the idle L2 (vmcs01's HLT exiting only); the interrupt for L1 wakes it in L0 and becomes a nested exit into L1 when vmcs12 has external-interrupt exiting"
          : "the idle L2 does not block",
    reference: mode === "L1" ? NESTED_HALT_BY_L1_REFERENCE : NESTED_HALT_BY_L0_REFERENCE,
  };
}

/**
 * Cycles of the idle exit from L2's HLT up to the block (the window in which an arrival makes
 * KVM return at once, kvm_vcpu_check_block): without the VMRESUME and L1's own wake-up when L1
 * blocks (they follow the wake-up), plus L1's own HLT exit up to L0's block — unless L1 polls
 * (l1PollsIdle): then the block is L1's kvm_vcpu_halt, and L1's HLT follows its missed poll;
 * without L0's `halt_wake` when L0 blocks.
 */
export function idleWindowCycles(setup: NestedSetup, mode: IdleMode, idleExitCycles: number): number {
  const wake = setup.program.target.costs.halt_wake.cycles;
  if (mode === "L0") return Math.max(0, idleExitCycles - wake);
  if (mode === "none") return idleExitCycles;
  const chain = reflectedChainCost(setup.program, setup.hypervisor, EXIT.HLT);
  if (l1PollsIdle(setup, mode)) return Math.max(0, idleExitCycles - chain.resumeCycles - chain.l1WakeCycles);
  const own = decideLeaf(hltOp(setup), setup.ctx01).exits;
  let l1Halt = 0;
  for (const e of own) l1Halt += e.perExecution * handlerCost(setup.program, e.reason.code).total;
  if (own.length > 0) l1Halt = Math.max(0, l1Halt - wake);
  return Math.max(0, idleExitCycles - chain.resumeCycles - chain.l1WakeCycles + l1Halt);
}

/**
 * Where an interrupt for L1 (vmcs12 external-interrupt exiting, not posted into L2) finds a vCPU
 * that is in root mode, by what runs there:
 * - "l2": L0 on behalf of L2 — handling an L2 exit it keeps, the emulated exit into L1 before L1
 *   runs, L1's VMRESUME and the emulated entry (is_guest_mode true, or true again by the next
 *   entry): at that entry vmx_check_nested_events synthesizes the nested exit (chain.ts
 *   synthesizedExitCost).
 * - "l1": L1 itself runs (its handler, its poll): the interrupt exits from L1 as vmcs01 decides.
 * - "l0ForL1": L0 runs on behalf of L1 (emulating its trapped VMREAD/VMWRITE/INVEPT…, handling an
 *   exit of L1's own — is_guest_mode false): no further exit, L0 injects it at the entry into L1.
 */
export type RootSide = "l2" | "l1" | "l0ForL1";

/** The exit from L1 of an interrupt for L1 that arrives while L1 runs (the timeline's label). */
export const L1_RUNNING_IRQ_EXIT =
  "the interrupt for L1 exits from L1 (it arrived while L1 ran: vmcs01 decides), L0 injects it into L1";
/** L1's injection of it into L2 at the VMRESUME it was doing anyway (the timeline's label). */
export const L1_RUNNING_IRQ_INJECT = `L1 takes the interrupt and injects it into L2 at its VMRESUME (VMWRITE ${L1_INJECT_FIELD})`;

/**
 * An interrupt for L1 that finds L1's side of root mode (RootSide "l1" or "l0ForL1") is L1's own
 * interrupt, not a nested exit. While L1 runs (is_guest_mode false, vmcs01 loaded) the physical
 * interrupt exits from L1 as vmcs01 decides (decideDelivery on vmcs01: L0's EXTERNAL_INTERRUPT
 * exit and host handler, vmx_handle_exit_irqoff → handle_external_interrupt_irqoff, vmx.c; none
 * when vmcs01 posts it); at the entry into L1 kvm_check_and_inject_events (x86.c) finds
 * is_guest_mode false, so it does not call check_nested_events (vmx_check_nested_events, the
 * nested exit) but injects into L1 through vmcs01's VM_ENTRY_INTR_INFO_FIELD (vmx_inject_irq).
 * L1's own handling of it (its device model) is not described by the file and stays uncharged;
 * since it is for L2, L1 injects it into L2 at the VMRESUME it was going to do anyway: its
 * VMWRITE of L1_INJECT_FIELD (trapped unless shadowed) and `inject` — no nested exit, no extra
 * VMRESUME. "l0ForL1": L0 already runs for L1, so no exit from L1; the rest is the same.
 */
export function l1SideDelivery(setup: NestedSetup, source: GuestSource, side: "l1" | "l0ForL1"): WakeChain {
  const program = setup.program;
  const steps: ChainStep[] = [];
  let exits = 0;
  if (side === "l1") {
    let c = 0;
    let n = 0;
    for (const e of decideDelivery(source, setup.ctx01).decision.exits) {
      n += e.perExecution;
      c +=
        e.perExecution *
        singleExitCost(program, setup.vmcs01, e.reason.code, vcpuMayMigrate(setup.guest), e.handler).total;
    }
    exits += n;
    if (n > 0)
      steps.push({
        label: L1_RUNNING_IRQ_EXIT,
        level: "L0",
        cycles: c,
        traps: n,
        reference:
          "vmx_handle_exit_irqoff → handle_external_interrupt_irqoff (vmx.c); kvm_check_and_inject_events → vmx_inject_irq on vmcs01 (x86.c, vmx.c)",
      });
  }
  exits += pushL1Injection(setup, steps, L1_INJECT_FIELD, { label: L1_RUNNING_IRQ_INJECT, inject: true });
  const { l0, l1 } = cyclesByLevel(steps);
  return {
    steps,
    l0,
    l1,
    l0Exits: exits,
    rule:
      side === "l1"
        ? "an interrupt for L1 that arrives while L1 runs exits from L1 as vmcs01 decides and L0 injects it into L1 (kvm_check_and_inject_events, is_guest_mode false: no nested exit); L1 injects it into L2 at its VMRESUME"
        : "an interrupt for L1 that arrives while L0 emulates an instruction of L1's is injected into L1 at the entry back (is_guest_mode false: no nested exit); L1 injects it into L2 at its VMRESUME",
    reference:
      "arch/x86/kvm/x86.c kvm_check_and_inject_events; arch/x86/kvm/vmx/nested.c vmx_check_nested_events",
  };
}

/**
 * The cycles of a reflected chain on L1's side of root mode (RootSide): L1's own steps (its
 * handler: "l1") and L0's emulation of its trapped VMX instructions ("l0ForL1": handle_vmread,
 * handle_vmwrite… run with is_guest_mode false). The rest of the chain — the L2 exit, the
 * emulated exit into L1, the VMRESUME and the emulated entry — is L0's for L2.
 */
export function chainL1Side(chain: ChainCost): { l1: number; l0ForL1: number } {
  let l1 = 0;
  let l0ForL1 = 0;
  for (const s of chain.steps) {
    if (s.level === "L1") l1 += s.cycles;
    else if (s.trapped === true) l0ForL1 += s.cycles;
  }
  return { l1, l0ForL1 };
}
