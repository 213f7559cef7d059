/**
 * `--measured TRACE [--tolerance P]` of `trapline estimate` and `trapline simulate`: imports the
 * trace and prints the model beside it (core/src/trace/compare.ts; docs/traces.md "Measured
 * beside modelled"). A flagged figure does not change the exit status: the comparison is
 * information, as a lint is; budgets (`expect`) are the way to make a figure fail a run.
 */
import {
  type ComparedFigure,
  compareWithTrace,
  DEFAULT_TOLERANCE,
  type MeasuredComparison,
  type ModelFigures,
  type TotalComparison,
} from "../../core/src/index";
import { formatPercent, formatRate } from "../../core/src/util/format";
import { type CliIO, type OptionsConfig, UsageError } from "./command";
import { table } from "./format";
import { readTrace } from "./trace";

export const MEASURED_OPTIONS: OptionsConfig = {
  measured: { type: "string" },
  tolerance: { type: "string" },
};

export const MEASURED_HELP =
  "  --measured TRACE   set the model beside a KVM trace (any format `trapline trace` reads)\n  --tolerance P      flag figures whose measured/model ratio is beyond 1 ± P (default 25%)";

/** A percentage: "25" and "25%" are 25 %; a bare value below 1 ("0.25") is taken as a fraction. */
export function parseTolerance(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TOLERANCE;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(%)?\s*$/.exec(text);
  if (!m) throw new UsageError(`--tolerance: '${text}' is not a percentage (e.g. 25 or 25%)`);
  const value = Number(m[1]);
  const fraction = m[2] || value >= 1 ? value / 100 : value;
  if (!(fraction > 0)) throw new UsageError(`--tolerance: '${text}' must be positive`);
  return fraction;
}

/** Imports the trace named by --measured and compares; undefined without --measured. */
export async function measuredComparison(
  io: CliIO,
  values: Record<string, unknown>,
  model: () => ModelFigures,
): Promise<MeasuredComparison | undefined> {
  if (typeof values.measured !== "string") {
    if (values.tolerance !== undefined) throw new UsageError("--tolerance needs --measured TRACE");
    return undefined;
  }
  const tolerance = parseTolerance(typeof values.tolerance === "string" ? values.tolerance : undefined);
  const path = values.measured;
  const trace = await readTrace(io, path, undefined);
  if (trace.format === undefined)
    throw new UsageError(`${path}: not a KVM trace in any known format (see trapline trace --help)`);
  if (trace.badLineCount > 0)
    io.stderr(
      `trapline: ${path}: ${trace.badLineCount} line${trace.badLineCount === 1 ? "" : "s"} did not parse (see trapline trace ${path})\n`,
    );
  return compareWithTrace(model(), trace, tolerance);
}

function num(x: number | undefined): string {
  if (x === undefined) return "—";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function rate(x: number | undefined): string {
  return x === undefined ? "—" : formatRate(x);
}

function cores(x: number | undefined): string {
  return x === undefined ? "—" : x.toFixed(4);
}

function ratio(f: ComparedFigure, idle = false): string {
  if (idle) return "idle";
  if (f.ratio === undefined) return "—";
  return `${f.ratio.toFixed(2)}×${f.flagged ? " !" : ""}`;
}

function cells(t: TotalComparison, idle = false): string[] {
  return [
    rate(t.exitsPerSecond.model),
    rate(t.exitsPerSecond.measured),
    ratio(t.exitsPerSecond),
    num(t.usPerExit.model),
    num(t.usPerExit.measured),
    ratio(t.usPerExit, idle),
    cores(t.hostCpu.model),
    cores(t.hostCpu.measured),
    ratio(t.hostCpu, idle && t.hostCpu.model === undefined && t.hostCpu.measured === undefined),
  ];
}

/** The side-by-side table, appended to the estimate's or the simulation's report. */
export function measuredText(c: MeasuredComparison, path: string): string {
  const lines: string[] = [];
  const window =
    c.trace.windowSec !== undefined ? `${+c.trace.windowSec.toPrecision(4)} s window` : "no window";
  lines.push(
    `measured: ${path} (${c.trace.format}, ${window}, ${c.trace.exits} exits, ${c.trace.vcpus} vCPU${c.trace.vcpus === 1 ? "" : "s"}) beside the ${c.model}; ! = beyond ±${formatPercent(c.tolerance)}`,
  );
  const head = [
    "",
    "model/s",
    "trace/s",
    "ratio",
    "model µs",
    "trace µs",
    "ratio",
    "model CPU",
    "trace CPU",
    "ratio",
  ];
  const rows = [["by reason", ...head.slice(1)]];
  for (const r of c.reasons) {
    const name = `${r.reason}${r.code !== undefined ? ` (${r.code})` : ""}`;
    rows.push([
      r.presence === "both" ? name : `${name} [${r.presence === "model-only" ? "model only" : "trace only"}]`,
      ...cells(r, r.idle === true),
    ]);
  }
  rows.push(["total", ...cells(c.total)]);
  lines.push(table(rows));
  if (c.vcpus.length > 0) {
    lines.push("");
    const vrows = [["per vCPU", ...head.slice(1)]];
    for (const v of c.vcpus) vrows.push([`vCPU ${v.vcpu}`, ...cells(v)]);
    lines.push(table(vrows));
  }
  for (const r of c.reasons) if (r.note) lines.push(`  note: ${r.reason}: ${r.note}`);
  for (const n of c.notes) lines.push(`  note: ${n}`);
  lines.push(
    `  ${c.flaggedCount === 0 ? "no figure" : `${c.flaggedCount} figure${c.flaggedCount === 1 ? "" : "s"}`} beyond the tolerance; CPU in host cores (HLT excluded), ratio = trace / model.`,
  );
  return `${lines.join("\n")}\n`;
}
