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

import { detailKey, detailNumber, detailTextEnd } from "./details";
import {
  at,
  EV_ENTRY,
  EV_EXIT,
  EV_MMIO,
  EV_PIO,
  type EventLine,
  find,
  readDecimal,
  readHex64,
  readHexNumber,
  scan,
  skipSpaces,
} from "./events";
import {
  AccessTable,
  DETAIL_KEYS_PER_REASON,
  DETAIL_TEXTS_PER_REASON,
  type DetailEntry,
  OVERFLOWED,
  ownString,
  type ReasonCodes,
  ReasonEntry,
  reasonCodes,
  ThreadState,
  VCPU_REASON_HISTOGRAMS,
  VcpuState,
} from "./pairingState";
import { accessTable, exitTable, threadSummaries, vcpuSummaries } from "./pairingTables";
import { resolveReasonText } from "./reasons";
import { LatencyStats, NumberMap } from "./stats";
import type { PairedTable, PairingMode, ThreadSummary, TraceIsa, VcpuSummary } from "./types";

export {
  DETAIL_KEYS_PER_REASON,
  ownString,
  RIPS_LISTED,
  RIPS_PER_REASON,
  TIMELINE_CAPACITY,
  VCPU_REASON_HISTOGRAMS,
} from "./pairingState";

const MMIO_WRITE = 2;
const MMIO_READ = 1;
/** Threads remembered by the low bits of their key (a lookup per line without a Map). */
const THREAD_CACHE = 256;
/** Reason texts tried in place per first character before the hashed lookup. */
const REASONS_PER_FIRST_CHAR = 8;

/** A reason text as the trace printed it and its row (exitAt's hashed lookup; pairingBytes.ts too). */
export interface ReasonText {
  text: string;
  entry: ReasonEntry;
}

export class Pairer {
  private readonly threads = new Map<number, ThreadState>();
  private readonly threadCache: (ThreadState | undefined)[] = new Array(THREAD_CACHE).fill(undefined);
  private readonly threadOrder: ThreadState[] = [];
  private readonly files: string[] = [];
  private readonly vcpus = new Map<number, VcpuState>();
  private readonly reasonsByText = new Map<string, ReasonEntry>();
  /** @internal (pairingBytes.ts) */
  readonly reasonsByHash = new Map<number, ReasonText>();
  private readonly reasonsByIdentity = new Map<string, ReasonEntry>();
  /** Reason texts by their first character's code (mod 128), compared in place by exitAt. */
  /** @internal (pairingBytes.ts) */
  readonly reasonsByFirst: (ReasonCodes[] | undefined)[] = new Array(128).fill(undefined);
  readonly reasons: ReasonEntry[] = [];
  private readonly mmio = new AccessTable();
  private readonly ioport = new AccessTable();
  /** Index after the `vcpu <n>` field of the current line, -1 without one. */
  private afterVcpu = -1;
  private vcpuReasonHistograms = 0;
  // Where the last `reason ` search in `searchText` from `searchFrom` landed (see findReason).
  private searchText = "";
  private searchFrom = 0;
  private searchAt = -1;
  isa: TraceIsa | undefined;
  unpairedEntries = 0;
  endBeforeBegin = 0;
  ignoredBeforeFirstEntry = 0;

  constructor(private readonly timelineCapacity: number) {}

  /** The thread of a pairing key (a tid on the fast paths), if known. @internal (pairingBytes.ts) */
  thread(key: number): ThreadState | undefined {
    const slot = key & (THREAD_CACHE - 1);
    let thread = this.threadCache[slot];
    if (thread !== undefined && thread.key === key) return thread;
    thread = this.threads.get(key);
    if (thread !== undefined) this.threadCache[slot] = thread;
    return thread;
  }

  /**
   * The fast path of the two events of every exit (quickKvmEvent recognised the name; the
   * fields start after `ev.fieldsStart`'s blanks): an entry or exit of a known thread keyed by
   * its tid. Returns false, having changed nothing, for anything else (a first entry, a line
   * without a tid, several input files, an exit without a reason): `handle` does those.
   */
  quick(s: string, ev: EventLine, t: number): boolean {
    if (ev.tid < 0 || ev.fileStart >= 0) return false;
    const thread = this.thread(ev.tid);
    if (thread === undefined || thread.vcpu === undefined) return false;
    if (ev.kind === EV_ENTRY) {
      this.entry(thread, t);
      return true;
    }
    // The first `reason ` after the colon is the first after the fields' start: only blanks
    // are between (handle's exit finds the same one).
    const r = this.findReason(s, ev.fieldsStart, ev.end);
    if (r < 0) return false;
    this.exitAt(s, r, ev.end, thread, t);
    return true;
  }

  /**
   * The first `reason ` in s[from, end), or -1. indexOf is vectorised but does not stop at the
   * line's end: where it landed is remembered, so lines without one cost a scan to the next
   * occurrence once, not once per line (linear, not quadratic, in a run of such lines).
   */
  private findReason(s: string, from: number, end: number): number {
    let found: number;
    if (s === this.searchText && from >= this.searchFrom && (this.searchAt < 0 || this.searchAt >= from))
      found = this.searchAt;
    else {
      found = s.indexOf("reason ", from);
      this.searchText = s;
      this.searchFrom = from;
      this.searchAt = found;
    }
    return found >= 0 && found + 7 <= end ? found : -1;
  }

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
    let thread = this.thread(key);
    if (thread === undefined || thread.vcpu === undefined) {
      if (kind !== EV_ENTRY) {
        if (kind === EV_EXIT && find(s, "reason", f, end) < 0) return "kvm_exit without a reason";
        this.ignoredBeforeFirstEntry++;
        return undefined;
      }
      if (vcpuField < 0) return "kvm_entry without a vcpu id";
      if (thread === undefined) {
        thread = new ThreadState(
          key,
          ev.tid,
          ownString(s.slice(ev.commStart, ev.commEnd)),
          ev.fileStart >= 0 ? this.files[this.fileIndex(s, ev)] : undefined,
        );
        this.threads.set(key, thread);
        this.threadOrder.push(thread);
        this.threadCache[key & (THREAD_CACHE - 1)] = thread;
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
        if (thread.vHas) this.detail(s, kind, f, end, thread, detailNumber(s, kind, f, end));
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
    this.exitAt(s, r, end, thread, t);
    return undefined;
  }

  /** The exit whose `reason ` is at r: its reason row, its RIP, the begin of its intervals. */
  private exitAt(s: string, r: number, end: number, thread: ThreadState, t: number): void {
    const nameStart = r + 7;
    // The reason text runs to " rip " (or the end), trailing blanks not included. First tried:
    // the texts already seen that start with the same character, compared in place.
    let reason: ReasonEntry | undefined;
    let rip = -1;
    const list = nameStart < end ? this.reasonsByFirst[s.charCodeAt(nameStart) & 127] : undefined;
    if (list !== undefined) {
      for (let k = 0; k < list.length; k++) {
        const candidate = list[k]!;
        const codes = candidate.codes;
        const n = codes.length;
        const e = nameStart + n;
        if (e > end) continue;
        let i = 0;
        while (i < n && s.charCodeAt(nameStart + i) === codes[i]) i++;
        if (i < n) continue;
        if (e === end) {
          reason = candidate.entry;
          break;
        }
        if (
          e + 5 <= end &&
          s.charCodeAt(e) === 32 &&
          s.charCodeAt(e + 1) === 114 /* r */ &&
          s.charCodeAt(e + 2) === 105 /* i */ &&
          s.charCodeAt(e + 3) === 112 /* p */ &&
          s.charCodeAt(e + 4) === 32
        ) {
          reason = candidate.entry;
          rip = e;
          break;
        }
      }
    }
    if (reason === undefined) {
      // Its hash is taken on the way to " rip ".
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
      reason = this.reason(s, nameStart, hashEnd, (hash ^ (hashEnd - nameStart)) & 0x3fffffff);
    }
    this.beginExit(thread, t, reason);
    if (rip >= 0) {
      rip = skipSpaces(s, rip + 5, end);
      if (readHex64(s, rip, end) >= 0) {
        thread.ripHi = scan.hi;
        thread.ripLo = scan.lo;
        thread.ripValid = true;
      }
    }
    // The vector of an external interrupt, kept as a detail of the exit ("vector 0xec").
    if (reason.externalInterrupt) {
      const from = rip >= 0 ? rip : nameStart;
      this.detail(s, EV_EXIT, from, end, thread, detailNumber(s, EV_EXIT, from, end));
    }
  }

  /**
   * An exit of `reason` at t begins the vmexit interval (its RIP not read yet) and an MMIO read's
   * interval with no key yet. @internal (pairingBytes.ts)
   */
  beginExit(thread: ThreadState, t: number, reason: ReasonEntry): void {
    thread.vHas = true;
    thread.vStart = t;
    thread.vReason = reason;
    thread.pendingCount = 0;
    thread.ripValid = false;
    thread.mHas = true;
    thread.mStart = t;
    thread.mKey = undefined;
  }

  /**
   * The row of the reason text s[start, end) (trailing blanks trimmed), given the FNV-1a hash of
   * its characters cut to a small integer (a Map key that needs no heap number). Looked up by
   * that hash, so the hot path slices no string: the text is compared in place with the cached one.
   */
  reason(s: string, start: number, end: number, hash: number): ReasonEntry {
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
      const owned = ownString(text);
      this.reasonsByText.set(owned, entry);
      if (owned.length > 0) {
        const first = owned.charCodeAt(0) & 127;
        const list = this.reasonsByFirst[first] ?? [];
        this.reasonsByFirst[first] = list;
        if (list.length < REASONS_PER_FIRST_CHAR) {
          list.push(reasonCodes(owned, entry));
        }
      }
    }
    if (cached === undefined) this.reasonsByHash.set(hash, { text: ownString(text), entry });
    return entry;
  }

  /** A kvm_entry at t: ends the open intervals. @internal (pairingBytes.ts) */
  entry(thread: ThreadState, t: number): void {
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
    // detailNumber's number for kvm_mmio, from what was read here: gpa × 4 + type below 2^51.
    if (thread.vHas)
      this.detail(s, EV_MMIO, f, end, thread, gpa < 2251799813685248 ? gpa * 4 + type : Number.NaN);
    this.mmioAccess(thread, t, type, gpa);
    return undefined;
  }

  /** The MMIO pairing of a kvm_mmio of `type` (0, MMIO_READ, MMIO_WRITE) at gpa. @internal (pairingBytes.ts) */
  mmioAccess(thread: ThreadState, t: number, type: number, gpa: number): void {
    if (type === MMIO_WRITE) {
      thread.mHas = true;
      thread.mStart = t;
      thread.mKey = this.mmio.get(gpa, 1, "W");
    } else if (type === MMIO_READ && thread.mHas) {
      const key = thread.mKey ?? this.mmio.get(gpa, 0, "R");
      thread.mHas = false;
      thread.mKey = undefined;
      if (t >= thread.mStart) key.stats.add(t - thread.mStart);
    }
  }

  /** `pio_%s at 0x%x size %d count %d val 0x%x %s`. */
  private pioEvent(s: string, f: number, end: number, thread: ThreadState, t: number): string | undefined {
    const write = at(s, f, "pio_write");
    if (!write && !at(s, f, "pio_read")) return "kvm_pio without its direction";
    const a = find(s, "at ", f, end);
    const port = a < 0 ? Number.NaN : readHexNumber(s, a + 3, end);
    if (Number.isNaN(port)) return "kvm_pio without a port";
    // detailNumber's number for kvm_pio: port × 2 + direction, when " at " follows the direction.
    if (thread.vHas) {
      const direct = a === f + (write ? 10 : 9) && port < 2251799813685248;
      this.detail(s, EV_PIO, f, end, thread, direct ? port * 2 + (write ? 1 : 0) : Number.NaN);
    }
    this.pioAccess(thread, t, write, port);
    return undefined;
  }

  /** The port pairing of a kvm_pio: a begin. @internal (pairingBytes.ts) */
  pioAccess(thread: ThreadState, t: number, write: boolean, port: number): void {
    thread.iHas = true;
    thread.iStart = t;
    thread.iKey = this.ioport.get(port, write ? 1 : 0, write ? "POUT" : "PIN");
  }

  /**
   * A detail event while an exit is open; `number` is detailNumber's (callers that read it
   * already pass it). Reads only s[f, end). @internal (pairingBytes.ts)
   */
  detail(s: string, kind: number, f: number, end: number, thread: ThreadState, number: number): void {
    const reason = thread.vReason!;
    let byNumber: NumberMap<DetailEntry> | undefined;
    let entry: DetailEntry | undefined;
    // Text-keyed kinds: the raw text's hash, its extent and whether a repeat was found in place.
    let textEnd = -1;
    let textHash = 0;
    if (!Number.isNaN(number)) {
      byNumber = reason.detailsByNumber[kind];
      if (!byNumber) {
        byNumber = new NumberMap();
        reason.detailsByNumber[kind] = byNumber;
      }
      entry = byNumber.get(number);
    } else {
      // A numeric kind whose number does not fit (NaN) has no text extent: keyed by its string.
      textEnd = detailTextEnd(s, kind, f, end);
      if (textEnd >= 0) {
        let hash = 0x811c9dc5 ^ kind;
        for (let i = f; i < textEnd; i++) hash = Math.imul(hash ^ s.charCodeAt(i), 0x01000193);
        textHash = (hash ^ (textEnd - f)) & 0x3fffffff;
        const cached = reason.detailsByText.get(textHash);
        if (cached !== undefined && cached.raw.length === textEnd - f && at(s, f, cached.raw))
          entry = cached.entry;
      }
    }
    if (entry === OVERFLOWED) {
      reason.detailsOverflow++;
      return;
    }
    if (!entry) {
      const key = detailKey(s, kind, f, end);
      if (key === undefined) return;
      entry = reason.details.get(key);
      if (!entry) {
        if (reason.details.size >= DETAIL_KEYS_PER_REASON) {
          reason.detailsOverflow++;
          // Remember it (up to a bound) so a repeat costs no string either.
          if (byNumber && byNumber.size < DETAIL_TEXTS_PER_REASON) byNumber.set(number, OVERFLOWED);
          else if (textEnd >= 0) this.rememberText(reason, textHash, s, f, textEnd, OVERFLOWED);
          return;
        }
        entry = { key: ownString(key), count: 0, totalNs: 0 };
        reason.details.set(entry.key, entry);
      }
      byNumber?.set(number, entry);
      if (textEnd >= 0) this.rememberText(reason, textHash, s, f, textEnd, entry);
    }
    if (thread.pendingCount < thread.pending.length) thread.pending[thread.pendingCount] = entry;
    else thread.pending.push(entry);
    thread.pendingCount++;
  }

  /** Remembers a text-keyed detail's raw text (first come, up to a bound per reason). */
  private rememberText(
    reason: ReasonEntry,
    hash: number,
    s: string,
    f: number,
    textEnd: number,
    entry: DetailEntry,
  ): void {
    if (reason.detailsByText.size >= DETAIL_TEXTS_PER_REASON || reason.detailsByText.has(hash)) return;
    reason.detailsByText.set(hash, { raw: ownString(s.slice(f, textEnd)), entry });
  }

  // ---- results ----

  /** The vmexit table, and for each reason entry (by index) its row in the table. */
  exitTable(windowSec: number | undefined): { table: PairedTable; rowOfReason: Map<number, number> } {
    return exitTable(this.reasons, windowSec);
  }

  accessTable(mode: Exclude<PairingMode, "vmexit">, windowSec: number | undefined): PairedTable {
    return accessTable(mode, (mode === "mmio" ? this.mmio : this.ioport).entries, windowSec);
  }

  vcpuSummaries(windowSec: number | undefined, rowIndexOfReason: Map<number, number>): VcpuSummary[] {
    return vcpuSummaries(this.vcpus.values(), this.reasons, windowSec, rowIndexOfReason);
  }

  threadSummaries(): ThreadSummary[] {
    return threadSummaries(this.threadOrder);
  }
}
