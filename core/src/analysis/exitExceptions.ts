import { exceptionBitmapIndex } from "../vmx/exceptions";
import { EXIT } from "../vmx/exitReasons";
import { vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, exitsWith, hex, noExit, on, SDM_OTHER, state } from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// Exceptions

export function decideException(
  vector: number,
  errorCode: number | undefined,
  ctx: ExitContext,
): ExitDecision {
  const c = ctl();
  const v = exceptionBitmapIndex(vector);
  if (v === 2)
    return on(ctx, c.nmiExiting)
      ? exitsWith(
          EXIT.EXCEPTION_NMI,
          "The NMI exits because NMI exiting is 1.",
          state(ctx, c.nmiExiting),
          SDM_OTHER,
        )
      : noExit("The NMI is delivered to the guest (NMI exiting is 0).", state(ctx, c.nmiExiting), SDM_OTHER);
  const bitmap = ctx.vmcs.exceptionBitmap;
  const bit = ((bitmap >>> v) & 1) === 1;
  const controls = [`EXCEPTION_BITMAP=${hex(bitmap >>> 0)}`];
  if (v === 14) {
    const lookup = vmcsLookup(ctx.vmcs);
    const pfec = errorCode ?? 0;
    const matches = (pfec & lookup.pfecMask) === lookup.pfecMatch;
    const exits = matches ? bit : !bit;
    controls.push(
      `PAGE_FAULT_ERROR_CODE_MASK=${hex(lookup.pfecMask)}`,
      `PAGE_FAULT_ERROR_CODE_MATCH=${hex(lookup.pfecMatch)}`,
    );
    const rule = `#PF with error code ${hex(pfec)}: (PFEC & mask) ${matches ? "==" : "!="} match, so the exit ${matches ? "follows" : "inverts"} bit 14 of the exception bitmap (${bit ? 1 : 0}).`;
    const detail = errorCode === undefined ? "No error code given: 0 is assumed." : undefined;
    return exits
      ? exitsWith(EXIT.EXCEPTION_NMI, `${rule} It exits.`, controls, SDM_OTHER, detail)
      : noExit(`${rule} It is delivered to the guest.`, controls, SDM_OTHER, detail);
  }
  return bit
    ? exitsWith(
        EXIT.EXCEPTION_NMI,
        `Exception vector ${v} exits: its bit is set in the exception bitmap.`,
        controls,
        SDM_OTHER,
      )
    : noExit(
        `Exception vector ${v} is delivered to the guest: its bit is clear in the exception bitmap.`,
        controls,
        SDM_OTHER,
      );
}
