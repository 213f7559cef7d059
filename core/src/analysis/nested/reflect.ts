/**
 * Nested virtualization: which level handles each exit of an L2 operation, as KVM decides it.
 *
 * L2 runs on vmcs02, which L0 builds from its own policy for L1 (vmcs01) and what L1 asked for
 * (vmcs12): prepare_vmcs02_early ORs the pin-based and processor-based controls of both,
 * update_exception_bitmap ORs the exception bitmaps, nested_vmx_prepare_msr_bitmap merges the MSR
 * bitmaps, and I/O always exits (prepare_vmcs02_early sets unconditional I/O exiting and clears
 * use I/O bitmaps). So an L2 operation exits to L0 when either vmcs would make it exit; then
 * nested_vmx_reflect_vmexit decides: nested_vmx_l0_wants_exit first ("it trumps L1's desires"),
 * then nested_vmx_l1_wants_exit, which reads vmcs12 — exactly the exit decision the ordinary
 * engine makes under vmcs12. The rows (which reasons L0 always keeps, which L1 never gets, how
 * each case reads vmcs12) are in core/src/vmx/nested.ts with their nested.c functions.
 *
 * Modelling choices (docs/estimator.md "Nested virtualization"): EPT12 is taken to map L2's
 * guest-physical addresses onto the same L1 addresses (the language has one address per access),
 * so EPT01 is looked up at the same address; an EPT fault of EPT12 goes to L1
 * (nested_ept_inject_page_fault) and takes precedence over EPT01's.
 */
import { guestOperandOf, operandHandlerIndex } from "../../model/handlers";
import type { GuestIR, GuestOp, HypervisorIR, Program, VmcsIR } from "../../model/ir";
import { isControlSet } from "../../vmx/controls";
import { EXIT } from "../../vmx/exitReasons";
import {
  EPT_FAULT_TO_L1_REFERENCE,
  L0_ALWAYS,
  L0_WANTS_REFERENCE,
  L1_NEVER,
  L1_WANTS_CASE,
  L1_WANTS_REFERENCE,
  NESTED_C,
  REFLECT_REFERENCE,
} from "../../vmx/nested";
import type { ExitReasonDef } from "../../vmx/types";
import { effectiveControls } from "../effective";
import { decideLeaf, type ExitContext, guestContext, reason } from "../exits";
import { memoOf } from "../memo";
import type { ExitDecision } from "../types";

export type Level = "L0" | "L1";

/** One exit of an L2 operation: the L2→L0 exit, and the level that handles it. */
export interface NestedExit {
  reason: ExitReasonDef;
  perExecution: number;
  level: Level;
  /** The hover sentence: "handled by L1 because vmcs12 …". */
  rule: string;
  reference: string;
  /**
   * Present when a handler specialised by the exit's operand takes it at its level
   * (model/handlers.ts): its index in `program.operandHandlers` (L0) or in
   * `hypervisor.operandHandlers` (L1) for the reason; absent: the level's general handler.
   */
  handler?: number;
}

export interface NestedDecision {
  exits: NestedExit[];
  /** The decision under vmcs12 alone (what L1 asks for). */
  l1: ExitDecision;
  /** The decision under vmcs01 alone (what L0's own policy intercepts). */
  l0: ExitDecision;
}

/** An L2 guest with its levels resolved. */
export interface NestedSetup {
  program: Program;
  guest: GuestIR;
  hypervisor: HypervisorIR;
  vmcs12: VmcsIR;
  vmcs01: VmcsIR;
  /** L2's operations decided under vmcs12 (L1's wishes). */
  ctx12: ExitContext;
  /** L2's operations decided under vmcs01 (L0's own intercepts). */
  ctx01: ExitContext;
}

/**
 * The levels of a guest, when it is an L2: its vmcs is `nested` and the file has a hypervisor
 * whose vmcs01 exists. Its L1 is the one `guest … in HYPERVISOR` names, else the file's only
 * hypervisor (docs/language.md "Nested virtualization"); while the file is in error (an unknown
 * name, TL117; several hypervisors and no `in`, TL217) the first declared runs it.
 */
export function nestedSetup(program: Program, guest: GuestIR): NestedSetup | undefined {
  const setups = memoOf(program).nestedSetups;
  if (setups.has(guest)) return setups.get(guest);
  const setup = computeSetup(program, guest);
  setups.set(guest, setup);
  return setup;
}

function computeSetup(program: Program, guest: GuestIR): NestedSetup | undefined {
  const vmcs12 = program.vmcs.get(guest.vmcs);
  if (!vmcs12?.nested) return undefined;
  const hypervisor =
    (guest.hypervisor === undefined ? undefined : program.hypervisors.get(guest.hypervisor)) ??
    (program.hypervisors.values().next().value as HypervisorIR | undefined);
  if (!hypervisor) return undefined;
  const vmcs01 = program.vmcs.get(hypervisor.vmcs);
  if (!vmcs01) return undefined;
  const ctx12 = guestContext(program, guest);
  if (!ctx12) return undefined;
  const ctx01: ExitContext = {
    program,
    guest,
    vmcs: vmcs01,
    controls: effectiveControls(vmcs01, program.target),
  };
  return { program, guest, hypervisor, vmcs12, vmcs01, ctx12, ctx01 };
}

const IO_ALWAYS_EXITS = `${NESTED_C} prepare_vmcs02_early (vmcs02 always has unconditional I/O exiting: "A vmexit (to either L1 hypervisor or L0 userspace) is always needed for I/O port accesses")`;

/** Decides one leaf L2 operation (compound ones are walked by the caller). */
export function decideNested(setup: NestedSetup, op: GuestOp): NestedDecision {
  const l1 = decideLeaf(op, setup.ctx12);
  const l0 = decideLeaf(op, setup.ctx01);
  const exits: NestedExit[] = [];
  const perReason = new Map<number, { reason: ExitReasonDef; pe12: number; pe01: number }>();
  const add = (r: ExitReasonDef, pe12: number, pe01: number) => {
    const e = perReason.get(r.code);
    if (e) {
      e.pe12 = Math.max(e.pe12, pe12);
      e.pe01 = Math.max(e.pe01, pe01);
    } else perReason.set(r.code, { reason: r, pe12, pe01 });
  };
  const isEpt = (code: number) => code === EXIT.EPT_VIOLATION || code === EXIT.EPT_MISCONFIG;
  // An access that faults in EPT12 never reaches EPT01: L0's nested MMU walks L1's table first
  // and reflects the fault (nested_ept_inject_page_fault).
  const ept12Faults = l1.exits.some((e) => isEpt(e.reason.code));
  for (const e of l1.exits) add(e.reason, e.perExecution, 0);
  for (const e of l0.exits) if (!(ept12Faults && isEpt(e.reason.code))) add(e.reason, 0, e.perExecution);
  if ((op.op === "in" || op.op === "out") && !perReason.has(EXIT.IO_INSTRUCTION))
    add(reason(EXIT.IO_INSTRUCTION), 0, 1);

  for (const { reason: r, pe12, pe01 } of perReason.values()) {
    const total = Math.max(pe12, pe01);
    const l0Why = L0_ALWAYS.get(r.code);
    const l1Case = L1_WANTS_CASE.get(r.code) ?? "default: return true";
    if (l0Why !== undefined) {
      if (isEpt(r.code) && pe12 > 0) {
        exits.push({
          reason: r,
          perExecution: pe12,
          level: "L1",
          rule: `handled by L1: the fault is in L1's EPT12 (vmcs12: ${l1.rule}); L0 takes the exit first (${l0Why}) and reflects it`,
          reference: EPT_FAULT_TO_L1_REFERENCE,
        });
        if (total - pe12 > 0)
          exits.push(l0Exit(r, total - pe12, `handled by L0: ${l0Why}`, L0_WANTS_REFERENCE));
      } else exits.push(l0Exit(r, total, `handled by L0: ${l0Why}`, L0_WANTS_REFERENCE));
      continue;
    }
    if (r.code === EXIT.EXCEPTION_NMI && op.op === "exception" && op.vector === 2) {
      exits.push(l0Exit(r, total, "handled by L0: an NMI is always L0's (is_nmi)", L0_WANTS_REFERENCE));
      continue;
    }
    const never = L1_NEVER.get(r.code);
    if (never !== undefined) {
      exits.push(l0Exit(r, total, `handled by L0: ${never}`, L1_WANTS_REFERENCE));
      continue;
    }
    if (pe12 > 0) {
      exits.push({
        reason: r,
        perExecution: pe12,
        level: "L1",
        rule: `handled by L1 because vmcs12 asks for it: ${l1.rule} (nested_vmx_l1_wants_exit: ${l1Case})`,
        reference: L1_WANTS_REFERENCE,
      });
      if (total - pe12 > 0)
        exits.push(
          l0Exit(r, total - pe12, "handled by L0: the rest of the exits are L0's own", REFLECT_REFERENCE),
        );
      continue;
    }
    const from = r.code === EXIT.IO_INSTRUCTION && pe01 === 1 && !l0.exits.length ? IO_ALWAYS_EXITS : l0.rule;
    exits.push(
      l0Exit(
        r,
        total,
        `handled by L0: vmcs12 does not ask for it (nested_vmx_l1_wants_exit: ${l1Case}); the exit comes from L0's side of vmcs02: ${from}`,
        REFLECT_REFERENCE,
      ),
    );
  }
  withHandlers(setup, op, exits);
  return { exits, l1, l0 };
}

/**
 * Each exit's handler at the level that handles it, chosen by the operation's operand as the
 * single-level path chooses it (analysis/exitLeaf.ts): the L0 handlers of the file for an exit
 * L0 keeps, the `hypervisor` block's for one reflected to L1 (a WRMSR of IA32_TSC_DEADLINE
 * reflected to L1 runs L1's `handler MSR_WRITE IA32_TSC_DEADLINE`, not its general MSR_WRITE).
 */
function withHandlers(setup: NestedSetup, op: GuestOp, exits: NestedExit[]): void {
  const operand = guestOperandOf(op);
  if (operand === undefined) return;
  for (const x of exits) {
    const table = x.level === "L1" ? setup.hypervisor.operandHandlers : setup.program.operandHandlers;
    const handler = operandHandlerIndex(table, x.reason.code, operand);
    if (handler !== undefined) x.handler = handler;
  }
}

function l0Exit(r: ExitReasonDef, perExecution: number, rule: string, reference: string): NestedExit {
  return { reason: r, perExecution, level: "L0", rule, reference };
}

/**
 * An interrupt for L1 (its device or timer) arriving while L2 runs: L0 takes the physical exit
 * (nested_vmx_l0_wants_exit) and, when vmcs12 has external-interrupt exiting, synthesizes a
 * nested VM exit into L1 (nested_exit_on_intr, vmx_check_nested_events); otherwise L0 injects
 * it into L2 itself.
 */
export function interruptGoesToL1(setup: NestedSetup, control: Parameters<typeof isControlSet>[1]): boolean {
  return isControlSet(setup.ctx12.controls, control);
}
