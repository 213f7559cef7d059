/**
 * One tracepoint line of ftrace, trace-cmd report or perf script, read by char codes in place
 * (no line string, no regular expression, nothing allocated): the common prefix, then the
 * fields of the kvm events the importer uses. Layouts (docs/traces.md "Event lines"):
 *
 *   ftrace     `<task>-<pid> [cpu] <flags> <sec>.<frac>: <event>: <fields>`   (flags 4–5 chars)
 *   trace-cmd  `[file.dat:] <task>-<pid> [cpu] [<latency>] <sec>.<frac>: <event>: <fields>`
 *   perf       `[<comm> <tid>|<pid>/<tid>] [cpu] <sec>.<frac>: kvm:<event>: <fields>`
 *   libtraceevent example layout `<task>-<pid> <sec>.<frac> [cpu] <event> <fields>`
 *
 * Task names may hold spaces and slashes (`CPU 5/KVM-2137779`), so the prefix is anchored on
 * the `[digits]` CPU field and the pid is read backwards from it.
 */

const SPACE = 32;
const TAB = 9;
const COLON = 58;
const DOT = 46;
const DASH = 45;
const SLASH = 47;
const LBRACKET = 91;
const RBRACKET = 93;
const ZERO = 48;
const NINE = 57;

/** Events the importer understands; everything else is counted under its name. */
export const EV_OTHER = 0;
export const EV_EXIT = 1;
export const EV_ENTRY = 2;
export const EV_MMIO = 3;
export const EV_PIO = 4;
export const EV_MSR = 5;
export const EV_INJ_VIRQ = 6;
export const EV_APIC = 7;
export const EV_CR = 8;
export const EV_CPUID = 9;
export const EV_PAGE_FAULT = 10;

/** The tracepoint names, by EV_ code. */
export const EVENT_NAMES = [
  "",
  "kvm_exit",
  "kvm_entry",
  "kvm_mmio",
  "kvm_pio",
  "kvm_msr",
  "kvm_inj_virq",
  "kvm_apic",
  "kvm_cr",
  "kvm_cpuid",
  "kvm_page_fault",
];

/** Scratch record the parser fills; one per importer, reused for every line. */
export class EventLine {
  kind = EV_OTHER;
  /** Thread id; -1 when the line has no task column (perf script with comm/pid cut). */
  tid = -1;
  commStart = 0;
  commEnd = 0;
  fileStart = -1;
  fileEnd = -1;
  cpu = 0;
  sec = 0;
  fracNs = 0;
  nameStart = 0;
  nameEnd = 0;
  fieldsStart = 0;
  end = 0;
  /** The line had an irq-flags / latency column (`d....`). */
  flagsColumn = false;
  /** The event name carried perf's `kvm:` subsystem prefix. */
  perfPrefix = false;
  /** libtraceevent's example layout: the timestamp before the CPU field, names without a colon. */
  timestampBefore = false;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Reads `<sec>.<frac>` at p; returns the index after it, or -1. Fills out.sec/fracNs. */
function readTimestamp(s: string, p: number, end: number, out: EventLine): number {
  let sec = 0;
  const start = p;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (!isDigit(c)) break;
    sec = sec * 10 + (c - ZERO);
    p++;
  }
  if (p === start || p >= end || s.charCodeAt(p) !== DOT) return -1;
  p++;
  let frac = 0;
  let digits = 0;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (!isDigit(c)) break;
    if (digits < 9) {
      frac = frac * 10 + (c - ZERO);
      digits++;
    }
    p++;
  }
  if (digits === 0) return -1;
  for (let d = digits; d < 9; d++) frac *= 10;
  out.sec = sec;
  out.fracNs = frac;
  return p;
}

/** Where the last '[' search in `bracketText` from `bracketFrom` landed (-1: none after it). */
let bracketText = "";
let bracketFrom = 0;
let bracketAt = -1;

/**
 * The first '[' at or after `from` in s. A line without one makes indexOf run on into later
 * lines; remembering where it landed keeps a run of such lines linear, not quadratic.
 */
function nextBracket(s: string, from: number): number {
  if (s === bracketText && from >= bracketFrom && (bracketAt < 0 || bracketAt >= from)) return bracketAt;
  bracketText = s;
  bracketFrom = from;
  bracketAt = s.indexOf("[", from);
  return bracketAt;
}

/**
 * Parses the common prefix of an event line in s[start, end). Returns false when the line is not
 * an event line (no CPU field, no timestamp, no event name).
 *
 * The character tests are written out in place rather than through isSpace/isDigit/at: this
 * function is too large for TurboFan to inline all its helpers (its inlining budget is spent
 * early), and a call per character was most of the importer's time (bench/trace.bench.ts).
 */
export function parseEventLine(s: string, start: number, end: number, out: EventLine): boolean {
  const p = parseEventPrefix(s, start, end, out);
  return p >= 0 && parseEventName(s, p, end, out);
}

/**
 * The common prefix of an event line (file, task, pid, CPU, flags, timestamp): fills `out` and
 * returns where the event name starts, or -1 when the line is not an event line. The name and
 * the fields are read by parseEventName, or by quickKvmEvent for the two events of every exit.
 */
export function parseEventPrefix(s: string, start: number, end: number, out: EventLine): number {
  let p = start;
  let c = 0;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) break;
  }
  out.fileStart = -1;
  out.flagsColumn = false;
  out.perfPrefix = false;
  out.end = end;
  // trace-cmd's multi-file prefix: a first token ending in ':' ("trace.dat:").
  {
    let q = p;
    for (; q < end; q++) {
      c = s.charCodeAt(q);
      if (c === SPACE || c === TAB) break;
    }
    if (q > p + 1 && q < end && s.charCodeAt(q - 1) === COLON && s.charCodeAt(p) !== LBRACKET) {
      out.fileStart = p;
      out.fileEnd = q - 1;
      p = q;
      for (; p < end; p++) {
        c = s.charCodeAt(p);
        if (c !== SPACE && c !== TAB) break;
      }
    }
  }
  const taskStart = p;
  // The CPU field: the first '[' followed by digits and ']' (indexOf is vectorised; a line
  // without one costs a scan into the next line, which then has one).
  let lb = -1;
  let rb = -1;
  let cpu = 0;
  for (let i = nextBracket(s, p); i >= 0 && i < end; i = nextBracket(s, i + 1)) {
    let j = i + 1;
    let value = 0;
    for (; j < end; j++) {
      c = s.charCodeAt(j);
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
  out.cpu = cpu;

  // Backwards from the CPU field: the pid (or a timestamp, in libtraceevent's example layout).
  let e = lb;
  for (; e > taskStart; e--) {
    c = s.charCodeAt(e - 1);
    if (c !== SPACE && c !== TAB) break;
  }
  let timestampBefore = false;
  out.tid = -1;
  out.commStart = taskStart;
  out.commEnd = taskStart;
  if (e > taskStart) {
    let d = e;
    let tid = 0;
    let scale = 1;
    for (; d > taskStart; d--) {
      c = s.charCodeAt(d - 1);
      if (c < ZERO || c > NINE) break;
      tid += (c - ZERO) * scale;
      scale *= 10;
    }
    if (d > taskStart && d < e && s.charCodeAt(d - 1) === DOT) {
      // `<task>-<pid> <sec>.<frac> [cpu]`
      let t = d - 1;
      while (t > taskStart && isDigit(s.charCodeAt(t - 1))) t--;
      if (readTimestamp(s, t, e, out) !== e) return -1;
      timestampBefore = true;
      e = t;
      while (e > taskStart && isSpace(s.charCodeAt(e - 1))) e--;
      d = e;
      while (d > taskStart && isDigit(s.charCodeAt(d - 1))) d--;
      tid = 0;
      for (let i = d; i < e; i++) tid = tid * 10 + (s.charCodeAt(i) - ZERO);
    }
    if (d < e) {
      out.tid = tid;
      let commEnd = d;
      if (d > taskStart) {
        const before = s.charCodeAt(d - 1);
        if (before === DASH) commEnd = d - 1;
        else if (before === SLASH) {
          // perf's `pid/tid`: skip the pid.
          commEnd = d - 1;
          while (commEnd > taskStart && isDigit(s.charCodeAt(commEnd - 1))) commEnd--;
        }
        for (; commEnd > taskStart; commEnd--) {
          c = s.charCodeAt(commEnd - 1);
          if (c !== SPACE && c !== TAB) break;
        }
      }
      out.commEnd = commEnd;
    } else if (e > taskStart) {
      // Text without a pid before the CPU field: not an event line.
      return -1;
    }
  }

  p = rb + 1;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) break;
  }
  if (!timestampBefore) {
    c = p < end ? s.charCodeAt(p) : ZERO;
    if (c < ZERO || c > NINE) {
      // irq-flags / latency column: `d....`, `d..2.`, `....`
      out.flagsColumn = true;
      for (; p < end; p++) {
        c = s.charCodeAt(p);
        if (c === SPACE || c === TAB) break;
      }
      for (; p < end; p++) {
        c = s.charCodeAt(p);
        if (c !== SPACE && c !== TAB) break;
      }
    }
    // `<sec>.<frac>:` (readTimestamp, written out).
    const secStart = p;
    let sec = 0;
    for (; p < end; p++) {
      c = s.charCodeAt(p);
      if (c < ZERO || c > NINE) break;
      sec = sec * 10 + (c - ZERO);
    }
    if (p === secStart || p >= end || c !== DOT) return -1;
    p++;
    let frac = 0;
    let digits = 0;
    for (; p < end; p++) {
      c = s.charCodeAt(p);
      if (c < ZERO || c > NINE) break;
      if (digits < 9) {
        frac = frac * 10 + (c - ZERO);
        digits++;
      }
    }
    if (digits === 0) return -1;
    for (let d = digits; d < 9; d++) frac *= 10;
    out.sec = sec;
    out.fracNs = frac;
    if (p >= end || c !== COLON) return -1;
    p++;
    for (; p < end; p++) {
      c = s.charCodeAt(p);
      if (c !== SPACE && c !== TAB) break;
    }
  }
  out.timestampBefore = timestampBefore;
  return p;
}

/** The event name at p (after parseEventPrefix) and where its fields start; false if there is none. */
export function parseEventName(s: string, p: number, end: number, out: EventLine): boolean {
  const timestampBefore = out.timestampBefore;
  let c = 0;
  // Event name: up to ':' followed by a blank (or the line's end); the example layout has none.
  const nameStart = p;
  let nameEnd = -1;
  let q = p;
  while (q < end) {
    c = s.charCodeAt(q);
    if (c === COLON) {
      const next = q + 1 === end ? SPACE : s.charCodeAt(q + 1);
      if (next === SPACE || next === TAB) {
        nameEnd = q;
        break;
      }
    } else if (c === SPACE || c === TAB) {
      if (timestampBefore) nameEnd = q;
      break;
    }
    q++;
  }
  if (nameEnd < 0) {
    if (timestampBefore && q === end) nameEnd = end;
    else return false;
  }
  if (nameEnd === nameStart) return false;
  let ns = nameStart;
  // perf's `kvm:` subsystem prefix.
  if (
    nameEnd - ns > 4 &&
    s.charCodeAt(ns + 3) === COLON &&
    s.charCodeAt(ns) === 107 /* k */ &&
    s.charCodeAt(ns + 1) === 118 /* v */ &&
    s.charCodeAt(ns + 2) === 109 /* m */
  ) {
    out.perfPrefix = true;
    ns += 4;
  }
  out.nameStart = ns;
  out.nameEnd = nameEnd;
  p = nameEnd < end && s.charCodeAt(nameEnd) === COLON ? nameEnd + 1 : nameEnd;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) break;
  }
  out.fieldsStart = p;
  out.kind = classify(s, ns, nameEnd);
  return true;
}

/**
 * The two events of every exit, recognised without parseEventName: at p (after
 * parseEventPrefix, not in the example layout) `kvm_exit:` or `kvm_entry:`, with or without
 * perf's `kvm:` prefix, then a blank or the line's end — exactly the lines parseEventName would
 * name kvm_exit or kvm_entry. Returns EV_EXIT, EV_ENTRY or EV_OTHER; for the first two sets the
 * name and `fieldsStart` to the index after the colon (the blanks there are not skipped: the
 * fast path does not need where the fields start, only that what precedes them is blank).
 */
export function quickKvmEvent(s: string, p: number, end: number, out: EventLine): number {
  let n = p;
  if (
    s.charCodeAt(n) !== 107 /* k */ ||
    s.charCodeAt(n + 1) !== 118 /* v */ ||
    s.charCodeAt(n + 2) !== 109 /* m */
  )
    return EV_OTHER;
  let c = s.charCodeAt(n + 3);
  let perf = false;
  if (c === COLON) {
    perf = true;
    n += 4;
    if (s.charCodeAt(n) !== 107 || s.charCodeAt(n + 1) !== 118 || s.charCodeAt(n + 2) !== 109)
      return EV_OTHER;
    c = s.charCodeAt(n + 3);
  }
  if (c !== 95 /* _ */ || s.charCodeAt(n + 4) !== 101 /* e */) return EV_OTHER;
  let kind: number;
  let colon: number;
  c = s.charCodeAt(n + 5);
  if (
    c === 120 /* x */ &&
    s.charCodeAt(n + 6) === 105 /* i */ &&
    s.charCodeAt(n + 7) === 116 /* t */ &&
    s.charCodeAt(n + 8) === COLON
  ) {
    kind = EV_EXIT;
    colon = n + 8;
  } else if (
    c === 110 /* n */ &&
    s.charCodeAt(n + 6) === 116 /* t */ &&
    s.charCodeAt(n + 7) === 114 /* r */ &&
    s.charCodeAt(n + 8) === 121 /* y */ &&
    s.charCodeAt(n + 9) === COLON
  ) {
    kind = EV_ENTRY;
    colon = n + 9;
  } else return EV_OTHER;
  if (colon >= end) return EV_OTHER;
  if (colon + 1 < end) {
    c = s.charCodeAt(colon + 1);
    if (c !== SPACE && c !== TAB) return EV_OTHER;
  }
  out.perfPrefix = perf;
  out.nameStart = n;
  out.nameEnd = colon;
  out.fieldsStart = colon + 1;
  out.kind = kind;
  return kind;
}

/**
 * `word` occurs at p. A char-code loop: TurboFan inlines charCodeAt, where a startsWith call
 * costs a builtin call per test (measured: the hot path of bench/trace.bench.ts).
 */
export function at(s: string, p: number, word: string): boolean {
  const n = word.length;
  if (p + n > s.length) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(p + i) !== word.charCodeAt(i)) return false;
  return true;
}

function is(s: string, start: number, end: number, name: string): boolean {
  return end - start === name.length && at(s, start, name);
}

function classify(s: string, start: number, end: number): number {
  const len = end - start;
  if (
    len < 6 ||
    s.charCodeAt(start) !== 107 /* k */ ||
    s.charCodeAt(start + 1) !== 118 /* v */ ||
    s.charCodeAt(start + 2) !== 109 /* m */ ||
    s.charCodeAt(start + 3) !== 95 /* _ */
  )
    return EV_OTHER;
  const c4 = s.charCodeAt(start + 4);
  // The two events of every exit, tested in place: kvm_exit, kvm_entry.
  if (c4 === 101 /* e */) {
    if (
      len === 8 &&
      s.charCodeAt(start + 5) === 120 &&
      s.charCodeAt(start + 6) === 105 &&
      s.charCodeAt(start + 7) === 116
    )
      return EV_EXIT;
    if (
      len === 9 &&
      s.charCodeAt(start + 5) === 110 &&
      s.charCodeAt(start + 6) === 116 &&
      s.charCodeAt(start + 7) === 114 &&
      s.charCodeAt(start + 8) === 121
    )
      return EV_ENTRY;
    return EV_OTHER;
  }
  switch (c4) {
    case 109: // m
      if (is(s, start, end, "kvm_mmio")) return EV_MMIO;
      if (is(s, start, end, "kvm_msr")) return EV_MSR;
      return EV_OTHER;
    case 112: // p
      if (is(s, start, end, "kvm_pio")) return EV_PIO;
      if (is(s, start, end, "kvm_page_fault")) return EV_PAGE_FAULT;
      return EV_OTHER;
    case 105: // i
      return is(s, start, end, "kvm_inj_virq") ? EV_INJ_VIRQ : EV_OTHER;
    case 97: // a
      return is(s, start, end, "kvm_apic") ? EV_APIC : EV_OTHER;
    case 99: // c
      if (is(s, start, end, "kvm_cr")) return EV_CR;
      if (is(s, start, end, "kvm_cpuid")) return EV_CPUID;
      return EV_OTHER;
    default:
      return EV_OTHER;
  }
}

// ---- field helpers (all bounded by the line's end) ----

/**
 * Index of `needle` in s[from, end), or -1. Scans only the line: `indexOf` would run on to the
 * end of the chunk whenever the needle is missing from the line.
 */
export function find(s: string, needle: string, from: number, end: number): number {
  const first = needle.charCodeAt(0);
  const last = end - needle.length;
  for (let i = from; i <= last; i++) {
    if (s.charCodeAt(i) === first && at(s, i, needle)) return i;
  }
  return -1;
}

export function skipSpaces(s: string, p: number, end: number): number {
  while (p < end && isSpace(s.charCodeAt(p))) p++;
  return p;
}

/** Out-values of the readers below (one shared record, so reading a number allocates nothing). */
export const scan = { end: 0, hi: 0, lo: 0 };

/** Value of a decimal number at p (NaN if none); `scan.end` is set to the index after it. */
export function readDecimal(s: string, p: number, end: number): number {
  let v = 0;
  const start = p;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (!isDigit(c)) break;
    v = v * 10 + (c - ZERO);
    p++;
  }
  scan.end = p;
  return p === start ? Number.NaN : v;
}

/** Hex digit values by char code (-1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[ZERO + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/**
 * The 64-bit hex number at p (optional 0x) split into 32-bit halves, scan.hi and scan.lo;
 * returns its end or -1. Digits beyond 16 shift the high ones out, as a 64-bit register would.
 */
export function readHex64(s: string, p: number, end: number): number {
  if (p + 1 < end && s.charCodeAt(p) === ZERO && (s.charCodeAt(p + 1) | 0x20) === 120) p += 2;
  let hi = 0;
  let lo = 0;
  const start = p;
  // The first 8 digits go straight into lo; after that each digit shifts lo's top one into hi.
  for (; p < end && p - start < 8; p++) {
    const c = s.charCodeAt(p);
    const d = c < 128 ? HEX[c]! : -1;
    if (d < 0) break;
    lo = lo * 16 + d;
  }
  if (p - start === 8) {
    for (; p < end; p++) {
      const c = s.charCodeAt(p);
      const d = c < 128 ? HEX[c]! : -1;
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

/** A hex number as a double (exact below 2^53: guest-physical addresses, ports, MSR indexes). */
export function readHexNumber(s: string, p: number, end: number): number {
  if (readHex64(s, p, end) < 0) return Number.NaN;
  return scan.hi * 4294967296 + scan.lo;
}
