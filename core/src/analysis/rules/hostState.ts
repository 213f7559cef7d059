/**
 * N10 on the host-state fields the file sets (HOST_CR4, HOST_RIP, HOST_IA32_EFER) against "host
 * address-space size"; "IA-32e mode guest ⇒ host address-space size" is a row of `pairTable.ts`.
 */
import type { Diagnostic } from "../../source";
import { type EntryRule, hex, REF, type VmcsView } from "./context";
import { NESTED, SDM_HOST } from "./references";

const REFERENCE = `${SDM_HOST}; ${NESTED} nested_vmx_check_host_state`;

export const HOST_STATE: EntryRule = {
  id: "N10 host state",
  codes: ["VMX-N10"],
  rules: ["N10"],
  title:
    "With `host_address_space_size`: HOST_CR4.PAE = 1; without: HOST_CR4.PCIDE = 0 and HOST_RIP[63:32] = 0; with `load_ia32_efer` (exit): HOST_IA32_EFER.LMA = LME = host_address_space_size (host fields only when set in the file).",
  reference: REFERENCE,
  check: checkHostFields,
};

/** N10 on host-state fields the file sets (HOST_CR4, HOST_RIP, HOST_IA32_EFER). */
function checkHostFields(view: VmcsView, out: Diagnostic[]): void {
  const hostWide = view.has(REF.exit_host_address_space_size);
  const reference = REFERENCE;
  const cr4 = view.field("HOST_CR4");
  const related = [
    view.relatedTo(REF.exit_host_address_space_size, "host_address_space_size (exit) is set here"),
  ];
  if (cr4) {
    const pae = (cr4.value >> 5n) & 1n; // CR4.PAE bit 5
    const pcide = (cr4.value >> 17n) & 1n; // CR4.PCIDE bit 17
    if (hostWide && !pae)
      out.push({
        severity: "error",
        code: "VMX-N10",
        message: "with host_address_space_size (exit) = 1, HOST_CR4.PAE (bit 5) must be 1 (rule N10)",
        span: cr4.span,
        related,
        reference,
      });
    if (!hostWide && pcide)
      out.push({
        severity: "error",
        code: "VMX-N10",
        message: "with host_address_space_size (exit) = 0, HOST_CR4.PCIDE (bit 17) must be 0 (rule N10)",
        span: cr4.span,
        related,
        reference,
      });
  }
  const rip = view.field("HOST_RIP");
  if (rip && !hostWide && rip.value >> 32n !== 0n) {
    out.push({
      severity: "error",
      code: "VMX-N10",
      message: `HOST_RIP = ${hex(rip.value)} has bits 63:32 set while host_address_space_size (exit) = 0 (rule N10)`,
      span: rip.span,
      related,
      reference,
    });
  }
  const efer = view.field("HOST_IA32_EFER");
  if (efer && view.has(REF.exit_load_ia32_efer)) {
    const lma = (efer.value >> 10n) & 1n; // EFER.LMA bit 10
    const lme = (efer.value >> 8n) & 1n; // EFER.LME bit 8
    const want = hostWide ? 1n : 0n;
    if (lma !== want || lme !== want) {
      out.push({
        severity: "error",
        code: "VMX-N10",
        message: `with load_ia32_efer (exit) = 1, HOST_IA32_EFER.LMA and .LME must both equal host_address_space_size (exit) = ${want} (rule N10)`,
        span: efer.span,
        related,
        reference,
      });
    }
  }
}
