/**
 * VMX-CAP1 / VMX-CAP0: the allowed-1 and allowed-0 settings of the target's capability MSRs, one
 * unit per control word (rules E1–E4, X1, N1). An inactive secondary/tertiary word is not checked
 * by VM entry (E3); TL301/TL302 cover it.
 */
import type { Diagnostic, RelatedInfo } from "../../source";
import { CONTROL_WORD_FIELD, controlAtBit } from "../../vmx/controls";
import type { ControlWord } from "../../vmx/types";
import { bitOfHalves, type EntryRule, hex, type VmcsView, type WordCapability } from "./context";
import { adjustWordFix, fixes, mustBeOneFix, rawWordFix, unsupportedControlFix } from "./fixes";
import { hiddenByL0 } from "./nested";
import { ACTIVATION } from "./pairTable";
import { NESTED } from "./references";

const CAP_RULE: Record<ControlWord, string> = {
  pin: "E1",
  proc: "E2",
  proc2: "E3",
  proc3: "E4",
  exit: "X1",
  entry: "N1",
};

function targetLabel(view: VmcsView, msrName: string): string {
  const target = view.target;
  const overridden =
    target.msrs[msrName as keyof typeof target.msrs] !==
    target.profile.msrs[msrName as keyof typeof target.profile.msrs];
  return overridden
    ? `target ${target.profile.name} (with the file's ${msrName} override)`
    : `target ${target.profile.name}`;
}

/**
 * For a vmcs12: which of `bits` the host CPU allows but KVM does not offer L1, said in the message
 * ("" otherwise), so the diagnostic tells a missing host feature from one L0 hides.
 */
function l0Note(view: VmcsView, word: ControlWord, bits: bigint): string {
  const hidden: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if (((bits >> BigInt(bit)) & 1n) === 0n) continue;
    if (hiddenByL0(view.target, word, bit) === true)
      hidden.push(controlAtBit(word, bit)?.name ?? `bit ${bit}`);
  }
  return hidden.length === 0
    ? ""
    : `; the host CPU has ${hidden.join(", ")}, but KVM does not offer ${hidden.length === 1 ? "it" : "them"} to L1 (nested_vmx_setup_ctls_msrs)`;
}

/** The target line as related information (built only when a diagnostic is reported). */
function targetRelated(view: VmcsView): RelatedInfo[] {
  const target = view.target;
  return target.profileSpan ? [{ span: target.profileSpan, message: `target ${target.profile.name}` }] : [];
}

const CAPABILITY_TITLE =
  "A control set to 1 that the target cannot set (VMX-CAP1: its allowed-1 bit — bit 32+X of the (TRUE_)PINBASED / PROCBASED / PROCBASED_CTLS2 / EXIT / ENTRY MSR, bit X of PROCBASED_CTLS3 — is 0), or one the target requires left 0 (VMX-CAP0: its allowed-0 bit is 1), word by word. Secondary controls are allowed only when PROCBASED allowed-1 bit 31 is 1, tertiary ones when bit 17 is. A raw control word (`field PIN_BASED_VM_EXEC_CONTROL = …` etc.) is checked whole and can clear default1 bits (e.g. CR3-load exiting on a CPU without TRUE controls); the diagnostic sits on the field statement. Control statements can leave a must-be-one bit 0 only outside the default1 class (default1 bits are implied), i.e. through a capability-MSR override: that VMX-CAP0 sits on the vmcs name, related to the target and the word's line, one per named control and one per word for bits without a name. The message names the target and says when the file's `msr` override is in force. An inactive secondary/tertiary word is not checked (E3).";

const CAPABILITY_FIX =
  "(a) A raw control word is rewritten as KVM's `adjust_vmx_controls` does: disallowed bits cleared (`VALUE & allowed-1`) for VMX-CAP1, required bits set (`VALUE | allowed-0`) for VMX-CAP0, and, when the word has both faults, one fix doing both that each diagnostic prefers (the single-step fixes stay offered). A rewrite is not preferred when the file's MSR override both requires and forbids one of its bits (the title says so) or when it would fail another rule. (b) A control on a `pin`/`proc`/… line that the target cannot set is removed (every listing of it: the token with its blanks and comma, or the whole statement when no name is left) with the listed controls that depend on it: those a pair rule makes require it (e.g. `unrestricted_guest` for `enable_ept`, E19), transitively, and the controls of the word an activation control activates. (c) A named must-be-one control is added with what it requires (its word's activation control, pair-rule prerequisites) to its word's statement or a new line; bits without a language name get no fix. (b) and (c) are preferred only if re-running every check on the changed block finds no new error; otherwise the title names the failure (e.g. removing `virtual_interrupt_delivery` with a TPR threshold above 15 fails E9; adding `enable_vpid` without `field VIRTUAL_PROCESSOR_ID` fails E22).";

const CAPABILITY_REFERENCE = `SDM Vol. 3D App. A.3–A.5 (allowed settings, default1 class, IA32_VMX_BASIC[55] TRUE controls); ${NESTED} vmx_control_verify; Linux arch/x86/kvm/vmx/vmx.c adjust_vmx_controls`;

function capabilityRule(word: ControlWord): EntryRule {
  const rule = CAP_RULE[word];
  const activation = ACTIVATION[word];
  const allowedReference = `SDM Vol. 3D App. A.3–A.5 (allowed settings), rule ${rule}; ${NESTED} vmx_control_verify`;
  return {
    id: `CAP ${word}`,
    codes: ["VMX-CAP1", "VMX-CAP0"],
    rules: [rule],
    title: CAPABILITY_TITLE,
    reference: CAPABILITY_REFERENCE,
    fix: CAPABILITY_FIX,
    check(view, out) {
      // An inactive secondary/tertiary word is not checked by VM entry (E3); TL301/302 cover it.
      if (activation && !view.written(activation.control)) return;
      const { vmcs } = view;
      const cap = view.capabilityOf(word);
      let reported: Set<string> | undefined;
      for (const setting of vmcs.settings) {
        const control = setting.control;
        if (control.word !== word) continue;
        if (bitOfHalves(cap.mayBeOneLow, cap.mayBeOneHigh, control.bit)) continue;
        reported ??= new Set();
        if (reported.has(control.name)) continue;
        reported.add(control.name);
        const msrBit = word === "proc3" ? control.bit : control.bit + 32;
        out.push({
          severity: "error",
          code: "VMX-CAP1",
          message:
            `${control.name} (${word}) cannot be 1 on ${targetLabel(view, cap.msrName)}: ` +
            `${cap.msrName} bit ${msrBit} (allowed-1 of control bit ${control.bit}) is 0, so VM entry fails` +
            l0Note(view, word, 1n << BigInt(control.bit)),
          span: setting.span,
          related: targetRelated(view),
          fixes: view.probe ? undefined : fixes(unsupportedControlFix(view, control)),
          reference: allowedReference,
        });
      }
      // A raw control word set with `field NAME = VALUE` can clear default1 bits: check it whole.
      const raw = view.field(CONTROL_WORD_FIELD[word]);
      if (!raw) {
        checkMustBeOne(view, word, cap, rule, out);
        return;
      }
      const fieldName = CONTROL_WORD_FIELD[word];
      const mustBeOneMissing = cap.mustBeOne & ~raw.value;
      const notAllowed = raw.value & ~cap.mayBeOne;
      // Both wrong at once: one edit doing all of KVM's adjust_vmx_controls (`ctl &= vmx_msr_high;
      // ctl |= vmx_msr_low`) is each diagnostic's preferred fix, since the two single-step fixes
      // rewrite the same text and could not both be applied.
      const adjustFix =
        mustBeOneMissing !== 0n && notAllowed !== 0n ? adjustWordFix(view, word, raw, cap) : undefined;
      if (mustBeOneMissing !== 0n) {
        // The fix sets the missing bits, as KVM's adjust_vmx_controls does (`ctl |= vmx_msr_low`).
        // It adds only must-be-one bits, so it cannot fail another rule unless the MSR itself is
        // inconsistent (a bit required to be 1 that allowed-1 forbids, possible only by override).
        const fix = rawWordFix(view, word, raw, cap, {
          action: "Set the required bits",
          value: raw.value | mustBeOneMissing,
          conflicting: mustBeOneMissing & ~cap.mayBeOne,
          thenFails: "VMX-CAP1",
          mayPrefer: adjustFix === undefined,
        });
        out.push({
          severity: "error",
          code: "VMX-CAP0",
          message:
            `${fieldName} = ${hex(raw.value)} clears bits ${hex(mustBeOneMissing)} that ` +
            `${targetLabel(view, cap.msrName)} requires to be 1 (allowed-0 settings of ${cap.msrName})`,
          span: raw.span,
          related: targetRelated(view),
          fixes: adjustFix ? [adjustFix, fix] : [fix],
          reference: `SDM Vol. 3D App. A.3–A.5 (default1 class, TRUE controls), rule ${rule}; ${NESTED} vmx_control_verify`,
        });
      }
      if (notAllowed !== 0n) {
        // The fix clears the disallowed bits, as KVM's adjust_vmx_controls does (`ctl &= vmx_msr_high`).
        // Clearing can fail VMX-CAP0 for a bit the MSR both forbids and requires (possible only by
        // override), or a pair rule that needed a cleared bit (preferUnlessNewErrors).
        const fix = rawWordFix(view, word, raw, cap, {
          action: "Clear the disallowed bits",
          value: raw.value & cap.mayBeOne,
          conflicting: notAllowed & cap.mustBeOne,
          thenFails: "VMX-CAP0",
          mayPrefer: adjustFix === undefined,
        });
        out.push({
          severity: "error",
          code: "VMX-CAP1",
          message:
            `${CONTROL_WORD_FIELD[word]} = ${hex(raw.value)} sets bits ${hex(notAllowed)} that ` +
            `${targetLabel(view, cap.msrName)} does not allow to be 1 (allowed-1 settings of ${cap.msrName})` +
            l0Note(view, word, notAllowed),
          span: raw.span,
          related: targetRelated(view),
          fixes: adjustFix ? [adjustFix, fix] : [fix],
          reference: allowedReference,
        });
      }
    },
  };
}

/**
 * VMX-CAP0 for the control statements: a bit the target requires to be 1 that the block leaves 0.
 * Default1 bits are implied (`effectiveControls`), so this is a must-be-one bit outside the default1
 * class, which only a capability-MSR override (or a future profile) can require.
 * A named control gets one diagnostic with a fix that adds it (and what it requires) to its word's
 * line; bits the language has no name for get one diagnostic without a fix.
 */
function checkMustBeOne(
  view: VmcsView,
  word: ControlWord,
  cap: WordCapability,
  rule: string,
  out: Diagnostic[],
): void {
  // Every profile's must-be-one bits are default1 bits: no bigint work on the common path.
  if (cap.mustBeOneBeyondDefault1 === 0n) return;
  const missing = cap.mustBeOneBeyondDefault1 & ~view.effective[word];
  if (missing === 0n) return;
  const { vmcs } = view;
  const where = targetLabel(view, cap.msrName);
  const reference = `SDM Vol. 3D App. A.3–A.5 (allowed-0 settings), rule ${rule}; ${NESTED} vmx_control_verify`;
  const line = vmcs.wordLines[word];
  const related = line
    ? [...targetRelated(view), { span: line, message: `the ${word} controls of vmcs ${vmcs.name}` }]
    : targetRelated(view);
  let unnamed = 0n;
  for (let bit = 0; bit < 64; bit++) {
    if (((missing >> BigInt(bit)) & 1n) === 0n) continue;
    const control = controlAtBit(word, bit);
    if (control === undefined) {
      unnamed |= 1n << BigInt(bit);
      continue;
    }
    const diagnostic: Diagnostic = {
      severity: "error",
      code: "VMX-CAP0",
      message:
        `${control.name} (${word}) must be 1 on ${where}: ${cap.msrName} bit ${bit} (allowed-0 of ` +
        `control bit ${bit}) is 1, and vmcs ${vmcs.name} does not set it, so VM entry fails`,
      span: vmcs.nameSpan,
      related,
      reference,
    };
    if (!view.probe) diagnostic.fixes = fixes(mustBeOneFix(view, [word, control.name]));
    out.push(diagnostic);
  }
  if (unnamed !== 0n) {
    out.push({
      severity: "error",
      code: "VMX-CAP0",
      message:
        `vmcs ${vmcs.name} leaves ${word} bits ${hex(unnamed)} 0, which ${where} requires to be 1 ` +
        `(allowed-0 settings of ${cap.msrName}); no quick fix: the language has no control name for ` +
        `them and implies only default1 bits, so only ${CONTROL_WORD_FIELD[word]} set in full with \`field\` can hold them`,
      span: vmcs.nameSpan,
      related,
      reference,
    });
  }
}

/** In the order VM entry checks the words (SDM §27.2.1.1–27.2.1.3). */
export const CAPABILITY_RULES: readonly EntryRule[] = (
  ["pin", "proc", "proc2", "proc3", "exit", "entry"] as const
).map(capabilityRule);
