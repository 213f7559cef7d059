/**
 * G1–G6, G12, G14, G15: VM entry's checks on the guest's control registers, debug registers,
 * MSRs and PDPTEs (SDM Vol. 3C §27.3.1.1 and §27.3.1.6, §26.3.1.x in pre-2023 editions) on every
 * guest-state field the file sets, as KVM checks a nested guest's in `nested_vmx_check_guest_state`
 * (and `nested_vmx_load_cr3` for CR3 and the PDPTEs) and kvm-unit-tests x86/vmx_tests.c tests
 * them. A field the file leaves unset is assumed valid, and valid with the fields it does set.
 */
import {
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
  isCanonical,
  PAGE_OFFSET_BITS,
  PDPTE_PRESENT,
  PDPTE_RESERVED_LOW,
  RTIT_CTL_RESERVED,
} from "../../vmx/stateChecks";
import type { EntryRule } from "./context";
import { checkCrFixedBits, hex, reportState as report } from "./context";
import {
  ENTRY_IA32E_MODE_GUEST,
  ENTRY_LOAD_DEBUG_CONTROLS,
  ENTRY_LOAD_IA32_BNDCFGS,
  ENTRY_LOAD_IA32_EFER,
  ENTRY_LOAD_IA32_PAT,
  ENTRY_LOAD_IA32_RTIT_CTL,
  ENTRY_LOAD_PERF_GLOBAL_CTRL,
  KUT,
  KVM_GUEST as KVM,
  PROC2_ENABLE_EPT,
  PROC2_UNRESTRICTED_GUEST,
  SDM_GUEST_CR,
  SDM_GUEST_PDPTE,
  SDM_GUEST_SEG,
} from "./guestCommon";
import { linearAddressBits, patMessage, perfGlobalCtrlMessage } from "./hostStateArea";
import { NESTED } from "./references";

const G1_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (nested_guest_cr0_valid, nested_guest_cr4_valid)`;

export const GUEST_CONTROL_REGISTERS: EntryRule = {
  id: "G1",
  codes: ["VMX-G1"],
  rules: ["G1"],
  title:
    "GUEST_CR0 and GUEST_CR4 respect IA32_VMX_CR0_FIXED0/1 and IA32_VMX_CR4_FIXED0/1, except that `unrestricted_guest` lets CR0.PE and CR0.PG be 0; GUEST_CR0.PG = 1 ⇒ GUEST_CR0.PE = 1.",
  reference: G1_REFERENCE,
  check(view, out) {
    const unrestricted = view.has(PROC2_UNRESTRICTED_GUEST);
    const relaxed = unrestricted ? (1n << BigInt(CR0.PE)) | (1n << BigInt(CR0.PG)) : 0n;
    const reported = checkCrFixedBits(
      view,
      out,
      "G1",
      "GUEST_CR0",
      "CR0",
      G1_REFERENCE,
      relaxed,
      unrestricted ? "" : " (unrestricted_guest would let PE and PG be 0)",
    );
    const cr0 = view.field("GUEST_CR0");
    if (!reported && cr0 && bitOf(cr0.value, CR0.PG) && !bitOf(cr0.value, CR0.PE))
      report(
        out,
        "G1",
        cr0.span,
        `GUEST_CR0 = ${hex(cr0.value)}: PG (bit 31) = 1 requires PE (bit 0) = 1`,
        G1_REFERENCE,
      );
    checkCrFixedBits(view, out, "G1", "GUEST_CR4", "CR4", G1_REFERENCE);
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

const G12_REFERENCE = `${SDM_GUEST_CR}; ${KVM} (kvm_valid_perf_global_ctrl, arch/x86/kvm/x86.h); ${KUT} test_load_guest_perf_global_ctrl`;

export const GUEST_PERF_GLOBAL_CTRL: EntryRule = {
  id: "G12",
  codes: ["VMX-G12"],
  rules: ["G12"],
  title:
    "`load_ia32_perf_global_ctrl` (entry) ⇒ GUEST_IA32_PERF_GLOBAL_CTRL enables only counters the target has (as H7: the most counters any configuration of the generation has; for a vmcs12 KVM's guest PMU).",
  reference: G12_REFERENCE,
  when: ENTRY_LOAD_PERF_GLOBAL_CTRL,
  check(view, out) {
    const field = view.field("GUEST_IA32_PERF_GLOBAL_CTRL");
    if (!field || !view.has(ENTRY_LOAD_PERF_GLOBAL_CTRL)) return;
    const message = perfGlobalCtrlMessage(view, "GUEST_IA32_PERF_GLOBAL_CTRL", field.value);
    if (message) report(out, "G12", field.span, message, G12_REFERENCE, view, ENTRY_LOAD_PERF_GLOBAL_CTRL);
  },
};

const PDPTE_FIELDS = ["GUEST_PDPTR0", "GUEST_PDPTR1", "GUEST_PDPTR2", "GUEST_PDPTR3"] as const;
const G15_PDPTE_REFERENCE = `${SDM_GUEST_PDPTE}; ${NESTED} prepare_vmcs02 (copies vmcs12's PDPTEs into vmcs02 with nested EPT, the processor checks them) and nested_vmx_load_cr3 (load_pdptrs from guest memory without EPT)`;

export const GUEST_PDPTES: EntryRule = {
  id: "G15 PDPTE",
  codes: ["VMX-G15"],
  rules: ["G15"],
  title:
    "With `enable_ept`, PAE paging (the file's GUEST_CR0.PG = 1 and GUEST_CR4.PAE = 1) and no `ia32e_mode_guest`: each GUEST_PDPTRn the file sets with its present bit has reserved bits 2:1 and 8:5 clear and no bit at or above MAXPHYADDR. Without EPT VM entry reads the PDPTEs from guest memory at CR3, which the language does not describe.",
  reference: G15_PDPTE_REFERENCE,
  when: PROC2_ENABLE_EPT,
  check(view, out) {
    if (!view.has(PROC2_ENABLE_EPT) || view.has(ENTRY_IA32E_MODE_GUEST)) return;
    const cr0 = view.field("GUEST_CR0");
    const cr4 = view.field("GUEST_CR4");
    if (!cr0 || !cr4 || !bitOf(cr0.value, CR0.PG) || !bitOf(cr4.value, CR4.PAE)) return;
    for (const name of PDPTE_FIELDS) {
      const field = view.field(name);
      if (!field || !bitOf(field.value, PDPTE_PRESENT)) continue;
      const low = field.value & PDPTE_RESERVED_LOW;
      const wide = beyondWidth(field.value, view.maxPhysAddrBits) !== 0n;
      if (low !== 0n || wide)
        report(
          out,
          "G15",
          field.span,
          `${name} = ${hex(field.value)} is present with ${low !== 0n ? `reserved bits ${hex(low)} set` : `bits at or above MAXPHYADDR (${view.maxPhysAddrBits}) set`}, under PAE paging with EPT (GUEST_CR0.PG = 1, GUEST_CR4.PAE = 1, no ia32e_mode_guest)`,
          G15_PDPTE_REFERENCE,
          view,
          PROC2_ENABLE_EPT,
        );
    }
  },
};

const G15_RTIT_REFERENCE = `${SDM_GUEST_CR} ("load IA32_RTIT_CTL"); the processor's check (KVM offers L1 no RTIT_CTL controls)`;

export const GUEST_RTIT_CTL: EntryRule = {
  id: "G15 RTIT_CTL",
  codes: ["VMX-G15"],
  rules: ["G15"],
  title:
    "`load_ia32_rtit_ctl` (entry) ⇒ GUEST_IA32_RTIT_CTL sets no bit reserved on every Intel PT implementation (18, 23, 31:28, 54:48, 63:56); the bits that depend on CPUID leaf 14H are allowed.",
  reference: G15_RTIT_REFERENCE,
  when: ENTRY_LOAD_IA32_RTIT_CTL,
  check(view, out) {
    const field = view.field("GUEST_IA32_RTIT_CTL");
    if (!field || !view.has(ENTRY_LOAD_IA32_RTIT_CTL)) return;
    const reserved = field.value & RTIT_CTL_RESERVED;
    if (reserved !== 0n)
      report(
        out,
        "G15",
        field.span,
        `GUEST_IA32_RTIT_CTL = ${hex(field.value)} sets reserved bits ${hex(reserved)}`,
        G15_RTIT_REFERENCE,
        view,
        ENTRY_LOAD_IA32_RTIT_CTL,
      );
  },
};
