/**
 * N9: "entry to SMM" and "deactivate dual-monitor treatment" must be 0 for a VM entry executed
 * outside SMM, which is every VM entry the language describes (a hypervisor's).
 */
import { type ControlRef, type EntryRule, REF } from "./context";
import { dropFix, fixes } from "./fixes";
import { BOCHS, SDM_ENTRY } from "./references";

const REFERENCE = `${SDM_ENTRY}; ${BOCHS}`;
const SMM_ONLY: readonly ControlRef[] = [REF.entry_entry_to_smm, REF.entry_deactivate_dual_monitor_treatment];

export const SMM_ENTRY_CONTROLS: EntryRule = {
  id: "N9",
  codes: ["VMX-N9"],
  rules: ["N9"],
  title:
    "`entry_to_smm` / `deactivate_dual_monitor_treatment` must be 0 for a VM entry outside SMM, which every hypervisor the language describes performs.",
  reference: REFERENCE,
  fix: "remove the control.",
  check(view, out) {
    for (let i = 0; i < SMM_ONLY.length; i++) {
      const ref = SMM_ONLY[i]!;
      const setting = view.setting(ref);
      if (!setting) continue;
      out.push({
        severity: "error",
        code: "VMX-N9",
        message: `${ref[1]} (entry) must be 0 for a VM entry executed outside SMM, which a hypervisor's is (rule N9)`,
        span: setting.span,
        fixes: fixes(dropFix(view, ref, true)),
        reference: REFERENCE,
      });
    }
  },
};
