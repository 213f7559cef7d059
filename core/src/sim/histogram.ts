/**
 * A log-bucketed histogram for positive values (cycles, nanoseconds): every sample lands in a
 * bucket of relative width 2^(1/32) − 1 ≈ 2.19 %, so a percentile read back as the bucket's
 * geometric midpoint is within ±1.09 % of the exact order statistic (for values ≥ 1; smaller
 * values share bucket 0). Count, sum, min and max are exact. Memory is fixed (2,048 buckets,
 * 16 KiB) however many samples are added, so statistics can use every event of a long run.
 *
 * Bucket i holds [2^(i/32), 2^((i+1)/32)). The index is read from the value's IEEE-754 bits
 * instead of a logarithm (add runs once per simulated exit): the exponent gives the octave, the
 * top 10 mantissa bits a cell of a lookup table that is narrower than any bucket, so it holds
 * at most one bucket boundary, and one comparison with that boundary's exact mantissa settles
 * the bucket. The boundaries are computed with exact integer arithmetic (BigInt), so the
 * bucketing is the same on every JavaScript engine (Math.log2 and ** need not be).
 */

const SUB_BUCKETS_PER_OCTAVE = 32;
const OCTAVES = 64;
const BUCKETS = SUB_BUCKETS_PER_OCTAVE * OCTAVES;

/** Relative error bound of {@link LogHistogram.percentile} for values ≥ 1. */
export const HISTOGRAM_RELATIVE_ERROR = 2 ** (1 / (2 * SUB_BUCKETS_PER_OCTAVE)) - 1;

const MANTISSA_BITS = 52;
const CELL_BITS = 10;
/**
 * BOUNDARY[k] (k = 0..32): the smallest 52-bit mantissa m with (1 + m/2^52) ≥ 2^(k/32), i.e.
 * (2^52 + m)^32 ≥ 2^k · 2^(52·32); BOUNDARY[32] = 2^52 (never reached within an octave).
 */
const BOUNDARY = new Float64Array(SUB_BUCKETS_PER_OCTAVE + 1);
/** Sub-bucket of the lowest mantissa of each 2^-10-wide cell. */
const CELL_SUB = new Uint8Array(1 << CELL_BITS);
{
  const one = 1n << BigInt(MANTISSA_BITS);
  const scale = BigInt(MANTISSA_BITS * SUB_BUCKETS_PER_OCTAVE);
  const atLeast = (m: bigint, k: number): boolean =>
    (one + m) ** BigInt(SUB_BUCKETS_PER_OCTAVE) >= 1n << (scale + BigInt(k));
  for (let k = 0; k <= SUB_BUCKETS_PER_OCTAVE; k++) {
    // Start from the floating-point estimate, then correct it exactly.
    let m = BigInt(
      Math.min(2 ** MANTISSA_BITS, Math.round((2 ** (k / SUB_BUCKETS_PER_OCTAVE) - 1) * 2 ** 52)),
    );
    while (m > 0n && atLeast(m - 1n, k)) m--;
    while (!atLeast(m, k)) m++;
    BOUNDARY[k] = Number(m);
  }
  for (let cell = 0, sub = 0; cell < CELL_SUB.length; cell++) {
    const low = cell * 2 ** (MANTISSA_BITS - CELL_BITS);
    while (sub + 1 < SUB_BUCKETS_PER_OCTAVE && BOUNDARY[sub + 1] <= low) sub++;
    CELL_SUB[cell] = sub;
  }
}

const BITS = new Float64Array(1);
const WORDS = new Uint32Array(BITS.buffer);
/** Index of the word holding sign, exponent and the top 20 mantissa bits. */
const HIGH = (() => {
  BITS[0] = 1;
  return WORDS[1] === 0x3ff00000 ? 1 : 0;
})();
const LOW = 1 - HIGH;

/** The bucket of `value` (0 for values ≤ 1 and NaN, the last bucket from 2^64 up). */
export function bucketOf(value: number): number {
  if (!(value > 1)) return 0;
  BITS[0] = value;
  return bucketOfBits();
}

/**
 * The bucket of the value > 1 in BITS[0]. The value travels through the scratch array, not as
 * an argument: a double passed to a call that is not inlined is boxed (an allocation per sample
 * on the simulator's hottest path, issue #14).
 */
function bucketOfBits(): number {
  const high = WORDS[HIGH];
  const octave = (high >>> 20) - 1023;
  if (octave >= OCTAVES) return BUCKETS - 1;
  const top = high & 0xfffff;
  let sub = CELL_SUB[top >>> (20 - CELL_BITS)];
  if (top * 4294967296 + WORDS[LOW] >= BOUNDARY[sub + 1]) sub++;
  return octave * SUB_BUCKETS_PER_OCTAVE + sub;
}

export class LogHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  add(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value > 1) {
      BITS[0] = value;
      this.counts[bucketOfBits()]++;
    } else this.counts[0]++;
  }

  /** Adds every sample of `other` (the same buckets: the merged percentiles keep the error bound). */
  merge(other: LogHistogram): void {
    if (other.count === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** Adds `times` samples of the same value. */
  addMany(value: number, times: number): void {
    if (times <= 0) return;
    this.count += times;
    this.sum += value * times;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.counts[bucketOf(value)] += times;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /**
   * The value below which a fraction `q` (0..1) of the samples lie, within
   * {@link HISTOGRAM_RELATIVE_ERROR}; clamped to the exact min and max.
   */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const mid = i === 0 ? 1 : 2 ** ((i + 0.5) / SUB_BUCKETS_PER_OCTAVE);
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }
}
