/**
 * Calibration (docs/traces.md "Calibration"): fits the file's per-exit costs — the target's
 * round trip (`cost round_trip`) and each handler's `work` — to a trace's measured per-reason
 * latencies, and returns the result as text edits of the file (for `trapline calibrate` and an
 * editor quick fix).
 *
 * The model: an exit of reason r costs T + F_r + W_r cycles, T the round trip, W_r the handler's
 * top-level `work`, F_r the rest of the handler (VMREADs, user space, branches — what the other
 * cost parameters give, unchanged here). The trace gives m_r, the mean kvm_exit → kvm_entry time
 * of reason r, with n_r exits. Latencies alone fix T + W_r = m_r − F_r per reason but not how it
 * splits between the shared T and the per-handler W_r (any T' = T − d, W'_r = W_r + d fits as
 * well), so the fit is: residual zero where possible, and of those solutions the one closest,
 * in count-weighted least squares, to the file's current values — minimise
 *   Σ n_r (W'_r − W_r)² + N (T' − T)²,  with W'_r = m_r − F_r − T',  N = Σ n_r,
 * which is T' = (Σ n_r (m_r − F_r − W_r) + N T) / 2N, then clamped to 0 ≤ T' ≤ min_r (m_r − F_r)
 * so that every work value stays ≥ 0. A reason whose F_r alone exceeds m_r keeps work 0 and a
 * residual. HLT is not fitted: its measured time holds the halted (idle) time.
 */

import { handlerCost } from "../analysis/cost";
import type { HandlerOp, Program } from "../model/ir";
import type { TextEdit } from "../source";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import { BASIC_EXIT_REASON_MASK } from "../vmx/fieldFormats";
import type { TraceResult } from "./types";

const HLT = EXIT.HLT;

export interface CalibratedReason {
  reason: string;
  code: number;
  /** Exits of the reason in the trace (the weight of its equation). */
  count: number;
  /** Measured mean, cycles at the target clock. */
  measuredCycles: number;
  /** Before: the model's cycles per exit. */
  modelCycles: number;
  /** After: T' + F_r + W'_r. */
  fittedCycles: number;
  /** (fitted − measured) / measured. */
  residual: number;
  /** The handler's `work` before and after (undefined work before: a `work` is added). */
  workBefore: number;
  workAfter: number;
  /** How the file changes for it. */
  change: "work edited" | "work added" | "handler added" | "unchanged";
}

export interface CalibrationResult {
  hz: number;
  roundTripBefore: number;
  roundTripAfter: number;
  reasons: CalibratedReason[];
  /** Trace reasons not fitted, with why (HLT idle, flags, SVM, no latency). */
  skipped: { reason: string; why: string }[];
  /** Edits of the source text, non-overlapping, in document order. */
  edits: TextEdit[];
}

export class CalibrationError extends Error {}

/** The top-level `work` op of a handler (the one calibration edits). */
function topLevelWork(ops: readonly HandlerOp[]): Extract<HandlerOp, { op: "work" }> | undefined {
  for (const op of ops) if (op.op === "work") return op;
  return undefined;
}

/**
 * Fits the program's costs to the trace. `text` is the program's source (the edits refer to it).
 * Throws CalibrationError when the trace has no latency to fit (kvm_stat) or no reason to fit.
 */
export function calibrate(program: Program, text: string, trace: TraceResult): CalibrationResult {
  if (trace.exits.latency === false || trace.kind === "counters")
    throw new CalibrationError(
      "the trace has no exit latencies (kvm_stat counts exits only): nothing to fit",
    );
  const hz = program.target.hz;
  const T = program.target.costs.round_trip.cycles;
  const skipped: CalibrationResult["skipped"] = [];
  interface Eq {
    code: number;
    name: string;
    n: number;
    m: number;
    F: number;
    W: number;
    model: number;
    hasHandler: boolean;
    hasWork: boolean;
  }
  const eqs: Eq[] = [];
  for (const row of trace.exits.rows) {
    const name = row.key;
    if (
      row.code === undefined ||
      row.isa === "svm" ||
      (row.flags && row.flags.length > 0) ||
      row.code > BASIC_EXIT_REASON_MASK
    ) {
      skipped.push({ reason: name, why: "no VT-x basic reason (flags, an SVM code or an unknown name)" });
      continue;
    }
    if (row.code === HLT) {
      skipped.push({ reason: name, why: "HLT's measured time holds the halted (idle) time" });
      continue;
    }
    if (row.count === 0) continue;
    const def = exitReasonByCode(row.code);
    const handler = program.handlers.get(row.code);
    const cost = handlerCost(program, row.code);
    const work = handler ? topLevelWork(handler.ops) : undefined;
    const W = work?.cycles ?? 0;
    // A reason with no handler gets one with only `work`: its F is 0.
    const F = handler ? cost.total - cost.transition - W : 0;
    eqs.push({
      code: row.code,
      name: def?.name ?? name,
      n: row.count,
      m: (row.meanNs * hz) / 1e9,
      F,
      W: handler ? W : 0,
      model: cost.total,
      hasHandler: handler !== undefined,
      hasWork: work !== undefined,
    });
  }
  if (eqs.length === 0)
    throw new CalibrationError("the trace has no exit reason to fit (only HLT or unknown reasons)");

  let N = 0;
  let sum = 0;
  let bound = Number.POSITIVE_INFINITY;
  for (const e of eqs) {
    N += e.n;
    sum += e.n * (e.m - e.F - e.W);
    bound = Math.min(bound, e.m - e.F);
  }
  let Tn = (sum + N * T) / (2 * N);
  Tn = Math.round(Math.max(0, Math.min(Tn, bound)));

  const reasons: CalibratedReason[] = [];
  const edits: TextEdit[] = [];
  const added: string[] = [];
  // A handler written for several reasons is one set of ops: the first reason fitted decides it.
  const fittedWork = new Map<HandlerOp[] | undefined, number>();
  for (const e of eqs) {
    const handler = program.handlers.get(e.code);
    const shared = handler ? fittedWork.get(handler.ops) : undefined;
    const Wn = shared ?? Math.max(0, Math.round(e.m - e.F - Tn));
    if (handler) fittedWork.set(handler.ops, Wn);
    const fitted = Tn + e.F + Wn;
    let change: CalibratedReason["change"] = "unchanged";
    if (!handler) {
      change = "handler added";
      added.push(`handler ${e.name} { work ${Wn} }   // calibrated from a trace`);
    } else if (shared !== undefined) {
      change = "unchanged";
    } else if (e.hasWork) {
      const work = topLevelWork(handler.ops)!;
      if (Wn !== work.cycles) {
        change = "work edited";
        edits.push({ span: work.span, newText: `work ${Wn}` });
      }
    } else if (Wn > 0) {
      change = "work added";
      const open = text.indexOf("{", handler.span.start);
      if (open < 0 || open >= handler.span.end) throw new CalibrationError(`handler ${e.name} has no block`);
      const multiLine = text.charCodeAt(open + 1) === 10;
      edits.push({
        span: { start: open + 1, end: open + 1 },
        newText: multiLine ? `\n  work ${Wn}` : ` work ${Wn}`,
      });
    }
    reasons.push({
      reason: e.name,
      code: e.code,
      count: e.n,
      measuredCycles: e.m,
      modelCycles: e.model,
      fittedCycles: fitted,
      residual: e.m > 0 ? (fitted - e.m) / e.m : 0,
      workBefore: e.W,
      workAfter: Wn,
      change,
    });
  }
  if (added.length > 0)
    edits.push({
      span: { start: text.length, end: text.length },
      newText: `${text.endsWith("\n") ? "" : "\n"}\n${added.join("\n")}\n`,
    });
  if (Tn !== T) edits.push(roundTripEdit(program, text, Tn));
  edits.sort((a, b) => a.span.start - b.span.start);
  return { hz, roundTripBefore: T, roundTripAfter: Tn, reasons, skipped, edits };
}

/** `cost round_trip = N` in the target block: replaced, added to the block, or a block added. */
function roundTripEdit(program: Program, text: string, cycles: number): TextEdit {
  const statement = `cost round_trip = ${cycles}`;
  const span = program.target.span;
  if (!span) {
    // No target line: the default profile, named so that the override has a block to live in.
    return {
      span: { start: 0, end: 0 },
      newText: `target ${program.target.profile.name} {\n  ${statement}\n}\n\n`,
    };
  }
  const source = text.slice(span.start, span.end);
  const existing = /\bcost\s+round_trip\s*=\s*[^\s}]+/.exec(source);
  if (existing) {
    const start = span.start + existing.index;
    return { span: { start, end: start + existing[0].length }, newText: statement };
  }
  const open = source.indexOf("{");
  if (open >= 0) {
    const at = span.start + open + 1;
    return { span: { start: at, end: at }, newText: `\n  ${statement}` };
  }
  return { span: { start: span.end, end: span.end }, newText: ` {\n  ${statement}\n}` };
}

/** Applies non-overlapping edits (any order) to a text. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.span.start - a.span.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  return out;
}
