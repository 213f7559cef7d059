/**
 * Whether a guest operation causes a VM exit under the VMCS in force, and why — deciding as
 * the SDM states it and keeping the rule, the deciding controls and the reference for hovers.
 *
 * The decisions live by family, each in its own module: instructions from the table
 * (exitInstructions.ts, vmx/instructions.ts), I/O (exitIo.ts), MSRs and x2APIC (exitMsr.ts),
 * memory, EPT and the APIC page (exitMemory.ts, exitApicVirtualization.ts), CR access
 * (exitCr.ts), PAUSE (exitPause.ts), exceptions (exitExceptions.ts), dirty logging
 * (exitDirty.ts); the leaf dispatcher and its memo in exitLeaf.ts, walks over operation lists in
 * exitWalk.ts, delivery and idle in exitDelivery.ts, the stochastic models in tsxModel.ts and
 * coalesceModel.ts. This module is the door the rest of the engine uses.
 *
 * Section numbers are those of the current SDM Vol. 3C (editions from 2023); older editions
 * number the same sections one chapter lower (non-root operation = chapter 25, address
 * translation = 28, APIC virtualization = 29) and are given beside. Modelling choices (values
 * not given, PLE, TSX, dirty logging, shadow paging) are documented in docs/estimator.md.
 */
import type { Arrival, GuestOp } from "../model/ir";
import { decideLeafOp } from "./exitLeaf";
import type { ExitContext } from "./exitRules";
import { walkOps } from "./exitWalk";
import type { ExitDecision } from "./types";

export { type CoalesceModel, coalesceModel } from "./coalesceModel";
export { type DeliveryDecision, decideDelivery, decideIdle, type IdleDecision } from "./exitDelivery";
export { PML_ENTRIES } from "./exitDirty";
export { type ExitContext, exitCount, guestContext, pathContext, reason, sourceContext } from "./exitRules";
export { type OpVisitor, type WalkResult, walkOps } from "./exitWalk";
export { TSX_ATTEMPTS, type TsxModel, tsxModel } from "./tsxModel";

/**
 * Decides one guest operation. For a compound operation (tsx, branch, repeat, coalesce) the
 * decision of its whole body: exits per execution summed (branches weighted, repeats
 * multiplied, a coalesce's body scaled by its flushes per execution). `arrival` is how the
 * enclosing source's executions arrive (what a `coalesce` batch depends on); without it a
 * `coalesce` is taken at its count limit (one flush per N executions).
 */
export function decideExit(op: GuestOp, ctx: ExitContext, arrival?: Arrival): ExitDecision {
  switch (op.op) {
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      return walkOps([op], ctx, undefined, 1, true, arrival).decision;
    default:
      return decideLeaf(op, ctx);
  }
}

/** Decides one operation: a leaf through its family (memoized), a compound one by walking it. */
export function decideLeaf(op: GuestOp, ctx: ExitContext): ExitDecision {
  switch (op.op) {
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      return walkOps([op], ctx).decision;
    default:
      return decideLeafOp(op, ctx);
  }
}
