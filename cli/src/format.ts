/**
 * Table layout for the CLI's text output. The numbers in it are formatted by the core's one
 * formatting module (core/src/util/format.ts, through the facade), as every adapter's are.
 */

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
