/**
 * The VMX capability MSRs that L0 (KVM) exposes to L1, computed from the host's: what a vmcs12
 * (`vmcs NAME nested { … }`) is checked against on nested VM entry. KVM checks vmcs12 against
 * these values, not the hardware's (`nested_check_vm_execution_controls` calls
 * `vmx_control_verify(vmcs12->…, vmx->nested.msrs.…_low, …_high)`), and they differ from the
 * hardware's both ways: KVM hides what it does not emulate (tertiary controls, TSC scaling,
 * mode-based EPT execute, Intel PT, the preemption-timer rate, CR3-target values, UC EPTPs,
 * shutdown and wait-for-SIPI activity states, CR4.CET…) and offers what it emulates on any
 * hardware (VMCS shadowing, the preemption timer, MSR bitmaps, PML when EPT A/D bits are on,
 * EPTP switching).
 *
 * Source: Linux arch/x86/kvm/vmx/nested.c `nested_vmx_setup_ctls_msrs` (the function as in the
 * stored torvalds/linux snapshot, commit 25bb2cf9, a v5.10-era tree; later kernels split it
 * into `nested_vmx_setup_{pinbased,exit,entry,cpubased,secondary,misc}_ctls` and start from
 * KVM's own `vmcs_config` instead of RDMSR, with the same lists plus TSC scaling, user
 * wait/pause and, from 6.x, CET state) and `vmx_get_vmx_msr` (the non-TRUE MSRs); the bits
 * that follow L1's CPUID from arch/x86/kvm/vmx/vmx.c `vmx_compute_secondary_exec_control`
 * (`vmx_adjust_sec_exec_control`) and `nested_vmx_cr_fixed1_bits_update`, taken with L1's CPUID
 * equal to the host's (`-cpu host`); which KVM features are on from vmx.c `hardware_setup`
 * (each module parameter defaults to 1 and is cleared when the hardware lacks the feature).
 * Each step below names its line of the source.
 */
import { bitSet, EPT_VPID_CAP, VMFUNC_EPTP_SWITCHING, VMX_BASIC, VMX_MISC } from "./capabilities";
import { controlInWord, DEFAULT1_BITS } from "./controls";
import type { CapabilityMsrs, ControlWord } from "./types";

/**
 * kvm_intel module parameters that change what L1 sees (vmx.c: `enable_ept` "ept",
 * `enable_vpid` "vpid", `enable_unrestricted_guest` "unrestricted_guest", `enable_ept_ad_bits`
 * "eptad", `flexpriority_enabled` "flexpriority", `enable_apicv` "enable_apicv"; all default 1).
 * Each is effective only where the hardware has the feature (vmx.c `hardware_setup`).
 */
export interface L0Settings {
  ept: boolean;
  vpid: boolean;
  unrestrictedGuest: boolean;
  eptAdBits: boolean;
  flexpriority: boolean;
  apicv: boolean;
}

/** KVM's defaults: every parameter 1 (vmx.c `module_param_named(…)` initialisers). */
export const KVM_DEFAULT_L0: L0Settings = {
  ept: true,
  vpid: true,
  unrestrictedGuest: true,
  eptAdBits: true,
  flexpriority: true,
  apicv: true,
};

/** One step of the derivation, for docs and hovers: what it does and the source line. */
export interface NestedCapabilityStep {
  readonly msr: string;
  readonly rule: string;
  readonly source: string;
}

const NESTED_C = "arch/x86/kvm/vmx/nested.c nested_vmx_setup_ctls_msrs";
const VMX_C = "arch/x86/kvm/vmx/vmx.c";

function mask(word: ControlWord, names: readonly string[]): bigint {
  let value = 0n;
  for (const name of names) {
    const control = controlInWord(word, name);
    if (!control) throw new Error(`nestedCapabilities.ts: unknown ${word} control ${name}`);
    value |= 1n << BigInt(control.bit);
  }
  return value;
}

const bit = (n: number): bigint => 1n << BigInt(n);
const LOW = (1n << 32n) - 1n;

/** The controls of each word KVM passes through when the host has them (`…_high &= …`). */
export const NESTED_FROM_HOST = {
  // "msrs->pinbased_ctls_high &= PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING |
  //  PIN_BASED_VIRTUAL_NMIS | (enable_apicv ? PIN_BASED_POSTED_INTR : 0)"
  pin: ["external_interrupt_exiting", "nmi_exiting", "virtual_nmis"],
  // "msrs->exit_ctls_high &= VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_LOAD_IA32_PAT |
  //  VM_EXIT_SAVE_IA32_PAT | VM_EXIT_CLEAR_BNDCFGS | VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL"
  exit: [
    "host_address_space_size",
    "load_ia32_pat",
    "save_ia32_pat",
    "clear_ia32_bndcfgs",
    "load_ia32_perf_global_ctrl",
  ],
  // "msrs->entry_ctls_high &= VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_IA32_PAT |
  //  VM_ENTRY_LOAD_BNDCFGS | VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL"
  entry: ["ia32e_mode_guest", "load_ia32_pat", "load_ia32_bndcfgs", "load_ia32_perf_global_ctrl"],
  // "msrs->procbased_ctls_high &= CPU_BASED_INTR_WINDOW_EXITING | … | CPU_BASED_TPR_SHADOW |
  //  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS" (no tertiary controls)
  proc: [
    "interrupt_window_exiting",
    "nmi_window_exiting",
    "use_tsc_offsetting",
    "hlt_exiting",
    "invlpg_exiting",
    "mwait_exiting",
    "cr3_load_exiting",
    "cr3_store_exiting",
    "cr8_load_exiting",
    "cr8_store_exiting",
    "mov_dr_exiting",
    "unconditional_io_exiting",
    "use_io_bitmaps",
    "monitor_trap_flag",
    "monitor_exiting",
    "rdpmc_exiting",
    "rdtsc_exiting",
    "pause_exiting",
    "use_tpr_shadow",
    "activate_secondary_controls",
  ],
  // "msrs->secondary_ctls_high &= SECONDARY_EXEC_DESC | SECONDARY_EXEC_RDTSCP |
  //  SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE | SECONDARY_EXEC_WBINVD_EXITING |
  //  SECONDARY_EXEC_APIC_REGISTER_VIRT | SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY |
  //  SECONDARY_EXEC_RDRAND_EXITING | SECONDARY_EXEC_ENABLE_INVPCID |
  //  SECONDARY_EXEC_RDSEED_EXITING | SECONDARY_EXEC_XSAVES"; plus vmx.c
  //  vmx_compute_secondary_exec_control, which sets ENABLE_USR_WAIT_PAUSE in L1's MSR when the
  //  host has it and L1's CPUID has WAITPKG.
  proc2: [
    "descriptor_table_exiting",
    "enable_rdtscp",
    "virtualize_x2apic_mode",
    "wbinvd_exiting",
    "apic_register_virtualization",
    "virtual_interrupt_delivery",
    "rdrand_exiting",
    "enable_invpcid",
    "rdseed_exiting",
    "enable_xsaves_xrstors",
    "enable_user_wait_and_pause",
  ],
} as const satisfies Partial<Record<ControlWord, readonly string[]>>;

/** Controls KVM offers L1 whatever the host has, because it emulates them (`…_high |= …`). */
export const NESTED_EMULATED = {
  // "msrs->pinbased_ctls_high |= PIN_BASED_ALWAYSON_WITHOUT_TRUE_MSR | PIN_BASED_VMX_PREEMPTION_TIMER"
  pin: ["activate_vmx_preemption_timer"],
  // "msrs->exit_ctls_high |= VM_EXIT_ALWAYSON_WITHOUT_TRUE_MSR | VM_EXIT_LOAD_IA32_EFER |
  //  VM_EXIT_SAVE_IA32_EFER | VM_EXIT_SAVE_VMX_PREEMPTION_TIMER | VM_EXIT_ACK_INTR_ON_EXIT"
  exit: [
    "load_ia32_efer",
    "save_ia32_efer",
    "save_vmx_preemption_timer_value",
    "acknowledge_interrupt_on_exit",
  ],
  // "msrs->entry_ctls_high |= (VM_ENTRY_ALWAYSON_WITHOUT_TRUE_MSR | VM_ENTRY_LOAD_IA32_EFER)"
  entry: ["load_ia32_efer"],
  // "msrs->procbased_ctls_high |= CPU_BASED_ALWAYSON_WITHOUT_TRUE_MSR | CPU_BASED_USE_MSR_BITMAPS"
  proc: ["use_msr_bitmaps"],
  // "We can emulate "VMCS shadowing," even if the hardware doesn't support it."
  proc2: ["vmcs_shadowing"],
} as const satisfies Partial<Record<ControlWord, readonly string[]>>;

/** Default1 controls L1 may clear in the TRUE MSRs ("We support free control of …"). */
const NESTED_MAY_BE_ZERO = {
  // "msrs->exit_ctls_low &= ~VM_EXIT_SAVE_DEBUG_CONTROLS"
  exit: ["save_debug_controls"],
  // "msrs->entry_ctls_low &= ~VM_ENTRY_LOAD_DEBUG_CONTROLS"
  entry: ["load_debug_controls"],
  // "msrs->procbased_ctls_low &= ~(CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING)"
  proc: ["cr3_load_exiting", "cr3_store_exiting"],
} as const;

/**
 * CR4 bits `nested_vmx_cr_fixed1_bits_update` (vmx.c) can set in L1's IA32_VMX_CR4_FIXED1, each
 * from a CPUID bit of L1 (here the host's): PCE 8 always; VME 0, PVI 1, TSD 2, DE 3, PSE 4, PAE 5,
 * MCE 6, PGE 7, OSFXSR 9, OSXMMEXCPT 10, VMXE 13, SMXE 14, PCIDE 17, OSXSAVE 18 (leaf 1);
 * FSGSBASE 16, SMEP 20, SMAP 21, PKE 22, UMIP 11, LA57 12 (leaf 7). CET (23) and PKS (24) are
 * not in the v5.10-era list (CET was added for 6.x kernels with KVM's CET support).
 */
const NESTED_CR4_FIXED1_BITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20, 21, 22];

/** CR0 bits fixed to 1 for L1: "#define VMXON_CR0_ALWAYSON (X86_CR0_PE | X86_CR0_PG | X86_CR0_NE)". */
const CR0_PE = 0;
const CR0_NE = 5;
const CR0_PG = 31;
/** "#define VMXON_CR4_ALWAYSON X86_CR4_VMXE" (bit 13). */
const CR4_VMXE = 13;
/** CR0_FIXED1 is all ones: `nested_vmx_cr_fixed1_bits_update` "cr0_fixed1 = 0xffffffff". */
const CR0_FIXED1_ALL = LOW;

/** VMCS12_REVISION (arch/x86/kvm/vmx/vmcs12.h): the revision identifier L1 reads in IA32_VMX_BASIC. */
export const VMCS12_REVISION = 0x11e57ed0n;
/** VMCS12_SIZE (vmcs12.h): the VMCS region size KVM reports, 4 KiB. */
const VMCS12_SIZE = 0x1000n;
/** VMX_BASIC_MEM_TYPE_WB (asm/vmx.h): write-back, 6. */
const MEM_TYPE_WB = 6n;
/** "VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE 5" (nested.c). */
const EMULATED_PREEMPTION_TIMER_RATE = 5n;
/**
 * VMCS12_MAX_FIELD_INDEX (vmcs12.h): 0x17 in the v5.10-era tree (VMX_PREEMPTION_TIMER_VALUE);
 * "msrs->vmcs_enum = VMCS12_MAX_FIELD_INDEX << 1".
 */
const VMCS12_MAX_FIELD_INDEX = 0x17n;

/** Which KVM features are on, from the settings and the host (vmx.c `hardware_setup`). */
export function effectiveL0(host: CapabilityMsrs, settings: L0Settings = KVM_DEFAULT_L0): L0Settings {
  const proc2 = host.IA32_VMX_PROCBASED_CTLS2 >> 32n;
  const procHigh = host.IA32_VMX_PROCBASED_CTLS >> 32n;
  const pinHigh = host.IA32_VMX_PINBASED_CTLS >> 32n;
  const has2 = (name: string) => (proc2 & mask("proc2", [name])) !== 0n;
  const cap = (n: number) => bitSet(host.IA32_VMX_EPT_VPID_CAP, n);
  // "if (!cpu_has_vmx_ept() || !cpu_has_vmx_ept_4levels() || !cpu_has_vmx_ept_mt_wb() ||
  //  !cpu_has_vmx_invept_global()) enable_ept = 0;"
  const ept =
    settings.ept &&
    has2("enable_ept") &&
    cap(EPT_VPID_CAP.PAGE_WALK_4) &&
    cap(EPT_VPID_CAP.EPTP_WB) &&
    cap(EPT_VPID_CAP.INVEPT_ALL_CONTEXT);
  // "if (!cpu_has_vmx_vpid() || !cpu_has_vmx_invvpid() || !(cpu_has_vmx_invvpid_single() ||
  //  cpu_has_vmx_invvpid_global())) enable_vpid = 0;"
  const vpid =
    settings.vpid &&
    has2("enable_vpid") &&
    cap(EPT_VPID_CAP.INVVPID) &&
    (cap(EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT) || cap(EPT_VPID_CAP.INVVPID_ALL_CONTEXT));
  return {
    ept,
    vpid,
    // "if (!cpu_has_vmx_unrestricted_guest() || !enable_ept) enable_unrestricted_guest = 0;"
    unrestrictedGuest: settings.unrestrictedGuest && ept && has2("unrestricted_guest"),
    // "if (!cpu_has_vmx_ept_ad_bits() || !enable_ept) enable_ept_ad_bits = 0;"
    eptAdBits: settings.eptAdBits && ept && cap(EPT_VPID_CAP.ACCESSED_DIRTY),
    // "if (!cpu_has_vmx_flexpriority()) flexpriority_enabled = 0;" (TPR shadow + APIC-access virtualization)
    flexpriority:
      settings.flexpriority &&
      (procHigh & mask("proc", ["use_tpr_shadow"])) !== 0n &&
      has2("virtualize_apic_accesses"),
    // "if (!cpu_has_vmx_apicv()) enable_apicv = 0;" (APIC-register virtualization, VID, posted interrupts)
    apicv:
      settings.apicv &&
      has2("apic_register_virtualization") &&
      has2("virtual_interrupt_delivery") &&
      (pinHigh & mask("pin", ["process_posted_interrupts"])) !== 0n,
  };
}

function pair(low: bigint, high: bigint): bigint {
  return (high << 32n) | low;
}

/**
 * L1's VMX capability MSRs under L0 = KVM on `host` (the profile's MSRs), step by step as
 * `nested_vmx_setup_ctls_msrs` computes them.
 */
export function nestedCapabilityMsrs(
  host: CapabilityMsrs,
  settings: L0Settings = KVM_DEFAULT_L0,
): CapabilityMsrs {
  const l0 = effectiveL0(host, settings);
  const high = (msr: bigint) => msr >> 32n;
  const d1 = (word: keyof typeof DEFAULT1_BITS) => BigInt(DEFAULT1_BITS[word]);

  // Pin: "rdmsr(MSR_IA32_VMX_PINBASED_CTLS, low, high); low |= PIN_BASED_ALWAYSON_WITHOUT_TRUE_MSR;"
  const pinLow = (host.IA32_VMX_PINBASED_CTLS & LOW) | d1("pin");
  const pinHigh =
    (high(host.IA32_VMX_PINBASED_CTLS) &
      (mask("pin", NESTED_FROM_HOST.pin) | (l0.apicv ? mask("pin", ["process_posted_interrupts"]) : 0n))) |
    d1("pin") |
    mask("pin", NESTED_EMULATED.pin);

  // Exit, entry and primary words take the same steps: the allowed-0 half is the word's
  // default1 bits less those KVM lets L1 clear; the allowed-1 half is the host's bits KVM passes
  // through, plus default1, plus what KVM emulates.
  const word = (w: "exit" | "entry" | "proc", hostMsr: bigint): [bigint, bigint] => [
    d1(w) & ~mask(w, NESTED_MAY_BE_ZERO[w]),
    (high(hostMsr) & mask(w, NESTED_FROM_HOST[w])) | d1(w) | mask(w, NESTED_EMULATED[w]),
  ];
  // Exit: "exit_ctls_low = VM_EXIT_ALWAYSON_WITHOUT_TRUE_MSR; … exit_ctls_low &= ~VM_EXIT_SAVE_DEBUG_CONTROLS"
  const [exitLow, exitHigh] = word("exit", host.IA32_VMX_EXIT_CTLS);
  // Entry: "entry_ctls_low = VM_ENTRY_ALWAYSON_WITHOUT_TRUE_MSR; … &= ~VM_ENTRY_LOAD_DEBUG_CONTROLS"
  const [entryLow, entryHigh] = word("entry", host.IA32_VMX_ENTRY_CTLS);
  // Primary: "procbased_ctls_low = CPU_BASED_ALWAYSON_WITHOUT_TRUE_MSR; … &= ~(CR3_LOAD | CR3_STORE)"
  const [procLow, procHigh] = word("proc", host.IA32_VMX_PROCBASED_CTLS);

  // Secondary: "if (procbased_ctls_high & ACTIVATE_SECONDARY) rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2…);
  // secondary_ctls_low = 0;" then the pass-through list, VMCS shadowing, and the KVM features.
  const secondaryAvailable = (procHigh & mask("proc", ["activate_secondary_controls"])) !== 0n;
  let proc2High = secondaryAvailable
    ? high(host.IA32_VMX_PROCBASED_CTLS2) & mask("proc2", NESTED_FROM_HOST.proc2)
    : 0n;
  proc2High |= mask("proc2", NESTED_EMULATED.proc2);
  let eptCaps = 0n;
  let vmfunc = 0n;
  if (l0.ept) {
    // "nested EPT: emulate EPT also to L1": SECONDARY_EXEC_ENABLE_EPT; ept_caps =
    // (PAGE_WALK_4 | PAGE_WALK_5 | EPTP_WB | INVEPT | EXECUTE_ONLY) & host ept_caps |
    // EXTENT_GLOBAL | EXTENT_CONTEXT | 2MB_PAGE | 1GB_PAGE; with eptad: ENABLE_PML and EPT_AD.
    proc2High |= mask("proc2", ["enable_ept"]);
    const fromHost =
      bit(EPT_VPID_CAP.PAGE_WALK_4) |
      bit(EPT_VPID_CAP.PAGE_WALK_5) |
      bit(EPT_VPID_CAP.EPTP_WB) |
      bit(EPT_VPID_CAP.INVEPT) |
      bit(EPT_VPID_CAP.EXECUTE_ONLY);
    eptCaps =
      (host.IA32_VMX_EPT_VPID_CAP & fromHost) |
      bit(EPT_VPID_CAP.INVEPT_ALL_CONTEXT) |
      bit(EPT_VPID_CAP.INVEPT_SINGLE_CONTEXT) |
      bit(EPT_VPID_CAP.PAGE_2M) |
      bit(EPT_VPID_CAP.PAGE_1G);
    if (l0.eptAdBits) {
      proc2High |= mask("proc2", ["enable_pml"]);
      eptCaps |= bit(EPT_VPID_CAP.ACCESSED_DIRTY);
    }
  }
  // "if (cpu_has_vmx_vmfunc()) { secondary |= ENABLE_VMFUNC; if (enable_ept) vmfunc_controls =
  //  VMX_VMFUNC_EPTP_SWITCHING; }" ("Advertise EPTP switching unconditionally since we emulate it")
  if ((high(host.IA32_VMX_PROCBASED_CTLS2) & mask("proc2", ["enable_vm_functions"])) !== 0n) {
    proc2High |= mask("proc2", ["enable_vm_functions"]);
    if (l0.ept) vmfunc = bit(VMFUNC_EPTP_SWITCHING);
  }
  let vpidCaps = 0n;
  if (l0.vpid) {
    // "secondary |= ENABLE_VPID; vpid_caps = VMX_VPID_INVVPID_BIT | VMX_VPID_EXTENT_SUPPORTED_MASK"
    // (individual-address, single-context, all-context, single-context-retaining-globals).
    proc2High |= mask("proc2", ["enable_vpid"]);
    vpidCaps =
      bit(EPT_VPID_CAP.INVVPID) |
      bit(EPT_VPID_CAP.INVVPID_INDIVIDUAL_ADDRESS) |
      bit(EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT) |
      bit(EPT_VPID_CAP.INVVPID_ALL_CONTEXT) |
      bit(EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS);
  }
  // "if (enable_unrestricted_guest) secondary |= SECONDARY_EXEC_UNRESTRICTED_GUEST"
  if (l0.unrestrictedGuest) proc2High |= mask("proc2", ["unrestricted_guest"]);
  // "if (flexpriority_enabled) secondary |= SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES"
  if (l0.flexpriority) proc2High |= mask("proc2", ["virtualize_apic_accesses"]);

  // MISC: "misc_low &= VMX_MISC_SAVE_EFER_LMA; misc_low |= MSR_IA32_VMX_MISC_VMWRITE_SHADOW_RO_FIELDS |
  // VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE | VMX_MISC_ACTIVITY_HLT; misc_high = 0;" — so no
  // CR3-target values (bits 24:16 = 0), MSR lists of 512, only the HLT activity state, no
  // zero-length injection, no Intel PT in VMX operation.
  const misc =
    (host.IA32_VMX_MISC & bit(VMX_MISC.SAVE_EFER_LMA)) |
    bit(VMX_MISC.VMWRITE_READ_ONLY_FIELDS) |
    EMULATED_PREEMPTION_TIMER_RATE |
    bit(VMX_MISC.ACTIVITY_HLT);

  // BASIC: "VMCS12_REVISION | VMX_BASIC_TRUE_CTLS | (VMCS12_SIZE << VMX_BASIC_VMCS_SIZE_SHIFT) |
  // (VMX_BASIC_MEM_TYPE_WB << VMX_BASIC_MEM_TYPE_SHIFT)"; "if (cpu_has_vmx_basic_inout()) |= VMX_BASIC_INOUT".
  const basic =
    VMCS12_REVISION |
    bit(VMX_BASIC.TRUE_CTLS) |
    (VMCS12_SIZE << 32n) |
    (MEM_TYPE_WB << 50n) |
    (host.IA32_VMX_BASIC & bit(VMX_BASIC.INS_OUTS_INFO));

  let cr4Fixed1 = 0n;
  for (const n of NESTED_CR4_FIXED1_BITS) cr4Fixed1 |= bit(n);
  // PCE is set unconditionally; the rest follow L1's CPUID, here the host's (its FIXED1 bits).
  cr4Fixed1 = (host.IA32_VMX_CR4_FIXED1 & cr4Fixed1) | bit(8);

  const truePin = pair(pinLow, pinHigh);
  const trueProc = pair(procLow, procHigh);
  const trueExit = pair(exitLow, exitHigh);
  const trueEntry = pair(entryLow, entryHigh);
  return {
    IA32_VMX_BASIC: basic,
    // vmx_get_vmx_msr: the non-TRUE MSRs are the TRUE ones with the *_ALWAYSON_WITHOUT_TRUE_MSR bits set.
    IA32_VMX_PINBASED_CTLS: truePin | d1("pin"),
    IA32_VMX_PROCBASED_CTLS: trueProc | d1("proc"),
    IA32_VMX_EXIT_CTLS: trueExit | d1("exit"),
    IA32_VMX_ENTRY_CTLS: trueEntry | d1("entry"),
    IA32_VMX_MISC: misc,
    IA32_VMX_CR0_FIXED0: bit(CR0_PE) | bit(CR0_NE) | bit(CR0_PG),
    IA32_VMX_CR0_FIXED1: CR0_FIXED1_ALL,
    IA32_VMX_CR4_FIXED0: bit(CR4_VMXE),
    IA32_VMX_CR4_FIXED1: cr4Fixed1,
    IA32_VMX_VMCS_ENUM: VMCS12_MAX_FIELD_INDEX << 1n,
    IA32_VMX_PROCBASED_CTLS2: pair(0n, proc2High),
    IA32_VMX_EPT_VPID_CAP: eptCaps | (vpidCaps & ~LOW),
    IA32_VMX_TRUE_PINBASED_CTLS: truePin,
    IA32_VMX_TRUE_PROCBASED_CTLS: trueProc,
    IA32_VMX_TRUE_EXIT_CTLS: trueExit,
    IA32_VMX_TRUE_ENTRY_CTLS: trueEntry,
    IA32_VMX_VMFUNC: vmfunc,
    // KVM of this era offers L1 no tertiary controls (CPU_BASED_ACTIVATE_TERTIARY_CONTROLS is not
    // in the primary list).
    IA32_VMX_PROCBASED_CTLS3: 0n,
  };
}

/** The derivation, one row per rule, for docs/diagnostics.md and hovers. */
export const NESTED_CAPABILITY_STEPS: readonly NestedCapabilityStep[] = [
  {
    msr: "IA32_VMX_TRUE_PINBASED_CTLS",
    rule: "host ∩ {external_interrupt_exiting, nmi_exiting, virtual_nmis, process_posted_interrupts (only with enable_apicv)} ∪ {activate_vmx_preemption_timer (emulated)}; must-be-1 = the host's",
    source: `${NESTED_C} (pinbased_ctls_high &= …, |= PIN_BASED_VMX_PREEMPTION_TIMER)`,
  },
  {
    msr: "IA32_VMX_TRUE_PROCBASED_CTLS",
    rule: "host ∩ the list of KVM's nested support (no activate_tertiary_controls) ∪ {use_msr_bitmaps (emulated)}; must-be-1 = default1 except cr3_load_exiting and cr3_store_exiting",
    source: `${NESTED_C} (procbased_ctls_high &= …, |= CPU_BASED_USE_MSR_BITMAPS; "We support free control of CR3 access interception")`,
  },
  {
    msr: "IA32_VMX_PROCBASED_CTLS2",
    rule: "host ∩ {descriptor_table_exiting, enable_rdtscp, virtualize_x2apic_mode, wbinvd_exiting, apic_register_virtualization, virtual_interrupt_delivery, rdrand_exiting, enable_invpcid, rdseed_exiting, enable_xsaves_xrstors, enable_user_wait_and_pause} ∪ {vmcs_shadowing} ∪ enable_ept, enable_pml (with EPT A/D), enable_vm_functions (host has it), enable_vpid, unrestricted_guest, virtualize_apic_accesses (flexpriority) when L0 uses them; never use_tsc_scaling, mode_based_execute_control, PT, SPP, ENCLS, bus-lock, notify, PCONFIG, EPT-violation #VE, PAUSE-loop exiting",
    source: `${NESTED_C} (secondary_ctls_high &= …); ${VMX_C} vmx_compute_secondary_exec_control (WAITPKG), hardware_setup (which features L0 uses)`,
  },
  {
    msr: "IA32_VMX_TRUE_EXIT_CTLS",
    rule: "host ∩ {host_address_space_size, load/save_ia32_pat, clear_ia32_bndcfgs, load_ia32_perf_global_ctrl} ∪ {load/save_ia32_efer, save_vmx_preemption_timer_value, acknowledge_interrupt_on_exit (emulated)}; save_debug_controls may be 0",
    source: `${NESTED_C} (exit_ctls_high &= …, |= …; "We support free control of debug control saving")`,
  },
  {
    msr: "IA32_VMX_TRUE_ENTRY_CTLS",
    rule: "host ∩ {ia32e_mode_guest, load_ia32_pat, load_ia32_bndcfgs, load_ia32_perf_global_ctrl} ∪ {load_ia32_efer (emulated)}; load_debug_controls may be 0; never entry_to_smm, deactivate_dual_monitor_treatment, PT, RTIT_CTL",
    source: `${NESTED_C} (entry_ctls_high &= …, |= VM_ENTRY_LOAD_IA32_EFER)`,
  },
  {
    msr: "IA32_VMX_EPT_VPID_CAP",
    rule: "EPT: host ∩ {4- and 5-level walks, WB EPTP, INVEPT, execute-only} ∪ {single- and all-context INVEPT, 2 MB and 1 GB pages} ∪ A/D (with eptad); no UC EPTP. VPID: INVVPID with all four types",
    source: `${NESTED_C} (ept_caps, vpid_caps = VMX_VPID_INVVPID_BIT | VMX_VPID_EXTENT_SUPPORTED_MASK)`,
  },
  {
    msr: "IA32_VMX_MISC",
    rule: "the host's save-EFER.LMA bit, VMWRITE to read-only fields, preemption-timer rate 5, activity state HLT only; 0 CR3-target values, MSR lists of 512, no zero-length injection",
    source: `${NESTED_C} (misc_low &= VMX_MISC_SAVE_EFER_LMA; |= …; misc_high = 0)`,
  },
  {
    msr: "IA32_VMX_CR0_FIXED0/1, IA32_VMX_CR4_FIXED0/1",
    rule: "CR0 PE, NE, PG and CR4 VMXE fixed to 1; CR0_FIXED1 all ones; CR4_FIXED1 = PCE and the bits L1's CPUID has among VME…OSXSAVE, FSGSBASE, SMEP, SMAP, PKE, UMIP, LA57 (here the host's); no CET, no PKS",
    source: `${NESTED_C} (VMXON_CR0_ALWAYSON, VMXON_CR4_ALWAYSON); ${VMX_C} nested_vmx_cr_fixed1_bits_update`,
  },
  {
    msr: "IA32_VMX_VMFUNC",
    rule: "EPTP switching when the host has VM functions and L0 uses EPT (emulated)",
    source: `${NESTED_C} ("Advertise EPTP switching unconditionally since we emulate it")`,
  },
  {
    msr: "IA32_VMX_BASIC",
    rule: "VMCS12_REVISION, 4 KiB VMCS, WB, TRUE controls, the host's INS/OUTS information bit",
    source: `${NESTED_C} (msrs->basic = VMCS12_REVISION | VMX_BASIC_TRUE_CTLS | …)`,
  },
];

/**
 * What L1 sees when KVM's checks of vmcs12 fail, by the area checked (nested.c `nested_vmx_run`
 * and `nested_vmx_enter_non_root_mode`): the control checks (`nested_vmx_check_controls`) and the
 * host-state checks (`nested_vmx_check_host_state`) make VMLAUNCH/VMRESUME fail with a
 * VM-instruction error (`nested_vmx_fail(vcpu, VMXERR_ENTRY_INVALID_CONTROL_FIELD)`, 7, and
 * `VMXERR_ENTRY_INVALID_HOST_STATE_FIELD`, 8: SDM Vol. 3C §31.4 "VM Instruction Error Numbers",
 * §30.4 in pre-2023 editions); the guest-state checks (`nested_vmx_check_guest_state`) make a VM
 * exit to L1 with exit reason 33, "VM-entry failure due to invalid guest state", bit 31 set
 * (`vmcs12->vm_exit_reason = EXIT_REASON_INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY`).
 */
export const NESTED_ENTRY_FAILURE = {
  controls: {
    kvm: "nested_vmx_check_controls",
    outcome: "VMfailValid, VM-instruction error 7 (VM entry with invalid control fields)",
  },
  host: {
    kvm: "nested_vmx_check_host_state",
    outcome: "VMfailValid, VM-instruction error 8 (VM entry with invalid host-state fields)",
  },
  guest: {
    kvm: "nested_vmx_check_guest_state",
    outcome: "a VM exit to L1 with exit reason 33 (VM-entry failure due to invalid guest state)",
  },
} as const;

/** The label of a profile as L1 sees it under KVM, for messages ("… on skylake_server under KVM, as L1"). */
export function nestedProfileName(name: string): string {
  return `${name} under KVM, as L1`;
}
