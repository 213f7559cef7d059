/**
 * How a budget's figure is named and printed, one place for the static check (TL401 in
 * lints.ts) and the simulated one (`trapline simulate`), so both say the same thing in the same
 * units: `host CPU 45% of a core (static estimate) violates the budget < 30% of a core` and
 * `host CPU 47% of a core (simulated) violates …` (issue #12: they used to differ).
 */
import type { ExpectMetric } from "../model/ir";
import { formatPercent, formatRate, formatSeconds } from "../util/format";

export interface BudgetFigure {
  label: string;
  format: (value: number) => string;
}

export function budgetFigure(metric: ExpectMetric): BudgetFigure {
  switch (metric.metric) {
    case "overhead":
      return { label: "overhead", format: formatPercent };
    case "exits":
      return { label: metric.reason ? `${metric.reason.name} exits` : "exits", format: formatRate };
    case "host_cpu":
      return { label: "host CPU", format: (v) => `${formatPercent(v)} of a core` };
    case "latency":
      return { label: `p${metric.percentile} ${metric.of}`, format: formatSeconds };
  }
}

/** The message of a violated budget; `how` is "static estimate" or "simulated". */
export function budgetViolationMessage(
  metric: ExpectMetric,
  actual: number,
  comparator: "<" | "<=",
  limit: number,
  guest: string,
  how: "static estimate" | "simulated",
): string {
  const { label, format } = budgetFigure(metric);
  return `${label} ${format(actual)} (${how}) violates the budget ${comparator} ${format(limit)} of guest ${guest}`;
}
