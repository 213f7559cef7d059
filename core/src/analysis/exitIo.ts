import { EXIT } from "../vmx/exitReasons";
import { ioBitmapOf } from "../vmx/instructions";
import { ioBitmapBit, vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, exitsWith, hex, noExit, on, SDM_COND, state } from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// I/O

export function decideIo(kind: "in" | "out", port: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const insn = kind.toUpperCase();
  const controls = state(ctx, c.ioBitmaps, c.uncondIo);
  // A one-byte access is modelled: wider accesses exit if any covered port's bit is set.
  if (on(ctx, c.ioBitmaps)) {
    const bitmap = ioBitmapOf(port);
    return ioBitmapBit(lookup, port)
      ? exitsWith(
          EXIT.IO_INSTRUCTION,
          `${insn} ${hex(port)} exits: use I/O bitmaps is 1 and the port's bit is set in I/O bitmap ${bitmap}.`,
          controls,
          SDM_COND,
          "With use I/O bitmaps = 1, unconditional I/O exiting is ignored.",
        )
      : noExit(
          `${insn} ${hex(port)} does not exit: use I/O bitmaps is 1 and the port's bit is clear in I/O bitmap ${bitmap}.`,
          controls,
          SDM_COND,
          "With use I/O bitmaps = 1, unconditional I/O exiting is ignored; add the port to `io trap` to intercept it.",
        );
  }
  return on(ctx, c.uncondIo)
    ? exitsWith(
        EXIT.IO_INSTRUCTION,
        `${insn} ${hex(port)} exits: use I/O bitmaps is 0 and unconditional I/O exiting is 1.`,
        controls,
        SDM_COND,
      )
    : noExit(
        `${insn} ${hex(port)} does not exit: use I/O bitmaps and unconditional I/O exiting are both 0 (the guest reaches the physical port).`,
        controls,
        SDM_COND,
      );
}
