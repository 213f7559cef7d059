/**
 * The bytecode interpreter: runs a context's ops from its pc until its next pending action —
 * an exit (synchronous, or the PLE window reached in a PAUSE loop), a point that must run at its
 * own time (a coalesce site, a transaction's commit), a yield after STEP_CHUNK loop iterations,
 * or the job's end — and leaves the guest compute before it in computeLeft. TSX aborts of
 * exits inside a transaction are decided here (abortTsx).
 */
import {
  OP_BRANCH as IMPORTED_OP_BRANCH,
  OP_COALESCE as IMPORTED_OP_COALESCE,
  OP_COMPUTE as IMPORTED_OP_COMPUTE,
  OP_EXIT as IMPORTED_OP_EXIT,
  OP_FRACTIONAL_EXIT as IMPORTED_OP_FRACTIONAL_EXIT,
  OP_JUMP as IMPORTED_OP_JUMP,
  OP_PAUSE_LOOP as IMPORTED_OP_PAUSE_LOOP,
  OP_REPEAT as IMPORTED_OP_REPEAT,
  OP_REPEAT_END as IMPORTED_OP_REPEAT_END,
  OP_TSX as IMPORTED_OP_TSX,
  OP_TSX_END as IMPORTED_OP_TSX_END,
} from "./bytecode";
import * as S from "./engineConstants";
import type { EngineState } from "./state";

// Module-local copies (see state.ts).
const { MODE_DESCHEDULED, ACTION_EXIT, ACTION_END, ACTION_RESUME, ACTION_YIELD, STEP_CHUNK, TSX_RETRIES } = S;
const OP_BRANCH = IMPORTED_OP_BRANCH;
const OP_COALESCE = IMPORTED_OP_COALESCE;
const OP_COMPUTE = IMPORTED_OP_COMPUTE;
const OP_EXIT = IMPORTED_OP_EXIT;
const OP_FRACTIONAL_EXIT = IMPORTED_OP_FRACTIONAL_EXIT;
const OP_JUMP = IMPORTED_OP_JUMP;
const OP_PAUSE_LOOP = IMPORTED_OP_PAUSE_LOOP;
const OP_REPEAT = IMPORTED_OP_REPEAT;
const OP_REPEAT_END = IMPORTED_OP_REPEAT_END;
const OP_TSX = IMPORTED_OP_TSX;
const OP_TSX_END = IMPORTED_OP_TSX_END;

/** Interprets the context's ops from its pc until an exit or the end; sets computeLeft. */
export function interpret(e: EngineState, v: number, c: number, t: number): void {
  const p = e.p;
  const op = p.op;
  const a = p.a;
  const f = p.f;
  let pc = e.ctxPc[c];
  let acc = 0;
  let iterations = 0;
  for (;;) {
    switch (op[pc]) {
      case OP_COMPUTE:
        acc += f[pc];
        pc++;
        break;
      case OP_EXIT:
      case OP_FRACTIONAL_EXIT: {
        let n = f[pc];
        if (op[pc] === OP_FRACTIONAL_EXIT) {
          // PML-like exits per execution: a per-vCPU accumulator exits at each whole one.
          const idx = v * p.exits.length + a[pc];
          const x = e.fraction[idx] + n;
          n = Math.floor(x);
          e.fraction[idx] = x - n;
          if (!(n > 0)) {
            pc++;
            break;
          }
        }
        if (e.tsxPc[c] >= 0 && e.tsxFallback[c] === 0) {
          // Inside a transaction an exiting instruction aborts it without the exit; a
          // memory-access exit is taken, then aborts it (ExitPlan.memoryAccess).
          if (!p.exits[a[pc]].memoryAccess) {
            if (acc > 0) {
              // The abort happens when the instruction is reached, after the compute before
              // it: run that first (an interrupt landing in it aborts this attempt instead).
              e.action[c] = ACTION_RESUME;
              e.ctxPc[c] = pc;
              e.computeLeft[c] = acc;
              return;
            }
            pc = abortTsx(e, c);
            break;
          }
          e.abortAfter[c] = 1;
        }
        e.action[c] = ACTION_EXIT;
        e.actPlan[c] = a[pc];
        e.actCount[c] = n;
        e.actSource[c] = p.opSource[pc];
        e.ctxPc[c] = pc + 1;
        e.computeLeft[c] = acc;
        return;
      }
      case OP_BRANCH: {
        const cumulative = p.branchCumulative[a[pc]];
        const u = e.rng.next();
        let k = 0;
        while (cumulative[k] <= u) k++;
        pc = p.branchTargets[a[pc]][k];
        break;
      }
      case OP_JUMP:
        pc = a[pc];
        break;
      case OP_COALESCE: {
        if (acc > 0) {
          // Counted at its own time, not ahead of the compute before it: a timeout falling
          // inside that compute closes the batch first.
          e.action[c] = ACTION_RESUME;
          e.ctxPc[c] = pc;
          e.computeLeft[c] = acc;
          return;
        }
        // One more execution in the site's open batch on this vCPU, at t.
        const site = f[pc];
        const i = v * e.nSites + site;
        const pending = e.coalescePending[i] + 1;
        const flushAt = v * e.nS + e.coalesceFlush[site];
        e.coalesceJoin(i, site, pending, t);
        if (pending >= e.coalesceCount[site]) {
          // The N-th: the batch closes; its flush is the body, run inline; no timeout.
          e.coalescePending[i] = 0;
          e.arrivalTime[flushAt] = Number.POSITIVE_INFINITY;
          pc++;
        } else {
          // The first arms the timeout (the flush source's next arrival on this vCPU).
          if (pending === 1) e.arrivalTime[flushAt] = t + e.coalesceTimeout[site];
          e.coalescePending[i] = pending;
          pc = a[pc];
        }
        break;
      }
      case OP_REPEAT: {
        // plan.ts drops loops of no iteration and sizes repeatDepth to the deepest nesting.
        const d = e.repDepth[c];
        e.repCount[c * e.repeatDepth + d] = f[pc];
        e.repDepth[c] = d + 1;
        pc++;
        break;
      }
      case OP_REPEAT_END: {
        const i = c * e.repeatDepth + e.repDepth[c] - 1;
        if (--e.repCount[i] > 0) {
          pc = a[pc] + 1;
          e.steps++;
          if (++iterations >= STEP_CHUNK) {
            // Long loop without exits: go on as an event of its own (sliced, counted).
            e.action[c] = ACTION_YIELD;
            e.ctxPc[c] = pc;
            e.computeLeft[c] = acc;
            return;
          }
        } else {
          e.repDepth[c]--;
          pc++;
        }
        break;
      }
      case OP_TSX:
        if (e.tsxFallback[c] === 0) {
          e.tsxPc[c] = pc;
          e.tsxStart[c] = t + acc;
          e.tsxDepth[c] = e.repDepth[c];
        }
        pc++;
        break;
      case OP_TSX_END:
        if (e.tsxPc[c] >= 0 && acc > 0 && t + acc > e.tsxStart[c]) {
          // The region's compute is still ahead: the transaction stays open through it, so
          // an asynchronous exit landing there aborts it (stopGuest). Commit at its end.
          e.action[c] = ACTION_RESUME;
          e.ctxPc[c] = pc;
          e.computeLeft[c] = acc;
          return;
        }
        e.tsxPc[c] = -1;
        e.tsxFallback[c] = 0;
        e.tsxRetries[c] = 0;
        pc++;
        break;
      case OP_PAUSE_LOOP: {
        let spin = e.spinLeft[c];
        if (e.spinning[c] === 0) {
          e.spinning[c] = 1;
          spin = f[pc];
          e.spinBase[c] = spin;
          e.spinHolder[c] = -1;
          // The lock this loop waits for is taken to be held by the next vCPU: if the host
          // has descheduled it, the wait lasts until it runs again (lock-holder preemption).
          if (e.nV > 1) {
            const h = v + 1 === e.nV ? 0 : v + 1;
            if (e.mode[h] === MODE_DESCHEDULED) {
              const extra = e.descheduledUntil[h] - (t + acc);
              if (extra > 0) spin += extra;
              e.spinHolder[c] = h;
            }
          }
        }
        const plan = a[pc];
        const window = e.pleWindowNow[v];
        if (plan >= 0 && spin >= window) {
          // PLE: the loop exceeds PLE_Window TSC cycles → exit (SDM Vol. 3C §26.1.3).
          acc += window;
          e.stats.spinCycles += window;
          e.spinLeft[c] = spin - window;
          e.action[c] = ACTION_EXIT;
          e.actPlan[c] = plan;
          e.actCount[c] = 1;
          e.actSource[c] = p.opSource[pc];
          e.ctxPc[c] = pc;
          e.computeLeft[c] = acc;
          return;
        }
        acc += spin;
        e.stats.spinCycles += spin;
        e.spinLeft[c] = 0;
        e.spinning[c] = 0;
        e.spinHolder[c] = -1;
        pc++;
        break;
      }
      default: // OP_END
        e.action[c] = ACTION_END;
        e.ctxPc[c] = pc;
        e.computeLeft[c] = acc;
        return;
    }
  }
}

/**
 * An exit inside a transaction aborts it: the region runs again, transactionally up to
 * TSX_RETRIES attempts (glibc's retry_try_xbegin = 3, as the estimator), then without TSX.
 */
export function abortTsx(e: EngineState, c: number): number {
  e.stats.tsxAborts++;
  const pc = e.tsxPc[c];
  e.repDepth[c] = e.tsxDepth[c];
  e.tsxPc[c] = -1;
  if (++e.tsxRetries[c] >= TSX_RETRIES) e.tsxFallback[c] = 1;
  return pc;
}
