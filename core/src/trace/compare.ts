/**
 * The model beside the measurement (docs/traces.md "Measured beside modelled"): an estimate or
 * a simulation result set against an imported trace per exit reason, per vCPU and in total —
 * exits per second, µs per exit, host CPU — with the ratio measured/model and a flag where the
 * two differ by more than a tolerance.
 *
 * What is compared, and why:
 * - Exit reasons are matched by their VT-x basic reason number. A trace row with flag bits
 *   (`FAILED_VMENTRY`), an SVM name or a name no table knows has no model counterpart and is
 *   listed as trace-only; a reason the model produces and the trace does not show is model-only.
 * - HLT: KVM's kvm_exit → kvm_entry interval of a HLT exit contains the time the vCPU was
 *   blocked in kvm_vcpu_halt (the vCPU thread sleeps inside the exit: vcpu_block in
 *   arch/x86/kvm/x86.c), so perf's Time% is ~100 % HLT and its µs per exit is idle time, not
 *   handling cost. HLT's rate is compared; its µs per exit is shown but never flagged, and HLT
 *   is left out of the host-CPU figures and the total µs per exit on both sides.
 * - vCPUs: the model's vCPUs are identical, so each measured vCPU is set against the model's
 *   per-vCPU figures (total / vcpus). Totals are compared as they are (all vCPUs); a note says
 *   when the trace shows a different number of vCPUs than the model has.
 * - Window: the trace's rates are over its window (first to last timestamp); the model's are
 *   steady-state rates. Without a window (a perf report) there are no measured rates or host
 *   CPU; without latencies (kvm_stat counters) no measured µs per exit.
 */
import type { GuestEstimate } from "../analysis/types";
import type { SimulationResult } from "../sim/types";
import { EXIT } from "../vmx/exitReasons";
import { BASIC_EXIT_REASON_MASK } from "../vmx/fieldFormats";
import type { PairedTable, ReasonRow, TraceResult } from "./types";

/** Default tolerance: a figure is flagged when measured/model is beyond 1 ± 0.25. */
export const DEFAULT_TOLERANCE = 0.25;

const HLT_CODE = EXIT.HLT;

/** One figure on both sides. `ratio` is measured / model when both exist and the model's is not 0. */
export interface ComparedFigure {
  model?: number;
  measured?: number;
  ratio?: number;
  /** |ratio − 1| > tolerance (never for a figure marked not compared). */
  flagged: boolean;
}

export interface ReasonComparison {
  reason: string;
  /** VT-x basic exit reason (undefined for a trace row no table knows). */
  code?: number;
  /** `both`: produced by the model and seen in the trace; otherwise on one side only. */
  presence: "both" | "model-only" | "trace-only";
  /** Exits counted in the trace (all vCPUs). */
  measuredCount: number;
  exitsPerSecond: ComparedFigure;
  usPerExit: ComparedFigure;
  /** Host cores spent handling this reason (exits/s × µs per exit). */
  hostCpu: ComparedFigure;
  /** HLT: the measured latency includes the halted time (idle), so µs per exit is not compared. */
  idle?: true;
  /** Why a trace-only row cannot match (flags, SVM, unknown name). */
  note?: string;
}

export interface TotalComparison {
  exitsPerSecond: ComparedFigure;
  /** Mean µs per exit over every reason but HLT. */
  usPerExit: ComparedFigure;
  /** Host cores handling exits, HLT excluded. */
  hostCpu: ComparedFigure;
}

export interface VcpuComparison extends TotalComparison {
  vcpu: number;
  measuredCount: number;
}

export interface MeasuredComparison {
  /** What the model side is. */
  model: "estimate" | "simulation";
  tolerance: number;
  trace: {
    format: TraceResult["format"];
    kind: TraceResult["kind"];
    /** Seconds the trace covers; undefined without timestamps. */
    windowSec?: number;
    vcpus: number;
    exits: number;
  };
  modelVcpus: number;
  reasons: ReasonComparison[];
  total: TotalComparison;
  /** One row per measured vCPU, against the model's per-vCPU figures. */
  vcpus: VcpuComparison[];
  /** Figures flagged, all rows together. */
  flaggedCount: number;
  notes: string[];
}

/** The model side in one shape: per reason, all vCPUs. */
export interface ModelFigures {
  model: "estimate" | "simulation";
  vcpus: number;
  reasons: { reason: string; code: number; exitsPerSecond: number; usPerExit: number }[];
}

/** The per-reason figures both models report alike (byReason rows with cycles per exit). */
function modelFigures(
  model: ModelFigures["model"],
  vcpus: number,
  hz: number,
  byReason: readonly { reason: string; code: number; exitsPerSecond: number; cyclesPerExit: number }[],
): ModelFigures {
  const clock = hz > 0 ? hz : 1;
  return {
    model,
    vcpus,
    reasons: byReason.map((r) => ({
      reason: r.reason,
      code: r.code,
      exitsPerSecond: r.exitsPerSecond,
      usPerExit: (r.cyclesPerExit / clock) * 1e6,
    })),
  };
}

export function estimateFigures(estimate: GuestEstimate): ModelFigures {
  return modelFigures("estimate", estimate.vcpus, estimate.target.hz, estimate.byReason);
}

export function simulationFigures(result: SimulationResult): ModelFigures {
  return modelFigures("simulation", result.vcpus, result.target.hz, result.byReason);
}

function figure(model: number | undefined, measured: number | undefined, tolerance: number, compared = true) {
  const f: ComparedFigure = { flagged: false };
  if (model !== undefined) f.model = model;
  if (measured !== undefined) f.measured = measured;
  if (model !== undefined && measured !== undefined && model > 0) {
    f.ratio = measured / model;
    f.flagged = compared && Math.abs(f.ratio - 1) > tolerance;
  } else if (compared && model !== undefined && measured !== undefined && model === 0 && measured > 0) {
    f.flagged = true;
  }
  return f;
}

/** The basic VT-x reason a vmexit row stands for, or why it has none. */
function rowCode(row: ReasonRow): { code?: number; note?: string } {
  if (row.code === undefined) return { note: "a reason name no table knows" };
  if (row.isa === "svm") return { note: "an AMD SVM exit code (the model is VT-x)" };
  if (row.flags && row.flags.length > 0) return { note: `exit with ${row.flags.join(" ")}` };
  if (row.code > BASIC_EXIT_REASON_MASK) return { note: "exit reason with flag bits" };
  return { code: row.code };
}

/** Measured figures of a table (all vCPUs or one), by basic reason code. */
function measuredByCode(table: PairedTable, windowSec: number | undefined) {
  const latency = table.latency !== false;
  const out = new Map<number, { rate?: number; us?: number; count: number; totalNs: number }>();
  for (const row of table.rows) {
    const { code } = rowCode(row);
    if (code === undefined) continue;
    out.set(code, {
      count: row.count,
      totalNs: row.totalNs,
      rate: row.ratePerSecond ?? (windowSec ? row.count / windowSec : undefined),
      us: latency && row.count > 0 ? row.meanNs / 1000 : undefined,
    });
  }
  return out;
}

/**
 * Sets the model beside the trace. `tolerance` is a fraction (0.25 = 25 %). Pure: neither side
 * is changed.
 */
export function compareWithTrace(
  model: ModelFigures,
  trace: TraceResult,
  tolerance = DEFAULT_TOLERANCE,
): MeasuredComparison {
  const windowSec = trace.window && trace.window.durationSec > 0 ? trace.window.durationSec : undefined;
  const hasRates = trace.exits.rows.some((r) => r.ratePerSecond !== undefined) || windowSec !== undefined;
  const hasLatency = trace.exits.latency !== false && trace.kind !== "counters";
  const notes: string[] = [];
  const measured = measuredByCode(trace.exits, windowSec);
  const reasons: ReasonComparison[] = [];
  const seen = new Set<number>();
  const hostCpuOf = (rate: number | undefined, us: number | undefined) =>
    rate !== undefined && us !== undefined ? (rate * us) / 1e6 : undefined;

  for (const m of model.reasons) {
    seen.add(m.code);
    const t = measured.get(m.code);
    const idle = m.code === HLT_CODE;
    const modelHost = idle ? undefined : hostCpuOf(m.exitsPerSecond, m.usPerExit);
    const measuredRate = t?.rate ?? (t === undefined && hasRates ? 0 : undefined);
    const measuredHost = idle || !t ? undefined : hostCpuOf(t.rate, t.us);
    const row: ReasonComparison = {
      reason: m.reason,
      code: m.code,
      presence: t ? "both" : "model-only",
      measuredCount: t?.count ?? 0,
      exitsPerSecond: figure(m.exitsPerSecond, measuredRate, tolerance, t !== undefined),
      usPerExit: figure(m.usPerExit, t?.us, tolerance, !idle),
      hostCpu: figure(modelHost, measuredHost, tolerance, !idle),
    };
    if (idle) row.idle = true;
    reasons.push(row);
  }
  for (const r of trace.exits.rows) {
    const { code, note } = rowCode(r);
    if (code !== undefined && seen.has(code)) continue;
    if (code !== undefined) seen.add(code);
    const idle = code === HLT_CODE;
    const rate = r.ratePerSecond ?? (windowSec ? r.count / windowSec : undefined);
    const us = hasLatency && r.count > 0 ? r.meanNs / 1000 : undefined;
    const row: ReasonComparison = {
      reason: r.key,
      presence: "trace-only",
      measuredCount: r.count,
      exitsPerSecond: figure(undefined, rate, tolerance),
      usPerExit: figure(undefined, us, tolerance),
      hostCpu: figure(undefined, idle ? undefined : hostCpuOf(rate, us), tolerance),
    };
    if (code !== undefined) row.code = code;
    if (idle) row.idle = true;
    if (note) row.note = note;
    reasons.push(row);
  }

  // Totals: rates over every reason; µs per exit and host CPU over every reason but HLT.
  const modelTotals = totalsOf(
    model.reasons.map((m) => ({ code: m.code, rate: m.exitsPerSecond, us: m.usPerExit })),
  );
  const traceRows = [...measured.entries()].map(([code, t]) => ({
    code,
    rate: t.rate,
    us: t.us,
    count: t.count,
  }));
  const total = compareTotals(modelTotals, measuredTotals(traceRows, windowSec, hasLatency), tolerance);

  const vcpus: VcpuComparison[] = [];
  const perVcpuModel = {
    rate: model.vcpus > 0 ? modelTotals.rate / model.vcpus : 0,
    us: modelTotals.us,
    hostCpu:
      model.vcpus > 0 && modelTotals.hostCpu !== undefined ? modelTotals.hostCpu / model.vcpus : undefined,
  };
  for (const v of trace.vcpus) {
    const table: PairedTable = {
      mode: "vmexit",
      title: "VM-EXIT",
      rows: v.rows,
      totalCount: v.exits.count,
      totalNs: v.exits.totalNs,
    };
    const rows = [...measuredByCode(table, windowSec).entries()].map(([code, t]) => ({
      code,
      rate: t.rate,
      us: t.us,
      count: t.count,
    }));
    vcpus.push({
      vcpu: v.vcpu,
      measuredCount: v.exits.count,
      ...compareTotals(perVcpuModel, measuredTotals(rows, windowSec, hasLatency), tolerance),
    });
  }

  if (!hasRates) notes.push("the trace has no timestamps (a perf report): no measured rates or host CPU");
  if (!hasLatency) notes.push("the trace measures no latency (kvm_stat counters): no measured µs per exit");
  if (trace.vcpus.length > 0 && trace.vcpus.length !== model.vcpus)
    notes.push(
      `the trace shows ${trace.vcpus.length} vCPU${trace.vcpus.length === 1 ? "" : "s"}, the model has ${model.vcpus}: totals differ by that factor; per-vCPU rows compare like with like`,
    );
  if (reasons.some((r) => r.idle && r.usPerExit.measured !== undefined))
    notes.push(
      "HLT: the measured exit→entry time includes the halted (idle) time, so its µs per exit is not compared and HLT is left out of host CPU and the total µs per exit",
    );
  if (trace.lostEvents) notes.push(`perf lost ${trace.lostEvents} events: measured counts are low`);

  let flaggedCount = 0;
  const count = (f: ComparedFigure) => {
    if (f.flagged) flaggedCount++;
  };
  for (const r of reasons) {
    count(r.exitsPerSecond);
    count(r.usPerExit);
    count(r.hostCpu);
  }
  for (const t of [total, ...vcpus]) {
    count(t.exitsPerSecond);
    count(t.usPerExit);
    count(t.hostCpu);
  }
  const result: MeasuredComparison = {
    model: model.model,
    tolerance,
    trace: {
      format: trace.format,
      kind: trace.kind,
      vcpus: trace.vcpus.length,
      exits: trace.exits.totalCount,
    },
    modelVcpus: model.vcpus,
    reasons,
    total,
    vcpus,
    flaggedCount,
    notes,
  };
  if (windowSec !== undefined) result.trace.windowSec = windowSec;
  return result;
}

interface Totals {
  rate: number | undefined;
  us: number | undefined;
  hostCpu: number | undefined;
}

function totalsOf(rows: { code: number; rate: number; us: number }[]): Totals & { rate: number } {
  let rate = 0;
  let busyRate = 0;
  let cores = 0;
  for (const r of rows) {
    rate += r.rate;
    if (r.code === HLT_CODE) continue;
    busyRate += r.rate;
    cores += (r.rate * r.us) / 1e6;
  }
  return { rate, us: busyRate > 0 ? (cores / busyRate) * 1e6 : undefined, hostCpu: cores };
}

function measuredTotals(
  rows: { code: number; rate?: number; us?: number; count: number }[],
  windowSec: number | undefined,
  hasLatency: boolean,
): Totals {
  let rate: number | undefined =
    windowSec !== undefined || rows.some((r) => r.rate !== undefined) ? 0 : undefined;
  let busyCount = 0;
  let busyUsSum = 0;
  let cores: number | undefined = rate === undefined || !hasLatency ? undefined : 0;
  for (const r of rows) {
    if (rate !== undefined) rate += r.rate ?? 0;
    if (r.code === HLT_CODE) continue;
    if (r.us !== undefined) {
      busyCount += r.count;
      busyUsSum += r.us * r.count;
      if (cores !== undefined && r.rate !== undefined) cores += (r.rate * r.us) / 1e6;
    }
  }
  return { rate, us: hasLatency && busyCount > 0 ? busyUsSum / busyCount : undefined, hostCpu: cores };
}

function compareTotals(model: Totals, measured: Totals, tolerance: number): TotalComparison {
  return {
    exitsPerSecond: figure(model.rate, measured.rate, tolerance),
    usPerExit: figure(model.us, measured.us, tolerance),
    hostCpu: figure(model.hostCpu, measured.hostCpu, tolerance),
  };
}
