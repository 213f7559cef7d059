/**
 * An imported trace as the timeline panel draws a simulation (docs/timeline.md "Traces"): the
 * per-vCPU exit sample becomes a {@link Timeline} (one lane per vCPU, an Exit interval per paired
 * exit→entry, coloured by its basic exit reason, Guest intervals between consecutive exits), and
 * the vmexit table becomes the statistics the panel's tables read (the {@link SimulationResult}
 * fields), so a real trace is drawn, indexed, selected and exported by the same code as a run.
 *
 * What a trace does not measure is not invented: a trace has no TSC clock, so the "cycles"
 * fields are nanoseconds (the nominal `hz` is 1 GHz, so the panel's cycles↔time conversions are
 * exact); exit→entry time is not split into transition/handler/user space (all of it is
 * `handlerCycles`); there are no paths, no interrupt latency, no halted/idle split.
 */
import type { Timeline } from "../sim/timeline";
import { VcpuState } from "../sim/timeline";
import type { SimReasonStats, SimulationResult } from "../sim/types";
import { BASIC_EXIT_REASON_MASK } from "../vmx/fieldFormats";
import type { ReasonRow, TraceResult } from "./types";

/** A trace has no TSC frequency: cycles are nanoseconds on a nominal 1 GHz clock. */
export const TRACE_NOMINAL_HZ = 1e9;
/**
 * Timeline reason values for rows without a known exit code (a reason name no table knows):
 * above every VT-x basic reason and SVM exit code, below Int16's limit.
 */
export const UNKNOWN_REASON_BASE = 30_000;

export interface TraceRun {
  timeline: Timeline;
  /** The statistics in the simulator's shape (without the timeline). */
  stats: Omit<SimulationResult, "timeline">;
  /** Names by timeline reason value (including the synthetic ones of unknown reasons). */
  reasonNames: Record<number, string>;
  /**
   * The largest per-vCPU stride: 1 when every paired exit is drawn, N when the lanes show every
   * N-th exit of the busiest vCPU (the statistics are still exact).
   */
  sampleStride: number;
  /** Exits drawn (intervals of state Exit). */
  drawnExits: number;
}

/**
 * The timeline reason value of a vmexit row: its basic exit reason (bits 15:0 of the exit_reason
 * field; the flag bits above, such as bit 31 VMX_EXIT_REASONS_FAILED_VMENTRY in Linux's
 * arch/x86/include/uapi/asm/vmx.h, do not change the colour), or a synthetic value when the trace named a
 * reason no table knows or printed a bare number (its low bits would alias a real reason).
 */
function reasonValue(row: ReasonRow, index: number): number {
  const named = row.reason !== undefined && !/^(0x)?[0-9a-f]+$/i.test(row.reason);
  if (row.code !== undefined && row.code >= 0 && named) return row.code & BASIC_EXIT_REASON_MASK;
  return UNKNOWN_REASON_BASE + index;
}

function emptyMarkers(): Timeline["markers"] {
  return {
    count: 0,
    time: new Float64Array(0),
    vcpu: new Uint16Array(0),
    kind: new Uint8Array(0),
    vector: new Int16Array(0),
  };
}

/**
 * Converts an imported trace. `name` is what the statistics call the workload (the file name).
 * Input without events (perf report tables, kvm_stat counters) gives empty lanes and the
 * statistics the table holds.
 */
export function traceToRun(result: TraceResult, name: string): TraceRun {
  const rows = result.exits.rows;
  const values = rows.map(reasonValue);
  const reasonNames: Record<number, string> = {};
  rows.forEach((row, i) => {
    // Rows differing only in flags share a colour and are named by their base reason.
    reasonNames[values[i]!] =
      row.code !== undefined && values[i]! < UNKNOWN_REASON_BASE ? (row.reason ?? row.key) : row.key;
  });

  const laneCount = Math.max(1, result.vcpus.length);
  // Lanes are dense 0..n-1 in vCPU order; the trace's vCPU ids need not be.
  let capacity = 0;
  let sampleStride = 1;
  for (const v of result.vcpus) {
    if (!v.timeline) continue;
    capacity += v.timeline.startNs.length * 2;
    sampleStride = Math.max(sampleStride, v.timeline.stride);
  }
  const windowNs = (result.window?.durationSec ?? 0) * 1e9;
  const start = new Float64Array(capacity);
  const duration = new Float64Array(capacity);
  const vcpu = new Uint16Array(capacity);
  const state = new Uint8Array(capacity);
  const reason = new Int16Array(capacity);
  const source = new Int32Array(capacity).fill(-1);
  let count = 0;
  let drawnExits = 0;
  let endNs = windowNs;

  result.vcpus.forEach((summary, lane) => {
    const t = summary.timeline;
    if (!t) return;
    // Between two consecutive exits the vCPU was in the guest only when every exit is in the
    // sample; with a stride the gap holds exits that were not kept, so it is left undrawn.
    const guestBetween = t.stride === 1;
    let previousEnd = Number.NaN;
    for (let i = 0; i < t.startNs.length; i++) {
      const s = t.startNs[i]!;
      const d = t.durationNs[i]!;
      if (guestBetween && previousEnd < s) {
        start[count] = previousEnd;
        duration[count] = s - previousEnd;
        vcpu[count] = lane;
        state[count] = VcpuState.Guest;
        reason[count] = -1;
        count++;
      }
      start[count] = s;
      duration[count] = d;
      vcpu[count] = lane;
      state[count] = VcpuState.Exit;
      const row = t.reason[i]!;
      reason[count] = row >= 0 && row < values.length ? values[row]! : -1;
      count++;
      drawnExits++;
      previousEnd = s + d;
      if (previousEnd > endNs) endNs = previousEnd;
    }
  });

  const timeline: Timeline = {
    vcpus: laneCount,
    hz: TRACE_NOMINAL_HZ,
    durationNs: endNs,
    count,
    start,
    duration,
    vcpu,
    state,
    reason,
    source,
    sources: [],
    markers: emptyMarkers(),
    decimated: sampleStride > 1,
  };

  const durationSec = endNs / 1e9;
  const totalExits = result.exits.totalCount;
  const exitSec = result.exits.totalNs / 1e9;
  const vcpuSeconds = laneCount * durationSec;
  const byReason: SimReasonStats[] = rows.map((row, i) => ({
    reason: row.key,
    code: values[i]!,
    exits: row.count,
    exitsPerSecond: row.ratePerSecond ?? (durationSec > 0 ? row.count / durationSec : 0),
    cyclesPerExit: row.meanNs,
    cycles: row.totalNs,
    transitionCycles: 0,
    handlerCycles: row.totalNs,
    userspaceCycles: 0,
    share: row.timeShare,
    duration: {
      min: row.minNs / 1e9,
      mean: row.meanNs / 1e9,
      // Report tables carry no distribution: the mean stands in, as the CLI's table leaves them blank.
      p50: (row.p50Ns ?? row.meanNs) / 1e9,
      p99: (row.p99Ns ?? row.maxNs) / 1e9,
      max: row.maxNs / 1e9,
    },
  }));

  const warnings: string[] = [];
  if (sampleStride > 1) {
    warnings.push(
      `The lanes are a bounded sample: every ${sampleStride}th exit of the busiest vCPU is drawn (${drawnExits.toLocaleString("en-US")} of ${totalExits.toLocaleString("en-US")}); the statistics count every exit.`,
    );
  }
  if (result.kind !== "events") {
    warnings.push(
      `${result.format ?? "This"} input holds ${result.kind === "counters" ? "counters" : "an aggregate table"}, no events: there is nothing to draw on the lanes.`,
    );
  }
  if (result.badLineCount > 0) {
    const first = result.badLines[0];
    warnings.push(
      `${result.badLineCount.toLocaleString("en-US")} line${result.badLineCount === 1 ? "" : "s"} not understood${first ? ` (first: line ${first.line}, ${first.reason})` : ""}.`,
    );
  }
  if (result.truncated)
    warnings.push("The trace ends mid-line (truncated): the statistics hold what it has.");
  if (result.cancelled) warnings.push("The import was cancelled: the statistics hold what was read.");
  if (result.lostEvents)
    warnings.push(`The tracer lost ${result.lostEvents.toLocaleString("en-US")} events.`);

  const stats: Omit<SimulationResult, "timeline"> = {
    guest: name,
    target: { profile: `trace (${result.format ?? "unknown format"})`, hz: TRACE_NOMINAL_HZ },
    vcpus: laneCount,
    seed: 0,
    duration: durationSec,
    exits: totalExits,
    exitsPerSecond: durationSec > 0 ? totalExits / durationSec : 0,
    // Exit→entry time over all vCPU time: a trace does not say which guest time was idle.
    overhead: vcpuSeconds > 0 ? Math.min(1, exitSec / vcpuSeconds) : 0,
    hostCpu: durationSec > 0 ? exitSec / durationSec : 0,
    byReason,
    paths: [],
    latency: { irq: { count: 0, min: 0, mean: 0, p50: 0, p99: 0, max: 0 }, bySource: {} },
    time: {
      guest: Math.max(0, vcpuSeconds - exitSec),
      idleInGuest: 0,
      exit: exitSec,
      handler: 0,
      userspace: 0,
      halted: 0,
      polling: 0,
      descheduled: 0,
      spinning: 0,
    },
    counters: {
      events: result.recognized,
      tsxAborts: 0,
      haltWakeups: 0,
      haltPollSuccesses: 0,
      directedYields: 0,
      kicks: 0,
      injections: result.eventCounts.kvm_inj_virq ?? 0,
    },
    warnings,
  };
  return { timeline, stats, reasonNames, sampleStride, drawnExits };
}
