/**
 * What one VM exit of a given reason costs, in cycles: the transition (the target's round
 * trip: VM exit + the hypervisor's minimal exit/entry path + VM entry) plus the handler's
 * operations, branches weighted by their probabilities and repeats multiplied, with a per-op
 * breakdown for hovers. Costs come from the target profile (each with its provenance) or from
 * the operation itself (`work N`, `userspace N`).
 */
import { handlerKey, handlerOf } from "../model/handlers";
import type { HandlerOp, Program } from "../model/ir";
import type { Span } from "../source";
import { EXIT } from "../vmx/exitReasons";
import type { CostName } from "../vmx/types";
import { type FnCost, type FnCosts, memoOf } from "./memo";

export interface HandlerOpCost {
  op: HandlerOp["op"];
  /** "vmread EXIT_QUALIFICATION", "userspace", … */
  label: string;
  span: Span;
  /** Expected cycles of this operation per exit (handler + user space, weighted). */
  cycles: number;
  /** The part of `cycles` spent in the user-space VMM (round trip + its work). */
  userspace: number;
  /** The target cost parameter used, when one was. */
  costName?: CostName;
  arms?: HandlerArmCost[];
  /** Operations inside a repeat or a called fn. */
  children?: HandlerOpCost[];
  note?: string;
}

export interface HandlerArmCost {
  label?: string;
  probability: number;
  span: Span;
  /** Cycles of the arm when taken (not weighted). */
  cycles: number;
  userspace: number;
  ops: HandlerOpCost[];
}

export interface HandlerCost {
  reasonCode: number;
  /** The operand of the specialised handler costed (`IA32_TSC_DEADLINE`); absent: the general one. */
  operand?: string;
  /** Whether the program has a handler for the reason. */
  handled: boolean;
  /** The target's round trip. */
  transition: number;
  /** Handler cycles in the hypervisor (weighted), user space excluded. */
  handler: number;
  /** User-space VMM cycles (userspace_round_trip + the given cost, weighted). */
  userspace: number;
  total: number;
  /** Per-operation breakdown (top level). */
  ops: HandlerOpCost[];
  /** Arms of the top-level branches, for hovers ("95% doorbell: 21,300 cycles"). */
  arms: HandlerArmCost[];
  /** True when a part of the total is the documented default handler estimate. */
  estimate: boolean;
  note?: string;
}

/**
 * Cycles an unhandled exit is charged beyond the round trip and one VMREAD: an estimate of a
 * minimal in-kernel handler (read the exit qualification, dispatch, a little work), not a
 * measurement. See docs/estimator.md.
 */
export const DEFAULT_HANDLER_WORK_CYCLES = 300;

/**
 * `variant`: the specialised handler that takes the exit (ExitEffect.handler, an index into
 * `program.operandHandlers`); absent: the general handler of the reason.
 */
export function handlerCost(program: Program, reasonCode: number, variant?: number): HandlerCost {
  const costs = memoOf(program).handlerCosts;
  const key = handlerKey(reasonCode, variant);
  const cached = costs.get(key);
  if (cached) return cached;
  const result = computeHandlerCost(program, reasonCode, variant);
  costs.set(key, result);
  return result;
}

function computeHandlerCost(program: Program, reasonCode: number, variant: number | undefined): HandlerCost {
  const costs = program.target.costs;
  const transition = costs.round_trip.cycles;
  const handler = handlerOf(program, reasonCode, variant);
  if (!handler) {
    let cycles = costs.vmread.cycles + DEFAULT_HANDLER_WORK_CYCLES;
    let note = `No handler: round trip + one VMREAD + ${DEFAULT_HANDLER_WORK_CYCLES} cycles (default handler, an estimate)`;
    if (reasonCode === EXIT.PML_FULL) {
      cycles += costs.pml_drain.cycles;
      note += " + the target's PML drain";
    } else if (reasonCode === EXIT.HLT) {
      cycles += costs.halt_wake.cycles;
      note += " + the target's halt wake-up";
    }
    return {
      reasonCode,
      handled: false,
      transition,
      handler: cycles,
      userspace: 0,
      total: transition + cycles,
      ops: [],
      arms: [],
      estimate: true,
      note: `${note}.`,
    };
  }
  const ops = costOps(handler.ops, program, memoOf(program).fnCosts);
  let total = 0;
  let userspace = 0;
  const arms: HandlerArmCost[] = [];
  for (const op of ops) {
    total += op.cycles;
    userspace += op.userspace;
    if (op.arms) arms.push(...op.arms);
  }
  return {
    reasonCode,
    ...(handler.operand ? { operand: handler.operand.label } : {}),
    handled: true,
    transition,
    handler: total - userspace,
    userspace,
    total: transition + total,
    ops,
    arms,
    estimate: false,
  };
}

function costOps(ops: readonly HandlerOp[], program: Program, fns: FnCosts): HandlerOpCost[] {
  return ops.map((op) => costOp(op, program, fns));
}

/**
 * Costs `name` and every fn it reaches that is not costed yet, callees first, with an explicit
 * stack: a chain of fns thousands deep (each `call`ing the next) would overflow the JavaScript
 * stack if each call were costed by recursion. When a fn's operations are costed, each fn they
 * call is done already or on the chain (a cycle: counts 0), so `costOps` never descends into a
 * call; its own recursion is bounded by the 64 levels blocks may nest.
 */
function costFn(name: string, program: Program, fns: FnCosts): FnCost {
  const chain: { name: string; ops: readonly HandlerOp[]; callees: string[]; next: number }[] = [];
  const enter = (callee: string): void => {
    const fn = program.fns.get(callee);
    if (!fn || fns.done.has(callee) || fns.calling.has(callee)) return;
    fns.calling.add(callee);
    chain.push({ name: callee, ops: fn.ops, callees: calledFns(fn.ops), next: 0 });
  };
  try {
    enter(name);
    while (chain.length > 0) {
      const top = chain[chain.length - 1]!;
      if (top.next < top.callees.length) {
        enter(top.callees[top.next++]!);
        continue;
      }
      const children = costOps(top.ops, program, fns);
      fns.done.set(top.name, { ...sum(children), children });
      fns.calling.delete(top.name);
      chain.pop();
    }
  } finally {
    for (const frame of chain) fns.calling.delete(frame.name);
  }
  return fns.done.get(name) ?? { cycles: 0, userspace: 0, children: [] };
}

/** The fns `ops` call, in order, inside repeats and branch arms too. */
function calledFns(ops: readonly HandlerOp[], into: string[] = []): string[] {
  for (const op of ops) {
    if (op.op === "call") into.push(op.fn);
    else if (op.op === "repeat") calledFns(op.ops, into);
    else if (op.op === "branch") for (const arm of op.arms) calledFns(arm.ops, into);
  }
  return into;
}

function sum(ops: HandlerOpCost[]): { cycles: number; userspace: number } {
  let cycles = 0;
  let userspace = 0;
  for (const o of ops) {
    cycles += o.cycles;
    userspace += o.userspace;
  }
  return { cycles, userspace };
}

function costOp(op: HandlerOp, program: Program, fns: FnCosts): HandlerOpCost {
  const costs = program.target.costs;
  const fixed = (name: CostName, label: string, note?: string): HandlerOpCost => {
    const c: HandlerOpCost = {
      op: op.op,
      label,
      span: op.span,
      cycles: costs[name].cycles,
      userspace: 0,
      costName: name,
    };
    if (note) c.note = note;
    return c;
  };
  switch (op.op) {
    case "vmread":
    case "vmwrite":
      return fixed(op.op, `${op.op} ${op.field.name}`);
    case "work":
      return { op: "work", label: "work", span: op.span, cycles: op.cycles, userspace: 0 };
    case "decode":
    case "advance_rip":
    case "invept":
    case "invvpid":
      return fixed(op.op, op.op);
    case "inject":
      return fixed("inject", `inject ${op.vector}`);
    case "halt":
      return fixed("halt_wake", "halt", "The wake-up is charged to the exit that blocked the vCPU.");
    case "kick":
      return fixed("ipi", "kick");
    case "vmptrld":
    case "vmclear":
      return fixed(
        "vmptrld",
        op.op,
        "L0's own VMPTRLD/VMCLEAR (in a `hypervisor` handler these exit to L0).",
      );
    case "vmresume":
    case "vmlaunch":
      return {
        op: op.op,
        label: op.op,
        span: op.span,
        cycles: 0,
        userspace: 0,
        note: "L0's VM entry is part of the round trip (in a `hypervisor` handler it is L1's nested VM entry).",
      };
    case "userspace": {
      const cycles = costs.userspace_round_trip.cycles + op.cycles;
      return {
        op: "userspace",
        label: "userspace",
        span: op.span,
        cycles,
        userspace: cycles,
        costName: "userspace_round_trip",
        note: `userspace_round_trip ${costs.userspace_round_trip.cycles} + ${Math.round(op.cycles)}`,
      };
    }
    case "call": {
      const fn = program.fns.get(op.fn);
      if (!fn)
        return {
          op: "call",
          label: `call ${op.fn}`,
          span: op.span,
          cycles: 0,
          userspace: 0,
          note: "unknown fn",
        };
      if (fns.calling.has(op.fn))
        return {
          op: "call",
          label: `call ${op.fn}`,
          span: op.span,
          cycles: 0,
          userspace: 0,
          note: "recursive call: not counted",
        };
      const cost = fns.done.get(op.fn) ?? costFn(op.fn, program, fns);
      return { op: "call", label: `call ${op.fn}`, span: op.span, ...cost };
    }
    case "repeat": {
      const children = costOps(op.ops, program, fns);
      const s = sum(children);
      return {
        op: "repeat",
        label: `repeat ${op.count}`,
        span: op.span,
        cycles: s.cycles * op.count,
        userspace: s.userspace * op.count,
        children,
      };
    }
    case "branch": {
      const arms: HandlerArmCost[] = op.arms.map((arm) => {
        const armOps = costOps(arm.ops, program, fns);
        const s = sum(armOps);
        const a: HandlerArmCost = { probability: arm.probability, span: arm.span, ...s, ops: armOps };
        if (arm.label !== undefined) a.label = arm.label;
        return a;
      });
      let cycles = 0;
      let userspace = 0;
      for (const a of arms) {
        cycles += a.probability * a.cycles;
        userspace += a.probability * a.userspace;
      }
      return { op: "branch", label: "branch", span: op.span, cycles, userspace, arms };
    }
  }
}
