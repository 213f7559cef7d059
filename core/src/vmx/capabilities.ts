/**
 * Reading the VMX capability MSRs (SDM Vol. 3D Appendix A).
 *
 * Allowed-0/allowed-1 (App. A.3.1–A.5, quoted in docs/hardware.md): in a control MSR, bits 31:0 are
 * the allowed 0-settings ("if bit X in the MSR is set to 1, VM entry fails if control X is 0") and
 * bits 63:32 the allowed 1-settings ("if bit 32+X in the MSR is cleared to 0, VM entry fails if
 * control X is 1"). Linux `adjust_vmx_controls`: `ctl &= high; ctl |= low`.
 * TRUE MSRs (App. A.2): if IA32_VMX_BASIC[55] = 1 the IA32_VMX_TRUE_*_CTLS MSRs report which
 * default1 controls may be 0 and are the ones to consult; if it is 0, the default1 bits must be 1.
 * Secondary controls exist only if PROCBASED allowed-1 bit 31 ("activate secondary controls") is
 * set (App. A.3.3); tertiary only if bit 17 is set, and IA32_VMX_PROCBASED_CTLS3 is 64 bits of
 * allowed-1 settings with no must-be-one half (App. A.3.4; Linux `adjust_vmx_controls64`).
 *
 * These run on every analysis, so they are plain bit arithmetic with no allocation beyond the
 * result object.
 */
import { DEFAULT1_BITS } from "./controls";
import type { CapabilityMsrName, CapabilityMsrs, ControlWord } from "./types";

/** The low 32 bits of a 64-bit MSR or control word: a control MSR's allowed-0 half (App. A.3.1). */
export const LOW32 = 0xffff_ffffn;

export interface ControlWordCapability {
  /** Controls that must be 1 (allowed-0 bits set). */
  mustBeOne: bigint;
  /** Controls that may be 1 (allowed-1 bits set). */
  mayBeOne: bigint;
  /** The MSR these came from (TRUE variant when IA32_VMX_BASIC[55] = 1). */
  msrName: CapabilityMsrName;
}

/** IA32_VMX_BASIC bits (L-vmx.h VMX_BASIC_*, Bochs bochs/cpu/vmx.h comments). */
export const VMX_BASIC = {
  /** Bit 48: physical addresses in VMX structures limited to 32 bits. */
  PHYS_ADDR_32BIT_ONLY: 48,
  /** Bit 49: dual-monitor treatment of SMIs and SMM supported. */
  DUAL_MONITOR_TREATMENT: 49,
  /** Bit 54: VM exits due to INS/OUTS report instruction information. */
  INS_OUTS_INFO: 54,
  /** Bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist and report default1 controls that may be 0. */
  TRUE_CTLS: 55,
  /** Bit 56: VM entry may deliver a hardware exception with or without error code regardless of vector. */
  NO_HW_ERROR_CODE_CHECK: 56,
} as const;

/** IA32_VMX_EPT_VPID_CAP bit numbers (L-vmx.h VMX_EPT_* / VMX_VPID_*; SDM Vol. 3D App. A.10). */
export const EPT_VPID_CAP = {
  EXECUTE_ONLY: 0,
  PAGE_WALK_4: 6,
  PAGE_WALK_5: 7,
  EPTP_UC: 8,
  EPTP_WB: 14,
  PAGE_2M: 16,
  PAGE_1G: 17,
  INVEPT: 20,
  ACCESSED_DIRTY: 21,
  /** Advanced VM-exit information for EPT violations (SDM App. A.10; not named in L-vmx.h). */
  ADVANCED_EXIT_INFO: 22,
  /** Supervisor shadow-stack control (SDM App. A.10; not named in L-vmx.h). */
  SUPERVISOR_SHADOW_STACK: 23,
  INVEPT_SINGLE_CONTEXT: 25,
  INVEPT_ALL_CONTEXT: 26,
  INVVPID: 32,
  INVVPID_INDIVIDUAL_ADDRESS: 40,
  INVVPID_SINGLE_CONTEXT: 41,
  INVVPID_ALL_CONTEXT: 42,
  INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS: 43,
} as const;

/** IA32_VMX_MISC fields (L-vmx.h VMX_MISC_*, SDM Vol. 3D App. A.6). */
export const VMX_MISC = {
  SAVE_EFER_LMA: 5,
  ACTIVITY_HLT: 6,
  ACTIVITY_SHUTDOWN: 7,
  ACTIVITY_WAIT_SIPI: 8,
  INTEL_PT: 14,
  RDMSR_IN_SMM: 15,
  VMXOFF_BLOCKS_SMI: 28,
  VMWRITE_READ_ONLY_FIELDS: 29,
  ZERO_LENGTH_INJECTION: 30,
} as const;

/** IA32_VMX_VMFUNC bit 0: EPTP switching (L-vmx.h VMX_VMFUNC_EPTP_SWITCHING). */
export const VMFUNC_EPTP_SWITCHING = 0;

const NON_TRUE: Record<"pin" | "proc" | "exit" | "entry", CapabilityMsrName> = {
  pin: "IA32_VMX_PINBASED_CTLS",
  proc: "IA32_VMX_PROCBASED_CTLS",
  exit: "IA32_VMX_EXIT_CTLS",
  entry: "IA32_VMX_ENTRY_CTLS",
};
const TRUE_MSR: Record<"pin" | "proc" | "exit" | "entry", CapabilityMsrName> = {
  pin: "IA32_VMX_TRUE_PINBASED_CTLS",
  proc: "IA32_VMX_TRUE_PROCBASED_CTLS",
  exit: "IA32_VMX_TRUE_EXIT_CTLS",
  entry: "IA32_VMX_TRUE_ENTRY_CTLS",
};

export function bitSet(value: bigint, bit: number): boolean {
  return ((value >> BigInt(bit)) & 1n) === 1n;
}

/** True when IA32_VMX_BASIC[55] says the TRUE control MSRs are to be consulted. */
export function hasTrueControls(msrs: CapabilityMsrs): boolean {
  return bitSet(msrs.IA32_VMX_BASIC, VMX_BASIC.TRUE_CTLS);
}

/** The MSR that governs a word's allowed settings on this CPU. */
export function capabilityMsrFor(msrs: CapabilityMsrs, word: ControlWord): CapabilityMsrName {
  if (word === "proc2") return "IA32_VMX_PROCBASED_CTLS2";
  if (word === "proc3") return "IA32_VMX_PROCBASED_CTLS3";
  return hasTrueControls(msrs) ? TRUE_MSR[word] : NON_TRUE[word];
}

/**
 * What VM entry allows for one control word. Secondary/tertiary words report nothing allowed
 * when the primary word cannot activate them (PROCBASED allowed-1 bit 31 / bit 17).
 */
export function controlWordCapability(msrs: CapabilityMsrs, word: ControlWord): ControlWordCapability {
  if (word === "proc2" || word === "proc3") {
    const primary = msrs[capabilityMsrFor(msrs, "proc")];
    const activationBit = word === "proc2" ? 31 : 17;
    const msrName = capabilityMsrFor(msrs, word);
    if (!bitSet(primary, 32 + activationBit)) return { mustBeOne: 0n, mayBeOne: 0n, msrName };
    const value = msrs[msrName];
    if (word === "proc3") return { mustBeOne: 0n, mayBeOne: value, msrName };
    return { mustBeOne: value & LOW32, mayBeOne: (value >> 32n) & LOW32, msrName };
  }
  const msrName = capabilityMsrFor(msrs, word);
  const value = msrs[msrName];
  return { mustBeOne: value & LOW32, mayBeOne: (value >> 32n) & LOW32, msrName };
}

/** IA32_VMX_MISC[24:16]: how many CR3-target values the CPU supports (SDM says 4 on all so far). */
export function cr3TargetLimit(msrs: CapabilityMsrs): number {
  return Number((msrs.IA32_VMX_MISC >> 16n) & 0x1ffn);
}

/**
 * Every VMX capability MSR of a profile, once (SDM Vol. 3D App. A). Written as the keys of a
 * record so that a name added to CapabilityMsrs and missing here is a compile error.
 */
const CAPABILITY_MSR_SET: Record<CapabilityMsrName, true> = {
  IA32_VMX_BASIC: true,
  IA32_VMX_PINBASED_CTLS: true,
  IA32_VMX_PROCBASED_CTLS: true,
  IA32_VMX_EXIT_CTLS: true,
  IA32_VMX_ENTRY_CTLS: true,
  IA32_VMX_MISC: true,
  IA32_VMX_CR0_FIXED0: true,
  IA32_VMX_CR0_FIXED1: true,
  IA32_VMX_CR4_FIXED0: true,
  IA32_VMX_CR4_FIXED1: true,
  IA32_VMX_VMCS_ENUM: true,
  IA32_VMX_PROCBASED_CTLS2: true,
  IA32_VMX_EPT_VPID_CAP: true,
  IA32_VMX_TRUE_PINBASED_CTLS: true,
  IA32_VMX_TRUE_PROCBASED_CTLS: true,
  IA32_VMX_TRUE_EXIT_CTLS: true,
  IA32_VMX_TRUE_ENTRY_CTLS: true,
  IA32_VMX_VMFUNC: true,
  IA32_VMX_PROCBASED_CTLS3: true,
};
export const CAPABILITY_MSR_NAMES: readonly CapabilityMsrName[] = Object.keys(
  CAPABILITY_MSR_SET,
) as CapabilityMsrName[];

/** IA32_VMX_MISC[29]: VMWRITE may write the read-only (exit-information) fields. */
export function vmwriteAnyField(msrs: CapabilityMsrs): boolean {
  return bitSet(msrs.IA32_VMX_MISC, VMX_MISC.VMWRITE_READ_ONLY_FIELDS);
}

/** IA32_VMX_MISC[30]: VM entry may inject a software event with instruction length 0. */
export function zeroLengthInjection(msrs: CapabilityMsrs): boolean {
  return bitSet(msrs.IA32_VMX_MISC, VMX_MISC.ZERO_LENGTH_INJECTION);
}

/** IA32_VMX_MISC[4:0]: the preemption timer counts down once per 2^X TSC cycles. */
export function preemptionTimerRate(msrs: CapabilityMsrs): number {
  return Number(msrs.IA32_VMX_MISC & 0x1fn);
}

/** Whether IA32_VMX_EPT_VPID_CAP has a bit (see EPT_VPID_CAP). */
export function hasEptVpidCap(msrs: CapabilityMsrs, bit: number): boolean {
  return bitSet(msrs.IA32_VMX_EPT_VPID_CAP, bit);
}

/** Recommended maximum entries per MSR-load/store list: 512 × (IA32_VMX_MISC[27:25] + 1). */
export function maxMsrListEntries(msrs: CapabilityMsrs): number {
  return 512 * (Number((msrs.IA32_VMX_MISC >> 25n) & 7n) + 1);
}

/** Whether the CPU reports support for a VMX activity state (1 HLT, 2 shutdown, 3 wait-for-SIPI; 0 always). */
export function supportsActivityState(msrs: CapabilityMsrs, state: number): boolean {
  if (state === 0) return true;
  if (state < 1 || state > 3) return false;
  return bitSet(msrs.IA32_VMX_MISC, 5 + state);
}

export interface DecodedVmxMisc {
  preemptionTimerRate: number;
  saveEferLma: boolean;
  activityHlt: boolean;
  activityShutdown: boolean;
  activityWaitForSipi: boolean;
  intelPtInVmx: boolean;
  rdmsrSmbaseInSmm: boolean;
  cr3TargetCount: number;
  maxMsrListEntries: number;
  vmxoffBlocksSmi: boolean;
  vmwriteReadOnlyFields: boolean;
  zeroLengthInjection: boolean;
  msegRevision: number;
}

/** Every IA32_VMX_MISC field, for hovers (SDM Vol. 3D App. A.6; L-vmx.h). */
export function decodeVmxMisc(misc: bigint): DecodedVmxMisc {
  return {
    preemptionTimerRate: Number(misc & 0x1fn),
    saveEferLma: bitSet(misc, VMX_MISC.SAVE_EFER_LMA),
    activityHlt: bitSet(misc, VMX_MISC.ACTIVITY_HLT),
    activityShutdown: bitSet(misc, VMX_MISC.ACTIVITY_SHUTDOWN),
    activityWaitForSipi: bitSet(misc, VMX_MISC.ACTIVITY_WAIT_SIPI),
    intelPtInVmx: bitSet(misc, VMX_MISC.INTEL_PT),
    rdmsrSmbaseInSmm: bitSet(misc, VMX_MISC.RDMSR_IN_SMM),
    cr3TargetCount: Number((misc >> 16n) & 0x1ffn),
    maxMsrListEntries: 512 * (Number((misc >> 25n) & 7n) + 1),
    vmxoffBlocksSmi: bitSet(misc, VMX_MISC.VMXOFF_BLOCKS_SMI),
    vmwriteReadOnlyFields: bitSet(misc, VMX_MISC.VMWRITE_READ_ONLY_FIELDS),
    zeroLengthInjection: bitSet(misc, VMX_MISC.ZERO_LENGTH_INJECTION),
    msegRevision: Number((misc >> 32n) & LOW32),
  };
}

export interface DecodedVmxBasic {
  revisionId: number;
  vmcsSize: number;
  physAddr32Only: boolean;
  dualMonitor: boolean;
  /** Memory type for the VMCS and VMX structures: 0 UC, 6 WB. */
  memoryType: number;
  insOutsInfo: boolean;
  trueControls: boolean;
  noHardwareErrorCodeCheck: boolean;
}

/** IA32_VMX_BASIC fields (L-vmx.h vmx_basic_*; SDM Vol. 3D App. A.1). */
export function decodeVmxBasic(basic: bigint): DecodedVmxBasic {
  return {
    revisionId: Number(basic & 0x7fff_ffffn),
    vmcsSize: Number((basic >> 32n) & 0x1fffn),
    physAddr32Only: bitSet(basic, VMX_BASIC.PHYS_ADDR_32BIT_ONLY),
    dualMonitor: bitSet(basic, VMX_BASIC.DUAL_MONITOR_TREATMENT),
    memoryType: Number((basic >> 50n) & 0xfn),
    insOutsInfo: bitSet(basic, VMX_BASIC.INS_OUTS_INFO),
    trueControls: bitSet(basic, VMX_BASIC.TRUE_CTLS),
    noHardwareErrorCodeCheck: bitSet(basic, VMX_BASIC.NO_HW_ERROR_CODE_CHECK),
  };
}

export interface DecodedEptVpidCap {
  executeOnly: boolean;
  pageWalk4: boolean;
  pageWalk5: boolean;
  uncacheableEptp: boolean;
  writeBackEptp: boolean;
  pages2M: boolean;
  pages1G: boolean;
  invept: boolean;
  accessedDirty: boolean;
  inveptSingleContext: boolean;
  inveptAllContext: boolean;
  invvpid: boolean;
  invvpidIndividualAddress: boolean;
  invvpidSingleContext: boolean;
  invvpidAllContext: boolean;
  invvpidSingleContextRetainingGlobals: boolean;
}

/** IA32_VMX_EPT_VPID_CAP fields (L-vmx.h; SDM Vol. 3D App. A.10). */
export function decodeEptVpidCap(cap: bigint): DecodedEptVpidCap {
  return {
    executeOnly: bitSet(cap, EPT_VPID_CAP.EXECUTE_ONLY),
    pageWalk4: bitSet(cap, EPT_VPID_CAP.PAGE_WALK_4),
    pageWalk5: bitSet(cap, EPT_VPID_CAP.PAGE_WALK_5),
    uncacheableEptp: bitSet(cap, EPT_VPID_CAP.EPTP_UC),
    writeBackEptp: bitSet(cap, EPT_VPID_CAP.EPTP_WB),
    pages2M: bitSet(cap, EPT_VPID_CAP.PAGE_2M),
    pages1G: bitSet(cap, EPT_VPID_CAP.PAGE_1G),
    invept: bitSet(cap, EPT_VPID_CAP.INVEPT),
    accessedDirty: bitSet(cap, EPT_VPID_CAP.ACCESSED_DIRTY),
    inveptSingleContext: bitSet(cap, EPT_VPID_CAP.INVEPT_SINGLE_CONTEXT),
    inveptAllContext: bitSet(cap, EPT_VPID_CAP.INVEPT_ALL_CONTEXT),
    invvpid: bitSet(cap, EPT_VPID_CAP.INVVPID),
    invvpidIndividualAddress: bitSet(cap, EPT_VPID_CAP.INVVPID_INDIVIDUAL_ADDRESS),
    invvpidSingleContext: bitSet(cap, EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT),
    invvpidAllContext: bitSet(cap, EPT_VPID_CAP.INVVPID_ALL_CONTEXT),
    invvpidSingleContextRetainingGlobals: bitSet(cap, EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS),
  };
}

/** One internal inconsistency in a set of capability MSRs (e.g. user-supplied overrides). */
export interface CapabilityIssue {
  msr: CapabilityMsrName;
  message: string;
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * Check that capability MSRs could come from real hardware: no control both must-be-one and not
 * allowed-to-be-one; non-TRUE MSRs report every default1 bit as must-be-one (App. A.2); TRUE MSRs
 * differ from their non-TRUE partner only by relaxing default1 bits; CR3-target count ≤ 256 with
 * bit 24 set only when 23:16 are clear (App. A.6).
 */
export function checkCapabilityMsrs(msrs: CapabilityMsrs): CapabilityIssue[] {
  const issues: CapabilityIssue[] = [];
  const checkPair = (name: CapabilityMsrName) => {
    const value = msrs[name];
    const mustBeOne = value & LOW32;
    const mayBeOne = (value >> 32n) & LOW32;
    const contradiction = mustBeOne & ~mayBeOne;
    if (contradiction !== 0n)
      issues.push({
        msr: name,
        message: `${name}: controls ${hex(contradiction)} are reported as must-be-1 (bits 31:0) but not allowed to be 1 (bits 63:32)`,
      });
  };
  const trueControls = hasTrueControls(msrs);
  for (const word of ["pin", "proc", "exit", "entry"] as const) {
    const nonTrue = NON_TRUE[word];
    checkPair(nonTrue);
    const default1 = BigInt(DEFAULT1_BITS[word]);
    const missing = default1 & ~(msrs[nonTrue] & LOW32);
    if (missing !== 0n)
      issues.push({
        msr: nonTrue,
        message: `${nonTrue}: default1 bits ${hex(missing)} must read as must-be-1 in the non-TRUE MSR (SDM App. A.2)`,
      });
    if (!trueControls) continue;
    const trueName = TRUE_MSR[word];
    checkPair(trueName);
    const trueValue = msrs[trueName];
    if (((trueValue >> 32n) & LOW32) !== ((msrs[nonTrue] >> 32n) & LOW32))
      issues.push({ msr: trueName, message: `${trueName}: allowed-1 bits (63:32) differ from ${nonTrue}` });
    const relaxed = msrs[nonTrue] & LOW32 & ~(trueValue & LOW32);
    const added = trueValue & LOW32 & ~(msrs[nonTrue] & LOW32);
    if ((relaxed & ~default1) !== 0n || added !== 0n)
      issues.push({
        msr: trueName,
        message: `${trueName}: allowed-0 bits may differ from ${nonTrue} only by clearing default1 bits`,
      });
  }
  if (bitSet(msrs.IA32_VMX_PROCBASED_CTLS, 63)) checkPair("IA32_VMX_PROCBASED_CTLS2");
  const cr3Count = cr3TargetLimit(msrs);
  if (cr3Count > 256 || (cr3Count >= 256 && (cr3Count & 0xff) !== 0))
    issues.push({ msr: "IA32_VMX_MISC", message: "IA32_VMX_MISC: CR3-target count (bits 24:16) above 256" });
  return issues;
}
