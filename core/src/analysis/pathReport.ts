/**
 * The per-path figures in words, shared by the CLI's estimate text, the hover on a source line
 * and the Show Estimate report: the rate with its unit (per vCPU and for the guest), exits and
 * host cycles per execution, the latency its exits add, and a `coalesce` site's batch and wait.
 */
import { formatCompact, formatInteger, formatRate, formatRateScope, formatSignificant } from "../util/format";
import type { CoalesceWaitEstimate, PathEstimate, PathLatencySummary } from "./types";

/** "1.23 µs" from seconds (three significant figures). */
export function formatMicros(seconds: number): string {
  return `${formatSignificant(seconds * 1e6)} µs`;
}

/** "mean 8.6 µs, p50 8.5 µs, p99 9.9 µs". */
export function formatLatencySummary(l: PathLatencySummary): string {
  return `mean ${formatMicros(l.mean)}, p50 ${formatMicros(l.p50)}, p99 ${formatMicros(l.p99)}`;
}

/** The rate line: "50k/s per vCPU (200k/s for the guest's 4 vCPUs)", and how the file wrote it. */
export function pathRateText(path: PathEstimate, vcpus: number): string {
  const written =
    path.ratePer === "guest"
      ? `; written \`per guest\`: ${formatRate(path.guestExecutionsPerSecond)} over ${vcpus} vCPU${vcpus === 1 ? "" : "s"}`
      : "";
  return `${formatRateScope(path.executionsPerSecond, vcpus)}${written}`;
}

/** One `coalesce` site in words. */
export function coalesceText(c: CoalesceWaitEstimate): string {
  return `coalesce ${c.count} or ${formatMicros(c.timeoutSec)}: ${formatCompact(c.batchSize)} executions per notification (${formatSignificant(c.flushesPerExecution)} per execution, ${formatSignificant(c.timeoutShare * 100)} % of batches closed by the timeout); wait until the flush ${formatLatencySummary(c.wait)}, max ${formatMicros(c.wait.max)}`;
}

/** The per-execution figures of one path as lines (hover, report). */
export function pathFigureLines(path: PathEstimate, vcpus: number, hz: number): string[] {
  const lines = [`rate ${pathRateText(path, vcpus)}`];
  const byReason = path.exits.map((e) => `${e.reason}×${formatSignificant(e.perExecution)}`).join(", ");
  lines.push(
    `per execution: ${formatSignificant(path.exitsPerExecution)} exits${byReason ? ` (${byReason})` : ""}, ${formatInteger(path.exitCyclesPerExecution)} host cycles (${formatMicros(path.exitCyclesPerExecution / hz)}), ${formatInteger(path.guestCyclesPerExecution)} guest cycles`,
  );
  if (path.latency) lines.push(`latency its exits add: ${formatLatencySummary(path.latency)}`);
  for (const c of path.coalesce ?? []) lines.push(coalesceText(c));
  return lines;
}
