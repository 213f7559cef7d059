/**
 * Basic VM-exit reasons (bits 15:0 of the VM_EXIT_REASON field), SDM Vol. 3D Appendix C
 * (Table C-1). Names are Linux's (`EXIT_REASON_*` in arch/x86/include/uapi/asm/vmx.h, prefix
 * dropped); reasons Linux does not name take Bochs' name (bochs/cpu/vmx.h enum
 * VMX_vmexit_reason), cross-checked for 0–64 against kvm-unit-tests x86/vmx.h enum Reason.
 * Reserved numbers (35, 38, 42, 71, 82, 83) are absent.
 *
 * Lookup accepts the Linux name, the `EXIT_REASON_` prefixed form, any alias (older Linux,
 * Bochs or kvm-unit-tests spelling), case-insensitively.
 */
import type { ExitCause, ExitReasonDef } from "./types";

const L_UAPI = "L-uapi (Linux arch/x86/include/uapi/asm/vmx.h)";
const BOCHS = "Bochs bochs/cpu/vmx.h enum VMX_vmexit_reason";
const SDM = "SDM Vol. 3D App. C Table C-1";

/**
 * What causes an exit with this reason, the classification of SDM Vol. 3D App. C's descriptions
 * (editions from 2023; the same appendix in older editions):
 * - "instruction": guest software attempted to execute an instruction (SDM Vol. 3C §26.1,
 *   "Instructions That Cause VM Exits"; pre-2023 editions §25.1). The VM-exit instruction-length
 *   field is valid and a handler that emulates the instruction advances RIP past it.
 * - "memory": a guest memory access: EPT violation and misconfiguration (§29.3.3, pre-2023
 *   §28.2.3), SPP-related events (§29.3.4), PML-full (§29.3.6, pre-2023 §28.2.6), APIC-access,
 *   APIC-write and EOI-induced exits of the virtualized APIC page (§30.4 / §30.1.4, pre-2023
 *   §29.4 / §29.1.4). Inside an RTM transaction such an access is taken before the abort.
 * - "event": an event or condition not tied to executing one instruction (exceptions, interrupts,
 *   windows, timers, signals, task switches: §26.2, pre-2023 §25.2).
 * - "entry-failure": a VM-entry failure, reported with bit 31 of the exit reason set (§27.8,
 *   pre-2023 §26.8).
 */
const INSTRUCTION = "instruction";
const MEMORY = "memory";
const EVENT = "event";
const ENTRY_FAILURE = "entry-failure";

type Row = readonly [
  code: number,
  cause: ExitCause,
  name: string,
  meaning: string,
  source?: string,
  aliases?: readonly string[],
];

const ROWS = [
  [
    0,
    EVENT,
    "EXCEPTION_NMI",
    "Exception or non-maskable interrupt: an exception whose bit is set in the exception bitmap, or an NMI with NMI exiting = 1.",
    undefined,
    ["EXCEPTION_OR_NMI", "EXCEPTION"],
  ],
  [
    1,
    EVENT,
    "EXTERNAL_INTERRUPT",
    "An external interrupt arrived and the external-interrupt exiting control was 1.",
  ],
  [
    2,
    EVENT,
    "TRIPLE_FAULT",
    "The logical processor encountered an exception while delivering a double fault.",
  ],
  [3, EVENT, "INIT_SIGNAL", "An INIT signal arrived."],
  [4, EVENT, "SIPI_SIGNAL", "A SIPI arrived while the logical processor was in the wait-for-SIPI state."],
  [
    5,
    EVENT,
    "IO_SMI",
    "An SMI arrived immediately after retirement of an I/O instruction and caused an SMM VM exit (dual-monitor treatment).",
    `${BOCHS} (VMX_VMEXIT_IO_SMI); KUT x86/vmx.h SMI_IO`,
    ["SMI_IO"],
  ],
  [
    6,
    EVENT,
    "OTHER_SMI",
    "An SMI arrived and caused an SMM VM exit, not immediately after an I/O instruction (dual-monitor treatment).",
    undefined,
    ["SMI", "SMI_OTHER"],
  ],
  [
    7,
    EVENT,
    "INTERRUPT_WINDOW",
    "At the beginning of an instruction RFLAGS.IF was 1, events were not blocked, and interrupt-window exiting was 1.",
    `${L_UAPI} (older kernels: EXIT_REASON_PENDING_INTERRUPT)`,
    ["PENDING_INTERRUPT", "INTERRUPT_WINDOW_EXITING"],
  ],
  [
    8,
    EVENT,
    "NMI_WINDOW",
    "At the beginning of an instruction there was no virtual-NMI blocking, events were not blocked by MOV SS, and NMI-window exiting was 1.",
    undefined,
    ["NMI_WINDOW_EXITING"],
  ],
  [
    9,
    EVENT,
    "TASK_SWITCH",
    "Guest software attempted a task switch (CALL/JMP/IRET/INT to a task, or a task gate in the IDT).",
  ],
  [10, INSTRUCTION, "CPUID", "Guest software attempted to execute CPUID (unconditional exit)."],
  [
    11,
    INSTRUCTION,
    "GETSEC",
    "Guest software attempted to execute GETSEC (unconditional exit).",
    `${BOCHS} (VMX_VMEXIT_GETSEC); KUT x86/vmx.h`,
  ],
  [12, INSTRUCTION, "HLT", "Guest software attempted to execute HLT and HLT exiting was 1."],
  [13, INSTRUCTION, "INVD", "Guest software attempted to execute INVD (unconditional exit)."],
  [14, INSTRUCTION, "INVLPG", "Guest software attempted to execute INVLPG and INVLPG exiting was 1."],
  [15, INSTRUCTION, "RDPMC", "Guest software attempted to execute RDPMC and RDPMC exiting was 1."],
  [16, INSTRUCTION, "RDTSC", "Guest software attempted to execute RDTSC and RDTSC exiting was 1."],
  [
    17,
    INSTRUCTION,
    "RSM",
    "Guest software attempted to execute RSM in SMM (dual-monitor treatment).",
    `${BOCHS} (VMX_VMEXIT_RSM); KUT x86/vmx.h`,
  ],
  [18, INSTRUCTION, "VMCALL", "VMCALL was executed by guest software (unconditional exit)."],
  [19, INSTRUCTION, "VMCLEAR", "Guest software attempted to execute VMCLEAR."],
  [20, INSTRUCTION, "VMLAUNCH", "Guest software attempted to execute VMLAUNCH."],
  [21, INSTRUCTION, "VMPTRLD", "Guest software attempted to execute VMPTRLD."],
  [22, INSTRUCTION, "VMPTRST", "Guest software attempted to execute VMPTRST."],
  [
    23,
    INSTRUCTION,
    "VMREAD",
    "Guest software attempted to execute VMREAD (without VMCS shadowing, or the VMREAD-bitmap bit was 1).",
  ],
  [24, INSTRUCTION, "VMRESUME", "Guest software attempted to execute VMRESUME."],
  [
    25,
    INSTRUCTION,
    "VMWRITE",
    "Guest software attempted to execute VMWRITE (without VMCS shadowing, or the VMWRITE-bitmap bit was 1).",
  ],
  [26, INSTRUCTION, "VMOFF", "Guest software attempted to execute VMXOFF.", undefined, ["VMXOFF"]],
  [27, INSTRUCTION, "VMON", "Guest software attempted to execute VMXON.", undefined, ["VMXON"]],
  [
    28,
    INSTRUCTION,
    "CR_ACCESS",
    "Control-register access: MOV to/from CR0, CR3, CR4 or CR8, CLTS or LMSW, as the CR masks and exiting controls require.",
    undefined,
    ["CR_ACCESSES"],
  ],
  [
    29,
    INSTRUCTION,
    "DR_ACCESS",
    "Guest software attempted a MOV to or from a debug register and MOV-DR exiting was 1.",
  ],
  [
    30,
    INSTRUCTION,
    "IO_INSTRUCTION",
    "Guest software attempted IN, INS, OUT or OUTS and the I/O bitmaps or unconditional I/O exiting required an exit.",
  ],
  [
    31,
    INSTRUCTION,
    "MSR_READ",
    "Guest software attempted RDMSR and the MSR bitmap (or use MSR bitmaps = 0) required an exit.",
    undefined,
    ["RDMSR"],
  ],
  [
    32,
    INSTRUCTION,
    "MSR_WRITE",
    "Guest software attempted WRMSR and the MSR bitmap (or use MSR bitmaps = 0) required an exit.",
    undefined,
    ["WRMSR"],
  ],
  [
    33,
    ENTRY_FAILURE,
    "INVALID_STATE",
    "VM-entry failure due to invalid guest state (reported with bit 31 of the exit reason set).",
    undefined,
    ["ENTRY_FAILURE_GUEST_STATE"],
  ],
  [
    34,
    ENTRY_FAILURE,
    "MSR_LOAD_FAIL",
    "VM-entry failure due to MSR loading (reported with bit 31 of the exit reason set).",
    undefined,
    ["ENTRY_FAILURE_MSR_LOADING"],
  ],
  [
    36,
    INSTRUCTION,
    "MWAIT_INSTRUCTION",
    "Guest software attempted to execute MWAIT and MWAIT exiting was 1.",
    undefined,
    ["MWAIT"],
  ],
  [
    37,
    EVENT,
    "MONITOR_TRAP_FLAG",
    "A VM entry with the monitor trap flag control 1 completed an instruction (or injected an event).",
    undefined,
    ["MTF"],
  ],
  [
    39,
    INSTRUCTION,
    "MONITOR_INSTRUCTION",
    "Guest software attempted to execute MONITOR and MONITOR exiting was 1.",
    undefined,
    ["MONITOR"],
  ],
  [
    40,
    INSTRUCTION,
    "PAUSE_INSTRUCTION",
    "Guest software attempted PAUSE with PAUSE exiting = 1, or a PAUSE loop at CPL 0 exceeded PLE_Window with PAUSE-loop exiting = 1.",
    undefined,
    ["PAUSE"],
  ],
  [
    41,
    ENTRY_FAILURE,
    "MCE_DURING_VMENTRY",
    "VM-entry failure due to a machine-check event during VM entry (reported with bit 31 of the exit reason set).",
    undefined,
    ["ENTRY_FAILURE_MACHINE_CHECK"],
  ],
  [
    43,
    EVENT,
    "TPR_BELOW_THRESHOLD",
    "With use TPR shadow = 1, the virtual TPR dropped below the TPR threshold (MOV to CR8, or TPR virtualization).",
  ],
  [
    44,
    MEMORY,
    "APIC_ACCESS",
    "Guest software accessed the APIC-access page and virtualize APIC accesses was 1.",
  ],
  [
    45,
    MEMORY,
    "EOI_INDUCED",
    "EOI virtualization was performed for a vector whose bit is set in the EOI-exit bitmap.",
    undefined,
    ["VIRTUALIZED_EOI"],
  ],
  [
    46,
    INSTRUCTION,
    "GDTR_IDTR",
    "Guest software attempted LGDT, LIDT, SGDT or SIDT and descriptor-table exiting was 1.",
    undefined,
    ["GDTR_IDTR_ACCESS"],
  ],
  [
    47,
    INSTRUCTION,
    "LDTR_TR",
    "Guest software attempted LLDT, LTR, SLDT or STR and descriptor-table exiting was 1.",
    undefined,
    ["LDTR_TR_ACCESS"],
  ],
  [
    48,
    MEMORY,
    "EPT_VIOLATION",
    "An access to a guest-physical address was not allowed by the EPT paging structures.",
  ],
  [
    49,
    MEMORY,
    "EPT_MISCONFIG",
    "An access to a guest-physical address encountered a misconfigured EPT paging-structure entry.",
    undefined,
    ["EPT_MISCONFIGURATION"],
  ],
  [50, INSTRUCTION, "INVEPT", "Guest software attempted to execute INVEPT (unconditional exit)."],
  [51, INSTRUCTION, "RDTSCP", "Guest software attempted RDTSCP with enable RDTSCP and RDTSC exiting both 1."],
  [
    52,
    EVENT,
    "PREEMPTION_TIMER",
    "The VMX-preemption timer counted down to zero.",
    undefined,
    ["VMX_PREEMPTION_TIMER_EXPIRED", "PREEMPTION_TIMER_EXPIRED"],
  ],
  [53, INSTRUCTION, "INVVPID", "Guest software attempted to execute INVVPID (unconditional exit)."],
  [
    54,
    INSTRUCTION,
    "WBINVD",
    "Guest software attempted WBINVD or WBNOINVD and WBINVD exiting was 1.",
    undefined,
    ["WBNOINVD"],
  ],
  [55, INSTRUCTION, "XSETBV", "Guest software attempted to execute XSETBV (unconditional exit)."],
  [
    56,
    MEMORY,
    "APIC_WRITE",
    "Guest software completed a write to the virtual-APIC page that must be virtualized by VMM software (trap-like).",
  ],
  [57, INSTRUCTION, "RDRAND", "Guest software attempted to execute RDRAND and RDRAND exiting was 1."],
  [
    58,
    INSTRUCTION,
    "INVPCID",
    "Guest software attempted INVPCID with enable INVPCID and INVLPG exiting both 1.",
  ],
  [
    59,
    INSTRUCTION,
    "VMFUNC",
    "Guest software invoked a VM function that is not enabled or that failed (e.g. EPTP switching with an invalid index).",
  ],
  [
    60,
    INSTRUCTION,
    "ENCLS",
    "Guest software attempted ENCLS with enable ENCLS exiting = 1 and the ENCLS-exiting bitmap selecting the leaf.",
  ],
  [61, INSTRUCTION, "RDSEED", "Guest software attempted to execute RDSEED and RDSEED exiting was 1."],
  [
    62,
    MEMORY,
    "PML_FULL",
    "The processor attempted to log a guest-physical address while the PML index was outside 0–511 (log full).",
    undefined,
    ["PAGE_MODIFICATION_LOG_FULL"],
  ],
  [
    63,
    INSTRUCTION,
    "XSAVES",
    "Guest software attempted XSAVES with enable XSAVES/XRSTORS = 1 and a component selected in the XSS-exiting bitmap.",
  ],
  [
    64,
    INSTRUCTION,
    "XRSTORS",
    "Guest software attempted XRSTORS with enable XSAVES/XRSTORS = 1 and a component selected in the XSS-exiting bitmap.",
  ],
  [
    65,
    INSTRUCTION,
    "PCONFIG",
    "Guest software attempted PCONFIG with enable PCONFIG = 1 and the PCONFIG-exiting bitmap selecting the leaf.",
    `${BOCHS} (VMX_VMEXIT_PCONFIG)`,
  ],
  [
    66,
    MEMORY,
    "SPP",
    "A sub-page-permission-related event: a miss or misconfiguration of the SPP table during an SPP-enabled access.",
    `${BOCHS} (VMX_VMEXIT_SPP)`,
    ["SPP_RELATED_EVENT"],
  ],
  [
    67,
    INSTRUCTION,
    "UMWAIT",
    "Guest software attempted to execute UMWAIT and RDTSC exiting (with enable user wait and pause) was 1.",
  ],
  [
    68,
    INSTRUCTION,
    "TPAUSE",
    "Guest software attempted to execute TPAUSE and RDTSC exiting (with enable user wait and pause) was 1.",
  ],
  [
    69,
    INSTRUCTION,
    "LOADIWKEY",
    "Guest software attempted to execute LOADIWKEY and LOADIWKEY exiting (tertiary bit 0) was 1.",
    `${BOCHS} (VMX_VMEXIT_LOADIWKEY)`,
  ],
  [
    70,
    INSTRUCTION,
    "ENCLV",
    "Guest software attempted ENCLV with enable ENCLV exiting = 1 and the ENCLV-exiting bitmap selecting the leaf.",
    `${BOCHS} (VMX_VMEXIT_ENCLV); older Linux EXIT_REASON_ENCLV 70 (sean-jc/linux)`,
  ],
  [
    72,
    INSTRUCTION,
    "ENQCMD_PASID",
    "ENQCMD found no valid guest-to-host PASID translation (PASID translation miss).",
    `${BOCHS} (VMX_VMEXIT_ENQCMD_PASID)`,
    ["ENQCMD_PASID_TRANSLATION_FAILURE"],
  ],
  [
    73,
    INSTRUCTION,
    "ENQCMDS_PASID",
    "ENQCMDS found no valid guest-to-host PASID translation (PASID translation miss).",
    `${BOCHS} (VMX_VMEXIT_ENQCMDS_PASID)`,
    ["ENQCMDS_PASID_TRANSLATION_FAILURE"],
  ],
  [
    74,
    EVENT,
    "BUS_LOCK",
    "A guest instruction acquired a bus lock and VMM bus-lock detection was 1 (trap-like, after the instruction).",
  ],
  [
    75,
    EVENT,
    "NOTIFY",
    "The processor was prevented from reaching an instruction boundary for longer than the notify window (instruction timeout).",
    `${L_UAPI}; Bochs calls it VMX_VMEXIT_INSTRUCTION_TIMEOUT`,
    ["INSTRUCTION_TIMEOUT"],
  ],
  [
    76,
    INSTRUCTION,
    "SEAMCALL",
    "Guest software attempted to execute SEAMCALL (unconditional exit).",
    `Linux patch "SEAMCALL and TDCALL unconditionally VM-Exit" (lore 20251016182148.69085-2-seanjc@google.com); ${BOCHS}`,
  ],
  [77, INSTRUCTION, "TDCALL", "Guest software attempted to execute TDCALL (unconditional exit)."],
  [
    78,
    INSTRUCTION,
    "RDMSRLIST",
    "Guest software attempted RDMSRLIST and an MSR in the list required an exit.",
    `${BOCHS} (VMX_VMEXIT_RDMSRLIST)`,
  ],
  [
    79,
    INSTRUCTION,
    "WRMSRLIST",
    "Guest software attempted WRMSRLIST and an MSR in the list required an exit.",
    `${BOCHS} (VMX_VMEXIT_WRMSRLIST)`,
  ],
  [
    80,
    INSTRUCTION,
    "URDMSR",
    "Guest software attempted URDMSR (user-mode RDMSR) and the MSR bitmap required an exit.",
    `${BOCHS} (VMX_VMEXIT_URDMSR)`,
  ],
  [
    81,
    INSTRUCTION,
    "UWRMSR",
    "Guest software attempted UWRMSR (user-mode WRMSR) and the MSR bitmap required an exit.",
    `${BOCHS} (VMX_VMEXIT_UWRMSR)`,
  ],
  [
    84,
    INSTRUCTION,
    "MSR_READ_IMM",
    "Guest software attempted RDMSR with an immediate MSR index and the MSR bitmap required an exit.",
    `Linux KVM patch adding EXIT_REASON_MSR_READ_IMM 84 to uapi vmx.h; ${BOCHS} (VMX_VMEXIT_RDMSR_IMM)`,
    ["RDMSR_IMM"],
  ],
  [
    85,
    INSTRUCTION,
    "MSR_WRITE_IMM",
    "Guest software attempted WRMSRNS with an immediate MSR index and the MSR bitmap required an exit.",
    `Linux KVM patch adding EXIT_REASON_MSR_WRITE_IMM 85 to uapi vmx.h; ${BOCHS} calls it VMX_VMEXIT_WRMSRNS`,
    ["WRMSRNS", "WRMSRNS_IMM", "WRMSR_IMM"],
  ],
] as const satisfies readonly Row[];

export const EXIT_REASONS: readonly ExitReasonDef[] = (ROWS as readonly Row[]).map(
  ([code, cause, name, meaning, source, aliases]) => {
    const def: ExitReasonDef = {
      code,
      name,
      cause,
      instructionCaused: cause === INSTRUCTION,
      memoryAccess: cause === MEMORY,
      meaning,
      source: `${source ?? `${L_UAPI} EXIT_REASON_${name}`}; ${SDM}`,
    };
    if (aliases) def.aliases = [...aliases];
    return def;
  },
);

/** Every exit-reason name of the table (Linux's, prefix dropped): a typo is a compile error. */
export type ExitReasonName = (typeof ROWS)[number][2];

/**
 * The basic exit-reason numbers by name, read from the table above: callers write
 * `EXIT.EPT_MISCONFIG`, never 49.
 */
export const EXIT: { readonly [name in ExitReasonName]: number } = Object.freeze(
  Object.fromEntries(EXIT_REASONS.map((r) => [r.name, r.code])) as Record<ExitReasonName, number>,
);

/** The reason with that name; unlike `exitReasonByName` the name is checked at compile time. */
export function exitReason(name: ExitReasonName): ExitReasonDef {
  return BY_CODE.get(EXIT[name])!;
}

/** Bit 31 of VM_EXIT_REASON: VM-entry failure (L-uapi VMX_EXIT_REASONS_FAILED_VMENTRY). */
export const EXIT_REASON_FAILED_VMENTRY = 0x80000000;
/** Bit 27 of VM_EXIT_REASON: exit from enclave mode (L-uapi VMX_EXIT_REASONS_SGX_ENCLAVE_MODE). */
export const EXIT_REASON_SGX_ENCLAVE_MODE = 0x08000000;

const BY_CODE = new Map<number, ExitReasonDef>();
const BY_NAME = new Map<string, ExitReasonDef>();
for (const reason of EXIT_REASONS) {
  BY_CODE.set(reason.code, reason);
  BY_NAME.set(reason.name, reason);
  for (const alias of reason.aliases ?? []) BY_NAME.set(alias, reason);
}

/** Resolve a reason by Linux name, `EXIT_REASON_` form or alias, case-insensitively. */
export function exitReasonByName(name: string): ExitReasonDef | undefined {
  const exact = BY_NAME.get(name);
  if (exact) return exact;
  let upper = name.toUpperCase();
  if (upper.startsWith("EXIT_REASON_")) upper = upper.slice("EXIT_REASON_".length);
  return BY_NAME.get(upper);
}

/** The reason with that basic number (bits 15:0 are used; flags in bits 31:16 are ignored). */
export function exitReasonByCode(code: number): ExitReasonDef | undefined {
  return BY_CODE.get(code & 0xffff);
}

/** Every name and alias accepted by exitReasonByName (for completion and suggestions). */
export function exitReasonNames(): string[] {
  return [...BY_NAME.keys()];
}
