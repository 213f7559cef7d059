/**
 * The sweep plot (docs/timeline.md "Sweep plot"): one line per target CPU of a figure (overhead,
 * exits/s, host CPU, µs per exit) against the swept parameter. `plotModel` turns the rows into
 * scales, ticks and points (pure, unit-tested); `plotSvg` draws a model as SVG markup (no chart
 * library; every text escaped). A point whose VMCS is invalid has no figure: it is marked on the
 * axis instead of drawn, and the line breaks there.
 */
import type { SweepFigures, SweepStatus, SweepValue } from "../../core/src/index";
import {
  formatCompact,
  formatCores,
  formatPercent,
  formatRate,
  formatSignificant,
} from "../../core/src/util/format";

export type SweepMetric = "overhead" | "exitsPerSecond" | "hostCpu" | "microsecondsPerExit";

export const SWEEP_METRICS: readonly { key: SweepMetric; label: string; format: (v: number) => string }[] = [
  { key: "overhead", label: "overhead", format: formatPercent },
  { key: "exitsPerSecond", label: "exits/s", format: formatRate },
  { key: "hostCpu", label: "host CPU", format: formatCores },
  { key: "microsecondsPerExit", label: "µs per exit", format: (v) => `${formatSignificant(v)} µs` },
];

/** One row as the page has it: the core's row without its program and estimate. */
export interface PlotRow {
  target: string;
  point: SweepValue;
  label: string;
  status: SweepStatus;
  figures?: SweepFigures;
}

export interface PlotInput {
  /** The swept parameter's name (`path.send.rate`) and kind. */
  parameter: string;
  kind: string;
  log: boolean;
  rows: readonly PlotRow[];
}

export interface PlotPoint {
  x: number;
  y: number;
  value: number;
  label: string;
  status: SweepStatus;
}

export interface PlotSeries {
  name: string;
  /** Colour slot, in order of first appearance. */
  index: number;
  points: PlotPoint[];
  /** SVG path data through the points, broken (`M`) after an invalid point. */
  path: string;
}

export interface PlotModel {
  width: number;
  height: number;
  /** The plotting area inside the axes. */
  area: { left: number; top: number; right: number; bottom: number };
  xLabel: string;
  yLabel: string;
  xTicks: { x: number; label: string }[];
  yTicks: { y: number; label: string }[];
  series: PlotSeries[];
  /** Points without a figure (the VMCS is invalid there), on the x axis. */
  invalid: { x: number; label: string; target: string }[];
  /** The x axis is one slot per value (controls, CPUs) rather than numeric. */
  categorical: boolean;
  logX: boolean;
}

const MARGIN = { left: 72, right: 16, top: 16, bottom: 44 };

/** Scales, ticks and points of `metric` over the rows, in a `width`×`height` box. */
export function plotModel(
  input: PlotInput,
  metric: SweepMetric,
  size: { width: number; height: number },
): PlotModel {
  const width = Math.max(160, size.width);
  const height = Math.max(120, size.height);
  const area = {
    left: MARGIN.left,
    top: MARGIN.top,
    right: width - MARGIN.right,
    bottom: height - MARGIN.bottom,
  };
  const def = SWEEP_METRICS.find((m) => m.key === metric) ?? SWEEP_METRICS[0]!;
  const byTarget = input.kind === "target";
  const categorical = byTarget || input.rows.some((r) => typeof r.point !== "number");
  const logX = !categorical && input.log;

  // x: numeric (linear or log) or one slot per distinct label in order of appearance.
  const labels: string[] = [];
  for (const r of input.rows) if (!labels.includes(r.label)) labels.push(r.label);
  const numbers = categorical ? [] : input.rows.map((r) => r.point as number);
  let [x0, x1] = categorical
    ? [0, Math.max(1, labels.length - 1)]
    : [Math.min(...numbers), Math.max(...numbers)];
  if (x0 === x1) [x0, x1] = logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  const toX = (value: number): number => {
    const t = logX ? Math.log(value / x0) / Math.log(x1 / x0) : (value - x0) / (x1 - x0);
    const pad = categorical && labels.length === 1 ? 0.5 : t;
    return area.left + (area.right - area.left) * pad;
  };
  const xOf = (r: PlotRow): number => (categorical ? toX(labels.indexOf(r.label)) : toX(r.point as number));

  // y: from 0 to a rounded maximum.
  const values = input.rows.flatMap((r) => (r.figures ? [r.figures[metric]] : []));
  const max = values.length > 0 ? Math.max(...values) : 0;
  const yTicksValues = niceTicks(0, max > 0 ? max : 1, 5);
  const y1 = yTicksValues[yTicksValues.length - 1]!;
  const toY = (value: number): number => area.bottom - ((area.bottom - area.top) * value) / y1;

  const seriesByName = new Map<string, PlotSeries>();
  /** Series whose line is broken until its next point (an invalid point came before). */
  const broken = new Set<PlotSeries>();
  const invalid: PlotModel["invalid"] = [];
  // One line per CPU; a sweep over the CPUs themselves is one line (the guest) across them.
  for (const r of input.rows) {
    const name = byTarget ? "all" : r.target;
    let series = seriesByName.get(name);
    if (!series) {
      series = { name, index: seriesByName.size, points: [], path: "" };
      seriesByName.set(name, series);
    }
    if (!r.figures) {
      invalid.push({ x: xOf(r), label: r.label, target: r.target });
      broken.add(series);
      continue;
    }
    const value = r.figures[metric];
    const point = { x: xOf(r), y: toY(value), value, label: r.label, status: r.status };
    const command = series.points.length === 0 || broken.has(series) ? "M" : "L";
    series.path += `${series.path === "" ? "" : " "}${command}${round(point.x)},${round(point.y)}`;
    series.points.push(point);
    broken.delete(series);
  }

  const xTicks = categorical
    ? labels.map((label, i) => ({ x: toX(i), label }))
    : (logX ? logAxisTicks(x0, x1, numbers) : niceTicks(x0, x1, 6).filter((v) => v >= x0 && v <= x1)).map(
        (v) => ({
          x: toX(v),
          label: input.kind === "rate" ? formatRate(v) : formatCompact(v),
        }),
      );
  return {
    width,
    height,
    area,
    xLabel: byTarget ? "target CPU" : input.parameter,
    yLabel: def.label,
    xTicks,
    yTicks: yTicksValues.map((v) => ({ y: toY(v), label: def.format(v) })),
    series: [...seriesByName.values()],
    invalid,
    categorical,
    logX,
  };
}

/** Ticks at 1-2-5 steps covering [from, to] (the last one at or above `to`). */
export function niceTicks(from: number, to: number, count: number): number[] {
  const span = to - from;
  if (!(span > 0) || !Number.isFinite(span)) return [from, from + 1];
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(from / step) * step;
  const ticks: number[] = [];
  for (let v = first; v < to + step * 0.999 && ticks.length < 100; v += step) ticks.push(clean(v, step));
  return ticks;
}

/** Powers of ten inside [from, to]; the ends when fewer than two fall inside. */
export function logTicks(from: number, to: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(Math.log10(from) - 1e-9); 10 ** e <= to * (1 + 1e-9); e++) ticks.push(10 ** e);
  return ticks.length >= 2 ? ticks : [from, to];
}

/** Powers of ten on a log axis; the swept values themselves when fewer than three fall inside. */
function logAxisTicks(from: number, to: number, values: readonly number[]): number[] {
  const powers = logTicks(from, to);
  if (powers.length >= 3 || values.length > 8) return powers;
  return [...new Set(values)].sort((a, b) => a - b);
}

function clean(value: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(Math.min(20, digits)));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The model as an `<svg>` element's markup; colours come from the page's CSS (`.series-N`). */
export function plotSvg(model: PlotModel): string {
  const { area } = model;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="sweep-plot" width="${model.width}" height="${model.height}" viewBox="0 0 ${model.width} ${model.height}" role="img" aria-label="${escapeXml(`${model.yLabel} against ${model.xLabel}`)}">`,
  ];
  for (const t of model.yTicks) {
    out.push(
      `<line class="grid" x1="${area.left}" x2="${area.right}" y1="${round(t.y)}" y2="${round(t.y)}"/>`,
      `<text class="tick y" x="${area.left - 6}" y="${round(t.y)}" text-anchor="end" dominant-baseline="middle">${escapeXml(t.label)}</text>`,
    );
  }
  for (const t of model.xTicks) {
    out.push(
      `<line class="tick-mark" x1="${round(t.x)}" x2="${round(t.x)}" y1="${area.bottom}" y2="${area.bottom + 4}"/>`,
      `<text class="tick x" x="${round(t.x)}" y="${area.bottom + 16}" text-anchor="middle">${escapeXml(t.label)}</text>`,
    );
  }
  out.push(
    `<line class="axis" x1="${area.left}" x2="${area.right}" y1="${area.bottom}" y2="${area.bottom}"/>`,
    `<line class="axis" x1="${area.left}" x2="${area.left}" y1="${area.top}" y2="${area.bottom}"/>`,
    `<text class="axis-label x" x="${(area.left + area.right) / 2}" y="${model.height - 6}" text-anchor="middle">${escapeXml(model.xLabel)}${model.logX ? " (log)" : ""}</text>`,
    `<text class="axis-label y" x="12" y="${(area.top + area.bottom) / 2}" text-anchor="middle" transform="rotate(-90 12 ${(area.top + area.bottom) / 2})">${escapeXml(model.yLabel)}</text>`,
  );
  for (const s of model.series) {
    out.push(`<g class="series series-${s.index % 8}" data-target="${escapeXml(s.name)}">`);
    if (s.path !== "") out.push(`<path class="line" d="${s.path}"/>`);
    for (const p of s.points)
      out.push(
        `<circle class="point ${p.status}" cx="${round(p.x)}" cy="${round(p.y)}" r="${p.status === "violated" ? 4.5 : 3}"><title>${escapeXml(`${s.name === "all" ? "" : `${s.name}, `}${p.label}: ${model.yTicks.length > 0 ? formatFor(model, p.value) : p.value}${p.status === "violated" ? " — budget violated" : ""}`)}</title></circle>`,
      );
    out.push("</g>");
  }
  for (const p of model.invalid)
    out.push(
      `<text class="invalid" x="${round(p.x)}" y="${area.bottom - 4}" text-anchor="middle">×<title>${escapeXml(`${p.target}, ${p.label}: the VMCS is invalid here`)}</title></text>`,
    );
  out.push("</svg>");
  return out.join("");
}

function formatFor(model: PlotModel, value: number): string {
  const def = SWEEP_METRICS.find((m) => m.label === model.yLabel);
  return def ? def.format(value) : String(value);
}
