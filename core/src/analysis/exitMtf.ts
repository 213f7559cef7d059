/**
 * The monitor trap flag (primary processor-based control bit 27): with it set, an MTF VM exit
 * (MONITOR_TRAP_FLAG) occurs on the instruction boundary after each guest instruction that
 * completes in the guest (SDM Vol. 3C §26.5.2 "Monitor Trap Flag", older editions §25.5.2). An
 * instruction that VM-exits itself does not complete in the guest: the VMM emulates it and the
 * next entry runs the following instruction, after which the MTF exit comes (KVM emulates the
 * same for a nested guest in vmx_update_emulated_instruction(), arch/x86/kvm/vmx/vmx.c, only
 * because the hardware would not). The language counts instructions as its operations: each
 * leaf operation is one instruction (`dirty N pages` N writes); `compute C` has no instruction
 * count, so it is taken as C / `guest_instruction` instructions (cycles per instruction, an
 * estimate, overridable). `pause_loop` spins are not counted (an MTF exit per PAUSE would end
 * every spin at once; the loop's exits are decided by PAUSE exiting and PLE).
 */
import type { GuestOp } from "../model/ir";
import { CONTROL } from "../vmx/controls";
import { EXIT } from "../vmx/exitReasons";
import { type ExitContext, exitsWith, on } from "./exitRules";
import type { ExitDecision } from "./types";

export const SDM_MTF = "SDM Vol. 3C §26.5.2 (older editions §25.5.2), Monitor Trap Flag";

export function mtfOn(ctx: ExitContext): boolean {
  return on(ctx, CONTROL.proc.monitor_trap_flag);
}

/** Guest instructions of a compute of `cycles` (the target's `guest_instruction` cycles each). */
export function computeInstructions(cycles: number, ctx: ExitContext): number {
  const cpi = ctx.program.target.costs.guest_instruction?.cycles ?? 1;
  return cpi > 0 ? cycles / cpi : cycles;
}

/** A `compute` under MTF: one MONITOR_TRAP_FLAG exit per instruction it stands for. */
export function decideComputeMtf(cycles: number, ctx: ExitContext): ExitDecision {
  const n = computeInstructions(cycles, ctx);
  return exitsWith(
    EXIT.MONITOR_TRAP_FLAG,
    `monitor_trap_flag: the guest exits after every instruction; ${cycles} cycles of computation are taken as ${Math.round(n * 100) / 100} instructions (target cost guest_instruction = cycles per instruction, an estimate).`,
    ["monitor_trap_flag=1"],
    SDM_MTF,
    undefined,
    n,
  );
}

/**
 * A leaf operation's decision with MTF: when the instruction does not VM-exit itself, it
 * completes in the guest and an MTF exit follows (weighted by the probability it does not exit).
 */
export function withMtf(op: GuestOp, decision: ExitDecision): ExitDecision {
  if (op.op === "pause_loop" || op.op === "compute") return decision;
  let exiting = 0;
  for (const e of decision.exits) exiting += e.perExecution;
  const instructions = op.op === "dirty" ? Math.max(0, op.pages) : 1;
  // Exits per instruction above 1 (e.g. dirty pages under write protection) leave none completing.
  const completing =
    op.op === "dirty" ? Math.max(0, instructions - exiting) : Math.max(0, 1 - Math.min(1, exiting));
  if (!(completing > 0)) return decision;
  const mtf = {
    reason: exitsWith(EXIT.MONITOR_TRAP_FLAG, "", [], SDM_MTF).exits[0]!.reason,
    perExecution: completing,
  };
  const d: ExitDecision = {
    ...decision,
    exits: [...decision.exits, mtf],
    rule: decision.exits.length
      ? `${decision.rule} When it does not exit, monitor_trap_flag exits after it (MONITOR_TRAP_FLAG).`
      : `${decision.rule} The instruction completes in the guest, and monitor_trap_flag exits after it (MONITOR_TRAP_FLAG).`,
    controls: [...decision.controls, "monitor_trap_flag=1"],
    reference: `${decision.reference}; ${SDM_MTF}`,
  };
  return d;
}
