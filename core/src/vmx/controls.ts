/**
 * The VMX control bits the language names, one entry per (word, bit).
 *
 * Bit positions: Linux arch/x86/include/asm/vmxfeatures.h (`VMX_FEATURE_x = word*32 + bit`, and
 * asm/vmx.h `VMCS_CONTROL_BIT(x) = BIT(VMX_FEATURE_x & 0x1f)`), the hex masks of asm/vmx.h for the
 * VM-exit and VM-entry words, and Bochs bochs/cpu/vmx_ctrls.h for the bits Linux does not define.
 * Meanings: Intel SDM Vol. 3C §25.6.1 (pin-based, Table 25-5), §25.6.2 (processor-based: primary
 * Table 25-6, secondary Table 25-7, tertiary Table 25-8), §25.7.1 (VM-exit controls) and §25.8.1
 * (VM-entry controls). The language names are fixed by spec/language.md.
 *
 * Some names exist in several words (conceal_vmx_from_pt in proc2, exit and entry;
 * load_ia32_perf_global_ctrl, load_ia32_pat and load_ia32_efer in exit and entry): use
 * `findControls(name)`, which returns every word's entry, or `controlInWord(word, name)`.
 */
import type { ControlDef, ControlWord } from "./types";

const LINUX_FEAT = "L-feat (Linux arch/x86/include/asm/vmxfeatures.h)";
const LINUX_VMX_H = "L-vmx.h (Linux arch/x86/include/asm/vmx.h)";
const BOCHS_CTRLS = "Bochs bochs/cpu/vmx_ctrls.h";
const SDM_PIN = "SDM Vol. 3C §25.6.1 Table 25-5";
const SDM_PROC = "SDM Vol. 3C §25.6.2 Table 25-6";
const SDM_PROC2 = "SDM Vol. 3C §25.6.2 Table 25-7";
const SDM_PROC3 = "SDM Vol. 3C §25.6.2 Table 25-8";
const SDM_EXIT = "SDM Vol. 3C §25.7.1";
const SDM_ENTRY = "SDM Vol. 3C §25.8.1";

type Row = readonly [
  name: string,
  bit: number,
  sdmName: string,
  linuxMacro: string | undefined,
  meaning: string,
];

function build(word: ControlWord, sdmSection: string, bitSource: string, rows: readonly Row[]): ControlDef[] {
  return rows.map(([name, bit, sdmName, linuxMacro, meaning]) => {
    const fromLinux = linuxMacro !== undefined;
    const def: ControlDef = {
      name,
      word,
      bit,
      sdmName,
      meaning,
      source: `${fromLinux ? `${bitSource} ${linuxMacro}` : BOCHS_CTRLS}; ${sdmSection}`,
    };
    if (linuxMacro !== undefined && !linuxMacro.startsWith("VMX_FEATURE_")) def.linuxMacro = linuxMacro;
    return def;
  });
}

const PIN_ROWS = [
  [
    "external_interrupt_exiting",
    0,
    "External-interrupt exiting",
    "PIN_BASED_EXT_INTR_MASK",
    "External interrupts cause VM exits; if 0 they are delivered through the guest IDT.",
  ],
  [
    "nmi_exiting",
    3,
    "NMI exiting",
    "PIN_BASED_NMI_EXITING",
    "Non-maskable interrupts cause VM exits; if 0 they are delivered through the guest IDT.",
  ],
  [
    "virtual_nmis",
    5,
    "Virtual NMIs",
    "PIN_BASED_VIRTUAL_NMIS",
    "NMIs are never blocked and the processor tracks virtual-NMI blocking (needed for NMI-window exiting).",
  ],
  [
    "activate_vmx_preemption_timer",
    6,
    "Activate VMX-preemption timer",
    "PIN_BASED_VMX_PREEMPTION_TIMER",
    "The VMX-preemption timer counts down in VMX non-root operation and causes a VM exit at zero.",
  ],
  [
    "process_posted_interrupts",
    7,
    "Process posted interrupts",
    "PIN_BASED_POSTED_INTR",
    "Interrupts with the posted-interrupt notification vector are processed by updating the virtual-APIC page from the posted-interrupt descriptor instead of exiting.",
  ],
] as const satisfies readonly Row[];
const PIN: ControlDef[] = build("pin", SDM_PIN, `${LINUX_FEAT} / ${LINUX_VMX_H}`, PIN_ROWS);

const PROC_ROWS = [
  [
    "interrupt_window_exiting",
    2,
    "Interrupt-window exiting",
    "CPU_BASED_INTR_WINDOW_EXITING",
    "A VM exit occurs at the beginning of any instruction if RFLAGS.IF = 1 and there are no other blocking of interrupts.",
  ],
  [
    "use_tsc_offsetting",
    3,
    "Use TSC offsetting",
    "CPU_BASED_USE_TSC_OFFSETTING",
    "RDTSC, RDTSCP and reads of IA32_TIME_STAMP_COUNTER return the TSC plus the TSC-offset field.",
  ],
  ["hlt_exiting", 7, "HLT exiting", "CPU_BASED_HLT_EXITING", "Executions of HLT cause VM exits."],
  ["invlpg_exiting", 9, "INVLPG exiting", "CPU_BASED_INVLPG_EXITING", "Executions of INVLPG cause VM exits."],
  ["mwait_exiting", 10, "MWAIT exiting", "CPU_BASED_MWAIT_EXITING", "Executions of MWAIT cause VM exits."],
  ["rdpmc_exiting", 11, "RDPMC exiting", "CPU_BASED_RDPMC_EXITING", "Executions of RDPMC cause VM exits."],
  [
    "rdtsc_exiting",
    12,
    "RDTSC exiting",
    "CPU_BASED_RDTSC_EXITING",
    "Executions of RDTSC (and RDTSCP with enable RDTSCP) cause VM exits.",
  ],
  [
    "cr3_load_exiting",
    15,
    "CR3-load exiting",
    "CPU_BASED_CR3_LOAD_EXITING",
    "MOV to CR3 causes a VM exit unless the value matches one of the CR3-target values.",
  ],
  [
    "cr3_store_exiting",
    16,
    "CR3-store exiting",
    "CPU_BASED_CR3_STORE_EXITING",
    "MOV from CR3 causes a VM exit.",
  ],
  [
    "activate_tertiary_controls",
    17,
    "Activate tertiary controls",
    "CPU_BASED_ACTIVATE_TERTIARY_CONTROLS",
    "The tertiary processor-based VM-execution controls are used; if 0 they are treated as all 0.",
  ],
  ["cr8_load_exiting", 19, "CR8-load exiting", "CPU_BASED_CR8_LOAD_EXITING", "MOV to CR8 causes a VM exit."],
  [
    "cr8_store_exiting",
    20,
    "CR8-store exiting",
    "CPU_BASED_CR8_STORE_EXITING",
    "MOV from CR8 causes a VM exit.",
  ],
  [
    "use_tpr_shadow",
    21,
    "Use TPR shadow",
    "CPU_BASED_TPR_SHADOW",
    "TPR virtualization and other APIC-virtualization features are enabled, using the virtual-APIC page.",
  ],
  [
    "nmi_window_exiting",
    22,
    "NMI-window exiting",
    "CPU_BASED_NMI_WINDOW_EXITING",
    "A VM exit occurs at the beginning of any instruction if there is no virtual-NMI blocking.",
  ],
  [
    "mov_dr_exiting",
    23,
    "MOV-DR exiting",
    "CPU_BASED_MOV_DR_EXITING",
    "Executions of MOV DR cause VM exits.",
  ],
  [
    "unconditional_io_exiting",
    24,
    "Unconditional I/O exiting",
    "CPU_BASED_UNCOND_IO_EXITING",
    "Executions of I/O instructions (IN, INS, OUT, OUTS) cause VM exits; ignored when use I/O bitmaps is 1.",
  ],
  [
    "use_io_bitmaps",
    25,
    "Use I/O bitmaps",
    "CPU_BASED_USE_IO_BITMAPS",
    "I/O bitmaps A and B decide, port by port, whether I/O instructions cause VM exits.",
  ],
  [
    "monitor_trap_flag",
    27,
    "Monitor trap flag",
    "CPU_BASED_MONITOR_TRAP_FLAG",
    "The monitor trap flag debugging feature is enabled: a VM exit after each guest instruction.",
  ],
  [
    "use_msr_bitmaps",
    28,
    "Use MSR bitmaps",
    "CPU_BASED_USE_MSR_BITMAPS",
    "MSR bitmaps decide whether RDMSR and WRMSR cause VM exits; if 0 every RDMSR/WRMSR exits.",
  ],
  [
    "monitor_exiting",
    29,
    "MONITOR exiting",
    "CPU_BASED_MONITOR_EXITING",
    "Executions of MONITOR cause VM exits.",
  ],
  ["pause_exiting", 30, "PAUSE exiting", "CPU_BASED_PAUSE_EXITING", "Executions of PAUSE cause VM exits."],
  [
    "activate_secondary_controls",
    31,
    "Activate secondary controls",
    "CPU_BASED_ACTIVATE_SECONDARY_CONTROLS",
    "The secondary processor-based VM-execution controls are used; if 0 they are treated as all 0.",
  ],
] as const satisfies readonly Row[];
const PROC: ControlDef[] = build("proc", SDM_PROC, `${LINUX_FEAT} / ${LINUX_VMX_H}`, PROC_ROWS);

const PROC2_ROWS = [
  [
    "virtualize_apic_accesses",
    0,
    "Virtualize APIC accesses",
    "SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES",
    "Accesses to the page at the APIC-access address are treated specially (virtualized or APIC-access VM exits).",
  ],
  [
    "enable_ept",
    1,
    "Enable EPT",
    "SECONDARY_EXEC_ENABLE_EPT",
    "Extended page tables translate guest-physical addresses.",
  ],
  [
    "descriptor_table_exiting",
    2,
    "Descriptor-table exiting",
    "SECONDARY_EXEC_DESC",
    "Executions of LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT and STR cause VM exits.",
  ],
  [
    "enable_rdtscp",
    3,
    "Enable RDTSCP",
    "SECONDARY_EXEC_ENABLE_RDTSCP",
    "RDTSCP is allowed in the guest; if 0 it causes #UD.",
  ],
  [
    "virtualize_x2apic_mode",
    4,
    "Virtualize x2APIC mode",
    "SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE",
    "RDMSR and WRMSR to MSRs 800H-8FFH are treated specially (APIC virtualization in x2APIC mode).",
  ],
  [
    "enable_vpid",
    5,
    "Enable VPID",
    "SECONDARY_EXEC_ENABLE_VPID",
    "Cached linear-address translations are tagged with a virtual-processor identifier.",
  ],
  [
    "wbinvd_exiting",
    6,
    "WBINVD exiting",
    "SECONDARY_EXEC_WBINVD_EXITING",
    "Executions of WBINVD (and WBNOINVD) cause VM exits.",
  ],
  [
    "unrestricted_guest",
    7,
    "Unrestricted guest",
    "SECONDARY_EXEC_UNRESTRICTED_GUEST",
    "The guest may run in unpaged protected mode or real-address mode (requires enable EPT).",
  ],
  [
    "apic_register_virtualization",
    8,
    "APIC-register virtualization",
    "SECONDARY_EXEC_APIC_REGISTER_VIRT",
    "Reads of most APIC registers are satisfied from the virtual-APIC page instead of exiting.",
  ],
  [
    "virtual_interrupt_delivery",
    9,
    "Virtual-interrupt delivery",
    "SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY",
    "Pending virtual interrupts are evaluated and delivered by the processor, and EOI is virtualized.",
  ],
  [
    "pause_loop_exiting",
    10,
    "PAUSE-loop exiting",
    "SECONDARY_EXEC_PAUSE_LOOP_EXITING",
    "A series of PAUSE executions at CPL 0 causes a VM exit when the loop exceeds PLE_Window (gaps within PLE_Gap).",
  ],
  [
    "rdrand_exiting",
    11,
    "RDRAND exiting",
    "SECONDARY_EXEC_RDRAND_EXITING",
    "Executions of RDRAND cause VM exits.",
  ],
  [
    "enable_invpcid",
    12,
    "Enable INVPCID",
    "SECONDARY_EXEC_ENABLE_INVPCID",
    "INVPCID is allowed in the guest (it exits if INVLPG exiting is also 1); if 0 it causes #UD.",
  ],
  [
    "enable_vm_functions",
    13,
    "Enable VM functions",
    "SECONDARY_EXEC_ENABLE_VMFUNC",
    "VMFUNC is allowed in the guest for the functions enabled in the VM-function controls.",
  ],
  [
    "vmcs_shadowing",
    14,
    "VMCS shadowing",
    "SECONDARY_EXEC_SHADOW_VMCS",
    "VMREAD and VMWRITE in the guest may access a shadow VMCS, exiting only per the VMREAD/VMWRITE bitmaps.",
  ],
  [
    "enable_encls_exiting",
    15,
    "Enable ENCLS exiting",
    "SECONDARY_EXEC_ENCLS_EXITING",
    "Executions of ENCLS consult the ENCLS-exiting bitmap to decide whether to exit.",
  ],
  [
    "rdseed_exiting",
    16,
    "RDSEED exiting",
    "SECONDARY_EXEC_RDSEED_EXITING",
    "Executions of RDSEED cause VM exits.",
  ],
  [
    "enable_pml",
    17,
    "Enable PML",
    "SECONDARY_EXEC_ENABLE_PML",
    "Page-modification logging: guest-physical addresses of pages that become dirty are logged in the PML buffer (requires enable EPT).",
  ],
  [
    "ept_violation_ve",
    18,
    "EPT-violation #VE",
    "SECONDARY_EXEC_EPT_VIOLATION_VE",
    "Some EPT violations cause a virtualization exception (#VE) in the guest instead of a VM exit.",
  ],
  [
    "conceal_vmx_from_pt",
    19,
    "Conceal VMX from PT",
    "SECONDARY_EXEC_PT_CONCEAL_VMX",
    "Intel Processor Trace suppresses the data packets that would show the processor is in VMX non-root operation.",
  ],
  [
    "enable_xsaves_xrstors",
    20,
    "Enable XSAVES/XRSTORS",
    "SECONDARY_EXEC_ENABLE_XSAVES",
    "XSAVES and XRSTORS are allowed in the guest (exiting per the XSS-exiting bitmap); if 0 they cause #UD.",
  ],
  [
    "mode_based_execute_control",
    22,
    "Mode-based execute control for EPT",
    "SECONDARY_EXEC_MODE_BASED_EPT_EXEC",
    "EPT execute permissions are separate for supervisor-mode and user-mode linear addresses.",
  ],
  [
    "sub_page_write_permissions",
    23,
    "Sub-page write permissions for EPT",
    undefined,
    "EPT write permissions may be specified at 128-byte granularity through the SPP tables.",
  ],
  [
    "pt_uses_guest_physical_addresses",
    24,
    "Intel PT uses guest physical addresses",
    "SECONDARY_EXEC_PT_USE_GPA",
    "Addresses used by Intel Processor Trace are guest-physical and translated through EPT.",
  ],
  [
    "use_tsc_scaling",
    25,
    "Use TSC scaling",
    "SECONDARY_EXEC_TSC_SCALING",
    "RDTSC, RDTSCP and reads of IA32_TIME_STAMP_COUNTER return the TSC multiplied by the TSC multiplier field (then offset).",
  ],
  [
    "enable_user_wait_and_pause",
    26,
    "Enable user wait and pause",
    "SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE",
    "TPAUSE, UMONITOR and UMWAIT are allowed in the guest; if 0 they cause #UD.",
  ],
  [
    "enable_pconfig",
    27,
    "Enable PCONFIG",
    undefined,
    "PCONFIG is allowed in the guest (exiting per the PCONFIG-exiting bitmap); if 0 it causes #UD.",
  ],
  [
    "enable_enclv_exiting",
    28,
    "Enable ENCLV exiting",
    "VMX_FEATURE_ENCLV_EXITING",
    "Executions of ENCLV consult the ENCLV-exiting bitmap to decide whether to exit.",
  ],
  [
    "bus_lock_detection",
    30,
    "VMM bus-lock detection",
    "SECONDARY_EXEC_BUS_LOCK_DETECTION",
    "A guest instruction that acquires a bus lock causes a VM exit after it completes (exit reason 74).",
  ],
  [
    "notify_vm_exiting",
    31,
    "Instruction timeout",
    "SECONDARY_EXEC_NOTIFY_VM_EXITING",
    "A VM exit (reason 75) occurs if the processor stays in a window without an instruction boundary longer than the notify window.",
  ],
] as const satisfies readonly Row[];
const PROC2: ControlDef[] = build("proc2", SDM_PROC2, `${LINUX_FEAT} / ${LINUX_VMX_H}`, PROC2_ROWS);

const PROC3_ROWS = [
  ["loadiwkey_exiting", 0, "LOADIWKEY exiting", undefined, "Executions of LOADIWKEY cause VM exits."],
  [
    "enable_hlat",
    1,
    "Enable HLAT",
    undefined,
    "Hypervisor-managed linear-address translation is used for some linear addresses.",
  ],
  [
    "ept_paging_write_control",
    2,
    "EPT paging-write control",
    undefined,
    "EPT permissions may allow guest paging-structure writes only (paging-write bit of EPT entries).",
  ],
  [
    "guest_paging_verification",
    3,
    "Guest-paging verification",
    undefined,
    "EPT entries may require guest paging structures to be verified (verify-guest-paging bit).",
  ],
  [
    "ipi_virtualization",
    4,
    "IPI virtualization",
    "TERTIARY_EXEC_IPI_VIRT",
    "Writes to the ICR that send a fixed-mode IPI are virtualized through the PID-pointer table without a VM exit.",
  ],
] as const satisfies readonly Row[];
const PROC3: ControlDef[] = build("proc3", SDM_PROC3, `${LINUX_FEAT} / ${LINUX_VMX_H}`, PROC3_ROWS);

const EXIT_ROWS = [
  [
    "save_debug_controls",
    2,
    "Save debug controls",
    "VM_EXIT_SAVE_DEBUG_CONTROLS",
    "DR7 and IA32_DEBUGCTL are saved on VM exit.",
  ],
  [
    "host_address_space_size",
    9,
    "Host address-space size",
    "VM_EXIT_HOST_ADDR_SPACE_SIZE",
    "The host runs in 64-bit mode after the VM exit (IA32_EFER.LME and LMA set).",
  ],
  [
    "load_ia32_perf_global_ctrl",
    12,
    "Load IA32_PERF_GLOBAL_CTRL",
    "VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL",
    "IA32_PERF_GLOBAL_CTRL is loaded from the host-state area on VM exit.",
  ],
  [
    "acknowledge_interrupt_on_exit",
    15,
    "Acknowledge interrupt on exit",
    "VM_EXIT_ACK_INTR_ON_EXIT",
    "On an exit due to an external interrupt the processor acknowledges it and stores its vector in the VM-exit interruption-information field.",
  ],
  ["save_ia32_pat", 18, "Save IA32_PAT", "VM_EXIT_SAVE_IA32_PAT", "IA32_PAT is saved on VM exit."],
  [
    "load_ia32_pat",
    19,
    "Load IA32_PAT",
    "VM_EXIT_LOAD_IA32_PAT",
    "IA32_PAT is loaded from the host-state area on VM exit.",
  ],
  ["save_ia32_efer", 20, "Save IA32_EFER", "VM_EXIT_SAVE_IA32_EFER", "IA32_EFER is saved on VM exit."],
  [
    "load_ia32_efer",
    21,
    "Load IA32_EFER",
    "VM_EXIT_LOAD_IA32_EFER",
    "IA32_EFER is loaded from the host-state area on VM exit.",
  ],
  [
    "save_vmx_preemption_timer_value",
    22,
    "Save VMX-preemption timer value",
    "VM_EXIT_SAVE_VMX_PREEMPTION_TIMER",
    "The value of the VMX-preemption timer is saved on VM exit.",
  ],
  [
    "clear_ia32_bndcfgs",
    23,
    "Clear IA32_BNDCFGS",
    "VM_EXIT_CLEAR_BNDCFGS",
    "IA32_BNDCFGS is cleared on VM exit.",
  ],
  [
    "conceal_vmx_from_pt",
    24,
    "Conceal VMX from PT",
    "VM_EXIT_PT_CONCEAL_PIP",
    "Intel Processor Trace does not produce a paging information packet (PIP) on VM exit.",
  ],
  [
    "clear_ia32_rtit_ctl",
    25,
    "Clear IA32_RTIT_CTL",
    "VM_EXIT_CLEAR_IA32_RTIT_CTL",
    "IA32_RTIT_CTL is cleared on VM exit.",
  ],
] as const satisfies readonly Row[];
const EXIT: ControlDef[] = build("exit", SDM_EXIT, LINUX_VMX_H, EXIT_ROWS);

const ENTRY_ROWS = [
  [
    "load_debug_controls",
    2,
    "Load debug controls",
    "VM_ENTRY_LOAD_DEBUG_CONTROLS",
    "DR7 and IA32_DEBUGCTL are loaded from the guest-state area on VM entry.",
  ],
  [
    "ia32e_mode_guest",
    9,
    "IA-32e mode guest",
    "VM_ENTRY_IA32E_MODE",
    "The logical processor is in IA-32e mode after VM entry (IA32_EFER.LMA is loaded with this control).",
  ],
  [
    "entry_to_smm",
    10,
    "Entry to SMM",
    "VM_ENTRY_SMM",
    "The logical processor is in system-management mode after VM entry (dual-monitor treatment only).",
  ],
  [
    "deactivate_dual_monitor_treatment",
    11,
    "Deactivate dual-monitor treatment",
    "VM_ENTRY_DEACT_DUAL_MONITOR",
    "The default treatment of SMIs and SMM is in effect after the VM entry (only from SMM).",
  ],
  [
    "load_ia32_perf_global_ctrl",
    13,
    "Load IA32_PERF_GLOBAL_CTRL",
    "VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL",
    "IA32_PERF_GLOBAL_CTRL is loaded from the guest-state area on VM entry.",
  ],
  [
    "load_ia32_pat",
    14,
    "Load IA32_PAT",
    "VM_ENTRY_LOAD_IA32_PAT",
    "IA32_PAT is loaded from the guest-state area on VM entry.",
  ],
  [
    "load_ia32_efer",
    15,
    "Load IA32_EFER",
    "VM_ENTRY_LOAD_IA32_EFER",
    "IA32_EFER is loaded from the guest-state area on VM entry.",
  ],
  [
    "load_ia32_bndcfgs",
    16,
    "Load IA32_BNDCFGS",
    "VM_ENTRY_LOAD_BNDCFGS",
    "IA32_BNDCFGS is loaded from the guest-state area on VM entry.",
  ],
  [
    "conceal_vmx_from_pt",
    17,
    "Conceal VMX from PT",
    "VM_ENTRY_PT_CONCEAL_PIP",
    "Intel Processor Trace does not produce a paging information packet (PIP) on VM entry.",
  ],
  [
    "load_ia32_rtit_ctl",
    18,
    "Load IA32_RTIT_CTL",
    "VM_ENTRY_LOAD_IA32_RTIT_CTL",
    "IA32_RTIT_CTL is loaded from the guest-state area on VM entry.",
  ],
] as const satisfies readonly Row[];
const ENTRY: ControlDef[] = build("entry", SDM_ENTRY, LINUX_VMX_H, ENTRY_ROWS);

export const CONTROL_WORDS: readonly ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];

const BY_WORD: Record<ControlWord, readonly ControlDef[]> = {
  pin: PIN,
  proc: PROC,
  proc2: PROC2,
  proc3: PROC3,
  exit: EXIT,
  entry: ENTRY,
};

export const CONTROLS: readonly ControlDef[] = [...PIN, ...PROC, ...PROC2, ...PROC3, ...EXIT, ...ENTRY];

const BY_NAME = new Map<string, ControlDef[]>();
for (const control of CONTROLS) {
  const list = BY_NAME.get(control.name);
  if (list) list.push(control);
  else BY_NAME.set(control.name, [control]);
}
const NONE: ControlDef[] = [];

/** Every word's control of that name (several for conceal_vmx_from_pt, load_ia32_pat, …); [] if unknown. */
export function findControls(name: string): ControlDef[] {
  return BY_NAME.get(name) ?? BY_NAME.get(name.toLowerCase()) ?? NONE;
}

/** The control of that name in one word, if the word has it. */
export function controlInWord(word: ControlWord, name: string): ControlDef | undefined {
  for (const control of findControls(name)) if (control.word === word) return control;
  return undefined;
}

/** The controls of one word, ascending by bit. */
export function controlsOfWord(word: ControlWord): readonly ControlDef[] {
  return BY_WORD[word];
}

/** The named control at a bit of a word, if the language names one. */
export function controlAtBit(word: ControlWord, bit: number): ControlDef | undefined {
  for (const control of BY_WORD[word]) if (control.bit === bit) return control;
  return undefined;
}

/** Every control name the language knows (for completion and did-you-mean suggestions). */
export function controlNames(): string[] {
  return [...BY_NAME.keys()];
}

/**
 * Bits of the default1 class: reported as must-be-one by the non-TRUE capability MSRs
 * (SDM Vol. 3D App. A.3–A.5). Values from L-vmx.h `*_ALWAYSON_WITHOUT_TRUE_MSR`:
 * pin 0x16 = bits 1, 2, 4; proc 0x0401e172 = bits 1, 4–6, 8, 13–16, 26;
 * exit 0x00036dff = bits 0–8, 10, 11, 13, 14, 16, 17; entry 0x000011ff = bits 0–8, 12.
 * The secondary and tertiary words have no default1 bits (Bochs VMX_MSR_VMX_PROCBASED_CTRLS2_LO = 0).
 */
export const DEFAULT1_BITS: Record<"pin" | "proc" | "exit" | "entry", number> = {
  pin: 0x00000016,
  proc: 0x0401e172,
  exit: 0x00036dff,
  entry: 0x000011ff,
};

/** The VMCS field that holds each control word (L-vmx.h enum vmcs_field). */
export const CONTROL_WORD_FIELD: Record<ControlWord, string> = {
  pin: "PIN_BASED_VM_EXEC_CONTROL",
  proc: "CPU_BASED_VM_EXEC_CONTROL",
  proc2: "SECONDARY_VM_EXEC_CONTROL",
  proc3: "TERTIARY_VM_EXEC_CONTROL",
  exit: "VM_EXIT_CONTROLS",
  entry: "VM_ENTRY_CONTROLS",
};

/** Bit mask of a control as a bigint (the tertiary word is 64 bits wide). */
export function controlMask(control: ControlDef): bigint {
  return 1n << BigInt(control.bit);
}

/** The language names of each word's controls, from the rows above: a typo is a compile error. */
export interface ControlNames {
  pin: (typeof PIN_ROWS)[number][0];
  proc: (typeof PROC_ROWS)[number][0];
  proc2: (typeof PROC2_ROWS)[number][0];
  proc3: (typeof PROC3_ROWS)[number][0];
  exit: (typeof EXIT_ROWS)[number][0];
  entry: (typeof ENTRY_ROWS)[number][0];
}

/** A control resolved to its word and bit mask once (tests on hot paths are one AND). */
export interface ControlRef {
  readonly name: string;
  readonly word: ControlWord;
  readonly mask: bigint;
  /** The SDM's name ("HLT exiting"), for rule texts. */
  readonly sdmName: string;
}

/** The six control words as the CPU sees them (or as written), one bigint per word. */
export type ControlWords = Record<ControlWord, bigint>;

function refsOf<W extends ControlWord>(word: W): { readonly [name in ControlNames[W]]: ControlRef } {
  const refs: Record<string, ControlRef> = {};
  for (const def of BY_WORD[word])
    refs[def.name] = Object.freeze({ name: def.name, word, mask: controlMask(def), sdmName: def.sdmName });
  return Object.freeze(refs) as { readonly [name in ControlNames[W]]: ControlRef };
}

/**
 * Every control as a resolved reference, by word and name: `CONTROL.proc.hlt_exiting`. The one
 * way to name a control in the engine: an unknown name or a name in the wrong word does not
 * compile, so a typo cannot silently read as 0.
 */
export const CONTROL: { readonly [W in ControlWord]: { readonly [name in ControlNames[W]]: ControlRef } } =
  Object.freeze({
    pin: refsOf("pin"),
    proc: refsOf("proc"),
    proc2: refsOf("proc2"),
    proc3: refsOf("proc3"),
    exit: refsOf("exit"),
    entry: refsOf("entry"),
  });

/** Whether a control is 1 in the given control words (effective words: analysis/effective.ts). */
export function isControlSet(words: Readonly<ControlWords>, control: ControlRef): boolean {
  return (words[control.word] & control.mask) !== 0n;
}
