/**
 * A vmcs12 (`vmcs NAME nested { … }`) is checked as KVM checks it on nested VM entry: the same
 * units as every vmcs, run against the capability MSRs L0 exposes to L1 (a target whose MSRs are
 * `nestedCapabilityMsrs` of the file's, core/src/vmx/nestedCapabilities.ts), each diagnostic
 * naming the nested.c function that performs the check and what L1's VMLAUNCH/VMRESUME then
 * gets. Rules KVM leaves to the processor's checks of vmcs02 say so.
 */
import type { TargetIR, VmcsIR } from "../../model/ir";
import type { Diagnostic } from "../../source";
import { controlWordCapability } from "../../vmx/capabilities";
import { controlInWord } from "../../vmx/controls";
import { NESTED_ENTRY_FAILURE, nestedCapabilityMsrs, nestedProfileName } from "../../vmx/nestedCapabilities";
import type { ControlWord } from "../../vmx/types";
import type { EntryRule } from "./context";
import { RULE_NUMBERING } from "./numbering";
import { NESTED } from "./references";

const HOSTS = new WeakMap<TargetIR, TargetIR>();
const NESTED_TARGETS = new WeakMap<TargetIR, TargetIR>();

/**
 * The target a vmcs12 is checked against: the file's target with L1's capability MSRs (the
 * file's `msr` overrides are the host's, so they go through the derivation too).
 */
export function nestedTarget(target: TargetIR): TargetIR {
  let nested = NESTED_TARGETS.get(target);
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
    NESTED_TARGETS.set(target, nested);
    HOSTS.set(nested, target);
  }
  return nested;
}

/** The file's target behind a vmcs12's nested target; undefined for any other target. */
export function hostTargetOf(target: TargetIR): TargetIR | undefined {
  return HOSTS.get(target);
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
  const host = HOSTS.get(target);
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
    const { fn, area } = kvmFunctionOf(rule.rules[0] ?? "");
    const failure = NESTED_ENTRY_FAILURE[area];
    const where = fn
      ? `${failure.kvm}: ${fn}`
      : `not in ${failure.kvm}: left to the processor's checks of vmcs02`;
    out[i] = {
      ...d,
      message: `${d.message} [vmcs12, ${where}]`,
      reference: `${NESTED} ${where}, against L1's capability MSRs (nested_vmx_setup_ctls_msrs); L1's VMLAUNCH/VMRESUME gets ${failure.outcome}; ${d.reference ?? ""}`,
    };
  }
}
