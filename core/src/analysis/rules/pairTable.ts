/**
 * The control-pair rules ("if control X is 1 then Y must be 1 / 0") and the activation controls
 * of the secondary and tertiary words, as data: the pair units of `pairs.ts` check them, and the
 * quick fixes (`fixes.ts`) follow them to add what a control requires or drop what depends on it.
 */

import type { ControlWord } from "../../vmx/types";
import type { ControlRef } from "./context";
import { BOCHS, NESTED, SDM_EXEC, SDM_EXIT, SDM_HOST } from "./references";

/** "If control is 1 then requires must be 1" (kind requires) or "… must be 0" (kind excludes). */
export interface PairRule {
  rule: string;
  kind: "requires" | "excludes";
  control: ControlRef;
  other: ControlRef;
  reference: string;
  /** Short reason appended to the message. */
  why?: string;
  /** A rule of the numbering that states the same condition again (X2 = E23, X6 = E15b). */
  sameAs?: string;
}

/** The control-pair rules (docs/diagnostics.md, "Rule numbering"), each stated as the SDM states it. */
export const PAIR_RULES: readonly PairRule[] = [
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "virtualize_x2apic_mode"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "apic_register_virtualization"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "virtual_interrupt_delivery"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E13",
    kind: "excludes",
    control: ["proc2", "virtualize_x2apic_mode"],
    other: ["proc2", "virtualize_apic_accesses"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "x2APIC virtualization and xAPIC (APIC-access page) virtualization are exclusive",
  },
  {
    rule: "E14",
    kind: "requires",
    control: ["proc2", "virtual_interrupt_delivery"],
    other: ["pin", "external_interrupt_exiting"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
  },
  {
    rule: "E15",
    kind: "requires",
    control: ["pin", "process_posted_interrupts"],
    other: ["proc2", "virtual_interrupt_delivery"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
  },
  {
    rule: "E15",
    kind: "requires",
    control: ["pin", "process_posted_interrupts"],
    other: ["exit", "acknowledge_interrupt_on_exit"],
    reference: `${SDM_EXEC} and ${SDM_EXIT} (X6); ${NESTED} nested_vmx_check_apicv_controls`,
    sameAs: "X6",
  },
  {
    rule: "E16",
    kind: "requires",
    control: ["pin", "virtual_nmis"],
    other: ["pin", "nmi_exiting"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_nmi_controls`,
  },
  {
    rule: "E17",
    kind: "requires",
    control: ["proc", "nmi_window_exiting"],
    other: ["pin", "virtual_nmis"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_nmi_controls`,
  },
  {
    rule: "E18",
    kind: "requires",
    control: ["proc2", "enable_pml"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_pml_controls`,
  },
  {
    rule: "E19",
    kind: "requires",
    control: ["proc2", "unrestricted_guest"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_unrestricted_guest_controls`,
  },
  {
    rule: "E20",
    kind: "requires",
    control: ["proc2", "mode_based_execute_control"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_mode_based_ept_exec_controls`,
  },
  {
    rule: "E23",
    kind: "requires",
    control: ["exit", "save_vmx_preemption_timer_value"],
    other: ["pin", "activate_vmx_preemption_timer"],
    reference: `${SDM_EXIT} (X2); ${NESTED} nested_check_vm_execution_controls`,
    sameAs: "X2",
  },
  {
    rule: "E27",
    kind: "requires",
    control: ["proc2", "sub_page_write_permissions"],
    other: ["proc2", "enable_ept"],
    reference: `${BOCHS} (not in KVM's nested checks)`,
  },
  {
    rule: "N10",
    kind: "requires",
    control: ["entry", "ia32e_mode_guest"],
    other: ["exit", "host_address_space_size"],
    reference: `${SDM_HOST}; ${NESTED} nested_vmx_check_host_state`,
    why: "a 64-bit guest needs a 64-bit host to exit to",
  },
];

/** Control words with an activation control in the primary word (SDM §26.2.1.1 / E3, E4). */
export const ACTIVATION: Partial<Record<ControlWord, { control: ControlRef; code: string; rule: string }>> = {
  proc2: { control: ["proc", "activate_secondary_controls"], code: "TL301", rule: "E3" },
  proc3: { control: ["proc", "activate_tertiary_controls"], code: "TL302", rule: "E4" },
};
