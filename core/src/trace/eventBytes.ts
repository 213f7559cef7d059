/**
 * The event-line grammar of events.ts read from UTF-8 bytes in place (TraceImporter.feedBytes):
 * the common prefix and the names of the hot events, and the field readers the byte fast path
 * (pairingBytes.ts) uses. Nothing is decoded and nothing allocated.
 *
 * Why the answers equal those of the text readers: every test the grammar makes is on an ASCII
 * character (digits, blanks, brackets, colon, dot, dash, slash, letters of fixed words), and in
 * UTF-8 an ASCII character is its own single byte while every byte of a non-ASCII character is
 * ≥ 0x80 — "not any of those" for the bytes exactly as for the character. So each scan takes the
 * same decisions on the bytes as on the decoded text, and the numbers read are the same; only
 * the indexes differ (bytes, not UTF-16 units), and they are only used within the byte path.
 * Whatever a reader here cannot decide the same way (the example layout, a file prefix, a line
 * without a tid) it declines, and the line is decoded and read by the text path.
 */
import {
  EV_ENTRY,
  EV_EXIT,
  EV_INJ_VIRQ,
  EV_MMIO,
  EV_MSR,
  EV_OTHER,
  EV_PIO,
  type EventLine,
  scan,
} from "./events";

/** The part of the platform's TextDecoder used here (the core's lib is ES2022: no DOM, no Node types). */
export interface Utf8Decoder {
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}

const platform = globalThis as unknown as {
  TextDecoder: new (label: string, options: { ignoreBOM: boolean }) => Utf8Decoder;
  TextEncoder: new () => { encode(text: string): Uint8Array };
};

/**
 * A UTF-8 decoder (WHATWG TextDecoder: Node, browsers, workers) that keeps a byte order mark as
 * a character, as Node's StringDecoder (the CLI's text path) does.
 */
export function utf8Decoder(): Utf8Decoder {
  return new platform.TextDecoder("utf-8", { ignoreBOM: true });
}

export function utf8Encode(text: string): Uint8Array {
  return new platform.TextEncoder().encode(text);
}

const SPACE = 32;
const TAB = 9;
const COLON = 58;
const DOT = 46;
const LBRACKET = 91;
const RBRACKET = 93;
const ZERO = 48;
const NINE = 57;

/** Where the timestamp of the line parsePrefixBytes last read starts (PrefixTemplates keeps the bytes before it). */
let timestampStart = 0;

/**
 * parseEventPrefix on bytes, for the lines the byte fast path can take: no `file.dat:` prefix,
 * a tid before the CPU field, the timestamp after it. Fills `out` (tid, cpu, sec, fracNs; the
 * comm and file fields are not set) and returns where the event name starts, or -1 when the
 * line is not one of those (it may still be an event line: the text path decides).
 */
export function parsePrefixBytes(
  b: Uint8Array,
  dv: DataView,
  start: number,
  end: number,
  out: EventLine,
): number {
  let p = start;
  let c = 0;
  for (; p < end; p++) {
    c = b[p]!;
    if (c !== SPACE && c !== TAB) break;
  }
  const taskStart = p;
  // The first token ending in ':' would be trace-cmd's multi-file prefix: declined.
  {
    let q = p;
    for (; q < end; q++) {
      c = b[q]!;
      if (c === SPACE || c === TAB) break;
    }
    if (q > p + 1 && q < end && b[q - 1] === COLON && b[p] !== LBRACKET) return -1;
  }
  // The CPU field: the first '[' followed by digits and ']'.
  let lb = -1;
  let rb = -1;
  let cpu = 0;
  for (let i = p; i < end; i++) {
    if (b[i] !== LBRACKET) continue;
    let j = i + 1;
    let value = 0;
    for (; j < end; j++) {
      c = b[j]!;
      if (c < ZERO || c > NINE) break;
      value = value * 10 + (c - ZERO);
    }
    if (j > i + 1 && j < end && c === RBRACKET) {
      lb = i;
      rb = j;
      cpu = value;
      break;
    }
  }
  if (lb < 0) return -1;
  // Backwards from the CPU field: the tid.
  let e = lb;
  for (; e > taskStart; e--) {
    c = b[e - 1]!;
    if (c !== SPACE && c !== TAB) break;
  }
  if (e === taskStart) return -1;
  let d = e;
  let tid = 0;
  let scale = 1;
  for (; d > taskStart; d--) {
    c = b[d - 1]!;
    if (c < ZERO || c > NINE) break;
    tid += (c - ZERO) * scale;
    scale *= 10;
  }
  // No digits (not an event line), or `<sec>.<frac> [cpu]` (the example layout): the text path.
  if (d === e || (d > taskStart && b[d - 1] === DOT)) return -1;
  out.tid = tid;
  out.cpu = cpu;
  out.fileStart = -1;
  out.timestampBefore = false;
  out.end = end;
  p = rb + 1;
  for (; p < end; p++) {
    c = b[p]!;
    if (c !== SPACE && c !== TAB) break;
  }
  c = p < end ? b[p]! : ZERO;
  out.flagsColumn = c < ZERO || c > NINE;
  if (out.flagsColumn) {
    for (; p < end; p++) {
      c = b[p]!;
      if (c === SPACE || c === TAB) break;
    }
    for (; p < end; p++) {
      c = b[p]!;
      if (c !== SPACE && c !== TAB) break;
    }
  }
  timestampStart = p;
  return readTimestampBytes(b, dv, p, end, out);
}

/** Template slots (a power of two: the hash's top 8 bits); templates of at most TEMPLATE_WORDS words. */
const TEMPLATE_SLOTS = 256;
const TEMPLATE_WORDS = 24;
/** The 32-bit words hashed to pick a slot: the first 24 bytes hold a task name and most of its tid. */
const HASHED_WORDS = 6;

/**
 * The prefixes of the threads seen, as templates: the bytes of a line from its start to its
 * timestamp (blanks, task, tid, CPU field, flags), with the tid and CPU they gave. A line that
 * starts with a template's bytes, compared as 32-bit words, is read from its timestamp on;
 * any other goes to parsePrefixBytes, whose answer is then kept as the slot's template.
 *
 * Why a match gives parsePrefixBytes's answer: every decision it takes before the timestamp
 * (the blanks, the first token, the first `[digits]`, the tid, the flags column) looks only at
 * the bytes before the timestamp and at the timestamp's first byte, a digit (read() checks it
 * again), and a template is only kept from a line where those gave a tid with no file prefix
 * (a first token reaching into the timestamp would end in its ':', a file prefix: never kept).
 */
export class PrefixTemplates {
  private readonly lengths = new Int32Array(TEMPLATE_SLOTS);
  private readonly tids = new Float64Array(TEMPLATE_SLOTS);
  private readonly cpus = new Float64Array(TEMPLATE_SLOTS);
  private readonly flags = new Uint8Array(TEMPLATE_SLOTS);
  private readonly words = new Uint32Array(TEMPLATE_SLOTS * TEMPLATE_WORDS);
  /** The same templates as bytes, for the tail shorter than a word. */
  private readonly bytes = new Uint8Array(TEMPLATE_SLOTS * TEMPLATE_WORDS * 4);

  /** The slot the last match() looked in (-1: the line was too short to hash). */
  private slot = -1;

  /**
   * parsePrefixBytes's answer for the line b[start, end) (its start, blanks included; dv views
   * the same bytes as b: its offsets are b's indexes) when it starts with a template, else -1
   * (then learn() parses it). A line that matches is not a comment: its template's was not.
   */
  match(b: Uint8Array, dv: DataView, start: number, end: number, out: EventLine): number {
    if (start + HASHED_WORDS * 4 >= end) {
      this.slot = -1;
      return -1;
    }
    const w0 = dv.getUint32(start, true);
    const w1 = dv.getUint32(start + 4, true);
    const w2 = dv.getUint32(start + 8, true);
    const w3 = dv.getUint32(start + 12, true);
    const w4 = dv.getUint32(start + 16, true);
    const w5 = dv.getUint32(start + 20, true);
    let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ w1, 0x85ebca6b);
    h = Math.imul(h ^ w2, 0x85ebca6b);
    h = Math.imul(h ^ w3, 0x85ebca6b);
    h = Math.imul(h ^ w4, 0x85ebca6b);
    h = Math.imul(h ^ w5, 0x85ebca6b);
    const slot = h >>> 24;
    this.slot = slot;
    const length = this.lengths[slot]!;
    const base = slot * TEMPLATE_WORDS;
    const words = this.words;
    if (
      length > 0 &&
      start + length < end &&
      words[base] === w0 &&
      words[base + 1] === w1 &&
      words[base + 2] === w2 &&
      words[base + 3] === w3 &&
      words[base + 4] === w4 &&
      words[base + 5] === w5
    ) {
      const whole = length >> 2;
      let k = HASHED_WORDS;
      while (k < whole && dv.getUint32(start + 4 * k, true) === words[base + k]) k++;
      let same = k === whole;
      if (same) {
        const bytes = this.bytes;
        for (let i = whole * 4; i < length; i++)
          if (b[start + i] !== bytes[base * 4 + i]) {
            same = false;
            break;
          }
      }
      if (same) {
        const p = readTimestampBytes(b, dv, start + length, end, out);
        if (p >= 0) {
          out.tid = this.tids[slot]!;
          out.cpu = this.cpus[slot]!;
          out.flagsColumn = this.flags[slot] === 1;
          out.fileStart = -1;
          out.timestampBefore = false;
          out.end = end;
          return p;
        }
      }
    }
    return -1;
  }

  /** parsePrefixBytes for the line match() last declined, its answer kept as a template. */
  learn(b: Uint8Array, dv: DataView, start: number, end: number, out: EventLine): number {
    const p = parsePrefixBytes(b, dv, start, end, out);
    const kept = timestampStart - start;
    const slot = this.slot;
    if (p >= 0 && slot >= 0 && kept >= HASHED_WORDS * 4 && kept <= TEMPLATE_WORDS * 4) {
      const base = slot * TEMPLATE_WORDS;
      const words = this.words;
      this.lengths[slot] = kept;
      this.tids[slot] = out.tid;
      this.cpus[slot] = out.cpu;
      this.flags[slot] = out.flagsColumn ? 1 : 0;
      for (let k = 0; k < kept >> 2; k++) words[base + k] = dv.getUint32(start + 4 * k, true);
      this.bytes.set(b.subarray(start, timestampStart), base * 4);
    }
    return p;
  }
}

/**
 * `<sec>.<frac>:` and the blanks after it at p, as parsePrefixBytes reads them: fills out.sec
 * and out.fracNs, returns where the event name starts, or -1.
 */
function readTimestampBytes(b: Uint8Array, dv: DataView, p: number, end: number, out: EventLine): number {
  let c = 0;
  const secStart = p;
  let sec = 0;
  for (; p < end; p++) {
    c = b[p]!;
    if (c < ZERO || c > NINE) break;
    sec = sec * 10 + (c - ZERO);
  }
  if (p === secStart || p >= end || c !== DOT) return -1;
  p++;
  let frac = 0;
  let digits = 0;
  for (; p < end; p++) {
    c = b[p]!;
    if (c < ZERO || c > NINE) break;
    if (digits < 9) {
      frac = frac * 10 + (c - ZERO);
      digits++;
    }
  }
  if (digits === 0) return -1;
  for (let k = digits; k < 9; k++) frac *= 10;
  if (p >= end || c !== COLON) return -1;
  out.sec = sec;
  out.fracNs = frac;
  return skipPaddingBytes(b, dv, p + 1, end);
}

/**
 * The hot events by name at p (after parsePrefixBytes): `kvm_exit:`, `kvm_entry:`, `kvm_msr:`,
 * `kvm_mmio:`, `kvm_pio:`, `kvm_inj_virq:`, with or without perf's `kvm:` prefix, followed by a
 * blank or the line's end — exactly the lines parseEventName names so. Returns the EV_ code, or
 * EV_OTHER. Sets `out.kind`, `out.perfPrefix` and `out.fieldsStart`: after the colon for the two
 * events of every exit (their readers search from there), after the colon's blanks otherwise
 * (where parseEventName puts it).
 */
export function eventKindBytes(b: Uint8Array, dv: DataView, p: number, end: number, out: EventLine): number {
  let n = p;
  if (n + 8 > end || b[n] !== 107 /* k */ || b[n + 1] !== 118 /* v */ || b[n + 2] !== 109 /* m */)
    return EV_OTHER;
  let c = b[n + 3]!;
  let perf = false;
  if (c === COLON) {
    perf = true;
    n += 4;
    if (n + 8 > end || b[n] !== 107 || b[n + 1] !== 118 || b[n + 2] !== 109) return EV_OTHER;
    c = b[n + 3]!;
  }
  if (c !== 95 /* _ */) return EV_OTHER;
  let kind = EV_OTHER;
  let colon = -1;
  switch (b[n + 4]) {
    case 101: // e
      if (b[n + 5] === 120 /* x */ && b[n + 6] === 105 /* i */ && b[n + 7] === 116 /* t */) {
        kind = EV_EXIT;
        colon = n + 8;
      } else if (
        b[n + 5] === 110 /* n */ &&
        b[n + 6] === 116 /* t */ &&
        b[n + 7] === 114 /* r */ &&
        b[n + 8] === 121 /* y */
      ) {
        kind = EV_ENTRY;
        colon = n + 9;
      }
      break;
    case 109: // m
      if (b[n + 5] === 115 /* s */ && b[n + 6] === 114 /* r */) {
        kind = EV_MSR;
        colon = n + 7;
      } else if (b[n + 5] === 109 /* m */ && b[n + 6] === 105 /* i */ && b[n + 7] === 111 /* o */) {
        kind = EV_MMIO;
        colon = n + 8;
      }
      break;
    case 112: // p
      if (b[n + 5] === 105 /* i */ && b[n + 6] === 111 /* o */) {
        kind = EV_PIO;
        colon = n + 7;
      }
      break;
    case 105: // i
      if (
        b[n + 5] === 110 /* n */ &&
        b[n + 6] === 106 /* j */ &&
        b[n + 7] === 95 /* _ */ &&
        b[n + 8] === 118 /* v */ &&
        b[n + 9] === 105 /* i */ &&
        b[n + 10] === 114 /* r */ &&
        b[n + 11] === 113 /* q */
      ) {
        kind = EV_INJ_VIRQ;
        colon = n + 12;
      }
      break;
  }
  if (kind === EV_OTHER || colon >= end || b[colon] !== COLON) return EV_OTHER;
  let f = colon + 1;
  if (f < end) {
    c = b[f]!;
    if (c !== SPACE && c !== TAB) return EV_OTHER;
  }
  if (kind !== EV_EXIT && kind !== EV_ENTRY) f = skipPaddingBytes(b, dv, f, end);
  out.kind = kind;
  out.perfPrefix = perf;
  out.fieldsStart = f;
  return kind;
}

// ---- field readers (all bounded by the line's end; see events.ts for the text versions) ----

/** The ASCII `word` at p, within end. */
export function atBytes(b: Uint8Array, p: number, end: number, word: string): boolean {
  const n = word.length;
  if (p + n > end) return false;
  for (let i = 0; i < n; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Index of the ASCII `needle` in b[from, end), or -1. */
export function findBytes(b: Uint8Array, needle: string, from: number, end: number): number {
  const first = needle.charCodeAt(0);
  const n = needle.length;
  const last = end - n;
  outer: for (let i = from; i <= last; i++) {
    if (b[i] !== first) continue;
    for (let k = 1; k < n; k++) if (b[i + k] !== needle.charCodeAt(k)) continue outer;
    return i;
  }
  return -1;
}

/**
 * skipBlanksBytes for a run that may be long (padded event names): four blanks at a time while
 * dv (the same bytes as b) reads "    ", then byte by byte.
 */
export function skipPaddingBytes(b: Uint8Array, dv: DataView, p: number, end: number): number {
  while (p + 4 <= end && dv.getUint32(p, true) === 0x20202020) p += 4;
  while (p < end) {
    const c = b[p]!;
    if (c !== SPACE && c !== TAB) break;
    p++;
  }
  return p;
}

export function skipBlanksBytes(b: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = b[p]!;
    if (c !== SPACE && c !== TAB) break;
    p++;
  }
  return p;
}

/** Hex digit values by byte (-1: not a hex digit). */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[ZERO + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** events.ts readHex64 on bytes: scan.hi, scan.lo, scan.end; returns the end or -1. */
export function readHex64Bytes(b: Uint8Array, p: number, end: number): number {
  if (p + 1 < end && b[p] === ZERO && (b[p + 1]! | 0x20) === 120) p += 2;
  let hi = 0;
  let lo = 0;
  const start = p;
  for (; p < end && p - start < 8; p++) {
    const d = HEX[b[p]!]!;
    if (d < 0) break;
    lo = lo * 16 + d;
  }
  if (p - start === 8) {
    for (; p < end; p++) {
      const d = HEX[b[p]!]!;
      if (d < 0) break;
      hi = ((hi << 4) | (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
    }
  }
  scan.hi = hi;
  scan.lo = lo;
  scan.end = p;
  return p === start ? -1 : p;
}

/** events.ts readHexNumber on bytes. */
export function readHexNumberBytes(b: Uint8Array, p: number, end: number): number {
  if (readHex64Bytes(b, p, end) < 0) return Number.NaN;
  return scan.hi * 4294967296 + scan.lo;
}

/** details.ts smallHex on bytes: below 2^51, else NaN. */
export function smallHexBytes(b: Uint8Array, p: number, end: number): number {
  const v = readHexNumberBytes(b, p, end);
  return scan.hi >= 0x80000 ? Number.NaN : v;
}
