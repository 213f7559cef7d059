/**
 * The pairing's state (pairingState.ts) as the result's tables: rows sorted as perf sorts them
 * (`sample`, by count), shares, rates over the window, the per-vCPU rows and timeline samples,
 * the host threads.
 */
import {
  type AccessEntry,
  type ReasonEntry,
  RIPS_LISTED,
  type ThreadState,
  type VcpuState,
} from "./pairingState";
import { LatencyStats } from "./stats";
import type {
  LatencySummary,
  PairedTable,
  PairingMode,
  ReasonRow,
  ThreadSummary,
  VcpuSummary,
  VcpuTimeline,
} from "./types";

/** The fields of a row that are not statistics. */
type RowIdentity = Omit<ReasonRow, keyof LatencySummary | "sampleShare" | "timeShare">;

function rowsOf(
  entries: { stats: LatencyStats }[],
  windowSec: number | undefined,
  build: (i: number) => RowIdentity,
): { rows: ReasonRow[]; order: number[]; totalCount: number; totalNs: number } {
  let totalCount = 0;
  let totalNs = 0;
  for (const e of entries) {
    totalCount += e.stats.count;
    totalNs += e.stats.totalNs;
  }
  // perf's default sort key `sample`: by count, descending (ties: first seen first).
  const order = entries
    .map((_, i) => i)
    .filter((i) => entries[i]!.stats.count > 0)
    .sort((a, b) => entries[b]!.stats.count - entries[a]!.stats.count || a - b);
  const rows = order.map((i): ReasonRow => {
    const stats = entries[i]!.stats;
    const row: ReasonRow = {
      ...build(i),
      ...stats.summary(),
      sampleShare: totalCount === 0 ? 0 : stats.count / totalCount,
      timeShare: totalNs === 0 ? 0 : stats.totalNs / totalNs,
    };
    if (windowSec !== undefined && windowSec > 0) row.ratePerSecond = stats.count / windowSec;
    return row;
  });
  return { rows, order, totalCount, totalNs };
}

function reasonFields(entry: ReasonEntry, withAttachments = true): RowIdentity {
  const r = entry.resolved;
  const out: RowIdentity = {
    key: r.display,
    reason: r.name,
  };
  if (r.code !== undefined) out.code = r.code;
  if (r.isa) out.isa = r.isa;
  if (r.flags.length > 0) out.flags = r.flags;
  if (!withAttachments) return out;
  if (entry.details.size > 0) {
    out.details = [...entry.details.values()]
      .filter((d) => d.count > 0)
      .map((d) => ({ key: d.key, count: d.count, totalNs: d.totalNs }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
  }
  if (entry.detailsOverflow > 0) out.detailsOverflow = entry.detailsOverflow;
  const rips = entry.rips.top(RIPS_LISTED);
  if (rips.length > 0) out.rips = rips;
  if (entry.rips.overflow > 0) out.ripsOverflow = entry.rips.overflow;
  return out;
}

/** The vmexit table, and for each reason entry (by index) its row in the table. */
export function exitTable(
  reasons: ReasonEntry[],
  windowSec: number | undefined,
): { table: PairedTable; rowOfReason: Map<number, number> } {
  const { rows, order, totalCount, totalNs } = rowsOf(reasons, windowSec, (i) => reasonFields(reasons[i]!));
  const rowOfReason = new Map<number, number>();
  order.forEach((reasonIndex, row) => {
    rowOfReason.set(reasonIndex, row);
  });
  return { table: { mode: "vmexit", title: "VM-EXIT", rows, totalCount, totalNs }, rowOfReason };
}

export function accessTable(
  mode: Exclude<PairingMode, "vmexit">,
  entries: AccessEntry[],
  windowSec: number | undefined,
): PairedTable {
  const { rows, totalCount, totalNs } = rowsOf(entries, windowSec, (i) => ({
    key: entries[i]!.key,
    code: entries[i]!.code,
  }));
  return { mode, title: mode === "mmio" ? "MMIO Access" : "IO Port Access", rows, totalCount, totalNs };
}

export function vcpuSummaries(
  vcpus: Iterable<VcpuState>,
  reasons: ReasonEntry[],
  windowSec: number | undefined,
  rowIndexOfReason: Map<number, number>,
): VcpuSummary[] {
  return [...vcpus]
    .sort((a, b) => a.id - b.id)
    .map((v) => {
      const entries = reasons.map((r) => ({
        stats: v.byReason[r.index] ?? new LatencyStats(false),
      }));
      // Details and RIPs are per reason, not per vCPU: not built here.
      const { rows } = rowsOf(entries, windowSec, (i) => reasonFields(reasons[i]!, false));
      const summary: VcpuSummary = {
        vcpu: v.id,
        threads: [...v.threads].sort((a, b) => a - b),
        exits: v.stats.summary(),
        rows,
      };
      if (v.capacity > 0) {
        const timeline: VcpuTimeline = {
          startNs: v.tlStart.slice(0, v.tlCount),
          durationNs: v.tlDuration.slice(0, v.tlCount),
          reason: v.tlReason.slice(0, v.tlCount).map((r) => rowIndexOfReason.get(r) ?? -1),
          stride: v.stride,
        };
        summary.timeline = timeline;
      }
      return summary;
    });
}

export function threadSummaries(threads: ThreadState[]): ThreadSummary[] {
  return threads.map((t) => {
    const out: ThreadSummary = { tid: t.tid, comm: t.comm, exits: t.exits };
    if (t.file !== undefined) out.file = t.file;
    if (t.vcpu) out.vcpu = t.vcpu.id;
    return out;
  });
}
