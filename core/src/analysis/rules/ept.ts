/**
 * EPT-related pages and pointer: the PML log (E18; "enable PML ⇒ enable EPT" is a row of
 * `pairTable.ts`), the EPT pointer against IA32_VMX_EPT_VPID_CAP (E24) and the #VE information
 * page (E26).
 */
import type { Diagnostic, Span } from "../../source";
import { EPT_VPID_CAP, hasEptVpidCap } from "../../vmx/capabilities";
import {
  eptpAccessedDirty,
  eptpMemoryType,
  eptpReservedBits,
  eptpWalkLengthMinusOne,
} from "../../vmx/fieldFormats";
import { pageAddressRule } from "./addresses";
import { type EntryRule, REF, type VmcsView } from "./context";
import { BOCHS, NESTED, SDM_EXEC } from "./references";

const EPTP_REFERENCE = `${SDM_EXEC}; ${NESTED} nested_vmx_check_eptp`;

export const PML_LOG = pageAddressRule(
  "E18",
  REF.proc2_enable_pml,
  ["PML_ADDRESS"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_pml_controls`,
);

export const VE_INFORMATION = pageAddressRule(
  "E26",
  REF.proc2_ept_violation_ve,
  ["VE_INFORMATION_ADDRESS"],
  `${SDM_EXEC}; ${BOCHS}`,
);

export const EPT_POINTER: EntryRule = {
  id: "E24",
  codes: ["VMX-E24"],
  rules: ["E24"],
  title:
    "`enable_ept` ⇒ EPTP valid: memory type UC needs IA32_VMX_EPT_VPID_CAP[8], WB needs [14], others invalid; 4 levels need [6], 5 levels [7]; accessed/dirty flags need [21]; raw EPT_POINTER also reserved bits 11:7 and MAXPHYADDR. Without `eptp` or `field EPT_POINTER` the hypervisor is assumed to build a supported pointer (as KVM's `construct_eptp` does).",
  reference: EPTP_REFERENCE,
  when: REF.proc2_enable_ept,
  check: checkEptp,
};

/** E24: the EPT pointer, from `eptp …` or a raw `field EPT_POINTER = …`. */
function checkEptp(view: VmcsView, out: Diagnostic[]): void {
  if (!view.has(REF.proc2_enable_ept)) return;
  const { vmcs, target } = view;
  const msrs = target.msrs;
  const related = [view.relatedTo(REF.proc2_enable_ept, "enable_ept (proc2) is set here")];
  const report = (span: Span, message: string) =>
    out.push({
      severity: "error",
      code: "VMX-E24",
      message: `${message} (rule E24)`,
      span,
      related,
      reference: EPTP_REFERENCE,
    });
  const raw = view.field("EPT_POINTER");
  if (raw) {
    const value = raw.value;
    const memtype = eptpMemoryType(value);
    const walk = eptpWalkLengthMinusOne(value);
    if (memtype !== 0 && memtype !== 6)
      report(raw.span, `EPT_POINTER memory type ${memtype} is invalid: only UC (0) and WB (6)`);
    else if (memtype === 0 && !hasEptVpidCap(msrs, EPT_VPID_CAP.EPTP_UC))
      report(
        raw.span,
        `EPT_POINTER memory type UC is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[8] = 0)`,
      );
    else if (memtype === 6 && !hasEptVpidCap(msrs, EPT_VPID_CAP.EPTP_WB))
      report(
        raw.span,
        `EPT_POINTER memory type WB is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[14] = 0)`,
      );
    if (walk !== 3 && walk !== 4)
      report(
        raw.span,
        `EPT_POINTER page-walk length ${walk + 1} is invalid: bits 5:3 must be 3 (4 levels) or 4 (5 levels)`,
      );
    else if (walk === 3 && !hasEptVpidCap(msrs, EPT_VPID_CAP.PAGE_WALK_4))
      report(
        raw.span,
        `4-level EPT is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[6] = 0)`,
      );
    else if (walk === 4 && !hasEptVpidCap(msrs, EPT_VPID_CAP.PAGE_WALK_5))
      report(
        raw.span,
        `5-level EPT is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[7] = 0)`,
      );
    if (eptpAccessedDirty(value) && !hasEptVpidCap(msrs, EPT_VPID_CAP.ACCESSED_DIRTY))
      report(
        raw.span,
        `EPT_POINTER enables accessed/dirty flags (bit 6), which ${target.profile.name} does not support (IA32_VMX_EPT_VPID_CAP[21] = 0)`,
      );
    if (eptpReservedBits(value) !== 0n) report(raw.span, "EPT_POINTER reserved bits 11:7 must be 0");
    if (value >> BigInt(view.maxPhysAddrBits) !== 0n)
      report(
        raw.span,
        `EPT_POINTER has bits beyond MAXPHYADDR ${view.maxPhysAddrBits} of ${target.profile.name}`,
      );
    return;
  }
  const eptp = vmcs.eptp;
  if (!eptp) return; // The hypervisor builds a supported EPTP, as KVM's construct_eptp does.
  if (eptp.memtype === "UC" && !hasEptVpidCap(msrs, EPT_VPID_CAP.EPTP_UC))
    report(
      eptp.span,
      `eptp memtype UC is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[8] = 0)`,
    );
  if (eptp.memtype === "WB" && !hasEptVpidCap(msrs, EPT_VPID_CAP.EPTP_WB))
    report(
      eptp.span,
      `eptp memtype WB is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[14] = 0)`,
    );
  if (eptp.levels === 4 && !hasEptVpidCap(msrs, EPT_VPID_CAP.PAGE_WALK_4))
    report(
      eptp.span,
      `4-level EPT is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[6] = 0)`,
    );
  if (eptp.levels === 5 && !hasEptVpidCap(msrs, EPT_VPID_CAP.PAGE_WALK_5))
    report(
      eptp.span,
      `5-level EPT is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[7] = 0)`,
    );
  if (eptp.accessedDirty && !hasEptVpidCap(msrs, EPT_VPID_CAP.ACCESSED_DIRTY))
    report(
      eptp.span,
      `eptp accessed_dirty is not supported by ${target.profile.name} (IA32_VMX_EPT_VPID_CAP[21] = 0)`,
    );
}
