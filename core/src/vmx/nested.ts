/**
 * Nested VMX facts: which level KVM lets handle an exit of L2 (reflection), which VMCS fields
 * KVM shadows for L1 (VMCS shadowing), and the VMX instructions L1 executes with the exit each
 * one causes in L0. Every row names the Linux KVM function it comes from
 * (arch/x86/kvm/vmx/nested.c, vmcs_shadow_fields.h; read at torvalds/linux master, 2025) or the
 * SDM section (Vol. 3C editions from 2023, pre-2023 numbers beside).
 *
 * The analysis (core/src/analysis/nested/) reads these rows; it codes no exit reason itself.
 */
import { X2APIC_MSR } from "./apic";
import type { ControlRef } from "./controls";
import { CONTROL } from "./controls";
import { EXIT, type ExitReasonName } from "./exitReasons";
import { msrByName } from "./msrs";

export const NESTED_C = "Linux arch/x86/kvm/vmx/nested.c";
export const REFLECT_REFERENCE = `${NESTED_C} nested_vmx_reflect_vmexit`;
export const L0_WANTS_REFERENCE = `${NESTED_C} nested_vmx_l0_wants_exit`;
export const L1_WANTS_REFERENCE = `${NESTED_C} nested_vmx_l1_wants_exit`;
export const SHADOW_FIELDS_REFERENCE =
  "Linux arch/x86/kvm/vmx/vmcs_shadow_fields.h, read by nested.c init_vmcs_shadow_fields";
export const VMX_UNCONDITIONAL_REFERENCE =
  "SDM Vol. 3C §26.1.2 (older editions §25.1.2): VMX instructions exit unconditionally in VMX non-root operation (VMREAD/VMWRITE: unless VMCS shadowing and the bitmap bit is 0, §26.1.3 / §25.1.3)";

/**
 * Exits of L2 that L0 handles whatever vmcs12 asks (nested_vmx_l0_wants_exit returns true):
 * "L0 (KVM) wants the exit, it trumps L1's desires" (nested_vmx_reflect_vmexit). EPT violations
 * are L0's first; when the fault is in L1's EPT12, L0's nested MMU then reflects it to L1
 * (nested_ept_inject_page_fault) — see `EPT_FAULT_TO_L1`.
 */
export const L0_ALWAYS: ReadonlyMap<number, string> = new Map<number, string>(
  (
    [
      [
        "EXTERNAL_INTERRUPT",
        "a physical interrupt is always L0's (case EXIT_REASON_EXTERNAL_INTERRUPT: return true)",
      ],
      ["MCE_DURING_VMENTRY", "machine checks during VM entry are L0's"],
      [
        "EPT_VIOLATION",
        "L0 always deals with the EPT violation; a fault of L1's EPT12 is then injected into L1 (nested_ept_inject_page_fault)",
      ],
      [
        "EPT_MISCONFIG",
        "L2 never runs on L1's EPT directly but on the EPT02 L0 built, so any misconfiguration of that table is L0's",
      ],
      [
        "PREEMPTION_TIMER",
        "the VMX-preemption timer of vmcs02 is L0's (vmcs12's is emulated with an hrtimer)",
      ],
      ["PML_FULL", "PML is emulated for L1 and never enabled in vmcs02 on L1's behalf"],
      ["VMFUNC", "VM functions are emulated through L2→L0 exits"],
      ["BUS_LOCK", "bus-lock exits are never exposed to L1"],
    ] as [ExitReasonName, string][]
  ).map(([name, why]) => [EXIT[name], why]),
);

/** Exits L1 never receives (nested_vmx_l1_wants_exit returns false whatever vmcs12 says). */
export const L1_NEVER: ReadonlyMap<number, string> = new Map<number, string>([
  [EXIT.NOTIFY, "Notify VM exit is not exposed to L1 (case EXIT_REASON_NOTIFY: return false)"],
]);

/**
 * The cases of nested_vmx_l1_wants_exit, for hovers: how vmcs12 decides an exit L0 did not
 * claim. Reasons absent here take the function's `default: return true` (L1 gets it). Read at
 * torvalds/linux master (2025, the function taking `union vmx_exit_reason`).
 */
export const L1_WANTS_CASE: ReadonlyMap<number, string> = new Map<number, string>(
  (
    [
      [
        "EXCEPTION_NMI",
        "case EXIT_REASON_EXCEPTION_NMI: is_nmi → true, is_page_fault → true (vmcs02's #PF exits are vmcs12's when L0 does not intercept #PF), else vmcs12->exception_bitmap & (1u << vector)",
      ],
      [
        "EXTERNAL_INTERRUPT",
        "case EXIT_REASON_EXTERNAL_INTERRUPT: nested_exit_on_intr (vmcs12's external-interrupt exiting)",
      ],
      ["TRIPLE_FAULT", "case EXIT_REASON_TRIPLE_FAULT: return true"],
      [
        "INTERRUPT_WINDOW",
        "case EXIT_REASON_INTERRUPT_WINDOW: nested_cpu_has(vmcs12, CPU_BASED_INTR_WINDOW_EXITING)",
      ],
      ["NMI_WINDOW", "case EXIT_REASON_NMI_WINDOW: nested_cpu_has(vmcs12, CPU_BASED_NMI_WINDOW_EXITING)"],
      ["TASK_SWITCH", "case EXIT_REASON_TASK_SWITCH: return true"],
      ["CPUID", "case EXIT_REASON_CPUID: return true (CPUID exits unconditionally)"],
      ["HLT", "case EXIT_REASON_HLT: nested_cpu_has(vmcs12, CPU_BASED_HLT_EXITING)"],
      ["INVD", "case EXIT_REASON_INVD: return true"],
      ["INVLPG", "case EXIT_REASON_INVLPG: nested_cpu_has(vmcs12, CPU_BASED_INVLPG_EXITING)"],
      ["RDPMC", "case EXIT_REASON_RDPMC: nested_cpu_has(vmcs12, CPU_BASED_RDPMC_EXITING)"],
      ["RDRAND", "case EXIT_REASON_RDRAND: nested_cpu_has2(vmcs12, SECONDARY_EXEC_RDRAND_EXITING)"],
      ["RDSEED", "case EXIT_REASON_RDSEED: nested_cpu_has2(vmcs12, SECONDARY_EXEC_RDSEED_EXITING)"],
      ["RDTSC", "case EXIT_REASON_RDTSC: nested_cpu_has(vmcs12, CPU_BASED_RDTSC_EXITING)"],
      ["RDTSCP", "case EXIT_REASON_RDTSCP: nested_cpu_has(vmcs12, CPU_BASED_RDTSC_EXITING)"],
      [
        "VMREAD",
        "case EXIT_REASON_VMREAD: nested_vmx_exit_handled_vmcs_access (vmcs12's VMREAD bitmap with VMCS shadowing, else true)",
      ],
      [
        "VMWRITE",
        "case EXIT_REASON_VMWRITE: nested_vmx_exit_handled_vmcs_access (vmcs12's VMWRITE bitmap with VMCS shadowing, else true)",
      ],
      ["VMCALL", "case EXIT_REASON_VMCALL (VMX instructions trap unconditionally): return true"],
      ["VMCLEAR", "case EXIT_REASON_VMCLEAR (VMX instructions trap unconditionally): return true"],
      ["VMLAUNCH", "case EXIT_REASON_VMLAUNCH (VMX instructions trap unconditionally): return true"],
      ["VMPTRLD", "case EXIT_REASON_VMPTRLD (VMX instructions trap unconditionally): return true"],
      ["VMPTRST", "case EXIT_REASON_VMPTRST (VMX instructions trap unconditionally): return true"],
      ["VMRESUME", "case EXIT_REASON_VMRESUME (VMX instructions trap unconditionally): return true"],
      ["VMOFF", "case EXIT_REASON_VMOFF (VMX instructions trap unconditionally): return true"],
      ["VMON", "case EXIT_REASON_VMON (VMX instructions trap unconditionally): return true"],
      ["INVEPT", "case EXIT_REASON_INVEPT (VMX instructions trap unconditionally): return true"],
      ["INVVPID", "case EXIT_REASON_INVVPID (VMX instructions trap unconditionally): return true"],
      [
        "CR_ACCESS",
        "case EXIT_REASON_CR_ACCESS: nested_vmx_exit_handled_cr (vmcs12's CR0/CR4 guest/host masks against the read shadows, CR3/CR8 load and store exiting)",
      ],
      ["DR_ACCESS", "case EXIT_REASON_DR_ACCESS: nested_cpu_has(vmcs12, CPU_BASED_MOV_DR_EXITING)"],
      [
        "IO_INSTRUCTION",
        "case EXIT_REASON_IO_INSTRUCTION: nested_vmx_exit_handled_io (vmcs12's I/O bitmaps through nested_vmx_check_io_bitmaps, else its unconditional I/O exiting)",
      ],
      ["GDTR_IDTR", "case EXIT_REASON_GDTR_IDTR: nested_cpu_has2(vmcs12, SECONDARY_EXEC_DESC)"],
      ["LDTR_TR", "case EXIT_REASON_LDTR_TR: nested_cpu_has2(vmcs12, SECONDARY_EXEC_DESC)"],
      [
        "MSR_READ",
        "case EXIT_REASON_MSR_READ: nested_vmx_exit_handled_msr (vmcs12's MSR bitmap; every MSR without use MSR bitmaps)",
      ],
      [
        "MSR_WRITE",
        "case EXIT_REASON_MSR_WRITE: nested_vmx_exit_handled_msr (vmcs12's MSR bitmap; every MSR without use MSR bitmaps)",
      ],
      ["INVALID_STATE", "case EXIT_REASON_INVALID_STATE: return true"],
      [
        "MWAIT_INSTRUCTION",
        "case EXIT_REASON_MWAIT_INSTRUCTION: nested_cpu_has(vmcs12, CPU_BASED_MWAIT_EXITING)",
      ],
      [
        "MONITOR_TRAP_FLAG",
        "case EXIT_REASON_MONITOR_TRAP_FLAG: nested_vmx_exit_handled_mtf (vmcs12's monitor trap flag, or an MTF event L1 injected)",
      ],
      [
        "MONITOR_INSTRUCTION",
        "case EXIT_REASON_MONITOR_INSTRUCTION: nested_cpu_has(vmcs12, CPU_BASED_MONITOR_EXITING)",
      ],
      [
        "PAUSE_INSTRUCTION",
        "case EXIT_REASON_PAUSE_INSTRUCTION: nested_cpu_has(vmcs12, CPU_BASED_PAUSE_EXITING) || nested_cpu_has2(vmcs12, SECONDARY_EXEC_PAUSE_LOOP_EXITING)",
      ],
      [
        "TPR_BELOW_THRESHOLD",
        "case EXIT_REASON_TPR_BELOW_THRESHOLD: nested_cpu_has(vmcs12, CPU_BASED_TPR_SHADOW)",
      ],
      [
        "APIC_ACCESS",
        "case EXIT_REASON_APIC_ACCESS: return true (virtualize APIC accesses, APIC-register virtualization and virtual-interrupt delivery only come from vmcs12)",
      ],
      [
        "APIC_WRITE",
        "case EXIT_REASON_APIC_WRITE: return true (the APIC-virtualization controls only come from vmcs12)",
      ],
      [
        "EOI_INDUCED",
        "case EXIT_REASON_EOI_INDUCED: return true (the APIC-virtualization controls only come from vmcs12)",
      ],
      [
        "INVPCID",
        "case EXIT_REASON_INVPCID: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_INVPCID) && nested_cpu_has(vmcs12, CPU_BASED_INVLPG_EXITING)",
      ],
      ["WBINVD", "case EXIT_REASON_WBINVD: nested_cpu_has2(vmcs12, SECONDARY_EXEC_WBINVD_EXITING)"],
      ["XSETBV", "case EXIT_REASON_XSETBV: return true (XSETBV exits unconditionally)"],
      ["XSAVES", "case EXIT_REASON_XSAVES: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_XSAVES)"],
      ["XRSTORS", "case EXIT_REASON_XRSTORS: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_XSAVES)"],
      ["UMWAIT", "case EXIT_REASON_UMWAIT: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE)"],
      ["TPAUSE", "case EXIT_REASON_TPAUSE: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE)"],
      [
        "ENCLS",
        "case EXIT_REASON_ENCLS: nested_vmx_exit_handled_encls (SGX in L1's CPUID, vmcs12's ENCLS exiting and its ENCLS-exiting bitmap bit of the leaf)",
      ],
      ["MCE_DURING_VMENTRY", "case EXIT_REASON_MCE_DURING_VMENTRY: return true (L0 claims it first)"],
    ] as [ExitReasonName, string][]
  ).map(([name, why]) => [EXIT[name], why]),
);

// ---------------------------------------------------------------------------------------------
// vmcs02: what L2 runs on (prepare_vmcs02_early, prepare_vmcs02_rare, vmx_update_exception_bitmap,
// nested_vmx_prepare_msr_bitmap). Which L2 operations exit to L0 at all is decided here; the
// level that then handles the exit is nested_vmx_reflect_vmexit's (the tables above).

export const VMCS02_CONTROLS_REFERENCE = `${NESTED_C} prepare_vmcs02_early`;

/**
 * vmcs02's control words (prepare_vmcs02_early): vmcs01's OR vmcs12's, except that
 * - pin: vmcs12's VMX-preemption timer is emulated with an hrtimer (only vmcs01's reaches
 *   vmcs02), and process posted interrupts is taken only from vmcs12;
 * - primary: vmcs01's interrupt-window exiting, NMI-window exiting and use TPR shadow are dropped
 *   (taken from vmcs12 only); without a TPR shadow, CR8-load and CR8-store exiting are set
 *   (CONFIG_X86_64); unconditional I/O exiting is set and use I/O bitmaps cleared ("A vmexit (to
 *   either L1 hypervisor or L0 userspace) is always needed for I/O port accesses");
 * - secondary: the controls below come from vmcs12 only, and enable PML and VMCS shadowing are
 *   never set (PML and shadow VMCS are emulated for L1); unrestricted guest only from vmcs12.
 */
export const VMCS02_PIN_FROM_VMCS01_ONLY: readonly ControlRef[] = [CONTROL.pin.activate_vmx_preemption_timer];
export const VMCS02_PIN_FROM_VMCS12_ONLY: readonly ControlRef[] = [CONTROL.pin.process_posted_interrupts];
export const VMCS02_PROC_FROM_VMCS12_ONLY: readonly ControlRef[] = [
  CONTROL.proc.interrupt_window_exiting,
  CONTROL.proc.nmi_window_exiting,
  CONTROL.proc.use_tpr_shadow,
];
/** Set in vmcs02 when it has no TPR shadow (vmcs12 has none). */
export const VMCS02_CR8_EXITING_WITHOUT_TPR_SHADOW: readonly ControlRef[] = [
  CONTROL.proc.cr8_load_exiting,
  CONTROL.proc.cr8_store_exiting,
];
export const VMCS02_PROC2_FROM_VMCS12_ONLY: readonly ControlRef[] = [
  CONTROL.proc2.virtualize_apic_accesses,
  CONTROL.proc2.virtualize_x2apic_mode,
  CONTROL.proc2.enable_invpcid,
  CONTROL.proc2.enable_rdtscp,
  CONTROL.proc2.enable_xsaves_xrstors,
  CONTROL.proc2.enable_user_wait_and_pause,
  CONTROL.proc2.virtual_interrupt_delivery,
  CONTROL.proc2.apic_register_virtualization,
  CONTROL.proc2.enable_vm_functions,
  CONTROL.proc2.descriptor_table_exiting,
  CONTROL.proc2.unrestricted_guest,
];
export const VMCS02_PROC2_NEVER: readonly ControlRef[] = [
  CONTROL.proc2.enable_pml,
  CONTROL.proc2.vmcs_shadowing,
];

/**
 * Exits vmcs02's own virtualization state decides from vmcs12 alone, so an exit the vmcs01
 * decision alone would give is not one of vmcs02's: the TPR threshold (prepare_vmcs02_early
 * writes vmcs12's TPR_THRESHOLD with vmcs12's TPR shadow; without it CR8 accesses exit instead).
 */
export const L0_SIDE_NOT_IN_VMCS02: ReadonlyMap<number, string> = new Map<number, string>([
  [EXIT.TPR_BELOW_THRESHOLD, "vmcs02's TPR shadow and TPR threshold are vmcs12's (prepare_vmcs02_early)"],
]);

/**
 * #PF (prepare_vmcs02_rare; vmx_update_exception_bitmap ORs vmcs12's exception bitmap into
 * vmcs02's): when L0 intercepts page faults itself (vmx_need_pf_intercept: no EPT, or a guest
 * MAXPHYADDR smaller than the host's — a vmcs01 whose exception bitmap has bit 14), vmcs02 sets
 * PFEC_MASK = PFEC_MATCH = 0 with EB.PF = 1, so every #PF of L2 exits, and
 * nested_vmx_l0_wants_exit keeps it (`is_page_fault: return vcpu->arch.apf.host_apf_flags ||
 * vmx_need_pf_intercept(vcpu)`); L0's MMU then injects a fault meant for L1 as a nested exit
 * (nested_vmx_is_page_fault_vmexit on vmcs12's bitmap bit 14 and mask/match). Otherwise vmcs02
 * takes vmcs12's PFEC mask and match and bit 14, and the exit is L1's (`is_page_fault: return
 * true` in nested_vmx_l1_wants_exit).
 */
export const PF_VECTOR = 14;
export const PF_L0_REFERENCE = `${NESTED_C} prepare_vmcs02_rare (PAGE_FAULT_ERROR_CODE_MASK/MATCH = 0 when vmx_need_pf_intercept), nested_vmx_l0_wants_exit (is_page_fault: vmx_need_pf_intercept)`;
export const PF_L1_REFERENCE = `${NESTED_C} prepare_vmcs02_rare (vmcs12's PAGE_FAULT_ERROR_CODE_MASK/MATCH), nested_vmx_l1_wants_exit (is_page_fault: return true)`;

/**
 * Exception vectors nested_vmx_l0_wants_exit keeps whatever vmcs12 asks, besides NMI and #PF:
 * #VE (is_ve_fault). Not modelled (the language has no guest-debug or split-lock state): #DB
 * with KVM_GUESTDBG_SINGLESTEP / USE_HW_BP, #BP with KVM_GUESTDBG_USE_SW_BP (userspace
 * debugging L2), #AC when !vmx_guest_inject_ac (a split-lock #AC on a host with split-lock
 * detection); those go by vmcs12's exception bitmap here, as with guest debugging off and a
 * legacy alignment-check #AC.
 */
export const L0_EXCEPTION_VECTORS: ReadonlyMap<number, string> = new Map<number, string>([
  [20, "a virtualization exception (#VE) of L2 is L0's (nested_vmx_l0_wants_exit: is_ve_fault)"],
]);

/**
 * L1's APIC-access page in L2: arch/x86/kvm/mmu/mmu.c __kvm_faultin_pfn, for
 * APIC_ACCESS_PAGE_PRIVATE_MEMSLOT in guest mode ("Don't map L1's APIC access page into L2, KVM
 * doesn't support using APICv/AVIC to accelerate L2 accesses to L1's APIC, i.e. the access needs
 * to be emulated … Allow an MMIO SPTE to be created"): no slot, an MMIO SPTE in EPT02, so each
 * access of L2 is an EPT misconfiguration L0 emulates (the first one an EPT violation).
 */
export const L1_APIC_PAGE_IN_L2_REFERENCE =
  "Linux arch/x86/kvm/mmu/mmu.c __kvm_faultin_pfn (APIC_ACCESS_PAGE_PRIVATE_MEMSLOT in guest mode: KVM_PFN_NOSLOT, an MMIO SPTE)";

/**
 * nested_vmx_prepare_msr_bitmap: vmcs02's MSR bitmap starts with every bit set
 * (alloc_loaded_vmcs fills it with 0xff) and only these MSRs are let through, when both
 * vmcs01's and vmcs12's bitmaps let them through (nested_vmx_set_intercept_for_msr: "Always
 * check vmcs01's bitmap to honor userspace MSR filters"); every other MSR access of L2 exits,
 * to L1 when vmcs12's bitmap has its bit, else to L0 (nested_vmx_exit_handled_msr).
 */
const msr = (name: string) => msrByName(name)!.index;
export const VMCS02_MERGED_MSRS: ReadonlyMap<number, { read: boolean; write: boolean }> = new Map([
  [msr("IA32_FS_BASE"), { read: true, write: true }],
  [msr("IA32_GS_BASE"), { read: true, write: true }],
  [msr("IA32_KERNEL_GS_BASE"), { read: true, write: true }],
  [msr("IA32_SPEC_CTRL"), { read: true, write: true }],
  [msr("IA32_PRED_CMD"), { read: false, write: true }],
  [msr("IA32_FLUSH_CMD"), { read: false, write: true }],
]);
export const VMCS02_MSR_BITMAP_REFERENCE = `${NESTED_C} nested_vmx_prepare_msr_bitmap (vmcs02's bitmap intercepts every MSR but FS_BASE, GS_BASE, KERNEL_GS_BASE, SPEC_CTRL, PRED_CMD and FLUSH_CMD when vmcs01 and vmcs12 both pass them, and the x2APIC MSRs vmcs12's APIC virtualization passes)`;

/**
 * The x2APIC MSRs (0x800–0x8ff) in vmcs02's bitmap ignore vmcs01's (enable_x2apic_msr_intercepts,
 * then nested_vmx_disable_intercept_for_x2apic_msr): with vmcs12's virtualize x2APIC mode, L1's
 * bitmap decides reads of the whole range with APIC-register virtualization, TPR reads and
 * writes always, EOI and SELF_IPI writes with virtual-interrupt delivery; everything else exits.
 */
export function x2apicPassableInVmcs02(
  msrIndex: number,
  write: boolean,
  vmcs12: { x2apicMode: boolean; apicRegisterVirtualization: boolean; vid: boolean },
): boolean {
  if (!vmcs12.x2apicMode) return false;
  if (msrIndex === X2APIC_MSR.TPR) return true;
  if (!write) return vmcs12.apicRegisterVirtualization;
  return vmcs12.vid && (msrIndex === X2APIC_MSR.EOI || msrIndex === X2APIC_MSR.SELF_IPI);
}

/**
 * The vmcs12 control that decides whether an interrupt for L1 arriving while L2 runs becomes a
 * nested VM exit (nested.h nested_exit_on_intr; vmx_check_nested_events synthesizes the exit
 * with nested_vmx_vmexit(EXIT_REASON_EXTERNAL_INTERRUPT)). Without it L0 injects the interrupt
 * into L2 itself.
 */
export const NESTED_EXIT_ON_INTR: ControlRef = CONTROL.pin.external_interrupt_exiting;
export const NESTED_EXIT_ON_INTR_REFERENCE = `Linux arch/x86/kvm/vmx/nested.h nested_exit_on_intr; ${NESTED_C} vmx_check_nested_events`;

/** An EPT fault L0's nested MMU finds in L1's EPT12 is reflected to L1 with this function. */
export const EPT_FAULT_TO_L1_REFERENCE = `${NESTED_C} nested_ept_inject_page_fault (vmx->nested.pml_full → EXIT_REASON_PML_FULL; EPT misconfiguration of EPT12 → EXIT_REASON_EPT_MISCONFIG, else EXIT_REASON_EPT_VIOLATION)`;

/** VMCS shadowing in vmcs01 (SDM Vol. 3C §25.6.15 / §26.10, pre-2023 §24.6.15 / §25.10). */
export const VMCS_SHADOWING: ControlRef = CONTROL.proc2.vmcs_shadowing;
export const VMCS_SHADOWING_REFERENCE =
  "SDM Vol. 3C §26.10 (older editions §25.10) VMCS shadowing; §25.6.15 (§24.6.15) VMREAD and VMWRITE bitmaps";

/**
 * The fields KVM shadows (vmcs_shadow_fields.h): L1's VMREAD of a read-only or read-write one
 * and VMWRITE of a read-write one run in L1 without an exit when L0 enables VMCS shadowing.
 * The list is what `shadow kvm` (and a vmcs01 with vmcs_shadowing and no `shadow` statement)
 * means. Three read-write fields are conditional on the hardware (GUEST_INTR_STATUS: APICv,
 * GUEST_PML_INDEX: PML, VMX_PREEMPTION_TIMER_VALUE: the preemption timer); they are listed.
 * On 64-bit hosts the `_HIGH` half of GUEST_PHYSICAL_ADDRESS is left exiting
 * (init_vmcs_shadow_fields skips odd encodings under CONFIG_X86_64).
 */
export const KVM_SHADOW_READ_WRITE: readonly string[] = [
  "GUEST_INTR_STATUS",
  "GUEST_PML_INDEX",
  "HOST_FS_SELECTOR",
  "HOST_GS_SELECTOR",
  "CPU_BASED_VM_EXEC_CONTROL",
  "PIN_BASED_VM_EXEC_CONTROL",
  "EXCEPTION_BITMAP",
  "VM_ENTRY_EXCEPTION_ERROR_CODE",
  "VM_ENTRY_INTR_INFO_FIELD",
  "VM_ENTRY_INSTRUCTION_LEN",
  "TPR_THRESHOLD",
  "GUEST_INTERRUPTIBILITY_INFO",
  "VMX_PREEMPTION_TIMER_VALUE",
  "GUEST_RIP",
  "GUEST_RSP",
  "GUEST_CR0",
  "GUEST_CR3",
  "GUEST_CR4",
  "GUEST_RFLAGS",
  "CR0_GUEST_HOST_MASK",
  "CR0_READ_SHADOW",
  "CR4_READ_SHADOW",
  "HOST_FS_BASE",
  "HOST_GS_BASE",
];
export const KVM_SHADOW_READ_ONLY: readonly string[] = [
  "VM_EXIT_REASON",
  "VM_EXIT_INTR_INFO",
  "VM_EXIT_INSTRUCTION_LEN",
  "VM_EXIT_INTR_ERROR_CODE",
  "IDT_VECTORING_INFO_FIELD",
  "IDT_VECTORING_ERROR_CODE",
  "GUEST_CS_AR_BYTES",
  "GUEST_SS_AR_BYTES",
  "EXIT_QUALIFICATION",
  "GUEST_LINEAR_ADDRESS",
  "GUEST_PHYSICAL_ADDRESS",
];

/**
 * L1's VMX instructions and the exit reason each causes in L0 (SDM §26.1.2; KVM's handlers in
 * nested.c: handle_vmread, handle_vmwrite, handle_vmptrld, handle_vmclear, handle_vmresume /
 * handle_vmlaunch → nested_vmx_run, handle_invept, handle_invvpid). `vmread`/`vmwrite` exit
 * only for fields outside the shadow bitmaps when vmcs01 has VMCS shadowing.
 */
export const L1_VMX_INSTRUCTIONS: ReadonlyMap<string, { reason: number; kvm: string }> = new Map([
  ["vmread", { reason: EXIT.VMREAD, kvm: `${NESTED_C} handle_vmread` }],
  ["vmwrite", { reason: EXIT.VMWRITE, kvm: `${NESTED_C} handle_vmwrite` }],
  ["vmptrld", { reason: EXIT.VMPTRLD, kvm: `${NESTED_C} handle_vmptrld` }],
  ["vmclear", { reason: EXIT.VMCLEAR, kvm: `${NESTED_C} handle_vmclear` }],
  ["vmlaunch", { reason: EXIT.VMLAUNCH, kvm: `${NESTED_C} handle_vmlaunch → nested_vmx_run` }],
  ["vmresume", { reason: EXIT.VMRESUME, kvm: `${NESTED_C} handle_vmresume → nested_vmx_run` }],
  ["invept", { reason: EXIT.INVEPT, kvm: `${NESTED_C} handle_invept` }],
  ["invvpid", { reason: EXIT.INVVPID, kvm: `${NESTED_C} handle_invvpid` }],
]);

/**
 * An L2 that halts (docs/estimator.md "Nested idle"). With vmcs12's HLT exiting the HLT is
 * L1's: L1's KVM blocks the vCPU (handle_halt → kvm_emulate_halt → kvm_vcpu_halt, x86.c and
 * virt/kvm/kvm_main.c), so L1 itself goes idle and halts — an HLT of L1 that L0 decides on
 * vmcs01 — and the interrupt for L1 that ends the idle period wakes L1 in L0 first; L1 then
 * injects it into L2 (VMWRITE of VM_ENTRY_INTR_INFO_FIELD) and VMRESUMEs. Without it L0 keeps
 * the HLT (vmcs01's HLT exiting) and blocks the vCPU in guest mode; an interrupt for L1 then
 * wakes it and vmx_check_nested_events synthesizes the nested exit into L1
 * (nested_vmx_vmexit(EXIT_REASON_EXTERNAL_INTERRUPT)) when vmcs12 has external-interrupt
 * exiting, or L0 injects it into L2 itself when it has not.
 */
export const NESTED_HALT_BY_L1_REFERENCE = `${NESTED_C} nested_vmx_l1_wants_exit (case EXIT_REASON_HLT: vmcs12's HLT exiting); L1's KVM handle_halt → kvm_emulate_halt → kvm_vcpu_halt (arch/x86/kvm/x86.c, virt/kvm/kvm_main.c)`;
export const NESTED_HALT_BY_L0_REFERENCE = `${NESTED_C} vmx_check_nested_events (a pending interrupt for L1 with nested_exit_on_intr: nested_vmx_vmexit(EXIT_REASON_EXTERNAL_INTERRUPT)); kvm_vcpu_halt (virt/kvm/kvm_main.c)`;
/** The vmcs12 field L1 writes to inject the wake-up interrupt into L2 (SDM Vol. 3C §25.8.3, pre-2023 §24.8.3). */
export const L1_INJECT_FIELD = "VM_ENTRY_INTR_INFO_FIELD";

/**
 * Posted interrupts into L2 (vmcs12's process posted interrupts with virtual-interrupt
 * delivery: nested_vmx_check_apicv_controls requires VID, external-interrupt exiting and
 * acknowledge interrupt on exit with it; L0 exposes it to L1 only with APICv,
 * nested_vmx_setup_pinbased_ctls). prepare_vmcs02_early runs L2 with posted-interrupt
 * processing and the notification vector POSTED_INTR_NESTED_VECTOR on L1's descriptor. L1 posts
 * into that descriptor (PIR, ON) and sends vmcs12's notification vector to the vCPU — an x2APIC
 * ICR write of L1, which exits to L0 unless vmcs01 lets it through; L0's
 * vmx_deliver_nested_posted_interrupt (vmx.c) then sends POSTED_INTR_NESTED_VECTOR to the
 * physical CPU running L2, which the CPU processes without a VM exit (SDM Vol. 3C §30.6,
 * pre-2023 §29.6), or, when the vCPU is not in guest mode, sets nested.pi_pending and wakes it;
 * vmx_complete_nested_posted_interrupt (nested.c, from vmx_check_nested_events) then moves the
 * PIR into L2's virtual-APIC page and GUEST_INTR_STATUS at the next entry, and
 * nested_mark_vmcs12_pages_dirty logs the descriptor and virtual-APIC pages dirty.
 */
export const NESTED_POSTED: { pi: ControlRef; vid: ControlRef } = {
  pi: CONTROL.pin.process_posted_interrupts,
  vid: CONTROL.proc2.virtual_interrupt_delivery,
};
export const NESTED_POSTED_REFERENCE =
  "Linux arch/x86/kvm/vmx/vmx.c vmx_deliver_nested_posted_interrupt; nested.c prepare_vmcs02_early (POSTED_INTR_NESTED_VECTOR), vmx_complete_nested_posted_interrupt, nested_mark_vmcs12_pages_dirty, nested_vmx_check_apicv_controls; SDM Vol. 3C §30.6 (pre-2023 §29.6) posted-interrupt processing";
/** The MSR L1 writes to send the notification vector (x2APIC ICR, SDM Vol. 3A §11.12.9). */
export const L1_NOTIFY_MSR = "X2APIC_ICR";
/** The vmcs02 field the PIR sync writes (RVI): vmx_complete_nested_posted_interrupt; L1's sync_pir_to_irr likewise. */
export const PIR_SYNC_FIELD = "GUEST_INTR_STATUS";
/** L1's KVM points a blocked vCPU's descriptor at its wake-up vector (posted_intr.c pi_enable_wakeup_handler). */
export const L1_PI_WAKEUP_REFERENCE =
  "Linux arch/x86/kvm/vmx/posted_intr.c vmx_vcpu_pi_put → pi_enable_wakeup_handler (in L1: a blocked vCPU's descriptor takes POSTED_INTR_WAKEUP_VECTOR)";

/**
 * EPT02: L2 runs on an EPT L0 builds as a shadow of L1's EPT12 (nested_ept_init_mmu_context →
 * kvm_init_shadow_ept_mmu, arch/x86/kvm/mmu/mmu.c), never on the TDP MMU. It starts empty after
 * each root allocation; the first access of L2 to each page is an EPT violation L0 fixes
 * itself: FNAME(page_fault) of paging_tmpl.h compiled with PTTYPE == PTTYPE_EPT (ept_page_fault)
 * walks EPT12 in L1's memory (FNAME(walk_addr)), then FNAME(fetch) builds the shadow entries
 * (kvm_mmu_get_child_sp for each missing level) and write-protects the EPT12 table pages it
 * shadows (account_shadowed). A 4 KiB mapping each (SDM Vol. 3C §29.3.2 EPT_PAGE_SIZE): larger
 * only when EPT12 maps 2 MiB and L0's backing is huge (kvm_mmu_hugepage_adjust), which the
 * language does not say.
 */
export const EPT02_REFERENCE =
  "Linux arch/x86/kvm/vmx/nested.c nested_ept_init_mmu_context → arch/x86/kvm/mmu/mmu.c kvm_init_shadow_ept_mmu; arch/x86/kvm/mmu/paging_tmpl.h FNAME(page_fault) with PTTYPE_EPT (walk_addr over EPT12, fetch builds EPT02)";
