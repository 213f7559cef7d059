/**
 * The time axis: mapping between nanoseconds and pixels, zoom/pan arithmetic, tick generation
 * with 1-2-5 steps, and unit-aware formatting (s / ms / µs / ns). Pure functions; no DOM.
 */

export interface Viewport {
  /** Visible range in ns from the start of the run. */
  startNs: number;
  endNs: number;
  /** Drawing width in CSS pixels. */
  widthPx: number;
}

/** The narrowest visible range: a few ns, so single exits (hundreds of ns) fill the panel. */
export const MIN_SPAN_NS = 20;

export function nsPerPixel(view: Viewport): number {
  return (view.endNs - view.startNs) / Math.max(1, view.widthPx);
}

export function timeToX(view: Viewport, ns: number): number {
  return ((ns - view.startNs) / (view.endNs - view.startNs)) * view.widthPx;
}

export function xToTime(view: Viewport, x: number): number {
  return view.startNs + (x / Math.max(1, view.widthPx)) * (view.endNs - view.startNs);
}

/** Keeps the range inside [0, totalNs] and at least MIN_SPAN_NS wide, preserving its width when it can. */
export function clampView(view: Viewport, totalNs: number): Viewport {
  const total = Math.max(totalNs, MIN_SPAN_NS);
  let span = Math.min(Math.max(view.endNs - view.startNs, MIN_SPAN_NS), total);
  if (!Number.isFinite(span)) span = total;
  let start = Number.isFinite(view.startNs) ? view.startNs : 0;
  start = Math.min(Math.max(0, start), total - span);
  return { startNs: start, endNs: start + span, widthPx: view.widthPx };
}

/** Zooms by `factor` (< 1 zooms in) keeping the time under `anchorX` fixed. */
export function zoomAt(view: Viewport, anchorX: number, factor: number, totalNs: number): Viewport {
  const anchor = xToTime(view, anchorX);
  const span = Math.max(MIN_SPAN_NS, (view.endNs - view.startNs) * factor);
  const fraction = anchorX / Math.max(1, view.widthPx);
  const startNs = anchor - fraction * span;
  return clampView({ startNs, endNs: startNs + span, widthPx: view.widthPx }, totalNs);
}

/** Pans by `dx` pixels (positive moves the view later in time). */
export function panBy(view: Viewport, dx: number, totalNs: number): Viewport {
  const shift = dx * nsPerPixel(view);
  return clampView(
    { startNs: view.startNs + shift, endNs: view.endNs + shift, widthPx: view.widthPx },
    totalNs,
  );
}

export interface TimeUnit {
  symbol: "s" | "ms" | "µs" | "ns";
  ns: number;
}

const UNITS: TimeUnit[] = [
  { symbol: "s", ns: 1e9 },
  { symbol: "ms", ns: 1e6 },
  { symbol: "µs", ns: 1e3 },
  { symbol: "ns", ns: 1 },
];

/** The largest unit in which `ns` is at least 1 (ns for anything smaller). */
export function unitFor(ns: number): TimeUnit {
  const magnitude = Math.abs(ns);
  for (const unit of UNITS) if (magnitude >= unit.ns) return unit;
  return UNITS[UNITS.length - 1]!;
}

export interface Tick {
  ns: number;
  x: number;
  label: string;
  /** Major ticks carry labels; minor ones are drawn shorter. */
  major: boolean;
}

/**
 * The tick step: the smallest 1·10^k, 2·10^k or 5·10^k ns that keeps labels at least
 * `minLabelPx` apart.
 */
export function tickStep(view: Viewport, minLabelPx = 80): number {
  const raw = nsPerPixel(view) * minLabelPx;
  if (!(raw > 0)) return 1;
  const exponent = Math.floor(Math.log10(raw));
  const base = 10 ** exponent;
  for (const m of [1, 2, 5, 10]) if (m * base >= raw) return Math.max(1, m * base);
  return 10 * base;
}

/**
 * Ticks for the axis: a major tick every `tickStep`, four minor ticks between. Labels use the
 * unit of the largest visible time ("1.2346 ms", not "1234600 ns") with just enough decimals
 * that neighbouring labels differ.
 */
export function generateTicks(view: Viewport, minLabelPx = 80): Tick[] {
  const step = tickStep(view, minLabelPx);
  const minor = step / 5;
  const ticks: Tick[] = [];
  const unit = unitFor(Math.max(Math.abs(view.endNs), step));
  // Decimals so that consecutive labels differ: step expressed in the label unit.
  const stepInUnit = step / unit.ns;
  const decimals = stepInUnit >= 1 ? 0 : Math.min(9, Math.ceil(-Math.log10(stepInUnit) - 1e-9));
  const first = Math.ceil(view.startNs / minor - 1e-9);
  const last = Math.floor(view.endNs / minor + 1e-9);
  // Bound the loop: a degenerate view never produces more than a few hundred ticks.
  for (let i = first; i <= last && ticks.length < 1000; i++) {
    const ns = i * minor;
    const major = i % 5 === 0;
    ticks.push({
      ns,
      x: timeToX(view, ns),
      major,
      label: major ? `${(ns / unit.ns).toFixed(decimals)} ${unit.symbol}` : "",
    });
  }
  return ticks;
}

/** Cycles at `hz` for a duration in ns. */
export function nsToCycles(ns: number, hz: number): number {
  return (ns * hz) / 1e9;
}
