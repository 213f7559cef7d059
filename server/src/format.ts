/** Number formatting shared by hovers, hints, lenses and reports: short, unit-bearing, stable. */

export function formatRate(perSecond: number): string {
  return `${formatCount(perSecond)}/s`;
}

export function formatCount(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${trim(value / 1e9)}G`;
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  if (abs >= 10 || abs === 0) return `${Math.round(value)}`;
  return trim(value);
}

export function formatCycles(cycles: number): string {
  return `${Math.round(cycles).toLocaleString("en-US")} cycles`;
}

/** Cycles as time at the target clock: "2,400 cycles (1.14 µs)". */
export function formatCyclesAt(cycles: number, hz: number): string {
  return `${formatCycles(cycles)} (${formatSeconds(cycles / hz)})`;
}

export function formatSeconds(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs >= 1) return `${trim(seconds)} s`;
  if (abs >= 1e-3) return `${trim(seconds * 1e3)} ms`;
  if (abs >= 1e-6) return `${trim(seconds * 1e6)} µs`;
  return `${trim(seconds * 1e9)} ns`;
}

export function formatPercent(fraction: number): string {
  const percent = fraction * 100;
  if (percent === 0) return "0%";
  if (Math.abs(percent) < 0.01) return "<0.01%";
  if (Math.abs(percent) < 10) return `${percent.toFixed(2)}%`;
  return `${percent.toFixed(1)}%`;
}

export function formatHz(hz: number): string {
  if (hz >= 1e9) return `${trim(hz / 1e9)} GHz`;
  if (hz >= 1e6) return `${trim(hz / 1e6)} MHz`;
  return `${trim(hz)} Hz`;
}

export function hex(value: number | bigint, digits = 0): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

function trim(value: number): string {
  const fixed =
    Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}
