/**
 * The batch model of `coalesce N or T` (notification coalescing; a model, docs/estimator.md §2.6).
 */
import type { Arrival } from "../model/ir";
import { fmt } from "./exitRules";

// ---------------------------------------------------------------------------------------------
// Coalescing (`coalesce N or T`)

/** The batch model of one `coalesce` site (docs/estimator.md §2.6). */
export interface CoalesceModel {
  /** How the site's executions were taken to arrive. */
  arrivals: "poisson" | "periodic" | "unknown";
  /** Executions of the site per second per vCPU (0 when unknown). */
  ratePerSec: number;
  /** Expected executions per batch, E[B] (1 ≤ E[B] ≤ N). */
  batchSize: number;
  /** Flushes (runs of the body) per execution: 1 / E[B]. */
  flushProbability: number;
  /** Share of batches that close at the timeout rather than at N executions. */
  timeoutShare: number;
}

/**
 * The expected batch of a `coalesce N or T` site. A batch opens at an execution and closes at
 * the N-th or at T after the first, whichever comes first; the body runs once per batch, so
 * flushes per execution = 1/E[B] (renewal-reward).
 *
 * - Poisson executions at rate r (the source's rate × the site's executions per source
 *   execution — exact for branch arms, which thin a Poisson stream; the mean for `repeat`):
 *   K ~ Poisson(rT) executions follow the first inside the window, B = min(N, 1 + K), so
 *   E[B] = Σ_{k=0}^{N−1} P(K ≥ k) and the timeout closes a batch with P(K ≤ N − 2).
 * - Periodic executions (`every`, `timer periodic`) spaced d = period / executions:
 *   B = min(N, ⌈T/d⌉) (an execution exactly at the deadline comes after it), deterministic.
 * - Unknown (a tickless timer, whose rate the idle model solves later, or no arrival given):
 *   taken as λ → 0, E[B] = 1: every execution flushes, at its timeout — an upper bound.
 */
export function coalesceModel(
  count: number,
  timeoutSec: number,
  arrival: Arrival | undefined,
  executions = 1,
): CoalesceModel {
  const n = Math.max(1, Math.floor(count));
  if (arrival === undefined || arrival.kind === "tickless" || !(executions > 0)) {
    // With no arrival given, decideExit on its own: the count limit only.
    const batch = arrival === undefined ? n : 1;
    return {
      arrivals: "unknown",
      ratePerSec: 0,
      batchSize: batch,
      flushProbability: 1 / batch,
      timeoutShare: arrival === undefined || n === 1 ? 0 : 1,
    };
  }
  if (arrival.kind === "periodic") {
    const period = arrival.periodSec / executions;
    const ratio = timeoutSec / period;
    // Executions at 0, d, 2d, … join while k·d < T: ⌈T/d⌉ of them (float noise at integers).
    const near = Math.round(ratio);
    const members = Math.abs(ratio - near) <= 1e-9 * Math.max(1, ratio) ? near : Math.ceil(ratio);
    const batch = Math.min(n, Math.max(1, members));
    return {
      arrivals: "periodic",
      ratePerSec: 1 / period,
      batchSize: batch,
      flushProbability: 1 / batch,
      timeoutShare: batch < n ? 1 : 0,
    };
  }
  const rate = Math.max(0, arrival.ratePerSec) * executions;
  const mean = rate * timeoutSec; // E[K]
  const { batchSize, atLeastLast } = poissonBatch(n, mean);
  return {
    arrivals: "poisson",
    ratePerSec: rate,
    batchSize,
    flushProbability: 1 / batchSize,
    timeoutShare: n === 1 ? 0 : Math.min(1, Math.max(0, 1 - atLeastLast)),
  };
}

/**
 * E[min(N, 1 + K)] = Σ_{k=0}^{N−1} P(K ≥ k) for K ~ Poisson(mean), and P(K ≥ N − 1). The pmf
 * is stepped in log space (e^−mean underflows past mean ≈ 745); the sum stops once the tail is
 * below 1e-16 past the mean, and is N at once when N − 1 is far below the mean.
 */
export function poissonBatch(n: number, mean: number): { batchSize: number; atLeastLast: number } {
  if (n === 1) return { batchSize: 1, atLeastLast: 1 };
  // P(K < N−1) < 1e-20 when N−1 is 10 standard deviations (and 20) below the mean.
  if (n - 1 < mean - 10 * Math.sqrt(mean) - 20) return { batchSize: n, atLeastLast: 1 };
  let sum = 0;
  let tail = 1; // P(K ≥ k)
  let logPmf = -mean; // log P(K = k)
  const logMean = Math.log(mean);
  for (let k = 0; k < n; k++) {
    if (k === n - 1) return { batchSize: sum + tail, atLeastLast: tail };
    sum += tail;
    tail -= Math.exp(logPmf);
    if (tail < 1e-16 && k > mean) return { batchSize: sum, atLeastLast: 0 };
    if (tail < 0) tail = 0;
    logPmf += logMean - Math.log(k + 1);
  }
  return { batchSize: sum, atLeastLast: tail };
}

export function describeCoalesce(count: number, timeoutSec: number, model: CoalesceModel): string {
  const window = formatSecondsShort(timeoutSec);
  const closes = `A batch closes at ${count} executions or ${window} after its first, whichever comes first`;
  const timeout = `${(model.timeoutShare * 100).toFixed(1)}% of batches close at the timeout (their flush runs then, as guest work of its own)`;
  switch (model.arrivals) {
    case "poisson":
      return `${closes}. Poisson executions at ${fmt(model.ratePerSec)}/s per vCPU: λT = ${fmt(model.ratePerSec * timeoutSec)}, E[batch] = E[min(${count}, 1 + Poisson(λT))] = ${fmt(model.batchSize)}; ${timeout}.`;
    case "periodic":
      return `${closes}. Periodic executions every ${formatSecondsShort(1 / model.ratePerSec)}: batch = min(${count}, ⌈T/period⌉) = ${fmt(model.batchSize)}; ${timeout}.`;
    case "unknown":
      return model.batchSize === 1
        ? `${closes}. The execution rate is not known before the idle model (tickless timer): every execution is taken to flush at its timeout (an upper bound).`
        : `${closes}. No execution rate given: one flush per ${count} executions (the count limit).`;
  }
}

export function formatSecondsShort(seconds: number): string {
  if (seconds >= 1) return `${fmt(seconds)} s`;
  if (seconds >= 1e-3) return `${fmt(seconds * 1e3)} ms`;
  if (seconds >= 1e-6) return `${fmt(seconds * 1e6)} µs`;
  return `${fmt(seconds * 1e9)} ns`;
}
