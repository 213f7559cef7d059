/**
 * The per-handler figures of one exit reason whose exits are taken by several handlers (the
 * handlers specialised by operand and the general one, model/handlers.ts): each handler's rate
 * and cost, and the rate-weighted mean the reason's row of the estimate reports.
 */
import { handlerOf, handlerTitle } from "../model/handlers";
import type { Program, VmcsIR } from "../model/ir";
import { exitReasonByCode } from "../vmx/exitReasons";
import { exitCost } from "./transitionCost";
import type { HandlerEstimate } from "./types";

export interface HandlerSplit {
  /** The reason's cost per exit, weighted by the rate each handler takes. */
  mean: { total: number; transition: number; handler: number; userspace: number };
  handlers: HandlerEstimate[];
}

/**
 * `perSecond`: the reason's exits per second per vCPU; `variants`: the part of it each
 * specialised handler takes (by index); the rest is the general handler's (or the default
 * estimate's, without one).
 */
export function handlerSplit(
  program: Program,
  vmcs: VmcsIR | undefined,
  code: number,
  migrating: boolean,
  perSecond: number,
  variants: ReadonlyMap<number, number>,
  vcpus: number,
): HandlerSplit {
  const rows: { variant: number | undefined; rate: number }[] = [];
  let specialised = 0;
  for (const [variant, rate] of [...variants].sort((a, b) => a[0] - b[0])) {
    rows.push({ variant, rate });
    specialised += rate;
  }
  const rest = perSecond - specialised;
  // Rounding can leave a sliver: below a millionth of the reason's rate it is none.
  if (rest > perSecond * 1e-9) rows.push({ variant: undefined, rate: rest });
  const mean = { total: 0, transition: 0, handler: 0, userspace: 0 };
  const handlers: HandlerEstimate[] = [];
  for (const { variant, rate } of rows) {
    const cost = exitCost(program, vmcs, code, migrating, variant);
    const weight = perSecond > 0 ? rate / perSecond : 0;
    mean.total += weight * cost.total;
    mean.transition += weight * cost.transition;
    mean.handler += weight * cost.handler;
    mean.userspace += weight * cost.userspace;
    const handler = handlerOf(program, code, variant);
    const row: HandlerEstimate = {
      handler: handler ? handlerTitle(handler) : `${exitReasonByCode(code)?.name ?? code} (no handler)`,
      exitsPerSecond: rate * vcpus,
      cyclesPerExit: cost.total,
      transitionCycles: cost.transition,
      handlerCycles: cost.handler,
      userspaceCycles: cost.userspace,
    };
    if (handler?.operand) row.operand = handler.operand.label;
    if (handler) row.span = { start: handler.reasonSpan.start, end: handler.reasonSpan.end };
    handlers.push(row);
  }
  return { mean, handlers };
}
