/**
 * VM entry's checks on the guest-state area (SDM Vol. 3C §27.3.1, §26.3.1 in pre-2023 editions) on
 * every guest-state field the file sets, in the order VM entry checks them: the registers
 * (guestRegisters.ts), RIP and RFLAGS (G7), the segments (guestSegments.ts), the non-register
 * state (G8–G11) and the PDPTEs. KVM checks part of them in software for a nested guest
 * (`nested_vmx_check_guest_state` and `nested_check_guest_non_reg_state`) and leaves the rest to
 * the processor's own checks of vmcs02; kvm-unit-tests x86/vmx_tests.c tests them
 * (`vmx_guest_state_area_test`). A field the file leaves unset is assumed valid (and valid
 * together with the fields it does set): a rule reads only fields the file sets and controls,
 * which always have a value (named or raw words, through the VmcsView).
 */
import { supportsActivityState } from "../../vmx/capabilities";
import {
  ACTIVITY_HLT,
  ACTIVITY_STATES,
  AR_DPL_BITS,
  AR_DPL_SHIFT,
  AR_L,
  beyondWidth,
  bitOf,
  CR0,
  DEBUGCTL_BTF,
  ENTRY_EVENT,
  INTERRUPTIBILITY,
  INTERRUPTIBILITY_RESERVED,
  isCanonical,
  LOW_32,
  PAGE_OFFSET_BITS,
  PENDING_DEBUG_BS,
  PENDING_DEBUG_RESERVED,
  RFLAGS,
  RFLAGS_RESERVED0,
  VMCS_LINK_POINTER_UNUSED,
} from "../../vmx/stateChecks";
import type { EntryRule } from "./context";
import { hex, reportState as report } from "./context";
import {
  ENTRY_IA32E_MODE_GUEST,
  injectedType,
  PIN_VIRTUAL_NMIS,
  SDM_GUEST_NONREG,
  SDM_GUEST_RIP,
} from "./guestCommon";
import {
  GUEST_BNDCFGS,
  GUEST_CONTROL_REGISTERS,
  GUEST_CR3_SYSENTER,
  GUEST_DEBUG_CONTROLS,
  GUEST_EFER,
  GUEST_PAGING_MODE,
  GUEST_PAT,
  GUEST_PDPTES,
  GUEST_PERF_GLOBAL_CTRL,
  GUEST_RTIT_CTL,
} from "./guestRegisters";
import { GUEST_SEGMENT_RULES } from "./guestSegments";
import { linearAddressBits } from "./hostStateArea";
import { NESTED } from "./references";

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
          : `GUEST_ACTIVITY_STATE = ${state} (${name}) is not supported by ${view.target.profile.name} (IA32_VMX_MISC bit ${5 + state} is 0)`,
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
  title:
    "GUEST_PENDING_DBG_EXCEPTIONS: reserved bits 11:4, 13, 15 and 63:17 = 0; with STI or MOV-SS blocking (the file's GUEST_INTERRUPTIBILITY_INFO) or GUEST_ACTIVITY_STATE = HLT, BS (bit 14) = 1 exactly when GUEST_RFLAGS.TF = 1 and GUEST_IA32_DEBUGCTL.BTF = 0 (BTF taken from the file; when it leaves DEBUGCTL unset, only TF = 0 ⇒ BS = 0 is checked).",
  reference: G10_REFERENCE,
  check(view, out) {
    const field = view.field("GUEST_PENDING_DBG_EXCEPTIONS");
    if (!field) return;
    if ((field.value & PENDING_DEBUG_RESERVED) !== 0n) {
      report(
        out,
        "G10",
        field.span,
        `GUEST_PENDING_DBG_EXCEPTIONS = ${hex(field.value)} sets reserved bits ${hex(field.value & PENDING_DEBUG_RESERVED)}`,
        G10_REFERENCE,
      );
      return;
    }
    const interruptibility = view.field("GUEST_INTERRUPTIBILITY_INFO");
    const activity = view.field("GUEST_ACTIVITY_STATE");
    const blocked =
      (interruptibility !== undefined &&
        (bitOf(interruptibility.value, INTERRUPTIBILITY.STI) ||
          bitOf(interruptibility.value, INTERRUPTIBILITY.MOV_SS))) ||
      (activity !== undefined && activity.value === BigInt(ACTIVITY_HLT));
    const rflags = view.field("GUEST_RFLAGS");
    if (!blocked || !rflags) return;
    const tf = bitOf(rflags.value, RFLAGS.TF);
    const debugctl = view.field("GUEST_IA32_DEBUGCTL");
    const btf = debugctl === undefined ? undefined : bitOf(debugctl.value, DEBUGCTL_BTF);
    const bs = bitOf(field.value, PENDING_DEBUG_BS);
    const why = "with STI/MOV-SS blocking or HLT";
    if (bs && (!tf || btf === true))
      report(
        out,
        "G10",
        field.span,
        `GUEST_PENDING_DBG_EXCEPTIONS = ${hex(field.value)}: BS (bit 14) must be 0 ${why} when ${!tf ? "GUEST_RFLAGS.TF = 0" : "GUEST_IA32_DEBUGCTL.BTF = 1"}`,
        G10_REFERENCE,
      );
    else if (!bs && tf && btf === false)
      report(
        out,
        "G10",
        field.span,
        `GUEST_PENDING_DBG_EXCEPTIONS = ${hex(field.value)}: BS (bit 14) must be 1 ${why} when GUEST_RFLAGS.TF = 1 and GUEST_IA32_DEBUGCTL.BTF = 0 (a single-step trap is pending)`,
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

export const GUEST_STATE_AREA_RULES: readonly EntryRule[] = [
  GUEST_CONTROL_REGISTERS,
  GUEST_PAGING_MODE,
  GUEST_CR3_SYSENTER,
  GUEST_DEBUG_CONTROLS,
  GUEST_EFER,
  GUEST_PAT,
  GUEST_PERF_GLOBAL_CTRL,
  GUEST_BNDCFGS,
  GUEST_RTIT_CTL,
  GUEST_RIP_RFLAGS,
  ...GUEST_SEGMENT_RULES,
  GUEST_ACTIVITY_STATE,
  GUEST_INTERRUPTIBILITY,
  GUEST_PENDING_DEBUG,
  GUEST_VMCS_LINK_POINTER,
  GUEST_PDPTES,
];
