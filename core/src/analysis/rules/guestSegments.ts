/**
 * G13: VM entry's checks on the guest segment registers (SDM Vol. 3C §27.3.1.2, §26.3.1.2 in
 * pre-2023 editions) on the selector, base, limit and access-rights fields the file sets: each
 * rule reads only fields the file sets (an unset one is assumed valid, and valid with the rest),
 * so a rule that relates two fields (the granularity bit and the limit, CS.DPL and SS.DPL, a DPL
 * and its selector's RPL) runs when the file sets both. KVM leaves these checks to the processor's
 * checks of vmcs02 (and, without unrestricted guest, to its own `vmx_guest_state_valid`, which
 * makes `prepare_vmcs02` fail the entry with `emulation_required`); kvm-unit-tests x86/vmx_tests.c
 * tests them (`test_guest_segment_sel_fields`, `test_guest_segment_base_addr_fields`).
 */

import type { Diagnostic } from "../../source";
import {
  AR,
  AR_DPL_BITS,
  AR_DPL_SHIFT,
  AR_L,
  AR_RESERVED,
  AR_TYPE_ACCESSED,
  AR_TYPE_CODE,
  AR_TYPE_READ_WRITE,
  AR_UNUSABLE,
  bitOf,
  CR0,
  CS_TYPE_UNRESTRICTED,
  CS_TYPES,
  CS_TYPES_CONFORMING,
  CS_TYPES_NONCONFORMING,
  DPL_CHECKED_TYPES_MAX,
  LDTR_TYPE,
  LIMIT_HIGH_12,
  LIMIT_LOW_12,
  LOW_32,
  RFLAGS,
  SELECTOR_RPL,
  SELECTOR_TI,
  SS_TYPES,
  TR_TYPE_BUSY_TSS,
  TR_TYPE_BUSY_TSS16,
  V86_ACCESS_RIGHTS,
  V86_LIMIT,
} from "../../vmx/stateChecks";
import type { EntryRule, VmcsView } from "./context";
import { hex, reportState as report } from "./context";
import {
  ENTRY_IA32E_MODE_GUEST,
  enteringV86,
  KUT,
  PROC2_UNRESTRICTED_GUEST,
  SDM_GUEST_SEG,
} from "./guestCommon";

const G13_REFERENCE = `${SDM_GUEST_SEG}; ${KUT} test_guest_segment_sel_fields (the processor's checks: KVM leaves them to vmcs02)`;

export const GUEST_SELECTORS: EntryRule = {
  id: "G13",
  codes: ["VMX-G13"],
  rules: ["G13"],
  title:
    "Guest selectors: GUEST_TR_SELECTOR TI (bit 2) = 0; GUEST_LDTR_SELECTOR TI = 0 when GUEST_LDTR_AR_BYTES says LDTR is usable; without `unrestricted_guest` and outside virtual-8086 mode, GUEST_SS_SELECTOR RPL = GUEST_CS_SELECTOR RPL.",
  reference: G13_REFERENCE,
  check(view, out) {
    const tr = view.field("GUEST_TR_SELECTOR");
    if (tr && bitOf(tr.value, SELECTOR_TI))
      report(
        out,
        "G13",
        tr.span,
        `GUEST_TR_SELECTOR = ${hex(tr.value)}: TI (bit 2) must be 0`,
        G13_REFERENCE,
      );
    const ldtr = view.field("GUEST_LDTR_SELECTOR");
    const ldtrAr = view.field("GUEST_LDTR_AR_BYTES");
    if (ldtr && ldtrAr && !bitOf(ldtrAr.value, AR_UNUSABLE) && bitOf(ldtr.value, SELECTOR_TI))
      report(
        out,
        "G13",
        ldtr.span,
        `GUEST_LDTR_SELECTOR = ${hex(ldtr.value)}: TI (bit 2) must be 0 while LDTR is usable (GUEST_LDTR_AR_BYTES bit 16 = 0)`,
        G13_REFERENCE,
      );
    const cs = view.field("GUEST_CS_SELECTOR");
    const ss = view.field("GUEST_SS_SELECTOR");
    const rflags = view.field("GUEST_RFLAGS");
    const v86 = rflags !== undefined && bitOf(rflags.value, RFLAGS.VM);
    if (
      cs &&
      ss &&
      !v86 &&
      !view.has(PROC2_UNRESTRICTED_GUEST) &&
      (cs.value & SELECTOR_RPL) !== (ss.value & SELECTOR_RPL)
    )
      report(
        out,
        "G13",
        ss.span,
        `GUEST_SS_SELECTOR = ${hex(ss.value)}: its RPL must equal GUEST_CS_SELECTOR's (${cs.value & SELECTOR_RPL}) without unrestricted_guest`,
        G13_REFERENCE,
        view,
        PROC2_UNRESTRICTED_GUEST,
        false,
      );
  },
};

const AR_REFERENCE = `${SDM_GUEST_SEG} (access-rights, limit and base checks); ${KUT} test_guest_segment_base_addr_fields; the processor's checks of vmcs02 (KVM's vmx_guest_state_valid without unrestricted guest)`;

type Segment = "CS" | "SS" | "DS" | "ES" | "FS" | "GS";
const SEGMENTS: readonly Segment[] = ["CS", "SS", "DS", "ES", "FS", "GS"];
const BASE_HIGH_ZERO: readonly Segment[] = ["CS", "SS", "DS", "ES"];
/** Field names as constants: the rule runs on every vmcs, and a template literal per lookup builds a string to hash. */
const AR_FIELD: Record<Segment | "TR" | "LDTR", string> = {
  CS: "GUEST_CS_AR_BYTES",
  SS: "GUEST_SS_AR_BYTES",
  DS: "GUEST_DS_AR_BYTES",
  ES: "GUEST_ES_AR_BYTES",
  FS: "GUEST_FS_AR_BYTES",
  GS: "GUEST_GS_AR_BYTES",
  TR: "GUEST_TR_AR_BYTES",
  LDTR: "GUEST_LDTR_AR_BYTES",
};
const BASE_FIELD: Record<Segment, string> = {
  CS: "GUEST_CS_BASE",
  SS: "GUEST_SS_BASE",
  DS: "GUEST_DS_BASE",
  ES: "GUEST_ES_BASE",
  FS: "GUEST_FS_BASE",
  GS: "GUEST_GS_BASE",
};

const typeOf = (ar: bigint): number => Number(ar & AR.TYPE_BITS);
const dplOf = (ar: bigint): bigint => (ar >> BigInt(AR_DPL_SHIFT)) & AR_DPL_BITS;

/** The granularity rule of a usable register whose AR and limit fields the file both sets. */
function granularityProblem(view: VmcsView, reg: string, ar: bigint): string | undefined {
  const limit = view.field(`GUEST_${reg}_LIMIT`);
  if (!limit) return undefined;
  const g = bitOf(ar, AR.G);
  if ((limit.value & LIMIT_LOW_12) !== LIMIT_LOW_12 && g)
    return `G (bit 15) must be 0: GUEST_${reg}_LIMIT = ${hex(limit.value)} has a 0 in bits 11:0`;
  if ((limit.value & LIMIT_HIGH_12) !== 0n && !g)
    return `G (bit 15) must be 1: GUEST_${reg}_LIMIT = ${hex(limit.value)} sets bits 31:20`;
  return undefined;
}

/** The common checks of a code/data register (CS, or a usable one): S, DPL aside, P, reserved, G. */
function commonProblem(view: VmcsView, reg: string, ar: bigint): string | undefined {
  if (!bitOf(ar, AR.S)) return "S (bit 4) must be 1";
  if (!bitOf(ar, AR.P)) return "P (bit 7) must be 1";
  if ((ar & AR_RESERVED) !== 0n) return `reserved bits ${hex(ar & AR_RESERVED)} (11:8, 31:17) must be 0`;
  return granularityProblem(view, reg, ar);
}

/** The first rule a code or data segment's access rights break, outside virtual-8086 mode. */
function segmentProblem(view: VmcsView, seg: Segment, ar: bigint): string | undefined {
  const type = typeOf(ar);
  const unrestricted = view.has(PROC2_UNRESTRICTED_GUEST);
  const ssAr = view.field("GUEST_SS_AR_BYTES");
  if (seg === "CS") {
    const allowed = unrestricted ? [CS_TYPE_UNRESTRICTED, ...CS_TYPES] : CS_TYPES;
    if (!allowed.includes(type))
      return `CS type ${type} must be ${allowed.join(", ")}${unrestricted ? "" : " (3 only with unrestricted_guest)"}`;
    const common = commonProblem(view, seg, ar);
    if (common) return common;
    if (type === CS_TYPE_UNRESTRICTED && dplOf(ar) !== 0n) return "CS of type 3 needs DPL (bits 6:5) 0";
    if (ssAr && !bitOf(ssAr.value, AR_UNUSABLE)) {
      if (CS_TYPES_NONCONFORMING.includes(type) && dplOf(ar) !== dplOf(ssAr.value))
        return `a non-conforming CS needs DPL = SS.DPL (${dplOf(ssAr.value)})`;
      if (CS_TYPES_CONFORMING.includes(type) && dplOf(ar) > dplOf(ssAr.value))
        return `a conforming CS needs DPL ≤ SS.DPL (${dplOf(ssAr.value)})`;
    }
    if (view.has(ENTRY_IA32E_MODE_GUEST) && bitOf(ar, AR_L) && bitOf(ar, AR.DB))
      return "D/B (bit 14) must be 0 with L (bit 13) = 1 in IA-32e mode";
    return undefined;
  }
  if (seg === "SS") {
    if (!SS_TYPES.includes(type)) return `SS type ${type} must be 3 or 7 (read/write data)`;
    const common = commonProblem(view, seg, ar);
    if (common) return common;
    const selector = view.field("GUEST_SS_SELECTOR");
    if (!unrestricted && selector && dplOf(ar) !== (selector.value & SELECTOR_RPL))
      return `SS.DPL must equal GUEST_SS_SELECTOR's RPL (${selector.value & SELECTOR_RPL}) without unrestricted_guest`;
    const cr0 = view.field("GUEST_CR0");
    if (dplOf(ar) !== 0n && cr0 && !bitOf(cr0.value, CR0.PE))
      return "SS.DPL must be 0 while GUEST_CR0.PE = 0";
    const cs = view.field("GUEST_CS_AR_BYTES");
    if (dplOf(ar) !== 0n && cs && typeOf(cs.value) === CS_TYPE_UNRESTRICTED)
      return "SS.DPL must be 0 when CS is of type 3";
    return undefined;
  }
  if (!bitOf(ar, AR_TYPE_ACCESSED)) return `type ${type}: the accessed bit (bit 0) must be 1`;
  if (bitOf(ar, AR_TYPE_CODE) && !bitOf(ar, AR_TYPE_READ_WRITE))
    return `type ${type}: a code segment must be readable (bit 1)`;
  const common = commonProblem(view, seg, ar);
  if (common) return common;
  const selector = view.field(`GUEST_${seg}_SELECTOR`);
  if (
    !unrestricted &&
    type <= DPL_CHECKED_TYPES_MAX &&
    selector &&
    dplOf(ar) < (selector.value & SELECTOR_RPL)
  )
    return `DPL ${dplOf(ar)} is below GUEST_${seg}_SELECTOR's RPL (${selector.value & SELECTOR_RPL}) without unrestricted_guest`;
  return undefined;
}

/** TR's rules (they apply in every mode) and LDTR's when it is usable. */
function systemProblem(view: VmcsView, reg: "TR" | "LDTR", ar: bigint): string | undefined {
  const type = typeOf(ar);
  if (reg === "TR") {
    const ia32e = view.has(ENTRY_IA32E_MODE_GUEST);
    const allowed = ia32e ? [TR_TYPE_BUSY_TSS] : [TR_TYPE_BUSY_TSS16, TR_TYPE_BUSY_TSS];
    if (!allowed.includes(type))
      return `TR type ${type} must be ${allowed.join(" or ")} (a busy TSS${ia32e ? " in IA-32e mode" : ""})`;
    if (bitOf(ar, AR_UNUSABLE)) return "TR must be usable (bit 16 = 0)";
  } else if (type !== LDTR_TYPE) return `a usable LDTR's type ${type} must be 2 (LDT)`;
  if (bitOf(ar, AR.S)) return "S (bit 4) must be 0 for a system segment";
  if (!bitOf(ar, AR.P)) return "P (bit 7) must be 1";
  if ((ar & AR_RESERVED) !== 0n) return `reserved bits ${hex(ar & AR_RESERVED)} (11:8, 31:17) must be 0`;
  return granularityProblem(view, reg, ar);
}

export const GUEST_SEGMENT_REGISTERS: EntryRule = {
  id: "G13 access rights",
  codes: ["VMX-G13"],
  rules: ["G13"],
  title:
    "Guest segment registers, on the AR, limit, base and selector fields the file sets: in virtual-8086 mode (the file's GUEST_RFLAGS.VM = 1) CS–GS access rights F3H, limits FFFFH, bases selector × 16; otherwise CS type 9/11/13/15 (3 with `unrestricted_guest`), usable SS type 3/7, usable DS–GS accessed and code readable, S = 1, P = 1, reserved bits 0, G consistent with the limit, CS.DPL against SS.DPL, SS.DPL = its RPL (no unrestricted guest) and 0 in real mode, DS–GS DPL ≥ RPL, CS.D/B = 0 with L in IA-32e mode, CS/SS/DS/ES bases below 4 GiB; TR a busy TSS (type 11, 3 outside IA-32e mode), usable, S = 0, P = 1; a usable LDTR type 2, S = 0, P = 1.",
  reference: AR_REFERENCE,
  check(view, out) {
    const v86 = enteringV86(view, RFLAGS.VM);
    for (const seg of SEGMENTS) {
      const ar = view.field(AR_FIELD[seg]);
      if (v86) {
        reportV86(view, seg, out);
        continue;
      }
      const usable = ar === undefined || !bitOf(ar.value, AR_UNUSABLE);
      if (ar && (seg === "CS" || usable)) {
        const problem = segmentProblem(view, seg, ar.value);
        if (problem)
          report(out, "G13", ar.span, `GUEST_${seg}_AR_BYTES = ${hex(ar.value)}: ${problem}`, AR_REFERENCE);
      }
      const base = view.field(BASE_FIELD[seg]);
      // CS's base always; SS, DS and ES's when the file says the register is usable.
      if (base && BASE_HIGH_ZERO.includes(seg) && (seg === "CS" || (ar && usable)) && base.value > LOW_32)
        report(
          out,
          "G13",
          base.span,
          `GUEST_${seg}_BASE = ${hex(base.value)}: bits 63:32 must be 0`,
          AR_REFERENCE,
        );
    }
    for (const reg of ["TR", "LDTR"] as const) {
      const ar = view.field(AR_FIELD[reg]);
      // TR's rules apply in every mode; LDTR's when it is usable.
      if (!ar || (reg === "LDTR" && bitOf(ar.value, AR_UNUSABLE))) continue;
      const problem = systemProblem(view, reg, ar.value);
      if (problem)
        report(out, "G13", ar.span, `GUEST_${reg}_AR_BYTES = ${hex(ar.value)}: ${problem}`, AR_REFERENCE);
    }
  },
};

/**
 * Virtual-8086 mode's values for one of CS–GS (the file's GUEST_RFLAGS.VM = 1): access rights
 * F3H, limit FFFFH, base = selector × 16; each field the file sets to another value is reported.
 */
function reportV86(view: VmcsView, seg: Segment, out: Diagnostic[]): void {
  const selector = view.field(`GUEST_${seg}_SELECTOR`);
  const required: { field: string; value: bigint | undefined; says: string }[] = [
    {
      field: "AR_BYTES",
      value: V86_ACCESS_RIGHTS,
      says: `${hex(V86_ACCESS_RIGHTS)} in virtual-8086 mode (GUEST_RFLAGS.VM = 1)`,
    },
    {
      field: "LIMIT",
      value: V86_LIMIT,
      says: `${hex(V86_LIMIT)} in virtual-8086 mode (GUEST_RFLAGS.VM = 1)`,
    },
    {
      field: "BASE",
      value: selector && selector.value << 4n,
      says: `GUEST_${seg}_SELECTOR × 16 (${selector ? hex(selector.value << 4n) : ""}) in virtual-8086 mode`,
    },
  ];
  for (const { field, value, says } of required) {
    const set = view.field(`GUEST_${seg}_${field}`);
    if (set && value !== undefined && set.value !== value)
      report(out, "G13", set.span, `GUEST_${seg}_${field} = ${hex(set.value)} must be ${says}`, AR_REFERENCE);
  }
}

export const GUEST_SEGMENT_RULES: readonly EntryRule[] = [GUEST_SELECTORS, GUEST_SEGMENT_REGISTERS];
