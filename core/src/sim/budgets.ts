/**
 * `expect` budgets checked against a simulation: the estimator's metrics measured (overhead,
 * exits, exits REASON, host_cpu) and the simulated ones (`p99 irq_latency` and the like).
 */
import type { ExpectIR, Program } from "../model/ir";
import type { Span } from "../source";
import type { LatencyStats, SimulationResult } from "./types";

export interface SimulatedBudgetResult {
  /** "overhead", "exits", "exits EPT_VIOLATION", "p99 irq_latency". */
  metric: string;
  comparator: "<" | "<=";
  limit: number;
  value: number;
  ok: boolean;
  span: Span;
}

/** Latency distribution named by a budget: "irq_latency" (all interrupts) or "<source>_latency". */
function latencyOf(result: SimulationResult, of: string): LatencyStats | undefined {
  const name = of.replace(/_latency$/, "");
  if (name === "irq" || name === "interrupt" || name === "") return result.latency.irq;
  return result.latency.bySource[name];
}

function percentileOf(stats: LatencyStats, percentile: number): number {
  if (percentile >= 100) return stats.max;
  if (percentile === 50) return stats.p50;
  if (percentile === 99) return stats.p99;
  if (percentile <= 0) return stats.min;
  // Only p50/p99/max are kept in the result; other percentiles take the next one up.
  return percentile < 50 ? stats.p50 : percentile < 99 ? stats.p99 : stats.max;
}

export function checkSimulatedBudgets(program: Program, result: SimulationResult): SimulatedBudgetResult[] {
  const out: SimulatedBudgetResult[] = [];
  const expects: ExpectIR[] = program.expects.filter((e) => e.guest === result.guest);
  for (const expect of expects) {
    for (const budget of expect.budgets) {
      const m = budget.metric;
      let metric: string;
      let value: number | undefined;
      switch (m.metric) {
        case "overhead":
          metric = "overhead";
          value = result.overhead;
          break;
        case "host_cpu":
          metric = "host_cpu";
          value = result.hostCpu;
          break;
        case "exits":
          if (m.reason) {
            metric = `exits ${m.reason.name}`;
            value = result.byReason.find((r) => r.code === m.reason?.code)?.exitsPerSecond ?? 0;
          } else {
            metric = "exits";
            value = result.exitsPerSecond;
          }
          break;
        case "latency": {
          metric = `p${m.percentile} ${m.of}`;
          const stats = latencyOf(result, m.of);
          value = stats ? percentileOf(stats, m.percentile) : undefined;
          break;
        }
      }
      if (value === undefined) continue;
      const ok = budget.comparator === "<" ? value < budget.value : value <= budget.value;
      out.push({ metric, comparator: budget.comparator, limit: budget.value, value, ok, span: budget.span });
    }
  }
  return out;
}
