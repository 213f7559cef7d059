/**
 * The state the exit→entry pairing (pairing.ts) keeps: per exit reason, per MMIO/port key, per
 * vCPU (with its bounded timeline sample) and per host thread, and the bounds that keep it
 * fixed-size whatever the input (docs/traces.md "Bounds").
 */

import { EXIT } from "../vmx/exitReasons";
import type { ResolvedReason } from "./reasons";
import { LatencyStats, NumberMap, RipCounter } from "./stats";
import type { DetailCount } from "./types";

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
/** Raw detail texts remembered per reason so that a repeat is matched in place (see ReasonEntry). */
export const DETAIL_TEXTS_PER_REASON = 4 * DETAIL_KEYS_PER_REASON;

export interface DetailEntry extends DetailCount {}

/** Marks a detail seen after its reason's DETAIL_KEYS_PER_REASON bound was reached. */
export const OVERFLOWED: DetailEntry = { key: "", count: 0, totalNs: 0 };

/** A detail's raw text (as the line printed it) and the entry it counts in. */
export interface DetailText {
  raw: string;
  entry: DetailEntry;
}

export class ReasonEntry {
  readonly stats = new LatencyStats(true);
  readonly rips = new RipCounter(RIPS_PER_REASON);
  readonly details = new Map<string, DetailEntry>();
  /** The same entries by a number per event kind (see detailNumber), so a repeat costs no string. */
  readonly detailsByNumber: (NumberMap<DetailEntry> | undefined)[] = [];
  /**
   * Entries of text-keyed details (kvm_inj_virq, kvm_apic, kvm_cr) by a hash of their raw text,
   * compared in place, so a repeat costs no string either.
   */
  readonly detailsByText = new Map<number, DetailText>();
  detailsOverflow = 0;
  /** A VT-x EXTERNAL_INTERRUPT row: its kvm_exit lines carry the vector (details.interruptVector). */
  readonly externalInterrupt: boolean;
  constructor(
    readonly index: number,
    readonly resolved: ResolvedReason,
  ) {
    this.externalInterrupt = resolved.isa === "vmx" && resolved.code === EXIT.EXTERNAL_INTERRUPT;
  }
}

/**
 * A reason text's character codes (a typed-array read is cheaper than charCodeAt) and its row;
 * `ascii` when every code is below 128, so that comparing bytes is comparing characters, and
 * then `words`, the text's bytes as little-endian 32-bit words (pairingBytes.ts compares them).
 */
export interface ReasonCodes {
  codes: Uint16Array;
  ascii: boolean;
  words: Uint32Array;
  entry: ReasonEntry;
}

export function reasonCodes(text: string, entry: ReasonEntry): ReasonCodes {
  const codes = new Uint16Array(text.length);
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    codes[i] = c;
    if (c >= 128) ascii = false;
  }
  const words = new Uint32Array(text.length >> 2);
  if (ascii)
    for (let i = 0; i < words.length; i++)
      words[i] =
        (codes[4 * i]! | (codes[4 * i + 1]! << 8) | (codes[4 * i + 2]! << 16) | (codes[4 * i + 3]! << 24)) >>>
        0;
  return { codes, ascii, words, entry };
}

export class AccessEntry {
  readonly stats: LatencyStats;
  constructor(
    readonly key: string,
    readonly code: number,
    withHistogram: boolean,
  ) {
    this.stats = new LatencyStats(withHistogram);
  }
}

/** An MMIO or port table: entries in first-seen order, found by a number (code × 2 + direction). */
export class AccessTable {
  readonly entries: AccessEntry[] = [];
  private readonly byNumber = new NumberMap<AccessEntry>();
  private readonly byKey = new Map<string, AccessEntry>();

  /** The entry of `code` (a gpa or port) in direction `dir` (0/1), named `0x<code>:<suffix>`. */
  get(code: number, dir: number, suffix: string): AccessEntry {
    // Exact as a number below 2^52 (every gpa and port); larger codes are found by their key.
    const n = code < 4503599627370496 ? code * 2 + dir : Number.NaN;
    let entry = !Number.isNaN(n) ? this.byNumber.get(n) : undefined;
    if (entry) return entry;
    const key = `0x${code.toString(16)}:${suffix}`;
    entry = this.byKey.get(key);
    if (!entry) {
      entry = new AccessEntry(key, code, this.entries.length < ACCESS_HISTOGRAMS);
      this.entries.push(entry);
      this.byKey.set(key, entry);
    }
    if (!Number.isNaN(n)) this.byNumber.set(n, entry);
    return entry;
  }
}

export class VcpuState {
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
  /** Exits to drop before the next one the sample keeps (a countdown: no division per exit). */
  private skip = 0;
  /** Index (among this vCPU's exits) of the next exit the sample keeps: a multiple of stride. */
  private next = 0;
  constructor(
    readonly id: number,
    readonly capacity: number,
  ) {
    this.tlStart = new Float64Array(capacity);
    this.tlDuration = new Float64Array(capacity);
    this.tlReason = new Int32Array(capacity);
  }

  /** Keeps every `stride`-th exit of this vCPU (its 0th, stride-th, 2·stride-th, …). */
  sample(startNs: number, durationNs: number, reason: number): void {
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    if (this.capacity === 0) return;
    const n = this.next;
    // Full: keep every other one (the exits whose index is a multiple of 2·stride); a sample of
    // one stays full after halving, hence the loop.
    while (this.tlCount === this.capacity) {
      let w = 0;
      for (let r = 0; r < this.tlCount; r += 2, w++) {
        this.tlStart[w] = this.tlStart[r]!;
        this.tlDuration[w] = this.tlDuration[r]!;
        this.tlReason[w] = this.tlReason[r]!;
      }
      this.tlCount = w;
      const old = this.stride;
      this.stride = old * 2;
      if (n % this.stride !== 0) {
        // n is an odd multiple of the old stride: the next multiple of the new one is n + old.
        this.next = n + old;
        this.skip = old - 1;
        return;
      }
    }
    this.tlStart[this.tlCount] = startNs;
    this.tlDuration[this.tlCount] = durationNs;
    this.tlReason[this.tlCount] = reason;
    this.tlCount++;
    this.next = n + this.stride;
    this.skip = this.stride - 1;
  }
}

export class ThreadState {
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
    /** The pairing key: tid (with its file index), or a vCPU/CPU stand-in (Pairer.handle). */
    readonly key: number,
    readonly tid: number,
    readonly comm: string,
    readonly file: string | undefined,
  ) {}
}

/** A string that owns its characters (a slice of a big chunk would keep the chunk alive). */
export function ownString(text: string): string {
  return text.length < 13 ? text : text.split("").join("");
}
