/**
 * The measured figure beside the estimate (docs/traces.md "In the editor"): for each guest with a
 * `measured "PATH"` statement, the trace's state (server/src/measurements.ts) and, once read,
 * the core's comparison (compareWithTrace) and calibration (calibrate). From those: the TL409
 * (model and measurement differ past the tolerance) and TL410 (trace unreadable / unavailable)
 * diagnostics, the hover of the `measured` statement and the measured line of handler hovers,
 * the code lenses, and the Show Estimate report's section.
 */
import {
  type Analysis,
  CalibrationError,
  type CalibrationResult,
  type ComparedFigure,
  calibrate,
  compareWithTrace,
  type Diagnostic,
  estimateFigures,
  type MeasuredComparison,
  type MeasuredIR,
  type ReasonComparison,
} from "../../../core/src/index";
import { formatPercent, formatRate, formatSignificant } from "../../../core/src/util/format";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { TraceState } from "../measurements";

export const MEASURED_MISMATCH = "TL409";
export const MEASURED_UNREADABLE = "TL410";
export const CALIBRATE_TITLE = "Calibrate from the measured trace";

export interface GuestMeasurement {
  guest: string;
  ir: MeasuredIR;
  trace: TraceState;
  comparison?: MeasuredComparison;
  /** The fit of the file's costs to the trace, or why there is none. */
  calibration?: CalibrationResult | { error: string };
}

/** Per guest name, the guests that name a trace. */
export type MeasuredView = ReadonlyMap<string, GuestMeasurement>;

/** The measurement of every guest of `analysis` with a `measured` statement. */
export function measuredView(
  analysis: Analysis,
  stateOf: (ir: MeasuredIR) => TraceState,
): Map<string, GuestMeasurement> {
  const view = new Map<string, GuestMeasurement>();
  for (const guest of analysis.program.guests.values()) {
    if (!guest.measured) continue;
    const trace = stateOf(guest.measured);
    const m: GuestMeasurement = { guest: guest.name, ir: guest.measured, trace };
    const estimate = analysis.estimates.get(guest.name);
    if (trace.state === "ready" && estimate) {
      m.comparison = compareWithTrace(estimateFigures(estimate), trace.trace, guest.measured.tolerance);
      try {
        m.calibration = calibrate(analysis.program, analysis.text, trace.trace);
      } catch (error) {
        m.calibration = {
          error: error instanceof CalibrationError ? error.message : "the fit failed",
        };
      }
    }
    view.set(guest.name, m);
  }
  return view;
}

const ratioText = (f: ComparedFigure) =>
  f.ratio === undefined ? "—" : `${formatSignificant(f.ratio)}×${f.flagged ? " ⚠" : ""}`;
const rateText = (x: number | undefined) => (x === undefined ? "—" : formatRate(x));
const usText = (x: number | undefined) => (x === undefined ? "—" : `${formatSignificant(x)} µs`);

/** The diagnostics of the measurements: unreadable traces and figures past the tolerance. */
export function measuredDiagnostics(analysis: Analysis, view: MeasuredView): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of view.values()) {
    const where = codeSpan(m.ir.path);
    if (m.trace.state === "unavailable" || m.trace.state === "error") {
      out.push({
        severity: m.trace.state === "unavailable" ? "info" : "warning",
        code: MEASURED_UNREADABLE,
        message: `the trace ${where} is not compared: ${m.trace.message}`,
        span: m.ir.pathSpan,
      });
      continue;
    }
    const c = m.comparison;
    if (!c) continue;
    const fix =
      m.calibration && "edits" in m.calibration && m.calibration.edits.length > 0
        ? [{ title: CALIBRATE_TITLE, edits: m.calibration.edits }]
        : undefined;
    const beyond = `beyond ±${formatPercent(c.tolerance)}`;
    for (const r of c.reasons) {
      if (r.presence !== "both") continue;
      if (r.usPerExit.flagged) {
        const handler = r.code === undefined ? undefined : analysis.program.handlers.get(r.code);
        out.push({
          severity: "warning",
          code: MEASURED_MISMATCH,
          message: `${r.reason}: measured ${usText(r.usPerExit.measured)} per exit, the model ${usText(r.usPerExit.model)} (${formatSignificant(r.usPerExit.ratio ?? 0)}×, ${beyond}; trace ${where})`,
          span: handler?.reasonSpan ?? m.ir.span,
          related: handler ? [{ span: m.ir.span, message: "the measurement" }] : undefined,
          fixes: fix,
        });
      }
      if (r.exitsPerSecond.flagged) {
        out.push({
          severity: "warning",
          code: MEASURED_MISMATCH,
          message: `${r.reason}: measured ${rateText(r.exitsPerSecond.measured)}, the model ${rateText(r.exitsPerSecond.model)} (${formatSignificant(r.exitsPerSecond.ratio ?? 0)}×, ${beyond}) in guest ${codeSpan(m.guest)}`,
          span: m.ir.span,
        });
      }
    }
  }
  return out;
}

/** A line for the trace's state while it has no comparison. */
function stateLine(m: GuestMeasurement): string | undefined {
  switch (m.trace.state) {
    case "loading":
      return "reading the trace…";
    case "error":
    case "unavailable":
      return m.trace.message;
    case "ready":
      return m.comparison ? undefined : "no estimate of the guest to compare with";
  }
}

function traceSummary(c: MeasuredComparison): string {
  const window =
    c.trace.windowSec !== undefined ? `${formatSignificant(c.trace.windowSec)} s window` : "no timestamps";
  const vcpus = c.trace.vcpus > 0 ? `, ${c.trace.vcpus} vCPU${c.trace.vcpus === 1 ? "" : "s"}` : "";
  return `${c.trace.format}: ${c.trace.exits} exits${vcpus}, ${window}; tolerance ±${formatPercent(c.tolerance)}`;
}

function reasonName(r: ReasonComparison): string {
  const side =
    r.presence === "model-only" ? " (model only)" : r.presence === "trace-only" ? " (trace only)" : "";
  return `${escapeMarkdown(r.reason)}${side}`;
}

/** The per-reason table: measured exits/s, model, ratio; measured µs/exit, model, ratio. */
function reasonTable(c: MeasuredComparison): string[] {
  const out = [
    "| reason | exits/s measured | model | ratio | µs/exit measured | model | ratio |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of c.reasons) {
    const us = r.idle ? "idle, not compared" : ratioText(r.usPerExit);
    out.push(
      `| ${reasonName(r)} | ${rateText(r.exitsPerSecond.measured)} | ${rateText(r.exitsPerSecond.model)} | ${ratioText(r.exitsPerSecond)} | ${usText(r.usPerExit.measured)} | ${usText(r.usPerExit.model)} | ${us} |`,
    );
  }
  const t = c.total;
  out.push(
    `| **total** | ${rateText(t.exitsPerSecond.measured)} | ${rateText(t.exitsPerSecond.model)} | ${ratioText(t.exitsPerSecond)} | ${usText(t.usPerExit.measured)} | ${usText(t.usPerExit.model)} | ${ratioText(t.usPerExit)} |`,
  );
  return out;
}

/** The hover of a `measured` statement. */
export function measuredHover(m: GuestMeasurement): string {
  const head = `**Measured** ${codeSpan(m.ir.path)} beside the estimate of guest ${codeSpan(m.guest)}`;
  const c = m.comparison;
  if (!c) return `${head}\n\n${stateLine(m) ?? ""}`;
  const out = [head, "", traceSummary(c), "", ...reasonTable(c)];
  if (c.notes.length) out.push("", ...c.notes.map((n) => `- ${escapeMarkdown(n)}`));
  return out.join("\n");
}

/** The measured line of a handler's hover: its reason in every guest's trace. */
export function handlerMeasuredLines(view: MeasuredView | undefined, code: number): string[] {
  const out: string[] = [];
  for (const m of view?.values() ?? []) {
    const r = m.comparison?.reasons.find((x) => x.code === code && x.presence !== "model-only");
    if (!r) continue;
    out.push(
      `**Measured** (${codeSpan(m.ir.path)}, guest ${codeSpan(m.guest)}): ${usText(r.usPerExit.measured)}/exit (model ${usText(r.usPerExit.model)}, ${r.idle ? "idle time, not compared" : ratioText(r.usPerExit)}) · ${rateText(r.exitsPerSecond.measured)} (model ${rateText(r.exitsPerSecond.model)}, ${ratioText(r.exitsPerSecond)})`,
    );
  }
  return out;
}

/** The lens title above a `measured` statement. */
export function measuredLensTitle(m: GuestMeasurement): string {
  const c = m.comparison;
  if (!c) return `trace: ${stateLine(m) ?? ""}`;
  const t = c.total;
  const flagged = c.flaggedCount
    ? ` · ${c.flaggedCount} figure${c.flaggedCount === 1 ? "" : "s"} beyond ±${formatPercent(c.tolerance)}`
    : ` · within ±${formatPercent(c.tolerance)}`;
  const parts: string[] = [];
  if (t.exitsPerSecond.measured !== undefined)
    parts.push(
      `${rateText(t.exitsPerSecond.measured)} (model ${rateText(t.exitsPerSecond.model)}, ${ratioText(t.exitsPerSecond)})`,
    );
  if (t.usPerExit.measured !== undefined)
    parts.push(
      `${usText(t.usPerExit.measured)}/exit (model ${usText(t.usPerExit.model)}, ${ratioText(t.usPerExit)})`,
    );
  if (!parts.length) parts.push(`${c.trace.exits} exits`);
  return `measured ${parts.join(" · ")}${flagged}`;
}

/** The measured part of a handler's lens title, or "" (first guest whose trace has the reason). */
export function handlerLensSuffix(view: MeasuredView | undefined, code: number): string {
  for (const m of view?.values() ?? []) {
    const r = m.comparison?.reasons.find((x) => x.code === code && x.presence === "both");
    if (!r || r.idle || r.usPerExit.measured === undefined) continue;
    return ` · measured ${usText(r.usPerExit.measured)}/exit (${ratioText(r.usPerExit)})`;
  }
  return "";
}

/** The Show Estimate report's section for a guest's measurement. */
export function measuredReportSection(m: GuestMeasurement): string[] {
  const out = [`### Measured: ${codeSpan(m.ir.path)}`, ""];
  const c = m.comparison;
  if (!c) return [...out, stateLine(m) ?? "", ""];
  out.push(traceSummary(c), "", ...reasonTable(c), "");
  if (c.vcpus.length) {
    out.push(
      "| vCPU | exits measured | exits/s measured | model | ratio | µs/exit measured | model | ratio |",
    );
    out.push("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const v of c.vcpus)
      out.push(
        `| ${v.vcpu} | ${v.measuredCount} | ${rateText(v.exitsPerSecond.measured)} | ${rateText(v.exitsPerSecond.model)} | ${ratioText(v.exitsPerSecond)} | ${usText(v.usPerExit.measured)} | ${usText(v.usPerExit.model)} | ${ratioText(v.usPerExit)} |`,
      );
    out.push("");
  }
  for (const note of c.notes) out.push(`- ${escapeMarkdown(note)}`);
  for (const r of c.reasons) if (r.note) out.push(`- ${escapeMarkdown(r.reason)}: ${escapeMarkdown(r.note)}`);
  if (m.calibration && "edits" in m.calibration)
    out.push(
      "",
      `Calibration (quick fix "${CALIBRATE_TITLE}", as \`trapline calibrate --write\`): round trip ${m.calibration.roundTripBefore} → ${m.calibration.roundTripAfter} cycles; ${m.calibration.reasons.filter((r) => r.change !== "unchanged").length} handler change(s).`,
    );
  out.push("");
  return out;
}
