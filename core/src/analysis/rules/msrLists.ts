/**
 * The MSR-store/load lists of VM exit (X3) and VM entry (N8): with a count other than 0 the list
 * address is 16-byte aligned and the whole list lies within the physical-address width (32 bits
 * when IA32_VMX_BASIC[48] = 1, X5), and the count stays within the recommended maximum (X4).
 * One unit per list, each reporting X4 before the address rule, as VM entry walks them.
 */
import { maxMsrListEntries } from "../../vmx/capabilities";
import { addressProblem } from "./addresses";
import { type EntryRule, hex } from "./context";
import { NESTED, SDM_ENTRY, SDM_EXIT } from "./references";

const COUNT_REFERENCE = `SDM Vol. 3D App. A.6 (IA32_VMX_MISC); ${NESTED} nested_vmx_check_msr_switch`;

function msrListRule(countName: string, addrName: string, rule: "X3" | "N8", reference: string): EntryRule {
  const related = `${countName} is set here`;
  return {
    id: `${rule} ${addrName}`,
    codes: ["VMX-X4", `VMX-${rule}`],
    rules: [rule, "X4", "X5"],
    title: `${countName} ≠ 0 ⇒ ${addrName} (if set) 16-byte aligned and the list within MAXPHYADDR; the count at most 512 × (IA32_VMX_MISC[27:25] + 1) (X4: architecturally undefined beyond, KVM fails the entry).`,
    reference,
    check(view, out) {
      const countValue = view.field(countName);
      if (!countValue || countValue.value === 0n) return;
      const { target } = view;
      const maxEntries = maxMsrListEntries(target.msrs);
      if (countValue.value > BigInt(maxEntries)) {
        out.push({
          severity: "error",
          code: "VMX-X4",
          message: `${countName} = ${countValue.value} exceeds the ${maxEntries} entries ${target.profile.name} recommends (512 × (IA32_VMX_MISC[27:25] + 1)); beyond it the behaviour is undefined and KVM fails the entry (rule X4)`,
          span: countValue.span,
          reference: COUNT_REFERENCE,
        });
      }
      const addr = view.field(addrName);
      if (!addr) return;
      const lastByte = addr.value + countValue.value * 16n - 1n;
      const problem = addressProblem(view, addr.value, 16n, lastByte);
      if (!problem) return;
      out.push({
        severity: "error",
        code: `VMX-${rule}`,
        message: `${addrName} = ${hex(addr.value)} ${problem}: with ${countName} = ${countValue.value} the list must be 16-byte aligned and lie within the physical-address width (rule ${rule})`,
        span: addr.span,
        related: [{ span: countValue.span, message: related }],
        reference,
      });
    },
  };
}

const EXIT_REFERENCE = `${SDM_EXIT}; ${NESTED} nested_vmx_check_exit_msr_switch_controls`;

export const MSR_LIST_RULES: readonly EntryRule[] = [
  msrListRule("VM_EXIT_MSR_STORE_COUNT", "VM_EXIT_MSR_STORE_ADDR", "X3", EXIT_REFERENCE),
  msrListRule("VM_EXIT_MSR_LOAD_COUNT", "VM_EXIT_MSR_LOAD_ADDR", "X3", EXIT_REFERENCE),
  msrListRule(
    "VM_ENTRY_MSR_LOAD_COUNT",
    "VM_ENTRY_MSR_LOAD_ADDR",
    "N8",
    `${SDM_ENTRY}; ${NESTED} nested_vmx_check_entry_msr_switch_controls`,
  ),
];
