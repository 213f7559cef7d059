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
import { isX2apicMsr, X2APIC_MSR, XAPIC_BASE, XAPIC_OFFSET } from "../../vmx/apic";
import { CONTROL, type ControlWords, isControlSet } from "../../vmx/controls";
import { EXIT } from "../../vmx/exitReasons";
import {
  EPT_FAULT_TO_L1_REFERENCE,
  L0_ALWAYS,
  L0_EXCEPTION_VECTORS,
  L0_SIDE_NOT_IN_VMCS02,
  L0_WANTS_REFERENCE,
  L1_APIC_PAGE_IN_L2_REFERENCE,
  L1_NEVER,
  L1_WANTS_CASE,
  L1_WANTS_REFERENCE,
  NESTED_C,
  PF_L0_REFERENCE,
  PF_VECTOR,
  REFLECT_REFERENCE,
  VMCS02_CONTROLS_REFERENCE,
  VMCS02_CR8_EXITING_WITHOUT_TPR_SHADOW,
  VMCS02_MERGED_MSRS,
  VMCS02_MSR_BITMAP_REFERENCE,
  VMCS02_PIN_FROM_VMCS01_ONLY,
  VMCS02_PIN_FROM_VMCS12_ONLY,
  VMCS02_PROC_FROM_VMCS12_ONLY,
  VMCS02_PROC2_FROM_VMCS12_ONLY,
  VMCS02_PROC2_NEVER,
  x2apicPassableInVmcs02,
} from "../../vmx/nested";
import type { ExitReasonDef } from "../../vmx/types";
import { effectiveControls } from "../effective";
import { eptRegionAt, msrBitmapBit, msrInBitmapRange, vmcsLookup } from "../exitLookup";
import { hex } from "../exitRules";
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
  /**
   * vmcs01's fields under vmcs02's control words (prepare_vmcs02_early, vmcs02Controls): the
   * L0 side of an instruction or CR access of L2, where vmcs02 takes some controls from vmcs12
   * only (enable RDTSCP, enable INVPCID, use TPR shadow, …).
   */
  ctx02: ExitContext;
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
  const ctx02: ExitContext = { ...ctx01, controls: vmcs02Controls(ctx12.controls, ctx01.controls) };
  return { program, guest, hypervisor, vmcs12, vmcs01, ctx12, ctx01, ctx02 };
}

/** vmcs02's control words from vmcs12's and vmcs01's effective ones (vmx/nested.ts VMCS02_*). */
export function vmcs02Controls(c12: Readonly<ControlWords>, c01: Readonly<ControlWords>): ControlWords {
  const mask = (refs: readonly { mask: bigint }[]) => refs.reduce((m, r) => m | r.mask, 0n);
  const w: ControlWords = { ...c01 };
  const pi = mask(VMCS02_PIN_FROM_VMCS12_ONLY);
  w.pin = (c01.pin & ~pi) | (c12.pin & ~mask(VMCS02_PIN_FROM_VMCS01_ONLY));
  w.proc = (c01.proc & ~mask(VMCS02_PROC_FROM_VMCS12_ONLY)) | c12.proc;
  if (!isControlSet(w, CONTROL.proc.use_tpr_shadow)) w.proc |= mask(VMCS02_CR8_EXITING_WITHOUT_TPR_SHADOW);
  w.proc |= CONTROL.proc.unconditional_io_exiting.mask;
  w.proc &= ~CONTROL.proc.use_io_bitmaps.mask;
  // vmcs02 uses an MSR bitmap exactly when vmcs12 does (nested_vmx_prepare_msr_bitmap returns
  // false otherwise and nested_get_vmcs12_pages clears the control: every MSR access exits).
  w.proc = (w.proc & ~CONTROL.proc.use_msr_bitmaps.mask) | (c12.proc & CONTROL.proc.use_msr_bitmaps.mask);
  w.proc2 = ((c01.proc2 & ~mask(VMCS02_PROC2_FROM_VMCS12_ONLY)) | c12.proc2) & ~mask(VMCS02_PROC2_NEVER);
  if (w.proc2 !== 0n) w.proc |= CONTROL.proc.activate_secondary_controls.mask;
  return w;
}

const IO_ALWAYS_EXITS = `${NESTED_C} prepare_vmcs02_early (vmcs02 always has unconditional I/O exiting: "A vmexit (to either L1 hypervisor or L0 userspace) is always needed for I/O port accesses")`;

/** Operations whose L0 side reads vmcs02's control words (instructions, CR accesses, PAUSE, MTF). */
const DECIDED_ON_VMCS02_CONTROLS = new Set<GuestOp["op"]>([
  "compute",
  "cpuid",
  "hlt",
  "rdtsc",
  "rdtscp",
  "rdpmc",
  "rdrand",
  "rdseed",
  "invlpg",
  "invpcid",
  "wbinvd",
  "xsetbv",
  "mov_dr",
  "vmcall",
  "mov_cr",
  "read_cr",
  "pause_loop",
  "uses",
  // vmcs02 never has PML (prepare_vmcs02_early): L0's dirty tracking of L2's writes is EPT02
  // write protection, and L1's PML is emulated by L0's nested MMU (nested_ept_inject_page_fault).
  "dirty",
]);

interface L0Side {
  exits: ExitDecision["exits"];
  rule: string;
  /** Every #PF of L2 is L0's (prepare_vmcs02_rare with vmx_need_pf_intercept). */
  pfToL0?: boolean;
}

/**
 * The exits of an L2 operation that vmcs02 causes beyond vmcs12's: vmcs01's intercepts merged as
 * KVM merges them (prepare_vmcs02_early, prepare_vmcs02_rare, nested_vmx_prepare_msr_bitmap).
 */
function l0Side(setup: NestedSetup, op: GuestOp, l0: ExitDecision): L0Side {
  if (op.op === "rdmsr" || op.op === "wrmsr") return msrL0Side(setup, op.msr, op.op === "wrmsr", l0);
  // EOI is a WRMSR of X2APIC_EOI or an MMIO write of the xAPIC page (exitMemory.ts decideEoi).
  if (op.op === "eoi" && setup.guest.apic === "x2apic") return msrL0Side(setup, X2APIC_MSR.EOI, true, l0);
  const gpa =
    op.op === "mmio" || op.op === "mem"
      ? op.gpa
      : op.op === "eoi"
        ? XAPIC_BASE + BigInt(XAPIC_OFFSET.EOI)
        : undefined;
  if (gpa !== undefined && eptRegionAt(vmcsLookup(setup.vmcs01), gpa)?.perms.kind === "apic")
    return l1ApicPageL0Side(setup, gpa);
  if (op.op === "exception" && op.vector === PF_VECTOR) {
    // vmx_need_pf_intercept: vmcs01 intercepts #PF (its bit PF_VECTOR) → vmcs02 has MASK = MATCH = 0
    // and EB.PF = 1; else vmcs02's #PF decision is vmcs12's alone.
    if (((setup.vmcs01.exceptionBitmap >>> PF_VECTOR) & 1) === 1)
      return {
        exits: [{ reason: reason(EXIT.EXCEPTION_NMI), perExecution: 1 }],
        rule: `L0 intercepts #PF itself (vmcs01's exception bitmap has bit ${PF_VECTOR}: vmx_need_pf_intercept), so vmcs02 sets PFEC_MASK = PFEC_MATCH = 0 and every #PF of L2 exits (prepare_vmcs02_rare)`,
        pfToL0: true,
      };
    return { exits: [], rule: l0.rule };
  }
  if (op.op === "mov_cr" && (op.cr === 0 || op.cr === 4) && op.value !== undefined)
    return crL0Side(setup, op.cr, op.value);
  if (DECIDED_ON_VMCS02_CONTROLS.has(op.op)) {
    const d = decideLeaf(op, setup.ctx02);
    const cr8 =
      (op.op === "mov_cr" || op.op === "read_cr") &&
      op.cr === 8 &&
      !isControlSet(setup.ctx12.controls, CONTROL.proc.use_tpr_shadow)
        ? ": vmcs12 has no TPR shadow, so vmcs02 has CR8-load and CR8-store exiting"
        : "";
    return {
      exits: d.exits.filter((e) => !L0_SIDE_NOT_IN_VMCS02.has(e.reason.code)),
      rule: `${d.rule} (vmcs02's controls, ${VMCS02_CONTROLS_REFERENCE}${cr8})`,
    };
  }
  return { exits: l0.exits, rule: l0.rule };
}

/**
 * MOV to CR0/CR4 of a known value under vmcs02's mask and shadow (prepare_vmcs02:
 * CR0_GUEST_HOST_MASK = ~cr0_guest_owned_bits, i.e. vmcs01's mask | vmcs12's; CR0_READ_SHADOW =
 * nested_read_cr0(vmcs12): vmcs12's read shadow in its masked bits, L2's own CR0, vmcs12's
 * GUEST_CR0, in the others; set_cr4_guest_host_mask and nested_read_cr4 likewise). Bits vmcs12
 * masks are its decision (nested_vmx_exit_handled_cr, L1); the L0 side is a change of a bit only
 * vmcs01 masks against L2's CR value. Without vmcs12's GUEST_CRn in the file, vmcs01's read shadow
 * stands in for it.
 */
function crL0Side(setup: NestedSetup, cr: 0 | 4, value: bigint): L0Side {
  const l01 = vmcsLookup(setup.vmcs01);
  const l12 = vmcsLookup(setup.vmcs12);
  const mask01 = cr === 0 ? l01.cr0Mask : l01.cr4Mask;
  const mask12 = cr === 0 ? l12.cr0Mask : l12.cr4Mask;
  const guestField = cr === 0 ? "GUEST_CR0" : "GUEST_CR4";
  const l2Value = setup.vmcs12.fields.get(guestField)?.value;
  const shadow = l2Value ?? (cr === 0 ? l01.cr0Shadow : l01.cr4Shadow);
  const l0Only = mask01 & ~mask12;
  const differing = (value ^ shadow) & l0Only;
  const what = `MOV to CR${cr} of ${hex(value)}`;
  const against =
    l2Value === undefined
      ? `vmcs01's read shadow ${hex(shadow)}`
      : `L2's CR${cr} ${hex(shadow)} (vmcs12's ${guestField})`;
  const ref = `vmcs02's CR${cr} mask is vmcs01's | vmcs12's, its read shadow nested_read_cr${cr}(vmcs12) (${NESTED_C} prepare_vmcs02)`;
  return differing !== 0n
    ? {
        exits: [{ reason: reason(EXIT.CR_ACCESS), perExecution: 1 }],
        rule: `${what} changes bits ${hex(differing)} only L0 owns, against ${against}; ${ref}`,
      }
    : { exits: [], rule: `${what} changes no bit only L0 owns (against ${against}); ${ref}` };
}

/**
 * An L2 access to the page vmcs01 maps as L1's APIC-access page. vmcs02 takes virtualize APIC
 * accesses from vmcs12 only: when vmcs12 virtualizes that page (its own APIC-access page there,
 * the same address in this model), vmcs12's decision is the whole story; otherwise L0 never maps
 * L1's APIC-access page into L2 (L1_APIC_PAGE_IN_L2_REFERENCE) and emulates the access to L1's
 * APIC on an EPT misconfiguration.
 */
function l1ApicPageL0Side(setup: NestedSetup, gpa: bigint): L0Side {
  const c12 = setup.ctx12.controls;
  if (
    isControlSet(c12, CONTROL.proc2.virtualize_apic_accesses) &&
    eptRegionAt(vmcsLookup(setup.vmcs12), gpa)?.perms.kind === "apic"
  )
    return {
      exits: [],
      rule: "vmcs12 virtualizes the APIC-access page (prepare_vmcs02_early: only from vmcs12)",
    };
  return {
    exits: [{ reason: reason(EXIT.EPT_MISCONFIG), perExecution: 1 }],
    rule: `L1's APIC-access page is not mapped into L2, so the access reaches L0 as emulated MMIO (${L1_APIC_PAGE_IN_L2_REFERENCE})`,
  };
}

/** nested_vmx_prepare_msr_bitmap: which MSR accesses of L2 vmcs02's bitmap intercepts. */
function msrL0Side(setup: NestedSetup, msr: number, write: boolean, l0: ExitDecision): L0Side {
  const c12 = setup.ctx12.controls;
  // Without vmcs12's MSR bitmap (or outside the bitmap ranges) every access exits and vmcs12 asks
  // for it (nested_vmx_exit_handled_msr returns true): L1's, in the vmcs12 decision.
  if (!isControlSet(c12, CONTROL.proc.use_msr_bitmaps) || !msrInBitmapRange(msr))
    return { exits: [], rule: l0.rule };
  const l12 = vmcsLookup(setup.vmcs12);
  const l1Passes = !msrBitmapBit(l12, msr, write);
  let passes: boolean;
  if (isX2apicMsr(msr)) {
    passes =
      l1Passes &&
      x2apicPassableInVmcs02(msr, write, {
        x2apicMode: isControlSet(c12, CONTROL.proc2.virtualize_x2apic_mode),
        apicRegisterVirtualization: isControlSet(c12, CONTROL.proc2.apic_register_virtualization),
        vid: isControlSet(c12, CONTROL.proc2.virtual_interrupt_delivery),
      });
  } else {
    const merged = VMCS02_MERGED_MSRS.get(msr);
    const l0Passes =
      isControlSet(setup.ctx01.controls, CONTROL.proc.use_msr_bitmaps) &&
      !msrBitmapBit(vmcsLookup(setup.vmcs01), msr, write);
    passes = merged !== undefined && (write ? merged.write : merged.read) && l1Passes && l0Passes;
  }
  if (passes)
    return { exits: [], rule: `vmcs02's MSR bitmap lets it through (${VMCS02_MSR_BITMAP_REFERENCE})` };
  return {
    exits: [{ reason: reason(write ? EXIT.MSR_WRITE : EXIT.MSR_READ), perExecution: 1 }],
    rule: `vmcs02's MSR bitmap intercepts it whatever vmcs01's says (${VMCS02_MSR_BITMAP_REFERENCE})`,
  };
}

/** Decides one leaf L2 operation (compound ones are walked by the caller). */
export function decideNested(setup: NestedSetup, op: GuestOp): NestedDecision {
  const l1 = decideLeaf(op, setup.ctx12);
  const l0 = decideLeaf(op, setup.ctx01);
  const side = l0Side(setup, op, l0);
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
  for (const e of side.exits) if (!(ept12Faults && isEpt(e.reason.code))) add(e.reason, 0, e.perExecution);
  if ((op.op === "in" || op.op === "out") && !perReason.has(EXIT.IO_INSTRUCTION))
    add(reason(EXIT.IO_INSTRUCTION), 0, 1);

  for (const { reason: r, pe12, pe01 } of perReason.values()) {
    const total = Math.max(pe12, pe01);
    const l0Why = L0_ALWAYS.get(r.code);
    const l1Case = L1_WANTS_CASE.get(r.code) ?? "default: return true";
    if (l0Why !== undefined) {
      if ((isEpt(r.code) || r.code === EXIT.PML_FULL) && pe12 > 0) {
        exits.push({
          reason: r,
          perExecution: pe12,
          level: "L1",
          rule:
            r.code === EXIT.PML_FULL
              ? `handled by L1: L0's nested MMU logs L2's writes into L1's PML buffer and, when it is full, synthesizes the PML-full exit into L1 (vmcs12: ${l1.rule}; nested_ept_inject_page_fault with vmx->nested.pml_full); ${l0Why}`
              : `handled by L1: the fault is in L1's EPT12 (vmcs12: ${l1.rule}); L0 takes the exit first (${l0Why}) and reflects it`,
          reference: EPT_FAULT_TO_L1_REFERENCE,
        });
        if (total - pe12 > 0)
          exits.push(l0Exit(r, total - pe12, `handled by L0: ${l0Why}`, L0_WANTS_REFERENCE));
      } else exits.push(l0Exit(r, total, `handled by L0: ${l0Why}`, L0_WANTS_REFERENCE));
      continue;
    }
    if (r.code === EXIT.EXCEPTION_NMI && op.op === "exception") {
      if (op.vector === 2) {
        exits.push(l0Exit(r, total, "handled by L0: an NMI is always L0's (is_nmi)", L0_WANTS_REFERENCE));
        continue;
      }
      if (side.pfToL0) {
        exits.push(
          l0Exit(
            r,
            total,
            `handled by L0: ${side.rule}; nested_vmx_l0_wants_exit keeps it (is_page_fault: vmx_need_pf_intercept) and L0's MMU injects a fault meant for L1 as a nested exit (nested_vmx_is_page_fault_vmexit)`,
            PF_L0_REFERENCE,
          ),
        );
        continue;
      }
      const vectorWhy = L0_EXCEPTION_VECTORS.get(op.vector);
      if (vectorWhy !== undefined) {
        exits.push(l0Exit(r, total, `handled by L0: ${vectorWhy}`, L0_WANTS_REFERENCE));
        continue;
      }
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
    const from =
      r.code === EXIT.IO_INSTRUCTION && pe01 === 1 && !side.exits.length ? IO_ALWAYS_EXITS : side.rule;
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
