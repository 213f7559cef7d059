/**
 * The control words the CPU actually sees for a VMCS: the bits written in the file plus the
 * default1 bits the target's capability MSRs force to 1, with the secondary and tertiary words
 * treated as 0 when the primary word does not activate them.
 *
 * - Default1 class and TRUE MSRs: SDM Vol. 3D App. A.2–A.5. When
 *   IA32_VMX_BASIC[55] = 0 every default1 bit must be 1 (the non-TRUE MSR reports them as
 *   allowed-0 = 1); when it is 1 the IA32_VMX_TRUE_*_CTLS MSR says which of them may be 0
 *   (e.g. CR3-load/CR3-store exiting on most CPUs). `controlWordCapability` picks the right MSR.
 * - Secondary/tertiary: SDM Vol. 3C §27.2.1.1 (older editions §26.2.1.1), rules E3/E4 of docs/diagnostics.md: "If the
 *   'activate secondary controls' primary processor-based VM-execution control is 0, … the
 *   logical processor operates as if all the secondary processor-based VM-execution controls
 *   were 0"; likewise "activate tertiary controls".
 */
import type { TargetIR, VmcsIR } from "../model/ir";
import { controlWordCapability } from "../vmx/capabilities";
import { CONTROL, type ControlWords, DEFAULT1_BITS, isControlSet } from "../vmx/controls";
import { targetMemo, vmcsMemo } from "./memo";

export type { ControlRef, ControlWords } from "../vmx/controls";

const DEFAULT1_WORDS = ["pin", "proc", "exit", "entry"] as const;

/**
 * The implied default1 bits per DEFAULT1_WORDS entry, once per target (not per vmcs block),
 * carried by the target (memo.ts targetMemo) while its capability MSRs are the same object.
 */
function impliedDefault1(target: TargetIR): bigint[] {
  const memo = targetMemo(target);
  if (memo.impliedFor === target.msrs) return memo.implied;
  // Only the default1 class is implied (language spec: "Bits of the default1 class are
  // implied as the target's capability MSRs require"); other must-be-one bits left out are a
  // VM-entry failure that checks.ts reports, not something to paper over here.
  memo.implied = DEFAULT1_WORDS.map(
    (word) => controlWordCapability(target.msrs, word).mustBeOne & BigInt(DEFAULT1_BITS[word] >>> 0),
  );
  memo.impliedFor = target.msrs;
  return memo.implied;
}

/**
 * One computation per (vmcs, target) pair — the facade, estimator and simulator all ask —
 * carried by the vmcs (memo.ts vmcsMemo) for the last target asked.
 */
export function effectiveControls(vmcs: VmcsIR, target: TargetIR): ControlWords {
  const memo = vmcsMemo(vmcs);
  if (memo.controls !== undefined && memo.controlsTarget === target) return memo.controls;
  const words: ControlWords = { ...vmcs.written };
  const implied = impliedDefault1(target);
  for (let i = 0; i < DEFAULT1_WORDS.length; i++) {
    const bits = implied[i]!;
    if (bits !== 0n) words[DEFAULT1_WORDS[i]!] |= bits;
  }
  if (!isControlSet(words, CONTROL.proc.activate_secondary_controls)) words.proc2 = 0n;
  if (!isControlSet(words, CONTROL.proc.activate_tertiary_controls)) words.proc3 = 0n;
  memo.controls = words;
  memo.controlsTarget = target;
  return words;
}
