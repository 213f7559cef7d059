/** Cases for the field-value rules (E5–E28), the MSR lists (X3, X4, N8), N9 and the host state (N10). */
import { type RuleCase, vmcs } from "./support";

const IO = "hlt_exiting use_tpr_shadow use_io_bitmaps use_msr_bitmaps activate_secondary_controls";
const PI_PIN = "external_interrupt_exiting nmi_exiting process_posted_interrupts";
const VID = "enable_ept virtual_interrupt_delivery";

export const FIELD_CASES: readonly RuleCase[] = [
  {
    // skylake_server: IA32_VMX_MISC[24:16] = 4; the diagnostic sits on the statement.
    rule: "E5",
    code: "VMX-E5",
    failing: vmcs({ extra: ["«cr3_targets 0x1000, 0x2000, 0x3000, 0x4000, 0x5000»"] }),
    passing: vmcs({ extra: ["cr3_targets 0x1000, 0x2000, 0x3000, 0x4000"] }),
  },
  {
    rule: "E5",
    code: "VMX-E5",
    failing: vmcs({ extra: ["«field CR3_TARGET_COUNT = 5»"] }),
    passing: vmcs({ extra: ["field CR3_TARGET_COUNT = 4"] }),
  },
  {
    rule: "E6 IO_BITMAP_A/IO_BITMAP_B",
    code: "VMX-E6",
    failing: vmcs({ proc: IO, extra: ["field IO_BITMAP_A = 0x1000", "«field IO_BITMAP_B = 0x2008»"] }),
    passing: vmcs({ proc: IO, extra: ["field IO_BITMAP_A = 0x1000", "field IO_BITMAP_B = 0x2000"] }),
  },
  {
    rule: "E6 IO_BITMAP_A/IO_BITMAP_B",
    code: "VMX-E6",
    // Beyond skylake_server's 46-bit MAXPHYADDR.
    failing: vmcs({ proc: IO, extra: ["«field IO_BITMAP_A = 0x4000_0000_0000»"] }),
    passing: vmcs({ proc: IO, extra: ["field IO_BITMAP_A = 0x3fff_ffff_f000"] }),
  },
  {
    rule: "E7 MSR_BITMAP",
    code: "VMX-E7",
    failing: vmcs({ proc: IO, extra: ["«field MSR_BITMAP = 0x3004»"] }),
    passing: vmcs({ proc: IO, extra: ["field MSR_BITMAP = 0x3000"] }),
  },
  {
    rule: "E8 VIRTUAL_APIC_PAGE_ADDR",
    code: "VMX-E8",
    failing: vmcs({ extra: ["«field VIRTUAL_APIC_PAGE_ADDR = 0x5080»"] }),
    passing: vmcs({ extra: ["field VIRTUAL_APIC_PAGE_ADDR = 0x5000"] }),
  },
  {
    rule: "E9",
    code: "VMX-E9",
    failing: vmcs({ extra: ["«tpr_threshold 0x10»"] }),
    passing: vmcs({ extra: ["tpr_threshold 0xf"] }),
  },
  {
    // With virtual-interrupt delivery the threshold is not used: bits 31:4 may be set.
    rule: "E9",
    code: "VMX-E9",
    failing: vmcs({ extra: ["«field TPR_THRESHOLD = 0x20»"] }),
    passing: vmcs({ proc2: VID, extra: ["field TPR_THRESHOLD = 0x20"] }),
  },
  {
    rule: "E10",
    code: "VMX-E10",
    failing: vmcs({ extra: ["«tpr_threshold 5»", "vtpr 0x40"] }),
    passing: vmcs({ extra: ["tpr_threshold 5", "vtpr 0x50"] }),
  },
  {
    rule: "E12 APIC_ACCESS_ADDR",
    code: "VMX-E12",
    failing: vmcs({
      proc2: "enable_ept virtualize_apic_accesses",
      extra: ["«field APIC_ACCESS_ADDR = 0xfee00008»"],
    }),
    passing: vmcs({
      proc2: "enable_ept virtualize_apic_accesses",
      extra: ["field APIC_ACCESS_ADDR = 0xfee00000"],
    }),
  },
  {
    rule: "E15 POSTED_INTR_NV",
    code: "VMX-E15",
    failing: vmcs({ pin: PI_PIN, proc2: VID, extra: ["«field POSTED_INTR_NV = 0x1f2»"] }),
    passing: vmcs({ pin: PI_PIN, proc2: VID, extra: ["field POSTED_INTR_NV = 0xf2"] }),
  },
  {
    rule: "E15 POSTED_INTR_DESC_ADDR",
    code: "VMX-E15",
    failing: vmcs({ pin: PI_PIN, proc2: VID, extra: ["«field POSTED_INTR_DESC_ADDR = 0x1020»"] }),
    passing: vmcs({ pin: PI_PIN, proc2: VID, extra: ["field POSTED_INTR_DESC_ADDR = 0x1040"] }),
  },
  {
    rule: "E18 PML_ADDRESS",
    code: "VMX-E18",
    failing: vmcs({ proc2: "enable_ept enable_pml", extra: ["«field PML_ADDRESS = 0x2001»"] }),
    passing: vmcs({ proc2: "enable_ept enable_pml", extra: ["field PML_ADDRESS = 0x2000"] }),
  },
  {
    rule: "E21 VMREAD_BITMAP/VMWRITE_BITMAP",
    code: "VMX-E21",
    failing: vmcs({
      proc2: "enable_ept vmcs_shadowing",
      extra: ["field VMREAD_BITMAP = 0x6000", "«field VMWRITE_BITMAP = 0x6800»"],
    }),
    passing: vmcs({
      proc2: "enable_ept vmcs_shadowing",
      extra: ["field VMREAD_BITMAP = 0x6000", "field VMWRITE_BITMAP = 0x7000"],
    }),
  },
  {
    rule: "E22",
    code: "VMX-E22",
    failing: vmcs({ proc2: "enable_ept enable_vpid", extra: ["«field VIRTUAL_PROCESSOR_ID = 0»"] }),
    passing: vmcs({ proc2: "enable_ept enable_vpid", extra: ["field VIRTUAL_PROCESSOR_ID = 1"] }),
  },
  {
    // Not set: 0 after VMCLEAR; the diagnostic sits on the control.
    rule: "E22",
    code: "VMX-E22",
    failing: vmcs({ proc2: "enable_ept «enable_vpid»" }),
    passing: vmcs({ proc2: "enable_ept" }),
  },
  {
    // skylake_server's IA32_VMX_EPT_VPID_CAP has no 5-level walk (bit 7).
    rule: "E24",
    code: "VMX-E24",
    failing: vmcs({ extra: ["«eptp memtype WB levels 5»"] }),
    passing: vmcs({ extra: ["eptp memtype WB levels 4"] }),
  },
  {
    rule: "E24",
    code: "VMX-E24",
    // WB, 4 levels, and reserved bit 7 set.
    failing: vmcs({ extra: ["«field EPT_POINTER = 0x109e»"] }),
    passing: vmcs({ extra: ["field EPT_POINTER = 0x101e"] }),
  },
  {
    rule: "E25",
    code: "VMX-E25",
    failing: vmcs({ proc2: "enable_ept enable_vm_functions", extra: ["«field VM_FUNCTION_CONTROL = 0x3»"] }),
    passing: vmcs({ proc2: "enable_ept enable_vm_functions", extra: ["field VM_FUNCTION_CONTROL = 0x1"] }),
  },
  {
    rule: "E26 VE_INFORMATION_ADDRESS",
    code: "VMX-E26",
    failing: vmcs({
      proc2: "enable_ept ept_violation_ve",
      extra: ["«field VE_INFORMATION_ADDRESS = 0x8010»"],
    }),
    passing: vmcs({ proc2: "enable_ept ept_violation_ve", extra: ["field VE_INFORMATION_ADDRESS = 0x8000"] }),
  },
  {
    rule: "E28",
    code: "VMX-E28",
    failing: vmcs({ proc2: "enable_ept use_tsc_scaling", extra: ["«field TSC_MULTIPLIER = 0»"] }),
    passing: vmcs({
      proc2: "enable_ept use_tsc_scaling",
      extra: ["field TSC_MULTIPLIER = 0x1_0000_0000_0000"],
    }),
  },
  {
    rule: "X3 VM_EXIT_MSR_STORE_ADDR",
    code: "VMX-X3",
    failing: vmcs({
      extra: ["field VM_EXIT_MSR_STORE_COUNT = 2", "«field VM_EXIT_MSR_STORE_ADDR = 0x1008»"],
    }),
    passing: vmcs({ extra: ["field VM_EXIT_MSR_STORE_COUNT = 2", "field VM_EXIT_MSR_STORE_ADDR = 0x1010"] }),
  },
  {
    // skylake_server: IA32_VMX_MISC[27:25] = 0, so at most 512 entries.
    rule: "X3 VM_EXIT_MSR_STORE_ADDR",
    code: "VMX-X4",
    failing: vmcs({ extra: ["«field VM_EXIT_MSR_STORE_COUNT = 513»"] }),
    passing: vmcs({ extra: ["field VM_EXIT_MSR_STORE_COUNT = 512"] }),
  },
  {
    rule: "X3 VM_EXIT_MSR_LOAD_ADDR",
    code: "VMX-X3",
    // The last entry ends beyond the 46-bit MAXPHYADDR.
    failing: vmcs({
      extra: ["field VM_EXIT_MSR_LOAD_COUNT = 2", "«field VM_EXIT_MSR_LOAD_ADDR = 0x3fff_ffff_fff0»"],
    }),
    passing: vmcs({
      extra: ["field VM_EXIT_MSR_LOAD_COUNT = 1", "field VM_EXIT_MSR_LOAD_ADDR = 0x3fff_ffff_fff0"],
    }),
  },
  {
    rule: "N8 VM_ENTRY_MSR_LOAD_ADDR",
    code: "VMX-N8",
    failing: vmcs({
      extra: ["field VM_ENTRY_MSR_LOAD_COUNT = 1", "«field VM_ENTRY_MSR_LOAD_ADDR = 0x2004»"],
    }),
    passing: vmcs({ extra: ["field VM_ENTRY_MSR_LOAD_COUNT = 1", "field VM_ENTRY_MSR_LOAD_ADDR = 0x2000"] }),
  },
  {
    rule: "N8 VM_ENTRY_MSR_LOAD_ADDR",
    code: "VMX-X4",
    failing: vmcs({ extra: ["«field VM_ENTRY_MSR_LOAD_COUNT = 1000»"] }),
    passing: vmcs({ extra: ["field VM_ENTRY_MSR_LOAD_COUNT = 10"] }),
  },
  {
    rule: "N9",
    code: "VMX-N9",
    failing: vmcs({ entry: "ia32e_mode_guest «deactivate_dual_monitor_treatment»" }),
    passing: vmcs({ entry: "ia32e_mode_guest" }),
  },
  {
    rule: "N10 host state",
    code: "VMX-N10",
    // host_address_space_size needs HOST_CR4.PAE (bit 5).
    failing: vmcs({ extra: ["«field HOST_CR4 = 0x2000»"] }),
    passing: vmcs({ extra: ["field HOST_CR4 = 0x2020"] }),
  },
  {
    rule: "N10 host state",
    code: "VMX-N10",
    failing: vmcs({
      exit: "acknowledge_interrupt_on_exit",
      entry: "",
      extra: ["«field HOST_RIP = 0x1_0000_0000»"],
    }),
    passing: vmcs({
      exit: "acknowledge_interrupt_on_exit",
      entry: "",
      extra: ["field HOST_RIP = 0xffff_f000"],
    }),
  },
  {
    // load_ia32_efer (exit): EFER.LMA (bit 10) and LME (bit 8) equal host_address_space_size.
    rule: "N10 host state",
    code: "VMX-N10",
    failing: vmcs({
      exit: "host_address_space_size acknowledge_interrupt_on_exit load_ia32_efer",
      extra: ["«field HOST_IA32_EFER = 0x100»"],
    }),
    passing: vmcs({
      exit: "host_address_space_size acknowledge_interrupt_on_exit load_ia32_efer",
      extra: ["field HOST_IA32_EFER = 0x500"],
    }),
  },
];

/** An injected event: `field VM_ENTRY_INTR_INFO_FIELD = info` (valid bit 31 in `info`). */
const event = (info: string, ...more: string[]) =>
  vmcs({ extra: [`field VM_ENTRY_INTR_INFO_FIELD = ${info}`, ...more] });
const markedEvent = (info: string, ...more: string[]) =>
  vmcs({ extra: [`«field VM_ENTRY_INTR_INFO_FIELD = ${info}»`, ...more] });

export const ENTRY_EVENT_CASES: readonly RuleCase[] = [
  // Valid bit 31, type 10:8, deliver-error-code 11, vector 7:0.
  { rule: "N2", code: "VMX-N2", failing: markedEvent("0x8000_0100"), passing: event("0x8000_0020") },
  { rule: "N3", code: "VMX-N3", failing: markedEvent("0x8000_0201"), passing: event("0x8000_0202") },
  { rule: "N3", code: "VMX-N3", failing: markedEvent("0x8000_0320"), passing: event("0x8000_0306") },
  // #PF (14) pushes an error code: the deliver bit must be set.
  { rule: "N4", code: "VMX-N4", failing: markedEvent("0x8000_030e"), passing: event("0x8000_0b0e") },
  {
    rule: "N5",
    code: "VMX-N5",
    failing: event("0x8000_0b0d", "«field VM_ENTRY_EXCEPTION_ERROR_CODE = 0x1_0000»"),
    passing: event("0x8000_0b0d", "field VM_ENTRY_EXCEPTION_ERROR_CODE = 0xffff"),
  },
  { rule: "N6", code: "VMX-N6", failing: markedEvent("0x8001_0300"), passing: event("0x8000_0300") },
  {
    // A software interrupt (type 4) needs an instruction length; skylake_server has no IA32_VMX_MISC[30].
    rule: "N7",
    code: "VMX-N7",
    failing: markedEvent("0x8000_0480"),
    passing: event("0x8000_0480", "field VM_ENTRY_INSTRUCTION_LEN = 2"),
  },
];
