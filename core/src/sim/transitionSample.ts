/**
 * One VM transition's duration, drawn from the shape analysis/transitionCost.ts gives it: a
 * normal body around the deterministic terms (σ = `transition_jitter`) and, for the tail share
 * of transitions, exponentially distributed extra cycles of mean `transition_tail`, capped at
 * TAIL_CAP means (so straight-line jobs keep a bound). Its mean is exactly the estimator's
 * transition (transitionMean): the body is clamped symmetrically, the cap is in the mean.
 * Allocation-free; deterministic for the run's seed (it draws from the run's generator).
 * docs/simulator.md, "Transition cost distribution".
 */
import { BODY_CLAMP, TAIL_CAP } from "../analysis/transitionCost";
import { TRANSITION_DISTRIBUTION } from "../vmx/transitionTerms";
import { Sfc32 } from "./rng";

/** vCPU `v`'s transition stream for a run seeded `seed` (splitmix seeding makes nearby seeds unrelated). */
export function transitionStream(seed: number, v: number): Sfc32 {
  return new Sfc32((seed * 977 + 7919 * (v + 1)) % 2 ** 53);
}

const TAIL_SHARE = TRANSITION_DISTRIBUTION.tailShare;
const TWO_PI = 2 * Math.PI;

export function sampleTransition(rng: Sfc32, body: number, jitter: number, tailMean: number): number {
  let t = body;
  if (jitter > 0) {
    // Box–Muller, one of the pair (1 − u keeps the logarithm finite).
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    let z = r * Math.cos(TWO_PI * rng.next());
    if (z > BODY_CLAMP) z = BODY_CLAMP;
    else if (z < -BODY_CLAMP) z = -BODY_CLAMP;
    t += jitter * z;
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
