/**
 * VM-entry checks on the control fields of every `vmcs` block (SDM Vol. 3C §27.2.1, §26.2.1 in
 * pre-2023 editions, as KVM's nested VMX enforces them in arch/x86/kvm/vmx/nested.c), capability
 * checks against the target's VMX capability MSRs, and the activation lints for secondary/tertiary
 * controls. Each rule is one unit of `rules/` (a code, its rule of the numbering E1–E28, X1–X7,
 * N1–N10 defined in docs/diagnostics.md, its SDM/KVM reference, the check and its fix), run in the
 * order of `rules/registry.ts`; the diagnostic code is `VMX-<rule>`.
 *
 * Address fields (I/O bitmaps, MSR bitmap, virtual-APIC page, …): the language does not model
 * the hypervisor's page allocation, so an address field the file does not set is assumed to hold
 * a valid address (as any working hypervisor's would). When the file sets it with
 * `field NAME = VALUE`, the value is checked: alignment and MAXPHYADDR of the target profile.
 * Non-address fields the file does not set are 0, as after VMCLEAR (so `enable_vpid` without
 * `field VIRTUAL_PROCESSOR_ID = …` fails E22, and `use_tsc_scaling` without TSC_MULTIPLIER E28).
 */
import type { Program } from "../model/ir";
import type { Diagnostic } from "../source";
import type { ControlWord } from "../vmx/types";
import { runEntryRules, VmcsView, type WordCapability } from "./rules/context";
import { annotateNested, type L1Mode, l1ModeOf, nestedTarget } from "./rules/nested";
import { ENTRY_RULES } from "./rules/registry";

export { PAIR_RULES } from "./rules/pairTable";

export interface CheckOptions {
  /** The file text: lets quick fixes indent new lines like their neighbours. */
  text?: string;
}

/** Checks every vmcs block of the program. Never throws on a well-formed Program. */
export function checkProgram(program: Program, options: CheckOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const capabilities = new Map<ControlWord, WordCapability>();
  let nestedCapabilities: Map<ControlWord, WordCapability> | undefined;
  let l1Mode: L1Mode | undefined | null = null;
  for (const vmcs of program.vmcs.values()) {
    if (vmcs.nested) {
      // A vmcs12: the same units against L1's capability MSRs, as KVM's nested VM entry checks it.
      nestedCapabilities ??= new Map();
      if (l1Mode === null) l1Mode = l1ModeOf(program);
      const target = nestedTarget(program.target);
      const view = new VmcsView(vmcs, target, options.text, nestedCapabilities, ENTRY_RULES);
      view.l1Mode = l1Mode;
      runEntryRules(ENTRY_RULES, view, out, annotateNested);
      continue;
    }
    const view = new VmcsView(vmcs, program.target, options.text, capabilities, ENTRY_RULES);
    runEntryRules(ENTRY_RULES, view, out);
  }
  return out;
}
