/**
 * H1–H7: VM entry's checks on the host-state area (SDM Vol. 3C §27.2.2–27.2.4, §26.2.2–26.2.4 in
 * pre-2023 editions) on every host-state field the file sets, as KVM checks a nested guest's in
 * `nested_vmx_check_host_state`. A field the file leaves unset is assumed valid (the hypervisor
 * writes the host state from the running CPU, as KVM's `vmx_set_constant_host_state` does).
 * The address-space-size rules tied to the controls are N10 (`hostState.ts`).
 */
import {
  beyondWidth,
  bitOf,
  CR4,
  EFER_RESERVED,
  isCanonical,
  KVM_GUEST_MAX_FIXED_COUNTERS,
  LINEAR_ADDRESS_BITS,
  LINEAR_ADDRESS_BITS_LA57,
  PAT_ENTRIES,
  PAT_ENTRY_BITS,
  PAT_VALID_TYPES,
  PMU_BY_PROFILE,
  PMU_WIDEST,
  type PmuCounters,
  perfGlobalCtrlReserved,
  SELECTOR_RPL_TI,
} from "../../vmx/stateChecks";
import type { ControlRef, EntryRule, VmcsView } from "./context";
import { checkCrFixedBits, hex, reportState as report } from "./context";
import { hostTargetOf } from "./nested";
import { NESTED } from "./references";

const SDM_HOST_CR =
  "SDM Vol. 3C §27.2.2, checks on host control registers, MSRs and SSP (§26.2.2 in pre-2023 editions)";
const SDM_HOST_SEG =
  "SDM Vol. 3C §27.2.3, checks on host segment and descriptor-table registers (§26.2.3 in pre-2023 editions)";
const SDM_HOST_SIZE =
  "SDM Vol. 3C §27.2.4, checks related to address-space size (§26.2.4 in pre-2023 editions)";
const KVM = `${NESTED} nested_vmx_check_host_state`;

const EXIT_HOST_ADDRESS_SPACE_SIZE = ["exit", "host_address_space_size"] as const satisfies ControlRef;
const EXIT_LOAD_IA32_PAT = ["exit", "load_ia32_pat"] as const satisfies ControlRef;
const EXIT_LOAD_IA32_EFER = ["exit", "load_ia32_efer"] as const satisfies ControlRef;

/** The processor's linear-address width: 57 when it supports 5-level paging (CR4.LA57 may be 1). */
export function linearAddressBits(view: VmcsView): number {
  return bitOf(view.target.msrs.IA32_VMX_CR4_FIXED1, CR4.LA57)
    ? LINEAR_ADDRESS_BITS_LA57
    : LINEAR_ADDRESS_BITS;
}

/** Whether every 8-bit entry of a PAT value is a valid memory type (KVM `kvm_pat_valid`). */
export function patInvalidEntry(pat: bigint): number | undefined {
  for (let i = 0; i < PAT_ENTRIES; i++) {
    const type = Number((pat >> BigInt(i * PAT_ENTRY_BITS)) & ((1n << BigInt(PAT_ENTRY_BITS)) - 1n));
    if (!PAT_VALID_TYPES.includes(type)) return i;
  }
  return undefined;
}

export function patMessage(name: string, pat: bigint): string | undefined {
  const entry = patInvalidEntry(pat);
  if (entry === undefined) return undefined;
  const type = Number((pat >> BigInt(entry * PAT_ENTRY_BITS)) & ((1n << BigInt(PAT_ENTRY_BITS)) - 1n));
  return `${name} = ${hex(pat)}: entry PA${entry} = ${type} is not a memory type (valid: ${PAT_VALID_TYPES.join(", ")})`;
}

const HOST_CONTROL_REGISTERS_REFERENCE = `${SDM_HOST_CR}; ${KVM} (nested_host_cr0_valid, nested_host_cr4_valid)`;

export const HOST_CONTROL_REGISTERS: EntryRule = {
  id: "H1",
  codes: ["VMX-H1"],
  rules: ["H1"],
  title:
    "HOST_CR0 and HOST_CR4 respect the target's IA32_VMX_CR0_FIXED0/1 and IA32_VMX_CR4_FIXED0/1 (bits fixed to 1 set, bits not allowed to be 1 clear; CR4.VMXE = 1).",
  reference: HOST_CONTROL_REGISTERS_REFERENCE,
  check(view, out) {
    checkCrFixedBits(view, out, "H1", "HOST_CR0", "CR0", HOST_CONTROL_REGISTERS_REFERENCE);
    checkCrFixedBits(view, out, "H1", "HOST_CR4", "CR4", HOST_CONTROL_REGISTERS_REFERENCE);
  },
};

const HOST_CR3_REFERENCE = `${SDM_HOST_CR}; ${KVM} (nested_cr3_valid / kvm_vcpu_is_legal_cr3)`;

export const HOST_CR3: EntryRule = {
  id: "H2",
  codes: ["VMX-H2"],
  rules: ["H2"],
  title: "HOST_CR3 sets no bit at or above the target's MAXPHYADDR.",
  reference: HOST_CR3_REFERENCE,
  check(view, out) {
    const cr3 = view.field("HOST_CR3");
    if (cr3 && beyondWidth(cr3.value, view.maxPhysAddrBits) !== 0n)
      report(
        out,
        "H2",
        cr3.span,
        `HOST_CR3 = ${hex(cr3.value)} sets bits at or above MAXPHYADDR (${view.maxPhysAddrBits} bits on this target)`,
        HOST_CR3_REFERENCE,
      );
  },
};

const HOST_CANONICAL_FIELDS = [
  "HOST_FS_BASE",
  "HOST_GS_BASE",
  "HOST_GDTR_BASE",
  "HOST_IDTR_BASE",
  "HOST_TR_BASE",
  "HOST_IA32_SYSENTER_ESP",
  "HOST_IA32_SYSENTER_EIP",
] as const;

const HOST_CANONICAL_REFERENCE = `${SDM_HOST_CR}; ${SDM_HOST_SEG}; ${SDM_HOST_SIZE}; ${KVM} (is_noncanonical_address)`;

export const HOST_CANONICAL: EntryRule = {
  id: "H3",
  codes: ["VMX-H3"],
  rules: ["H3"],
  title:
    "HOST_FS_BASE, HOST_GS_BASE, HOST_GDTR_BASE, HOST_IDTR_BASE, HOST_TR_BASE, HOST_IA32_SYSENTER_ESP/EIP and (with `host_address_space_size`) HOST_RIP are canonical for the target's linear-address width (48 bits, 57 with 5-level paging; HOST_RIP 48 when the file's HOST_CR4.LA57 is 0).",
  reference: HOST_CANONICAL_REFERENCE,
  check(view, out) {
    const width = linearAddressBits(view);
    for (const name of HOST_CANONICAL_FIELDS) {
      const field = view.field(name);
      if (field && !isCanonical(field.value, width))
        report(
          out,
          "H3",
          field.span,
          `${name} = ${hex(field.value)} is not canonical (${width}-bit linear addresses on this target)`,
          HOST_CANONICAL_REFERENCE,
        );
    }
    const rip = view.field("HOST_RIP");
    if (rip && view.has(EXIT_HOST_ADDRESS_SPACE_SIZE)) {
      const cr4 = view.field("HOST_CR4");
      const ripWidth = cr4 && !bitOf(cr4.value, CR4.LA57) ? LINEAR_ADDRESS_BITS : width;
      if (!isCanonical(rip.value, ripWidth))
        report(
          out,
          "H3",
          rip.span,
          `HOST_RIP = ${hex(rip.value)} is not canonical (${ripWidth}-bit linear addresses) with host_address_space_size (exit) = 1`,
          HOST_CANONICAL_REFERENCE,
          view,
          EXIT_HOST_ADDRESS_SPACE_SIZE,
        );
    }
  },
};

const HOST_SELECTORS = [
  "HOST_ES_SELECTOR",
  "HOST_CS_SELECTOR",
  "HOST_SS_SELECTOR",
  "HOST_DS_SELECTOR",
  "HOST_FS_SELECTOR",
  "HOST_GS_SELECTOR",
  "HOST_TR_SELECTOR",
] as const;

const HOST_SELECTOR_FIELDS_REFERENCE = `${SDM_HOST_SEG}; ${KVM}`;

export const HOST_SELECTOR_FIELDS: EntryRule = {
  id: "H4",
  codes: ["VMX-H4"],
  rules: ["H4"],
  title:
    "Host selectors (ES, CS, SS, DS, FS, GS, TR): RPL (bits 1:0) and TI (bit 2) = 0; HOST_CS_SELECTOR and HOST_TR_SELECTOR ≠ 0; HOST_SS_SELECTOR ≠ 0 unless `host_address_space_size` = 1.",
  reference: HOST_SELECTOR_FIELDS_REFERENCE,
  check(view, out) {
    for (const name of HOST_SELECTORS) {
      const field = view.field(name);
      if (!field) continue;
      if ((field.value & SELECTOR_RPL_TI) !== 0n)
        report(
          out,
          "H4",
          field.span,
          `${name} = ${hex(field.value)}: RPL and TI (bits 2:0) must be 0`,
          HOST_SELECTOR_FIELDS_REFERENCE,
        );
      else if (field.value === 0n && (name === "HOST_CS_SELECTOR" || name === "HOST_TR_SELECTOR"))
        report(out, "H4", field.span, `${name} must not be 0`, HOST_SELECTOR_FIELDS_REFERENCE);
      else if (field.value === 0n && name === "HOST_SS_SELECTOR" && !view.has(EXIT_HOST_ADDRESS_SPACE_SIZE))
        report(
          out,
          "H4",
          field.span,
          "HOST_SS_SELECTOR may be 0 only with host_address_space_size (exit) = 1",
          HOST_SELECTOR_FIELDS_REFERENCE,
          view,
          EXIT_HOST_ADDRESS_SPACE_SIZE,
        );
    }
  },
};

const HOST_PAT_REFERENCE = `${SDM_HOST_CR}; ${KVM} (kvm_pat_valid, arch/x86/kvm/x86.h)`;

export const HOST_PAT: EntryRule = {
  id: "H5",
  codes: ["VMX-H5"],
  rules: ["H5"],
  title: "`load_ia32_pat` (exit) ⇒ every entry of HOST_IA32_PAT is a memory type: 0, 1, 4, 5, 6 or 7.",
  reference: HOST_PAT_REFERENCE,
  when: EXIT_LOAD_IA32_PAT,
  check(view, out) {
    const pat = view.field("HOST_IA32_PAT");
    if (!pat || !view.has(EXIT_LOAD_IA32_PAT)) return;
    const message = patMessage("HOST_IA32_PAT", pat.value);
    if (message) report(out, "H5", pat.span, message, HOST_PAT_REFERENCE, view, EXIT_LOAD_IA32_PAT);
  },
};

const HOST_EFER_REFERENCE = `${SDM_HOST_CR}; ${KVM} (kvm_valid_efer)`;

export const HOST_EFER: EntryRule = {
  id: "H6",
  codes: ["VMX-H6"],
  rules: ["H6"],
  title:
    "`load_ia32_efer` (exit) ⇒ HOST_IA32_EFER sets no reserved bit (only SCE 0, LME 8, LMA 10, NXE 11); LMA/LME against `host_address_space_size` is N10.",
  reference: HOST_EFER_REFERENCE,
  when: EXIT_LOAD_IA32_EFER,
  check(view, out) {
    const efer = view.field("HOST_IA32_EFER");
    if (!efer || !view.has(EXIT_LOAD_IA32_EFER)) return;
    const reserved = efer.value & EFER_RESERVED;
    if (reserved !== 0n)
      report(
        out,
        "H6",
        efer.span,
        `HOST_IA32_EFER = ${hex(efer.value)} sets reserved bits ${hex(reserved)}`,
        HOST_EFER_REFERENCE,
        view,
        EXIT_LOAD_IA32_EFER,
      );
  },
};

/**
 * The PMU whose IA32_PERF_GLOBAL_CTRL the checks read: the profile's (PMU_BY_PROFILE), and for a
 * vmcs12 the one KVM gives L1 (at most 3 fixed counters, no PERF_METRICS; `intel_pmu_refresh`).
 */
export function pmuOf(view: VmcsView): PmuCounters {
  const host = hostTargetOf(view.target);
  const pmu = PMU_BY_PROFILE[(host ?? view.target).profile.name] ?? PMU_WIDEST;
  if (host === undefined) return pmu;
  return { ...pmu, fixed: Math.min(pmu.fixed, KVM_GUEST_MAX_FIXED_COUNTERS), perfMetrics: false };
}

/** "… sets reserved bits 0x… (4 general-purpose and 3 fixed counters on …)", or undefined. */
export function perfGlobalCtrlMessage(view: VmcsView, name: string, value: bigint): string | undefined {
  const pmu = pmuOf(view);
  const reserved = value & perfGlobalCtrlReserved(pmu);
  if (reserved === 0n) return undefined;
  return `${name} = ${hex(value)} sets reserved bits ${hex(reserved)}: ${view.target.profile.name} has at most ${pmu.generalPurpose} general-purpose and ${pmu.fixed} fixed counters${pmu.perfMetrics ? " and PERF_METRICS (bit 48)" : ""}`;
}

const EXIT_LOAD_PERF_GLOBAL_CTRL = ["exit", "load_ia32_perf_global_ctrl"] as const satisfies ControlRef;
const HOST_PERF_REFERENCE = `${SDM_HOST_CR}; ${KVM} (kvm_valid_perf_global_ctrl, arch/x86/kvm/x86.h); kvm-unit-tests x86/vmx_tests.c test_load_host_perf_global_ctrl`;

export const HOST_PERF_GLOBAL_CTRL: EntryRule = {
  id: "H7",
  codes: ["VMX-H7"],
  rules: ["H7"],
  title:
    "`load_ia32_perf_global_ctrl` (exit) ⇒ HOST_IA32_PERF_GLOBAL_CTRL enables only counters the target has (general-purpose bits below its counter count, fixed-counter bits 32 and up, bit 48 with PERF_METRICS); per generation the most counters any configuration has (8 general-purpose with Hyper-Threading off), for a vmcs12 KVM's guest PMU (3 fixed counters, no PERF_METRICS).",
  reference: HOST_PERF_REFERENCE,
  when: EXIT_LOAD_PERF_GLOBAL_CTRL,
  check(view, out) {
    const field = view.field("HOST_IA32_PERF_GLOBAL_CTRL");
    if (!field || !view.has(EXIT_LOAD_PERF_GLOBAL_CTRL)) return;
    const message = perfGlobalCtrlMessage(view, "HOST_IA32_PERF_GLOBAL_CTRL", field.value);
    if (message)
      report(out, "H7", field.span, message, HOST_PERF_REFERENCE, view, EXIT_LOAD_PERF_GLOBAL_CTRL);
  },
};

export const HOST_STATE_AREA_RULES: readonly EntryRule[] = [
  HOST_CONTROL_REGISTERS,
  HOST_CR3,
  HOST_CANONICAL,
  HOST_SELECTOR_FIELDS,
  HOST_PAT,
  HOST_EFER,
  HOST_PERF_GLOBAL_CTRL,
];
