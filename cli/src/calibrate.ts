/**
 * `trapline calibrate FILE.vmcs TRACE [--write] [--json]`: fits the target's round trip and the
 * handlers' `work` to the trace's per-reason latencies (core/src/trace/calibrate.ts), prints the
 * fit with its residual per reason, and the edits as a unified diff — or applies them (`--write`).
 */

import type { TextEdit } from "../../core/src/index";
import { analyze, applyTextEdits, CalibrationError, calibrate } from "../../core/src/index";
import { formatInteger, formatPercent } from "../../core/src/util/format";
import { formatDiagnosticLine } from "./check";
import { type Command, EXIT_DIAGNOSTICS, EXIT_OK, readSource, UsageError } from "./command";
import { table } from "./format";
import { readTrace } from "./trace";

const CONTEXT = 3;

/** A unified diff of `edits` applied to `text` (hunks of whole lines, 3 lines of context). */
export function unifiedDiff(path: string, text: string, edits: readonly TextEdit[]): string {
  if (edits.length === 0) return "";
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const oldLines = text.split("\n");
  if (text.endsWith("\n")) oldLines.pop();
  // Changed line ranges [first, last] of the old text, each with its edits; touching ones merged.
  const sorted = [...edits].sort((a, b) => a.span.start - b.span.start);
  const groups: { first: number; last: number; edits: TextEdit[] }[] = [];
  for (const e of sorted) {
    const first = Math.min(lineOf(e.span.start), Math.max(0, oldLines.length - 1));
    const last = Math.min(
      Math.max(first, lineOf(Math.max(e.span.start, e.span.end - 1))),
      Math.max(0, oldLines.length - 1),
    );
    const g = groups[groups.length - 1];
    if (g && first <= g.last + 2 * CONTEXT + 1) {
      g.last = Math.max(g.last, last);
      g.edits.push(e);
    } else groups.push({ first, last, edits: [e] });
  }
  const out = [`--- ${path}`, `+++ ${path} (calibrated)`];
  for (const g of groups) {
    const from = Math.max(0, g.first - CONTEXT);
    const to = Math.min(oldLines.length - 1, g.last + CONTEXT);
    const regionStart = lineStarts[g.first] ?? text.length;
    const regionEnd = g.last + 1 < lineStarts.length ? lineStarts[g.last + 1]! : text.length;
    const region = text.slice(regionStart, regionEnd);
    const shifted = g.edits.map((e) => ({
      span: { start: Math.max(0, e.span.start - regionStart), end: Math.max(0, e.span.end - regionStart) },
      newText: e.newText,
    }));
    const replaced = applyTextEdits(region, shifted);
    const newLines = replaced.endsWith("\n") ? replaced.slice(0, -1).split("\n") : replaced.split("\n");
    const oldChanged = oldLines.slice(g.first, g.last + 1);
    const before = oldLines.slice(from, g.first);
    const after = oldLines.slice(g.last + 1, to + 1);
    const oldCount = before.length + oldChanged.length + after.length;
    const newCount = before.length + newLines.length + after.length;
    out.push(`@@ -${from + 1},${oldCount} +${from + 1},${newCount} @@`);
    for (const l of before) out.push(` ${l}`);
    for (const l of oldChanged) out.push(`-${l}`);
    for (const l of newLines) out.push(`+${l}`);
    for (const l of after) out.push(` ${l}`);
  }
  return `${out.join("\n")}\n`;
}

function us(cycles: number, hz: number): string {
  const v = (cycles / hz) * 1e6;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export const calibrateCommand: Command = {
  name: "calibrate",
  summary: "fit the round trip and handler work to a trace's per-reason latencies; print or write the edits",
  usage: "calibrate FILE TRACE [--write] [--json]",
  options: { write: { type: "boolean" }, json: { type: "boolean" } },
  help: '  --write   apply the edits to FILE (default: print them as a unified diff)\n  --json    print the fit and the edits as JSON\n\nThe fit: one shared round trip plus a work value per handler, least squares over the\ntrace\'s exit reasons (docs/traces.md "Calibration"); HLT is not fitted (its time is idle).\n\nExit status: 0 fitted, 1 errors in FILE (no calibration), 2 bad usage, an unreadable file,\na trace in no known format or one with nothing to fit.',
  async run({ values, positionals }, io) {
    if (positionals.length !== 2) throw new UsageError("calibrate needs FILE and TRACE");
    const [file, tracePath] = positionals as [string, string];
    const text = readSource(io, file);
    const analysis = analyze(text);
    const errors = analysis.diagnostics.filter((d) => d.severity === "error" && d.code !== "TL401");
    if (errors.length > 0) {
      io.stderr(
        `${errors.map((d) => formatDiagnosticLine(file, analysis.lines, d)).join("\n")}\ntrapline: ${file} has errors; no calibration\n`,
      );
      return EXIT_DIAGNOSTICS;
    }
    const trace = await readTrace(io, tracePath, undefined);
    if (trace.format === undefined) throw new UsageError(`${tracePath}: not a KVM trace in any known format`);
    let fit: ReturnType<typeof calibrate>;
    try {
      fit = calibrate(analysis.program, text, trace);
    } catch (error) {
      if (error instanceof CalibrationError) throw new UsageError(`${tracePath}: ${error.message}`);
      throw error;
    }
    const edited = applyTextEdits(text, fit.edits);
    if (values.write && fit.edits.length > 0) {
      try {
        io.writeFile(file, edited);
      } catch (error) {
        throw new UsageError(
          `cannot write ${file}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
        );
      }
    }
    if (values.json) {
      io.stdout(
        `${JSON.stringify({ file, trace: tracePath, ...fit, written: values.write === true }, null, 2)}\n`,
      );
      return EXIT_OK;
    }
    const hz = fit.hz;
    const lines = [
      `calibrate ${file} from ${tracePath} (${trace.format}, ${trace.exits.totalCount} exits): round trip ${formatInteger(fit.roundTripBefore)} → ${formatInteger(fit.roundTripAfter)} cycles`,
    ];
    const rows = [["reason", "exits", "measured µs", "model µs", "fitted µs", "residual", "work", "change"]];
    for (const r of fit.reasons)
      rows.push([
        `${r.reason} (${r.code})`,
        `${r.count}`,
        us(r.measuredCycles, hz),
        us(r.modelCycles, hz),
        us(r.fittedCycles, hz),
        formatPercent(r.residual),
        `${formatInteger(r.workBefore)} → ${formatInteger(r.workAfter)}`,
        r.change,
      ]);
    lines.push(table(rows));
    for (const s of fit.skipped) lines.push(`  not fitted: ${s.reason}: ${s.why}`);
    lines.push("");
    if (fit.edits.length === 0) lines.push("The file already fits the trace: no edits.");
    else if (values.write)
      lines.push(`Wrote ${fit.edits.length} edit${fit.edits.length === 1 ? "" : "s"} to ${file}.`);
    else lines.push(unifiedDiff(file, text, fit.edits).trimEnd(), "", "(--write applies these edits)");
    io.stdout(`${lines.join("\n")}\n`);
    return EXIT_OK;
  },
};
