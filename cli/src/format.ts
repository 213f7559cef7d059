/** Human-readable units for the CLI's text output. */

/** 412500 → "412.5k/s", 2.5e6 → "2.50M/s". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return String(perSecond);
  const abs = Math.abs(perSecond);
  if (abs >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M/s`;
  if (abs >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  if (abs >= 10 || perSecond === 0) return `${Math.round(perSecond)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

/** 0.234 → "23.4%". */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  return `${(fraction * 100).toFixed(fraction !== 0 && Math.abs(fraction) < 0.001 ? 3 : 1)}%`;
}

/** 21345.6 → "21,346". */
export function formatCycles(cycles: number): string {
  if (!Number.isFinite(cycles)) return String(cycles);
  return Math.round(cycles).toLocaleString("en-US");
}

/** Cycles at hz as microseconds: "10.16". */
export function formatMicros(cycles: number, hz: number): string {
  const us = (cycles / hz) * 1e6;
  return us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

/** 2.1e9 → "2.1 GHz". */
export function formatHz(hz: number): string {
  if (hz >= 1e9) return `${+(hz / 1e9).toFixed(3)} GHz`;
  if (hz >= 1e6) return `${+(hz / 1e6).toFixed(3)} MHz`;
  return `${hz} Hz`;
}

/** Left-aligned first column, right-aligned others; columns separated by two spaces. */
export function table(rows: string[][], indent = "  "): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i] ?? 0, row[i]!.length);
  }
  return rows
    .map((row) =>
      (
        indent +
        row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
      ).trimEnd(),
    )
    .join("\n");
}
