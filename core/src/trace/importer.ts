/**
 * The streaming importer: push text with `feed(chunk)`, or the file's bytes with
 * `feedBytes(chunk)`, as it is read, then `end()`. Memory is
 * bounded whatever the input size: statistics are exact and fixed-size per key, the per-vCPU
 * timeline is a bounded sample (pairing.ts VcpuState.sample), bad lines are counted and only the
 * first MAX_BAD_LINES_SHOWN kept. Nothing throws on bad input; a line that does not parse is
 * counted with its line number, and an input that ends mid-line gives what it holds.
 *
 * `feedBytes` takes UTF-8 as read from a file (what the CLI and the language server do): lines
 * are split on the bytes, and the hot events of the event formats (kvm_exit, kvm_entry, kvm_msr,
 * kvm_mmio, kvm_pio, kvm_inj_virq of a known thread) are read from the bytes without decoding
 * (eventBytes.ts, pairingBytes.ts); any other line is decoded and read by the same text path as
 * `feed`'s, so the result is the same as feeding the decoded text (test/trace-bytes.test.ts).
 * The aggregate formats are decoded and read as text. An importer is fed one way: a string fed
 * after bytes is encoded, bytes fed after a string are decoded.
 *
 * Lines starting with `#` are comments for every event format (ftrace's header, and the
 * `# source: …` line Trapline's fixtures carry); for aggregate formats they are ignored too.
 */
import { DETECTION_LINES, detectFormat, isTraceCmdHeader } from "./detect";
import { eventKindBytes, PrefixTemplates, type Utf8Decoder, utf8Decoder, utf8Encode } from "./eventBytes";
import { EV_OTHER, EVENT_NAMES, EventLine, parseEventName, parseEventPrefix, quickKvmEvent } from "./events";
import { ownString, Pairer, TIMELINE_CAPACITY } from "./pairing";
import { BytePairer } from "./pairingBytes";
import {
  emptyTable,
  KvmStatLogReader,
  KvmStatReader,
  type LineVerdict,
  PerfReportReader,
  type ReportTables,
} from "./reports";
import type { BadLine, TraceFormat, TraceImportOptions, TraceKind, TraceResult } from "./types";

/** Bad lines kept with their text; the rest are only counted. */
export const MAX_BAD_LINES_SHOWN = 10;
/** Detection waits for this many characters or bytes (or DETECTION_LINES lines, or the end). */
const DETECTION_CHARS = 256 * 1024;
/** How the importer is being fed (the first call decides). */
const FED_NOTHING = 0;
const FED_TEXT = 1;
const FED_BYTES = 2;

const EVENT_FORMATS = new Set<TraceFormat>(["trace-cmd", "ftrace", "perf-script"]);

export function kindOfFormat(format: TraceFormat): TraceKind {
  if (EVENT_FORMATS.has(format)) return "events";
  return format === "perf-kvm-stat" ? "report" : "counters";
}

interface LineReader {
  line(text: string): LineVerdict;
  finish(): ReportTables;
}

export class TraceImporter {
  private readonly options: TraceImportOptions;
  private format: TraceFormat | undefined;
  private detectedBy: TraceResult["detectedBy"] = "none";
  private decided = false;
  private pending: string[] = [];
  private pendingChars = 0;
  private pendingNewlines = 0;
  private carry = "";
  private lineNo = 0;
  private chars = 0;
  private recognized = 0;
  private ignored = 0;
  private badLineCount = 0;
  private readonly badLines: BadLine[] = [];
  private lastLineBad = false;
  private cancelled = false;
  private finished: TraceResult | undefined;
  private readonly progressEvery: number;
  private nextProgress: number;
  // events
  private readonly ev = new EventLine();
  private readonly pairer: Pairer;
  private readonly kindCounts = new Float64Array(EVENT_NAMES.length);
  private readonly otherCounts = new Map<string, number>();
  private baseSec = Number.NaN;
  private minT = Number.POSITIVE_INFINITY;
  private maxT = Number.NEGATIVE_INFINITY;
  // aggregate formats
  private reader: LineReader | undefined;
  // bytes (feedBytes)
  private fed = FED_NOTHING;
  private pendingBytes: Uint8Array[] = [];
  private byteCarry = new Uint8Array(256);
  private byteCarryLength = 0;
  /** Decodes a stream whose lines the text path reads (aggregate formats; mixed feeding). */
  private streamDecoder: Utf8Decoder | undefined;
  /** Decodes single lines and fields; keeps a BOM as StringDecoder does. */
  private readonly lineDecoder = utf8Decoder();
  private readonly bytePairer: BytePairer;
  private readonly templates = new PrefixTemplates();
  private decoded = 0;

  constructor(options: TraceImportOptions = {}) {
    this.options = options;
    this.pairer = new Pairer(Math.max(0, Math.floor(options.timelineCapacity ?? TIMELINE_CAPACITY)));
    this.bytePairer = new BytePairer(this.pairer, (b, start, end) => this.decodeRange(b, start, end));
    this.progressEvery = Math.max(1, options.progressEveryLines ?? 65_536);
    this.nextProgress = this.progressEvery;
    if (options.format) this.choose(options.format, "override");
  }

  /** Stops the import: later chunks are ignored, `end()` returns what was read, marked cancelled. */
  cancel(): void {
    this.cancelled = true;
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /**
   * The format once decided (after the first 200 lines or 256 KiB, or at the end): undefined
   * while undecided, null when the text matched no format (a caller may stop reading then).
   */
  get detectedFormat(): TraceFormat | null | undefined {
    if (!this.decided) return undefined;
    return this.format ?? null;
  }

  /**
   * Lines of an event format fed as bytes that were decoded and read as text (not read in place:
   * first entries, other events, bad lines…). A measure of the byte path's reach (tests, bench).
   */
  get decodedLines(): number {
    return this.decoded;
  }

  /** Lines and characters (bytes, when fed bytes) consumed so far. */
  get progress(): { lines: number; chars: number } {
    return { lines: this.lineNo, chars: this.chars };
  }

  feed(chunk: string): void {
    if (this.cancelled || this.finished || chunk.length === 0) return;
    if (this.fed === FED_BYTES) {
      this.feedBytes(utf8Encode(chunk));
      return;
    }
    this.fed = FED_TEXT;
    this.chars += chunk.length;
    if (!this.decided) {
      this.pending.push(chunk);
      this.pendingChars += chunk.length;
      for (
        let i = chunk.indexOf("\n");
        i >= 0 && this.pendingNewlines <= DETECTION_LINES;
        i = chunk.indexOf("\n", i + 1)
      )
        this.pendingNewlines++;
      if (this.pendingChars >= DETECTION_CHARS || this.pendingNewlines > DETECTION_LINES) this.decide();
      return;
    }
    this.process(chunk);
  }

  /**
   * UTF-8 bytes as read (a chunk may end anywhere, mid-line or mid-character). The chunk is not
   * kept after the call: a caller may reuse its buffer. A Node `Buffer` is split fastest
   * (its indexOf is memchr).
   */
  feedBytes(chunk: Uint8Array): void {
    if (this.cancelled || this.finished || chunk.length === 0) return;
    if (this.fed === FED_TEXT) {
      this.streamDecoder ??= utf8Decoder();
      this.feed(this.streamDecoder.decode(chunk, { stream: true }));
      return;
    }
    this.fed = FED_BYTES;
    this.chars += chunk.length;
    if (!this.decided) {
      this.pendingBytes.push(new Uint8Array(chunk));
      this.pendingChars += chunk.length;
      for (
        let i = chunk.indexOf(10);
        i >= 0 && this.pendingNewlines <= DETECTION_LINES;
        i = chunk.indexOf(10, i + 1)
      )
        this.pendingNewlines++;
      if (this.pendingChars >= DETECTION_CHARS || this.pendingNewlines > DETECTION_LINES) this.decideBytes();
      return;
    }
    this.processBytes(chunk);
  }

  end(): TraceResult {
    if (this.finished) return this.finished;
    if (this.fed === FED_TEXT && this.streamDecoder) {
      const rest = this.streamDecoder.decode();
      if (rest.length > 0) this.feed(rest);
    }
    if (!this.decided) {
      if (this.fed === FED_BYTES) this.decideBytes();
      else this.decide();
    }
    if (this.fed === FED_BYTES) {
      if (this.streamDecoder && !this.cancelled) {
        const rest = this.streamDecoder.decode();
        if (rest.length > 0) this.process(rest);
      }
      if (!this.cancelled && this.byteCarryLength > 0) {
        const n = this.byteCarryLength;
        this.byteCarryLength = 0;
        this.byteLine(this.byteCarry, this.carryView(), 0, n);
      }
    }
    if (!this.cancelled && this.carry.length > 0) {
      const last = this.carry;
      this.carry = "";
      this.line(last, 0, last.length);
    }
    const truncated = this.lastLineBad && this.endedWithoutNewline;
    this.finished = this.result(truncated);
    return this.finished;
  }

  private endedWithoutNewline = false;

  private choose(format: TraceFormat, by: TraceResult["detectedBy"]): void {
    this.format = format;
    this.detectedBy = by;
    this.decided = true;
    if (format === "perf-kvm-stat") this.reader = new PerfReportReader();
    else if (format === "kvm-stat") this.reader = new KvmStatReader();
    else if (format === "kvm-stat-log") this.reader = new KvmStatLogReader();
  }

  private decide(): void {
    const text = this.pending.join("");
    this.pending = [];
    if (!this.decided) {
      const format = detectFormat(text.split("\n", DETECTION_LINES * 4));
      if (format) this.choose(format, "content");
      else this.decided = true;
    }
    if (text.length > 0) this.process(text);
  }

  /** decide() for bytes: the format from the pending bytes' text, then those bytes are read. */
  private decideBytes(): void {
    let total = 0;
    for (const part of this.pendingBytes) total += part.length;
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of this.pendingBytes) {
      all.set(part, at);
      at += part.length;
    }
    this.pendingBytes = [];
    if (!this.decided) {
      const text = utf8Decoder().decode(all, { stream: true });
      const format = detectFormat(text.split("\n", DETECTION_LINES * 4));
      if (format) this.choose(format, "content");
      else this.decided = true;
    }
    if (all.length > 0) this.processBytes(all);
  }

  private processBytes(chunk: Uint8Array): void {
    if (this.format === undefined || !EVENT_FORMATS.has(this.format)) {
      // Aggregate formats (and text in no format) are read as text.
      this.streamDecoder ??= utf8Decoder();
      const text = this.streamDecoder.decode(chunk, { stream: true });
      if (text.length > 0) this.process(text);
      return;
    }
    // Lines are found with the chunk's own indexOf (a Buffer's is memchr) and read through a
    // plain Uint8Array view: the readers then see one kind of array (their element loads stay
    // monomorphic; the carry is a Uint8Array too).
    const view =
      chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
    let start = 0;
    if (this.byteCarryLength > 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.keepBytes(chunk, 0, chunk.length);
        this.endedWithoutNewline = true;
        return;
      }
      this.keepBytes(chunk, 0, nl);
      const n = this.byteCarryLength;
      this.byteCarryLength = 0;
      this.byteLine(this.byteCarry, this.carryView(), 0, n);
      start = nl + 1;
    }
    for (;;) {
      if (this.cancelled) return;
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      this.byteLine(view, dv, start, nl);
      start = nl + 1;
    }
    if (start < chunk.length) this.keepBytes(chunk, start, chunk.length);
    this.endedWithoutNewline = this.byteCarryLength > 0;
  }

  /** Appends b[start, end) to the partial line carried to the next chunk. */
  private keepBytes(b: Uint8Array, start: number, end: number): void {
    const need = this.byteCarryLength + end - start;
    if (need > this.byteCarry.length) {
      const grown = new Uint8Array(Math.max(need, this.byteCarry.length * 2));
      grown.set(this.byteCarry.subarray(0, this.byteCarryLength));
      this.byteCarry = grown;
    }
    this.byteCarry.set(b.subarray(start, end), this.byteCarryLength);
    this.byteCarryLength = need;
  }

  private carryView(): DataView {
    return new DataView(this.byteCarry.buffer, this.byteCarry.byteOffset, this.byteCarry.length);
  }

  private decodeRange(b: Uint8Array, start: number, end: number): string {
    return this.lineDecoder.decode(b.subarray(start, end));
  }

  /** An event's time in ns after the trace's first event (which sets the base). */
  private eventTime(ev: EventLine): number {
    if (Number.isNaN(this.baseSec)) this.baseSec = ev.sec;
    return (ev.sec - this.baseSec) * 1e9 + ev.fracNs;
  }

  /** A line taken as an event at time t: counted, and the window widened to it. */
  private took(t: number): void {
    this.recognized++;
    this.lastLineBad = false;
    if (t < this.minT) this.minT = t;
    if (t > this.maxT) this.maxT = t;
  }

  /**
   * One line of an event format as bytes: a comment, a hot event of a known thread read in
   * place (the same state changes and counts as lineBody's fast path), else the line decoded
   * and given to lineBody.
   */
  private byteLine(b: Uint8Array, dv: DataView, start: number, end: number): void {
    this.countLine();
    let e = end;
    if (e > start && b[e - 1] === 13) e--;
    const ev = this.ev;
    let nameAt = this.templates.match(b, dv, start, e, ev);
    if (nameAt < 0) {
      let p = start;
      let c = 35;
      for (; p < e; p++) {
        c = b[p]!;
        if (c !== 32 && c !== 9) break;
      }
      if (p === e || c === 35 /* # */) {
        this.ignored++;
        this.lastLineBad = false;
        return;
      }
      nameAt = this.templates.learn(b, dv, start, e, ev);
    }
    if (nameAt >= 0) {
      const kind = eventKindBytes(b, dv, nameAt, e, ev);
      if (kind !== EV_OTHER) {
        const t = this.eventTime(ev);
        if (this.bytePairer.handle(b, dv, ev, t)) {
          this.took(t);
          this.kindCounts[kind]!++;
          return;
        }
      }
    }
    this.decoded++;
    const text = this.decodeRange(b, start, end);
    this.lineBody(text, 0, text.length);
  }

  private process(chunk: string): void {
    let start = 0;
    if (this.carry.length > 0) {
      const nl = chunk.indexOf("\n");
      if (nl < 0) {
        this.carry += chunk;
        this.endedWithoutNewline = true;
        return;
      }
      const line = this.carry + chunk.slice(0, nl);
      this.carry = "";
      this.line(line, 0, line.length);
      start = nl + 1;
    }
    for (;;) {
      if (this.cancelled) return;
      const nl = chunk.indexOf("\n", start);
      if (nl < 0) break;
      this.line(chunk, start, nl);
      start = nl + 1;
    }
    this.carry = start < chunk.length ? chunk.slice(start) : "";
    this.endedWithoutNewline = this.carry.length > 0;
  }

  private countLine(): void {
    this.lineNo++;
    if (this.lineNo >= this.nextProgress) {
      this.nextProgress += this.progressEvery;
      this.options.onProgress?.({ lines: this.lineNo, chars: this.chars });
      if ((this.options.signal?.aborted ?? false) === true) this.cancelled = true;
    }
  }

  private line(s: string, start: number, end: number): void {
    this.countLine();
    this.lineBody(s, start, end);
  }

  /** A line, counted already: s[start, end) without its newline. */
  private lineBody(s: string, start: number, end: number): void {
    if (end > start && s.charCodeAt(end - 1) === 13) end--;
    let p = start;
    let c = 35;
    for (; p < end; p++) {
      c = s.charCodeAt(p);
      if (c !== 32 && c !== 9) break;
    }
    if (p === end || c === 35 /* # */) {
      this.ignored++;
      this.lastLineBad = false;
      return;
    }
    if (this.reader) {
      const verdict = this.reader.line(s.slice(start, end));
      if (verdict === "data") this.recognized++;
      else if (verdict === "ignored") this.ignored++;
      else {
        this.bad(s, start, end, verdict);
        return;
      }
      this.lastLineBad = false;
      return;
    }
    if (this.format === undefined) {
      this.bad(s, start, end, "unrecognized trace format");
      return;
    }
    const ev = this.ev;
    // From p: the leading blanks are already skipped (parseEventPrefix would skip them again).
    const nameAt = parseEventPrefix(s, p, end, ev);
    if (nameAt >= 0 && !ev.timestampBefore) {
      // The fast path of kvm_exit/kvm_entry on a known thread (Pairer.quick); the same result
      // as the general path below, which handles everything it declines.
      const kind = quickKvmEvent(s, nameAt, end, ev);
      if (kind !== EV_OTHER) {
        const t = this.eventTime(ev);
        if (this.pairer.quick(s, ev, t)) {
          this.took(t);
          this.kindCounts[kind]!++;
          return;
        }
      }
    }
    if (nameAt < 0 || !parseEventName(s, nameAt, end, ev)) {
      if (isTraceCmdHeader(s.slice(start, end))) {
        this.ignored++;
        this.lastLineBad = false;
        return;
      }
      this.bad(s, start, end, "not a trace event line");
      return;
    }
    const t = this.eventTime(ev);
    this.took(t);
    const kind = ev.kind;
    if (kind === EV_OTHER) {
      const name = s.slice(ev.nameStart, ev.nameEnd);
      this.otherCounts.set(name, (this.otherCounts.get(name) ?? 0) + 1);
      return;
    }
    this.kindCounts[kind]!++;
    const problem = this.pairer.handle(s, ev, t);
    if (problem !== undefined) {
      this.recognized--;
      this.bad(s, start, end, problem);
    }
  }

  private bad(s: string, start: number, end: number, reason: string): void {
    this.badLineCount++;
    this.lastLineBad = true;
    if (this.badLines.length < MAX_BAD_LINES_SHOWN) {
      this.badLines.push({
        line: this.lineNo,
        text: ownString(s.slice(start, Math.min(end, start + 200))),
        reason,
      });
    }
  }

  private result(truncated: boolean): TraceResult {
    const format = this.format;
    const kind = format ? kindOfFormat(format) : undefined;
    const base: Omit<TraceResult, "exits" | "mmio" | "ioport"> = {
      format,
      kind,
      detectedBy: this.detectedBy,
      lines: this.lineNo,
      recognized: this.recognized,
      ignored: this.ignored,
      badLineCount: this.badLineCount,
      badLines: this.badLines,
      truncated,
      cancelled: this.cancelled,
      vcpus: [],
      threads: [],
      eventCounts: {},
      pairing: { unpairedEntries: 0, endBeforeBegin: 0, ignoredBeforeFirstEntry: 0 },
      counters: [],
    };
    if (this.reader) {
      const tables = this.reader.finish();
      const out: TraceResult = { ...base, exits: tables.exits, mmio: tables.mmio, ioport: tables.ioport };
      out.counters = tables.counters;
      if (tables.isa) out.isa = tables.isa;
      if (tables.windowSec !== undefined) {
        const startSec = tables.windowStartSec ?? 0;
        out.window = { startSec, endSec: startSec + tables.windowSec, durationSec: tables.windowSec };
      }
      if (tables.lostEvents !== undefined) out.lostEvents = tables.lostEvents;
      if (tables.report) out.report = tables.report;
      return out;
    }
    if (kind !== "events") {
      return { ...base, exits: emptyTable("vmexit"), mmio: emptyTable("mmio"), ioport: emptyTable("ioport") };
    }
    let windowSec: number | undefined;
    const out: TraceResult = {
      ...base,
      exits: emptyTable("vmexit"),
      mmio: emptyTable("mmio"),
      ioport: emptyTable("ioport"),
    };
    if (this.maxT >= this.minT) {
      windowSec = (this.maxT - this.minT) / 1e9;
      const startSec = this.baseSec + this.minT / 1e9;
      out.window = { startSec, endSec: this.baseSec + this.maxT / 1e9, durationSec: windowSec };
    }
    const { table, rowOfReason } = this.pairer.exitTable(windowSec);
    out.exits = table;
    out.mmio = this.pairer.accessTable("mmio", windowSec);
    out.ioport = this.pairer.accessTable("ioport", windowSec);
    // Timeline sample times are relative to the window start.
    out.vcpus = this.pairer.vcpuSummaries(windowSec, rowOfReason);
    if (Number.isFinite(this.minT) && this.minT !== 0) {
      for (const v of out.vcpus)
        if (v.timeline)
          for (let i = 0; i < v.timeline.startNs.length; i++) v.timeline.startNs[i]! -= this.minT;
    }
    out.threads = this.pairer.threadSummaries();
    if (this.pairer.isa) out.isa = this.pairer.isa;
    const counts: Record<string, number> = {};
    for (let k = 1; k < EVENT_NAMES.length; k++)
      if (this.kindCounts[k]! > 0) counts[EVENT_NAMES[k]!] = this.kindCounts[k]!;
    for (const [name, count] of [...this.otherCounts].sort((a, b) => b[1] - a[1])) counts[name] = count;
    out.eventCounts = counts;
    out.pairing = {
      unpairedEntries: this.pairer.unpairedEntries,
      endBeforeBegin: this.pairer.endBeforeBegin,
      ignoredBeforeFirstEntry: this.pairer.ignoredBeforeFirstEntry,
    };
    return out;
  }
}

/** Imports a whole text at once (the same code path as feeding it in chunks). */
export function importTrace(text: string, options: TraceImportOptions = {}): TraceResult {
  const importer = new TraceImporter(options);
  importer.feed(text);
  return importer.end();
}
