/**
 * G1–G12: VM entry's checks on the guest-state area (SDM Vol. 3C §27.3.1, §26.3.1 in pre-2023
 * editions) on every guest-state field the file sets. KVM checks part of them in software for a
 * nested guest (`nested_vmx_check_guest_state` and `nested_check_guest_non_reg_state`) and leaves
 * the rest to the processor's own checks of vmcs02; kvm-unit-tests x86/vmx_tests.c tests them
 * (`vmx_guest_state_area_test`). A field the file leaves unset is assumed valid
 * (and valid together with the fields it does set): a rule reads only fields the file sets and
 * controls, which always have a value (named or raw words, through the VmcsView).
 */
import type { Diagnostic, Span } from "../../source";
import { supportsActivityState } from "../../vmx/capabilities";
import {
  ACTIVITY_HLT,
  ACTIVITY_STATES,
  AR_DPL_BITS,
  AR_DPL_SHIFT,
  AR_L,
  AR_UNUSABLE,
  BNDCFGS_RESERVED,
  beyondWidth,
  bitOf,
  CR0,
  CR4,
  DEBUGCTL_RESERVED,
  DESCRIPTOR_TABLE_LIMIT_MAX,
  DR7_RESERVED,
  EFER,
  EFER_RESERVED,
  ENTRY_EVENT,
  INTERRUPTIBILITY,
  INTERRUPTIBILITY_RESERVED,
  isCanonical,
  LOW_32,
  PAGE_OFFSET_BITS,
  PENDING_DEBUG_RESERVED,
  RFLAGS,
  RFLAGS_RESERVED0,
  SELECTOR_RPL,
  SELECTOR_TI,
  VMCS_LINK_POINTER_UNUSED,
} from "../../vmx/stateChecks";
import type { ControlRef, EntryRule, VmcsView } from "./context";
import { hex } from "./context";
import { fixedBitsMessage, linearAddressBits, patMessage } from "./hostStateArea";
import { NESTED } from "./references";

const SDM_GUEST_CR =
  "SDM Vol. 3C §27.3.1.1, checks on guest control registers, debug registers and MSRs (§26.3.1.1 in pre-2023 editions)";
const SDM_GUEST_SEG =
  "SDM Vol. 3C §27.3.1.2–27.3.1.3, checks on guest segment and descriptor-table registers (§26.3.1.2–26.3.1.3 in pre-2023 editions)";
const SDM_GUEST_RIP =
  "SDM Vol. 3C §27.3.1.4, checks on guest RIP, RFLAGS and SSP (§26.3.1.4 in pre-2023 editions)";
const SDM_GUEST_NONREG =
  "SDM Vol. 3C §27.3.1.5, checks on guest non-register state (§26.3.1.5 in pre-2023 editions)";
const KVM = `${NESTED} nested_vmx_check_guest_state`;
const KUT = "kvm-unit-tests x86/vmx_tests.c";

const PROC2_UNRESTRICTED_GUEST = ["proc2", "unrestricted_guest"] as const satisfies ControlRef;
const ENTRY_IA32E_MODE_GUEST = ["entry", "ia32e_mode_guest"] as const satisfies ControlRef;
const ENTRY_LOAD_DEBUG_CONTROLS = ["entry", "load_debug_controls"] as const satisfies ControlRef;
const ENTRY_LOAD_IA32_EFER = ["entry", "load_ia32_efer"] as const satisfies ControlRef;
const ENTRY_LOAD_IA32_PAT = ["entry", "load_ia32_pat"] as const satisfies ControlRef;
const ENTRY_LOAD_IA32_BNDCFGS = ["entry", "load_ia32_bndcfgs"] as const satisfies ControlRef;
const PIN_VIRTUAL_NMIS = ["pin", "virtual_nmis"] as const satisfies ControlRef;

function report(
  out: Diagnostic[],
  rule: string,
  span: Span,
  message: string,
  reference: string,
  view?: VmcsView,
  control?: ControlRef,
  present = true,
): void {
  out.push({
    severity: "error",
    code: `VMX-${rule}`,
    message: `${message} (rule ${rule})`,
    span,
    reference,
    ...(view && control
      ? {
          related: [
            view.relatedTo(control, `${control[1]} (${control[0]}) is ${present ? "set" : "not set"} here`),
          ],
        }
      : {}),
  });
}

/** The injected event's type when the file sets VM_ENTRY_INTR_INFO_FIELD with the valid bit. */
function injectedType(view: VmcsView): number | undefined {
  const info = view.field("VM_ENTRY_INTR_INFO_FIELD");
  if (!info || !bitOf(info.value, ENTRY_EVENT.VALID)) return undefined;
  return Number((info.value >> BigInt(ENTRY_EVENT.TYPE_SHIFT)) & ENTRY_EVENT.TYPE_BITS);
}

const G1_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (nested_guest_cr0_valid, nested_guest_cr4_valid)`;

export const GUEST_CONTROL_REGISTERS: EntryRule = {
  id: "G1",
  codes: ["VMX-G1"],
  rules: ["G1"],
  title:
    "GUEST_CR0 and GUEST_CR4 respect IA32_VMX_CR0_FIXED0/1 and IA32_VMX_CR4_FIXED0/1, except that `unrestricted_guest` lets CR0.PE and CR0.PG be 0; GUEST_CR0.PG = 1 ⇒ GUEST_CR0.PE = 1.",
  reference: G1_REFERENCE,
  check(view, out) {
    const msrs = view.target.msrs;
    const cr0 = view.field("GUEST_CR0");
    if (cr0) {
      const unrestricted = view.has(PROC2_UNRESTRICTED_GUEST);
      const relaxed = unrestricted ? (1n << BigInt(CR0.PE)) | (1n << BigInt(CR0.PG)) : 0n;
      const message = fixedBitsMessage(
        "GUEST_CR0",
        cr0.value,
        msrs.IA32_VMX_CR0_FIXED0 & ~relaxed,
        msrs.IA32_VMX_CR0_FIXED1,
        "CR0",
      );
      if (message)
        report(
          out,
          "G1",
          cr0.span,
          unrestricted ? message : `${message} (unrestricted_guest would let PE and PG be 0)`,
          G1_REFERENCE,
        );
      else if (bitOf(cr0.value, CR0.PG) && !bitOf(cr0.value, CR0.PE))
        report(
          out,
          "G1",
          cr0.span,
          `GUEST_CR0 = ${hex(cr0.value)}: PG (bit 31) = 1 requires PE (bit 0) = 1`,
          G1_REFERENCE,
        );
    }
    const cr4 = view.field("GUEST_CR4");
    if (cr4) {
      const message = fixedBitsMessage(
        "GUEST_CR4",
        cr4.value,
        msrs.IA32_VMX_CR4_FIXED0,
        msrs.IA32_VMX_CR4_FIXED1,
        "CR4",
      );
      if (message) report(out, "G1", cr4.span, message, G1_REFERENCE);
    }
  },
};

const G2_REFERENCE = `${SDM_GUEST_CR}; ${KUT} test_guest_efer`;

export const GUEST_PAGING_MODE: EntryRule = {
  id: "G2",
  codes: ["VMX-G2"],
  rules: ["G2"],
  title:
    "`ia32e_mode_guest` (entry) ⇒ GUEST_CR0.PG = 1 and GUEST_CR4.PAE = 1; without it, GUEST_CR4.PCIDE = 0.",
  reference: G2_REFERENCE,
  check(view, out) {
    const ia32e = view.has(ENTRY_IA32E_MODE_GUEST);
    const cr0 = view.field("GUEST_CR0");
    if (cr0 && ia32e && !bitOf(cr0.value, CR0.PG))
      report(
        out,
        "G2",
        cr0.span,
        `GUEST_CR0 = ${hex(cr0.value)}: PG (bit 31) must be 1 with ia32e_mode_guest (entry)`,
        G2_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
      );
    const cr4 = view.field("GUEST_CR4");
    if (cr4 && ia32e && !bitOf(cr4.value, CR4.PAE))
      report(
        out,
        "G2",
        cr4.span,
        `GUEST_CR4 = ${hex(cr4.value)}: PAE (bit 5) must be 1 with ia32e_mode_guest (entry)`,
        G2_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
      );
    if (cr4 && !ia32e && bitOf(cr4.value, CR4.PCIDE))
      report(
        out,
        "G2",
        cr4.span,
        `GUEST_CR4 = ${hex(cr4.value)}: PCIDE (bit 17) must be 0 without ia32e_mode_guest (entry)`,
        G2_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
        false,
      );
  },
};

const GUEST_CANONICAL_FIELDS = [
  "GUEST_SYSENTER_ESP",
  "GUEST_SYSENTER_EIP",
  "GUEST_FS_BASE",
  "GUEST_GS_BASE",
  "GUEST_LDTR_BASE",
  "GUEST_TR_BASE",
  "GUEST_GDTR_BASE",
  "GUEST_IDTR_BASE",
] as const;

const G3_REFERENCE = `${SDM_GUEST_CR}; ${SDM_GUEST_SEG}; ${NESTED} nested_vmx_load_cr3 (kvm_vcpu_is_legal_cr3); ${KUT} test_guest_segment_base_addr_fields`;

export const GUEST_CR3_SYSENTER: EntryRule = {
  id: "G3",
  codes: ["VMX-G3"],
  rules: ["G3"],
  title:
    "GUEST_CR3 sets no bit at or above MAXPHYADDR; GUEST_SYSENTER_ESP/EIP and the FS, GS, LDTR, TR, GDTR and IDTR bases are canonical; GUEST_GDTR_LIMIT and GUEST_IDTR_LIMIT bits 31:16 = 0.",
  reference: G3_REFERENCE,
  check(view, out) {
    const cr3 = view.field("GUEST_CR3");
    if (cr3 && beyondWidth(cr3.value, view.maxPhysAddrBits) !== 0n)
      report(
        out,
        "G3",
        cr3.span,
        `GUEST_CR3 = ${hex(cr3.value)} sets bits at or above MAXPHYADDR (${view.maxPhysAddrBits} bits on this target)`,
        G3_REFERENCE,
      );
    const width = linearAddressBits(view);
    for (const name of GUEST_CANONICAL_FIELDS) {
      const field = view.field(name);
      if (field && !isCanonical(field.value, width))
        report(
          out,
          "G3",
          field.span,
          `${name} = ${hex(field.value)} is not canonical (${width}-bit linear addresses on this target)`,
          G3_REFERENCE,
        );
    }
    for (const name of ["GUEST_GDTR_LIMIT", "GUEST_IDTR_LIMIT"]) {
      const field = view.field(name);
      if (field && field.value > DESCRIPTOR_TABLE_LIMIT_MAX)
        report(out, "G3", field.span, `${name} = ${hex(field.value)}: bits 31:16 must be 0`, G3_REFERENCE);
    }
  },
};

const G4_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (kvm_dr7_valid, arch/x86/kvm/x86.h)`;

export const GUEST_DEBUG_CONTROLS: EntryRule = {
  id: "G4",
  codes: ["VMX-G4"],
  rules: ["G4"],
  title:
    "`load_debug_controls` (entry) ⇒ GUEST_DR7 bits 63:32 = 0 and GUEST_IA32_DEBUGCTL sets no bit reserved on every model (5:3, 63:16).",
  reference: G4_REFERENCE,
  when: ENTRY_LOAD_DEBUG_CONTROLS,
  check(view, out) {
    if (!view.has(ENTRY_LOAD_DEBUG_CONTROLS)) return;
    const dr7 = view.field("GUEST_DR7");
    if (dr7 && (dr7.value & DR7_RESERVED) !== 0n)
      report(
        out,
        "G4",
        dr7.span,
        `GUEST_DR7 = ${hex(dr7.value)}: bits 63:32 must be 0 with load_debug_controls (entry)`,
        G4_REFERENCE,
        view,
        ENTRY_LOAD_DEBUG_CONTROLS,
      );
    const debugctl = view.field("GUEST_IA32_DEBUGCTL");
    if (debugctl && (debugctl.value & DEBUGCTL_RESERVED) !== 0n)
      report(
        out,
        "G4",
        debugctl.span,
        `GUEST_IA32_DEBUGCTL = ${hex(debugctl.value)} sets reserved bits ${hex(debugctl.value & DEBUGCTL_RESERVED)} with load_debug_controls (entry)`,
        G4_REFERENCE,
        view,
        ENTRY_LOAD_DEBUG_CONTROLS,
      );
  },
};

const G5_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (kvm_valid_efer); ${KUT} test_guest_efer`;

export const GUEST_EFER: EntryRule = {
  id: "G5",
  codes: ["VMX-G5"],
  rules: ["G5"],
  title:
    "`load_ia32_efer` (entry) ⇒ GUEST_IA32_EFER sets no reserved bit, its LMA (bit 10) = `ia32e_mode_guest`, and, when GUEST_CR0.PG = 1, its LME (bit 8) = `ia32e_mode_guest` too (LME only when the file sets GUEST_CR0).",
  reference: G5_REFERENCE,
  when: ENTRY_LOAD_IA32_EFER,
  check(view, out) {
    const efer = view.field("GUEST_IA32_EFER");
    if (!efer || !view.has(ENTRY_LOAD_IA32_EFER)) return;
    const reserved = efer.value & EFER_RESERVED;
    if (reserved !== 0n) {
      report(
        out,
        "G5",
        efer.span,
        `GUEST_IA32_EFER = ${hex(efer.value)} sets reserved bits ${hex(reserved)}`,
        G5_REFERENCE,
        view,
        ENTRY_LOAD_IA32_EFER,
      );
      return;
    }
    const ia32e = view.has(ENTRY_IA32E_MODE_GUEST);
    const want = ia32e ? 1 : 0;
    if (bitOf(efer.value, EFER.LMA) !== ia32e)
      report(
        out,
        "G5",
        efer.span,
        `GUEST_IA32_EFER = ${hex(efer.value)}: LMA (bit 10) must equal ia32e_mode_guest (entry) = ${want}`,
        G5_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
        ia32e,
      );
    const cr0 = view.field("GUEST_CR0");
    if (cr0 && bitOf(cr0.value, CR0.PG) && bitOf(efer.value, EFER.LME) !== ia32e)
      report(
        out,
        "G5",
        efer.span,
        `GUEST_IA32_EFER = ${hex(efer.value)}: with GUEST_CR0.PG = 1, LME (bit 8) must equal ia32e_mode_guest (entry) = ${want}`,
        G5_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
        ia32e,
      );
  },
};

const G6_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (kvm_pat_valid, arch/x86/kvm/x86.h); ${KUT} test_load_guest_pat`;

export const GUEST_PAT: EntryRule = {
  id: "G6",
  codes: ["VMX-G6"],
  rules: ["G6"],
  title: "`load_ia32_pat` (entry) ⇒ every entry of GUEST_IA32_PAT is a memory type: 0, 1, 4, 5, 6 or 7.",
  reference: G6_REFERENCE,
  when: ENTRY_LOAD_IA32_PAT,
  check(view, out) {
    const pat = view.field("GUEST_IA32_PAT");
    if (!pat || !view.has(ENTRY_LOAD_IA32_PAT)) return;
    const message = patMessage("GUEST_IA32_PAT", pat.value);
    if (message) report(out, "G6", pat.span, message, G6_REFERENCE, view, ENTRY_LOAD_IA32_PAT);
  },
};

const G7_REFERENCE = `${SDM_GUEST_RIP} (the processor's checks: KVM leaves them to vmcs02)`;

export const GUEST_RIP_RFLAGS: EntryRule = {
  id: "G7",
  codes: ["VMX-G7"],
  rules: ["G7"],
  title:
    "GUEST_RFLAGS: bit 1 = 1, bits 3, 5, 15 and 63:22 = 0; VM (bit 17) = 0 with `ia32e_mode_guest` or GUEST_CR0.PE = 0; IF (bit 9) = 1 when injecting an external interrupt. GUEST_RIP: bits 63:32 = 0 without `ia32e_mode_guest` or with GUEST_CS_AR_BYTES.L = 0; canonical otherwise.",
  reference: G7_REFERENCE,
  check(view, out) {
    const ia32e = view.has(ENTRY_IA32E_MODE_GUEST);
    const rflags = view.field("GUEST_RFLAGS");
    if (rflags) {
      const value = rflags.value;
      const cr0 = view.field("GUEST_CR0");
      if (!bitOf(value, RFLAGS.FIXED1) || (value & RFLAGS_RESERVED0) !== 0n)
        report(
          out,
          "G7",
          rflags.span,
          `GUEST_RFLAGS = ${hex(value)}: bit 1 must be 1 and bits 3, 5, 15 and 63:22 must be 0`,
          G7_REFERENCE,
        );
      else if (bitOf(value, RFLAGS.VM) && ia32e)
        report(
          out,
          "G7",
          rflags.span,
          `GUEST_RFLAGS = ${hex(value)}: VM (bit 17) must be 0 with ia32e_mode_guest (entry)`,
          G7_REFERENCE,
          view,
          ENTRY_IA32E_MODE_GUEST,
        );
      else if (bitOf(value, RFLAGS.VM) && cr0 && !bitOf(cr0.value, CR0.PE))
        report(
          out,
          "G7",
          rflags.span,
          `GUEST_RFLAGS = ${hex(value)}: VM (bit 17) must be 0 while GUEST_CR0.PE = 0`,
          G7_REFERENCE,
        );
      else if (!bitOf(value, RFLAGS.IF) && injectedType(view) === ENTRY_EVENT.EXTERNAL_INTERRUPT)
        report(
          out,
          "G7",
          rflags.span,
          `GUEST_RFLAGS = ${hex(value)}: IF (bit 9) must be 1 when VM_ENTRY_INTR_INFO_FIELD injects an external interrupt`,
          G7_REFERENCE,
        );
    }
    const rip = view.field("GUEST_RIP");
    if (!rip) return;
    const cs = view.field("GUEST_CS_AR_BYTES");
    const longMode = ia32e && (cs === undefined || bitOf(cs.value, AR_L));
    if (!longMode && rip.value > LOW_32)
      report(
        out,
        "G7",
        rip.span,
        `GUEST_RIP = ${hex(rip.value)}: bits 63:32 must be 0 ${ia32e ? "while GUEST_CS_AR_BYTES.L (bit 13) = 0" : "without ia32e_mode_guest (entry)"}`,
        G7_REFERENCE,
        view,
        ENTRY_IA32E_MODE_GUEST,
        ia32e,
      );
    else if (longMode && !isCanonical(rip.value, linearAddressBits(view)))
      report(
        out,
        "G7",
        rip.span,
        `GUEST_RIP = ${hex(rip.value)} is not canonical (${linearAddressBits(view)}-bit linear addresses on this target)`,
        G7_REFERENCE,
      );
  },
};

const G8_REFERENCE = `${SDM_GUEST_NONREG}; ${NESTED} nested_check_guest_non_reg_state (KVM offers L1 only active and HLT)`;

export const GUEST_ACTIVITY_STATE: EntryRule = {
  id: "G8",
  codes: ["VMX-G8"],
  rules: ["G8"],
  title:
    "GUEST_ACTIVITY_STATE is 0 (active) or a state IA32_VMX_MISC bits 8:6 say the target supports (1 HLT, 2 shutdown, 3 wait-for-SIPI); HLT ⇒ GUEST_SS_AR_BYTES.DPL = 0.",
  reference: G8_REFERENCE,
  check(view, out) {
    const activity = view.field("GUEST_ACTIVITY_STATE");
    if (!activity) return;
    const state = Number(activity.value);
    if (activity.value >= BigInt(ACTIVITY_STATES.length) || !supportsActivityState(view.target.msrs, state)) {
      const name = ACTIVITY_STATES[state];
      report(
        out,
        "G8",
        activity.span,
        name === undefined
          ? `GUEST_ACTIVITY_STATE = ${activity.value} is not an activity state (0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI)`
          : `GUEST_ACTIVITY_STATE = ${state} (${name}) is not supported by this target (IA32_VMX_MISC bit ${5 + state} is 0)`,
        G8_REFERENCE,
      );
      return;
    }
    const ss = view.field("GUEST_SS_AR_BYTES");
    if (state === ACTIVITY_HLT && ss && ((ss.value >> BigInt(AR_DPL_SHIFT)) & AR_DPL_BITS) !== 0n)
      report(
        out,
        "G8",
        activity.span,
        `GUEST_ACTIVITY_STATE = 1 (HLT) requires SS.DPL = 0; GUEST_SS_AR_BYTES = ${hex(ss.value)} has DPL ${(ss.value >> BigInt(AR_DPL_SHIFT)) & AR_DPL_BITS}`,
        G8_REFERENCE,
      );
  },
};

const G9_REFERENCE = `${SDM_GUEST_NONREG} (the processor's checks: KVM leaves them to vmcs02)`;

export const GUEST_INTERRUPTIBILITY: EntryRule = {
  id: "G9",
  codes: ["VMX-G9"],
  rules: ["G9"],
  title:
    "GUEST_INTERRUPTIBILITY_INFO: bits 31:5 = 0; not both blocking by STI (bit 0) and by MOV SS (bit 1); STI blocking only with GUEST_RFLAGS.IF = 1; neither when injecting an external interrupt, no MOV-SS blocking when injecting an NMI; blocking by SMI (bit 2) = 0 (Trapline's VM entries are not from SMM, N9); with `virtual_nmis`, NMI blocking (bit 3) = 0 when injecting an NMI.",
  reference: G9_REFERENCE,
  check(view, out) {
    const field = view.field("GUEST_INTERRUPTIBILITY_INFO");
    if (!field) return;
    const value = field.value;
    const say = (message: string) =>
      report(out, "G9", field.span, `GUEST_INTERRUPTIBILITY_INFO = ${hex(value)}: ${message}`, G9_REFERENCE);
    const sti = bitOf(value, INTERRUPTIBILITY.STI);
    const movSs = bitOf(value, INTERRUPTIBILITY.MOV_SS);
    const event = injectedType(view);
    const rflags = view.field("GUEST_RFLAGS");
    if ((value & INTERRUPTIBILITY_RESERVED) !== 0n) say("bits 31:5 are reserved and must be 0");
    else if (sti && movSs) say("blocking by STI (bit 0) and by MOV SS (bit 1) cannot both be 1");
    else if (sti && rflags && !bitOf(rflags.value, RFLAGS.IF))
      say("blocking by STI (bit 0) requires GUEST_RFLAGS.IF (bit 9) = 1");
    else if ((sti || movSs) && event === ENTRY_EVENT.EXTERNAL_INTERRUPT)
      say("blocking by STI and MOV SS (bits 1:0) must be 0 when injecting an external interrupt");
    else if (movSs && event === ENTRY_EVENT.NMI)
      say("blocking by MOV SS (bit 1) must be 0 when injecting an NMI");
    else if (bitOf(value, INTERRUPTIBILITY.SMI)) say("blocking by SMI (bit 2) must be 0 outside SMM");
    else if (bitOf(value, INTERRUPTIBILITY.NMI) && event === ENTRY_EVENT.NMI && view.has(PIN_VIRTUAL_NMIS))
      say("blocking by NMI (bit 3) must be 0 when injecting an NMI with virtual_nmis (pin)");
  },
};

const G10_REFERENCE = `${SDM_GUEST_NONREG} (the processor's check: KVM leaves it to vmcs02)`;

export const GUEST_PENDING_DEBUG: EntryRule = {
  id: "G10",
  codes: ["VMX-G10"],
  rules: ["G10"],
  title: "GUEST_PENDING_DBG_EXCEPTIONS: reserved bits 11:4, 13, 15 and 63:17 = 0.",
  reference: G10_REFERENCE,
  check(view, out) {
    const field = view.field("GUEST_PENDING_DBG_EXCEPTIONS");
    if (field && (field.value & PENDING_DEBUG_RESERVED) !== 0n)
      report(
        out,
        "G10",
        field.span,
        `GUEST_PENDING_DBG_EXCEPTIONS = ${hex(field.value)} sets reserved bits ${hex(field.value & PENDING_DEBUG_RESERVED)}`,
        G10_REFERENCE,
      );
  },
};

const G11_REFERENCE = `${SDM_GUEST_NONREG}; ${NESTED} nested_vmx_check_vmcs_link_ptr (page_address_valid)`;

export const GUEST_VMCS_LINK_POINTER: EntryRule = {
  id: "G11",
  codes: ["VMX-G11"],
  rules: ["G11"],
  title:
    "VMCS_LINK_POINTER other than FFFFFFFF_FFFFFFFFH (unused) is a valid page address: bits 11:0 = 0, no bit at or above MAXPHYADDR.",
  reference: G11_REFERENCE,
  check(view, out) {
    const link = view.field("VMCS_LINK_POINTER");
    if (!link || link.value === VMCS_LINK_POINTER_UNUSED) return;
    const misaligned = (link.value & PAGE_OFFSET_BITS) !== 0n;
    const wide = beyondWidth(link.value, view.maxPhysAddrBits) !== 0n;
    if (misaligned || wide)
      report(
        out,
        "G11",
        link.span,
        `VMCS_LINK_POINTER = ${hex(link.value)} is neither FFFFFFFF_FFFFFFFFH (unused) nor a valid page address (${misaligned ? "bits 11:0 must be 0" : `bits at or above MAXPHYADDR (${view.maxPhysAddrBits}) set`})`,
        G11_REFERENCE,
      );
  },
};

const G13_REFERENCE = `${SDM_GUEST_SEG}; ${KUT} test_guest_segment_sel_fields (the processor's checks: KVM leaves them to vmcs02)`;

export const GUEST_SELECTORS: EntryRule = {
  id: "G13",
  codes: ["VMX-G13"],
  rules: ["G13"],
  title:
    "Guest selectors: GUEST_TR_SELECTOR TI (bit 2) = 0; GUEST_LDTR_SELECTOR TI = 0 when GUEST_LDTR_AR_BYTES says LDTR is usable; without `unrestricted_guest` and outside virtual-8086 mode, GUEST_SS_SELECTOR RPL = GUEST_CS_SELECTOR RPL.",
  reference: G13_REFERENCE,
  check(view, out) {
    const tr = view.field("GUEST_TR_SELECTOR");
    if (tr && bitOf(tr.value, SELECTOR_TI))
      report(
        out,
        "G13",
        tr.span,
        `GUEST_TR_SELECTOR = ${hex(tr.value)}: TI (bit 2) must be 0`,
        G13_REFERENCE,
      );
    const ldtr = view.field("GUEST_LDTR_SELECTOR");
    const ldtrAr = view.field("GUEST_LDTR_AR_BYTES");
    if (ldtr && ldtrAr && !bitOf(ldtrAr.value, AR_UNUSABLE) && bitOf(ldtr.value, SELECTOR_TI))
      report(
        out,
        "G13",
        ldtr.span,
        `GUEST_LDTR_SELECTOR = ${hex(ldtr.value)}: TI (bit 2) must be 0 while LDTR is usable (GUEST_LDTR_AR_BYTES bit 16 = 0)`,
        G13_REFERENCE,
      );
    const cs = view.field("GUEST_CS_SELECTOR");
    const ss = view.field("GUEST_SS_SELECTOR");
    const rflags = view.field("GUEST_RFLAGS");
    const v86 = rflags !== undefined && bitOf(rflags.value, RFLAGS.VM);
    if (
      cs &&
      ss &&
      !v86 &&
      !view.has(PROC2_UNRESTRICTED_GUEST) &&
      (cs.value & SELECTOR_RPL) !== (ss.value & SELECTOR_RPL)
    )
      report(
        out,
        "G13",
        ss.span,
        `GUEST_SS_SELECTOR = ${hex(ss.value)}: its RPL must equal GUEST_CS_SELECTOR's (${cs.value & SELECTOR_RPL}) without unrestricted_guest`,
        G13_REFERENCE,
        view,
        PROC2_UNRESTRICTED_GUEST,
        false,
      );
  },
};

const G14_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (MSR_IA32_BNDCFGS_RSVD, is_noncanonical_address); ${KUT} test_load_guest_bndcfgs`;

export const GUEST_BNDCFGS: EntryRule = {
  id: "G14",
  codes: ["VMX-G14"],
  rules: ["G14"],
  title:
    "`load_ia32_bndcfgs` (entry) ⇒ GUEST_BNDCFGS reserved bits 11:2 = 0 and its bound-directory base (bits 63:12) canonical.",
  reference: G14_REFERENCE,
  when: ENTRY_LOAD_IA32_BNDCFGS,
  check(view, out) {
    const field = view.field("GUEST_BNDCFGS");
    if (!field || !view.has(ENTRY_LOAD_IA32_BNDCFGS)) return;
    const reserved = field.value & BNDCFGS_RESERVED;
    if (reserved !== 0n || !isCanonical(field.value & ~PAGE_OFFSET_BITS, linearAddressBits(view)))
      report(
        out,
        "G14",
        field.span,
        `GUEST_BNDCFGS = ${hex(field.value)}: ${reserved !== 0n ? `sets reserved bits ${hex(reserved)}` : "the base (bits 63:12) is not canonical"}`,
        G14_REFERENCE,
        view,
        ENTRY_LOAD_IA32_BNDCFGS,
      );
  },
};

export const GUEST_STATE_AREA_RULES: readonly EntryRule[] = [
  GUEST_CONTROL_REGISTERS,
  GUEST_PAGING_MODE,
  GUEST_CR3_SYSENTER,
  GUEST_DEBUG_CONTROLS,
  GUEST_EFER,
  GUEST_PAT,
  GUEST_RIP_RFLAGS,
  GUEST_ACTIVITY_STATE,
  GUEST_INTERRUPTIBILITY,
  GUEST_PENDING_DEBUG,
  GUEST_VMCS_LINK_POINTER,
  GUEST_SELECTORS,
  GUEST_BNDCFGS,
];
