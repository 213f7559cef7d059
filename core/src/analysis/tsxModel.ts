// ---------------------------------------------------------------------------------------------
// Compound operations

/**
 * Transactional attempts before the fallback path: glibc's lock elision default
 * (`glibc.elision.retry_try_xbegin` = 3, sysdeps/unix/sysv/linux/x86/elision-conf.c). A model
 * parameter, not a hardware fact.
 */
export const TSX_ATTEMPTS = 3;

export interface TsxModel {
  /** Probability that one transactional attempt aborts (the body would exit). */
  abortProbability: number;
  /** Expected transactional attempts per execution (each runs the body's computation). */
  attempts: number;
  /** Expected aborted attempts per execution. */
  abortedAttempts: number;
  /** Probability the fallback (non-transactional) path runs. */
  fallbackProbability: number;
  /** Multiplier on the body's (unconditional) exits for the fallback path: q^(A−1). */
  fallbackExitFactor: number;
}

/**
 * Expected-value model of a transactional region whose body exits with probability q per
 * attempt, with A = TSX_ATTEMPTS attempts before the fallback:
 * attempt k (1..A) runs with probability q^(k−1) and aborts with probability q; the fallback
 * runs with probability q^A and, being conditioned on an exit, carries E/q exits — so
 * q^(A−1)·E in expectation.
 */
export function tsxModel(q: number): TsxModel {
  let attempts = 0;
  let aborted = 0;
  let pk = 1;
  for (let k = 1; k <= TSX_ATTEMPTS; k++) {
    attempts += pk;
    aborted += pk * q;
    pk *= q;
  }
  return {
    abortProbability: q,
    attempts,
    abortedAttempts: aborted,
    fallbackProbability: pk,
    fallbackExitFactor: q > 0 ? q ** (TSX_ATTEMPTS - 1) : 0,
  };
}
