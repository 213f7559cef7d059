/**
 * The files of examples/, bundled into the playground as text at build time (esbuild's "text"
 * loader for .vmcs, set in scripts/build.mjs). test/playground-state.test.ts checks that this
 * list names exactly the files in examples/, so a new example cannot be forgotten here.
 */
export { exampleSummary } from "./exampleSummary";

import cpuidMasking from "../../examples/cpuid-masking.vmcs";
import e1000VsVirtio from "../../examples/e1000-vs-virtio.vmcs";
import haltPolling from "../../examples/halt-polling.vmcs";
import hypercallBatching from "../../examples/hypercall-batching.vmcs";
import hypercallUnbatched from "../../examples/hypercall-unbatched.vmcs";
import kvmDefault from "../../examples/kvm-default.vmcs";
import nestedCpuidReflected from "../../examples/nested-cpuid-reflected.vmcs";
import nestedEpt from "../../examples/nested-ept.vmcs";
import nestedExceptionBitmap from "../../examples/nested-exception-bitmap.vmcs";
import nestedKvmOnKvm from "../../examples/nested-kvm-on-kvm.vmcs";
import nestedKvmOnKvmNoshadow from "../../examples/nested-kvm-on-kvm-noshadow.vmcs";
import nestedPostedInterrupts from "../../examples/nested-posted-interrupts.vmcs";
import nestedTwoL1 from "../../examples/nested-two-l1.vmcs";
import pauseLoopExiting from "../../examples/pause-loop-exiting.vmcs";
import perOperandHandlers from "../../examples/per-operand-handlers.vmcs";
import pmlVsWriteProtect from "../../examples/pml-vs-write-protect.vmcs";
import postedInterrupts from "../../examples/posted-interrupts.vmcs";
import singleStepMovCr3 from "../../examples/single-step-mov-cr3.vmcs";
import ticklessVsPeriodic from "../../examples/tickless-vs-periodic.vmcs";

/** File name → text, in the picker's order (alphabetical, as the folder lists them). */
export const EXAMPLES: ReadonlyMap<string, string> = new Map([
  ["cpuid-masking.vmcs", cpuidMasking],
  ["e1000-vs-virtio.vmcs", e1000VsVirtio],
  ["halt-polling.vmcs", haltPolling],
  ["hypercall-batching.vmcs", hypercallBatching],
  ["hypercall-unbatched.vmcs", hypercallUnbatched],
  ["kvm-default.vmcs", kvmDefault],
  ["nested-cpuid-reflected.vmcs", nestedCpuidReflected],
  ["nested-ept.vmcs", nestedEpt],
  ["nested-exception-bitmap.vmcs", nestedExceptionBitmap],
  ["nested-kvm-on-kvm-noshadow.vmcs", nestedKvmOnKvmNoshadow],
  ["nested-kvm-on-kvm.vmcs", nestedKvmOnKvm],
  ["nested-posted-interrupts.vmcs", nestedPostedInterrupts],
  ["nested-two-l1.vmcs", nestedTwoL1],
  ["pause-loop-exiting.vmcs", pauseLoopExiting],
  ["per-operand-handlers.vmcs", perOperandHandlers],
  ["pml-vs-write-protect.vmcs", pmlVsWriteProtect],
  ["posted-interrupts.vmcs", postedInterrupts],
  ["single-step-mov-cr3.vmcs", singleStepMovCr3],
  ["tickless-vs-periodic.vmcs", ticklessVsPeriodic],
]);

/** Opened when the link and local storage give nothing. */
export const DEFAULT_EXAMPLE = "kvm-default.vmcs";
