/**
 * Model-specific registers the language names. Indices: Intel SDM Vol. 4 ("Model-Specific
 * Registers", Table 2-2 IA-32 Architectural MSRs) and Linux arch/x86/include/asm/msr-index.h
 * (`MSR_IA32_*`, `MSR_*`); the x2APIC register MSRs 800H–8FFH from SDM Vol. 3A §11.12.1.2
 * Table 11-6 (x2APIC register address space: MSR = 800H + xAPIC MMIO offset / 10H); the VMX
 * capability MSRs 480H–493H from kvm-unit-tests lib/x86/msr.h and Bochs bochs/cpu/msr.h
 *; KVM paravirtual MSRs from Linux arch/x86/include/uapi/asm/kvm_para.h.
 *
 * Lookup is case-insensitive and accepts Linux's spellings: `MSR_IA32_TSC_DEADLINE`, `MSR_EFER`,
 * `MSR_LSTAR` all resolve (the `MSR_` prefix is dropped, then `IA32_` is tried).
 */
import type { MsrDef } from "./types";

const SDM4 = "SDM Vol. 4 Table 2-2";
const LINUX = "Linux arch/x86/include/asm/msr-index.h";
const X2APIC = "SDM Vol. 3A §11.12.1.2 Table 11-6";
const VMXCAP = "SDM Vol. 3D App. A; kvm-unit-tests lib/x86/msr.h; Bochs bochs/cpu/msr.h";
const KVM_PARA = "Linux arch/x86/include/uapi/asm/kvm_para.h";

type Row = [name: string, index: number, description: string, linuxName?: string, extraAliases?: string[]];

const ARCHITECTURAL: Row[] = [
  ["IA32_TSC", 0x10, "Time-stamp counter.", "MSR_IA32_TSC", ["IA32_TIME_STAMP_COUNTER"]],
  ["IA32_PLATFORM_ID", 0x17, "Platform ID (processor flag for microcode).", "MSR_IA32_PLATFORM_ID"],
  ["IA32_APIC_BASE", 0x1b, "Local APIC base address, BSP flag, xAPIC/x2APIC enables.", "MSR_IA32_APICBASE"],
  ["IA32_FEATURE_CONTROL", 0x3a, "Lock bit and VMX enable inside/outside SMX.", "MSR_IA32_FEAT_CTL"],
  [
    "IA32_TSC_ADJUST",
    0x3b,
    "Adjustment added to the TSC; writes to the TSC update it.",
    "MSR_IA32_TSC_ADJUST",
  ],
  ["IA32_SPEC_CTRL", 0x48, "Speculation control: IBRS (0), STIBP (1), SSBD (2).", "MSR_IA32_SPEC_CTRL"],
  ["IA32_PRED_CMD", 0x49, "Prediction command: write bit 0 for an IBPB barrier.", "MSR_IA32_PRED_CMD"],
  ["IA32_BIOS_SIGN_ID", 0x8b, "Microcode update signature.", "MSR_IA32_UCODE_REV"],
  [
    "IA32_SMM_MONITOR_CTL",
    0x9b,
    "SMM monitor configuration (dual-monitor treatment).",
    "MSR_IA32_SMM_MONITOR_CTL",
  ],
  [
    "IA32_SMBASE",
    0x9e,
    "SMRAM base address (readable only in SMM when IA32_VMX_MISC[15]).",
    "MSR_IA32_SMBASE",
  ],
  ["IA32_PMC0", 0xc1, "General-purpose performance counter 0.", "MSR_IA32_PERFCTR0"],
  ["IA32_UMWAIT_CONTROL", 0xe1, "UMWAIT/TPAUSE maximum time and C0.2 disable.", "MSR_IA32_UMWAIT_CONTROL"],
  ["IA32_MPERF", 0xe7, "Maximum-performance frequency clock count.", "MSR_IA32_MPERF"],
  ["IA32_APERF", 0xe8, "Actual-performance frequency clock count.", "MSR_IA32_APERF"],
  ["IA32_MTRRCAP", 0xfe, "MTRR capabilities (variable count, fixed, WC, SMRR).", "MSR_MTRRcap"],
  [
    "IA32_ARCH_CAPABILITIES",
    0x10a,
    "Enumeration of speculative-execution mitigations.",
    "MSR_IA32_ARCH_CAPABILITIES",
  ],
  ["IA32_FLUSH_CMD", 0x10b, "Flush command: write bit 0 to flush the L1D cache.", "MSR_IA32_FLUSH_CMD"],
  ["IA32_TSX_CTRL", 0x122, "TSX control: RTM disable (0), TSX CPUID clear (1).", "MSR_IA32_TSX_CTRL"],
  [
    "IA32_MCU_OPT_CTRL",
    0x123,
    "Microcode optional mitigations control (RNGDS mitigation off).",
    "MSR_IA32_MCU_OPT_CTRL",
  ],
  ["IA32_SYSENTER_CS", 0x174, "SYSENTER target CS.", "MSR_IA32_SYSENTER_CS"],
  ["IA32_SYSENTER_ESP", 0x175, "SYSENTER target ESP.", "MSR_IA32_SYSENTER_ESP"],
  ["IA32_SYSENTER_EIP", 0x176, "SYSENTER target EIP.", "MSR_IA32_SYSENTER_EIP"],
  ["IA32_MCG_CAP", 0x179, "Machine-check global capabilities.", "MSR_IA32_MCG_CAP"],
  ["IA32_MCG_STATUS", 0x17a, "Machine-check global status.", "MSR_IA32_MCG_STATUS"],
  ["IA32_PERFEVTSEL0", 0x186, "Performance event select for counter 0.", "MSR_P6_EVNTSEL0"],
  ["IA32_PERF_STATUS", 0x198, "Current performance state.", "MSR_IA32_PERF_STATUS"],
  ["IA32_PERF_CTL", 0x199, "Performance state target.", "MSR_IA32_PERF_CTL"],
  [
    "IA32_MISC_ENABLE",
    0x1a0,
    "Miscellaneous feature enables (fast strings, MONITOR/MWAIT, …).",
    "MSR_IA32_MISC_ENABLE",
  ],
  ["IA32_XFD", 0x1c4, "Extended feature disable (AMX tile data first-use trap).", "MSR_IA32_XFD"],
  [
    "IA32_XFD_ERR",
    0x1c5,
    "Extended feature disable error (the component that raised #NM).",
    "MSR_IA32_XFD_ERR",
  ],
  ["IA32_DEBUGCTL", 0x1d9, "Debug control: LBR, BTF, freeze on PMI, …", "MSR_IA32_DEBUGCTLMSR"],
  ["IA32_SMRR_PHYSBASE", 0x1f2, "SMRR base address and memory type.", "MSR_IA32_SMRR_PHYSBASE"],
  ["IA32_SMRR_PHYSMASK", 0x1f3, "SMRR range mask and valid bit.", "MSR_IA32_SMRR_PHYSMASK"],
  ["IA32_MTRR_FIX64K_00000", 0x250, "Fixed-range MTRR for 00000H–7FFFFH.", "MSR_MTRRfix64K_00000"],
  ["IA32_MTRR_FIX16K_80000", 0x258, "Fixed-range MTRR for 80000H–9FFFFH.", "MSR_MTRRfix16K_80000"],
  ["IA32_MTRR_FIX16K_A0000", 0x259, "Fixed-range MTRR for A0000H–BFFFFH.", "MSR_MTRRfix16K_A0000"],
  ["IA32_PAT", 0x277, "Page-attribute table.", "MSR_IA32_CR_PAT"],
  ["IA32_MTRR_DEF_TYPE", 0x2ff, "Default memory type and MTRR enables.", "MSR_MTRRdefType"],
  [
    "IA32_FIXED_CTR0",
    0x309,
    "Fixed-function performance counter 0 (instructions retired).",
    "MSR_CORE_PERF_FIXED_CTR0",
  ],
  ["IA32_PERF_CAPABILITIES", 0x345, "Performance-monitoring capabilities.", "MSR_IA32_PERF_CAPABILITIES"],
  ["IA32_FIXED_CTR_CTRL", 0x38d, "Fixed-function counter control.", "MSR_CORE_PERF_FIXED_CTR_CTRL"],
  [
    "IA32_PERF_GLOBAL_STATUS",
    0x38e,
    "Global performance counter overflow status.",
    "MSR_CORE_PERF_GLOBAL_STATUS",
  ],
  ["IA32_PERF_GLOBAL_CTRL", 0x38f, "Global performance counter enables.", "MSR_CORE_PERF_GLOBAL_CTRL"],
  [
    "IA32_PERF_GLOBAL_OVF_CTRL",
    0x390,
    "Global performance counter overflow clear.",
    "MSR_CORE_PERF_GLOBAL_OVF_CTRL",
  ],
  // Core C-state residency counters: model-specific (SDM Vol. 4 Table 2-20 ff.), in KVM's
  // vmx_possible_passthrough_msrs (arch/x86/kvm/vmx/vmx.c).
  ["MSR_CORE_C3_RESIDENCY", 0x3fc, "Core C3 residency counter (model-specific).", "MSR_CORE_C3_RESIDENCY"],
  ["MSR_CORE_C6_RESIDENCY", 0x3fd, "Core C6 residency counter (model-specific).", "MSR_CORE_C6_RESIDENCY"],
  ["MSR_CORE_C7_RESIDENCY", 0x3fe, "Core C7 residency counter (model-specific).", "MSR_CORE_C7_RESIDENCY"],
  ["IA32_PEBS_ENABLE", 0x3f1, "PEBS enables.", "MSR_IA32_PEBS_ENABLE"],
  ["IA32_RTIT_CTL", 0x570, "Intel Processor Trace control.", "MSR_IA32_RTIT_CTL"],
  ["MSR_CORE_C1_RES", 0x660, "Core C1 residency counter (model-specific).", "MSR_CORE_C1_RES"],
  ["IA32_U_CET", 0x6a0, "User-mode CET configuration.", "MSR_IA32_U_CET"],
  ["IA32_S_CET", 0x6a2, "Supervisor-mode CET configuration.", "MSR_IA32_S_CET"],
  ["IA32_PL0_SSP", 0x6a4, "Ring-0 shadow-stack pointer.", "MSR_IA32_PL0_SSP"],
  ["IA32_INTERRUPT_SSP_TABLE_ADDR", 0x6a8, "Interrupt shadow-stack table address.", "MSR_IA32_INT_SSP_TAB"],
  ["IA32_TSC_DEADLINE", 0x6e0, "TSC-deadline mode target of the local APIC timer.", "MSR_IA32_TSC_DEADLINE"],
  ["IA32_PKRS", 0x6e1, "Protection keys for supervisor pages.", "MSR_IA32_PKRS"],
  ["IA32_BNDCFGS", 0xd90, "MPX supervisor bounds configuration.", "MSR_IA32_BNDCFGS"],
  ["IA32_XSS", 0xda0, "Supervisor state components enabled for XSAVES/XRSTORS.", "MSR_IA32_XSS"],
  ["IA32_EFER", 0xc0000080, "Extended feature enables: SCE, LME, LMA, NXE.", "MSR_EFER"],
  ["IA32_STAR", 0xc0000081, "SYSCALL/SYSRET segment selectors (legacy target EIP).", "MSR_STAR"],
  ["IA32_LSTAR", 0xc0000082, "SYSCALL target RIP in 64-bit mode.", "MSR_LSTAR"],
  [
    "IA32_CSTAR",
    0xc0000083,
    "SYSCALL target RIP in compatibility mode (not used by Intel CPUs).",
    "MSR_CSTAR",
  ],
  ["IA32_FMASK", 0xc0000084, "SYSCALL RFLAGS mask.", "MSR_SYSCALL_MASK"],
  ["IA32_FS_BASE", 0xc0000100, "FS segment base.", "MSR_FS_BASE"],
  ["IA32_GS_BASE", 0xc0000101, "GS segment base.", "MSR_GS_BASE"],
  ["IA32_KERNEL_GS_BASE", 0xc0000102, "GS base swapped in by SWAPGS.", "MSR_KERNEL_GS_BASE"],
  ["IA32_TSC_AUX", 0xc0000103, "Auxiliary TSC value returned by RDTSCP and RDPID.", "MSR_TSC_AUX"],
];

const MTRR_VARIABLE: Row[] = [];
for (let pair = 0; pair < 8; pair++) {
  MTRR_VARIABLE.push(
    [`IA32_MTRR_PHYSBASE${pair}`, 0x200 + 2 * pair, `Variable-range MTRR ${pair} base and type.`],
    [`IA32_MTRR_PHYSMASK${pair}`, 0x201 + 2 * pair, `Variable-range MTRR ${pair} mask and valid bit.`],
  );
}
const MTRR_FIX4K: Row[] = ["C0000", "C8000", "D0000", "D8000", "E0000", "E8000", "F0000", "F8000"].map(
  (start, offset) => [
    `IA32_MTRR_FIX4K_${start}`,
    0x268 + offset,
    `Fixed-range MTRR for ${start}H and the next 32 KiB.`,
  ],
);

/** x2APIC registers: MSR 800H + (xAPIC offset >> 4), SDM Vol. 3A Table 11-6. */
const X2APIC_REGISTERS: Row[] = [
  ["X2APIC_APICID", 0x802, "Local APIC ID (read-only in x2APIC mode)."],
  ["X2APIC_VERSION", 0x803, "Local APIC version (read-only)."],
  ["X2APIC_TPR", 0x808, "Task-priority register."],
  ["X2APIC_PPR", 0x80a, "Processor-priority register (read-only)."],
  ["X2APIC_EOI", 0x80b, "End of interrupt (write-only; write 0)."],
  ["X2APIC_LDR", 0x80d, "Logical destination register (read-only in x2APIC mode)."],
  ["X2APIC_SVR", 0x80f, "Spurious-interrupt vector register (APIC software enable)."],
  ...[0, 1, 2, 3, 4, 5, 6, 7].map(
    (n): Row => [`X2APIC_ISR${n}`, 0x810 + n, `In-service register bits ${32 * n}–${32 * n + 31}.`],
  ),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map(
    (n): Row => [`X2APIC_TMR${n}`, 0x818 + n, `Trigger-mode register bits ${32 * n}–${32 * n + 31}.`],
  ),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map(
    (n): Row => [`X2APIC_IRR${n}`, 0x820 + n, `Interrupt-request register bits ${32 * n}–${32 * n + 31}.`],
  ),
  ["X2APIC_ESR", 0x828, "Error status register."],
  ["X2APIC_LVT_CMCI", 0x82f, "LVT corrected machine-check interrupt register."],
  ["X2APIC_ICR", 0x830, "Interrupt command register (64-bit in x2APIC mode): sends IPIs."],
  ["X2APIC_LVT_TIMER", 0x832, "LVT timer register (mode: one-shot, periodic, TSC-deadline)."],
  ["X2APIC_LVT_THERMAL", 0x833, "LVT thermal sensor register."],
  ["X2APIC_LVT_PMI", 0x834, "LVT performance-monitoring counters register."],
  ["X2APIC_LVT_LINT0", 0x835, "LVT LINT0 register."],
  ["X2APIC_LVT_LINT1", 0x836, "LVT LINT1 register."],
  ["X2APIC_LVT_ERROR", 0x837, "LVT error register."],
  ["X2APIC_TIMER_ICR", 0x838, "Timer initial-count register.", undefined, ["X2APIC_TMICT"]],
  ["X2APIC_TIMER_CCR", 0x839, "Timer current-count register (read-only).", undefined, ["X2APIC_TMCCT"]],
  ["X2APIC_TIMER_DCR", 0x83e, "Timer divide-configuration register.", undefined, ["X2APIC_TDCR"]],
  ["X2APIC_SELF_IPI", 0x83f, "Self-IPI register (write-only): sends a fixed IPI to this CPU."],
];

const VMX_CAPABILITIES: Row[] = [
  ["IA32_VMX_BASIC", 0x480, "VMCS revision, size, memory type; bit 55 = TRUE control MSRs exist."],
  ["IA32_VMX_PINBASED_CTLS", 0x481, "Allowed settings of the pin-based controls."],
  ["IA32_VMX_PROCBASED_CTLS", 0x482, "Allowed settings of the primary processor-based controls."],
  ["IA32_VMX_EXIT_CTLS", 0x483, "Allowed settings of the VM-exit controls."],
  ["IA32_VMX_ENTRY_CTLS", 0x484, "Allowed settings of the VM-entry controls."],
  ["IA32_VMX_MISC", 0x485, "Preemption-timer rate, activity states, CR3-target count, MSR-list size."],
  ["IA32_VMX_CR0_FIXED0", 0x486, "CR0 bits fixed to 1 in VMX operation."],
  ["IA32_VMX_CR0_FIXED1", 0x487, "CR0 bits allowed to be 1 in VMX operation."],
  ["IA32_VMX_CR4_FIXED0", 0x488, "CR4 bits fixed to 1 in VMX operation."],
  ["IA32_VMX_CR4_FIXED1", 0x489, "CR4 bits allowed to be 1 in VMX operation."],
  ["IA32_VMX_VMCS_ENUM", 0x48a, "Highest index value used in VMCS-field encodings."],
  ["IA32_VMX_PROCBASED_CTLS2", 0x48b, "Allowed settings of the secondary processor-based controls."],
  [
    "IA32_VMX_EPT_VPID_CAP",
    0x48c,
    "EPT and VPID capabilities (walk lengths, memory types, INVEPT/INVVPID types).",
  ],
  ["IA32_VMX_TRUE_PINBASED_CTLS", 0x48d, "Pin-based allowed settings including default1 bits that may be 0."],
  [
    "IA32_VMX_TRUE_PROCBASED_CTLS",
    0x48e,
    "Primary processor-based allowed settings including default1 bits that may be 0.",
  ],
  ["IA32_VMX_TRUE_EXIT_CTLS", 0x48f, "VM-exit allowed settings including default1 bits that may be 0."],
  ["IA32_VMX_TRUE_ENTRY_CTLS", 0x490, "VM-entry allowed settings including default1 bits that may be 0."],
  ["IA32_VMX_VMFUNC", 0x491, "Allowed VM functions (bit 0 EPTP switching)."],
  [
    "IA32_VMX_PROCBASED_CTLS3",
    0x492,
    "Allowed 1-settings of the tertiary processor-based controls (64 bits).",
  ],
  ["IA32_VMX_EXIT_CTLS2", 0x493, "Allowed 1-settings of the secondary VM-exit controls (64 bits)."],
];

const KVM_PARAVIRT: Row[] = [
  ["MSR_KVM_WALL_CLOCK_NEW", 0x4b564d00, "KVM paravirtual wall clock."],
  ["MSR_KVM_SYSTEM_TIME_NEW", 0x4b564d01, "KVM paravirtual clock (kvmclock) area."],
  ["MSR_KVM_ASYNC_PF_EN", 0x4b564d02, "KVM asynchronous page-fault enable."],
  ["MSR_KVM_STEAL_TIME", 0x4b564d03, "KVM steal-time area."],
  ["MSR_KVM_PV_EOI_EN", 0x4b564d04, "KVM paravirtual EOI enable."],
  ["MSR_KVM_POLL_CONTROL", 0x4b564d05, "KVM host-side halt-polling control."],
];

function toDefs(rows: Row[], source: string, linuxSource: boolean): MsrDef[] {
  return rows.map(([name, index, description, linuxName, extraAliases]) => {
    const aliases: string[] = [];
    if (linuxName !== undefined && linuxName !== name) aliases.push(linuxName);
    if (extraAliases) aliases.push(...extraAliases);
    const def: MsrDef = {
      name,
      index,
      description,
      source: linuxSource && linuxName !== undefined ? `${source}; ${LINUX} ${linuxName}` : source,
    };
    if (aliases.length > 0) def.aliases = aliases;
    return def;
  });
}

export const MSRS: readonly MsrDef[] = [
  ...toDefs(ARCHITECTURAL, SDM4, true),
  ...toDefs(MTRR_VARIABLE, `${SDM4}; ${LINUX} MTRRphysBase_MSR/MTRRphysMask_MSR`, false),
  ...toDefs(MTRR_FIX4K, `${SDM4}; ${LINUX} MSR_MTRRfix4K_*`, false),
  ...toDefs(X2APIC_REGISTERS, X2APIC, false),
  ...toDefs(VMX_CAPABILITIES, VMXCAP, false),
  ...toDefs(KVM_PARAVIRT, KVM_PARA, false),
].sort((a, b) => a.index - b.index);

const BY_NAME = new Map<string, MsrDef>();
const BY_INDEX = new Map<number, MsrDef>();
for (const msr of MSRS) {
  BY_NAME.set(msr.name.toUpperCase(), msr);
  for (const alias of msr.aliases ?? []) BY_NAME.set(alias.toUpperCase(), msr);
  BY_INDEX.set(msr.index, msr);
}

/** Resolve an MSR name case-insensitively, also in Linux's `MSR_…` spelling. */
export function msrByName(name: string): MsrDef | undefined {
  const upper = name.toUpperCase();
  const direct = BY_NAME.get(upper);
  if (direct) return direct;
  if (upper.startsWith("MSR_")) {
    const bare = upper.slice(4);
    return BY_NAME.get(bare) ?? BY_NAME.get(`IA32_${bare}`);
  }
  return BY_NAME.get(`IA32_${upper}`);
}

export function msrByIndex(index: number): MsrDef | undefined {
  return BY_INDEX.get(index);
}

/** Every canonical MSR name (for completion). */
export function msrNames(): string[] {
  return MSRS.map((msr) => msr.name);
}

/**
 * Offset of an MSR's bit in the 4 KiB MSR-bitmap page, or undefined when no bitmap covers it
 * (such MSRs always exit). L-kvmvmx.h: "MSRs 0x00000000-0x00001fff and 0xc0000000-0xc0001fff.
 * The former (low) uses bytes 0-0x3ff for reads and 0x800-0xbff for writes. The latter (high)
 * uses 0x400-0x7ff for reads and 0xc00-0xfff for writes." Returns the bit index in the page.
 */
/** The MSR ranges the bitmap covers, as people read them ("0–0x1fff" + joiner + "0xc0000000–0xc0001fff"). */
export function msrBitmapRangesText(joiner: string): string {
  return `0–0x1fff${joiner}0xc0000000–0xc0001fff`;
}

export function msrBitmapBit(index: number, access: "read" | "write"): number | undefined {
  let base: number;
  let offset: number;
  if (index >= 0 && index <= 0x1fff) {
    base = access === "read" ? 0x000 : 0x800;
    offset = index;
  } else if (index >= 0xc0000000 && index <= 0xc0001fff) {
    base = access === "read" ? 0x400 : 0xc00;
    offset = index - 0xc0000000;
  } else return undefined;
  return base * 8 + offset;
}

/**
 * The MSRs KVM may ever clear the MSR-bitmap bits of (pass through to the guest), by name:
 * arch/x86/kvm/vmx/vmx.c `vmx_possible_passthrough_msrs` (SPEC_CTRL, PRED_CMD, FLUSH_CMD, TSC,
 * FS/GS/KERNEL_GS base, XFD, XFD_ERR, SYSENTER_CS/ESP/EIP, the C1/C3/C6/C7 residency counters)
 * and the families its comment says are "handled specially" — x2APIC (`vmx_update_msr_bitmap_x2apic`,
 * see apic.ts), Intel PT (`pt_update_intercept_for_msr`: IA32_RTIT_CTL …), LBR, the PMU counters
 * of the mediated PMU, and the CET MSRs with guest CET (`vmx_recalc_msr_intercepts`). Every other
 * MSR in the bitmap's ranges KVM always intercepts (`vmx_create_vcpu` starts from an all-ones
 * bitmap; `vmx_disable_intercept_for_msr` refuses an MSR without a slot in this list:
 * `vmx_get_passthrough_msr_slot` WARNs). The x2APIC range is not listed here (apic.ts).
 */
export const KVM_PASSTHROUGH_MSR_NAMES: readonly string[] = [
  "IA32_SPEC_CTRL",
  "IA32_PRED_CMD",
  "IA32_FLUSH_CMD",
  "IA32_TSC",
  "IA32_FS_BASE",
  "IA32_GS_BASE",
  "IA32_KERNEL_GS_BASE",
  "IA32_XFD",
  "IA32_XFD_ERR",
  "IA32_SYSENTER_CS",
  "IA32_SYSENTER_ESP",
  "IA32_SYSENTER_EIP",
  "MSR_CORE_C1_RES",
  "MSR_CORE_C3_RESIDENCY",
  "MSR_CORE_C6_RESIDENCY",
  "MSR_CORE_C7_RESIDENCY",
  // Handled specially (PT, PMU, CET): passed through only when the guest has the feature.
  "IA32_RTIT_CTL",
  "IA32_PMC0",
  "IA32_FIXED_CTR0",
  "IA32_PERF_GLOBAL_STATUS",
  "IA32_PERF_GLOBAL_CTRL",
  "IA32_PERF_GLOBAL_OVF_CTRL",
  "IA32_U_CET",
  "IA32_S_CET",
  "IA32_PL0_SSP",
  "IA32_INTERRUPT_SSP_TABLE_ADDR",
];

/** The indices of KVM_PASSTHROUGH_MSR_NAMES (each name is a row of this table). */
export const KVM_PASSTHROUGH_MSRS: ReadonlySet<number> = new Set(
  KVM_PASSTHROUGH_MSR_NAMES.map((name) => {
    const def = msrByName(name);
    if (!def) throw new Error(`MSR ${name} missing from the MSR table`);
    return def.index;
  }),
);
