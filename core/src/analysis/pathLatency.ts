/**
 * Per-path latency added by exits (issue 12, "per-path figures"): the distribution of the exit
 * cycles one execution of a source takes — its operations' exits, each drawn from its handler's
 * branch arms and the transition-cost distribution the simulator samples — and, for a
 * `coalesce` site, the wait of an execution until its batch is flushed. docs/estimator.md §4.3.
 */
import type { Arrival, GuestOp, Program, VmcsIR } from "../model/ir";
import { type CoalesceModel, coalesceModel } from "./coalesceModel";
import {
  atom,
  convolve,
  type Dist,
  expectedCount,
  fromAtoms,
  mean,
  mixture,
  power,
  quantile,
  ZERO,
} from "./dist";
import { mtfOn } from "./exitMtf";
import type { ExitContext } from "./exits";
import { walkOne } from "./exitWalk";
import { BODY_CLAMP, exitCost, TAIL_CAP } from "./transitionCost";
import type { CoalesceWaitEstimate, PathLatencySummary } from "./types";

export interface PathLatency {
  /** Exit cycles of one execution (its own operations' exits), as a distribution. */
  dist: Dist;
  coalesce: CoalesceWaitEstimate[];
}

/** Per guest: one exit-duration distribution per reason (the same for every path of the guest). */
export class ExitDurations {
  readonly #byCode = new Map<number, Dist>();
  constructor(
    private readonly program: Program,
    private readonly vmcs: VmcsIR | undefined,
    private readonly migrating: boolean,
  ) {}

  of(code: number): Dist {
    let d = this.#byCode.get(code);
    if (d === undefined) {
      d = exitDuration(this.program, this.vmcs, code, this.migrating);
      this.#byCode.set(code, d);
    }
    return d;
  }
}

/** Normal body atoms: z = k/4 for |z| ≤ 4 (the simulator clamps at BODY_CLAMP = 6σ). */
const NORMAL_Z: number[] = [];
const NORMAL_W: number[] = [];
{
  let total = 0;
  for (let k = -16; k <= 16; k++) {
    const z = k / 4;
    const w = Math.exp(-(z * z) / 2);
    NORMAL_Z.push(Math.max(-BODY_CLAMP, Math.min(BODY_CLAMP, z)));
    NORMAL_W.push(w);
    total += w;
  }
  for (let i = 0; i < NORMAL_W.length; i++) NORMAL_W[i]! /= total;
}
/** Atoms of the exponential tail (at quantile midpoints; rescaled to the capped mean). */
const TAIL_ATOMS = 64;

/**
 * One exit's duration: transition (normal body, σ = `transition_jitter`, plus with the tail
 * share an exponential tail of mean `transition_tail[_migrating]` capped at TAIL_CAP means —
 * sim/transitionSample.ts) plus the handler, whose top-level branch arms are its outcomes
 * (deeper branches at their means), shifted so its mean is exitCost's handler + user space.
 */
export function exitDuration(
  program: Program,
  vmcs: VmcsIR | undefined,
  code: number,
  migrating: boolean,
): Dist {
  const cost = exitCost(program, vmcs, code, migrating);
  const t = cost.transitionDetail;
  const bodyValues = NORMAL_Z.map((z) => Math.max(0, t.body + t.jitter * z));
  let transition = t.jitter > 0 ? fromAtoms(bodyValues, NORMAL_W) : atom(t.body);
  if (t.tailMean > 0 && t.tailShare > 0) {
    const cap = TAIL_CAP * t.tailMean;
    const values: number[] = [];
    let m = 0;
    for (let i = 0; i < TAIL_ATOMS; i++) {
      const u = (i + 0.5) / TAIL_ATOMS;
      const x = Math.min(cap, -t.tailMean * Math.log(1 - u));
      values.push(x);
      m += x / TAIL_ATOMS;
    }
    const target = t.tailMean * (1 - Math.exp(-TAIL_CAP));
    const k = m > 0 ? target / m : 1;
    const tail = fromAtoms(
      values.map((x) => Math.min(cap, x * k)),
      values.map(() => 1 / TAIL_ATOMS),
    );
    transition = convolve(transition, mixture([tail], [t.tailShare]));
  }
  const handlerMean = cost.handler + cost.userspace;
  let handler = atom(handlerMean);
  if (cost.handled) {
    let fixed = 0;
    let parts = ZERO;
    for (const op of cost.ops) {
      if (op.op === "branch" && op.arms && op.arms.length > 0) {
        const arms = op.arms.map((a) => atom(a.cycles));
        parts = convolve(
          parts,
          mixture(
            arms,
            op.arms.map((a) => a.probability),
          ),
        );
      } else fixed += op.cycles;
    }
    const shift = handlerMean - (fixed + mean(parts));
    handler = convolve(parts, atom(Math.max(0, fixed + shift)));
  }
  return convolve(transition, handler);
}

/**
 * The exit cycles of one execution of `ops` (a source's operations run in `ctx`, executions
 * arriving as `arrival`): every leaf's exits, branch arms as mixtures, repeats as sums of
 * independent copies, a `tsx` region with its expected exits (aborted attempts included), and
 * a `coalesce` body only for the execution that fills its batch (a timeout flush runs apart,
 * after the executions, and adds to their wait instead).
 */
export function pathLatency(
  ops: readonly GuestOp[],
  ctx: ExitContext,
  arrival: Arrival | undefined,
  durations: ExitDurations,
  hz: number,
): PathLatency {
  const coalesce: CoalesceWaitEstimate[] = [];
  const dist = walk(ops, ctx, arrival, 1, durations, coalesce, hz);
  return { dist, coalesce };
}

function walk(
  ops: readonly GuestOp[],
  ctx: ExitContext,
  arrival: Arrival | undefined,
  executions: number,
  durations: ExitDurations,
  coalesce: CoalesceWaitEstimate[],
  hz: number,
): Dist {
  // Whole exit counts of the leaves are summed per reason first: n copies of one exit's
  // duration cost log₂ n convolutions (power), not n.
  let d = ZERO;
  const counts = new Map<number, number>();
  for (const op of ops) {
    if (op.op === "repeat" || op.op === "branch" || op.op === "coalesce" || op.op === "tsx") {
      d = convolve(d, walkOp(op, ctx, arrival, executions, durations, coalesce, hz));
      continue;
    }
    if (op.op === "compute" && !mtfOn(ctx)) continue;
    const decision = walkOne(op, ctx, undefined, executions, arrival).decision;
    for (const e of decision.exits) {
      const whole = Math.floor(e.perExecution);
      if (whole > 0) counts.set(e.reason.code, (counts.get(e.reason.code) ?? 0) + whole);
      const frac = e.perExecution - whole;
      if (frac > 1e-12) d = convolve(d, expectedCount(durations.of(e.reason.code), frac));
    }
  }
  for (const [code, n] of counts) d = convolve(d, power(durations.of(code), n));
  return d;
}

function walkOp(
  op: GuestOp,
  ctx: ExitContext,
  arrival: Arrival | undefined,
  executions: number,
  durations: ExitDurations,
  coalesce: CoalesceWaitEstimate[],
  hz: number,
): Dist {
  switch (op.op) {
    case "repeat":
      return power(walk(op.ops, ctx, arrival, executions * op.count, durations, coalesce, hz), op.count);
    case "branch": {
      const parts = op.arms.map((arm) =>
        walk(arm.ops, ctx, arrival, executions * arm.probability, durations, coalesce, hz),
      );
      return mixture(
        parts,
        op.arms.map((arm) => arm.probability),
      );
    }
    case "coalesce": {
      const model = coalesceModel(op.count, op.timeoutSec, arrival, executions);
      coalesce.push(coalesceWait(op.count, op.timeoutSec, model, arrival));
      const fills = (1 - model.timeoutShare) / model.batchSize;
      const body = walk(op.ops, ctx, arrival, executions * model.flushProbability, durations, [], hz);
      return mixture([body], [fills]);
    }
    default: {
      // Leaves and `tsx` (its expected exits, aborted attempts included: tsxModel).
      const decision = walkOne(op, ctx, undefined, executions, arrival).decision;
      let d = ZERO;
      for (const e of decision.exits)
        d = convolve(d, expectedCount(durations.of(e.reason.code), e.perExecution));
      return d;
    }
  }
}

/** The distribution summarised in seconds. */
export function summarize(d: Dist, hz: number): PathLatencySummary {
  return { mean: mean(d) / hz, p50: quantile(d, 0.5) / hz, p99: quantile(d, 0.99) / hz };
}

/**
 * The wait of an execution at a `coalesce N or T` site until its batch flushes (docs/estimator.md
 * §4.3). Poisson executions at rate λ: a batch opens at time 0 with its first execution; member
 * j (j = 0 … N−1; S_j its arrival, S_0 = 0) exists iff S_j < T and waits min(G, T − S_j), G the
 * time to the N−1−j further executions (Gamma(N−1−j, λ), memoryless), so by renewal–reward
 *   P(W > w) = (1/E[B]) Σ_j P(Poisson(λ(T−w)) ≥ j) · P(Poisson(λw) ≤ N−2−j),  0 ≤ w < T.
 * Periodic executions d apart: B members wait (B−1−j)·d (filled) or T − j·d (timeout).
 * Unknown arrivals (a tickless timer): every execution waits T.
 */
export function coalesceWait(
  count: number,
  timeoutSec: number,
  model: CoalesceModel,
  arrival: Arrival | undefined,
): CoalesceWaitEstimate {
  const n = Math.max(1, Math.floor(count));
  const T = Math.max(0, timeoutSec);
  const base = {
    count: n,
    timeoutSec: T,
    batchSize: model.batchSize,
    flushesPerExecution: model.flushProbability,
    timeoutShare: model.timeoutShare,
  };
  if (model.arrivals === "unknown") {
    const w = arrival === undefined ? 0 : T;
    return { ...base, wait: { mean: w, p50: w, p99: w, max: w } };
  }
  if (model.arrivals === "periodic") {
    const d = 1 / model.ratePerSec;
    const b = Math.round(model.batchSize);
    const waits: number[] = [];
    for (let j = 0; j < b; j++) waits.push(model.timeoutShare > 0 ? Math.max(0, T - j * d) : (b - 1 - j) * d);
    const dist = fromAtoms(
      waits,
      waits.map(() => 1 / b),
    );
    return {
      ...base,
      wait: {
        mean: mean(dist),
        p50: quantile(dist, 0.5),
        p99: quantile(dist, 0.99),
        max: Math.max(...waits),
      },
    };
  }
  const lambda = model.ratePerSec;
  if (n === 1 || !(lambda > 0) || T === 0) return { ...base, wait: { mean: 0, p50: 0, p99: 0, max: 0 } };
  const eb = model.batchSize;
  const survival = (w: number): number => {
    if (w >= T) return 0;
    const atLeast = poissonAtLeast(lambda * (T - w), n); // P(K ≥ j), j = 0 … n−1
    const atMost = poissonAtMost(lambda * w, n); // P(K ≤ k), k = 0 … n−1
    let s = 0;
    for (let j = 0; j <= n - 2; j++) s += atLeast[j]! * atMost[n - 2 - j]!;
    return Math.min(1, s / eb);
  };
  // Mean: ∫₀ᵀ P(W > w) dw (Simpson on 256 intervals; the integrand is smooth below T).
  const steps = 256;
  const h = T / steps;
  let integral = survival(0) + survival(T * (1 - 1e-12));
  for (let i = 1; i < steps; i++) integral += (i % 2 === 1 ? 4 : 2) * survival(i * h);
  const meanWait = (integral * h) / 3;
  const q = (p: number): number => {
    // The smallest w with P(W > w) ≤ 1 − p (bisection; P(W > w) falls from P(W > 0) to the atom at T).
    if (survival(0) <= 1 - p) return 0;
    if (survival(T * (1 - 1e-9)) > 1 - p) return T;
    let lo = 0;
    let hi = T;
    for (let i = 0; i < 50; i++) {
      const mid = (lo + hi) / 2;
      if (survival(mid) > 1 - p) lo = mid;
      else hi = mid;
    }
    return hi;
  };
  const max = model.timeoutShare > 0 ? T : Math.min(T, q(1 - 1e-9));
  return { ...base, wait: { mean: meanWait, p50: q(0.5), p99: q(0.99), max } };
}

/** P(K = k), k = 0 … n−1, K ~ Poisson(m), stepped in log space (m in the thousands does not underflow). */
function poissonPmf(m: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (m <= 0) {
    out[0] = 1;
    return out;
  }
  const logM = Math.log(m);
  let logP = -m;
  for (let k = 0; k < n; k++) {
    if (k > 0) logP += logM - Math.log(k);
    out[k] = Math.exp(logP);
  }
  return out;
}

function poissonAtMost(m: number, n: number): Float64Array {
  const pmf = poissonPmf(m, n);
  for (let k = 1; k < n; k++) pmf[k]! += pmf[k - 1]!;
  for (let k = 0; k < n; k++) pmf[k] = Math.min(1, pmf[k]!);
  return pmf;
}

function poissonAtLeast(m: number, n: number): Float64Array {
  const pmf = poissonPmf(m, n);
  const out = new Float64Array(n);
  let below = 0;
  for (let j = 0; j < n; j++) {
    out[j] = Math.max(0, 1 - below);
    below += pmf[j]!;
  }
  return out;
}
