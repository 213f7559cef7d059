/**
 * What every VM-entry rule sees and is: the per-vmcs view (`VmcsView`: written and effective
 * control words, settings, fields, where a diagnostic about a control sits) and the rule unit
 * (`EntryRule`) with the loop that runs a list of them. The ordered list is `registry.ts`.
 */
import type { ControlSetting, TargetIR, VmcsIR } from "../../model/ir";
import type { Diagnostic, RelatedInfo, Span } from "../../source";
import { type ControlWordCapability, controlWordCapability, LOW32 } from "../../vmx/capabilities";
import { CONTROL_WORD_FIELD, CONTROL_WORDS, controlInWord, DEFAULT1_BITS } from "../../vmx/controls";
import type { ControlWord } from "../../vmx/types";
import { effectiveControls } from "../effective";
import type { L1Mode } from "./nested";

export type ControlRef = readonly [word: ControlWord, name: string];

/**
 * One VM-entry rule (or lint of the checks): what it reports, the rule of docs/diagnostics.md's
 * numbering it implements, where the rule is stated, and the check. `docs/diagnostics.md` is
 * generated from these rows (`npm run docs:diagnostics`).
 */
export interface EntryRule {
  /** Unique name of the unit: its rule id, and what it checks when one rule has several units. */
  readonly id: string;
  /** The diagnostic codes it can report (`VMX-<rule>`, or the lint code). */
  readonly codes: readonly string[];
  /** Rule ids of the numbering (E1–E28, X1–X7, N1–N10) this unit checks. */
  readonly rules: readonly string[];
  /** What it checks, one sentence of Markdown (the docs' "Checks" column). */
  readonly title: string;
  /** The SDM section and the Linux KVM function (or other source) that state the rule. */
  readonly reference: string;
  /** What its quick fix does, if it has one (Markdown, for the docs). */
  readonly fix?: string;
  /** Appends the rule's diagnostics for the vmcs of `view` to `out`; reports nothing when it holds. */
  readonly check: (view: VmcsView, out: Diagnostic[]) => void;
  /**
   * The control without which the unit reports nothing (its `check` tests it too): the runner
   * skips the call when it is 0, which most units are on most vmcs blocks.
   */
  readonly when?: ControlRef;
  /** `when` resolved by the registry (bit −1: no gate), so the runner tests a bit, not a name. */
  readonly gateWord?: ControlWord;
  readonly gateBit?: number;
}

/**
 * Runs `rules` in order on one vmcs: a plain loop, nothing allocated per rule. `after` (a vmcs12's
 * annotation, `nested.ts`) sees each rule's diagnostics: those from index `from` of `out`.
 */
export function runEntryRules(
  rules: readonly EntryRule[],
  view: VmcsView,
  out: Diagnostic[],
  after?: (rule: EntryRule, out: Diagnostic[], from: number) => void,
): void {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const bit = rule.gateBit;
    if (bit !== undefined && bit >= 0 && !view.hasBit(rule.gateWord!, bit)) continue;
    const from = out.length;
    rule.check(view, out);
    if (after !== undefined && out.length > from) after(rule, out, from);
  }
}

export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/**
 * Whether bit `bit` (0–63) of a 64-bit control word is set, with the word held as two 32-bit
 * halves in numbers: the rules ask thousands of these per file, and a bigint `&` allocates.
 */
export function bitOfHalves(low: number, high: number, bit: number): boolean {
  return bit < 32 ? ((low >>> bit) & 1) === 1 : ((high >>> (bit - 32)) & 1) === 1;
}

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

export interface WordCapability extends ControlWordCapability {
  mayBeOneLow: number;
  mayBeOneHigh: number;
  /** Must-be-one bits outside the default1 class (which `effectiveControls` does not imply). */
  mustBeOneBeyondDefault1: bigint;
}

/** Per-vmcs view shared by the rules: written and effective words, settings by control. */
export class VmcsView {
  readonly effective: Record<ControlWord, bigint>;
  /** For a vmcs12: L1's mode as the file's vmcs01 enters it (`nested.ts`), set by checkProgram. */
  l1Mode: L1Mode | undefined = undefined;
  private readonly effectiveHalves: Record<ControlWord, readonly [number, number]>;
  private readonly writtenHalves: Record<ControlWord, readonly [number, number]>;

  constructor(
    readonly vmcs: VmcsIR,
    readonly target: TargetIR,
    readonly text: string | undefined,
    /** Shared by the views of one checkProgram call. */
    readonly capabilities: Map<ControlWord, WordCapability>,
    /** The rules run on this vmcs; the what-if probes (`fixes.ts`) re-run them on a changed copy. */
    readonly rules: readonly EntryRule[],
    /** A what-if view (see `newErrors`): diagnostics only, no fixes that probe again. */
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

  /** Bit `bit` of the word the CPU uses (as `has`, for a control already resolved to its bit). */
  hasBit(word: ControlWord, bit: number): boolean {
    const halves = this.effectiveHalves[word];
    return bitOfHalves(halves[0], halves[1], bit);
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

  /** A control word's capability, computed once per checkProgram call (every vmcs shares the target). */
  capabilityOf(word: ControlWord): WordCapability {
    const perWord = this.capabilities;
    let cap = perWord.get(word);
    if (cap === undefined) {
      const raw = controlWordCapability(this.target.msrs, word);
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
}

/**
 * The ControlRefs the rules test, built once (an array literal in a rule would be allocated on
 * every call, for every vmcs).
 */
export const REF = {
  proc_use_io_bitmaps: ["proc", "use_io_bitmaps"],
  proc_use_msr_bitmaps: ["proc", "use_msr_bitmaps"],
  proc_use_tpr_shadow: ["proc", "use_tpr_shadow"],
  proc_activate_secondary_controls: ["proc", "activate_secondary_controls"],
  proc_activate_tertiary_controls: ["proc", "activate_tertiary_controls"],
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
  entry_entry_to_smm: ["entry", "entry_to_smm"],
  entry_deactivate_dual_monitor_treatment: ["entry", "deactivate_dual_monitor_treatment"],
} as const satisfies Record<string, ControlRef>;

/**
 * The diagnostic of a host- or guest-state rule (H/G): `VMX-<rule>`, the rule in the message and,
 * when a control conditions it, the control as related information ("… is set here", or "is not
 * set here" with `present` false).
 */
export function reportState(
  out: Diagnostic[],
  rule: string,
  span: Span,
  message: string,
  reference: string,
  view?: VmcsView,
  control?: ControlRef,
  present = true,
): void {
  out.push({
    severity: "error",
    code: `VMX-${rule}`,
    message: `${message} (rule ${rule})`,
    span,
    reference,
    ...(view && control
      ? {
          related: [
            view.relatedTo(control, `${control[1]} (${control[0]}) is ${present ? "set" : "not set"} here`),
          ],
        }
      : {}),
  });
}

/** The bits of `value` a fixed-bits pair forbids: FIXED0 bits left 0, bits not in FIXED1 set. */
export function fixedBitViolations(
  value: bigint,
  fixed0: bigint,
  fixed1: bigint,
): { mustBeOne: bigint; mustBeZero: bigint } {
  return { mustBeOne: fixed0 & ~value, mustBeZero: value & ~(fixed1 | fixed0) };
}

/** "CR0 = 0x…: bits 0x… must be 1 (IA32_VMX_CR0_FIXED0)…" or undefined when the value holds. */
export function fixedBitsMessage(
  name: string,
  value: bigint,
  fixed0: bigint,
  fixed1: bigint,
  msr: "CR0" | "CR4",
  where = "this target",
): string | undefined {
  const { mustBeOne, mustBeZero } = fixedBitViolations(value, fixed0, fixed1);
  const parts: string[] = [];
  if (mustBeOne !== 0n) parts.push(`bits ${hex(mustBeOne)} must be 1 (IA32_VMX_${msr}_FIXED0)`);
  if (mustBeZero !== 0n) parts.push(`bits ${hex(mustBeZero)} must be 0 (not in IA32_VMX_${msr}_FIXED1)`);
  return parts.length ? `${name} = ${hex(value)}: ${parts.join("; ")} on ${where}` : undefined;
}

/**
 * The host and guest CR0/CR4 fixed-bit check (H1, G1): the field, when the file sets it, against
 * the target's IA32_VMX_CR0/CR4_FIXED0/1 (`relaxed` bits taken out of FIXED0: CR0.PE and PG with
 * unrestricted guest). Returns whether it reported; `note` is appended to a report's message.
 */
export function checkCrFixedBits(
  view: VmcsView,
  out: Diagnostic[],
  rule: string,
  name: string,
  cr: "CR0" | "CR4",
  reference: string,
  relaxed = 0n,
  note = "",
): boolean {
  const field = view.field(name);
  if (!field) return false;
  const msrs = view.target.msrs;
  const fixed0 = cr === "CR0" ? msrs.IA32_VMX_CR0_FIXED0 : msrs.IA32_VMX_CR4_FIXED0;
  const fixed1 = cr === "CR0" ? msrs.IA32_VMX_CR0_FIXED1 : msrs.IA32_VMX_CR4_FIXED1;
  const message = fixedBitsMessage(
    name,
    field.value,
    fixed0 & ~relaxed,
    fixed1,
    cr,
    view.target.profile.name,
  );
  if (message === undefined) return false;
  reportState(out, rule, field.span, `${message}${note}`, reference);
  return true;
}
