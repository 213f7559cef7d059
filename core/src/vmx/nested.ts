/**
 * Nested VMX facts: which level KVM lets handle an exit of L2 (reflection), which VMCS fields
 * KVM shadows for L1 (VMCS shadowing), and the VMX instructions L1 executes with the exit each
 * one causes in L0. Every row names the Linux KVM function it comes from
 * (arch/x86/kvm/vmx/nested.c, vmcs_shadow_fields.h; read at torvalds/linux master, 2025) or the
 * SDM section (Vol. 3C editions from 2023, pre-2023 numbers beside).
 *
 * The analysis (core/src/analysis/nested/) reads these rows; it codes no exit reason itself.
 */
import type { ControlRef } from "./controls";
import { CONTROL } from "./controls";
import { EXIT, type ExitReasonName } from "./exitReasons";

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
 * claim. Reasons absent here take the function's `default: return true` (L1 gets it).
 */
export const L1_WANTS_CASE: ReadonlyMap<number, string> = new Map<number, string>(
  (
    [
      ["EXCEPTION_NMI", "NMIs and #PF always; other vectors when vmcs12's exception bitmap has them"],
      ["EXTERNAL_INTERRUPT", "nested_exit_on_intr: vmcs12's external-interrupt exiting"],
      ["CPUID", "CPUID exits unconditionally: always L1's"],
      ["HLT", "vmcs12's HLT exiting"],
      ["INVLPG", "vmcs12's INVLPG exiting"],
      ["RDPMC", "vmcs12's RDPMC exiting"],
      ["RDRAND", "vmcs12's RDRAND exiting"],
      ["RDSEED", "vmcs12's RDSEED exiting"],
      ["RDTSC", "vmcs12's RDTSC exiting"],
      ["RDTSCP", "vmcs12's RDTSC exiting"],
      ["VMCALL", "VMX instructions trap unconditionally: always L1's"],
      [
        "CR_ACCESS",
        "nested_vmx_exit_handled_cr: vmcs12's CR0/CR4 guest/host masks and read shadows, CR3/CR8 exiting",
      ],
      ["DR_ACCESS", "vmcs12's MOV-DR exiting"],
      [
        "IO_INSTRUCTION",
        "nested_vmx_exit_handled_io: vmcs12's I/O bitmaps (nested_vmx_check_io_bitmaps), or its unconditional I/O exiting without them",
      ],
      ["MSR_READ", "nested_vmx_exit_handled_msr: vmcs12's MSR bitmap (every MSR without use_msr_bitmaps)"],
      ["MSR_WRITE", "nested_vmx_exit_handled_msr: vmcs12's MSR bitmap (every MSR without use_msr_bitmaps)"],
      ["MWAIT_INSTRUCTION", "vmcs12's MWAIT exiting"],
      ["MONITOR_INSTRUCTION", "vmcs12's MONITOR exiting"],
      ["PAUSE_INSTRUCTION", "vmcs12's PAUSE exiting or PAUSE-loop exiting"],
      ["TPR_BELOW_THRESHOLD", "vmcs12's use TPR shadow"],
      ["APIC_ACCESS", "the APIC-virtualization controls come only from vmcs12: always L1's"],
      ["APIC_WRITE", "the APIC-virtualization controls come only from vmcs12: always L1's"],
      ["EOI_INDUCED", "the APIC-virtualization controls come only from vmcs12: always L1's"],
      ["INVPCID", "vmcs12's enable INVPCID and INVLPG exiting"],
      ["WBINVD", "vmcs12's WBINVD exiting"],
      ["XSETBV", "XSETBV exits unconditionally: always L1's"],
      ["INTERRUPT_WINDOW", "vmcs12's interrupt-window exiting"],
      ["NMI_WINDOW", "vmcs12's NMI-window exiting"],
      ["TRIPLE_FAULT", "always L1's"],
    ] as [ExitReasonName, string][]
  ).map(([name, why]) => [EXIT[name], why]),
);

/**
 * The vmcs12 control that decides whether an interrupt for L1 arriving while L2 runs becomes a
 * nested VM exit (nested.h nested_exit_on_intr; vmx_check_nested_events synthesizes the exit
 * with nested_vmx_vmexit(EXIT_REASON_EXTERNAL_INTERRUPT)). Without it L0 injects the interrupt
 * into L2 itself.
 */
export const NESTED_EXIT_ON_INTR: ControlRef = CONTROL.pin.external_interrupt_exiting;
export const NESTED_EXIT_ON_INTR_REFERENCE = `Linux arch/x86/kvm/vmx/nested.h nested_exit_on_intr; ${NESTED_C} vmx_check_nested_events`;

/** An EPT fault L0's nested MMU finds in L1's EPT12 is reflected to L1 with this function. */
export const EPT_FAULT_TO_L1_REFERENCE = `${NESTED_C} nested_ept_inject_page_fault (EPT misconfiguration of EPT12 → EXIT_REASON_EPT_MISCONFIG, else EXIT_REASON_EPT_VIOLATION)`;

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
