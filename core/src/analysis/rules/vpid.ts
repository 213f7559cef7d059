/** E22: "enable VPID" needs a VPID other than 0000H (the host's). */

import type { Diagnostic } from "../../source";
import { addStatementEdits } from "../checkEdits";
import { type EntryRule, REF } from "./context";
import { dropFix } from "./fixes";
import { NESTED, SDM_EXEC } from "./references";

const REFERENCE = `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls`;

export const VPID_NONZERO: EntryRule = {
  id: "E22",
  codes: ["VMX-E22"],
  rules: ["E22"],
  title: "`enable_vpid` ⇒ VIRTUAL_PROCESSOR_ID ≠ 0 (unset counts as 0, as after VMCLEAR).",
  reference: REFERENCE,
  fix: "add `field VIRTUAL_PROCESSOR_ID = 1` (preferred), or remove `enable_vpid`.",
  when: REF.proc2_enable_vpid,
  check(view, out) {
    if (!view.has(REF.proc2_enable_vpid)) return;
    const vpid = view.field("VIRTUAL_PROCESSOR_ID");
    if (vpid && vpid.value !== 0n) return;
    const setting = view.setting(REF.proc2_enable_vpid);
    const diagnostic: Diagnostic = {
      severity: "error",
      code: "VMX-E22",
      message: vpid
        ? "enable_vpid (proc2) requires VIRTUAL_PROCESSOR_ID ≠ 0 (VPID 0 is the host's) (rule E22)"
        : "enable_vpid (proc2) requires VIRTUAL_PROCESSOR_ID ≠ 0, and the file does not set it (it is 0 after VMCLEAR) (rule E22)",
      span: vpid?.span ?? view.spanOf(REF.proc2_enable_vpid),
      reference: REFERENCE,
    };
    if (vpid && setting)
      diagnostic.related = [{ span: setting.span, message: "enable_vpid (proc2) is set here" }];
    if (!vpid) {
      diagnostic.fixes = [
        {
          title: "Set field VIRTUAL_PROCESSOR_ID = 1",
          edits: addStatementEdits(view.vmcs, "field VIRTUAL_PROCESSOR_ID = 1", view.text),
          preferred: true,
        },
      ];
      const drop = dropFix(view, REF.proc2_enable_vpid, false);
      if (drop) diagnostic.fixes.push(drop);
    }
    out.push(diagnostic);
  },
};
