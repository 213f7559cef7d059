// ---------------------------------------------------------------------------------------------
// Compound operations

/**
 * Transactional attempts before the fallback path: glibc's lock elision default
 * (`glibc.elision.retry_try_xbegin` = 3, sysdeps/unix/sysv/linux/x86/elision-conf.c). A model
 * parameter, not a hardware fact.
 */
export const TSX_ATTEMPTS = 3;

export interface TsxModel {
  /** Probability that one transactional attempt aborts at an exit of its body (given no asynchronous abort first). */
  abortProbability: number;
  /** Probability that an asynchronous event (an interrupt arriving in guest mode) aborts an attempt first. */
  asyncAbortProbability: number;
  /** Expected transactional attempts per execution. */
  attempts: number;
  /** Expected attempts per execution that reach the body's exit and abort there (memory exits are taken). */
  abortedAttempts: number;
  /** Probability the fallback (non-transactional) path runs. */
  fallbackProbability: number;
  /** Multiplier on the body's (unconditional) exits for the fallback path: its probability. */
  fallbackExitFactor: number;
  /** Expected passes of the body's computation per execution (an asynchronously aborted attempt counts the part it ran). */
  computeFactor: number;
}

/**
 * Expected-value model of a transactional region with A = TSX_ATTEMPTS attempts before the
 * fallback. An attempt aborts asynchronously with probability a = 1 − e^(−λW), λ the rate of
 * interrupts arriving in guest mode (per cycle) and W the body's guest cycles (the window the
 * transaction is open: taken as the whole body's computation, exact when its exits come at its
 * end); otherwise it reaches an exit of its body with probability q (memory-access exits are
 * taken, then abort; exiting instructions abort without the exit). Each attempt draws afresh
 * (as the simulator re-runs the region), so an attempt aborts with r = a + (1−a)·q; attempt k
 * (1..A) runs with probability r^(k−1); the fallback runs with probability r^A and carries the
 * body's exits unconditioned. An asynchronously aborted attempt ran E[X | X < W] of the body,
 * so each attempt costs E[min(X, W)] = (1 − e^(−λW))/λ guest cycles.
 * SDM Vol. 1 §16.3.8 (RTM abort processing: asynchronous events such as interrupts abort the
 * transaction); attempts: glibc `retry_try_xbegin`.
 */
export function tsxModel(q: number, asyncPerCycle = 0, window = 0): TsxModel {
  const lw = Math.max(0, asyncPerCycle) * Math.max(0, window);
  const a = lw > 0 ? -Math.expm1(-lw) : 0;
  const r = a + (1 - a) * q;
  let attempts = 0;
  let pk = 1;
  for (let k = 1; k <= TSX_ATTEMPTS; k++) {
    attempts += pk;
    pk *= r;
  }
  // Guest cycles of one attempt, as a share of the body's W.
  const attemptShare = lw > 0 ? a / lw : 1;
  return {
    abortProbability: q,
    asyncAbortProbability: a,
    attempts,
    abortedAttempts: attempts * (1 - a) * q,
    fallbackProbability: pk,
    fallbackExitFactor: pk,
    computeFactor: attempts * attemptShare + pk,
  };
}
