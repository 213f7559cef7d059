/**
 * The pairing of the hot events read from bytes (TraceImporter.feedBytes): kvm_exit, kvm_entry
 * and the detail events kvm_msr, kvm_mmio, kvm_pio, kvm_inj_virq of a thread already known by
 * its tid. Each does what Pairer.handle does for the same line (pairing.ts: the same state
 * changes, through the Pairer's own methods and tables), reading the fields from the bytes
 * (eventBytes.ts says why the answers are the same).
 *
 * `handle` returns false, having changed nothing, for any line it does not take: the importer
 * then decodes that line and gives it to the text path (a first entry, a malformed line, text
 * it cannot compare as bytes). Once a line is taken, a detail seen for the first time still
 * needs its key as a string: its fields are decoded then (only they: the key is made of them)
 * and handed to Pairer.detail, which is what the text path calls.
 */

import { validInterruptionVector } from "../vmx/fieldFormats";
import {
  atBytes,
  findBytes,
  readHex64Bytes,
  readHexNumberBytes,
  skipBlanksBytes,
  skipPaddingBytes,
  smallHexBytes,
} from "./eventBytes";
import { EV_ENTRY, EV_EXIT, EV_INJ_VIRQ, EV_MMIO, EV_MSR, EV_PIO, type EventLine, scan } from "./events";
import type { Pairer } from "./pairing";
import { type DetailEntry, OVERFLOWED, type ReasonEntry, type ThreadState } from "./pairingState";

/** Numbers from 2^51 on are keyed by text (details.ts smallHex; pairing.ts mmioEvent, pioEvent). */
const SMALL_LIMIT = 2251799813685248;

export class BytePairer {
  constructor(
    private readonly pairer: Pairer,
    /** Decodes a byte range that must become a string (a new detail's fields). */
    private readonly decode: (b: Uint8Array, start: number, end: number) => string,
  ) {}

  /**
   * The event `ev` (parsePrefixBytes and eventKindBytes filled it) at t, if the byte path takes
   * it; false, with nothing changed, otherwise. `dv` views the same bytes as b (same offsets).
   */
  handle(b: Uint8Array, dv: DataView, ev: EventLine, t: number): boolean {
    const thread = this.pairer.thread(ev.tid);
    if (thread === undefined || thread.vcpu === undefined) return false;
    const f = ev.fieldsStart;
    const end = ev.end;
    switch (ev.kind) {
      case EV_ENTRY:
        this.pairer.entry(thread, t);
        return true;
      case EV_EXIT:
        return this.exit(b, dv, f, end, thread, t);
      case EV_MSR:
        if (thread.vHas) this.numbered(b, EV_MSR, f, end, thread, msrNumber(b, f, end));
        return true;
      case EV_MMIO:
        return this.mmio(b, f, end, thread, t);
      case EV_PIO:
        return this.pio(b, f, end, thread, t);
      case EV_INJ_VIRQ:
        if (thread.vHas) this.injVirq(b, f, end, thread);
        return true;
      default:
        return false;
    }
  }

  /** Pairer.exit and exitAt: the same reason row (by the same in-place and hashed lookups), RIP, vector. */
  private exit(b: Uint8Array, dv: DataView, f: number, end: number, thread: ThreadState, t: number): boolean {
    const r = reasonAt(b, dv, f, end);
    if (r < 0) return false;
    const nameStart = r + 7;
    const pairer = this.pairer;
    let reason: ReasonEntry | undefined;
    let rip = -1;
    const first = nameStart < end ? b[nameStart]! : 0;
    if (first >= 128) return false;
    const list = nameStart < end ? pairer.reasonsByFirst[first] : undefined;
    if (list !== undefined) {
      for (let k = 0; k < list.length; k++) {
        const candidate = list[k]!;
        // A text with other characters than ASCII is not compared as bytes: the text path.
        if (!candidate.ascii) return false;
        const codes = candidate.codes;
        const n = codes.length;
        const e = nameStart + n;
        if (e > end) continue;
        // Whole words first (dv reads the same bytes), then the tail.
        const words = candidate.words;
        let w = 0;
        while (w < words.length && dv.getUint32(nameStart + 4 * w, true) === words[w]) w++;
        if (w < words.length) continue;
        let i = 4 * w;
        while (i < n && b[nameStart + i] === codes[i]) i++;
        if (i < n) continue;
        if (e === end) {
          reason = candidate.entry;
          break;
        }
        if (
          e + 5 <= end &&
          b[e] === 32 &&
          b[e + 1] === 114 /* r */ &&
          b[e + 2] === 105 /* i */ &&
          b[e + 3] === 112 /* p */ &&
          b[e + 4] === 32
        ) {
          reason = candidate.entry;
          rip = e;
          break;
        }
      }
    }
    if (reason === undefined) {
      let hash = 0x811c9dc5;
      let hashEnd = nameStart;
      for (let i = nameStart; i < end; i++) {
        const c = b[i]!;
        if (
          c === 32 &&
          i + 5 <= end &&
          b[i + 1] === 114 /* r */ &&
          b[i + 2] === 105 /* i */ &&
          b[i + 3] === 112 /* p */ &&
          b[i + 4] === 32
        ) {
          rip = i;
          break;
        }
        if (c >= 128) return false;
        if (c !== 32) {
          for (let k = hashEnd; k < i; k++) hash = Math.imul(hash ^ 32, 0x01000193);
          hash = Math.imul(hash ^ c, 0x01000193);
          hashEnd = i + 1;
        }
      }
      hash = (hash ^ (hashEnd - nameStart)) & 0x3fffffff;
      const cached = pairer.reasonsByHash.get(hash);
      if (cached !== undefined && sameAscii(b, nameStart, hashEnd, cached.text)) reason = cached.entry;
      else {
        let text = "";
        for (let i = nameStart; i < hashEnd; i++) text += String.fromCharCode(b[i]!);
        const whole = 0;
        reason = pairer.reason(text, whole, text.length, hash);
      }
    }
    pairer.beginExit(thread, t, reason);
    if (rip >= 0) {
      rip = skipBlanksBytes(b, rip + 5, end);
      if (readHex64Bytes(b, rip, end) >= 0) {
        thread.ripHi = scan.hi;
        thread.ripLo = scan.lo;
        thread.ripValid = true;
      }
    }
    if (reason.externalInterrupt) {
      const from = rip >= 0 ? rip : nameStart;
      const vector = interruptVectorBytes(b, from, end);
      // Without a valid vector the text path keeps nothing (detailKey gives no key).
      if (!Number.isNaN(vector)) this.numbered(b, EV_EXIT, from, end, thread, vector);
    }
    return true;
  }

  /** Pairer.mmioEvent: declines what it would call malformed. */
  private mmio(b: Uint8Array, f: number, end: number, thread: ThreadState, t: number): boolean {
    if (!atBytes(b, f, end, "mmio ")) return false;
    const typeStart = f + 5;
    const type = atBytes(b, typeStart, end, "write")
      ? 2
      : atBytes(b, typeStart, end, "read")
        ? 1
        : atBytes(b, typeStart, end, "unsatisfied-read")
          ? 0
          : -1;
    if (type < 0) return false;
    const g = findBytes(b, "gpa ", typeStart, end);
    const gpa = g < 0 ? Number.NaN : readHexNumberBytes(b, g + 4, end);
    if (Number.isNaN(gpa)) return false;
    if (thread.vHas)
      this.numbered(b, EV_MMIO, f, end, thread, gpa < SMALL_LIMIT ? gpa * 4 + type : Number.NaN);
    this.pairer.mmioAccess(thread, t, type, gpa);
    return true;
  }

  /** Pairer.pioEvent: declines what it would call malformed, and a direction not followed by one character and `at `. */
  private pio(b: Uint8Array, f: number, end: number, thread: ThreadState, t: number): boolean {
    const write = atBytes(b, f, end, "pio_write");
    if (!write && !atBytes(b, f, end, "pio_read")) return false;
    const a = findBytes(b, "at ", f, end);
    // pioEvent's number needs `at ` one character after the direction: counted in characters
    // there, so a byte path that counts bytes leaves any other layout to the text path.
    if (a !== f + (write ? 10 : 9)) return false;
    const port = readHexNumberBytes(b, a + 3, end);
    if (Number.isNaN(port)) return false;
    if (thread.vHas)
      this.numbered(b, EV_PIO, f, end, thread, port < SMALL_LIMIT ? port * 2 + (write ? 1 : 0) : Number.NaN);
    this.pairer.pioAccess(thread, t, write, port);
    return true;
  }

  /** Pairer.detail for a text-keyed kvm_inj_virq: the raw text's hash and an in-place compare. */
  private injVirq(b: Uint8Array, f: number, end: number, thread: ThreadState): void {
    let e = end;
    while (e > f && b[e - 1] === 32) e--;
    // No text, no key: Pairer.detail keeps nothing.
    if (e <= f) return;
    let hash = 0x811c9dc5 ^ EV_INJ_VIRQ;
    let ascii = true;
    for (let i = f; i < e; i++) {
      const c = b[i]!;
      if (c >= 128) {
        ascii = false;
        break;
      }
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (ascii) {
      const reason = thread.vReason!;
      const cached = reason.detailsByText.get((hash ^ (e - f)) & 0x3fffffff);
      if (cached !== undefined && sameAscii(b, f, e, cached.raw)) {
        this.count(reason, thread, cached.entry);
        return;
      }
    }
    const text = this.decode(b, f, end);
    this.pairer.detail(text, EV_INJ_VIRQ, 0, text.length, thread, Number.NaN);
  }

  /**
   * Pairer.detail for a numeric kind: a repeat found by its number costs no string; a first
   * sighting (or a number that does not fit, NaN) is handed to Pairer.detail with its fields
   * decoded, which builds the key as for text.
   */
  private numbered(
    b: Uint8Array,
    kind: number,
    f: number,
    end: number,
    thread: ThreadState,
    number: number,
  ): void {
    if (!Number.isNaN(number)) {
      const reason = thread.vReason!;
      const entry = reason.detailsByNumber[kind]?.get(number);
      if (entry !== undefined) {
        this.count(reason, thread, entry);
        return;
      }
    }
    const text = this.decode(b, f, end);
    this.pairer.detail(text, kind, 0, text.length, thread, number);
  }

  /** A known detail entry: counted when the exit's entry comes (or an overflow, counted now). */
  private count(reason: ReasonEntry, thread: ThreadState, entry: DetailEntry): void {
    if (entry === OVERFLOWED) {
      reason.detailsOverflow++;
      return;
    }
    if (thread.pendingCount < thread.pending.length) thread.pending[thread.pendingCount] = entry;
    else thread.pending.push(entry);
    thread.pendingCount++;
  }
}

/**
 * The first `reason ` in b[f, end), or -1. The usual fields, blanks then `vcpu <n> reason `, are
 * tested in place (nothing before that `reason ` can be one); anything else is searched.
 */
function reasonAt(b: Uint8Array, dv: DataView, f: number, end: number): number {
  const p = skipPaddingBytes(b, dv, f, end);
  if (
    p + 6 < end &&
    b[p] === 118 /* v */ &&
    b[p + 1] === 99 /* c */ &&
    b[p + 2] === 112 /* p */ &&
    b[p + 3] === 117 /* u */ &&
    b[p + 4] === 32
  ) {
    let q = p + 5;
    const digits = q;
    while (q < end && b[q]! >= 48 && b[q]! <= 57) q++;
    if (
      q > digits &&
      q + 8 <= end &&
      b[q] === 32 &&
      b[q + 1] === 114 /* r */ &&
      b[q + 2] === 101 /* e */ &&
      b[q + 3] === 97 /* a */ &&
      b[q + 4] === 115 /* s */ &&
      b[q + 5] === 111 /* o */ &&
      b[q + 6] === 110 /* n */ &&
      b[q + 7] === 32
    )
      return q + 1;
  }
  return findBytes(b, "reason ", f, end);
}

/** b[start, end) is the ASCII text `text`. */
function sameAscii(b: Uint8Array, start: number, end: number, text: string): boolean {
  if (text.length !== end - start) return false;
  for (let i = 0; i < text.length; i++) if (b[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** details.ts detailNumber for kvm_msr, on bytes: index × 4 + (#GP) 2 + write 1, NaN if unreadable. */
function msrNumber(b: Uint8Array, f: number, end: number): number {
  const write = atBytes(b, f, end, "msr_write");
  if (!write && !atBytes(b, f, end, "msr_read")) return Number.NaN;
  const gp = b[end - 1] === 41 /* ) */ ? 2 : 0;
  return smallHexBytes(b, skipBlanksBytes(b, f + (write ? 9 : 8), end), end) * 4 + gp + (write ? 1 : 0);
}

/** details.ts interruptVector on bytes. */
function interruptVectorBytes(b: Uint8Array, f: number, end: number): number {
  let p = findBytes(b, "intr_info ", f, end);
  if (p >= 0) p += 10;
  else {
    const i = findBytes(b, " info ", f, end);
    if (i < 0) return Number.NaN;
    p = skipBlanksBytes(b, i + 6, end);
    while (p < end && b[p] !== 32) p++;
    p = skipBlanksBytes(b, p, end);
  }
  return validInterruptionVector(readHexNumberBytes(b, p, end));
}
