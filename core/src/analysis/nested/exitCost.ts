/**
 * One exit's cost and handler at the level that handles it (nested virtualization): an exit L0
 * keeps costs as a single-level exit under vmcs01, one L0 reflects costs its chain through L1
 * (chain.ts). Split out of estimate.ts, which sums these per source and level.
 */
import { handlerOf, handlerTitle } from "../../model/handlers";
import { exitCost as singleExitCost, vcpuMayMigrate } from "../transitionCost";
import { type ChainCost, reflectedChainCost } from "./chain";
import type { Level, NestedExit, NestedSetup } from "./reflect";

/**
 * Cycles at L0 and L1 and L0 transitions of one exit at a level; `variant`: the handler
 * specialised by the exit's operand at that level (NestedExit.handler), absent: the general one.
 */
export function exitCost(
  setup: NestedSetup,
  code: number,
  level: Level,
  variant?: number,
): { l0: number; l1: number; chain?: ChainCost } {
  // An exit L0 keeps: L0's handler and the transition of vmcs02, whose controls are L0's
  // (vmcs01) — the single-level exit cost under vmcs01, as the simulator's plan.
  if (level === "L0")
    return {
      l0: singleExitCost(setup.program, setup.vmcs01, code, vcpuMayMigrate(setup.guest), variant).total,
      l1: 0,
    };
  const chain = reflectedChainCost(setup.program, setup.hypervisor, code, variant);
  return { l0: chain.l0Cycles, l1: chain.l1Cycles, chain };
}

/** The handler an exit runs at its level, for the operation's row (hover, lint). */
export function handlerOfExit(
  setup: NestedSetup,
  x: NestedExit,
): { handlerVariant?: number; handler?: string } {
  const tables = x.level === "L1" ? setup.hypervisor : setup.program;
  const h = handlerOf(tables, x.reason.code, x.handler);
  return {
    ...(x.handler !== undefined ? { handlerVariant: x.handler } : {}),
    ...(h ? { handler: handlerTitle(h) } : {}),
  };
}
