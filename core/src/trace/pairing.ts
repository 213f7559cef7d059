/**
 * Exit → entry pairing per host thread, exactly as `perf kvm stat` does it
 * (tools/perf/builtin-kvm.c: per_vcpu_record, handle_kvm_event, handle_begin_event,
 * handle_end_event; tools/perf/arch/x86/util/kvm-stat.c: the vmexit, mmio and ioport ops):
 *
 * - State is per host thread. A thread gets its record, and its vCPU id, from its first
 *   kvm_entry ("Only kvm_entry records vcpu id"); its events before that are ignored (that
 *   first kvm_entry is then handled as an end with no begin and dropped).
 * - A begin stores its key and timestamp, overwriting any begin still open.
 * - An end with no begin is dropped. An end whose begin had no key and that brings none itself
 *   is ignored *without* clearing the begin (perf returns before resetting). Otherwise the begin
 *   is cleared; an end earlier than its begin is skipped; else the interval end − begin is
 *   added to the key's statistics.
 * - vmexit: begin kvm_exit (key exit_reason), end kvm_entry. mmio: begin kvm_exit (no key) or
 *   kvm_mmio write (key gpa:W), end kvm_entry or kvm_mmio read (key gpa:R). ioport: begin
 *   kvm_pio (key port:PIN|POUT), end kvm_entry.
 *
 * Beyond perf (which keeps only these aggregates), the vmexit pairing also keeps: percentiles,
 * per-vCPU statistics, a bounded per-vCPU timeline sample, the detail events seen between an
 * exit and its entry (kvm_msr, kvm_pio, kvm_mmio, kvm_inj_virq, kvm_apic, kvm_cr, kvm_cpuid,
 * kvm_page_fault) and the guest RIPs of the exits.
 */
import {
  at,
  EV_APIC,
  EV_CPUID,
  EV_CR,
  EV_ENTRY,
  EV_EXIT,
  EV_INJ_VIRQ,
  EV_MMIO,
  EV_MSR,
  EV_PAGE_FAULT,
  EV_PIO,
  type EventLine,
  find,
  readDecimal,
  readHex64,
  readHexNumber,
  scan,
  skipSpaces,
} from "./events";
import { type ResolvedReason, resolveReasonText } from "./reasons";
import { LatencyStats, RipCounter } from "./stats";
import type {
  DetailCount,
  LatencySummary,
  PairedTable,
  PairingMode,
  ReasonRow,
  ThreadSummary,
  TraceIsa,
  VcpuSummary,
  VcpuTimeline,
} from "./types";

/** Distinct detail keys kept per exit reason; more are counted in `detailsOverflow`. */
export const DETAIL_KEYS_PER_REASON = 64;
/** Distinct guest RIPs counted per exit reason; more are counted in `ripsOverflow`. */
export const RIPS_PER_REASON = 1024;
/** RIPs listed per reason in the result. */
export const RIPS_LISTED = 16;
/** Default exits kept per vCPU in the timeline sample. */
export const TIMELINE_CAPACITY = 65_536;
/** Per-(vCPU, reason) percentile histograms kept at most (16 KiB each); beyond, no p50/p99 there. */
export const VCPU_REASON_HISTOGRAMS = 512;
/**
 * MMIO and port keys (per table) that get a percentile histogram (16 KiB each); later keys keep
 * exact count/min/max/mean/stddev only. A trace touching thousands of gpas would otherwise hold
 * 16 KiB per gpa (measured: 64 MB for 4,096 gpas, bench/traceStream.bench.ts).
 */
export const ACCESS_HISTOGRAMS = 256;

interface DetailEntry extends DetailCount {}

/** Marks a detail number seen after its reason's DETAIL_KEYS_PER_REASON bound was reached. */
const OVERFLOWED: DetailEntry = { key: "", count: 0, totalNs: 0 };

class ReasonEntry {
  readonly stats = new LatencyStats(true);
  readonly rips = new RipCounter(RIPS_PER_REASON);
  readonly details = new Map<string, DetailEntry>();
  /** The same entries by a number per event kind (see detailNumber), so a repeat costs no string. */
  readonly detailsByNumber: (Map<number, DetailEntry> | undefined)[] = [];
  detailsOverflow = 0;
  constructor(
    readonly index: number,
    readonly resolved: ResolvedReason,
  ) {}
}

class AccessEntry {
  readonly stats: LatencyStats;
  constructor(
    readonly key: string,
    readonly code: number,
    withHistogram: boolean,
  ) {
    this.stats = new LatencyStats(withHistogram);
  }
}

class VcpuState {
  readonly stats = new LatencyStats(true);
  /** By reason entry index (an array: the lookup runs once per exit). */
  readonly byReason: (LatencyStats | undefined)[] = [];
  readonly threads: number[] = [];
  // Timeline sample: every `stride`-th exit, halved (every other kept, stride doubled) when full.
  tlStart: Float64Array;
  tlDuration: Float64Array;
  tlReason: Int32Array;
  tlCount = 0;
  stride = 1;
  seen = 0;
  constructor(
    readonly id: number,
    readonly capacity: number,
  ) {
    this.tlStart = new Float64Array(capacity);
    this.tlDuration = new Float64Array(capacity);
    this.tlReason = new Int32Array(capacity);
  }

  sample(startNs: number, durationNs: number, reason: number): void {
    if (this.capacity === 0) return;
    const n = this.seen++;
    if (n % this.stride !== 0) return;
    if (this.tlCount === this.capacity) {
      let w = 0;
      for (let r = 0; r < this.tlCount; r += 2, w++) {
        this.tlStart[w] = this.tlStart[r]!;
        this.tlDuration[w] = this.tlDuration[r]!;
        this.tlReason[w] = this.tlReason[r]!;
      }
      this.tlCount = w;
      this.stride *= 2;
      if (n % this.stride !== 0) return;
    }
    this.tlStart[this.tlCount] = startNs;
    this.tlDuration[this.tlCount] = durationNs;
    this.tlReason[this.tlCount] = reason;
    this.tlCount++;
  }
}

class ThreadState {
  vcpu: VcpuState | undefined;
  exits = 0;
  // vmexit pairing
  vHas = false;
  vStart = 0;
  vReason: ReasonEntry | undefined;
  ripHi = 0;
  ripLo = 0;
  ripValid = false;
  pending: DetailEntry[] = [];
  pendingCount = 0;
  // mmio pairing
  mHas = false;
  mStart = 0;
  mKey: AccessEntry | undefined;
  // ioport pairing
  iHas = false;
  iStart = 0;
  iKey: AccessEntry | undefined;
  constructor(
    readonly tid: number,
    readonly comm: string,
    readonly file: string | undefined,
  ) {}
}

/** A string that owns its characters (a slice of a big chunk would keep the chunk alive). */
export function ownString(text: string): string {
  return text.length < 13 ? text : text.split("").join("");
}

const MMIO_WRITE = 2;
const MMIO_READ = 1;

export class Pairer {
  private readonly threads = new Map<number, ThreadState>();
  private readonly threadOrder: ThreadState[] = [];
  private readonly files: string[] = [];
  private readonly vcpus = new Map<number, VcpuState>();
  private readonly reasonsByText = new Map<string, ReasonEntry>();
  private readonly reasonsByHash = new Map<number, { text: string; entry: ReasonEntry }>();
  private readonly reasonsByIdentity = new Map<string, ReasonEntry>();
  readonly reasons: ReasonEntry[] = [];
  private readonly mmio = new Map<string, AccessEntry>();
  private readonly ioport = new Map<string, AccessEntry>();
  private lastThreadKey = Number.NaN;
  /** Index after the `vcpu <n>` field of the current line, -1 without one. */
  private afterVcpu = -1;
  private lastThread: ThreadState | undefined;
  private vcpuReasonHistograms = 0;
  isa: TraceIsa | undefined;
  unpairedEntries = 0;
  endBeforeBegin = 0;
  ignoredBeforeFirstEntry = 0;

  constructor(private readonly timelineCapacity: number) {}

  /** Handles one kvm event line; returns a reason when the line is malformed. */
  handle(s: string, ev: EventLine, t: number): string | undefined {
    const kind = ev.kind;
    const end = ev.end;
    const f = ev.fieldsStart;
    // The thread: tid (per input file), else the vCPU the line names, else the CPU.
    let key: number;
    let vcpuField = -1;
    this.afterVcpu = -1;
    // `vcpu <n>` (written out: at() is not inlined into this large function).
    if (
      s.charCodeAt(f) === 118 /* v */ &&
      s.charCodeAt(f + 1) === 99 /* c */ &&
      s.charCodeAt(f + 2) === 112 /* p */ &&
      s.charCodeAt(f + 3) === 117 /* u */ &&
      s.charCodeAt(f + 4) === 32 &&
      f + 5 <= end
    ) {
      const v = readDecimal(s, f + 5, end);
      if (!Number.isNaN(v)) {
        vcpuField = v;
        this.afterVcpu = scan.end;
      }
    }
    if (ev.tid >= 0) {
      key = ev.fileStart >= 0 ? this.fileIndex(s, ev) * 4294967296 + ev.tid : ev.tid;
    } else {
      key = vcpuField >= 0 ? -1 - vcpuField : -1_000_000 - ev.cpu;
    }
    let thread: ThreadState | undefined;
    if (key === this.lastThreadKey) thread = this.lastThread;
    else {
      thread = this.threads.get(key);
      if (thread) {
        this.lastThreadKey = key;
        this.lastThread = thread;
      }
    }
    if (thread === undefined || thread.vcpu === undefined) {
      if (kind !== EV_ENTRY) {
        if (kind === EV_EXIT && find(s, "reason", f, end) < 0) return "kvm_exit without a reason";
        this.ignoredBeforeFirstEntry++;
        return undefined;
      }
      if (vcpuField < 0) return "kvm_entry without a vcpu id";
      if (thread === undefined) {
        thread = new ThreadState(
          ev.tid,
          ownString(s.slice(ev.commStart, ev.commEnd)),
          ev.fileStart >= 0 ? this.files[this.fileIndex(s, ev)] : undefined,
        );
        this.threads.set(key, thread);
        this.threadOrder.push(thread);
        this.lastThreadKey = key;
        this.lastThread = thread;
      }
      thread.vcpu = this.vcpu(vcpuField);
      if (!thread.vcpu.threads.includes(thread.tid)) thread.vcpu.threads.push(thread.tid);
    }
    switch (kind) {
      case EV_EXIT:
        return this.exit(s, f, end, thread, t);
      case EV_ENTRY:
        this.entry(thread, t);
        return undefined;
      case EV_MMIO:
        return this.mmioEvent(s, f, end, thread, t);
      case EV_PIO:
        return this.pioEvent(s, f, end, thread, t);
      default:
        if (thread.vHas) this.detail(s, kind, f, end, thread);
        return undefined;
    }
  }

  private fileIndex(s: string, ev: EventLine): number {
    const len = ev.fileEnd - ev.fileStart;
    for (let i = 0; i < this.files.length; i++) {
      const name = this.files[i]!;
      if (name.length === len && at(s, ev.fileStart, name)) return i;
    }
    this.files.push(ownString(s.slice(ev.fileStart, ev.fileEnd)));
    return this.files.length - 1;
  }

  private vcpu(id: number): VcpuState {
    let v = this.vcpus.get(id);
    if (!v) {
      v = new VcpuState(id, this.timelineCapacity);
      this.vcpus.set(id, v);
    }
    return v;
  }

  private exit(s: string, f: number, end: number, thread: ThreadState, t: number): string | undefined {
    // The usual `vcpu N reason X rip R …`: `reason` right after the vCPU, tested in place.
    const a = this.afterVcpu;
    const r =
      a >= 0 && a + 8 <= end && s.charCodeAt(a) === 32 && at(s, a + 1, "reason ")
        ? a + 1
        : find(s, "reason ", f, end);
    if (r < 0) return "kvm_exit without a reason";
    const nameStart = r + 7;
    // The reason text runs to " rip " (or the end); its hash is taken on the way.
    let rip = -1;
    let hash = 0x811c9dc5;
    let hashEnd = nameStart;
    for (let i = nameStart; i < end; i++) {
      const c = s.charCodeAt(i);
      if (
        c === 32 &&
        i + 5 <= end &&
        s.charCodeAt(i + 1) === 114 /* r */ &&
        s.charCodeAt(i + 2) === 105 /* i */ &&
        s.charCodeAt(i + 3) === 112 /* p */ &&
        s.charCodeAt(i + 4) === 32
      ) {
        rip = i;
        break;
      }
      if (c !== 32) {
        // Trailing blanks are not part of the text: hash up to the last non-blank.
        for (let k = hashEnd; k < i; k++) hash = Math.imul(hash ^ 32, 0x01000193);
        hash = Math.imul(hash ^ c, 0x01000193);
        hashEnd = i + 1;
      }
    }
    const reason = this.reason(s, nameStart, hashEnd, (hash ^ (hashEnd - nameStart)) & 0x3fffffff);
    // vmexit: begin.
    thread.vHas = true;
    thread.vStart = t;
    thread.vReason = reason;
    thread.pendingCount = 0;
    thread.ripValid = false;
    if (rip >= 0) {
      rip = skipSpaces(s, rip + 5, end);
      if (readHex64(s, rip, end) >= 0) {
        thread.ripHi = scan.hi;
        thread.ripLo = scan.lo;
        thread.ripValid = true;
      }
    }
    // mmio: a read begins at kvm_exit, with no key yet.
    thread.mHas = true;
    thread.mStart = t;
    thread.mKey = undefined;
    return undefined;
  }

  /**
   * The row of the reason text s[start, end) (trailing blanks trimmed), given the FNV-1a hash of
   * its characters cut to a small integer (a Map key that needs no heap number). Looked up by
   * that hash, so the hot path slices no string: the text is compared in place with the cached one.
   */
  private reason(s: string, start: number, end: number, hash: number): ReasonEntry {
    const cached = this.reasonsByHash.get(hash);
    if (cached !== undefined && cached.text.length === end - start && at(s, start, cached.text))
      return cached.entry;
    const text = s.slice(start, end);
    let entry = this.reasonsByText.get(text);
    if (!entry) {
      const resolved = resolveReasonText(text);
      if (resolved.isa && !this.isa) this.isa = resolved.isa;
      entry = this.reasonsByIdentity.get(resolved.identity);
      if (!entry) {
        entry = new ReasonEntry(this.reasons.length, resolved);
        this.reasons.push(entry);
        this.reasonsByIdentity.set(resolved.identity, entry);
      }
      this.reasonsByText.set(ownString(text), entry);
    }
    if (cached === undefined) this.reasonsByHash.set(hash, { text: ownString(text), entry });
    return entry;
  }

  private entry(thread: ThreadState, t: number): void {
    // vmexit: end.
    if (thread.vHas) {
      thread.vHas = false;
      const reason = thread.vReason!;
      if (t < thread.vStart) this.endBeforeBegin++;
      else {
        const ns = t - thread.vStart;
        reason.stats.add(ns);
        thread.exits++;
        const vcpu = thread.vcpu!;
        vcpu.stats.add(ns);
        let byReason = vcpu.byReason[reason.index];
        if (!byReason) {
          byReason = new LatencyStats(this.vcpuReasonHistograms < VCPU_REASON_HISTOGRAMS);
          if (byReason.histogram) this.vcpuReasonHistograms++;
          while (vcpu.byReason.length < reason.index) vcpu.byReason.push(undefined);
          vcpu.byReason[reason.index] = byReason;
        }
        byReason.add(ns);
        vcpu.sample(thread.vStart, ns, reason.index);
        if (thread.ripValid) reason.rips.add(thread.ripHi, thread.ripLo);
        for (let i = 0; i < thread.pendingCount; i++) {
          const d = thread.pending[i]!;
          d.count++;
          d.totalNs += ns;
        }
      }
      thread.pendingCount = 0;
    } else {
      this.unpairedEntries++;
    }
    // mmio: a write ends at kvm_entry; an open kvm_exit begin without a key stays open.
    if (thread.mHas && thread.mKey) {
      const key = thread.mKey;
      thread.mHas = false;
      thread.mKey = undefined;
      if (t >= thread.mStart) key.stats.add(t - thread.mStart);
    }
    // ioport: ends at kvm_entry.
    if (thread.iHas && thread.iKey) {
      const key = thread.iKey;
      thread.iHas = false;
      thread.iKey = undefined;
      if (t >= thread.iStart) key.stats.add(t - thread.iStart);
    }
  }

  private access(table: Map<string, AccessEntry>, code: number, suffix: string): AccessEntry {
    const key = `0x${code.toString(16)}:${suffix}`;
    let entry = table.get(key);
    if (!entry) {
      entry = new AccessEntry(key, code, table.size < ACCESS_HISTOGRAMS);
      table.set(key, entry);
    }
    return entry;
  }

  /** `mmio %s len %u gpa 0x%llx val 0x%llx`, %s one of unsatisfied-read, read, write. */
  private mmioEvent(s: string, f: number, end: number, thread: ThreadState, t: number): string | undefined {
    if (!at(s, f, "mmio ")) return "kvm_mmio without its type";
    const typeStart = f + 5;
    const type = at(s, typeStart, "write")
      ? MMIO_WRITE
      : at(s, typeStart, "read")
        ? MMIO_READ
        : at(s, typeStart, "unsatisfied-read")
          ? 0
          : -1;
    if (type < 0) return "kvm_mmio with an unknown type";
    const g = find(s, "gpa ", typeStart, end);
    const gpa = g < 0 ? Number.NaN : readHexNumber(s, g + 4, end);
    if (Number.isNaN(gpa)) return "kvm_mmio without a gpa";
    if (thread.vHas) this.detail(s, EV_MMIO, f, end, thread);
    if (type === MMIO_WRITE) {
      thread.mHas = true;
      thread.mStart = t;
      thread.mKey = this.access(this.mmio, gpa, "W");
    } else if (type === MMIO_READ && thread.mHas) {
      const key = thread.mKey ?? this.access(this.mmio, gpa, "R");
      thread.mHas = false;
      thread.mKey = undefined;
      if (t >= thread.mStart) key.stats.add(t - thread.mStart);
    }
    return undefined;
  }

  /** `pio_%s at 0x%x size %d count %d val 0x%x %s`. */
  private pioEvent(s: string, f: number, end: number, thread: ThreadState, t: number): string | undefined {
    const write = at(s, f, "pio_write");
    if (!write && !at(s, f, "pio_read")) return "kvm_pio without its direction";
    const a = find(s, "at ", f, end);
    const port = a < 0 ? Number.NaN : readHexNumber(s, a + 3, end);
    if (Number.isNaN(port)) return "kvm_pio without a port";
    if (thread.vHas) this.detail(s, EV_PIO, f, end, thread);
    thread.iHas = true;
    thread.iStart = t;
    thread.iKey = this.access(this.ioport, port, write ? "POUT" : "PIN");
    return undefined;
  }

  private detail(s: string, kind: number, f: number, end: number, thread: ThreadState): void {
    const reason = thread.vReason!;
    const number = detailNumber(s, kind, f, end);
    let byNumber: Map<number, DetailEntry> | undefined;
    let entry: DetailEntry | undefined;
    if (!Number.isNaN(number)) {
      byNumber = reason.detailsByNumber[kind];
      if (!byNumber) {
        byNumber = new Map();
        reason.detailsByNumber[kind] = byNumber;
      }
      entry = byNumber.get(number);
      if (entry === OVERFLOWED) {
        reason.detailsOverflow++;
        return;
      }
    }
    if (!entry) {
      const key = detailKey(s, kind, f, end);
      if (key === undefined) return;
      entry = reason.details.get(key);
      if (!entry) {
        if (reason.details.size >= DETAIL_KEYS_PER_REASON) {
          reason.detailsOverflow++;
          // Remember it (up to a bound) so a repeat costs no string either.
          if (byNumber && byNumber.size < 4 * DETAIL_KEYS_PER_REASON) byNumber.set(number, OVERFLOWED);
          return;
        }
        entry = { key: ownString(key), count: 0, totalNs: 0 };
        reason.details.set(entry.key, entry);
      }
      byNumber?.set(number, entry);
    }
    if (thread.pendingCount < thread.pending.length) thread.pending[thread.pendingCount] = entry;
    else thread.pending.push(entry);
    thread.pendingCount++;
  }

  // ---- results ----

  private rowsOf(
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

  /** The vmexit table, and for each reason entry (by index) its row in the table. */
  exitTable(windowSec: number | undefined): { table: PairedTable; rowOfReason: Map<number, number> } {
    const { rows, order, totalCount, totalNs } = this.rowsOf(this.reasons, windowSec, (i) =>
      reasonFields(this.reasons[i]!),
    );
    const rowOfReason = new Map<number, number>();
    order.forEach((reasonIndex, row) => {
      rowOfReason.set(reasonIndex, row);
    });
    return { table: { mode: "vmexit", title: "VM-EXIT", rows, totalCount, totalNs }, rowOfReason };
  }

  accessTable(mode: Exclude<PairingMode, "vmexit">, windowSec: number | undefined): PairedTable {
    const entries = [...(mode === "mmio" ? this.mmio : this.ioport).values()];
    const { rows, totalCount, totalNs } = this.rowsOf(entries, windowSec, (i) => ({
      key: entries[i]!.key,
      code: entries[i]!.code,
    }));
    return { mode, title: mode === "mmio" ? "MMIO Access" : "IO Port Access", rows, totalCount, totalNs };
  }

  vcpuSummaries(windowSec: number | undefined, rowIndexOfReason: Map<number, number>): VcpuSummary[] {
    return [...this.vcpus.values()]
      .sort((a, b) => a.id - b.id)
      .map((v) => {
        const entries = this.reasons.map((r) => ({
          stats: v.byReason[r.index] ?? new LatencyStats(false),
        }));
        // Details and RIPs are per reason, not per vCPU: not built here.
        const { rows } = this.rowsOf(entries, windowSec, (i) => reasonFields(this.reasons[i]!, false));
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

  threadSummaries(): ThreadSummary[] {
    return this.threadOrder.map((t) => {
      const out: ThreadSummary = { tid: t.tid, comm: t.comm, exits: t.exits };
      if (t.file !== undefined) out.file = t.file;
      if (t.vcpu) out.vcpu = t.vcpu.id;
      return out;
    });
  }
}

/** The fields of a row that are not statistics. */
type RowIdentity = Omit<ReasonRow, keyof LatencySummary | "sampleShare" | "timeShare">;

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

/** A hex value below 2^51 (so ×4 stays exact), else NaN: larger ones are keyed by their text. */
function smallHex(s: string, p: number, end: number): number {
  const v = readHexNumber(s, p, end);
  return scan.hi >= 0x80000 ? Number.NaN : v;
}

/**
 * A number that identifies the detail within its event kind (MSR index and direction, port and
 * direction, gpa and access type, CPUID function, fault address), NaN for kinds keyed by text.
 */
function detailNumber(s: string, kind: number, f: number, end: number): number {
  switch (kind) {
    case EV_MSR: {
      const write = at(s, f, "msr_write");
      if (!write && !at(s, f, "msr_read")) return Number.NaN;
      // A faulting access (" (#GP)") is keyed apart.
      const gp = s.charCodeAt(end - 1) === 41 ? 2 : 0;
      return smallHex(s, skipSpaces(s, f + (write ? 9 : 8), end), end) * 4 + gp + (write ? 1 : 0);
    }
    case EV_PIO: {
      const write = at(s, f, "pio_write");
      return at(s, f + (write ? 9 : 8), " at ")
        ? smallHex(s, f + (write ? 13 : 12), end) * 2 + (write ? 1 : 0)
        : Number.NaN;
    }
    case EV_MMIO: {
      const type = at(s, f + 5, "write") ? 2 : at(s, f + 5, "read") ? 1 : 0;
      const g = find(s, "gpa ", f, end);
      return g < 0 ? Number.NaN : smallHex(s, g + 4, end) * 4 + type;
    }
    case EV_CPUID:
      return at(s, f, "func ") ? smallHex(s, f + 5, end) : Number.NaN;
    case EV_PAGE_FAULT: {
      const a = find(s, "address ", f, end);
      return a < 0 ? Number.NaN : smallHex(s, a + 8, end);
    }
    default:
      return Number.NaN;
  }
}

/** The normalised key of a detail event (see DetailCount.key), or undefined if unreadable. */
function detailKey(s: string, kind: number, f: number, end: number): string | undefined {
  switch (kind) {
    case EV_MSR: {
      // `msr_%s %x = 0x%llx%s`
      const write = at(s, f, "msr_write");
      if (!write && !at(s, f, "msr_read")) return undefined;
      const p = skipSpaces(s, f + (write ? 9 : 8), end);
      const index = readHexNumber(s, p, end);
      if (Number.isNaN(index)) return undefined;
      const gp = s.charCodeAt(end - 1) === 41 /* ) */ && find(s, "(#GP)", p, end) >= 0 ? " (#GP)" : "";
      return `${write ? "msr_write" : "msr_read"} 0x${index.toString(16)}${gp}`;
    }
    case EV_PIO: {
      const write = at(s, f, "pio_write");
      const a = find(s, "at ", f, end);
      const port = a < 0 ? Number.NaN : readHexNumber(s, a + 3, end);
      return Number.isNaN(port) ? undefined : `${write ? "pio_write" : "pio_read"} 0x${port.toString(16)}`;
    }
    case EV_MMIO: {
      const typeEnd = find(s, " ", f + 5, end);
      const g = find(s, "gpa ", f, end);
      const gpa = g < 0 ? Number.NaN : readHexNumber(s, g + 4, end);
      if (typeEnd < 0 || Number.isNaN(gpa)) return undefined;
      return `mmio ${s.slice(f + 5, typeEnd)} 0x${gpa.toString(16)}`;
    }
    case EV_INJ_VIRQ: {
      let e = end;
      while (e > f && s.charCodeAt(e - 1) === 32) e--;
      return e > f ? `inj_virq ${s.slice(f, e)}` : undefined;
    }
    case EV_APIC:
    case EV_CR: {
      // `apic_%s %s = 0x%llx`, `cr_%s %x = 0x%lx`
      const eq = find(s, " =", f, end);
      return eq > f ? s.slice(f, eq) : undefined;
    }
    case EV_CPUID: {
      // `func %x idx %x rax …` (old: `func %x rax …`)
      if (!at(s, f, "func ")) return undefined;
      const p = f + 5;
      const func = readHexNumber(s, p, end);
      return Number.isNaN(func) ? undefined : `cpuid 0x${func.toString(16)}`;
    }
    case EV_PAGE_FAULT: {
      const a = find(s, "address ", f, end);
      const address = a < 0 ? Number.NaN : readHexNumber(s, a + 8, end);
      return Number.isNaN(address) ? undefined : `page_fault 0x${address.toString(16)}`;
    }
    default:
      return undefined;
  }
}
