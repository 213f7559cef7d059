/**
 * `expect GUEST { METRIC < LIMIT … }` (budgets the estimate is checked against) and
 * `simulate GUEST for T [seed N]`.
 */

import type { Budget, ExpectDecl, SimulateDecl } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { BUDGET_METRICS } from "../../lang/grammar";
import { exitReasonByName, exitReasonNames } from "../../vmx/exitReasons";
import type { ExitReasonDef } from "../../vmx/types";
import { base, dimensionOf, integer, rate, seconds } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { ExpectIR, ExpectMetric, SimulateIR } from "../ir";

export function lowerExpect(ctx: LowerContext, decl: ExpectDecl): void {
  if (decl.guest === undefined) return;
  ctx.referenceLater("guest", decl.guest, "TL112");
  const expect: ExpectIR = {
    guest: decl.guest.name,
    guestSpan: decl.guest,
    budgets: [],
    span: spanOf(decl),
  };
  for (const entry of decl.body?.entries ?? []) {
    if (entry.kind !== "Budget") continue;
    const lowered = budget(ctx, entry);
    if (lowered !== undefined) expect.budgets.push(lowered);
  }
  ctx.program.expects.push(expect);
}

function budget(ctx: LowerContext, entry: Budget): ExpectIR["budgets"][number] | undefined {
  if (entry.comparator === undefined || entry.value === undefined) return undefined;
  const comparator = entry.comparator.text;
  if (comparator !== "<" && comparator !== "<=") {
    ctx.error("TL208", "budgets are upper limits: write `<` or `<=`", entry.comparator);
    return undefined;
  }
  const [head, ...rest] = entry.metric;
  if (head === undefined) return undefined;
  const value = entry.value;
  let metric: ExpectMetric | undefined;
  let normalised: number | undefined;
  const percentile = /^p(\d{1,2}(?:_\d+)?)$/.exec(head.name);
  if (head.name === "overhead" || head.name === "host_cpu") {
    if (rest.length > 0) ctx.error("TL201", `\`${head.name}\` takes no argument`, rest[0]!);
    metric = { metric: head.name };
    if (value.kind === "Quantity" && dimensionOf(value) === "percent") normalised = base(value);
    else if (head.name === "host_cpu" && value.kind === "Number")
      normalised = value.value; // cores
    else
      ctx.error(
        "TL202",
        `expected a percentage${head.name === "host_cpu" ? " or a number of cores" : ""} for \`${head.name}\``,
        value,
      );
  } else if (head.name === "exits") {
    let reason: ExitReasonDef | undefined;
    if (rest.length > 1) ctx.error("TL201", "`exits` takes at most one exit reason", rest[1]!);
    if (rest[0] !== undefined) {
      reason = exitReasonByName(rest[0].name);
      if (reason === undefined) {
        ctx.unknown("TL105", "exit reason", rest[0], exitReasonNames());
        return undefined;
      }
      ctx.referenceLater("handler", rest[0], undefined, reason.name);
    }
    metric = reason === undefined ? { metric: "exits" } : { metric: "exits", reason };
    normalised = rate(ctx, value, "<", entry.comparator);
  } else if (percentile !== null) {
    const of = rest[0];
    if (of === undefined) {
      ctx.error("TL201", `expected what \`${head.name}\` measures, e.g. \`${head.name} irq_latency\``, head);
      return undefined;
    }
    const p = Number(percentile[1]!.replace("_", "."));
    metric = { metric: "latency", percentile: p, of: of.name };
    normalised = seconds(ctx, value, "<", entry.comparator);
  } else {
    ctx.unknown("TL114", "metric", head, BUDGET_METRICS);
    return undefined;
  }
  if (normalised === undefined || metric === undefined) return undefined;
  if (normalised < 0) {
    ctx.error("TL205", "a budget must not be negative", value);
    return undefined;
  }
  return { metric, comparator, value: normalised, span: spanOf(entry) };
}

export function lowerSimulate(ctx: LowerContext, decl: SimulateDecl): void {
  if (decl.guest === undefined) return;
  ctx.referenceLater("guest", decl.guest, "TL112");
  if (decl.duration === undefined) return;
  const durationSec = seconds(ctx, decl.duration, "for", keywordSpanOf(decl));
  let seed = 1;
  if (decl.seed !== undefined) {
    const s = integer(ctx, decl.seed, "a seed", "seed", decl.seed, 0, Number.MAX_SAFE_INTEGER);
    if (s !== undefined) seed = s;
  }
  if (durationSec === undefined) return;
  const simulate: SimulateIR = {
    guest: decl.guest.name,
    guestSpan: decl.guest,
    durationSec,
    seed,
    span: spanOf(decl),
  };
  ctx.program.simulates.push(simulate);
}
