/**
 * The numbering of the VM-entry checks on control fields that the rules, their diagnostic codes
 * (`VMX-<id>`) and the comments cite: E1–E28 for the VM-execution control fields, X1–X7 for the
 * VM-exit control fields, N1–N10 for the VM-entry control fields (and the host state they
 * constrain), H1–H7 for the host-state area and G1–G14 for the guest-state area (SDM Vol. 3C
 * §27.2.2–27.2.4 and §27.3.1, §26.x in pre-2023 editions; kvm-unit-tests `test_host_*`,
 * `test_guest_*`). Each row says what the SDM requires, the Linux KVM function that enforces it for a
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
  readonly fields: "execution" | "exit" | "entry" | "host" | "guest";
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
  {
    id: "H1",
    fields: "host",
    summary:
      "HOST_CR0 and HOST_CR4: bits 1 in IA32_VMX_CR0_FIXED0 / CR4_FIXED0 are 1, bits 0 in CR0_FIXED1 / CR4_FIXED1 are 0 (and CR4 bits reserved on the CPU are 0)",
    kvm: "`nested_vmx_check_host_state` (`nested_host_cr0_valid`, `nested_host_cr4_valid`)",
    also: "kvm-unit-tests `test_host_ctl_regs`",
  },
  {
    id: "H2",
    fields: "host",
    summary: "HOST_CR3: no bit beyond the processor's physical-address width",
    kvm: "`nested_vmx_check_host_state` (`nested_cr3_valid` / `kvm_vcpu_is_legal_cr3`)",
    also: "kvm-unit-tests `test_host_ctl_regs`",
    partly:
      "LAM's CR3 bits 61/62 (allowed when the CPU has LAM) are not modelled: they count as beyond MAXPHYADDR",
  },
  {
    id: "H3",
    fields: "host",
    summary:
      "Canonical: HOST_IA32_SYSENTER_ESP/EIP, HOST_FS_BASE, HOST_GS_BASE, HOST_GDTR_BASE, HOST_IDTR_BASE, HOST_TR_BASE; with “host address-space size” = 1, HOST_RIP",
    kvm: "`nested_vmx_check_host_state` (`is_noncanonical_address`)",
    also: "kvm-unit-tests `test_host_addr_size`, `test_host_desc_tables`",
  },
  {
    id: "H4",
    fields: "host",
    summary:
      "Host selectors ES, CS, SS, DS, FS, GS, TR: RPL = 0 and TI = 0; CS ≠ 0; TR ≠ 0; SS ≠ 0 when “host address-space size” = 0",
    kvm: "`nested_vmx_check_host_state`",
    also: "kvm-unit-tests `test_host_segment_regs`",
  },
  {
    id: "H5",
    fields: "host",
    summary:
      "“load IA32_PAT” (exit) = 1 ⇒ each HOST_IA32_PAT entry is 0, 1, 4, 5, 6 or 7 (bits 7:3 of each 0)",
    kvm: "`nested_vmx_check_host_state` (`kvm_pat_valid`)",
    also: "kvm-unit-tests `test_load_host_pat`",
  },
  {
    id: "H6",
    fields: "host",
    summary:
      "“load IA32_EFER” (exit) = 1 ⇒ HOST_IA32_EFER reserved bits are 0 (LMA and LME = “host address-space size” is N10)",
    kvm: "`nested_vmx_check_host_state` (`kvm_valid_efer`)",
    also: "kvm-unit-tests `test_host_efer`",
  },
  {
    id: "H7",
    fields: "host",
    summary: "“load IA32_PERF_GLOBAL_CTRL” (exit) = 1 ⇒ HOST_IA32_PERF_GLOBAL_CTRL reserved bits are 0",
    kvm: "`nested_vmx_check_host_state` (`kvm_valid_perf_global_ctrl`)",
    also: "kvm-unit-tests `test_load_host_perf_global_ctrl`",
    partly:
      "the counters are per generation, the most any configuration has (8 general-purpose counters with Hyper-Threading off from Sandy Bridge on), not CPUID leaf 0AH of one part: a bit only some configurations have is allowed",
  },
  {
    id: "G1",
    fields: "guest",
    summary:
      "GUEST_CR0 and GUEST_CR4 respect IA32_VMX_CR0/CR4_FIXED0/1, with CR0.PE and CR0.PG free when “unrestricted guest” = 1; CR0.PG = 1 ⇒ CR0.PE = 1",
    kvm: "`nested_vmx_check_guest_state` (`nested_guest_cr0_valid`, `nested_guest_cr4_valid`)",
    also: "kvm-unit-tests `vmx_guest_state_area_test` (no dedicated CR0/CR4 case)",
  },
  {
    id: "G2",
    fields: "guest",
    summary: "“IA-32e mode guest” = 1 ⇒ CR0.PG = 1 and CR4.PAE = 1; = 0 ⇒ CR4.PCIDE = 0",
    kvm: "— (the processor's check of vmcs02)",
    also: "kvm-unit-tests `test_guest_efer`",
  },
  {
    id: "G3",
    fields: "guest",
    summary:
      "GUEST_CR3 within the physical-address width; canonical SYSENTER_ESP/EIP and FS, GS, LDTR, TR, GDTR, IDTR bases; GDTR/IDTR limits bits 31:16 = 0",
    kvm: "`nested_vmx_load_cr3` (`kvm_vcpu_is_legal_cr3`); the rest the processor's check of vmcs02",
    also: "kvm-unit-tests `test_guest_segment_base_addr_fields`",
  },
  {
    id: "G4",
    fields: "guest",
    summary: "“load debug controls” = 1 ⇒ GUEST_DR7 bits 63:32 = 0 and GUEST_IA32_DEBUGCTL reserved bits 0",
    kvm: "`nested_vmx_check_guest_state` (`kvm_dr7_valid`; DEBUGCTL not in the kernel read)",
    also: "kvm-unit-tests `test_guest_dr7`",
    partly:
      "DEBUGCTL: only the bits reserved on every model (5:3, 63:16); the model-specific ones are allowed",
  },
  {
    id: "G5",
    fields: "guest",
    summary:
      "“load IA32_EFER” (entry) = 1 ⇒ GUEST_IA32_EFER reserved bits 0, LMA = “IA-32e mode guest”, and LME = LMA when CR0.PG = 1",
    kvm: "`nested_vmx_check_guest_state` (`kvm_valid_efer`)",
    also: "kvm-unit-tests `test_guest_efer`",
  },
  {
    id: "G6",
    fields: "guest",
    summary: "“load IA32_PAT” (entry) = 1 ⇒ each GUEST_IA32_PAT entry is 0, 1, 4, 5, 6 or 7",
    kvm: "`nested_vmx_check_guest_state` (`kvm_pat_valid`)",
    also: "kvm-unit-tests `test_load_guest_pat`",
  },
  {
    id: "G7",
    fields: "guest",
    summary:
      "RFLAGS bit 1 = 1, bits 3, 5, 15, 63:22 = 0; VM = 0 with “IA-32e mode guest” or CR0.PE = 0; IF = 1 when injecting an external interrupt. RIP bits 63:32 = 0 unless IA-32e mode with CS.L = 1, canonical then",
    kvm: "— (the processor's check of vmcs02)",
    also: "SDM only (no kvm-unit-tests case)",
  },
  {
    id: "G8",
    fields: "guest",
    summary: "Activity state 0–3 and supported (IA32_VMX_MISC bits 8:6); HLT ⇒ SS.DPL = 0",
    kvm: "`nested_check_guest_non_reg_state` (L1 may use only active and HLT)",
    also: "SDM only (no kvm-unit-tests case)",
    partly:
      "the events an activity state allows to inject (SDM: e.g. only NMI, #MC, INIT/SIPI-free in shutdown) are not checked",
  },
  {
    id: "G9",
    fields: "guest",
    summary:
      "Interruptibility state: bits 31:5 = 0; not STI and MOV-SS blocking both; STI blocking ⇒ RFLAGS.IF = 1; no STI/MOV-SS blocking when injecting an external interrupt, no MOV-SS blocking with an NMI; SMI blocking 0 outside SMM; with “virtual NMIs”, no NMI blocking when injecting an NMI",
    kvm: "— (the processor's check of vmcs02)",
    also: "SDM only (no kvm-unit-tests case)",
    partly: "enclave-interruption blocking (bit 4) needs SGX state the language does not describe",
  },
  {
    id: "G10",
    fields: "guest",
    summary: "Pending debug exceptions: bits 11:4, 13, 15, 63:17 = 0",
    kvm: "— (the processor's check of vmcs02)",
    also: "SDM only (no kvm-unit-tests case)",
    partly:
      "the BS bit (14) rule with STI/MOV-SS blocking or HLT runs on the fields the file sets (the TF = 1 half only with GUEST_IA32_DEBUGCTL set); the RTM bit (16) rule is not checked (it needs the processor's RTM support, which the profiles do not model)",
  },
  {
    id: "G11",
    fields: "guest",
    summary:
      "VMCS link pointer FFFFFFFF_FFFFFFFFH, or a valid page address (bits 11:0 = 0, within MAXPHYADDR)",
    kvm: "`nested_vmx_check_vmcs_link_ptr`",
    also: "SDM; KVM",
    partly:
      "the revision identifier and shadow-VMCS indicator of the linked VMCS are memory, not VMCS fields",
  },
  {
    id: "G12",
    fields: "guest",
    summary: "“load IA32_PERF_GLOBAL_CTRL” (entry) = 1 ⇒ GUEST_IA32_PERF_GLOBAL_CTRL reserved bits are 0",
    kvm: "`nested_vmx_check_guest_state` (`kvm_valid_perf_global_ctrl`)",
    also: "kvm-unit-tests `test_load_guest_perf_global_ctrl`",
    partly: "as H7: the counters are the generation's widest configuration, not one part's CPUID leaf 0AH",
  },
  {
    id: "G13",
    fields: "guest",
    summary:
      "Segment registers (selector, base, limit, access rights of CS, SS, DS, ES, FS, GS, TR, LDTR): TR.TI = 0; usable LDTR.TI = 0; SS.RPL = CS.RPL (not virtual-8086, no unrestricted guest); and the type, S, DPL, P, limit/granularity and usable-bit rules per virtual-8086, unrestricted and IA-32e mode",
    kvm: "— (the processor's check of vmcs02)",
    also: "kvm-unit-tests `test_guest_segment_sel_fields`, `test_guest_segment_base_addr_fields`",
    partly:
      "each rule runs on the fields the file sets: a rule relating two fields (G and the limit, CS.DPL and SS.DPL, DPL and RPL, a virtual-8086 base and its selector) only when the file sets both; the unusable segments' remaining rules and SS.DPL in SMM (no SMM entries, N9) are not modelled; base canonicality is in G3",
  },
  {
    id: "G14",
    fields: "guest",
    summary:
      "“load IA32_BNDCFGS” (entry) = 1 ⇒ GUEST_BNDCFGS reserved bits 11:2 = 0 and its base (bits 63:12) canonical",
    kvm: "`nested_vmx_check_guest_state` (`MSR_IA32_BNDCFGS_RSVD`, `is_noncanonical_address`)",
    also: "kvm-unit-tests `test_load_guest_bndcfgs`",
  },
  {
    id: "G15",
    fields: "guest",
    summary:
      "PDPTEs (PAE paging outside IA-32e mode with EPT), “load IA32_RTIT_CTL” ⇒ IA32_RTIT_CTL reserved bits 0",
    kvm: "`nested_vmx_load_cr3` (PDPTEs); RTIT_CTL the processor's check",
    also: "SDM Vol. 3C §27.3.1.6 (PDPTEs), §27.3.1.1",
    partly:
      "PDPTEs only with EPT and when the file sets GUEST_CR0 and GUEST_CR4 (the paging mode): without EPT VM entry reads them from guest memory at CR3, which the language does not describe; IA32_RTIT_CTL only the bits reserved on every Intel PT implementation (the rest follow CPUID leaf 14H, which the profiles do not model). CET state (“load CET state”, GUEST/HOST_S_CET, SSP) is not checked: the language has no CET controls or fields",
  },
];
