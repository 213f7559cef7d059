/** Cases for the activation lints, the capability units and the control-pair rows. */
import { type RuleCase, vmcs } from "./support";

const NO_SECONDARY = "hlt_exiting use_tpr_shadow";
const NO_TPR_SHADOW = "hlt_exiting activate_secondary_controls";

export const ACTIVATION_CASES: readonly RuleCase[] = [
  {
    rule: "TL301",
    code: "TL301",
    failing: vmcs({ proc: NO_SECONDARY, proc2: "«enable_ept»" }),
    passing: vmcs({ proc2: "enable_ept" }),
  },
  {
    rule: "TL301",
    code: "TL301",
    failing: vmcs({ proc: NO_SECONDARY, proc2: "", extra: ["«field SECONDARY_VM_EXEC_CONTROL = 0x2»"] }),
    passing: vmcs({ proc: NO_SECONDARY, proc2: "", extra: ["field SECONDARY_VM_EXEC_CONTROL = 0x0"] }),
  },
  {
    rule: "TL302",
    code: "TL302",
    failing: vmcs({ target: "sapphire_rapids", proc3: "«ipi_virtualization»" }),
    passing: vmcs({
      target: "sapphire_rapids",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
      proc3: "ipi_virtualization",
    }),
  },
];

export const CAPABILITY_CASES: readonly RuleCase[] = [
  {
    rule: "CAP pin",
    code: "VMX-CAP1",
    failing: vmcs({
      target: "sandy_bridge",
      pin: "external_interrupt_exiting nmi_exiting «process_posted_interrupts»",
    }),
    passing: vmcs({
      target: "ivy_bridge",
      pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
      proc2: "enable_ept virtual_interrupt_delivery",
    }),
  },
  {
    // A raw word clearing the default1 bits 1, 2, 4 (IA32_VMX_TRUE_PINBASED_CTLS still requires them).
    rule: "CAP pin",
    code: "VMX-CAP0",
    failing: vmcs({ pin: "", extra: ["«field PIN_BASED_VM_EXEC_CONTROL = 0x9»"] }),
    passing: vmcs({ pin: "", extra: ["field PIN_BASED_VM_EXEC_CONTROL = 0x1f"] }),
  },
  {
    rule: "CAP proc",
    code: "VMX-CAP1",
    failing: vmcs({
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls «activate_tertiary_controls»",
    }),
    passing: vmcs({
      target: "sapphire_rapids",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
    }),
  },
  {
    rule: "CAP proc2",
    code: "VMX-CAP1",
    failing: vmcs({ target: "haswell", proc2: "enable_ept «enable_pml»" }),
    passing: vmcs({ target: "broadwell", proc2: "enable_ept enable_pml" }),
  },
  {
    rule: "CAP proc3",
    code: "VMX-CAP1",
    failing: vmcs({
      target: "sapphire_rapids",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
      proc3: "«loadiwkey_exiting»",
    }),
    passing: vmcs({
      target: "sapphire_rapids",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
      proc3: "ipi_virtualization",
    }),
  },
  {
    rule: "CAP exit",
    code: "VMX-CAP1",
    failing: vmcs({
      target: "icelake_server",
      exit: "host_address_space_size acknowledge_interrupt_on_exit «clear_ia32_bndcfgs»",
    }),
    passing: vmcs({
      target: "cascade_lake",
      exit: "host_address_space_size acknowledge_interrupt_on_exit clear_ia32_bndcfgs",
    }),
  },
  {
    rule: "CAP entry",
    code: "VMX-CAP1",
    failing: vmcs({ target: "icelake_server", entry: "ia32e_mode_guest «load_ia32_bndcfgs»" }),
    passing: vmcs({ target: "cascade_lake", entry: "ia32e_mode_guest load_ia32_bndcfgs" }),
  },
];

const PIN_PI = "external_interrupt_exiting nmi_exiting «process_posted_interrupts»";

export const PAIR_CASES: readonly RuleCase[] = [
  {
    rule: "E11 virtualize_x2apic_mode ⇒ use_tpr_shadow",
    code: "VMX-E11",
    failing: vmcs({ proc: NO_TPR_SHADOW, proc2: "enable_ept «virtualize_x2apic_mode»" }),
    passing: vmcs({ proc2: "enable_ept virtualize_x2apic_mode" }),
  },
  {
    rule: "E11 apic_register_virtualization ⇒ use_tpr_shadow",
    code: "VMX-E11",
    failing: vmcs({ proc: NO_TPR_SHADOW, proc2: "enable_ept «apic_register_virtualization»" }),
    passing: vmcs({ proc2: "enable_ept apic_register_virtualization" }),
  },
  {
    rule: "E11 virtual_interrupt_delivery ⇒ use_tpr_shadow",
    code: "VMX-E11",
    failing: vmcs({ proc: NO_TPR_SHADOW, proc2: "enable_ept «virtual_interrupt_delivery»" }),
    passing: vmcs({ proc2: "enable_ept virtual_interrupt_delivery" }),
  },
  {
    rule: "E13 virtualize_x2apic_mode ⇒ virtualize_apic_accesses",
    code: "VMX-E13",
    failing: vmcs({ proc2: "enable_ept «virtualize_x2apic_mode» virtualize_apic_accesses" }),
    passing: vmcs({ proc2: "enable_ept virtualize_x2apic_mode" }),
  },
  {
    rule: "E14 virtual_interrupt_delivery ⇒ external_interrupt_exiting",
    code: "VMX-E14",
    failing: vmcs({ pin: "nmi_exiting", proc2: "enable_ept «virtual_interrupt_delivery»" }),
    passing: vmcs({ proc2: "enable_ept virtual_interrupt_delivery" }),
  },
  {
    rule: "E15 process_posted_interrupts ⇒ virtual_interrupt_delivery",
    code: "VMX-E15",
    failing: vmcs({ pin: PIN_PI }),
    passing: vmcs({ pin: PIN_PI.replace(/[«»]/g, ""), proc2: "enable_ept virtual_interrupt_delivery" }),
  },
  {
    rule: "E15 process_posted_interrupts ⇒ acknowledge_interrupt_on_exit",
    code: "VMX-E15",
    failing: vmcs({
      pin: PIN_PI,
      proc2: "enable_ept virtual_interrupt_delivery",
      exit: "host_address_space_size",
    }),
    passing: vmcs({ pin: PIN_PI.replace(/[«»]/g, ""), proc2: "enable_ept virtual_interrupt_delivery" }),
  },
  {
    rule: "E16 virtual_nmis ⇒ nmi_exiting",
    code: "VMX-E16",
    failing: vmcs({ pin: "external_interrupt_exiting «virtual_nmis»" }),
    passing: vmcs({ pin: "external_interrupt_exiting nmi_exiting virtual_nmis" }),
  },
  {
    rule: "E17 nmi_window_exiting ⇒ virtual_nmis",
    code: "VMX-E17",
    failing: vmcs({ proc: "hlt_exiting use_tpr_shadow «nmi_window_exiting» activate_secondary_controls" }),
    passing: vmcs({
      pin: "external_interrupt_exiting nmi_exiting virtual_nmis",
      proc: "hlt_exiting use_tpr_shadow nmi_window_exiting activate_secondary_controls",
    }),
  },
  {
    rule: "E18 enable_pml ⇒ enable_ept",
    code: "VMX-E18",
    failing: vmcs({ proc2: "«enable_pml»" }),
    passing: vmcs({ proc2: "enable_ept enable_pml" }),
  },
  {
    rule: "E19 unrestricted_guest ⇒ enable_ept",
    code: "VMX-E19",
    failing: vmcs({ proc2: "«unrestricted_guest»" }),
    passing: vmcs({ proc2: "enable_ept unrestricted_guest" }),
  },
  {
    rule: "E20 mode_based_execute_control ⇒ enable_ept",
    code: "VMX-E20",
    failing: vmcs({ proc2: "«mode_based_execute_control»" }),
    passing: vmcs({ proc2: "enable_ept mode_based_execute_control" }),
  },
  {
    rule: "E23 save_vmx_preemption_timer_value ⇒ activate_vmx_preemption_timer",
    code: "VMX-E23",
    failing: vmcs({
      exit: "host_address_space_size acknowledge_interrupt_on_exit «save_vmx_preemption_timer_value»",
    }),
    passing: vmcs({
      pin: "external_interrupt_exiting nmi_exiting activate_vmx_preemption_timer",
      exit: "host_address_space_size acknowledge_interrupt_on_exit save_vmx_preemption_timer_value",
    }),
  },
  {
    rule: "E27 sub_page_write_permissions ⇒ enable_ept",
    code: "VMX-E27",
    failing: vmcs({ target: "icelake_server", proc2: "«sub_page_write_permissions»" }),
    passing: vmcs({ target: "icelake_server", proc2: "enable_ept sub_page_write_permissions" }),
  },
  {
    rule: "N10 ia32e_mode_guest ⇒ host_address_space_size",
    code: "VMX-N10",
    failing: vmcs({ exit: "acknowledge_interrupt_on_exit", entry: "«ia32e_mode_guest»" }),
    passing: vmcs(),
  },
  {
    // A pair broken by a bit only the raw word sets sits on that field statement.
    rule: "E19 unrestricted_guest ⇒ enable_ept",
    code: "VMX-E19",
    failing: vmcs({ proc2: "", extra: ["«field SECONDARY_VM_EXEC_CONTROL = 0x80»"] }),
    passing: vmcs({ proc2: "", extra: ["field SECONDARY_VM_EXEC_CONTROL = 0x82"] }),
  },
];
