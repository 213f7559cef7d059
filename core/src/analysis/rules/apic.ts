/**
 * TPR shadow, virtual APIC and posted interrupts: the virtual-APIC page (E8), the TPR threshold
 * (E9, E10), the APIC-access page (E12) and the posted-interrupt vector and descriptor (E15c–e).
 * The control pairs of APIC virtualization (E11, E13–E15a/b) are rows of `pairTable.ts`.
 */

import { MAX_VECTOR, tprThresholdValue, vtprPriorityClass } from "../../vmx/apic";
import { checkAddress, pageAddressRule } from "./addresses";
import { type EntryRule, hex, REF } from "./context";
import { BOCHS, NESTED, SDM_EXEC } from "./references";

const TPR_REFERENCE = `${SDM_EXEC}; ${BOCHS}; kvm-unit-tests test_tpr_threshold`;
const APICV_REFERENCE = `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`;

export const VIRTUAL_APIC_PAGE: EntryRule = pageAddressRule(
  "E8",
  REF.proc_use_tpr_shadow,
  ["VIRTUAL_APIC_PAGE_ADDR"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_tpr_shadow_controls`,
);

export const TPR_THRESHOLD_HIGH_BITS: EntryRule = {
  id: "E9",
  codes: ["VMX-E9"],
  rules: ["E9"],
  title:
    "`use_tpr_shadow` = 1 and `virtual_interrupt_delivery` = 0 ⇒ TPR threshold (`tpr_threshold` or TPR_THRESHOLD) bits 31:4 = 0.",
  reference: TPR_REFERENCE,
  when: REF.proc_use_tpr_shadow,
  check(view, out) {
    if (!view.has(REF.proc_use_tpr_shadow) || view.has(REF.proc2_virtual_interrupt_delivery)) return;
    const { vmcs } = view;
    const threshold = view.field("TPR_THRESHOLD");
    const tprValue = threshold?.value ?? (vmcs.tprThreshold ? BigInt(vmcs.tprThreshold.value) : undefined);
    const tprSpan = threshold?.span ?? vmcs.tprThreshold?.span;
    if (tprValue === undefined || !tprSpan || tprValue >> 4n === 0n) return;
    out.push({
      severity: "error",
      code: "VMX-E9",
      message: `TPR threshold ${hex(tprValue)} sets bits 31:4: with use_tpr_shadow (proc) = 1 and virtual_interrupt_delivery (proc2) = 0 only bits 3:0 may be set (rule E9)`,
      span: tprSpan,
      related: [view.relatedTo(REF.proc_use_tpr_shadow, "use_tpr_shadow (proc) is set here")],
      reference: TPR_REFERENCE,
    });
  },
};

export const TPR_THRESHOLD_VTPR: EntryRule = {
  id: "E10",
  codes: ["VMX-E10"],
  rules: ["E10"],
  title:
    "`use_tpr_shadow` = 1, `virtual_interrupt_delivery` = 0 and `virtualize_apic_accesses` = 0 ⇒ TPR threshold bits 3:0 ≤ VTPR bits 7:4; checked when the block gives `vtpr` (the virtual-APIC page's byte 80H).",
  reference: TPR_REFERENCE,
  when: REF.proc_use_tpr_shadow,
  check(view, out) {
    // With neither virtual-interrupt delivery nor APIC-access virtualization, TPR threshold bits
    // 3:0 must not exceed VTPR bits 7:4 (the virtual-APIC page's byte 80H, `vtpr`).
    const { vmcs } = view;
    const vtpr = vmcs.vtpr;
    if (
      vtpr === undefined ||
      !view.has(REF.proc_use_tpr_shadow) ||
      view.has(REF.proc2_virtual_interrupt_delivery) ||
      view.has(REF.proc2_virtualize_apic_accesses)
    )
      return;
    const threshold = view.field("TPR_THRESHOLD");
    const tprValue = threshold?.value ?? (vmcs.tprThreshold ? BigInt(vmcs.tprThreshold.value) : undefined);
    const tprSpan = threshold?.span ?? vmcs.tprThreshold?.span;
    const thresholdLow = tprThresholdValue(tprValue ?? 0n);
    if (thresholdLow <= vtprPriorityClass(vtpr.value)) return;
    out.push({
      severity: "error",
      code: "VMX-E10",
      message:
        `TPR threshold bits 3:0 (${thresholdLow}) exceed VTPR bits 7:4 (${vtprPriorityClass(vtpr.value)}, VTPR ${hex(vtpr.value)}): ` +
        "with use_tpr_shadow (proc) = 1 and neither virtual_interrupt_delivery nor virtualize_apic_accesses (proc2), VM entry fails (rule E10)",
      span: tprSpan ?? vtpr.span,
      related: [
        { span: vtpr.span, message: `VTPR ${hex(vtpr.value)} at VM entry` },
        view.relatedTo(REF.proc_use_tpr_shadow, "use_tpr_shadow (proc) is set here"),
      ],
      reference: TPR_REFERENCE,
    });
  },
};

export const APIC_ACCESS_PAGE: EntryRule = pageAddressRule(
  "E12",
  REF.proc2_virtualize_apic_accesses,
  ["APIC_ACCESS_ADDR"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_apic_access_controls`,
);

export const POSTED_INTERRUPT_VECTOR: EntryRule = {
  id: "E15 POSTED_INTR_NV",
  codes: ["VMX-E15"],
  rules: ["E15"],
  title:
    "`process_posted_interrupts` ⇒ notification vector (`posted_interrupt_vector` / POSTED_INTR_NV) ≤ 255 (bits 15:8 = 0).",
  reference: APICV_REFERENCE,
  when: REF.pin_process_posted_interrupts,
  check(view, out) {
    if (!view.has(REF.pin_process_posted_interrupts)) return;
    const { vmcs } = view;
    const nv = view.field("POSTED_INTR_NV");
    const nvValue =
      nv?.value ?? (vmcs.postedInterruptVector ? BigInt(vmcs.postedInterruptVector.vector) : undefined);
    const nvSpan = nv?.span ?? vmcs.postedInterruptVector?.span;
    if (nvValue === undefined || !nvSpan || nvValue <= BigInt(MAX_VECTOR)) return;
    out.push({
      severity: "error",
      code: "VMX-E15",
      message: `posted-interrupt notification vector ${hex(nvValue)} is above 255: process_posted_interrupts (pin) requires bits 15:8 = 0 (rule E15)`,
      span: nvSpan,
      related: [
        view.relatedTo(REF.pin_process_posted_interrupts, "process_posted_interrupts (pin) is set here"),
      ],
      reference: APICV_REFERENCE,
    });
  },
};

const DESCRIPTOR_CHECK = {
  field: "POSTED_INTR_DESC_ADDR",
  align: 64n,
  what: "64-byte aligned posted-interrupt descriptor address",
} as const;

export const POSTED_INTERRUPT_DESCRIPTOR: EntryRule = {
  id: "E15 POSTED_INTR_DESC_ADDR",
  codes: ["VMX-E15"],
  rules: ["E15"],
  title: "`process_posted_interrupts` ⇒ POSTED_INTR_DESC_ADDR 64-byte aligned and within MAXPHYADDR.",
  reference: APICV_REFERENCE,
  when: REF.pin_process_posted_interrupts,
  check(view, out) {
    if (!view.has(REF.pin_process_posted_interrupts)) return;
    checkAddress(view, out, "E15", REF.pin_process_posted_interrupts, DESCRIPTOR_CHECK, APICV_REFERENCE);
  },
};
