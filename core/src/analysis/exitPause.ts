import { EXIT } from "../vmx/exitReasons";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import { vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, exitsWith, noExit, on, SDM_COND, state } from "./exitRules";
import { exitCost, vcpuMayMigrate } from "./transitionCost";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// PAUSE loops

/** Cycles of one spin-loop iteration on the target: the profile's estimate (vmx/profiles.ts). */
export function pauseIterationCycles(ctx: ExitContext): number {
  return ctx.program.target.profile.pauseIteration.cycles;
}

export function decidePauseLoop(cycles: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const cpl = ctx.cpl ?? 0;
  const lookup = vmcsLookup(ctx.vmcs);
  if (on(ctx, c.pause)) {
    // Every PAUSE exits at any CPL; PAUSE-loop exiting is then ignored. The loop keeps spinning
    // for its wall time, and each iteration costs one PAUSE plus one exit.
    const exitCycles = exitRoundTripEstimate(ctx);
    const iteration = pauseIterationCycles(ctx);
    const n = Math.max(1, Math.floor(cycles / (iteration + exitCycles)));
    return exitsWith(
      EXIT.PAUSE_INSTRUCTION,
      `Every PAUSE exits because PAUSE exiting is 1: about ${n} exits in a ${Math.round(cycles)}-cycle spin.`,
      state(ctx, c.pause, c.ple),
      SDM_COND,
      `Modelled as max(1, floor(spin / (${iteration} cycles per PAUSE iteration (the target's estimate) + ${Math.round(exitCycles)} cycles per exit))).`,
      n,
    );
  }
  const controls = state(ctx, c.pause, c.ple);
  if (!on(ctx, c.ple))
    return noExit(
      "PAUSE does not exit: PAUSE exiting and PAUSE-loop exiting are both 0.",
      controls,
      SDM_COND,
    );
  if (cpl > 0)
    return noExit(
      "PAUSE does not exit: PAUSE-loop exiting is ignored at CPL > 0 and PAUSE exiting is 0.",
      controls,
      SDM_COND,
    );
  const gap = lookup.pleGap;
  const window = lookup.pleWindow;
  const pleControls = [...controls, `PLE_GAP=${gap}`, `PLE_WINDOW=${window}`];
  if (gap === 0)
    return noExit(
      "PAUSE-loop exiting never fires: PLE_Gap is 0, so every PAUSE starts a new loop.",
      pleControls,
      SDM_COND,
      `Set \`ple gap ${KVM_DEFAULTS.pleGap.value} window ${KVM_DEFAULTS.pleWindow.value}\` (KVM's defaults, KVM_DEFAULT_PLE_GAP / KVM_VMX_DEFAULT_PLE_WINDOW).`,
    );
  const n = Math.floor(cycles / Math.max(1, window));
  const model = `A CPL-0 spin of T cycles with PAUSEs closer than PLE_Gap exits floor(T / PLE_Window) times: floor(${Math.round(cycles)} / ${window}) = ${n}. KVM's per-vCPU window growth (grow_ple_window) is left to the simulator.`;
  return n > 0
    ? exitsWith(
        EXIT.PAUSE_INSTRUCTION,
        `PAUSE-loop exiting: the spin outlasts PLE_Window ${n} time${n === 1 ? "" : "s"}.`,
        pleControls,
        SDM_COND,
        model,
        n,
      )
    : noExit(
        "PAUSE-loop exiting does not fire: the spin is shorter than PLE_Window.",
        pleControls,
        SDM_COND,
        model,
      );
}

export function exitRoundTripEstimate(ctx: ExitContext): number {
  return exitCost(ctx.program, ctx.vmcs, EXIT.PAUSE_INSTRUCTION, vcpuMayMigrate(ctx.guest)).total;
}
