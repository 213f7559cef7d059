/**
 * The statistics view: summary figures (simulated beside the static estimate), a table per exit
 * reason with the numbers exactly as the simulator computed them (the same fields
 * `trapline simulate --json` prints; nothing is recomputed here), the statistics of a selected
 * interval (these are computed from the drawn timeline, and say so), and the per-reason
 * differences of two runs for "Compare Configurations".
 */
import { type ReasonEstimate, VCPU_STATE_NAMES } from "../../core/src/results";
import {
  formatCores,
  formatInteger,
  formatNanoseconds,
  formatPercent,
  formatRate,
  formatSeconds,
} from "../../core/src/util/format";
import type { PanelRun } from "../../protocol/panel";
import { formatChange } from "./format";
import type { RangeStats } from "./timelineIndex";

type Child = Node | string;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    else element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

export function swatch(className: string): HTMLElement {
  return el("span", { class: `swatch ${className}`, "aria-hidden": "true" });
}

export function table(
  caption: string,
  headers: string[],
  rows: HTMLTableRowElement[],
  numericFrom = 1,
): HTMLTableElement {
  return el(
    "table",
    { class: "stats" },
    el("caption", {}, caption),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ...headers.map((h, i) => el("th", { scope: "col", class: i >= numericFrom ? "num" : "" }, h)),
      ),
    ),
    el("tbody", {}, ...rows),
  );
}

export function row(
  cells: Child[],
  numericFrom = 1,
  attributes: Record<string, string> = {},
): HTMLTableRowElement {
  return el(
    "tr",
    attributes,
    ...cells.map((cell, i) =>
      i === 0 ? el("th", { scope: "row" }, cell) : el("td", { class: i >= numericFrom ? "num" : "" }, cell),
    ),
  );
}

/** A reason row that selects (or, selected already, clears) its reason on click, Enter or Space. */
export function selectable(
  tr: HTMLTableRowElement,
  code: number,
  onSelect: (code: number | undefined) => void,
  selected: number | undefined,
): HTMLTableRowElement {
  const activate = (): void => onSelect(selected === code ? undefined : code);
  tr.addEventListener("click", activate);
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      activate();
    }
  });
  return tr;
}

function estimateOf(run: PanelRun, code: number): ReasonEstimate | undefined {
  return run.estimate?.byReason.find((r) => r.code === code);
}

/** Summary: simulated figures with the static estimate beside them. */
export function summaryView(run: PanelRun): HTMLElement {
  const s = run.stats;
  const e = run.estimate;
  const item = (label: string, simulated: string, estimated?: string): HTMLElement =>
    el(
      "div",
      { class: "figure" },
      el("span", { class: "label" }, label),
      el("span", { class: "value" }, simulated),
      estimated !== undefined
        ? el("span", { class: "estimate", title: "static estimate" }, `est. ${estimated}`)
        : "",
    );
  const irq = s.latency?.irq;
  return el(
    "div",
    { class: "summary", role: "group", "aria-label": "Summary" },
    item(run.trace ? "measured" : "simulated", formatSeconds(s.duration)),
    item("exits", formatInteger(s.exits)),
    item("exits/s", formatRate(s.exitsPerSecond), e ? formatRate(e.exitsPerSecond) : undefined),
    item("overhead", formatPercent(s.overhead), e ? formatPercent(e.overhead) : undefined),
    item("host CPU", `${formatCores(s.hostCpu)}`, e ? `${formatCores(e.hostCpu)}` : undefined),
    irq && irq.count > 0
      ? item("irq latency p50 / p99", `${formatSeconds(irq.p50)} / ${formatSeconds(irq.p99)}`)
      : "",
  );
}

/**
 * Per exit reason: count, rate, mean, p99, cycles per exit and share of exit-handling time as
 * simulated, with the estimator's rate and cycles per exit. Rows are focusable; activating one
 * selects the reason for the histogram.
 */
export function reasonTable(
  run: PanelRun,
  colourClass: (code: number) => string,
  onSelect: (code: number | undefined) => void,
  selected?: number,
): HTMLTableElement {
  const rows = run.stats.byReason.map((r) => {
    const est = estimateOf(run, r.code);
    const tr = row(
      [
        el("span", {}, swatch(colourClass(r.code)), `${r.reason} (${r.code})`),
        formatInteger(r.exits),
        formatRate(r.exitsPerSecond),
        est ? formatRate(est.exitsPerSecond) : "—",
        formatSeconds(r.duration.mean),
        formatSeconds(r.duration.p99),
        formatInteger(r.cyclesPerExit),
        est ? formatInteger(est.cyclesPerExit) : "—",
        formatPercent(r.share),
      ],
      1,
      {
        tabindex: "0",
        "data-code": String(r.code),
        "aria-selected": String(selected === r.code),
        title: "Show this reason's latency histogram",
      },
    );
    return selectable(tr, r.code, onSelect, selected);
  });
  return table(
    "Exits per reason (simulated; est. = static estimate)",
    [
      "reason",
      "exits",
      "rate",
      "est. rate",
      "mean",
      "p99",
      "cycles/exit",
      "est. cycles/exit",
      "share of time",
    ],
    rows,
  );
}

/** Statistics of the selected interval, computed from the timeline the panel draws. */
export function selectionView(
  stats: RangeStats,
  vcpus: number,
  reasonName: (code: number) => string,
  decimated: boolean,
): HTMLElement {
  const span = stats.endNs - stats.startNs;
  const stateTotal = stats.stateTime.reduce((a, b) => a + b, 0) || 1;
  const states = el(
    "div",
    { class: "states" },
    ...VCPU_STATE_NAMES.map((name, i) =>
      stats.stateTime[i]! > 0
        ? el(
            "span",
            { class: "state" },
            swatch(`state-${name}`),
            `${name} ${formatPercent(stats.stateTime[i]! / stateTotal)}`,
          )
        : "",
    ),
  );
  const rows = stats.byReason.map((r) =>
    row([
      reasonName(r.code),
      formatInteger(r.count),
      formatRate(r.count / (span / 1e9)),
      formatNanoseconds(r.meanNs),
      formatNanoseconds(r.p99Ns),
      formatNanoseconds(r.maxNs),
    ]),
  );
  return el(
    "section",
    { class: "selection", "aria-label": "Selection statistics" },
    el(
      "h3",
      {},
      `Selection ${formatNanoseconds(stats.startNs)} – ${formatNanoseconds(stats.endNs)} (${formatNanoseconds(span)}, ${vcpus} vCPU${vcpus === 1 ? "" : "s"}): ${formatInteger(stats.exits)} exits`,
    ),
    states,
    table(
      `Exits starting in the selection (from the timeline${decimated ? ", which the simulator decimated" : ""})`,
      ["reason", "exits", "rate", "mean", "p99", "max"],
      rows,
    ),
  );
}

/** Per-reason differences of run B against run A. */
export function compareTable(a: PanelRun, b: PanelRun): HTMLElement {
  const codes = new Map<number, string>();
  for (const r of a.stats.byReason) codes.set(r.code, r.reason);
  for (const r of b.stats.byReason) codes.set(r.code, r.reason);
  const rows = [...codes.entries()].map(([code, name]) => {
    const ra = a.stats.byReason.find((r) => r.code === code);
    const rb = b.stats.byReason.find((r) => r.code === code);
    const rateA = ra?.exitsPerSecond ?? 0;
    const rateB = rb?.exitsPerSecond ?? 0;
    const meanA = ra?.duration.mean ?? 0;
    const meanB = rb?.duration.mean ?? 0;
    return row([
      `${name} (${code})`,
      formatRate(rateA),
      formatRate(rateB),
      formatChange(rateA, rateB),
      ra ? formatSeconds(meanA) : "—",
      rb ? formatSeconds(meanB) : "—",
      ra && rb ? formatChange(meanA, meanB) : "—",
      formatPercent(ra?.share ?? 0),
      formatPercent(rb?.share ?? 0),
    ]);
  });
  const sa = a.stats;
  const sb = b.stats;
  rows.unshift(
    row(
      [
        "all exits",
        formatRate(sa.exitsPerSecond),
        formatRate(sb.exitsPerSecond),
        formatChange(sa.exitsPerSecond, sb.exitsPerSecond),
        `overhead ${formatPercent(sa.overhead)}`,
        `overhead ${formatPercent(sb.overhead)}`,
        formatChange(sa.overhead, sb.overhead),
        `${formatCores(sa.hostCpu)}`,
        `${formatCores(sb.hostCpu)}`,
      ],
      1,
      { class: "total" },
    ),
  );
  return table(
    `Differences: B (${b.title}) against A (${a.title})`,
    ["reason", "A rate", "B rate", "Δ rate", "A mean", "B mean", "Δ mean", "A share", "B share"],
    rows,
  );
}
