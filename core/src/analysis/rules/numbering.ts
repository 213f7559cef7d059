/**
 * The numbering of the VM-entry checks on control fields that the rules, their diagnostic codes
 * (`VMX-<id>`) and the comments cite: E1–E28 for the VM-execution control fields, X1–X7 for the
 * VM-exit control fields, N1–N10 for the VM-entry control fields (and the host state they
 * constrain). Each row says what the SDM requires, the Linux KVM function that enforces it for a
 * nested guest (arch/x86/kvm/vmx/nested.c unless stated) and where else it is stated or tested.
 * docs/diagnostics.md prints this table with the codes of the registry units that check each row
 * (test/diagnostics-doc.test.ts fails when a row has no unit and no `notChecked` reason).
 *
 * Sources: Intel SDM Vol. 3C §27.2.1.1–27.2.1.3 and §27.2.2–27.2.4 (§26.x in pre-2023 editions);
 * Bochs bochs/cpu/vmx.cc `VMenterLoadCheckVmControls`; kvm-unit-tests x86/vmx_tests.c
 * (`test_vm_execution_ctls`, `test_vm_exit_ctls`, `test_vm_entry_ctls`). "Valid page address"
 * is KVM's `page_address_valid`: 4 KiB aligned, no bit at or above MAXPHYADDR.
 */

export interface RuleNumber {
  readonly id: string;
  /** The control fields the rule is about (the SDM subsection). */
  readonly fields: "execution" | "exit" | "entry";
  /** What the rule requires, in the SDM's terms (Markdown). */
  readonly summary: string;
  /** The Linux KVM function that checks it, or "—" when KVM's nested checks do not. */
  readonly kvm: string;
  /** Other statements or tests of the rule. */
  readonly also: string;
  /** Why no unit checks it (only for rules Trapline cannot or does not check). */
  readonly notChecked?: string;
  /** What part of the rule the units leave out, and why. */
  readonly partly?: string;
}

export const RULE_NUMBERING: readonly RuleNumber[] = [
  {
    id: "E1",
    fields: "execution",
    summary:
      "Pin-based controls: every bit the allowed-0 settings require is 1, every bit the allowed-1 settings forbid is 0 (IA32_VMX_(TRUE_)PINBASED_CTLS)",
    kvm: "`nested_check_vm_execution_controls` (`vmx_control_verify`)",
    also: "Bochs; kvm-unit-tests `test_pin_based_ctls`",
  },
  {
    id: "E2",
    fields: "execution",
    summary: "The same for the primary processor-based controls (IA32_VMX_(TRUE_)PROCBASED_CTLS)",
    kvm: "`nested_check_vm_execution_controls` (`vmx_control_verify`)",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E3",
    fields: "execution",
    summary:
      "If “activate secondary controls” = 1, the secondary controls respect IA32_VMX_PROCBASED_CTLS2; if it is 0, they are not checked and the CPU acts as if all were 0",
    kvm: "`nested_check_vm_execution_controls`",
    also: "kvm-unit-tests `test_secondary_processor_based_ctls`",
  },
  {
    id: "E4",
    fields: "execution",
    summary:
      "If “activate tertiary controls” = 1, the tertiary controls set only bits IA32_VMX_PROCBASED_CTLS3 allows (allowed-1 only)",
    kvm: "—",
    also: "Bochs",
    partly:
      "the prerequisites of single tertiary controls (IPI virtualization's PID-pointer table, HLAT) are not checked",
  },
  {
    id: "E5",
    fields: "execution",
    summary: "CR3-target count ≤ IA32_VMX_MISC[24:16] (older SDM text: not greater than 4)",
    kvm: "`nested_check_vm_execution_controls` (`nested_cpu_vmx_misc_cr3_count`)",
    also: "Bochs; kvm-unit-tests `test_cr3_targets`",
  },
  {
    id: "E6",
    fields: "execution",
    summary: "“use I/O bitmaps” = 1 ⇒ I/O-bitmap A and B addresses are valid page addresses",
    kvm: "`nested_vmx_check_io_bitmap_controls`",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E7",
    fields: "execution",
    summary: "“use MSR bitmaps” = 1 ⇒ MSR-bitmap address is a valid page address",
    kvm: "`nested_vmx_check_msr_bitmap_controls`",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E8",
    fields: "execution",
    summary: "“use TPR shadow” = 1 ⇒ virtual-APIC address is a valid page address",
    kvm: "`nested_vmx_check_tpr_shadow_controls`",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E9",
    fields: "execution",
    summary: "“use TPR shadow” = 1 and “virtual-interrupt delivery” = 0 ⇒ TPR-threshold bits 31:4 = 0",
    kvm: "—",
    also: "Bochs; kvm-unit-tests `test_tpr_threshold`",
  },
  {
    id: "E10",
    fields: "execution",
    summary:
      "“use TPR shadow” = 1, “virtual-interrupt delivery” = 0 and “virtualize APIC accesses” = 0 ⇒ TPR-threshold bits 3:0 ≤ VTPR bits 7:4 (byte 80H of the virtual-APIC page)",
    kvm: "—",
    also: "Bochs; kvm-unit-tests `test_tpr_threshold`",
    partly: "only when the block gives `vtpr`: VTPR is memory (the virtual-APIC page), not a VMCS field",
  },
  {
    id: "E11",
    fields: "execution",
    summary:
      "“use TPR shadow” = 0 ⇒ “virtualize x2APIC mode”, “APIC-register virtualization” and “virtual-interrupt delivery” are 0 (KVM: the TPR shadow is needed by all APIC virtualization features)",
    kvm: "`nested_vmx_check_apicv_controls`",
    also: "Bochs; kvm-unit-tests `test_apic_virtual_ctls`",
  },
  {
    id: "E12",
    fields: "execution",
    summary: "“virtualize APIC accesses” = 1 ⇒ APIC-access address is a valid page address",
    kvm: "`nested_vmx_check_apic_access_controls`",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E13",
    fields: "execution",
    summary: "“virtualize x2APIC mode” = 1 ⇒ “virtualize APIC accesses” = 0",
    kvm: "`nested_vmx_check_apicv_controls`",
    also: "Bochs",
  },
  {
    id: "E14",
    fields: "execution",
    summary: "“virtual-interrupt delivery” = 1 ⇒ “external-interrupt exiting” (pin) = 1",
    kvm: "`nested_vmx_check_apicv_controls`",
    also: "Bochs; kvm-unit-tests `test_virtual_intr_ctls`",
  },
  {
    id: "E15",
    fields: "execution",
    summary:
      "“process posted interrupts” = 1 ⇒ (a) “virtual-interrupt delivery” = 1, (b) “acknowledge interrupt on exit” = 1, (c) notification vector bits 15:8 = 0, (d) descriptor address bits 5:0 = 0, (e) descriptor address within MAXPHYADDR",
    kvm: "`nested_vmx_check_apicv_controls`",
    also: "Bochs (b among its exit-control checks); kvm-unit-tests `test_posted_intr`",
  },
  {
    id: "E16",
    fields: "execution",
    summary: "“NMI exiting” = 0 ⇒ “virtual NMIs” = 0",
    kvm: "`nested_vmx_check_nmi_controls`",
    also: "Bochs; kvm-unit-tests `test_nmi_ctrls`",
  },
  {
    id: "E17",
    fields: "execution",
    summary: "“virtual NMIs” = 0 ⇒ “NMI-window exiting” = 0",
    kvm: "`nested_vmx_check_nmi_controls`",
    also: "Bochs; kvm-unit-tests",
  },
  {
    id: "E18",
    fields: "execution",
    summary: "“enable PML” = 1 ⇒ “enable EPT” = 1 and the PML address is a valid page address",
    kvm: "`nested_vmx_check_pml_controls`",
    also: "Bochs; kvm-unit-tests `test_pml`",
  },
  {
    id: "E19",
    fields: "execution",
    summary: "“unrestricted guest” = 1 ⇒ “enable EPT” = 1",
    kvm: "`nested_vmx_check_unrestricted_guest_controls`",
    also: "Bochs; kvm-unit-tests `test_ept_eptp`",
  },
  {
    id: "E20",
    fields: "execution",
    summary: "“mode-based execute control for EPT” = 1 ⇒ “enable EPT” = 1",
    kvm: "`nested_vmx_check_mode_based_ept_exec_controls`",
    also: "Bochs; kvm-unit-tests `test_mode_based_execute_control`",
  },
  {
    id: "E21",
    fields: "execution",
    summary: "“VMCS shadowing” = 1 ⇒ VMREAD-bitmap and VMWRITE-bitmap addresses are valid page addresses",
    kvm: "`nested_vmx_check_shadow_vmcs_controls`",
    also: "Bochs",
  },
  {
    id: "E22",
    fields: "execution",
    summary: "“enable VPID” = 1 ⇒ VPID ≠ 0000H",
    kvm: "`nested_check_vm_execution_controls`",
    also: "Bochs; kvm-unit-tests `test_vpid`",
  },
  {
    id: "E23",
    fields: "execution",
    summary:
      "“activate VMX-preemption timer” = 0 ⇒ “save VMX-preemption timer value” (exit) = 0 (KVM checks it with the execution controls; the SDM lists it with the VM-exit controls, X2)",
    kvm: "`nested_check_vm_execution_controls`",
    also: "Bochs; kvm-unit-tests `test_vmx_preemption_timer`",
  },
  {
    id: "E24",
    fields: "execution",
    summary:
      "“enable EPT” = 1 ⇒ valid EPTP: memory type UC (needs IA32_VMX_EPT_VPID_CAP[8]) or WB (needs [14]); page-walk length 4 (needs [6]) or 5 (needs [7]); accessed/dirty flag (bit 6) only with [21]; reserved bits 11:7 and bits beyond MAXPHYADDR 0",
    kvm: "`nested_vmx_check_eptp`",
    also: "Bochs `is_eptptr_valid`; kvm-unit-tests `test_ept_eptp`",
  },
  {
    id: "E25",
    fields: "execution",
    summary:
      "“enable VM functions” = 1 ⇒ the VM-function controls set only functions IA32_VMX_VMFUNC allows; EPTP switching (function 0) ⇒ “enable EPT” = 1 and the EPTP-list address is a valid page address (no checks when “enable VM functions” = 0)",
    kvm: "`nested_check_vm_execution_controls` (`nested_vmx_check_eptp_switching`)",
    also: "Bochs",
  },
  {
    id: "E26",
    fields: "execution",
    summary:
      "“EPT-violation #VE” = 1 ⇒ the virtualization-exception information address is a valid page address",
    kvm: "—",
    also: "Bochs",
  },
  {
    id: "E27",
    fields: "execution",
    summary:
      "“sub-page write permissions for EPT” = 1 ⇒ “enable EPT” = 1 and the SPPTP is a valid page address",
    kvm: "—",
    also: "Bochs only",
    partly: "the SPPTP is not a Linux-named field and is not checked",
  },
  {
    id: "E28",
    fields: "execution",
    summary: "“use TSC scaling” = 1 ⇒ TSC multiplier ≠ 0",
    kvm: "—",
    also: "Bochs only (not confirmed in the SDM text consulted)",
  },
  {
    id: "X1",
    fields: "exit",
    summary: "VM-exit controls respect the allowed-0 and allowed-1 settings of IA32_VMX_(TRUE_)EXIT_CTLS",
    kvm: "`nested_check_vm_exit_controls`",
    also: "Bochs",
  },
  {
    id: "X2",
    fields: "exit",
    summary:
      "“activate VMX-preemption timer” = 0 ⇒ “save VMX-preemption timer value” = 0 (the same condition as E23)",
    kvm: "`nested_check_vm_execution_controls` (see E23)",
    also: "Bochs",
  },
  {
    id: "X3",
    fields: "exit",
    summary:
      "VM-exit MSR-store (and MSR-load) count ≠ 0 ⇒ address bits 3:0 = 0, address and last byte (address + count × 16 − 1) within MAXPHYADDR",
    kvm: "`nested_vmx_check_exit_msr_switch_controls` → `nested_vmx_check_msr_switch`",
    also: "Bochs; kvm-unit-tests `test_exit_msr_store`",
  },
  {
    id: "X4",
    fields: "exit",
    summary:
      "An MSR list count above 512 × (IA32_VMX_MISC[27:25] + 1): architecturally undefined behaviour, which KVM fails",
    kvm: "`nested_vmx_check_msr_switch`",
    also: "SDM Vol. 3D App. A.6 (recommended maximum)",
  },
  {
    id: "X5",
    fields: "exit",
    summary: "If IA32_VMX_BASIC[48] = 1 (32-bit physical addresses), no address sets bits 63:32",
    kvm: "—",
    also: "kvm-unit-tests",
  },
  {
    id: "X6",
    fields: "exit",
    summary:
      "“process posted interrupts” = 1 ⇒ “acknowledge interrupt on exit” = 1 (the same condition as E15 b)",
    kvm: "`nested_vmx_check_apicv_controls` (see E15)",
    also: "Bochs (among its exit-control checks)",
  },
  {
    id: "X7",
    fields: "exit",
    summary: "Secondary VM-exit controls (with VM-exit control bit 31 = 1) set only supported bits",
    kvm: "—",
    also: "Bochs",
    notChecked: "the language has no control for VM-exit control bit 31 (activate secondary controls)",
  },
  {
    id: "N1",
    fields: "entry",
    summary: "VM-entry controls respect the allowed-0 and allowed-1 settings of IA32_VMX_(TRUE_)ENTRY_CTLS",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N2",
    fields: "entry",
    summary:
      "Injected event (interruption-information valid bit 31): type 1 is reserved; type 7 (other event) only if the monitor trap flag is supported",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N3",
    fields: "entry",
    summary:
      "Type 2 (NMI) ⇒ vector 2; type 3 (hardware exception) ⇒ vector ≤ 31; type 7 ⇒ vector 0 (pending MTF)",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N4",
    fields: "entry",
    summary:
      "Deliver-error-code = 1 iff type 3, the guest in protected mode (CR0.PE = 1, or “unrestricted guest” = 0) and vector one of 8, 10–14, 17 (relaxed when IA32_VMX_BASIC[56] = 1)",
    kvm: "`nested_check_vm_entry_controls` (`x86_exception_has_error_code`, arch/x86/kvm/x86.h)",
    also: "Bochs",
  },
  {
    id: "N5",
    fields: "entry",
    summary: "Delivering an error code ⇒ VM-entry exception error code bits 31:16 = 0",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N6",
    fields: "entry",
    summary: "Interruption-information reserved bits 30:12 = 0",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N7",
    fields: "entry",
    summary:
      "Types 4, 5, 6 (software interrupt, privileged software exception, software exception) ⇒ VM-entry instruction length 1–15 (0 allowed when IA32_VMX_MISC[30])",
    kvm: "`nested_check_vm_entry_controls`",
    also: "Bochs",
  },
  {
    id: "N8",
    fields: "entry",
    summary: "VM-entry MSR-load count ≠ 0 ⇒ address bits 3:0 = 0, address and last byte within MAXPHYADDR",
    kvm: "`nested_vmx_check_entry_msr_switch_controls`",
    also: "Bochs; kvm-unit-tests `test_entry_msr_load`",
  },
  {
    id: "N9",
    fields: "entry",
    summary: "“entry to SMM” and “deactivate dual-monitor treatment” = 1 only for a VM entry from SMM",
    kvm: "—",
    also: "Bochs",
  },
  {
    id: "N10",
    fields: "entry",
    summary:
      "Host state tied to the controls: “host address-space size” = 0 ⇒ “IA-32e mode guest” = 0, HOST_CR4.PCIDE = 0, HOST_RIP[63:32] = 0; = 1 ⇒ HOST_CR4.PAE = 1; “load IA32_EFER” (exit) ⇒ host EFER.LMA = EFER.LME = “host address-space size”",
    kvm: "`nested_vmx_check_host_state`",
    also: "SDM Vol. 3C §27.2.2–27.2.4",
  },
];
