/**
 * Which instructions cause VM exits in VMX non-root operation, and under which controls: one row
 * per instruction. The exit decisions (analysis/exitInstructions.ts and the family deciders) and
 * the lints that ask "can this reason happen under this vmcs" (analysis/lints.ts) both read
 * these rows; neither codes the control ↔ instruction relation itself.
 *
 * SDM edition: Intel SDM Vol. 3C, editions from 2023 on (chapter 26 "VMX Non-Root Operation");
 * editions up to 2022 number the same sections one lower (chapter 25), and those numbers are
 * given beside the new ones because that is where most people know them from:
 * - §26.1.2 (pre-2023 §25.1.2) "Instructions That Cause VM Exits Unconditionally": CPUID, GETSEC,
 *   INVD, XSETBV and the VMX instructions INVEPT, INVVPID, VMCALL, VMCLEAR, VMLAUNCH, VMPTRLD,
 *   VMPTRST, VMRESUME, VMXOFF, VMXON (docs/hardware.md, "Instructions that cause VM exits").
 * - §26.1.3 (pre-2023 §25.1.3) "Instructions That Cause VM Exits Conditionally": the rows with
 *   controls below.
 * Bochs (bochs/cpu/*.cc, VMexit_* calls) and Linux KVM (arch/x86/kvm/vmx/nested.c
 * nested_vmx_l1_wants_exit) agree with every row; TDCALL/SEAMCALL come from the Linux patch
 * "SEAMCALL and TDCALL unconditionally VM-Exit" (lore 20251016182148.69085-2-seanjc@google.com).
 */
import { CONTROL, type ControlRef } from "./controls";
import type { ExitReasonName } from "./exitReasons";

export const SDM_UNCONDITIONAL = "SDM Vol. 3C §26.1.2 (older editions §25.1.2)";
export const SDM_CONDITIONAL = "SDM Vol. 3C §26.1.3 (older editions §25.1.3)";
const TDX_PATCH =
  'Linux patch "SEAMCALL and TDCALL unconditionally VM-Exit" (lore 20251016182148.69085-2-seanjc@google.com)';

/**
 * A VMCS structure through which the instruction's operand decides, beyond the controls:
 * - "io-bitmap": I/O bitmaps A/B (port); with "use I/O bitmaps" = 1 they decide alone and
 *   "unconditional I/O exiting" is ignored (SDM §26.1.3).
 * - "msr-bitmap": the MSR bitmaps (ECX); with "use MSR bitmaps" = 0 every RDMSR/WRMSR exits, and
 *   MSRs outside 0–1FFFH and C0000000H–C0001FFFH always exit.
 * - "cr0-mask" / "cr4-mask": the guest/host mask and read shadow (MOV to CR0/CR4, CLTS, LMSW exit
 *   when a bit owned by the host would change).
 * - "pause-loop": the PLE gap and window ("PAUSE-loop exiting", CPL 0 only).
 * - "vmcs-bitmap": the VMREAD/VMWRITE bitmaps (with "VMCS shadowing" = 1 they decide alone).
 * - "exiting-bitmap": an exiting bitmap the instruction's leaf selects (ENCLS, ENCLV, PCONFIG,
 *   XSS-exiting for XSAVES/XRSTORS) or the VM-function controls (VMFUNC): the row's controls
 *   must be 1 and the bit must be set.
 */
export type OperandSelector =
  | "io-bitmap"
  | "msr-bitmap"
  | "cr0-mask"
  | "cr4-mask"
  | "pause-loop"
  | "vmcs-bitmap"
  | "exiting-bitmap";

/** The last I/O port (the I/O space is 64 KiB; SDM Vol. 1 §19.2, pre-2023 §18.2). */
export const IO_PORT_LAST = 0xffff;

/** The I/O bitmap that holds a port's bit: A for 0000H–7FFFH, B for 8000H–FFFFH (SDM Vol. 3C §25.6.4, pre-2023 §24.6.4). */
export function ioBitmapOf(port: number): "A" | "B" {
  return port < 0x8000 ? "A" : "B";
}

export interface InstructionExitDef {
  /** "RDTSCP" (SDM spelling; MOV CR rows name the direction: "MOV to CR3"). */
  mnemonic: string;
  /** The guest operation of the language that executes it (docs/language.md), if it has one. */
  op?: string;
  reason: ExitReasonName;
  /** Must be 1 for the instruction to be enabled in VMX non-root operation; if 0 it raises #UD. */
  enabledBy?: ControlRef;
  /**
   * "always": exits unconditionally (§26.1.2). Otherwise the controls that, all 1, make it exit
   * (§26.1.3); [] when only the operand selector decides.
   */
  exitsWhen: "always" | readonly ControlRef[];
  /** Where the operand decides (see OperandSelector). */
  selector?: OperandSelector;
  /**
   * The control that switches the selector on. For "io-bitmap", "msr-bitmap" and "vmcs-bitmap"
   * the selector then decides alone (exitsWhen no longer applies); for "pause-loop" it adds a way
   * to exit.
   */
  selectorControl?: ControlRef;
  /** What happens in the guest when it does not exit (for the decision's rule text). */
  otherwise?: string;
  reference: string;
}

const P = CONTROL.proc;
const S = CONTROL.proc2;

const UNCONDITIONAL: readonly InstructionExitDef[] = (
  [
    ["CPUID", "cpuid", "CPUID"],
    ["GETSEC", "getsec", "GETSEC"],
    ["INVD", "invd", "INVD"],
    ["XSETBV", "xsetbv", "XSETBV"],
    ["INVEPT", undefined, "INVEPT"],
    ["INVVPID", undefined, "INVVPID"],
    ["VMCALL", "vmcall", "VMCALL"],
    ["VMCLEAR", undefined, "VMCLEAR"],
    ["VMLAUNCH", undefined, "VMLAUNCH"],
    ["VMPTRLD", undefined, "VMPTRLD"],
    ["VMPTRST", undefined, "VMPTRST"],
    ["VMRESUME", undefined, "VMRESUME"],
    ["VMXOFF", undefined, "VMOFF"],
    ["VMXON", undefined, "VMON"],
  ] as const
).map(([mnemonic, op, reason]) => {
  const row: InstructionExitDef = { mnemonic, reason, exitsWhen: "always", reference: SDM_UNCONDITIONAL };
  if (op !== undefined) row.op = op;
  return row;
});

const CONDITIONAL: readonly InstructionExitDef[] = [
  {
    mnemonic: "HLT",
    op: "hlt",
    reason: "HLT",
    exitsWhen: [P.hlt_exiting],
    otherwise:
      "the logical processor enters the HLT activity state in the guest; the next external interrupt exits if external-interrupt exiting is 1",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "INVLPG",
    op: "invlpg",
    reason: "INVLPG",
    exitsWhen: [P.invlpg_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "INVPCID",
    op: "invpcid",
    reason: "INVPCID",
    enabledBy: S.enable_invpcid,
    exitsWhen: [P.invlpg_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDPMC",
    op: "rdpmc",
    reason: "RDPMC",
    exitsWhen: [P.rdpmc_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDTSC",
    op: "rdtsc",
    reason: "RDTSC",
    exitsWhen: [P.rdtsc_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDTSCP",
    op: "rdtscp",
    reason: "RDTSCP",
    enabledBy: S.enable_rdtscp,
    exitsWhen: [P.rdtsc_exiting],
    reference: SDM_CONDITIONAL,
  },
  // Bochs (VMexit for UMWAIT/TPAUSE, reasons 67/68): "enable user wait and pause" and RDTSC exiting.
  {
    mnemonic: "UMWAIT",
    reason: "UMWAIT",
    enabledBy: S.enable_user_wait_and_pause,
    exitsWhen: [P.rdtsc_exiting],
    reference: `${SDM_CONDITIONAL}; Bochs`,
  },
  {
    mnemonic: "TPAUSE",
    reason: "TPAUSE",
    enabledBy: S.enable_user_wait_and_pause,
    exitsWhen: [P.rdtsc_exiting],
    reference: `${SDM_CONDITIONAL}; Bochs`,
  },
  {
    mnemonic: "MONITOR",
    op: "monitor",
    reason: "MONITOR_INSTRUCTION",
    exitsWhen: [P.monitor_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MWAIT",
    op: "mwait",
    reason: "MWAIT_INSTRUCTION",
    exitsWhen: [P.mwait_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "PAUSE",
    op: "pause_loop",
    reason: "PAUSE_INSTRUCTION",
    exitsWhen: [P.pause_exiting],
    selector: "pause-loop",
    selectorControl: S.pause_loop_exiting,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV DR",
    op: "mov_dr",
    reason: "DR_ACCESS",
    exitsWhen: [P.mov_dr_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV to CR0",
    reason: "CR_ACCESS",
    exitsWhen: [],
    selector: "cr0-mask",
    reference: SDM_CONDITIONAL,
  },
  { mnemonic: "CLTS", reason: "CR_ACCESS", exitsWhen: [], selector: "cr0-mask", reference: SDM_CONDITIONAL },
  { mnemonic: "LMSW", reason: "CR_ACCESS", exitsWhen: [], selector: "cr0-mask", reference: SDM_CONDITIONAL },
  // MOV to CR3 also does not exit for a value equal to one of the first CR3-target-count values.
  {
    mnemonic: "MOV to CR3",
    reason: "CR_ACCESS",
    exitsWhen: [P.cr3_load_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV from CR3",
    reason: "CR_ACCESS",
    exitsWhen: [P.cr3_store_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV to CR4",
    reason: "CR_ACCESS",
    exitsWhen: [],
    selector: "cr4-mask",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV to CR8",
    reason: "CR_ACCESS",
    exitsWhen: [P.cr8_load_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "MOV from CR8",
    reason: "CR_ACCESS",
    exitsWhen: [P.cr8_store_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "IN/INS/OUT/OUTS",
    reason: "IO_INSTRUCTION",
    exitsWhen: [P.unconditional_io_exiting],
    selector: "io-bitmap",
    selectorControl: P.use_io_bitmaps,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDMSR",
    op: "rdmsr",
    reason: "MSR_READ",
    exitsWhen: "always",
    selector: "msr-bitmap",
    selectorControl: P.use_msr_bitmaps,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "WRMSR",
    op: "wrmsr",
    reason: "MSR_WRITE",
    exitsWhen: "always",
    selector: "msr-bitmap",
    selectorControl: P.use_msr_bitmaps,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDRAND",
    op: "rdrand",
    reason: "RDRAND",
    exitsWhen: [S.rdrand_exiting],
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "RDSEED",
    op: "rdseed",
    reason: "RDSEED",
    exitsWhen: [S.rdseed_exiting],
    reference: SDM_CONDITIONAL,
  },
  // WBNOINVD shares the control and the reason (SDM App. C reason 54).
  {
    mnemonic: "WBINVD",
    op: "wbinvd",
    reason: "WBINVD",
    exitsWhen: [S.wbinvd_exiting],
    reference: SDM_CONDITIONAL,
  },
  { mnemonic: "WBNOINVD", reason: "WBINVD", exitsWhen: [S.wbinvd_exiting], reference: SDM_CONDITIONAL },
  ...(["LGDT", "LIDT", "SGDT", "SIDT"] as const).map(
    (mnemonic): InstructionExitDef => ({
      mnemonic,
      reason: "GDTR_IDTR",
      exitsWhen: [S.descriptor_table_exiting],
      reference: SDM_CONDITIONAL,
    }),
  ),
  ...(["LLDT", "LTR", "SLDT", "STR"] as const).map(
    (mnemonic): InstructionExitDef => ({
      mnemonic,
      reason: "LDTR_TR",
      exitsWhen: [S.descriptor_table_exiting],
      reference: SDM_CONDITIONAL,
    }),
  ),
  {
    mnemonic: "VMREAD",
    reason: "VMREAD",
    exitsWhen: "always",
    selector: "vmcs-bitmap",
    selectorControl: S.vmcs_shadowing,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "VMWRITE",
    reason: "VMWRITE",
    exitsWhen: "always",
    selector: "vmcs-bitmap",
    selectorControl: S.vmcs_shadowing,
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "VMFUNC",
    reason: "VMFUNC",
    enabledBy: S.enable_vm_functions,
    exitsWhen: [],
    selector: "exiting-bitmap",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "ENCLS",
    reason: "ENCLS",
    exitsWhen: [S.enable_encls_exiting],
    selector: "exiting-bitmap",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "ENCLV",
    reason: "ENCLV",
    exitsWhen: [S.enable_enclv_exiting],
    selector: "exiting-bitmap",
    reference: `${SDM_CONDITIONAL}; Bochs`,
  },
  {
    mnemonic: "PCONFIG",
    reason: "PCONFIG",
    exitsWhen: [S.enable_pconfig],
    selector: "exiting-bitmap",
    reference: `${SDM_CONDITIONAL}; Bochs`,
  },
  {
    mnemonic: "XSAVES",
    reason: "XSAVES",
    enabledBy: S.enable_xsaves_xrstors,
    exitsWhen: [],
    selector: "exiting-bitmap",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "XRSTORS",
    reason: "XRSTORS",
    enabledBy: S.enable_xsaves_xrstors,
    exitsWhen: [],
    selector: "exiting-bitmap",
    reference: SDM_CONDITIONAL,
  },
  {
    mnemonic: "LOADIWKEY",
    reason: "LOADIWKEY",
    exitsWhen: [CONTROL.proc3.loadiwkey_exiting],
    reference: `${SDM_CONDITIONAL}; Bochs`,
  },
  { mnemonic: "SEAMCALL", reason: "SEAMCALL", exitsWhen: "always", reference: TDX_PATCH },
  { mnemonic: "TDCALL", reason: "TDCALL", exitsWhen: "always", reference: TDX_PATCH },
];

/** Every instruction row, unconditional ones first. */
export const INSTRUCTION_EXITS: readonly InstructionExitDef[] = [...UNCONDITIONAL, ...CONDITIONAL];

const BY_OP = new Map<string, InstructionExitDef>();
for (const row of INSTRUCTION_EXITS) if (row.op !== undefined) BY_OP.set(row.op, row);

/** The row of a guest operation of the language ("rdtscp"), if it is an instruction row. */
export function instructionExitByOp(op: string): InstructionExitDef | undefined {
  return BY_OP.get(op);
}

/**
 * Exits not caused by executing an instruction (events, memory accesses) that only happen when
 * controls are set: the reason is possible iff one of `anyOf`'s controls is 1 and `unless` (if
 * any) is 0. Reasons with no row here and no instruction row are always possible (exceptions,
 * interrupts, windows, task switches, entry failures: a hypervisor must handle them).
 */
export interface ControlledExitDef {
  reason: ExitReasonName;
  anyOf: readonly ControlRef[];
  unless?: ControlRef;
  reference: string;
}

const SDM_EPT = "SDM Vol. 3C §29.3.3 (older editions §28.2.3)";
const SDM_APIC = "SDM Vol. 3C §30.1–30.4 (older editions §29.1–29.4)";

export const CONTROLLED_EXITS: readonly ControlledExitDef[] = [
  // TPR-below-threshold: only with the TPR shadow and without virtual-interrupt delivery (§30.1.2).
  {
    reason: "TPR_BELOW_THRESHOLD",
    anyOf: [P.use_tpr_shadow],
    unless: S.virtual_interrupt_delivery,
    reference: SDM_APIC,
  },
  { reason: "APIC_ACCESS", anyOf: [S.virtualize_apic_accesses], reference: SDM_APIC },
  { reason: "EOI_INDUCED", anyOf: [S.virtual_interrupt_delivery], reference: SDM_APIC },
  {
    reason: "APIC_WRITE",
    anyOf: [S.apic_register_virtualization, S.virtual_interrupt_delivery],
    reference: SDM_APIC,
  },
  { reason: "EPT_VIOLATION", anyOf: [S.enable_ept], reference: SDM_EPT },
  { reason: "EPT_MISCONFIG", anyOf: [S.enable_ept], reference: SDM_EPT },
  { reason: "PML_FULL", anyOf: [S.enable_pml], reference: "SDM Vol. 3C §29.3.6 (older editions §28.2.6)" },
  { reason: "SPP", anyOf: [S.sub_page_write_permissions], reference: "SDM Vol. 3C §29.3.4; Bochs" },
  {
    reason: "PREEMPTION_TIMER",
    anyOf: [CONTROL.pin.activate_vmx_preemption_timer],
    reference: "SDM Vol. 3C §26.5.1 (older editions §25.5.1)",
  },
  { reason: "BUS_LOCK", anyOf: [S.bus_lock_detection], reference: "SDM Vol. 3C §26.2; Bochs" },
  { reason: "NOTIFY", anyOf: [S.notify_vm_exiting], reference: "SDM Vol. 3C §26.2; Bochs" },
];
