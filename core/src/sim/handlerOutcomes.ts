/**
 * A handler's outcomes: one per combination of its branch arms, each with its cycles (handler,
 * user space) and effects (halt, kicks, injected vectors), as the plan costs an exit reason.
 * Called fns are walked once each, in post-order by an explicit stack.
 */
import type { HandlerOp, Program } from "../model/ir";
import type { ExitPlan } from "./plan";

export interface HandlerOutcome {
  probability: number;
  handler: number;
  userspace: number;
  halt: boolean;
  kicks: number;
  injects: number[];
}

/** Handler outcomes beyond this many are merged into their mean (deeply nested branches). */
export const MAX_OUTCOMES = 64;

/**
 * Fills an exit plan's per-outcome arrays from its scaled outcomes: cumulative probabilities,
 * handler cycles (and user space when `withUserspace`: a nested plan's is in its chain), a
 * `halt`'s wake-up when the exit has a handler, kicks and injections. One loop for the
 * single-level plans (plan.ts) and the reflected ones (nestedPlan.ts).
 */
export function fillOutcomes(
  plan: ExitPlan,
  outcomes: HandlerOutcome[],
  wake: number,
  hasHandler: boolean,
  withUserspace: boolean,
): void {
  let cumulative = 0;
  const n = outcomes.length;
  const total = outcomes.reduce((sum, o) => sum + o.probability, 0) || 1;
  outcomes.forEach((o, i) => {
    cumulative += o.probability / total;
    plan.cumulative[i] = i === n - 1 ? 1 : cumulative;
    plan.handler[i] = o.handler;
    if (withUserspace) plan.userspace[i] = o.userspace;
    plan.halt[i] = o.halt ? 1 : 0;
    plan.wake[i] = hasHandler && o.halt ? wake : 0;
    plan.kicks[i] = Math.min(255, o.kicks);
    plan.injects.push(o.injects);
    if (o.halt || o.kicks > 0 || o.injects.length > 0) plan.hasEffects = true;
  });
}

export function emptyOutcome(probability: number): HandlerOutcome {
  return { probability, handler: 0, userspace: 0, halt: false, kicks: 0, injects: [] };
}

export function mergeOutcomes(outcomes: HandlerOutcome[]): HandlerOutcome {
  const m = emptyOutcome(1);
  for (const o of outcomes) {
    m.handler += o.probability * o.handler;
    m.userspace += o.probability * o.userspace;
    m.halt ||= o.halt;
    m.kicks = Math.max(m.kicks, o.kicks);
    for (const v of o.injects) if (!m.injects.includes(v)) m.injects.push(v);
  }
  return m;
}

export function scaleTo(
  outcomes: HandlerOutcome[],
  get: (o: HandlerOutcome) => number,
  set: (o: HandlerOutcome, v: number) => void,
  target: number,
): void {
  const total = outcomes.reduce((s, o) => s + o.probability, 0) || 1;
  const mean = outcomes.reduce((s, o) => s + o.probability * get(o), 0) / total;
  if (!(target > 0)) {
    for (const o of outcomes) set(o, 0);
  } else if (mean > 0) {
    const k = target / mean;
    for (const o of outcomes) set(o, get(o) * k);
  } else {
    for (const o of outcomes) set(o, target);
  }
}

/**
 * The outcomes of every fn a handler's ops reach, each walked once (a call graph costs its size,
 * not its paths: diamond-shaped graphs stay linear) and in post-order by an explicit stack (a
 * chain of thousands of fns does not deepen the JS stack). A call back into a fn being walked
 * (a cycle, TL110) adds nothing, as handlerCost does not count a recursive call.
 */
export function walkCalledFns(ops: HandlerOp[], program: Program, costs: Costs, memo: FnOutcomes): void {
  const started = new Set<string>(memo.keys());
  const stack: { name: string; ops: HandlerOp[]; calls: string[]; next: number }[] = [];
  const visit = (name: string): void => {
    const fn = program.fns.get(name);
    if (!fn || started.has(name)) return;
    started.add(name);
    stack.push({ name, ops: fn.ops, calls: callsIn(fn.ops), next: 0 });
  };
  for (const name of callsIn(ops)) {
    visit(name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.calls.length) visit(top.calls[top.next++]);
      else {
        stack.pop();
        memo.set(top.name, walkHandler(top.ops, program, costs, memo));
      }
    }
  }
}

/** The fns called in `ops` (nested blocks included; block nesting is capped by the parser). */
function callsIn(ops: HandlerOp[], out: string[] = []): string[] {
  for (const h of ops) {
    if (h.op === "call") out.push(h.fn);
    else if (h.op === "repeat") callsIn(h.ops, out);
    else if (h.op === "branch") for (const arm of h.arms) callsIn(arm.ops, out);
  }
  return out;
}

type Costs = Program["target"]["costs"];
/** Outcomes of each fn walked so far, by name (shared, never mutated: combine copies). */
export type FnOutcomes = Map<string, HandlerOutcome[]>;

/**
 * The handler's outcomes: one per combination of branch arms, each with its cost and effects.
 * Called fns are read from `memo` (walkCalledFns fills it first).
 */
export function walkHandler(
  ops: HandlerOp[],
  program: Program,
  costs: Costs,
  memo: FnOutcomes,
): HandlerOutcome[] {
  let outcomes: HandlerOutcome[] = [emptyOutcome(1)];
  const addAll = (cycles: number, userspace = 0): void => {
    for (const o of outcomes) {
      o.handler += cycles;
      o.userspace += userspace;
    }
  };
  const cost = (name: keyof typeof costs): number => costs[name]?.cycles ?? 0;
  for (const h of ops) {
    switch (h.op) {
      case "vmread":
      case "vmwrite":
        addAll(cost(h.op));
        break;
      case "work":
        addAll(h.cycles);
        break;
      case "decode":
      case "advance_rip":
      case "invept":
      case "invvpid":
        addAll(cost(h.op));
        break;
      case "inject":
        addAll(cost("inject"));
        for (const o of outcomes) o.injects.push(h.vector);
        break;
      case "userspace":
        addAll(0, cost("userspace_round_trip") + h.cycles);
        break;
      case "halt":
        for (const o of outcomes) o.halt = true;
        break;
      case "vmptrld":
      case "vmclear":
        addAll(cost("vmptrld"));
        break;
      case "vmresume":
      case "vmlaunch":
        // L0's VM entry is part of the round trip (analysis/cost.ts).
        break;
      case "kick":
        addAll(cost("ipi"));
        for (const o of outcomes) o.kicks++;
        break;
      case "call": {
        const called = memo.get(h.fn);
        if (called) outcomes = combine(outcomes, called);
        if (outcomes.length > MAX_OUTCOMES) outcomes = [mergeOutcomes(outcomes)];
        break;
      }
      case "repeat": {
        // A repeated body with branches is taken at its mean (the product of arms explodes).
        const body = mergeOutcomes(walkHandler(h.ops, program, costs, memo));
        const times = Math.max(0, h.count);
        body.handler *= times;
        body.userspace *= times;
        body.kicks *= times;
        body.injects = times > 0 ? body.injects : [];
        outcomes = combine(outcomes, [body]);
        break;
      }
      case "branch": {
        const arms: HandlerOutcome[] = [];
        let sum = 0;
        for (const arm of h.arms) {
          sum += arm.probability;
          for (const o of walkHandler(arm.ops, program, costs, memo)) {
            o.probability *= arm.probability;
            arms.push(o);
          }
        }
        if (sum < 1) arms.push(emptyOutcome(1 - sum));
        outcomes = combine(outcomes, arms);
        if (outcomes.length > MAX_OUTCOMES) outcomes = [mergeOutcomes(outcomes)];
        break;
      }
    }
  }
  return outcomes;
}

function combine(left: HandlerOutcome[], right: HandlerOutcome[]): HandlerOutcome[] {
  const out: HandlerOutcome[] = [];
  for (const l of left) {
    for (const r of right) {
      out.push({
        probability: l.probability * r.probability,
        handler: l.handler + r.handler,
        userspace: l.userspace + r.userspace,
        halt: l.halt || r.halt,
        kicks: l.kicks + r.kicks,
        injects: [...l.injects, ...r.injects],
      });
    }
  }
  return out;
}
