/**
 * Text of the language status item from the server's `trapline/fileStatus` (pure: unit-tested
 * without VS Code).
 */

import { formatCores, formatPercent, formatRate } from "../../core/src/util/format";
import type { FileStatusParams } from "../../protocol/lsp";

export interface StatusText {
  text: string;
  detail: string;
  severity: "info" | "warning" | "error";
}

export function formatStatus(file: FileStatusParams | undefined): StatusText {
  if (!file) return { text: "Trapline", detail: "analysing…", severity: "info" };
  const severity = file.errors > 0 ? "error" : file.warnings > 0 ? "warning" : "info";
  const problems = file.errors || file.warnings ? ` · ${file.errors} errors, ${file.warnings} warnings` : "";
  const target = `${file.target.profile}${file.target.declared ? "" : " (default)"}`;
  if (file.guests.length === 0) {
    return { text: `$(circuit-board) ${target}`, detail: `no guest in this file${problems}`, severity };
  }
  const saturated = file.guests.some((g) => g.demand > 1);
  const text = `$(pulse) ${formatPercent(file.maxOverhead)} overhead · ${formatRate(file.totalExitsPerSecond)} exits${saturated ? " $(warning)" : ""}`;
  const perGuest = file.guests
    .map(
      (g) =>
        `${g.name}: ${formatPercent(g.overhead)}, ${formatRate(g.exitsPerSecond)}, host CPU ${formatCores(g.hostCpu)}`,
    )
    .join(" · ");
  return { text, detail: `${target} · ${perGuest}${problems}`, severity };
}
