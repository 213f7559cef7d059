/**
 * Discrete distributions of non-negative cycle counts, for the per-path latency the estimator
 * derives (pathLatency.ts): atoms (value, probability), kept sorted and compacted onto a
 * logarithmic grid so that convolutions stay small. Compaction merges the atoms of one grid
 * cell into their probability-weighted mean, so the mean is exact and a quantile is off by at
 * most one cell (relative width GRID, 1 %); the simulator's histograms are within ±1.1 %
 * (sim/histogram.ts). docs/estimator.md §4.3.
 */

export interface Dist {
  /** Values, ascending. */
  readonly v: Float64Array;
  /** Probabilities (sum 1). */
  readonly p: Float64Array;
}

/** Relative width of a compaction cell (the simulator's histogram buckets are 2.19 %). */
const GRID = 0.01;
const LOG_GRID = Math.log1p(GRID);
/** Values below this share one cell (cycles: far below any exit). */
const FLOOR = 1;

export function atom(value: number): Dist {
  return { v: Float64Array.of(Math.max(0, value)), p: Float64Array.of(1) };
}

export const ZERO: Dist = atom(0);

/** The distribution's mean. */
export function mean(d: Dist): number {
  let m = 0;
  for (let i = 0; i < d.v.length; i++) m += d.v[i]! * d.p[i]!;
  return m;
}

/**
 * The q-quantile (0 < q < 1): the smallest atom whose cumulative probability reaches q (the
 * order statistic, as the simulator's histogram reads it back; atoms of the continuous parts are
 * at most one grid cell, or σ/4 of the transition body, apart).
 */
export function quantile(d: Dist, q: number): number {
  let cum = 0;
  for (let i = 0; i < d.v.length; i++) {
    cum += d.p[i]!;
    if (cum >= q - 1e-12) return d.v[i]!;
  }
  return d.v[d.v.length - 1] ?? 0;
}

/**
 * Atoms from unsorted (value, probability) lists, merged per grid cell: the cells are indexed
 * directly (no sort), so a convolution costs its products.
 */
export function fromAtoms(values: ArrayLike<number>, probs: ArrayLike<number>): Dist {
  const n = values.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let zero = 0;
  let zeroSum = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = probs[i]!;
    if (!(w > 0)) continue;
    total += w;
    const x = Math.max(values[i]!, 0);
    if (x < FLOOR) {
      zero += w;
      zeroSum += x * w;
      continue;
    }
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const base = lo <= hi ? Math.floor(Math.log(lo) / LOG_GRID) : 0;
  const cells = lo <= hi ? Math.floor(Math.log(hi) / LOG_GRID) - base + 1 : 0;
  const mass = new Float64Array(cells);
  const moment = new Float64Array(cells);
  for (let i = 0; i < n; i++) {
    const w = probs[i]!;
    if (!(w > 0)) continue;
    const x = values[i]!;
    if (!(x >= FLOOR)) continue;
    let c = Math.floor(Math.log(x) / LOG_GRID) - base;
    if (c < 0) c = 0;
    else if (c >= cells) c = cells - 1;
    mass[c]! += w;
    moment[c]! += w * x;
  }
  let count = zero > 0 ? 1 : 0;
  for (let c = 0; c < cells; c++) if (mass[c]! > 0) count++;
  const v = new Float64Array(count);
  const p = new Float64Array(count);
  const scale = total > 0 ? 1 / total : 1;
  let k = 0;
  if (zero > 0) {
    v[0] = zeroSum / zero;
    p[0] = zero * scale;
    k = 1;
  }
  for (let c = 0; c < cells; c++) {
    const m = mass[c]!;
    if (m > 0) {
      v[k] = moment[c]! / m;
      p[k] = m * scale;
      k++;
    }
  }
  return { v, p };
}

/** The distribution of X + Y for independent X ~ a, Y ~ b. */
export function convolve(a: Dist, b: Dist): Dist {
  if (a.v.length === 1 && a.v[0] === 0) return b;
  if (b.v.length === 1 && b.v[0] === 0) return a;
  const n = a.v.length * b.v.length;
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < a.v.length; i++)
    for (let j = 0; j < b.v.length; j++) {
      v[k] = a.v[i]! + b.v[j]!;
      p[k] = a.p[i]! * b.p[j]!;
      k++;
    }
  return fromAtoms(v, p);
}

/** The sum of n independent copies (n a non-negative integer), by repeated squaring. */
export function power(d: Dist, n: number): Dist {
  let result = ZERO;
  let base = d;
  let k = Math.max(0, Math.floor(n));
  while (k > 0) {
    if (k & 1) result = convolve(result, base);
    k >>= 1;
    if (k > 0) base = convolve(base, base);
  }
  return result;
}

/** A mixture: `parts[i]` with probability `weights[i]`; the remainder (1 − Σ weights) is 0. */
export function mixture(parts: readonly Dist[], weights: readonly number[]): Dist {
  const v: number[] = [];
  const p: number[] = [];
  let total = 0;
  parts.forEach((d, i) => {
    const w = weights[i]!;
    if (!(w > 0)) return;
    total += w;
    for (let j = 0; j < d.v.length; j++) {
      v.push(d.v[j]!);
      p.push(d.p[j]! * w);
    }
  });
  if (total < 1) {
    v.push(0);
    p.push(1 - total);
  }
  return fromAtoms(v, p);
}

/**
 * An expected count c of independent copies: ⌊c⌋ copies, one more with probability c − ⌊c⌋
 * (a count below 1, e.g. PML's N/512, is read as a probability, as the estimator does).
 */
export function expectedCount(d: Dist, c: number): Dist {
  if (!(c > 0)) return ZERO;
  const whole = Math.floor(c);
  const frac = c - whole;
  const base = power(d, whole);
  return frac > 1e-12 ? mixture([base, convolve(base, d)], [1 - frac, frac]) : base;
}
