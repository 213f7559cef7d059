/**
 * E25: with "enable VM functions", the VM-function controls only set functions the target
 * supports, and EPTP switching (function 0) needs EPT and a valid EPTP-list page. Without
 * `field VM_FUNCTION_CONTROL` nothing is checked (the field is 0 after VMCLEAR: no function on).
 */

import { checkAddress } from "./addresses";
import { type EntryRule, hex, REF } from "./context";
import { addFix, fixes } from "./fixes";
import { NESTED, SDM_EXEC } from "./references";

const REFERENCE = `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls`;
const EPTP_LIST = { field: "EPTP_LIST_ADDRESS", align: 4096n, what: "EPTP-list page address" } as const;

export const VM_FUNCTIONS: EntryRule = {
  id: "E25",
  codes: ["VMX-E25"],
  rules: ["E25"],
  title:
    "`enable_vm_functions` ⇒ VM_FUNCTION_CONTROL ⊆ IA32_VMX_VMFUNC; EPTP switching (bit 0) ⇒ `enable_ept` and EPTP_LIST_ADDRESS valid page address. Not checked without `field VM_FUNCTION_CONTROL`.",
  reference: REFERENCE,
  fix: "for EPTP switching without EPT: add `enable_ept`.",
  when: REF.proc2_enable_vm_functions,
  check(view, out) {
    if (!view.has(REF.proc2_enable_vm_functions)) return;
    const vmfunc = view.field("VM_FUNCTION_CONTROL");
    if (!vmfunc) return;
    const { target } = view;
    const unsupported = vmfunc.value & ~target.msrs.IA32_VMX_VMFUNC;
    if (unsupported !== 0n) {
      out.push({
        severity: "error",
        code: "VMX-E25",
        message: `VM_FUNCTION_CONTROL = ${hex(vmfunc.value)} enables VM functions ${hex(unsupported)} that ${target.profile.name} does not support (IA32_VMX_VMFUNC = ${hex(target.msrs.IA32_VMX_VMFUNC)}) (rule E25)`,
        span: vmfunc.span,
        related: [view.relatedTo(REF.proc2_enable_vm_functions, "enable_vm_functions (proc2) is set here")],
        reference: REFERENCE,
      });
    }
    if ((vmfunc.value & 1n) === 0n) return;
    if (!view.has(REF.proc2_enable_ept)) {
      out.push({
        severity: "error",
        code: "VMX-E25",
        message: "EPTP switching (VM function 0) requires enable_ept (proc2) = 1 (rule E25)",
        span: vmfunc.span,
        related: [view.relatedTo(REF.proc2_enable_ept, "")],
        fixes: fixes(addFix(view, REF.proc2_enable_ept, true)),
        reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_eptp_switching (nested_check_vm_execution_controls)`,
      });
    }
    checkAddress(view, out, "E25", REF.proc2_enable_vm_functions, EPTP_LIST, REFERENCE);
  },
};
