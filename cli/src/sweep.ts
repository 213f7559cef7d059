/**
 * `--target CPU[,CPU…]` and `--sweep NAME=FROM..TO[:STEPS][:log]` of `estimate` and `simulate`
 * (README "Command line", docs/estimator.md "Sweeps"): one section per CPU, or one table row per
 * (CPU, point). The points are the core's (analysis/sweep.ts): the file's program with one value
 * overridden, never an edit of the text.
 */
import {
  type Analysis,
  type CpuProfile,
  type Diagnostic,
  meanCyclesPerExit,
  parseSweepSpec,
  parseTargets,
  SweepError,
  type SweepFigures,
  type SweepRow,
  type SweepSpec,
  sweepEstimates,
  sweepRowFigures,
} from "../../core/src/index";
import {
  formatCores,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSignificant,
} from "../../core/src/util/format";
import { formatDiagnosticLine } from "./check";
import { type OptionsConfig, UsageError } from "./command";
import { table } from "./format";

export const SWEEP_OPTIONS: OptionsConfig = {
  target: { type: "string" },
  sweep: { type: "string" },
};

export const SWEEP_HELP =
  "  --target CPUS      CPU[,CPU…]: estimate on these CPU models instead of the file's target\n" +
  "                     (one section each; with --json an array when more than one). The file's\n" +
  "                     own CPU keeps its clock and `cost`/`msr` overrides; another runs at its\n" +
  "                     default clock\n" +
  "  --sweep SPEC       NAME=FROM..TO[:STEPS][:log] or NAME=A,B,…: one row per value of one\n" +
  "                     parameter (and per --target CPU): path.NAME.rate, irq.NAME.rate,\n" +
  "                     timer.rate, ipi.rate, nmi.rate (per vCPU), cost.NAME (cycles),\n" +
  "                     control.NAME=off,on, vcpus, target=CPU,CPU; STEPS points (default 5),\n" +
  "                     :log spaces them geometrically";

/** What --target and --sweep ask for; undefined when neither is given. */
export interface SweepRequest {
  targets: CpuProfile[];
  spec: SweepSpec | undefined;
}

export function sweepRequest(
  values: Record<string, unknown>,
  analysis: Analysis,
  guest: string,
): SweepRequest | undefined {
  const target = values.target;
  const sweep = values.sweep;
  if (typeof target !== "string" && typeof sweep !== "string") return undefined;
  const targets = parse("target", () => (typeof target === "string" ? parseTargets(target) : []));
  const spec = parse("sweep", () =>
    typeof sweep === "string" ? parseSweepSpec(analysis.program, guest, sweep) : undefined,
  );
  if (spec?.parameter.kind === "target" && targets.length > 0)
    throw new UsageError("--sweep target=… and --target both name the CPUs: give one of them");
  return { targets, spec };
}

function parse<T>(option: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof SweepError) throw new UsageError(`--${option}: ${error.message}`);
    throw error;
  }
}

/** The estimate rows of a request (one per CPU without --sweep). */
export function estimateRows(analysis: Analysis, guest: string, request: SweepRequest): SweepRow[] {
  return sweepEstimates(analysis.program, analysis.text, guest, request.spec, request.targets);
}

export type RowFigures = SweepFigures;

/** The figures of an estimated row (core/src/analysis/sweep.ts sweepRowFigures). */
export const estimateFigures = sweepRowFigures;

/** Mean cycles of one exit, weighted by each reason's rate (an estimate's or a simulation's). */
export function meanCycles(
  byReason: readonly { exitsPerSecond: number; cyclesPerExit: number }[],
  exitsPerSecond: number,
): number {
  return meanCyclesPerExit({ byReason, exitsPerSecond });
}

const STATUS_TEXT: Record<SweepRow["status"], string> = {
  none: "-",
  ok: "ok",
  violated: "VIOLATED",
  error: "invalid",
};

/** The sweep table: one row per (CPU, point). */
export function sweepTable(
  guest: string,
  spec: SweepSpec | undefined,
  rows: { row: SweepRow; figures: RowFigures | undefined; status: SweepRow["status"] }[],
  kind: "estimate" | "simulation",
): string {
  const multiTarget = new Set(rows.map((r) => r.row.target)).size > 1 || spec?.parameter.kind === "target";
  const simulated = kind === "simulation";
  const head = [
    spec && spec.parameter.kind !== "target" ? spec.parameter.name : "",
    ...(multiTarget && spec?.parameter.kind !== "target" ? ["target"] : []),
    "exits/s",
    "µs/exit",
    "host CPU",
    "overhead",
    simulated ? "p99 irq" : "demand",
    "budget",
  ];
  if (head[0] === "") head[0] = "target";
  const out: string[][] = [head];
  for (const { row, figures, status } of rows) {
    const cells = [
      spec && spec.parameter.kind !== "target" ? row.label : row.target,
      ...(multiTarget && spec?.parameter.kind !== "target" ? [row.target] : []),
    ];
    if (!figures) cells.push("-", "-", "-", "-", "-");
    else
      cells.push(
        formatRate(figures.exitsPerSecond),
        formatSignificant(figures.microsecondsPerExit),
        formatCores(figures.hostCpu),
        formatPercent(figures.overhead),
        simulated
          ? figures.irqLatencyP99 === undefined
            ? "-"
            : formatSeconds(figures.irqLatencyP99)
          : formatPercent(figures.demand ?? 0),
      );
    cells.push(STATUS_TEXT[status]);
    out.push(cells);
  }
  const title = spec
    ? `sweep of ${spec.parameter.name} for guest ${guest}${spec.log ? " (log steps)" : ""}, ${kind === "estimate" ? "static estimate" : "simulated"}`
    : `guest ${guest} per CPU, ${kind === "estimate" ? "static estimate" : "simulated"}`;
  return `${title}\n${table(out)}\n`;
}

/** The JSON of a sweep: the parameter, then one object per row. */
export function sweepJson(
  guest: string,
  spec: SweepSpec | undefined,
  rows: { row: SweepRow; figures: RowFigures | undefined; status: SweepRow["status"]; messages: string[] }[],
): Record<string, unknown> {
  return {
    guest,
    ...(spec ? { parameter: spec.parameter.name, kind: spec.parameter.kind, log: spec.log } : {}),
    rows: rows.map(({ row, figures, status, messages }) => ({
      target: row.target,
      point: row.point,
      label: row.label,
      status,
      ...(figures ?? {}),
      ...(messages.length > 0 ? { messages } : {}),
    })),
  };
}

/** A row's diagnostics as `file:line:col: …` lines, prefixed with the point. */
export function rowDiagnostics(
  file: string,
  analysis: Analysis,
  row: SweepRow,
  diagnostics: Diagnostic[],
): string[] {
  return diagnostics.map(
    (d) =>
      `${formatDiagnosticLine(file, analysis.lines, d)} [at ${row.target}${row.label !== row.target ? `, ${row.label}` : ""}]`,
  );
}
