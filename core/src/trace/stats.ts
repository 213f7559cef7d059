/**
 * Exact streaming statistics of paired intervals, computed as perf does (tools/perf/util/stat.c
 * `update_stats`: Welford's running mean and M2 in doubles, min/max), plus a log-bucketed
 * histogram (core/src/sim/histogram.ts, ±1.09 %) for percentiles, which perf does not keep.
 */
import { LogHistogram } from "../sim/histogram";
import type { LatencySummary, RipCount } from "./types";

export class LatencyStats {
  count = 0;
  totalNs = 0;
  minNs = Number.POSITIVE_INFINITY;
  maxNs = 0;
  mean = 0;
  m2 = 0;
  readonly histogram: LogHistogram | undefined;

  constructor(withHistogram: boolean) {
    this.histogram = withHistogram ? new LogHistogram() : undefined;
  }

  add(ns: number): void {
    this.count++;
    this.totalNs += ns;
    const delta = ns - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (ns - this.mean);
    if (ns > this.maxNs) this.maxNs = ns;
    if (ns < this.minNs) this.minNs = ns;
    this.histogram?.add(ns);
  }

  /**
   * Pools another set (Chan et al.'s parallel update), used to sum `perf kvm stat live`
   * snapshots, whose statistics perf resets after each display.
   */
  merge(count: number, totalNs: number, minNs: number, maxNs: number, m2: number): void {
    if (count <= 0) return;
    const mean = totalNs / count;
    const n = this.count + count;
    const delta = mean - this.mean;
    this.m2 += m2 + (delta * delta * this.count * count) / n;
    this.mean += (delta * count) / n;
    this.count = n;
    this.totalNs += totalNs;
    if (minNs < this.minNs) this.minNs = minNs;
    if (maxNs > this.maxNs) this.maxNs = maxNs;
  }

  summary(): LatencySummary {
    const n = this.count;
    const variance = n < 2 ? 0 : this.m2 / (n - 1);
    // perf's stddev_stats is the standard error of the mean: sqrt(variance / n).
    const relStddevPercent = n < 2 || this.mean === 0 ? 0 : (100 * Math.sqrt(variance / n)) / this.mean;
    const out: LatencySummary = {
      count: n,
      totalNs: this.totalNs,
      minNs: n === 0 ? 0 : this.minNs,
      maxNs: this.maxNs,
      meanNs: n === 0 ? 0 : this.mean,
      stddevNs: Math.sqrt(variance),
      relStddevPercent,
    };
    if (this.histogram && n > 0) {
      out.p50Ns = this.histogram.percentile(0.5);
      out.p99Ns = this.histogram.percentile(0.99);
    }
    return out;
  }
}

/**
 * Counts of 64-bit guest RIPs without a string or BigInt per exit: an open-addressing table of
 * (high 32 bits, low 32 bits) pairs, at most `capacity` distinct RIPs; later new RIPs are
 * counted in `overflow`. Memory is fixed per table.
 */
export class RipCounter {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly counts: Float64Array;
  private readonly mask: number;
  /** 32 − log2(table size): the slot is the hash's top bits. */
  private readonly shift: number;
  private used = 0;
  overflow = 0;

  constructor(private readonly capacity: number) {
    let size = 16;
    let bits = 4;
    while (size < capacity * 2) {
      size *= 2;
      bits++;
    }
    this.shift = 32 - bits;
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.counts = new Float64Array(size);
    this.mask = size - 1;
  }

  add(hi: number, lo: number): void {
    // Multiplicative hashing: the top bits of the product depend on every bit of the RIP; the
    // low bits only on its low bits, which aligned RIPs share (measured: long probe chains).
    let slot = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b) >>> this.shift;
    for (;;) {
      const c = this.counts[slot]!;
      if (c === 0) {
        if (this.used >= this.capacity) {
          this.overflow++;
          return;
        }
        this.used++;
        this.hi[slot] = hi;
        this.lo[slot] = lo;
        this.counts[slot] = 1;
        return;
      }
      if (this.hi[slot] === hi && this.lo[slot] === lo) {
        this.counts[slot] = c + 1;
        return;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  top(limit: number): RipCount[] {
    const out: { hi: number; lo: number; count: number }[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i]! > 0) out.push({ hi: this.hi[i]!, lo: this.lo[i]!, count: this.counts[i]! });
    }
    out.sort((a, b) => b.count - a.count || a.hi - b.hi || a.lo - b.lo);
    return out.slice(0, limit).map((r) => ({
      rip: `0x${r.hi === 0 ? r.lo.toString(16) : r.hi.toString(16) + r.lo.toString(16).padStart(8, "0")}`,
      count: r.count,
    }));
  }
}

/**
 * A map from integer-valued numbers below 2^53 (gpas, ports, MSR indexes, scaled by a small
 * factor) to values, without the boxed number a `Map.get` of a large key costs: open addressing
 * over a Float64Array of keys (NaN marks an empty slot), grown at half full.
 */
export class NumberMap<V> {
  private keys = new Float64Array(16).fill(Number.NaN);
  private values: (V | undefined)[] = new Array(16).fill(undefined);
  private shift = 28;
  size = 0;

  private slotOf(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> this.shift;
  }

  get(key: number): V | undefined {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let slot = this.slotOf(key); ; slot = (slot + 1) & mask) {
      const k = keys[slot]!;
      if (k === key) return this.values[slot];
      if (Number.isNaN(k)) return undefined;
    }
  }

  set(key: number, value: V): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let slot = this.slotOf(key); ; slot = (slot + 1) & mask) {
      const k = keys[slot]!;
      if (k === key) {
        this.values[slot] = value;
        return;
      }
      if (Number.isNaN(k)) {
        keys[slot] = key;
        this.values[slot] = value;
        this.size++;
        return;
      }
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2).fill(Number.NaN);
    this.values = new Array(oldKeys.length * 2).fill(undefined);
    this.shift--;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (!Number.isNaN(k)) this.set(k, oldValues[i] as V);
    }
  }
}
