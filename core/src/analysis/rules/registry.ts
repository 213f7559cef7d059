/**
 * The VM-entry rules in the order they run, which is the order their diagnostics appear in (the
 * golden test holds it): the activation lints, the capability MSRs word by word, the control
 * pairs, the field rules, the injected event. `checkProgram` runs this list on every vmcs block;
 * `docs/diagnostics.md` is generated from it and from `numbering.ts` (`npm run docs:diagnostics`).
 *
 * To add a rule: write the unit in the file of its family (or a new one), put it here where VM
 * entry would check it, give it a failing and a passing case in test/rules/, and regenerate the
 * docs.
 */
import { controlInWord } from "../../vmx/controls";
import { ACTIVATION_RULES } from "./activation";
import {
  APIC_ACCESS_PAGE,
  POSTED_INTERRUPT_DESCRIPTOR,
  POSTED_INTERRUPT_VECTOR,
  TPR_THRESHOLD_HIGH_BITS,
  TPR_THRESHOLD_VTPR,
  VIRTUAL_APIC_PAGE,
} from "./apic";
import { IO_BITMAPS, MSR_BITMAP, VMCS_SHADOWING_BITMAPS } from "./bitmaps";
import { CAPABILITY_RULES } from "./capability";
import type { EntryRule } from "./context";
import { CR3_TARGET_COUNT } from "./cr3Targets";
import { SMM_ENTRY_CONTROLS } from "./entryControls";
import { ENTRY_EVENT_RULES } from "./entryEvent";
import { EPT_POINTER, PML_LOG, VE_INFORMATION } from "./ept";
import { GUEST_STATE_AREA_RULES } from "./guestStateArea";
import { HOST_STATE } from "./hostState";
import { HOST_STATE_AREA_RULES } from "./hostStateArea";
import { MSR_LIST_RULES } from "./msrLists";
import { L1_ADDRESS_SPACE_SIZE } from "./nested";
import { PAIR_RULE_UNITS } from "./pairs";
import { TSC_MULTIPLIER_NONZERO } from "./tscScaling";
import { VM_FUNCTIONS } from "./vmfunc";
import { VPID_NONZERO } from "./vpid";

/**
 * Every unit rebuilt with the same properties in the same order: one hidden class, so the
 * runner's `rules[i].check` is a monomorphic load (units written as different literals and
 * factories would make it megamorphic, and it runs for every vmcs on every keystroke).
 */
function sameShape(rule: EntryRule): EntryRule {
  const gate = rule.when && controlInWord(rule.when[0], rule.when[1]);
  if (rule.when && !gate)
    throw new Error(`rule ${rule.id}: unknown control ${rule.when[1]} (${rule.when[0]})`);
  return {
    id: rule.id,
    codes: rule.codes,
    rules: rule.rules,
    title: rule.title,
    reference: rule.reference,
    fix: rule.fix,
    check: rule.check,
    when: rule.when,
    gateWord: gate ? gate.word : undefined,
    gateBit: gate ? gate.bit : -1,
  };
}

export const ENTRY_RULES: readonly EntryRule[] = [
  ...ACTIVATION_RULES,
  ...CAPABILITY_RULES,
  ...PAIR_RULE_UNITS,
  CR3_TARGET_COUNT,
  IO_BITMAPS,
  MSR_BITMAP,
  VIRTUAL_APIC_PAGE,
  TPR_THRESHOLD_HIGH_BITS,
  TPR_THRESHOLD_VTPR,
  APIC_ACCESS_PAGE,
  POSTED_INTERRUPT_VECTOR,
  POSTED_INTERRUPT_DESCRIPTOR,
  PML_LOG,
  VMCS_SHADOWING_BITMAPS,
  VPID_NONZERO,
  EPT_POINTER,
  VM_FUNCTIONS,
  VE_INFORMATION,
  TSC_MULTIPLIER_NONZERO,
  ...MSR_LIST_RULES,
  SMM_ENTRY_CONTROLS,
  HOST_STATE,
  L1_ADDRESS_SPACE_SIZE,
  ...ENTRY_EVENT_RULES,
  // The host-state area (SDM §27.2.2–27.2.4), then the guest-state area (§27.3.1): the order in
  // which VM entry checks them, after the control fields.
  ...HOST_STATE_AREA_RULES,
  ...GUEST_STATE_AREA_RULES,
].map(sameShape);
