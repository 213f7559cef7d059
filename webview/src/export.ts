/**
 * Exports: the per-reason statistics as CSV (raw numbers in SI units, exactly the simulator's
 * fields, so a spreadsheet can recompute anything) and the trace as Chrome trace-event JSON.
 */
import { timelineToTrace } from "../../core/src/results";
import type { PanelRun } from "../../protocol/panel";

const CSV_COLUMNS = [
  "reason",
  "code",
  "exits",
  "exits_per_second",
  "cycles_per_exit",
  "transition_cycles",
  "handler_cycles",
  "userspace_cycles",
  "share",
  "mean_s",
  "p50_s",
  "p99_s",
  "max_s",
  "estimated_exits_per_second",
  "estimated_cycles_per_exit",
] as const;

function csvField(value: string | number | undefined): string {
  if (value === undefined) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One header line, one line per exit reason, then a `total` line. RFC 4180 quoting. */
export function statsCsv(run: PanelRun): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of run.stats.byReason) {
    const est = run.estimate?.byReason.find((e) => e.code === r.code);
    lines.push(
      [
        r.reason,
        r.code,
        r.exits,
        r.exitsPerSecond,
        r.cyclesPerExit,
        r.transitionCycles,
        r.handlerCycles,
        r.userspaceCycles,
        r.share,
        r.duration.mean,
        r.duration.p50,
        r.duration.p99,
        r.duration.max,
        est?.exitsPerSecond,
        est?.cyclesPerExit,
      ]
        .map(csvField)
        .join(","),
    );
  }
  const s = run.stats;
  lines.push(
    [
      "total",
      "",
      s.exits,
      s.exitsPerSecond,
      "",
      "",
      "",
      "",
      1,
      "",
      "",
      "",
      "",
      run.estimate?.exitsPerSecond,
      "",
    ]
      .map(csvField)
      .join(","),
  );
  return `${lines.join("\r\n")}\r\n`;
}

/** "netperf.vmcs" + guest "netperf" → "netperf.vmcs-netperf.csv". */
export function exportFileName(run: PanelRun, extension: string): string {
  const base = run.title.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "trapline";
  return `${base}.${extension}`;
}

/**
 * Chrome trace-event JSON of the run's timeline, by the simulator's converter (the same text
 * `trapline simulate --trace` writes), from core/src/sim/trace.ts.
 */
export function toChromeTraceJson(run: PanelRun): string {
  return timelineToTrace(run.timeline, { guest: run.guest });
}
