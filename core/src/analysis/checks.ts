/**
 * VM-entry checks on the control fields of every `vmcs` block (SDM Vol. 3C §26.2.1, as KVM's
 * nested VMX enforces them in arch/x86/kvm/vmx/nested.c), capability checks against the target's
 * VMX capability MSRs, and the activation lints for secondary/tertiary controls.
 *
 * Rule numbers (E1–E28, X1–X7, N1–N10) are those of the project reference vmx-facts.md §4; the
 * diagnostic code is `VMX-<rule>`. docs/diagnostics.md lists every code with its source.
 *
 * Address fields (I/O bitmaps, MSR bitmap, virtual-APIC page, …): the language does not model
 * the hypervisor's page allocation, so an address field the file does not set is assumed to hold
 * a valid address (as any working hypervisor's would). When the file sets it with
 * `field NAME = VALUE`, the value is checked: alignment and MAXPHYADDR of the target profile.
 * Non-address fields the file does not set are 0, as after VMCLEAR (so `enable_vpid` without
 * `field VIRTUAL_PROCESSOR_ID = …` fails E22, and `use_tsc_scaling` without TSC_MULTIPLIER E28).
 */
import type { ControlSetting, Program, TargetIR, VmcsIR } from "../model/ir";
import type { CodeFix, Diagnostic, RelatedInfo, Span } from "../source";
import {
  type ControlWordCapability,
  controlWordCapability,
  cr3TargetLimit,
  EPT_VPID_CAP,
  hasEptVpidCap,
  maxMsrListEntries,
} from "../vmx/capabilities";
import {
  CONTROL_WORD_FIELD,
  CONTROL_WORDS,
  controlAtBit,
  controlInWord,
  DEFAULT1_BITS,
} from "../vmx/controls";
import type { ControlDef, ControlWord } from "../vmx/types";
import { addControlsEdits, dropControlEdit, dropControlsEdits } from "./checkEdits";
import { effectiveControls } from "./effective";

export interface CheckOptions {
  /** The file text: lets quick fixes indent new lines like their neighbours. */
  text?: string;
}

type ControlRef = readonly [word: ControlWord, name: string];

const SDM_EXEC = "SDM Vol. 3C §27.2.1.1, VM-execution control fields (§26.2.1.1 in pre-2023 editions)";
const SDM_EXIT = "SDM Vol. 3C §27.2.1.2, VM-exit control fields (§26.2.1.2 in pre-2023 editions)";
const SDM_ENTRY = "SDM Vol. 3C §27.2.1.3, VM-entry control fields (§26.2.1.3 in pre-2023 editions)";
const SDM_HOST =
  "SDM Vol. 3C §27.2.2–27.2.4, host state and address-space size (§26.2.2–26.2.4 in pre-2023 editions)";
const NESTED = "Linux arch/x86/kvm/vmx/nested.c";

/** "If control is 1 then requires must be 1" (kind requires) or "… must be 0" (kind excludes). */
interface PairRule {
  rule: string;
  kind: "requires" | "excludes";
  control: ControlRef;
  other: ControlRef;
  reference: string;
  /** Short reason appended to the message. */
  why?: string;
}

/** The control-pair rules of vmx-facts §4, each stated as the SDM states it. */
export const PAIR_RULES: readonly PairRule[] = [
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "virtualize_x2apic_mode"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "apic_register_virtualization"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E11",
    kind: "requires",
    control: ["proc2", "virtual_interrupt_delivery"],
    other: ["proc", "use_tpr_shadow"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "the TPR shadow is needed by all APIC virtualization features",
  },
  {
    rule: "E13",
    kind: "excludes",
    control: ["proc2", "virtualize_x2apic_mode"],
    other: ["proc2", "virtualize_apic_accesses"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    why: "x2APIC virtualization and xAPIC (APIC-access page) virtualization are exclusive",
  },
  {
    rule: "E14",
    kind: "requires",
    control: ["proc2", "virtual_interrupt_delivery"],
    other: ["pin", "external_interrupt_exiting"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
  },
  {
    rule: "E15",
    kind: "requires",
    control: ["pin", "process_posted_interrupts"],
    other: ["proc2", "virtual_interrupt_delivery"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
  },
  {
    rule: "E15",
    kind: "requires",
    control: ["pin", "process_posted_interrupts"],
    other: ["exit", "acknowledge_interrupt_on_exit"],
    reference: `${SDM_EXEC} and ${SDM_EXIT} (X6); ${NESTED} nested_vmx_check_apicv_controls`,
  },
  {
    rule: "E16",
    kind: "requires",
    control: ["pin", "virtual_nmis"],
    other: ["pin", "nmi_exiting"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_nmi_controls`,
  },
  {
    rule: "E17",
    kind: "requires",
    control: ["proc", "nmi_window_exiting"],
    other: ["pin", "virtual_nmis"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_nmi_controls`,
  },
  {
    rule: "E18",
    kind: "requires",
    control: ["proc2", "enable_pml"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_pml_controls`,
  },
  {
    rule: "E19",
    kind: "requires",
    control: ["proc2", "unrestricted_guest"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_unrestricted_guest_controls`,
  },
  {
    rule: "E20",
    kind: "requires",
    control: ["proc2", "mode_based_execute_control"],
    other: ["proc2", "enable_ept"],
    reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_mode_based_ept_exec_controls`,
  },
  {
    rule: "E23",
    kind: "requires",
    control: ["exit", "save_vmx_preemption_timer_value"],
    other: ["pin", "activate_vmx_preemption_timer"],
    reference: `${SDM_EXIT} (X2); ${NESTED} nested_check_vm_execution_controls`,
  },
  {
    rule: "E27",
    kind: "requires",
    control: ["proc2", "sub_page_write_permissions"],
    other: ["proc2", "enable_ept"],
    reference: "Bochs bochs/cpu/vmx.cc VMenterLoadCheckVmControls (not in KVM's nested checks)",
  },
  {
    rule: "N10",
    kind: "requires",
    control: ["entry", "ia32e_mode_guest"],
    other: ["exit", "host_address_space_size"],
    reference: `${SDM_HOST}; ${NESTED} nested_vmx_check_host_state`,
    why: "a 64-bit guest needs a 64-bit host to exit to",
  },
];

/** Control words with an activation control in the primary word (SDM §26.2.1.1 / E3, E4). */
const ACTIVATION: Partial<Record<ControlWord, { control: ControlRef; code: string; rule: string }>> = {
  proc2: { control: ["proc", "activate_secondary_controls"], code: "TL301", rule: "E3" },
  proc3: { control: ["proc", "activate_tertiary_controls"], code: "TL302", rule: "E4" },
};

const CAP_RULE: Record<ControlWord, string> = {
  pin: "E1",
  proc: "E2",
  proc2: "E3",
  proc3: "E4",
  exit: "X1",
  entry: "N1",
};

function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/**
 * Whether bit `bit` (0–63) of a 64-bit control word is set, with the word held as two 32-bit
 * halves in numbers: the rules ask thousands of these per file, and a bigint `&` allocates.
 */
function bitOfHalves(low: number, high: number, bit: number): boolean {
  return bit < 32 ? ((low >>> bit) & 1) === 1 : ((high >>> (bit - 32)) & 1) === 1;
}

const LOW32 = 0xffff_ffffn;

/** A control word's low and high 32 bits as numbers. */
function halvesOf(words: Record<ControlWord, bigint>): Record<ControlWord, readonly [number, number]> {
  const out = {} as Record<ControlWord, readonly [number, number]>;
  for (const word of CONTROL_WORDS) {
    const value = words[word];
    // Every word but the tertiary one fits in 32 bits: no bigint arithmetic (it allocates).
    out[word] =
      value >= 0n && value <= LOW32
        ? [Number(value), 0]
        : [Number(value & LOW32), Number((value >> 32n) & LOW32)];
  }
  return out;
}

/** Per-vmcs view shared by the rules: written and effective words, settings by control. */
class VmcsView {
  readonly effective: Record<ControlWord, bigint>;
  private readonly effectiveHalves: Record<ControlWord, readonly [number, number]>;
  private readonly writtenHalves: Record<ControlWord, readonly [number, number]>;

  constructor(
    readonly vmcs: VmcsIR,
    readonly target: TargetIR,
    readonly text: string | undefined,
    /** Shared by the views of one checkProgram call. */
    readonly capabilities: Map<ControlWord, WordCapability>,
    /** A what-if view (see `errorsAfterChanging`): diagnostics only, no fixes that probe again. */
    readonly probe = false,
  ) {
    this.effective = effectiveControls(vmcs, target);
    this.effectiveHalves = halvesOf(this.effective);
    this.writtenHalves = halvesOf(vmcs.written);
  }

  /** The control is 1 in the word the CPU uses (default1 bits included; inactive words are 0). */
  has(ref: ControlRef): boolean {
    // Indexing, not destructuring: a destructured parameter goes through the array iterator.
    const word = ref[0];
    const control = controlInWord(word, ref[1]);
    if (control === undefined) return false;
    const halves = this.effectiveHalves[word];
    return bitOfHalves(halves[0], halves[1], control.bit);
  }

  written(ref: ControlRef): boolean {
    // Indexing, not destructuring: a destructured parameter goes through the array iterator.
    const word = ref[0];
    const control = controlInWord(word, ref[1]);
    if (control === undefined) return false;
    const halves = this.writtenHalves[word];
    return bitOfHalves(halves[0], halves[1], control.bit);
  }

  setting(ref: ControlRef): ControlSetting | undefined {
    const control = controlInWord(ref[0], ref[1]);
    if (control === undefined) return undefined;
    // A linear scan: a vmcs lists a few dozen controls, and few rules ask.
    const settings = this.vmcs.settings;
    for (let i = 0; i < settings.length; i++) if (settings[i]!.control === control) return settings[i];
    return undefined;
  }

  field(name: string): { value: bigint; span: Span } | undefined {
    return this.vmcs.fields.get(name);
  }

  /** The `field` statement of the raw control word that sets `control`, if one does. */
  rawWordSetting(ref: ControlRef): Span | undefined {
    const raw = this.vmcs.fields.get(CONTROL_WORD_FIELD[ref[0]]);
    if (raw === undefined) return undefined;
    const control = controlInWord(ref[0], ref[1]);
    if (control === undefined || ((raw.value >> BigInt(control.bit)) & 1n) === 0n) return undefined;
    return raw.span;
  }

  /** The span a diagnostic about `control` sits on: its token, its raw word, else the vmcs name. */
  spanOf(control: ControlRef): Span {
    return this.setting(control)?.span ?? this.rawWordSetting(control) ?? this.vmcs.nameSpan;
  }

  relatedTo(control: ControlRef, present: string): RelatedInfo {
    const setting = this.setting(control);
    if (setting) return { span: setting.span, message: present };
    const raw = this.rawWordSetting(control);
    if (raw)
      return {
        span: raw,
        message: `${present} (bit ${controlInWord(control[0], control[1])!.bit} of the raw word)`,
      };
    return {
      span: this.vmcs.nameSpan,
      message: `${control[1]} (${control[0]}) is not set in vmcs ${this.vmcs.name}`,
    };
  }

  get maxPhysAddrBits(): number {
    return this.target.profile.maxPhysAddrBits;
  }
}

/**
 * Controls to add so that `wanted` can be set legally: `wanted` plus, transitively, what the
 * pair rules make it require and the activation control of its word.
 */
function requiredClosure(view: VmcsView, wanted: ControlRef): ControlDef[] {
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

function addFix(view: VmcsView, wanted: ControlRef, preferred: boolean): CodeFix | undefined {
  const controls = requiredClosure(view, wanted);
  if (controls.length === 0) return undefined;
  const names = controls.map((c) => `${c.name} (${c.word})`).join(", ");
  const fix: CodeFix = { title: `Add ${names}`, edits: addControlsEdits(view.vmcs, controls, view.text) };
  if (preferred) fix.preferred = true;
  return fix;
}

function dropFix(view: VmcsView, control: ControlRef, preferred: boolean): CodeFix | undefined {
  const setting = view.setting(control);
  if (!setting) return undefined;
  const fix: CodeFix = {
    title: `Remove ${control[1]} (${control[0]})`,
    edits: [dropControlEdit(view.vmcs, setting, view.text)],
  };
  if (preferred) fix.preferred = true;
  return fix;
}

function fixes(...candidates: (CodeFix | undefined)[]): CodeFix[] | undefined {
  const list = candidates.filter((f): f is CodeFix => f !== undefined);
  return list.length > 0 ? list : undefined;
}

/** Checks every vmcs block of the program. Never throws on a well-formed Program. */
export function checkProgram(program: Program, options: CheckOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const capabilities = new Map<ControlWord, WordCapability>();
  for (const vmcs of program.vmcs.values()) {
    checkVmcs(new VmcsView(vmcs, program.target, options.text, capabilities), out);
  }
  return out;
}

function checkVmcs(view: VmcsView, out: Diagnostic[]): void {
  checkActivation(view, out);
  checkCapabilities(view, out);
  checkPairs(view, out);
  checkFields(view, out);
  checkEntryEvent(view, out);
}

/**
 * The VM-entry errors the block would have with `controls` added (and `removed` taken out, every
 * listing of them) that it does not have now: every rule above re-run on a copy of the block (so
 * "would this fix cause another failure" is answered by the same tables, not a second list of them).
 */
function errorsAfterChanging(
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
function newErrors(view: VmcsView, changed: VmcsIR, ignore?: (d: Diagnostic) => boolean): Diagnostic[] {
  const errorsOf = (v: VmcsView): Diagnostic[] => {
    const found: Diagnostic[] = [];
    checkVmcs(v, found);
    return found.filter((d) => d.severity === "error" && !ignore?.(d));
  };
  const key = (d: Diagnostic) => `${d.code}\u0000${d.message}`;
  const before = new Set(
    errorsOf(new VmcsView(view.vmcs, view.target, undefined, view.capabilities, true)).map(key),
  );
  const after = new VmcsView(changed, view.target, undefined, view.capabilities, true);
  return errorsOf(after).filter((d) => !before.has(key(d)));
}

/**
 * The ControlRefs the rules below test, built once (an array literal in a rule would be
 * allocated on every call, for every vmcs).
 */
const REF = {
  proc_use_io_bitmaps: ["proc", "use_io_bitmaps"],
  proc_use_msr_bitmaps: ["proc", "use_msr_bitmaps"],
  proc_use_tpr_shadow: ["proc", "use_tpr_shadow"],
  proc2_virtual_interrupt_delivery: ["proc2", "virtual_interrupt_delivery"],
  proc2_virtualize_apic_accesses: ["proc2", "virtualize_apic_accesses"],
  pin_process_posted_interrupts: ["pin", "process_posted_interrupts"],
  proc2_enable_pml: ["proc2", "enable_pml"],
  proc2_vmcs_shadowing: ["proc2", "vmcs_shadowing"],
  proc2_enable_vpid: ["proc2", "enable_vpid"],
  proc2_enable_ept: ["proc2", "enable_ept"],
  proc2_enable_vm_functions: ["proc2", "enable_vm_functions"],
  proc2_ept_violation_ve: ["proc2", "ept_violation_ve"],
  proc2_use_tsc_scaling: ["proc2", "use_tsc_scaling"],
  exit_host_address_space_size: ["exit", "host_address_space_size"],
  exit_load_ia32_efer: ["exit", "load_ia32_efer"],
  proc2_unrestricted_guest: ["proc2", "unrestricted_guest"],
} as const satisfies Record<string, ControlRef>;

/**
 * TL301/TL302: secondary or tertiary controls listed, or a raw word for them written, while their
 * word is not activated.
 */
function checkActivation(view: VmcsView, out: Diagnostic[]): void {
  for (const word of ["proc2", "proc3"] as const) {
    const activation = ACTIVATION[word]!;
    if (view.written(activation.control)) continue;
    const settings = view.vmcs.settings.filter((s) => s.control.word === word);
    const raw = view.field(CONTROL_WORD_FIELD[word]);
    const rawIgnored = raw !== undefined && raw.value !== 0n;
    if (settings.length === 0 && !rawIgnored) continue;
    const [actWord, actName] = activation.control;
    const fix = addFix(view, activation.control, true);
    if (rawIgnored) {
      out.push({
        severity: "warning",
        code: activation.code,
        message:
          `${CONTROL_WORD_FIELD[word]} = ${hex(raw.value)} is ignored: ${actName} (${actWord}) is 0, so ` +
          `the CPU acts as if every ${word === "proc2" ? "secondary" : "tertiary"} control were 0`,
        span: raw.span,
        related: [view.relatedTo(activation.control, "")],
        fixes: fix ? [fix] : undefined,
        reference: `SDM Vol. 3C §26.2.1.1 (rule ${activation.rule}); ${NESTED} nested_cpu_has2`,
      });
    }
    for (const setting of settings) {
      out.push({
        severity: "warning",
        code: activation.code,
        message:
          `${setting.control.name} (${word}) is ignored: ${actName} (${actWord}) is 0, so the CPU ` +
          `acts as if every ${word === "proc2" ? "secondary" : "tertiary"} control were 0`,
        span: setting.span,
        related: [view.relatedTo(activation.control, "")],
        fixes: fix ? [fix] : undefined,
        reference: `SDM Vol. 3C §26.2.1.1 (rule ${activation.rule}); ${NESTED} nested_cpu_has2`,
      });
    }
  }
}

function targetLabel(target: TargetIR, msrName: string): string {
  const overridden =
    target.msrs[msrName as keyof typeof target.msrs] !==
    target.profile.msrs[msrName as keyof typeof target.profile.msrs];
  return overridden
    ? `target ${target.profile.name} (with the file's ${msrName} override)`
    : `target ${target.profile.name}`;
}

interface WordCapability extends ControlWordCapability {
  mayBeOneLow: number;
  mayBeOneHigh: number;
  /** Must-be-one bits outside the default1 class (which `effectiveControls` does not imply). */
  mustBeOneBeyondDefault1: bigint;
}

/** A control word's capability, computed once per checkProgram call (every vmcs shares the target). */
function capabilityOf(view: VmcsView, word: ControlWord): WordCapability {
  const target = view.target;
  const perWord = view.capabilities;
  let cap = perWord.get(word);
  if (cap === undefined) {
    const raw = controlWordCapability(target.msrs, word);
    const default1 = word in DEFAULT1_BITS ? DEFAULT1_BITS[word as keyof typeof DEFAULT1_BITS] : 0;
    cap = {
      ...raw,
      mayBeOneLow: Number(raw.mayBeOne & LOW32),
      mayBeOneHigh: Number((raw.mayBeOne >> 32n) & LOW32),
      mustBeOneBeyondDefault1: raw.mustBeOne & ~BigInt(default1 >>> 0),
    };
    perWord.set(word, cap);
  }
  return cap;
}

/** VMX-CAP1 / VMX-CAP0: allowed-1 and allowed-0 settings of the capability MSRs (E1–E4, X1, N1). */
function checkCapabilities(view: VmcsView, out: Diagnostic[]): void {
  const { vmcs, target } = view;
  const targetRelated: RelatedInfo[] = target.profileSpan
    ? [{ span: target.profileSpan, message: `target ${target.profile.name}` }]
    : [];
  const words: ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];
  for (const word of words) {
    const activation = ACTIVATION[word];
    // An inactive secondary/tertiary word is not checked by VM entry (E3); TL301/302 cover it.
    if (activation && !view.written(activation.control)) continue;
    const cap = capabilityOf(view, word);
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
          `${control.name} (${word}) cannot be 1 on ${targetLabel(target, cap.msrName)}: ` +
          `${cap.msrName} bit ${msrBit} (allowed-1 of control bit ${control.bit}) is 0, so VM entry fails`,
        span: setting.span,
        related: targetRelated,
        fixes: view.probe ? undefined : fixes(unsupportedControlFix(view, control)),
        reference: `SDM Vol. 3D App. A.3–A.5 (allowed settings), rule ${CAP_RULE[word]}; ${NESTED} vmx_control_verify`,
      });
    }
    // A raw control word set with `field NAME = VALUE` can clear default1 bits: check it whole.
    const raw = view.field(CONTROL_WORD_FIELD[word]);
    if (!raw) {
      checkMustBeOne(view, word, cap, targetRelated, out);
      continue;
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
          `${targetLabel(target, cap.msrName)} requires to be 1 (allowed-0 settings of ${cap.msrName})`,
        span: raw.span,
        related: targetRelated,
        fixes: adjustFix ? [adjustFix, fix] : [fix],
        reference: `SDM Vol. 3D App. A.3–A.5 (default1 class, TRUE controls), rule ${CAP_RULE[word]}; ${NESTED} vmx_control_verify`,
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
          `${targetLabel(target, cap.msrName)} does not allow to be 1 (allowed-1 settings of ${cap.msrName})`,
        span: raw.span,
        related: targetRelated,
        fixes: adjustFix ? [adjustFix, fix] : [fix],
        reference: `SDM Vol. 3D App. A.3–A.5 (allowed settings), rule ${CAP_RULE[word]}; ${NESTED} vmx_control_verify`,
      });
    }
  }
}

/**
 * A raw control word rewritten as KVM's adjust_vmx_controls (arch/x86/kvm/vmx/vmx.c) does:
 * disallowed bits cleared, then required bits set. Preferred unless the capability MSR (by an
 * override) both requires and forbids one of the bits involved: that bit then ends 1 and still
 * fails VMX-CAP1, which the title says.
 */
function adjustWordFix(
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
function rawWordFix(
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
  targetRelated: RelatedInfo[],
  out: Diagnostic[],
): void {
  // Every profile's must-be-one bits are default1 bits: no bigint work on the common path.
  if (cap.mustBeOneBeyondDefault1 === 0n) return;
  const missing = cap.mustBeOneBeyondDefault1 & ~view.effective[word];
  if (missing === 0n) return;
  const { vmcs, target } = view;
  const where = targetLabel(target, cap.msrName);
  const reference = `SDM Vol. 3D App. A.3–A.5 (allowed-0 settings), rule ${CAP_RULE[word]}; ${NESTED} vmx_control_verify`;
  const line = vmcs.wordLines[word];
  const related = line
    ? [...targetRelated, { span: line, message: `the ${word} controls of vmcs ${vmcs.name}` }]
    : targetRelated;
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

/**
 * Fix for a must-be-one control: the control with what it requires (its word's activation control
 * and the pair rules' prerequisites) in one fix, appended to each word's line or on a new line.
 * Preferred only if the block then has no VM-entry error it did not have before; otherwise the
 * title names the failures that would follow.
 */
function mustBeOneFix(view: VmcsView, wanted: ControlRef): CodeFix | undefined {
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
function unsupportedControlFix(view: VmcsView, control: ControlDef): CodeFix | undefined {
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

function pairMessage(rule: PairRule): string {
  const [cw, cn] = rule.control;
  const [ow, on] = rule.other;
  const value = rule.kind === "requires" ? 1 : 0;
  const why = rule.why ? ` (${rule.why})` : "";
  return `${cn} (${cw}) requires ${on} (${ow}) = ${value}${why}`;
}

/** Pair rules: E11, E13–E20, E23, E27, N10. */
function checkPairs(view: VmcsView, out: Diagnostic[]): void {
  for (let i = 0; i < PAIR_RULES.length; i++) {
    const rule = PAIR_RULES[i]!;
    if (!view.has(rule.control)) continue;
    const otherSet = view.has(rule.other);
    if (rule.kind === "requires" ? otherSet : !otherSet) continue;
    const diagnostic: Diagnostic = {
      severity: "error",
      code: `VMX-${rule.rule}`,
      message: `${pairMessage(rule)}; VM entry fails (rule ${rule.rule})`,
      span: view.spanOf(rule.control),
      related: [view.relatedTo(rule.other, `${rule.other[1]} (${rule.other[0]}) is set here`)],
      reference: rule.reference,
    };
    diagnostic.fixes =
      rule.kind === "requires"
        ? fixes(addFix(view, rule.other, true), dropFix(view, rule.control, false))
        : fixes(dropFix(view, rule.other, true), dropFix(view, rule.control, false));
    out.push(diagnostic);
  }
}

interface AddressCheck {
  field: string;
  /** Required alignment in bytes. */
  align: bigint;
  what: string;
}

/**
 * "Valid page address" (KVM page_address_valid): aligned, and no bit at or above MAXPHYADDR.
 * Also IA32_VMX_BASIC[48] (32-bit physical addresses only) limits every address to 32 bits.
 */
function addressProblem(view: VmcsView, value: bigint, align: bigint, lastByte?: bigint): string | undefined {
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

function checkAddress(
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

/** X3/X4/X5/N8: the MSR-store/load lists (count field, address field, rule, reference). */
const MSR_LISTS: readonly (readonly [count: string, addr: string, rule: string, reference: string])[] = [
  [
    "VM_EXIT_MSR_STORE_COUNT",
    "VM_EXIT_MSR_STORE_ADDR",
    "X3",
    `${SDM_EXIT}; ${NESTED} nested_vmx_check_exit_msr_switch_controls`,
  ],
  [
    "VM_EXIT_MSR_LOAD_COUNT",
    "VM_EXIT_MSR_LOAD_ADDR",
    "X3",
    `${SDM_EXIT}; ${NESTED} nested_vmx_check_exit_msr_switch_controls`,
  ],
  [
    "VM_ENTRY_MSR_LOAD_COUNT",
    "VM_ENTRY_MSR_LOAD_ADDR",
    "N8",
    `${SDM_ENTRY}; ${NESTED} nested_vmx_check_entry_msr_switch_controls`,
  ],
];

/** Field-value rules: E5–E9, E12, E15c–e, E18, E21, E22, E24–E26, E28, X3–X5, N8, N9, N10. */
function checkFields(view: VmcsView, out: Diagnostic[]): void {
  const { vmcs, target } = view;
  const page = 4096n;

  // E5: CR3-target count ≤ IA32_VMX_MISC[24:16].
  const limit = cr3TargetLimit(target.msrs);
  const countField = view.field("CR3_TARGET_COUNT");
  const count = countField ? Number(countField.value) : vmcs.cr3Targets.length;
  if (count > limit) {
    const span =
      countField?.span ?? vmcs.cr3Targets[limit]?.span ?? vmcs.cr3Targets[0]?.span ?? vmcs.nameSpan;
    out.push({
      severity: "error",
      code: "VMX-E5",
      message: `${count} CR3-target values exceed the ${limit} that ${target.profile.name} supports (IA32_VMX_MISC[24:16]) (rule E5)`,
      span,
      reference: `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls (nested_cpu_vmx_misc_cr3_count)`,
    });
  }

  const use = (ref: ControlRef) => view.has(ref);
  if (use(REF.proc_use_io_bitmaps)) {
    for (const field of ["IO_BITMAP_A", "IO_BITMAP_B"]) {
      checkAddress(
        view,
        out,
        "E6",
        REF.proc_use_io_bitmaps,
        { field, align: page, what: "page address" },
        `${SDM_EXEC}; ${NESTED} nested_vmx_check_io_bitmap_controls`,
      );
    }
  }
  if (use(REF.proc_use_msr_bitmaps)) {
    checkAddress(
      view,
      out,
      "E7",
      REF.proc_use_msr_bitmaps,
      { field: "MSR_BITMAP", align: page, what: "page address" },
      `${SDM_EXEC}; ${NESTED} nested_vmx_check_msr_bitmap_controls`,
    );
  }
  if (use(REF.proc_use_tpr_shadow)) {
    checkAddress(
      view,
      out,
      "E8",
      REF.proc_use_tpr_shadow,
      { field: "VIRTUAL_APIC_PAGE_ADDR", align: page, what: "page address" },
      `${SDM_EXEC}; ${NESTED} nested_vmx_check_tpr_shadow_controls`,
    );
    // E9: TPR threshold bits 31:4 must be 0 unless virtual-interrupt delivery.
    const threshold = view.field("TPR_THRESHOLD");
    const tprValue = threshold?.value ?? (vmcs.tprThreshold ? BigInt(vmcs.tprThreshold.value) : undefined);
    const tprSpan = threshold?.span ?? vmcs.tprThreshold?.span;
    if (
      tprValue !== undefined &&
      tprSpan &&
      !use(REF.proc2_virtual_interrupt_delivery) &&
      tprValue >> 4n !== 0n
    ) {
      out.push({
        severity: "error",
        code: "VMX-E9",
        message: `TPR threshold ${hex(tprValue)} sets bits 31:4: with use_tpr_shadow (proc) = 1 and virtual_interrupt_delivery (proc2) = 0 only bits 3:0 may be set (rule E9)`,
        span: tprSpan,
        related: [view.relatedTo(REF.proc_use_tpr_shadow, "use_tpr_shadow (proc) is set here")],
        reference: `${SDM_EXEC}; Bochs VMenterLoadCheckVmControls; kvm-unit-tests test_tpr_threshold`,
      });
    }
    // E10: with neither virtual-interrupt delivery nor APIC-access virtualization, TPR threshold
    // bits 3:0 must not exceed VTPR bits 7:4 (the virtual-APIC page's byte 80H, `vtpr`).
    const vtpr = vmcs.vtpr;
    if (
      vtpr !== undefined &&
      !use(REF.proc2_virtual_interrupt_delivery) &&
      !use(REF.proc2_virtualize_apic_accesses)
    ) {
      const thresholdLow = Number((tprValue ?? 0n) & 0xfn);
      if (thresholdLow > vtpr.value >> 4) {
        out.push({
          severity: "error",
          code: "VMX-E10",
          message:
            `TPR threshold bits 3:0 (${thresholdLow}) exceed VTPR bits 7:4 (${vtpr.value >> 4}, VTPR ${hex(vtpr.value)}): ` +
            "with use_tpr_shadow (proc) = 1 and neither virtual_interrupt_delivery nor virtualize_apic_accesses (proc2), VM entry fails (rule E10)",
          span: tprSpan ?? vtpr.span,
          related: [
            { span: vtpr.span, message: `VTPR ${hex(vtpr.value)} at VM entry` },
            view.relatedTo(REF.proc_use_tpr_shadow, "use_tpr_shadow (proc) is set here"),
          ],
          reference: `${SDM_EXEC}; Bochs VMenterLoadCheckVmControls; kvm-unit-tests test_tpr_threshold`,
        });
      }
    }
  }
  if (use(REF.proc2_virtualize_apic_accesses)) {
    checkAddress(
      view,
      out,
      "E12",
      REF.proc2_virtualize_apic_accesses,
      { field: "APIC_ACCESS_ADDR", align: page, what: "page address" },
      `${SDM_EXEC}; ${NESTED} nested_vmx_check_apic_access_controls`,
    );
  }
  if (use(REF.pin_process_posted_interrupts)) {
    // E15c: notification vector bits 15:8 = 0.
    const nv = view.field("POSTED_INTR_NV");
    const nvValue =
      nv?.value ?? (vmcs.postedInterruptVector ? BigInt(vmcs.postedInterruptVector.vector) : undefined);
    const nvSpan = nv?.span ?? vmcs.postedInterruptVector?.span;
    if (nvValue !== undefined && nvSpan && nvValue > 0xffn) {
      out.push({
        severity: "error",
        code: "VMX-E15",
        message: `posted-interrupt notification vector ${hex(nvValue)} is above 255: process_posted_interrupts (pin) requires bits 15:8 = 0 (rule E15)`,
        span: nvSpan,
        related: [
          view.relatedTo(REF.pin_process_posted_interrupts, "process_posted_interrupts (pin) is set here"),
        ],
        reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
      });
    }
    // E15d/e: descriptor 64-byte aligned and within MAXPHYADDR.
    checkAddress(
      view,
      out,
      "E15",
      REF.pin_process_posted_interrupts,
      {
        field: "POSTED_INTR_DESC_ADDR",
        align: 64n,
        what: "64-byte aligned posted-interrupt descriptor address",
      },
      `${SDM_EXEC}; ${NESTED} nested_vmx_check_apicv_controls`,
    );
  }
  if (use(REF.proc2_enable_pml)) {
    checkAddress(
      view,
      out,
      "E18",
      REF.proc2_enable_pml,
      { field: "PML_ADDRESS", align: page, what: "page address" },
      `${SDM_EXEC}; ${NESTED} nested_vmx_check_pml_controls`,
    );
  }
  if (use(REF.proc2_vmcs_shadowing)) {
    for (const field of ["VMREAD_BITMAP", "VMWRITE_BITMAP"]) {
      checkAddress(
        view,
        out,
        "E21",
        REF.proc2_vmcs_shadowing,
        { field, align: page, what: "page address" },
        `${SDM_EXEC}; ${NESTED} nested_vmx_check_shadow_vmcs_controls`,
      );
    }
  }
  // E22: enable VPID ⇒ VPID ≠ 0.
  if (use(REF.proc2_enable_vpid)) {
    const vpid = view.field("VIRTUAL_PROCESSOR_ID");
    if (!vpid || vpid.value === 0n) {
      const setting = view.setting(REF.proc2_enable_vpid);
      const diagnostic: Diagnostic = {
        severity: "error",
        code: "VMX-E22",
        message: vpid
          ? "enable_vpid (proc2) requires VIRTUAL_PROCESSOR_ID ≠ 0 (VPID 0 is the host's) (rule E22)"
          : "enable_vpid (proc2) requires VIRTUAL_PROCESSOR_ID ≠ 0, and the file does not set it (it is 0 after VMCLEAR) (rule E22)",
        span: vpid?.span ?? view.spanOf(REF.proc2_enable_vpid),
        reference: `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls`,
      };
      if (vpid && setting)
        diagnostic.related = [{ span: setting.span, message: "enable_vpid (proc2) is set here" }];
      if (!vpid) {
        diagnostic.fixes = [
          {
            title: "Set field VIRTUAL_PROCESSOR_ID = 1",
            edits: addStatementEdits(view, "field VIRTUAL_PROCESSOR_ID = 1"),
            preferred: true,
          },
        ];
        const drop = dropFix(view, REF.proc2_enable_vpid, false);
        if (drop) diagnostic.fixes.push(drop);
      }
      out.push(diagnostic);
    }
  }
  // E24: EPTP valid.
  if (use(REF.proc2_enable_ept)) checkEptp(view, out);
  // E25: VM functions.
  if (use(REF.proc2_enable_vm_functions)) {
    const vmfunc = view.field("VM_FUNCTION_CONTROL");
    if (vmfunc) {
      const unsupported = vmfunc.value & ~target.msrs.IA32_VMX_VMFUNC;
      if (unsupported !== 0n) {
        out.push({
          severity: "error",
          code: "VMX-E25",
          message: `VM_FUNCTION_CONTROL = ${hex(vmfunc.value)} enables VM functions ${hex(unsupported)} that ${target.profile.name} does not support (IA32_VMX_VMFUNC = ${hex(target.msrs.IA32_VMX_VMFUNC)}) (rule E25)`,
          span: vmfunc.span,
          related: [view.relatedTo(REF.proc2_enable_vm_functions, "enable_vm_functions (proc2) is set here")],
          reference: `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls`,
        });
      }
      if (vmfunc.value & 1n) {
        if (!use(REF.proc2_enable_ept)) {
          out.push({
            severity: "error",
            code: "VMX-E25",
            message: "EPTP switching (VM function 0) requires enable_ept (proc2) = 1 (rule E25)",
            span: vmfunc.span,
            related: [view.relatedTo(REF.proc2_enable_ept, "")],
            fixes: fixes(addFix(view, REF.proc2_enable_ept, true)),
            reference: `${SDM_EXEC}; ${NESTED} nested_vmx_check_eptp_switching (nested_check_vm_execution_controls)`,
          });
        }
        checkAddress(
          view,
          out,
          "E25",
          REF.proc2_enable_vm_functions,
          { field: "EPTP_LIST_ADDRESS", align: page, what: "EPTP-list page address" },
          `${SDM_EXEC}; ${NESTED} nested_check_vm_execution_controls`,
        );
      }
    }
  }
  if (use(REF.proc2_ept_violation_ve)) {
    checkAddress(
      view,
      out,
      "E26",
      REF.proc2_ept_violation_ve,
      { field: "VE_INFORMATION_ADDRESS", align: page, what: "page address" },
      `${SDM_EXEC}; Bochs VMenterLoadCheckVmControls`,
    );
  }
  // E28: TSC scaling ⇒ multiplier ≠ 0.
  if (use(REF.proc2_use_tsc_scaling)) {
    const multiplier = view.field("TSC_MULTIPLIER");
    if (!multiplier || multiplier.value === 0n) {
      const diagnostic: Diagnostic = {
        severity: "error",
        code: "VMX-E28",
        message: multiplier
          ? "use_tsc_scaling (proc2) requires TSC_MULTIPLIER ≠ 0 (rule E28)"
          : "use_tsc_scaling (proc2) requires TSC_MULTIPLIER ≠ 0, and the file does not set it (rule E28)",
        span: multiplier?.span ?? view.spanOf(REF.proc2_use_tsc_scaling),
        reference:
          "Bochs bochs/cpu/vmx.cc VMenterLoadCheckVmControls (not confirmed in the SDM text consulted)",
      };
      if (!multiplier) {
        // 1.0 in the 16.48 fixed-point format of the TSC multiplier (SDM Vol. 3C §25.6.5).
        diagnostic.fixes = [
          {
            title: "Set TSC_MULTIPLIER to 1.0 (0x1_0000_0000_0000)",
            edits: addStatementEdits(view, "field TSC_MULTIPLIER = 0x1_0000_0000_0000"),
            preferred: true,
          },
        ];
      }
      out.push(diagnostic);
    }
  }
  // X3/X4/X5/N8: MSR-store/load lists.
  const lists = MSR_LISTS;
  const maxEntries = maxMsrListEntries(target.msrs);
  for (const [countName, addrName, rule, reference] of lists) {
    const countValue = view.field(countName);
    if (!countValue || countValue.value === 0n) continue;
    if (countValue.value > BigInt(maxEntries)) {
      out.push({
        severity: "error",
        code: "VMX-X4",
        message: `${countName} = ${countValue.value} exceeds the ${maxEntries} entries ${target.profile.name} recommends (512 × (IA32_VMX_MISC[27:25] + 1)); beyond it the behaviour is undefined and KVM fails the entry (rule X4)`,
        span: countValue.span,
        reference: `SDM Vol. 3D App. A.6 (IA32_VMX_MISC); ${NESTED} nested_vmx_check_msr_switch`,
      });
    }
    const addr = view.field(addrName);
    if (!addr) continue;
    const lastByte = addr.value + countValue.value * 16n - 1n;
    const problem = addressProblem(view, addr.value, 16n, lastByte);
    if (problem) {
      out.push({
        severity: "error",
        code: `VMX-${rule}`,
        message: `${addrName} = ${hex(addr.value)} ${problem}: with ${countName} = ${countValue.value} the list must be 16-byte aligned and lie within the physical-address width (rule ${rule})`,
        span: addr.span,
        related: [{ span: countValue.span, message: `${countName} is set here` }],
        reference,
      });
    }
  }
  // N9: entry to SMM / deactivate dual-monitor treatment only for a VM entry from SMM.
  for (const name of ["entry_to_smm", "deactivate_dual_monitor_treatment"]) {
    const setting = view.setting(["entry", name]);
    if (!setting) continue;
    out.push({
      severity: "error",
      code: "VMX-N9",
      message: `${name} (entry) must be 0 for a VM entry executed outside SMM, which a hypervisor's is (rule N9)`,
      span: setting.span,
      fixes: fixes(dropFix(view, ["entry", name], true)),
      reference: `${SDM_ENTRY}; Bochs VMenterLoadCheckVmControls`,
    });
  }
  checkHostFields(view, out);
}

/** Edits adding a statement line to the vmcs block (after its last statement, like a control line). */
function addStatementEdits(view: VmcsView, statement: string): CodeFix["edits"] {
  const vmcs = view.vmcs;
  const text = view.text;
  const closeBrace = text?.[vmcs.span.end - 1] === "}" ? vmcs.span.end - 1 : vmcs.span.end;
  if (text !== undefined) {
    // After the last non-blank line before the closing brace, indented like the first statement.
    let end = closeBrace;
    while (end > vmcs.nameSpan.end && /\s/.test(text[end - 1]!)) end--;
    const first = vmcs.settings[0]?.span.start;
    let indent = "  ";
    if (first !== undefined) {
      let s = first;
      while (s > 0 && text[s - 1] !== "\n" && text[s - 1] !== "\r") s--;
      let e = s;
      while (text[e] === " " || text[e] === "\t") e++;
      if (e < first) indent = text.slice(s, e);
    }
    // An unclosed block (TL012) ends at its last token: the statement goes on a line of its own.
    const closeLineIsOwn =
      text[closeBrace] !== "}" ||
      text.lastIndexOf("\n", closeBrace) > end ||
      text.lastIndexOf("\r", closeBrace) > end;
    if (closeLineIsOwn && text[end - 1] !== "{")
      return [{ span: { start: end, end }, newText: `\n${indent}${statement}` }];
    return [{ span: { start: closeBrace, end: closeBrace }, newText: `${statement} ` }];
  }
  return [{ span: { start: closeBrace, end: closeBrace }, newText: `  ${statement}\n` }];
}

/** E24: the EPT pointer, from `eptp …` or a raw `field EPT_POINTER = …`. */
function checkEptp(view: VmcsView, out: Diagnostic[]): void {
  const { vmcs, target } = view;
  const msrs = target.msrs;
  const reference = `${SDM_EXEC}; ${NESTED} nested_vmx_check_eptp`;
  const related = [view.relatedTo(REF.proc2_enable_ept, "enable_ept (proc2) is set here")];
  const report = (span: Span, message: string) =>
    out.push({
      severity: "error",
      code: "VMX-E24",
      message: `${message} (rule E24)`,
      span,
      related,
      reference,
    });
  const raw = view.field("EPT_POINTER");
  if (raw) {
    const value = raw.value;
    const memtype = Number(value & 7n);
    const walk = Number((value >> 3n) & 7n);
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
    if ((value >> 6n) & 1n && !hasEptVpidCap(msrs, EPT_VPID_CAP.ACCESSED_DIRTY))
      report(
        raw.span,
        `EPT_POINTER enables accessed/dirty flags (bit 6), which ${target.profile.name} does not support (IA32_VMX_EPT_VPID_CAP[21] = 0)`,
      );
    if ((value >> 7n) & 0x1fn) report(raw.span, "EPT_POINTER reserved bits 11:7 must be 0");
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

/** N10 on host-state fields the file sets (HOST_CR4, HOST_RIP, HOST_IA32_EFER). */
function checkHostFields(view: VmcsView, out: Diagnostic[]): void {
  const hostWide = view.has(REF.exit_host_address_space_size);
  const reference = `${SDM_HOST}; ${NESTED} nested_vmx_check_host_state`;
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

const INTR_TYPE_NAMES = [
  "external interrupt",
  "reserved",
  "NMI",
  "hardware exception",
  "software interrupt",
  "privileged software exception",
  "software exception",
  "other event",
];
/** Vectors that push an error code (L-x86.h x86_exception_has_error_code): #DF #TS #NP #SS #GP #PF #AC. */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

/** N2–N7: the VM-entry interruption-information field when the file sets it. */
function checkEntryEvent(view: VmcsView, out: Diagnostic[]): void {
  const info = view.field("VM_ENTRY_INTR_INFO_FIELD");
  // Only a valid event (bit 31) is checked.
  if (!info || ((info.value >> 31n) & 1n) === 0n) return;
  const { target } = view;
  const reference = `${SDM_ENTRY}; ${NESTED} nested_check_vm_entry_controls`;
  const value = info.value;
  const span = info.span;
  const vector = Number(value & 0xffn);
  const type = Number((value >> 8n) & 7n);
  const deliverError = ((value >> 11n) & 1n) === 1n;
  const report = (rule: string, message: string) =>
    out.push({
      severity: "error",
      code: `VMX-${rule}`,
      message: `VM_ENTRY_INTR_INFO_FIELD = ${hex(value)}: ${message} (rule ${rule})`,
      span,
      reference,
    });
  // N2: type 1 reserved; type 7 only if the CPU supports the monitor trap flag (proc allowed-1 bit 27).
  if (type === 1) report("N2", "interruption type 1 is reserved");
  const mtfControl = controlInWord("proc", "monitor_trap_flag");
  const proc = capabilityOf(view, "proc");
  const mtf = mtfControl !== undefined && bitOfHalves(proc.mayBeOneLow, proc.mayBeOneHigh, mtfControl.bit);
  if (type === 7 && !mtf)
    report(
      "N2",
      `interruption type 7 (other event) needs monitor-trap-flag support, which ${target.profile.name} lacks`,
    );
  // N3: vectors per type.
  if (type === 2 && vector !== 2) report("N3", `an NMI (type 2) must have vector 2, not ${vector}`);
  if (type === 3 && vector > 31)
    report("N3", `a hardware exception (type 3) must have a vector ≤ 31, not ${vector}`);
  if (type === 7 && vector !== 0)
    report("N3", `an other event (type 7, pending MTF) must have vector 0, not ${vector}`);
  // N4: error code iff hardware exception in protected mode with an error-code vector.
  const unrestricted = view.has(REF.proc2_unrestricted_guest);
  const guestCr0 = view.field("GUEST_CR0");
  const protectedMode = !unrestricted || (guestCr0 ? (guestCr0.value & 1n) === 1n : true);
  if (!protectedMode || type !== 3) {
    if (deliverError)
      report(
        "N4",
        `an error code can be delivered only for a hardware exception in protected mode (type ${type}: ${INTR_TYPE_NAMES[type]}${protectedMode ? "" : ", guest CR0.PE = 0"})`,
      );
  } else if (((target.msrs.IA32_VMX_BASIC >> 56n) & 1n) === 0n) {
    const needs = ERROR_CODE_VECTORS.has(vector);
    if (deliverError !== needs) {
      report(
        "N4",
        needs
          ? `vector ${vector} pushes an error code: set the deliver-error-code bit (11)`
          : `vector ${vector} has no error code: clear the deliver-error-code bit (11)`,
      );
    }
  }
  // N5: error code bits 31:16 = 0.
  const errorCode = view.field("VM_ENTRY_EXCEPTION_ERROR_CODE");
  if (deliverError && errorCode && errorCode.value >> 16n !== 0n) {
    out.push({
      severity: "error",
      code: "VMX-N5",
      message: `VM_ENTRY_EXCEPTION_ERROR_CODE = ${hex(errorCode.value)}: bits 31:16 must be 0 when an error code is delivered (rule N5)`,
      span: errorCode.span,
      related: [{ span, message: "the event is injected here" }],
      reference,
    });
  }
  // N6: reserved bits 30:12.
  if ((value & 0x7ffff000n) !== 0n)
    report("N6", `reserved bits 30:12 must be 0 (they are ${hex(value & 0x7ffff000n)})`);
  // N7: software events need an instruction length 1–15 (0 only with IA32_VMX_MISC[30]).
  if (type === 4 || type === 5 || type === 6) {
    const lengthField = view.field("VM_ENTRY_INSTRUCTION_LEN");
    const length = lengthField?.value ?? 0n;
    const zeroAllowed = ((target.msrs.IA32_VMX_MISC >> 30n) & 1n) === 1n;
    if (length > 15n || (length === 0n && !zeroAllowed)) {
      out.push({
        severity: "error",
        code: "VMX-N7",
        message: `a ${INTR_TYPE_NAMES[type]} (type ${type}) needs VM_ENTRY_INSTRUCTION_LEN between 1 and 15${lengthField ? `, not ${length}` : " (the file does not set it, so it is 0)"} (rule N7)`,
        span: lengthField?.span ?? span,
        reference,
      });
    }
  }
}
