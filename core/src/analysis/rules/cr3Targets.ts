/** E5: the CR3-target count against IA32_VMX_MISC[24:16]. */
import { cr3TargetLimit } from "../../vmx/capabilities";
import type { EntryRule } from "./context";
import { NESTED, SDM_EXEC } from "./references";

const REFERENCE = `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls (nested_cpu_vmx_misc_cr3_count)`;

export const CR3_TARGET_COUNT: EntryRule = {
  id: "E5",
  codes: ["VMX-E5"],
  rules: ["E5"],
  title: "Number of `cr3_targets` (or `field CR3_TARGET_COUNT`) > IA32_VMX_MISC[24:16].",
  reference: REFERENCE,
  check(view, out) {
    const { vmcs, target } = view;
    const limit = cr3TargetLimit(target.msrs);
    const countField = view.field("CR3_TARGET_COUNT");
    const count = countField ? Number(countField.value) : vmcs.cr3Targets.length;
    if (count <= limit) return;
    const span =
      countField?.span ?? vmcs.cr3Targets[limit]?.span ?? vmcs.cr3Targets[0]?.span ?? vmcs.nameSpan;
    out.push({
      severity: "error",
      code: "VMX-E5",
      message: `${count} CR3-target values exceed the ${limit} that ${target.profile.name} supports (IA32_VMX_MISC[24:16]) (rule E5)`,
      span,
      reference: REFERENCE,
    });
  },
};
