import type { ControlRef } from "../vmx/controls";
import { EXIT } from "../vmx/exitReasons";
import { type InstructionExitDef, instructionExitByOp } from "../vmx/instructions";
import { decideException } from "./exitExceptions";
import {
  ctl,
  type ExitContext,
  exitsWith,
  noExit,
  on,
  SDM_COND,
  SDM_OTHER,
  SECONDARY_NOTE,
  state,
} from "./exitRules";
import type { ExitDecision } from "./types";

/**
 * Operations the IR may grow (the language spec lists only the ones above): any other instruction
 * of the table (INVD, GETSEC, MONITOR, MWAIT).
 */
export function decideOther(name: string, ctx: ExitContext): ExitDecision {
  const row = instructionExitByOp(name);
  if (row) return decideInstruction(row, ctx);
  return noExit(`No exit rule is known for "${name}"; treated as not exiting.`, [], SDM_COND);
}

/** "HLT exiting", "enable RDTSCP": the SDM name as it reads inside a sentence. */
export function controlText(control: ControlRef): string {
  const name = control.sdmName;
  return /^[A-Z][a-z]/.test(name) ? name[0]!.toLowerCase() + name.slice(1) : name;
}

/**
 * An instruction decided by its row of the instruction table (vmx/instructions.ts): exits
 * unconditionally, or when every control of the row is 1; #UD when the control that enables it
 * is 0 (the #UD then exits only through the exception bitmap).
 */
export function decideInstruction(row: InstructionExitDef, ctx: ExitContext): ExitDecision {
  const code = EXIT[row.reason];
  const insn = row.mnemonic;
  if (row.exitsWhen === "always")
    return exitsWith(code, `${insn} causes a VM exit unconditionally.`, [], row.reference);
  const controls = row.exitsWhen;
  const all = row.enabledBy ? [row.enabledBy, ...controls] : controls;
  if (row.enabledBy && !on(ctx, row.enabledBy))
    return withUd(
      ctx,
      `${insn} raises #UD because ${controlText(row.enabledBy)} is 0 (it does not exit as ${insn}).`,
      state(ctx, row.enabledBy),
    );
  const names = all.map(controlText);
  const listed =
    names.length === 1 ? `${names[0]} is` : `${names.join(" and ")} are ${names.length === 2 ? "both " : ""}`;
  if (controls.every((c) => on(ctx, c)))
    return exitsWith(code, `${insn} exits because ${listed.trimEnd()} 1.`, state(ctx, ...all), row.reference);
  const clear = controls.filter((c) => !on(ctx, c));
  const secondary = clear.some((c) => c.word === "proc2" || c.word === "proc3") ? SECONDARY_NOTE : "";
  const otherwise = row.otherwise ? `: ${row.otherwise}` : "";
  const because = row.enabledBy
    ? `: ${controlText(row.enabledBy)} is 1 but ${clear.map(controlText).join(" and ")} ${clear.length === 1 ? "is" : "are"} 0${secondary}${otherwise}.`
    : ` (${clear.map(controlText).join(" and ")} ${clear.length === 1 ? "is" : "are"} 0${secondary})${otherwise}.`;
  return noExit(`${insn} does not exit${because}`, state(ctx, ...all), row.reference);
}

/** RDTSC: the table's rule, and what the guest reads when it does not exit. */
export function decideRdtsc(ctx: ExitContext): ExitDecision {
  const c = ctl();
  const d = decideInstruction(instructionExitByOp("rdtsc")!, ctx);
  if (d.exits.length > 0) return d;
  return noExit(
    d.rule,
    state(ctx, c.rdtsc, c.tscOffset),
    d.reference,
    on(ctx, c.tscOffset)
      ? `The guest reads TSC + TSC_OFFSET${on(ctx, c.tscScaling) ? " (scaled by the TSC multiplier)" : ""}: use TSC offsetting changes the value, never causes an exit.`
      : "The guest reads the host TSC unmodified.",
  );
}

/** An instruction that raises #UD: exits only if bit 6 of the exception bitmap is set. */
export function withUd(ctx: ExitContext, rule: string, controls: string[]): ExitDecision {
  const ud = decideException(6, undefined, ctx);
  const d: ExitDecision = {
    exits: ud.exits,
    rule: `${rule} ${ud.exits.length ? "The #UD exits because bit 6 of the exception bitmap is set." : "The #UD is delivered to the guest (bit 6 of the exception bitmap is 0)."}`,
    controls: [...controls, ...ud.controls],
    reference: `${SDM_COND}; ${SDM_OTHER}`,
  };
  return d;
}
