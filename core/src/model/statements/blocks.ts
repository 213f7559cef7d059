/**
 * The nested blocks handlers and guests share: `branch { P% [LABEL:] OPS … }` (probability
 * arms, TL204) and `repeat N { OPS }`. The caller passes how to lower the operations inside.
 */

import type { Arm, BlockEntry, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import type { Span } from "../../source";
import { base, integer } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { StatementLowerer } from "./table";

const MAX_REPEAT = 1_000_000;

/** Each arm of a `branch` with its operations lowered by `lowerOps`, and the probabilities checked. */
function branchArms<Op>(
  ctx: LowerContext,
  statement: Statement,
  lowerOps: (entries: readonly BlockEntry[]) => Op[],
): { probability: number; label: string | undefined; ops: Op[]; span: Span }[] {
  const armNodes = (statement.body?.entries ?? []).filter((e): e is Arm => e.kind === "Arm");
  const arms = armNodes.map((arm) => ({
    probability: armProbability(ctx, arm),
    label: arm.label?.name,
    ops: lowerOps(arm.statements),
    span: spanOf(arm),
  }));
  checkArmSum(ctx, armNodes, statement);
  // Arms above 100% in all (TL204, an error) are scaled to 100%: an estimate of the file is
  // then still made of probabilities (a remainder of 1 − 300% would weigh operations negatively).
  const total = arms.reduce((sum, arm) => sum + arm.probability, 0);
  if (total > 1 + 1e-9) for (const arm of arms) arm.probability /= total;
  return arms;
}

/** `repeat N { OPS }`: the count and the lowered body; undefined (diagnosed) for a bad count. */
function repeatBody<Op>(
  ctx: LowerContext,
  statement: Statement,
  lowerOps: (entries: readonly BlockEntry[]) => Op[],
): { count: number; ops: Op[] } | undefined {
  const count = integer(
    ctx,
    statement.items[0],
    "a repeat count",
    "repeat",
    keywordSpanOf(statement),
    0,
    MAX_REPEAT,
  );
  // The body is lowered (and diagnosed) even when the count is not valid.
  const ops = lowerOps(statement.body?.entries ?? []);
  return count === undefined ? undefined : { count, ops };
}

function armProbability(ctx: LowerContext, arm: Arm): number {
  const value = base(arm.probability);
  if (value === undefined) return 0;
  if (value < 0 || value > 1) {
    ctx.error(
      "TL204",
      `a probability must be between 0% and 100%, found ${arm.probability.text}`,
      arm.probability,
    );
    return Math.min(1, Math.max(0, value));
  }
  return value;
}

function checkArmSum(ctx: LowerContext, arms: Arm[], statement: Statement): void {
  let total = 0;
  for (const arm of arms) total += Math.max(0, base(arm.probability) ?? 0);
  // Percentages are written with at most a few decimals; allow rounding noise.
  if (total > 1 + 1e-9) {
    ctx.error(
      "TL204",
      `branch probabilities add up to ${Math.round(total * 1e4) / 100}%, more than 100%`,
      keywordSpanOf(statement),
      { related: arms.map((arm) => ({ span: arm.probability, message: arm.probability.text })) },
    );
  }
}

/** The operations `branch` and `repeat` lower to, whose inner operations are `Op`s. */
export type NestedBlockOp<Op> =
  | {
      op: "branch";
      arms: { probability: number; label: string | undefined; ops: Op[]; span: Span }[];
      span: Span;
    }
  | { op: "repeat"; count: number; ops: Op[]; span: Span };

/** The `branch` and `repeat` lowerers of a block whose operations `lowerOps` lowers (handlers, guests). */
export function nestedBlockStatements<Scope, Op>(
  lowerOps: (ctx: LowerContext, entries: readonly BlockEntry[], scope: Scope) => Op[],
): StatementLowerer<Scope, NestedBlockOp<Op> | undefined>[] {
  return [
    {
      keywords: ["branch"],
      lower(ctx, scope, statement) {
        const arms = branchArms(ctx, statement, (entries) => lowerOps(ctx, entries, scope));
        return { op: "branch", arms, span: spanOf(statement) };
      },
    },
    {
      keywords: ["repeat"],
      lower(ctx, scope, statement) {
        const body = repeatBody(ctx, statement, (entries) => lowerOps(ctx, entries, scope));
        return body && { op: "repeat", count: body.count, ops: body.ops, span: spanOf(statement) };
      },
    },
  ];
}
