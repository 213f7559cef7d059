/**
 * One VM transition's duration, drawn from the shape analysis/transitionCost.ts gives it: a
 * normal body around the deterministic terms (σ = `transition_jitter`) and, for the tail share
 * of transitions, exponentially distributed extra cycles of mean `transition_tail`, capped at
 * TAIL_CAP means (so straight-line jobs keep a bound). Its mean is exactly the estimator's
 * transition (transitionMean): the body is clamped symmetrically, the cap is in the mean.
 * Allocation-free; deterministic for the run's seed (it draws from the run's generator).
 * docs/simulator.md, "Transition cost distribution".
 *
 * The body's z is drawn by inversion through a table of the standard normal quantile function
 * (NORMAL_CELLS cells, linear in each): one uniform, two
 * loads and no transcendental function, where Box–Muller took two uniforms, a logarithm, a
 * square root and a cosine per exit (issue #14: a seventh of the simulator's time). The table is
 * symmetric, so z's mean is exactly 0 and the transition's mean stays the estimator's.
 */
import { BODY_CLAMP, TAIL_CAP } from "../analysis/transitionCost";
import { TRANSITION_DISTRIBUTION } from "../vmx/transitionTerms";
import { Sfc32 } from "./rng";

/** vCPU `v`'s transition stream for a run seeded `seed` (splitmix seeding makes nearby seeds unrelated). */
export function transitionStream(seed: number, v: number): Sfc32 {
  return new Sfc32((seed * 977 + 7919 * (v + 1)) % 2 ** 53);
}

const TAIL_SHARE = TRANSITION_DISTRIBUTION.tailShare;

/** Cells of the quantile table: 4096 keeps the interpolated quantile within 1e-4 of Φ⁻¹ inside ±3.3. */
const NORMAL_CELLS = 4096;

/**
 * Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error below 1.2e-9), "An
 * algorithm for computing the inverse normal cumulative distribution function", P. J. Acklam, 2003.
 */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/**
 * Φ⁻¹ at the cell edges j / NORMAL_CELLS, antisymmetric by construction. The outer cells end
 * where a linear cell has the normal tail's second moment (E[z² | z < b] = 1 − b·φ(b)/Φ(b),
 * b = Φ⁻¹(1 / NORMAL_CELLS)): about ±4.0, so z's variance is 1; within ±BODY_CLAMP.
 */
const QUANTILE = (() => {
  const table = new Float64Array(NORMAL_CELLS + 2);
  const b = normalQuantile(1 / NORMAL_CELLS);
  const density = Math.exp((-b * b) / 2) / Math.sqrt(2 * Math.PI);
  const m2 = 1 - b * density * NORMAL_CELLS;
  // (A² + A·b + b²) / 3 = m2, the root below b.
  const outer = Math.max(-BODY_CLAMP, (-b - Math.sqrt(12 * m2 - 3 * b * b)) / 2);
  table[0] = outer;
  for (let j = 1; j < NORMAL_CELLS / 2; j++) {
    const z = normalQuantile(j / NORMAL_CELLS);
    table[j] = z;
    table[NORMAL_CELLS - j] = -z;
  }
  table[NORMAL_CELLS / 2] = 0;
  table[NORMAL_CELLS] = -outer;
  // A guard cell: u·NORMAL_CELLS < NORMAL_CELLS always, but the interpolation reads j + 1.
  table[NORMAL_CELLS + 1] = -outer;
  return table;
})();

/** A standard normal z (clamped at ±BODY_CLAMP) from one uniform u in [0, 1). */
export function normalFromUniform(u: number): number {
  const x = u * NORMAL_CELLS;
  const j = x | 0;
  const lo = QUANTILE[j];
  return lo + (x - j) * (QUANTILE[j + 1] - lo);
}

export function sampleTransition(rng: Sfc32, body: number, jitter: number, tailMean: number): number {
  let t = body;
  if (jitter > 0) {
    // By inversion (the table stays within ±BODY_CLAMP).
    t += jitter * normalFromUniform(rng.next());
  }
  if (t < 0) t = 0;
  if (tailMean > 0) {
    const u = rng.next();
    if (u < TAIL_SHARE) {
      // u / share is uniform in [0, 1): reuse it for the tail's length.
      let x = -tailMean * Math.log(1 - u / TAIL_SHARE);
      const cap = TAIL_CAP * tailMean;
      if (x > cap) x = cap;
      t += x;
    }
  }
  return t;
}
