/** E28: "use TSC scaling" needs a TSC multiplier other than 0. */
import type { Diagnostic } from "../../source";
import { addStatementEdits } from "../checkEdits";
import { type EntryRule, REF } from "./context";
import { BOCHS } from "./references";

const REFERENCE = `${BOCHS} (not confirmed in the SDM text consulted)`;

export const TSC_MULTIPLIER_NONZERO: EntryRule = {
  id: "E28",
  codes: ["VMX-E28"],
  rules: ["E28"],
  title: "`use_tsc_scaling` ⇒ TSC_MULTIPLIER ≠ 0 (unset counts as 0).",
  reference: REFERENCE,
  fix: "set TSC_MULTIPLIER to 1.0 = 0x1_0000_0000_0000 (16.48 fixed point).",
  when: REF.proc2_use_tsc_scaling,
  check(view, out) {
    if (!view.has(REF.proc2_use_tsc_scaling)) return;
    const multiplier = view.field("TSC_MULTIPLIER");
    if (multiplier && multiplier.value !== 0n) return;
    const diagnostic: Diagnostic = {
      severity: "error",
      code: "VMX-E28",
      message: multiplier
        ? "use_tsc_scaling (proc2) requires TSC_MULTIPLIER ≠ 0 (rule E28)"
        : "use_tsc_scaling (proc2) requires TSC_MULTIPLIER ≠ 0, and the file does not set it (rule E28)",
      span: multiplier?.span ?? view.spanOf(REF.proc2_use_tsc_scaling),
      reference: REFERENCE,
    };
    if (!multiplier) {
      // 1.0 in the 16.48 fixed-point format of the TSC multiplier (SDM Vol. 3C §25.6.5).
      diagnostic.fixes = [
        {
          title: "Set TSC_MULTIPLIER to 1.0 (0x1_0000_0000_0000)",
          edits: addStatementEdits(view.vmcs, "field TSC_MULTIPLIER = 0x1_0000_0000_0000", view.text),
          preferred: true,
        },
      ];
    }
    out.push(diagnostic);
  },
};
