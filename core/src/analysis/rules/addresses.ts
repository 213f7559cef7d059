/**
 * "Valid page address" and its kin for the address fields a control makes VM entry check (I/O and
 * MSR bitmaps, virtual-APIC page, APIC-access page, PML log, posted-interrupt descriptor,
 * VMREAD/VMWRITE bitmaps, #VE information, EPTP list, MSR lists). An address field the file does
 * not set is assumed valid: the language does not model the hypervisor's page allocation.
 */
import type { Diagnostic } from "../../source";
import { type ControlRef, type EntryRule, hex, type VmcsView } from "./context";

/**
 * KVM page_address_valid: aligned, and no bit at or above MAXPHYADDR. Also IA32_VMX_BASIC[48]
 * (32-bit physical addresses only) limits every address to 32 bits (rule X5).
 */
export function addressProblem(
  view: VmcsView,
  value: bigint,
  align: bigint,
  lastByte?: bigint,
): string | undefined {
  if (value % align !== 0n) return `is not ${align === 4096n ? "4 KiB" : `${align}-byte`} aligned`;
  let limitBits = BigInt(view.maxPhysAddrBits);
  let limitWhy = `MAXPHYADDR ${view.maxPhysAddrBits} of ${view.target.profile.name}`;
  if ((view.target.msrs.IA32_VMX_BASIC >> 48n) & 1n) {
    limitBits = 32n;
    limitWhy = "32 bits (IA32_VMX_BASIC[48] = 1)";
  }
  if (value >> limitBits !== 0n) return `is beyond ${limitWhy}`;
  if (lastByte !== undefined && lastByte >> limitBits !== 0n)
    return `ends (${hex(lastByte)}) beyond ${limitWhy}`;
  return undefined;
}

export interface AddressCheck {
  field: string;
  /** Required alignment in bytes. */
  align: bigint;
  what: string;
}

/** Reports `check.field` (when the file sets it) if it is no valid address; `because` is set. */
export function checkAddress(
  view: VmcsView,
  out: Diagnostic[],
  rule: string,
  because: ControlRef,
  check: AddressCheck,
  reference: string,
): void {
  const field = view.field(check.field);
  if (!field) return;
  const problem = addressProblem(view, field.value, check.align);
  if (!problem) return;
  out.push({
    severity: "error",
    code: `VMX-${rule}`,
    message: `${check.field} = ${hex(field.value)} ${problem}: ${because[1]} (${because[0]}) requires a valid ${check.what} (rule ${rule})`,
    span: field.span,
    related: [view.relatedTo(because, `${because[1]} (${because[0]}) is set here`)],
    reference,
  });
}

/** A unit "control `because` = 1 ⇒ each of `fields` is a valid page address". */
export function pageAddressRule(
  rule: string,
  because: ControlRef,
  fields: readonly string[],
  reference: string,
): EntryRule {
  const checks: readonly AddressCheck[] = fields.map((field) => ({
    field,
    align: 4096n,
    what: "page address",
  }));
  return {
    id: `${rule} ${fields.join("/")}`,
    codes: [`VMX-${rule}`],
    rules: [rule],
    title: `\`${because[1]}\` ⇒ ${fields.join(" / ")} valid page address${fields.length > 1 ? "es" : ""} (when set in the file).`,
    reference,
    when: because,
    check(view, out) {
      if (!view.has(because)) return;
      for (let i = 0; i < checks.length; i++) checkAddress(view, out, rule, because, checks[i]!, reference);
    },
  };
}
