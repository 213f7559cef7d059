/**
 * What the panel shows of an imported trace that a simulation does not have: the subtitle (format,
 * window on the trace's own clock, lines, whether the lanes are a bounded sample) and the
 * per-reason table of measured latencies (count, rate, mean, p50, p99, max, share of time: the
 * figures `trapline trace` prints; no estimate columns, no cycles, which a trace does not have).
 */
import { formatInteger, formatPercent, formatRate, formatSeconds } from "../../core/src/util/format";
import type { PanelRun } from "../../protocol/panel";
import { el, row, selectable, swatch, table } from "./statsView";

export function traceSubtitle(run: PanelRun): string {
  const t = run.trace!;
  const parts = [
    `measured trace (${t.format})`,
    `${run.stats.vcpus} vCPU${run.stats.vcpus === 1 ? "" : "s"}`,
  ];
  if (t.window)
    parts.push(`window ${t.window.startSec.toFixed(6)} – ${t.window.endSec.toFixed(6)} s (trace clock)`);
  parts.push(
    `${formatInteger(t.lines)} lines${t.badLines > 0 ? `, ${formatInteger(t.badLines)} not understood` : ""}`,
  );
  if (t.kind !== "events") parts.push("statistics only: no events to draw");
  else if (t.sampleStride > 1)
    parts.push(
      `bounded sample: ${formatInteger(t.drawnExits)} of ${formatInteger(run.stats.exits)} exits drawn`,
    );
  else parts.push("every exit drawn");
  return parts.join(" · ");
}

/** Per exit reason, as measured; rows select the reason for the histogram as in reasonTable. */
export function traceReasonTable(
  run: PanelRun,
  colourClass: (code: number) => string,
  onSelect: (code: number | undefined) => void,
  selected?: number,
): HTMLTableElement {
  const latency = run.trace?.kind !== "counters";
  const rows = run.stats.byReason.map((r) => {
    const tr = row(
      [
        el("span", {}, swatch(colourClass(r.code)), r.reason),
        formatInteger(r.exits),
        formatRate(r.exitsPerSecond),
        latency ? formatSeconds(r.duration.mean) : "—",
        latency ? formatSeconds(r.duration.p50) : "—",
        latency ? formatSeconds(r.duration.p99) : "—",
        latency ? formatSeconds(r.duration.max) : "—",
        latency ? formatPercent(r.share) : "—",
      ],
      1,
      {
        tabindex: "0",
        "data-code": String(r.code),
        "data-reason": r.reason,
        "aria-selected": String(selected === r.code),
        title: "Show this reason's latency histogram (from the drawn exits)",
      },
    );
    return selectable(tr, r.code, onSelect, selected);
  });
  const percentiles =
    run.trace?.kind === "events"
      ? "p50/p99 from a log-bucketed histogram of every exit"
      : "report input: p50 = mean, p99 = max";
  return table(
    `Exits per reason (measured, exit → entry; ${percentiles})`,
    ["reason", "exits", "rate", "mean", "p50", "p99", "max", "share of time"],
    rows,
  );
}
