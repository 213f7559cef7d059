import { eoiExitBitSet } from "../vmx/apic";
import { EXIT } from "../vmx/exitReasons";
import { vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, exitsWith, hex, noExit, on, SDM_EOI, SDM_TPR } from "./exitRules";
import type { ExitDecision } from "./types";

/**
 * A virtualized write to the TPR (x2APIC MSR, APIC page or CR8). With virtual-interrupt
 * delivery, PPR virtualization follows and nothing exits. Without it, the write exits with
 * TPR_BELOW_THRESHOLD if VTPR[7:4] < TPR threshold[3:0]. The written value is unknown to the
 * model: a guest lowering its TPR to 0 (the common "unmask all" write) is assumed, so it exits
 * iff the threshold is above 0.
 */
export function decideTprWrite(
  ctx: ExitContext,
  what: string,
  controls: string[],
  reference: string,
  newPriorityClass = 0,
): ExitDecision {
  const c = ctl();
  const threshold = vmcsLookup(ctx.vmcs).tprThreshold;
  if (on(ctx, c.vid))
    return noExit(
      `${what} does not exit: TPR virtualization with virtual-interrupt delivery evaluates pending virtual interrupts instead.`,
      controls,
      `${reference}; ${SDM_TPR}`,
    );
  return newPriorityClass < threshold
    ? exitsWith(
        EXIT.TPR_BELOW_THRESHOLD,
        `${what} exits with TPR_BELOW_THRESHOLD: the new TPR class ${newPriorityClass} is below the TPR threshold ${threshold}.`,
        controls,
        `${reference}; ${SDM_TPR}`,
        "Trap-like: the write completes first.",
      )
    : noExit(
        `${what} does not exit: the new TPR class ${newPriorityClass} is not below the TPR threshold ${threshold}.`,
        controls,
        `${reference}; ${SDM_TPR}`,
      );
}

/** EOI virtualization (virtual-interrupt delivery = 1): exits only per the EOI-exit bitmap. */
export function decideVirtualEoi(
  ctx: ExitContext,
  what: string,
  controls: string[],
  reference: string,
): ExitDecision {
  const vector = ctx.eoiVector;
  const bitmap = vmcsLookup(ctx.vmcs).eoiExitBitmap;
  const set = vector !== undefined && eoiExitBitSet(bitmap, vector);
  const which = vector === undefined ? "the serviced vector" : `vector ${hex(vector)}`;
  return set
    ? exitsWith(
        EXIT.EOI_INDUCED,
        `${what} is virtualized and exits with EOI_INDUCED: the EOI-exit bitmap bit of ${which} is set.`,
        controls,
        `${reference}; ${SDM_EOI}`,
      )
    : noExit(
        `${what} does not exit: EOI virtualization (virtual-interrupt delivery) and the EOI-exit bitmap bit of ${which} is clear.`,
        controls,
        `${reference}; ${SDM_EOI}`,
        vector === undefined
          ? "No vector is known here; the bit is taken as clear (KVM sets it only for level-triggered I/O APIC vectors)."
          : undefined,
      );
}
