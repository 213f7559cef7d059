/**
 * A vmcs12 (`vmcs NAME nested { … }`) is checked as KVM checks it on nested VM entry: the same
 * units as every vmcs, run against the capability MSRs L0 exposes to L1 (a target whose MSRs are
 * `nestedCapabilityMsrs` of the file's, core/src/vmx/nestedCapabilities.ts), each diagnostic
 * naming the nested.c function that performs the check and what L1's VMLAUNCH/VMRESUME then
 * gets. Rules KVM leaves to the processor's checks of vmcs02 say so.
 */
import type { Program, TargetIR, VmcsIR } from "../../model/ir";
import type { Diagnostic, Span } from "../../source";
import { controlWordCapability } from "../../vmx/capabilities";
import { controlInWord } from "../../vmx/controls";
import { NESTED_ENTRY_FAILURE, nestedCapabilityMsrs, nestedProfileName } from "../../vmx/nestedCapabilities";
import type { ControlWord } from "../../vmx/types";
import { effectiveControls } from "../effective";
import { targetMemo } from "../memo";
import { type EntryRule, REF } from "./context";
import { RULE_NUMBERING } from "./numbering";
import { NESTED, SDM_HOST } from "./references";

/**
 * The target a vmcs12 is checked against: the file's target with L1's capability MSRs (the
 * file's `msr` overrides are the host's, so they go through the derivation too).
 */
export function nestedTarget(target: TargetIR): TargetIR {
  const memo = targetMemo(target);
  let nested = memo.nested;
  if (nested === undefined) {
    nested = {
      ...target,
      msrs: nestedCapabilityMsrs(target.msrs),
      profile: {
        ...target.profile,
        name: nestedProfileName(target.profile.name),
        msrs: nestedCapabilityMsrs(target.profile.msrs),
      },
    };
    memo.nested = nested;
    targetMemo(nested).host = target;
  }
  return nested;
}

/** The file's target behind a vmcs12's nested target; undefined for any other target. */
export function hostTargetOf(target: TargetIR): TargetIR | undefined {
  return targetMemo(target).host;
}

/** The target a vmcs's rules run against: L1's view for a vmcs12, the file's otherwise. */
export function targetFor(vmcs: VmcsIR, target: TargetIR): TargetIR {
  return vmcs.nested ? nestedTarget(target) : target;
}

/**
 * Whether a control L1 cannot set is one the host CPU has (KVM hides it, `nested_vmx_setup_ctls_msrs`):
 * undefined when `target` is not a nested target.
 */
export function hiddenByL0(target: TargetIR, word: ControlWord, bit: number): boolean | undefined {
  const host = targetMemo(target).host;
  if (host === undefined) return undefined;
  const cap = controlWordCapability(host.msrs, word);
  return ((cap.mayBeOne >> BigInt(bit)) & 1n) === 1n;
}

/** A control's name resolved to its bit, for `hiddenByL0` callers that hold a name. */
export function controlBit(word: ControlWord, name: string): number {
  return controlInWord(word, name)?.bit ?? -1;
}

const KVM_BY_RULE = new Map(RULE_NUMBERING.map((row) => [row.id, row]));

/** "nested_check_vm_execution_controls (vmx_control_verify)" from the numbering's KVM column. */
function kvmFunctionOf(ruleId: string): { fn: string | undefined; area: keyof typeof NESTED_ENTRY_FAILURE } {
  const row = KVM_BY_RULE.get(ruleId);
  const area = row?.fields === "host" ? "host" : row?.fields === "guest" ? "guest" : "controls";
  const kvm = row?.kvm.replaceAll("`", "").trim();
  if (kvm === undefined || kvm.startsWith("—")) return { fn: undefined, area };
  return { fn: kvm, area };
}

/**
 * Rewrites the diagnostics `rule` reported for a vmcs12 (from index `from` of `out`): the
 * message names the nested.c function, the reference says what L1's VM entry gets and that the
 * capabilities are L0's (`nested_vmx_setup_ctls_msrs`). Lints (TL codes) are left as they are.
 */
export function annotateNested(rule: EntryRule, out: Diagnostic[], from: number): void {
  for (let i = from; i < out.length; i++) {
    const d = out[i]!;
    if (!d.code.startsWith("VMX-")) continue;
    // The diagnostic's own rule when its code is one (VMX-X4 of an MSR-list unit), else the unit's.
    const own = d.code.slice(4);
    const { fn, area } = kvmFunctionOf(KVM_BY_RULE.has(own) ? own : (rule.rules[0] ?? ""));
    const failure = NESTED_ENTRY_FAILURE[area];
    const where = fn
      ? fn.startsWith(failure.kvm)
        ? fn
        : `${failure.kvm}: ${fn}`
      : `not in ${failure.kvm}: left to the processor's checks of vmcs02`;
    out[i] = {
      ...d,
      message: `${d.message} [vmcs12, ${where}]`,
      reference: `${NESTED} ${where}, against L1's capability MSRs (nested_vmx_setup_ctls_msrs); L1's VMLAUNCH/VMRESUME gets ${failure.outcome}; ${d.reference ?? ""}`,
    };
  }
}

const ENTRY_IA32E_MODE = ["entry", "ia32e_mode_guest"] as const;

/**
 * L1's mode as the file's plain vmcs blocks (vmcs01, the VMCS L0 runs L1 with) enter it: IA-32e
 * mode when they set `ia32e_mode_guest`; undefined when the file has none or they disagree.
 */
export interface L1Mode {
  longMode: boolean;
  /** The vmcs01 that says it, for related information. */
  vmcs: VmcsIR;
  span: Span;
}

const L1_MODE_REFERENCE = `${SDM_HOST} ("if the logical processor is in IA-32e mode, host address-space size must be 1"); ${NESTED} nested_vmx_check_host_state (ia32e = L1's EFER.LMA)`;

/**
 * N10 for a vmcs12: KVM checks "host address-space size" against L1's own mode
 * (`ia32e = !!(vcpu->arch.efer & EFER_LMA)` in `nested_vmx_check_host_state`), which the file
 * says through its vmcs01: in IA-32e mode the vmcs12 must set it, outside it must leave it and
 * `ia32e_mode_guest` 0.
 */
export const L1_ADDRESS_SPACE_SIZE: EntryRule = {
  id: "N10 L1 mode",
  codes: ["VMX-N10"],
  rules: ["N10"],
  title:
    "A vmcs12 whose L1 runs in IA-32e mode (the file's plain vmcs, vmcs01, sets `ia32e_mode_guest`) sets `host_address_space_size` (exit); one whose L1 does not leaves it and `ia32e_mode_guest` 0. Only when every plain vmcs of the file agrees on L1's mode.",
  reference: L1_MODE_REFERENCE,
  check(view, out) {
    const l1 = view.vmcs.nested ? view.l1Mode : undefined;
    if (l1 === undefined) return;
    const wide = view.has(REF.exit_host_address_space_size);
    const ia32e = view.has(ENTRY_IA32E_MODE);
    const related = [
      {
        span: l1.span,
        message: `vmcs ${l1.vmcs.name} (vmcs01) enters L1 ${l1.longMode ? "in" : "outside"} IA-32e mode`,
      },
    ];
    const push = (span: Span, message: string) =>
      out.push({
        severity: "error",
        code: "VMX-N10",
        message: `${message} (rule N10)`,
        span,
        related,
        reference: L1_MODE_REFERENCE,
      });
    if (l1.longMode && !wide)
      push(
        view.spanOf(REF.exit_host_address_space_size),
        "L1 runs in IA-32e mode, so this vmcs12 must set host_address_space_size (exit): L1 returns to 64-bit code on every L2 exit",
      );
    else if (!l1.longMode && wide)
      push(
        view.spanOf(REF.exit_host_address_space_size),
        "L1 runs outside IA-32e mode, so host_address_space_size (exit) must be 0 in its vmcs12",
      );
    if (!l1.longMode && ia32e)
      push(
        view.spanOf(ENTRY_IA32E_MODE),
        "L1 runs outside IA-32e mode, so its vmcs12 cannot set ia32e_mode_guest (entry)",
      );
  },
};

/** L1's mode from the file's plain vmcs blocks (vmcs01), when they agree; see `L1Mode`. */
export function l1ModeOf(program: Program): L1Mode | undefined {
  let mode: L1Mode | undefined;
  const bit = controlInWord("entry", "ia32e_mode_guest")!.bit;
  for (const vmcs of program.vmcs.values()) {
    if (vmcs.nested) continue;
    const longMode = ((effectiveControls(vmcs, program.target).entry >> BigInt(bit)) & 1n) === 1n;
    if (mode !== undefined && mode.longMode !== longMode) return undefined;
    if (mode === undefined) {
      const setting = vmcs.settings.find((s) => s.control.word === "entry" && s.control.bit === bit);
      mode = { longMode, vmcs, span: setting?.span ?? vmcs.nameSpan };
    }
  }
  return mode;
}
