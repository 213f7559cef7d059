/**
 * The facts the host-state and guest-state checks of VM entry read (rules H1–H7, G1–G12 of
 * core/src/analysis/rules/numbering.ts): register bits, reserved-bit masks, PAT memory types,
 * activity and interruptibility states, canonical widths.
 *
 * Sources: Intel SDM Vol. 3C §27.2.2 "Checks on Host Control Registers, MSRs, and SSP", §27.2.3
 * "Checks on Host Segment and Descriptor-Table Registers", §27.2.4 "Checks Related to
 * Address-Space Size", §27.3.1 "Checks on the Guest State Area" (§26.2.2–26.2.4 and §26.3.1 in
 * pre-2023 editions); Vol. 3A §2.5 (control registers), §2.2.1 / Vol. 4 Table 2-2 (IA32_EFER),
 * §3.4.5 (segment descriptors); Vol. 3A §13.12.2 "IA32_PAT MSR" (PAT memory types); Vol. 3C
 * §25.4.2 (guest non-register state: activity and interruptibility state, pending debug
 * exceptions, VMCS link pointer). Linux arch/x86/kvm/x86.h `kvm_pat_valid`, `kvm_dr7_valid`;
 * arch/x86/include/asm/msr-index.h (`EFER_*`, `DEBUGCTLMSR_*`); arch/x86/include/asm/vmx.h
 * (`GUEST_INTR_STATE_*`, `GUEST_ACTIVITY_*`); kvm-unit-tests x86/vmx_tests.c (`test_host_*`,
 * `test_load_host_pat`, `test_load_guest_pat`, `vmx_host_state_area_test`,
 * `vmx_guest_state_area_test`).
 */
import type { VmcsFieldDef } from "./types";

const bit = (n: number): bigint => 1n << BigInt(n);
/** Bits `high`..`low` (inclusive) set. */
const bits = (high: number, low: number): bigint => ((1n << BigInt(high - low + 1)) - 1n) << BigInt(low);

/** CR0 bits (SDM Vol. 3A §2.5; Linux X86_CR0_*). */
export const CR0 = { PE: 0, PG: 31 } as const;
/** CR4 bits (SDM Vol. 3A §2.5; Linux X86_CR4_*). */
export const CR4 = { PAE: 5, LA57: 12, PCIDE: 17 } as const;

/**
 * IA32_EFER (C000_0080H) bits: SCE 0, LME 8, LMA 10, NXE 11; every other bit is reserved on
 * Intel processors (SDM Vol. 4 Table 2-2; Linux msr-index.h EFER_SCE/LME/LMA/NX — the other
 * EFER_* bits are AMD's). KVM's `kvm_valid_efer` rejects the reserved ones.
 */
export const EFER = { SCE: 0, LME: 8, LMA: 10, NXE: 11 } as const;
export const EFER_RESERVED = ~(bit(EFER.SCE) | bit(EFER.LME) | bit(EFER.LMA) | bit(EFER.NXE)) & bits(63, 0);

/**
 * IA32_PAT: eight entries of 8 bits; each entry's bits 7:3 reserved, and its type one of UC 0,
 * WC 1, WT 4, WP 5, WB 6, UC- 7 (2 and 3 reserved). SDM Vol. 3A §13.12.2 (IA32_PAT MSR), Vol. 3C
 * §27.2.2 and §27.3.1.1 ("load IA32_PAT"); Linux arch/x86/kvm/x86.h `kvm_pat_valid`.
 */
export const PAT_ENTRIES = 8;
export const PAT_ENTRY_BITS = 8;
export const PAT_VALID_TYPES: readonly number[] = [0, 1, 4, 5, 6, 7];

/**
 * Linear-address widths for "canonical": 48 bits with 4-level paging, 57 on a processor that
 * supports 5-level paging (CR4.LA57 may be 1, IA32_VMX_CR4_FIXED1 bit 12). The host-state checks
 * use the processor's width whatever CR4.LA57 is (SDM Vol. 3C §27.2.2; Linux commit "KVM: x86:
 * model canonical checks more precisely", `is_noncanonical_base_address`).
 */
export const LINEAR_ADDRESS_BITS = 48;
export const LINEAR_ADDRESS_BITS_LA57 = 57;

/** Canonical for a `width`-bit linear address: bits 63:width−1 all equal. */
export function isCanonical(address: bigint, width: number): boolean {
  const upper = address >> BigInt(width - 1);
  return upper === 0n || upper === bits(63, width - 1) >> BigInt(width - 1);
}

/** Selector fields: RPL bits 1:0, TI bit 2 (SDM Vol. 3A §3.4.2; Linux SEGMENT_RPL_MASK, SEGMENT_TI_MASK). */
export const SELECTOR_RPL_TI = bits(2, 0);

/**
 * RFLAGS (SDM Vol. 3C §27.3.1.4, Vol. 1 §3.4.3): bit 1 reserved as 1; bits 3, 5, 15 and 63:22
 * reserved as 0 (Linux X86_EFLAGS_FIXED; SDM only (no kvm-unit-tests case)). TF 8, IF 9, VM 17.
 */
export const RFLAGS = { FIXED1: 1, TF: 8, IF: 9, VM: 17 } as const;
export const RFLAGS_RESERVED0 = bit(3) | bit(5) | bit(15) | bits(63, 22);

/** DR7 bits 63:32 must be 0 (SDM Vol. 3C §27.3.1.1 "load debug controls"; Linux `kvm_dr7_valid`). */
export const DR7_RESERVED = bits(63, 32);

/**
 * IA32_DEBUGCTL bits reserved on every Intel processor so far: 5:3 and 63:16 (SDM Vol. 3B
 * "IA32_DEBUGCTL MSR": LBR 0, BTF 1, bus-lock detection 2, TR 6, BTS 7, BTINT 8, BTS_OFF_OS 9,
 * BTS_OFF_USR 10, FREEZE_LBRS_ON_PMI 11, FREEZE_PERFMON_ON_PMI 12, ENABLE_UNCORE_PMI 13,
 * FREEZE_WHILE_SMM 14, RTM_DEBUG 15; Linux msr-index.h DEBUGCTLMSR_*). Bits 2, 13 and 15 are
 * model-specific; they are allowed, so the check never rejects a value some model accepts.
 */
export const DEBUGCTL_RESERVED = bits(5, 3) | bits(63, 16);

/** Guest activity states (SDM Vol. 3C §25.4.2 Table 25-3; Linux GUEST_ACTIVITY_*). */
export const ACTIVITY_STATES = ["active", "HLT", "shutdown", "wait-for-SIPI"] as const;
export const ACTIVITY_HLT = 1;
/** SS access rights: DPL bits 6:5 (SDM Vol. 3C Table 25-2). HLT requires SS.DPL = 0 (§27.3.1.5). */
export const AR_DPL_SHIFT = 5;
export const AR_DPL_BITS = 3n;

/**
 * Interruptibility state (SDM Vol. 3C §25.4.2 Table 25-3; Linux GUEST_INTR_STATE_*): blocking by
 * STI 0, MOV SS 1, SMI 2, NMI 3, enclave interruption 4; bits 31:5 reserved.
 */
export const INTERRUPTIBILITY = { STI: 0, MOV_SS: 1, SMI: 2, NMI: 3, ENCLAVE: 4 } as const;
export const INTERRUPTIBILITY_RESERVED = bits(31, 5);

/**
 * Pending debug exceptions (SDM Vol. 3C §25.4.2 Table 25-4): B3–B0 3:0, enabled breakpoint 12,
 * BS 14, RTM 16; bits 11:4, 13, 15 and 63:17 reserved (§27.3.1.5).
 */
export const PENDING_DEBUG_RESERVED = bits(11, 4) | bit(13) | bit(15) | bits(63, 17);
/**
 * Pending debug exceptions BS (bit 14): with STI or MOV-SS blocking or activity HLT, BS must be 1
 * when RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF (bit 1) = 0, and 0 when TF = 0 or BTF = 1 (SDM Vol. 3C
 * §27.3.1.5, §26.3.1.5 in pre-2023 editions).
 */
export const PENDING_DEBUG_BS = 14;
export const DEBUGCTL_BTF = 1;

/** VMCS link pointer when unused: FFFFFFFF_FFFFFFFFH (SDM Vol. 3C §25.4.2, §27.3.1.5). */
export const VMCS_LINK_POINTER_UNUSED = bits(63, 0);
/** A 4-KByte-aligned address: bits 11:0 zero (SDM §27.3.1.5; KVM `page_address_valid`). */
export const PAGE_OFFSET_BITS = bits(11, 0);

/**
 * VM-entry interruption information (SDM Vol. 3C §25.8.3 Table 25-17): valid 31, type 10:8
 * (0 external interrupt, 2 NMI).
 */
export const ENTRY_EVENT = {
  VALID: 31,
  TYPE_SHIFT: 8,
  TYPE_BITS: 7n,
  EXTERNAL_INTERRUPT: 0,
  NMI: 2,
} as const;

/** Whether bit `n` of `value` is 1. */
export function bitOf(value: bigint, n: number): boolean {
  return ((value >> BigInt(n)) & 1n) === 1n;
}

/** Bits at or above `width` (a physical-address width), to test an address against MAXPHYADDR. */
export function beyondWidth(value: bigint, width: number): bigint {
  return value >> BigInt(width);
}

/** The low 32 bits of a value. */
export const LOW_32 = bits(31, 0);

/**
 * Why a host- or guest-state field the file leaves unset is not checked, for hovers: the
 * hypervisor fills the state areas from the running CPU (KVM: `vmx_set_constant_host_state`,
 * `init_vmcs`/`vmx_vcpu_reset` and the register writes of the vCPU's state), so Trapline assumes
 * a valid value; `field NAME = value` has it checked.
 */
export function unsetStateNote(field: VmcsFieldDef): string | undefined {
  if (field.high) return undefined;
  if (field.type !== "guest-state" && field.type !== "host-state") return undefined;
  return "When a vmcs leaves it unset: assumed a valid value (the hypervisor fills the state area from the CPU, as KVM's `vmx_set_constant_host_state`/`vmx_vcpu_reset` do); set with `field`, it is checked as VM entry checks it (docs/diagnostics.md, rules H/G).";
}

/** Segment access rights: L (64-bit code segment) bit 13 (SDM Vol. 3C Table 25-2). */
export const AR_L = 13;

/** GDTR and IDTR limits: bits 31:16 of the 32-bit fields must be 0 (SDM Vol. 3C §27.3.1.3). */
export const DESCRIPTOR_TABLE_LIMIT_MAX = bits(15, 0);

/**
 * IA32_BNDCFGS: bits 11:2 reserved, bits 63:12 the base of the bound directory, which must be
 * canonical (SDM Vol. 3C §27.3.1.1 "load IA32_BNDCFGS"; Linux msr-index.h MSR_IA32_BNDCFGS_RSVD).
 */
export const BNDCFGS_RESERVED = bits(11, 2);

/** Selector TI flag (bit 2) and RPL (bits 1:0) (SDM Vol. 3A §3.4.2). */
export const SELECTOR_TI = 2;
export const SELECTOR_RPL = bits(1, 0);
/** Access rights: segment unusable (bit 16) (SDM Vol. 3C Table 25-2). */
export const AR_UNUSABLE = 16;

/**
 * IA32_PERF_GLOBAL_CTRL (38FH): bit i enables general-purpose counter i, bit 32+j fixed counter j,
 * bit 48 the performance metrics (PERF_METRICS, with IA32_PERF_CAPABILITIES.PERF_METRICS_AVAILABLE);
 * every other bit is reserved, and which counters exist follows CPUID leaf 0AH (SDM Vol. 3B,
 * "Architectural Performance Monitoring", §18.2 in pre-2023 editions; Linux arch/x86/kvm/vmx/
 * pmu_intel.c, `global_ctrl_mask`, and x86.h `kvm_valid_perf_global_ctrl`). The VM-entry and
 * VM-exit checks reject a reserved bit set in GUEST/HOST_IA32_PERF_GLOBAL_CTRL (SDM Vol. 3C
 * §27.2.2, §27.3.1.1).
 *
 * Per generation, the most counters any configuration of it has (so a value valid with
 * Hyper-Threading off is not rejected): Nehalem and Westmere 4 general-purpose counters per
 * logical processor; Sandy Bridge to Cascade Lake 8 per core, 4 per logical processor with
 * Hyper-Threading on (SDM Vol. 3B, performance monitoring for the Sandy Bridge to Skylake
 * microarchitectures, §18.3.4 and §18.3.8 in pre-2023 editions); Ice Lake and Sapphire Rapids 8
 * per logical processor and a fourth fixed counter (TOPDOWN.SLOTS) with the metrics bit (the
 * Ice Lake microarchitecture section, §18.3.9 in pre-2023 editions). 3 fixed counters before
 * Ice Lake (architectural performance monitoring versions 3 and 4).
 */
export interface PmuCounters {
  generalPurpose: number;
  fixed: number;
  perfMetrics: boolean;
}

const PMU_V3 = { generalPurpose: 4, fixed: 3, perfMetrics: false } as const;
const PMU_SNB = { generalPurpose: 8, fixed: 3, perfMetrics: false } as const;
const PMU_ICX = { generalPurpose: 8, fixed: 4, perfMetrics: true } as const;

export const PMU_BY_PROFILE: Readonly<Record<string, PmuCounters>> = {
  nehalem: PMU_V3,
  westmere: PMU_V3,
  sandy_bridge: PMU_SNB,
  ivy_bridge: PMU_SNB,
  haswell: PMU_SNB,
  broadwell: PMU_SNB,
  skylake_server: PMU_SNB,
  cascade_lake: PMU_SNB,
  icelake_server: PMU_ICX,
  sapphire_rapids: PMU_ICX,
};

/** The widest PMU of the table, for a profile without a row. */
export const PMU_WIDEST: PmuCounters = PMU_ICX;

/**
 * What KVM gives a guest (here L1 or L2 under KVM): at most 3 fixed counters in the v5.10-era
 * tree (`INTEL_PMC_MAX_FIXED` 3, arch/x86/include/asm/perf_event.h) and no PERF_METRICS
 * (`intel_pmu_refresh` builds `global_ctrl` from the GP and fixed counters only).
 */
export const KVM_GUEST_MAX_FIXED_COUNTERS = 3;

/** PERF_METRICS enable, bit 48 of IA32_PERF_GLOBAL_CTRL (SDM Vol. 3B, §18.3.9.3 in pre-2023 editions). */
export const PERF_GLOBAL_CTRL_METRICS = 48;

/** The bits of IA32_PERF_GLOBAL_CTRL reserved with `pmu`'s counters. */
export function perfGlobalCtrlReserved(pmu: PmuCounters): bigint {
  let allowed = ((1n << BigInt(pmu.generalPurpose)) - 1n) | (((1n << BigInt(pmu.fixed)) - 1n) << 32n);
  if (pmu.perfMetrics) allowed |= bit(PERF_GLOBAL_CTRL_METRICS);
  return bits(63, 0) & ~allowed;
}

/**
 * IA32_RTIT_CTL (570H) bits reserved on every processor with Intel PT (SDM Vol. 3C chapter
 * "Intel Processor Trace", table "IA32_RTIT_CTL MSR", §32.2.7.2 in pre-2023 editions): 18, 23, 31:28, 54:48 and
 * 63:56. The other bits exist only with the CPUID leaf 14H features (e.g. PTWRITE, power-event
 * trace, address ranges), which the profiles do not model: they are allowed.
 */
export const RTIT_CTL_RESERVED = bit(18) | bit(23) | bits(31, 28) | bits(54, 48) | bits(63, 56);

/**
 * PAE paging's PDPTEs (SDM Vol. 3A "PAE Paging", PDPTE format table, §4.4.1 in pre-2023 editions; Vol. 3C §27.3.1.6
 * "Checks on Guest Page-Directory-Pointer-Table Entries", §26.3.1.6 in pre-2023 editions): a present entry (bit 0) has bits 2:1 and
 * 8:5 reserved, and no bit at or above MAXPHYADDR (bits 63:MAXPHYADDR; bit 63 is XD only in
 * IA-32e paging, reserved here). KVM uses the same mask: arch/x86/kvm/x86.c `pdptr_rsvd_bits`
 * (`reserved_gpa_bits | rsvd_bits(5, 8) | rsvd_bits(1, 2)`), mmu.c `__reset_rsvds_bits_mask` (PT32E).
 */
export const PDPTE_PRESENT = 0;
export const PDPTE_RESERVED_LOW = bits(2, 1) | bits(8, 5);

/**
 * Segment access rights (SDM Vol. 3C §25.4.1 Table 25-2, §24.4.1 in pre-2023 editions): type 3:0,
 * S 4 (code/data), DPL 6:5, P 7, reserved 11:8, AVL 12, L 13, D/B 14, G 15, unusable 16, reserved
 * 31:17. Type bits: accessed 0, readable/writable 1, code 3.
 */
export const AR = { TYPE_BITS: 0xfn, S: 4, P: 7, DB: 14, G: 15 } as const;
export const AR_RESERVED = bits(11, 8) | bits(31, 17);
export const AR_TYPE_ACCESSED = 0;
export const AR_TYPE_READ_WRITE = 1;
export const AR_TYPE_CODE = 3;
/** CS types allowed (§27.3.1.2): 9, 11 (non-conforming code), 13, 15 (conforming); 3 with unrestricted guest. */
export const CS_TYPES: readonly number[] = [9, 11, 13, 15];
export const CS_TYPE_UNRESTRICTED = 3;
/** Non-conforming code (9, 11: CS.DPL = SS.DPL) and conforming code (13, 15: CS.DPL ≤ SS.DPL). */
export const CS_TYPES_NONCONFORMING: readonly number[] = [9, 11];
export const CS_TYPES_CONFORMING: readonly number[] = [13, 15];
/** Data or non-conforming code types (0–11): DS–GS DPL ≥ RPL without unrestricted guest. */
export const DPL_CHECKED_TYPES_MAX = 11;
/** SS types allowed when usable: 3 or 7 (read/write data). */
export const SS_TYPES: readonly number[] = [3, 7];
/** TR type: 11 (busy 32/64-bit TSS); 3 (busy 16-bit TSS) only outside IA-32e mode. */
export const TR_TYPE_BUSY_TSS = 11;
export const TR_TYPE_BUSY_TSS16 = 3;
/** LDTR type when usable: 2. */
export const LDTR_TYPE = 2;
/** Virtual-8086 mode: every segment's access rights are F3H, its limit FFFFH (§27.3.1.2). */
export const V86_ACCESS_RIGHTS = 0xf3n;
export const V86_LIMIT = 0xffffn;
/** Limit/granularity: limit bits 11:0 not all 1 ⇒ G = 0; any of bits 31:20 set ⇒ G = 1. */
export const LIMIT_LOW_12 = bits(11, 0);
export const LIMIT_HIGH_12 = bits(31, 20);
