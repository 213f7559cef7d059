/**
 * A log-bucketed histogram for positive values (cycles, nanoseconds): every sample lands in a
 * bucket of relative width 2^(1/32) − 1 ≈ 2.19 %, so a percentile read back as the bucket's
 * geometric midpoint is within ±1.09 % of the exact order statistic (for values ≥ 1; smaller
 * values share bucket 0). Count, sum, min and max are exact. Memory is fixed (2,048 buckets,
 * 16 KiB) however many samples are added, so statistics can use every event of a long run.
 */

const SUB_BUCKETS_PER_OCTAVE = 32;
const OCTAVES = 64;
const BUCKETS = SUB_BUCKETS_PER_OCTAVE * OCTAVES;

/** Relative error bound of {@link LogHistogram.percentile} for values ≥ 1. */
export const HISTOGRAM_RELATIVE_ERROR = 2 ** (1 / (2 * SUB_BUCKETS_PER_OCTAVE)) - 1;

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
    let index = value > 1 ? Math.floor(Math.log2(value) * SUB_BUCKETS_PER_OCTAVE) : 0;
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.counts[index]++;
  }

  /** Adds `times` samples of the same value. */
  addMany(value: number, times: number): void {
    if (times <= 0) return;
    this.count += times;
    this.sum += value * times;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    let index = value > 1 ? Math.floor(Math.log2(value) * SUB_BUCKETS_PER_OCTAVE) : 0;
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.counts[index] += times;
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
