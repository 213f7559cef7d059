/**
 * Straight-line plans: the jobs the engine can run in one step (straight.ts), found in the
 * compiled bytecode.
 */

import { transitionMax } from "../analysis/transitionCost";
import { OP_COMPUTE, OP_END, OP_EXIT } from "./bytecode";
import type { ExitPlan, SourcePlan } from "./plan";

/**
 * Path sources whose job is a straight line of computes and whole exits with effect-free
 * handlers (no branch, repeat, TSX, PAUSE loop, PML fraction; no halt, kick or inject): the
 * engine runs such a job in one step when it finds the vCPU idle and no other event of that
 * vCPU can come before the job's longest possible end. Segment i is `compute[i]` guest cycles,
 * then exit plan `exit[i]` (`exit[i]` = −1: compute only, the job's tail).
 */
export interface StraightPlans {
  /** First segment of each source's job, −1 when the source has no straight-line plan. */
  start: Int32Array;
  /** Segment count of each source's job. */
  length: Int32Array;
  /** Upper bound of each job's duration (every handler at its longest arm). */
  maxCycles: Float64Array;
  compute: Float64Array;
  exit: Int32Array;
  /** Timeline source of each segment's exit. */
  source: Int32Array;
}

/** A straight-line job longer than this many segments runs through the interpreter. */
const MAX_STRAIGHT_SEGMENTS = 64;

export function straightPlans(
  sources: SourcePlan[],
  exits: ExitPlan[],
  op: number[],
  a: number[],
  f: number[],
  opSource: number[],
): StraightPlans {
  const start = new Int32Array(sources.length).fill(-1);
  const length = new Int32Array(sources.length);
  const maxCycles = new Float64Array(sources.length);
  const compute: number[] = [];
  const exit: number[] = [];
  const source: number[] = [];
  sources.forEach((src, s) => {
    // A flush source has no arrival process: the run loop's straightArrival draws the next
    // arrival of the source it runs, so these go through onArrival.
    if (src.isInterrupt || src.coalesceSite >= 0) return;
    const segCompute: number[] = [];
    const segExit: number[] = [];
    const segSource: number[] = [];
    let acc = 0;
    let longest = 0;
    for (let pc = src.start; ; pc++) {
      const kind = op[pc];
      if (kind === OP_COMPUTE) {
        acc += f[pc];
        continue;
      }
      if (kind === OP_END) {
        segCompute.push(acc);
        segExit.push(-1);
        segSource.push(-1);
        longest += acc;
        break;
      }
      const plan = exits[a[pc]];
      const count = f[pc];
      if (kind !== OP_EXIT || plan.hasEffects || !Number.isInteger(count) || count > MAX_STRAIGHT_SEGMENTS)
        return;
      let armMax = 0;
      for (let k = 0; k < plan.handler.length; k++)
        armMax = Math.max(armMax, plan.handler[k] + plan.userspace[k]);
      for (let i = 0; i < count; i++) {
        segCompute.push(i === 0 ? acc : 0);
        segExit.push(a[pc]);
        segSource.push(opSource[pc]);
        longest += (i === 0 ? acc : 0) + transitionMax(plan.transition, plan.jitter, plan.tailMean) + armMax;
      }
      acc = 0;
      if (segExit.length > MAX_STRAIGHT_SEGMENTS) return;
    }
    start[s] = compute.length;
    length[s] = segExit.length;
    maxCycles[s] = longest;
    compute.push(...segCompute);
    exit.push(...segExit);
    source.push(...segSource);
  });
  return {
    start,
    length,
    maxCycles,
    compute: Float64Array.from(compute),
    exit: Int32Array.from(exit),
    source: Int32Array.from(source),
  };
}
