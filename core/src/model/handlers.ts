/**
 * Which handler takes an exit: the handler specialised by the exit's operand
 * (`handler MSR_WRITE IA32_TSC_DEADLINE { … }`, docs/language.md "Handlers by operand") when one
 * matches, else the general `handler REASON { … }`, else none (the unhandled-exit diagnostic,
 * TL310, and the default handler estimate). The estimator, the simulator, the lints and the
 * language server all choose through here, so they agree on it.
 */
import type { GuestOp, HandlerIR, HandlerOperand, Program } from "./ir";

/**
 * The handler tables of one level: the file's own (L0: a Program) or a `hypervisor` block's
 * (L1: a HypervisorIR, whose handlers take the exits L0 reflects to it). Both have the same two
 * maps, so one choice point serves every level.
 */
export type HandlerTables = Pick<Program, "handlers" | "operandHandlers">;

/** The operand of one guest operation's exit, as a specialised handler matches it. */
export type ExitOperand =
  | { kind: "msr"; msr: number }
  | { kind: "port"; port: number; direction: "in" | "out" }
  | { kind: "gpa"; gpa: bigint }
  | { kind: "nr"; nr: number };

/** The operand a guest operation's exits carry; undefined for one without (or a `vmcall` without a number). */
export function guestOperandOf(op: GuestOp): ExitOperand | undefined {
  switch (op.op) {
    case "rdmsr":
    case "wrmsr":
      return { kind: "msr", msr: op.msr };
    case "in":
    case "out":
      return { kind: "port", port: op.port, direction: op.op };
    case "mmio":
    case "mem":
      return { kind: "gpa", gpa: op.gpa };
    case "vmcall":
      return op.nr === undefined ? undefined : { kind: "nr", nr: op.nr };
    default:
      return undefined;
  }
}

export function operandMatches(handler: HandlerOperand, operand: ExitOperand): boolean {
  switch (handler.kind) {
    case "msr":
      return operand.kind === "msr" && operand.msr === handler.msr;
    case "port":
      return (
        operand.kind === "port" &&
        operand.port >= handler.from &&
        operand.port <= handler.to &&
        (handler.direction === undefined || handler.direction === operand.direction)
      );
    case "gpa":
      return operand.kind === "gpa" && operand.gpa >= handler.from && operand.gpa <= handler.to;
    case "nr":
      return operand.kind === "nr" && operand.nr >= handler.from && operand.nr <= handler.to;
  }
}

/**
 * The index, in `table`'s list for `code`, of the specialised handler an exit with `operand`
 * runs; undefined when none matches (the general handler runs). Specialisations of one reason
 * never overlap (TL116), so at most one matches.
 */
export function operandHandlerIndex(
  table: ReadonlyMap<number, readonly HandlerIR[]> | undefined,
  code: number,
  operand: ExitOperand | undefined,
): number | undefined {
  if (operand === undefined || table === undefined) return undefined;
  const list = table.get(code);
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) if (operandMatches(list[i]!.operand!, operand)) return i;
  return undefined;
}

/**
 * The handler of an exit of reason `code`: the specialised one at `variant` (an index from
 * operandHandlerIndex, carried by the exit's ExitEffect.handler or NestedExit.handler), else the
 * general handler.
 */
export function handlerOf(program: HandlerTables, code: number, variant?: number): HandlerIR | undefined {
  if (variant !== undefined) {
    const specialised = program.operandHandlers?.get(code)?.[variant];
    if (specialised !== undefined) return specialised;
  }
  return program.handlers.get(code);
}

/** Whether the program has any handler for `code`, general or specialised. */
export function hasAnyHandler(program: HandlerTables, code: number): boolean {
  return program.handlers.has(code) || (program.operandHandlers?.get(code)?.length ?? 0) > 0;
}

/** "MSR_WRITE IA32_TSC_DEADLINE" for a specialised handler, "MSR_WRITE" for the general one. */
export function handlerTitle(handler: HandlerIR): string {
  return handler.operand ? `${handler.reason.name} ${handler.operand.label}` : handler.reason.name;
}

/**
 * One number per (reason, handler) for memo tables keyed by number: the reason code for the
 * general handler (or none), above the basic-reason range for a specialised one.
 */
export function handlerKey(code: number, variant: number | undefined): number {
  return variant === undefined ? code : code + (variant + 1) * 65_536;
}

/** A specialised handler's index in its reason's list (what ExitEffect.handler holds); undefined for a general one. */
export function handlerVariantOf(program: HandlerTables, handler: HandlerIR): number | undefined {
  if (handler.operand === undefined) return undefined;
  const index = program.operandHandlers?.get(handler.reason.code)?.indexOf(handler) ?? -1;
  return index < 0 ? undefined : index;
}
