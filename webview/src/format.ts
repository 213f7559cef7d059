/** Number formatting shared by the statistics view and the CSV export. */
import { formatDuration } from "./scale";

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "—";
  return Math.round(n).toLocaleString("en-US");
}

/** "12.3k/s", "2.1M/s", "850/s". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "—";
  const a = Math.abs(perSecond);
  if (a >= 1e6) return `${trim((perSecond / 1e6).toFixed(2))}M/s`;
  if (a >= 1e3) return `${trim((perSecond / 1e3).toFixed(1))}k/s`;
  return `${trim(perSecond.toFixed(a >= 10 ? 0 : 1))}/s`;
}

export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return "—";
  return `${(fraction * 100).toFixed(Math.abs(fraction) >= 0.1 ? 1 : 2)}%`;
}

export function formatSeconds(seconds: number): string {
  return formatDuration(seconds * 1e9);
}

export function formatCycles(cycles: number): string {
  if (!Number.isFinite(cycles)) return "—";
  return `${Math.round(cycles).toLocaleString("en-US")} cyc`;
}

/** Signed relative change "+12.5%" of b against a. */
export function formatChange(a: number, b: number): string {
  if (a === 0 && b === 0) return "±0%";
  if (a === 0) return "new";
  const change = (b - a) / a;
  return `${change >= 0 ? "+" : ""}${(change * 100).toFixed(1)}%`;
}

function trim(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}
