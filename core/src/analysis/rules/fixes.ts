/**
 * The quick fixes of the VM-entry rules and the what-if probes that rank them: add a control with
 * what it requires (`requiredClosure`), remove one with what depends on it (`dependentClosure`),
 * rewrite a raw control word as KVM's adjust_vmx_controls does (`rawWordFix`). A fix is preferred
 * only if every rule, re-run on a changed copy of the block (`newErrors`), finds no new error;
 * otherwise its title names the failure.
 */
import type { VmcsIR } from "../../model/ir";
import type { CodeFix, Diagnostic, Span } from "../../source";
import { CONTROL_WORD_FIELD, controlInWord } from "../../vmx/controls";
import type { ControlDef, ControlWord } from "../../vmx/types";
import { addControlsEdits, dropControlEdit, dropControlsEdits } from "../checkEdits";
import { type ControlRef, hex, runEntryRules, VmcsView, type WordCapability } from "./context";
import { ACTIVATION, PAIR_RULES } from "./pairTable";

/**
 * Controls to add so that `wanted` can be set legally: `wanted` plus, transitively, what the
 * pair rules make it require and the activation control of its word.
 */
export function requiredClosure(view: VmcsView, wanted: ControlRef): ControlDef[] {
  const out: ControlDef[] = [];
  const seen = new Set<string>();
  const visit = (ref: ControlRef) => {
    const key = `${ref[0]}.${ref[1]}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (view.has(ref)) return;
    const def = controlInWord(ref[0], ref[1]);
    if (!def) return;
    out.push(def);
    const activation = ACTIVATION[ref[0]];
    if (activation) visit(activation.control);
    for (const rule of PAIR_RULES) {
      if (rule.kind === "requires" && rule.control[0] === ref[0] && rule.control[1] === ref[1])
        visit(rule.other);
    }
  };
  visit(wanted);
  return out;
}

export function addFix(view: VmcsView, wanted: ControlRef, preferred: boolean): CodeFix | undefined {
  const controls = requiredClosure(view, wanted);
  if (controls.length === 0) return undefined;
  const names = controls.map((c) => `${c.name} (${c.word})`).join(", ");
  const fix: CodeFix = { title: `Add ${names}`, edits: addControlsEdits(view.vmcs, controls, view.text) };
  if (preferred) fix.preferred = true;
  return fix;
}

export function dropFix(view: VmcsView, control: ControlRef, preferred: boolean): CodeFix | undefined {
  const setting = view.setting(control);
  if (!setting) return undefined;
  const fix: CodeFix = {
    title: `Remove ${control[1]} (${control[0]})`,
    edits: [dropControlEdit(view.vmcs, setting, view.text)],
  };
  if (preferred) fix.preferred = true;
  return fix;
}

export function fixes(...candidates: (CodeFix | undefined)[]): CodeFix[] | undefined {
  const list = candidates.filter((f): f is CodeFix => f !== undefined);
  return list.length > 0 ? list : undefined;
}

/**
 * The VM-entry errors the block would have with `controls` added (and `removed` taken out, every
 * listing of them) that it does not have now: every rule above re-run on a copy of the block (so
 * "would this fix cause another failure" is answered by the same tables, not a second list of them).
 */
export function errorsAfterChanging(
  view: VmcsView,
  controls: readonly ControlDef[],
  removed: readonly ControlDef[] = [],
): Diagnostic[] {
  const { vmcs } = view;
  const written = { ...vmcs.written };
  // A removed name leaves its bit set when the word's raw `field` value sets it too.
  for (const control of removed)
    written[control.word] &= ~((1n << BigInt(control.bit)) & ~rawWordValue(vmcs, control.word));
  for (const control of controls) written[control.word] |= 1n << BigInt(control.bit);
  const settings = [
    ...vmcs.settings.filter((setting) => !removed.includes(setting.control)),
    ...controls.map((control) => ({ control, span: vmcs.nameSpan })),
  ];
  return newErrors(view, { ...vmcs, written, settings });
}

/** The value of the word's raw `field` statement, 0 without one. */
function rawWordValue(vmcs: VmcsIR, word: ControlWord): bigint {
  return vmcs.fields.get(CONTROL_WORD_FIELD[word])?.value ?? 0n;
}

/**
 * Errors a raw control word rewritten to `value` would bring that the block does not have now
 * (a cleared bit that a pair rule needs, …), leaving out the capability checks of that word,
 * which the rewrite is meant to settle.
 */
function errorsAfterRawWord(view: VmcsView, word: ControlWord, value: bigint): Diagnostic[] {
  const { vmcs } = view;
  const fieldName = CONTROL_WORD_FIELD[word];
  const raw = vmcs.fields.get(fieldName)!;
  let named = 0n;
  for (const setting of vmcs.settings)
    if (setting.control.word === word) named |= 1n << BigInt(setting.control.bit);
  const written = { ...vmcs.written, [word]: named | value };
  const fields = new Map(vmcs.fields);
  fields.set(fieldName, { ...raw, value });
  return newErrors(
    view,
    { ...vmcs, written, fields },
    (d) => d.span === raw.span && d.code.startsWith("VMX-CAP"),
  );
}

/** Errors of the changed copy of the block that the block does not have (by code and message). */
export function newErrors(
  view: VmcsView,
  changed: VmcsIR,
  ignore?: (d: Diagnostic) => boolean,
): Diagnostic[] {
  const errorsOf = (v: VmcsView): Diagnostic[] => {
    const found: Diagnostic[] = [];
    runEntryRules(v.rules, v, found);
    return found.filter((d) => d.severity === "error" && !ignore?.(d));
  };
  const key = (d: Diagnostic) => `${d.code}\u0000${d.message}`;
  const before = new Set(
    errorsOf(new VmcsView(view.vmcs, view.target, undefined, view.capabilities, view.rules, true)).map(key),
  );
  const after = new VmcsView(changed, view.target, undefined, view.capabilities, view.rules, true);
  return errorsOf(after).filter((d) => !before.has(key(d)));
}

/**
 * A raw control word rewritten as KVM's adjust_vmx_controls (arch/x86/kvm/vmx/vmx.c) does:
 * disallowed bits cleared, then required bits set. Preferred unless the capability MSR (by an
 * override) both requires and forbids one of the bits involved: that bit then ends 1 and still
 * fails VMX-CAP1, which the title says.
 */
export function adjustWordFix(
  view: VmcsView,
  word: ControlWord,
  raw: { value: bigint; span: Span },
  cap: WordCapability,
): CodeFix {
  return rawWordFix(view, word, raw, cap, {
    action: "Set the required and clear the disallowed bits",
    value: (raw.value & cap.mayBeOne) | cap.mustBeOne,
    conflicting: cap.mustBeOne & ~cap.mayBeOne,
    thenFails: "VMX-CAP1",
    mayPrefer: true,
  });
}

/**
 * A raw control word rewritten to `value`. `conflicting` are bits the capability MSR (by an
 * override) both requires and forbids, which then still fail `thenFails`: the title says so and
 * the fix is not preferred. Otherwise preferred if `mayPrefer` and no other rule then fails.
 */
export function rawWordFix(
  view: VmcsView,
  word: ControlWord,
  raw: { value: bigint; span: Span },
  cap: WordCapability,
  rewrite: { action: string; value: bigint; conflicting: bigint; thenFails: string; mayPrefer: boolean },
): CodeFix {
  const fieldName = CONTROL_WORD_FIELD[word];
  const { action, value, conflicting } = rewrite;
  const title = `${action}: ${fieldName} = ${hex(value)}`;
  const fix: CodeFix = {
    title:
      conflicting === 0n
        ? title
        : `${title} (bits ${hex(conflicting)} then fail ${rewrite.thenFails}: ${cap.msrName} requires and forbids them)`,
    edits: [{ span: raw.span, newText: `field ${fieldName} = ${hex(value)}` }],
  };
  if (conflicting === 0n && rewrite.mayPrefer) preferUnlessNewErrors(view, word, value, fix);
  return fix;
}

/**
 * Marks a raw-word rewrite preferred when the block, with the word rewritten to `value`, has no
 * VM-entry error it does not have now (its bits are in force, so clearing one a pair rule needs
 * would fail that rule instead); otherwise the title names the failure, as for the control fixes.
 */
function preferUnlessNewErrors(view: VmcsView, word: ControlWord, value: bigint, fix: CodeFix): void {
  if (view.probe) return;
  const after = errorsAfterRawWord(view, word, value);
  if (after.length === 0) {
    fix.preferred = true;
    return;
  }
  const codes = [...new Set(after.map((d) => d.code))].join(", ");
  fix.title += ` — not preferred: VM entry would then fail ${codes} (${after[0]!.message})`;
}

/**
 * Fix for a must-be-one control: the control with what it requires (its word's activation control
 * and the pair rules' prerequisites) in one fix, appended to each word's line or on a new line.
 * Preferred only if the block then has no VM-entry error it did not have before; otherwise the
 * title names the failures that would follow.
 */
export function mustBeOneFix(view: VmcsView, wanted: ControlRef): CodeFix | undefined {
  const controls = requiredClosure(view, wanted);
  if (controls.length === 0) return undefined;
  const [first, ...rest] = controls.map((c) => `${c.name} (${c.word})`);
  let title = rest.length === 0 ? `Add ${first}` : `Add ${first} with what it requires: ${rest.join(", ")}`;
  const after = errorsAfterChanging(view, controls);
  if (after.length > 0) {
    const codes = [...new Set(after.map((d) => d.code))].join(", ");
    title += ` — not preferred: VM entry would then fail ${codes} (${after[0]!.message})`;
  }
  const fix: CodeFix = { title, edits: addControlsEdits(view.vmcs, controls, view.text) };
  if (after.length === 0) fix.preferred = true;
  return fix;
}

/**
 * Controls to remove so that `control` can go without breaking a rule: `control` plus,
 * transitively, the listed controls that need it — those a pair rule makes require it, and every
 * control of the word it activates (which the CPU would otherwise ignore, TL301/TL302).
 */
function dependentClosure(view: VmcsView, control: ControlDef): ControlDef[] {
  const out: ControlDef[] = [];
  const visit = (def: ControlDef) => {
    if (out.includes(def)) return;
    out.push(def);
    for (const word of ["proc2", "proc3"] as const) {
      const activation = ACTIVATION[word]!.control;
      if (activation[0] !== def.word || activation[1] !== def.name) continue;
      for (const setting of view.vmcs.settings) if (setting.control.word === word) visit(setting.control);
    }
    for (const rule of PAIR_RULES) {
      if (rule.kind !== "requires" || rule.other[0] !== def.word || rule.other[1] !== def.name) continue;
      const dependent = view.setting(rule.control);
      if (dependent && view.has(rule.control)) visit(dependent.control);
    }
  };
  visit(control);
  return out;
}

/**
 * Fix for a control the target cannot set (VMX-CAP1): remove every listing of it together with the
 * listed controls that depend on it (`dependentClosure`), so no pair rule fails instead. Preferred
 * only if re-running every check on the block without them finds no new error (a field rule can
 * still fail: e.g. without virtual_interrupt_delivery a TPR threshold above 15 fails E9); otherwise
 * the title names the failure.
 */
export function unsupportedControlFix(view: VmcsView, control: ControlDef): CodeFix | undefined {
  const controls = dependentClosure(view, control);
  const settings = view.vmcs.settings.filter((setting) => controls.includes(setting.control));
  if (settings.length === 0) return undefined;
  const [first, ...rest] = controls.map((c) => `${c.name} (${c.word})`);
  let title =
    rest.length === 0 ? `Remove ${first}` : `Remove ${first} with what depends on it: ${rest.join(", ")}`;
  const after = errorsAfterChanging(view, [], controls);
  if (after.length > 0) {
    const codes = [...new Set(after.map((d) => d.code))].join(", ");
    title += ` — not preferred: VM entry would then fail ${codes} (${after[0]!.message})`;
  }
  const fix: CodeFix = { title, edits: dropControlsEdits(view.vmcs, settings, view.text) };
  if (after.length === 0) fix.preferred = true;
  return fix;
}
