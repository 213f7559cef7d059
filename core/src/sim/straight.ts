/**
 * Straight-line jobs (plan.ts, StraightPlans) run in one step: a path whose job is computes and
 * whole exits with effect-free handlers, started when nothing can interleave, produces the same
 * intervals, exits and statistics as the interpreter and the queue would, without either.
 */

import * as S from "./engineConstants";
import type { EngineState } from "./state";
import { sampleTransition } from "./transitionSample";

const { VcpuState, MODE_GUEST } = S;

/**
 * Runs a straight-line job (plan.ts, StraightPlans) of path source `s` starting on vCPU `v`
 * at `t` in one step — guest intervals, exits and entries exactly as the interpreter and the
 * queue would produce them — when nothing can interleave: no other event of this vCPU before
 * the job's longest possible end, no interrupt waiting, no preemption timer, no host
 * preemption (the folding conditions, scheduleEntry). Returns the job's end, or −1 when it
 * cannot (the caller then interprets the job).
 */
export function tryStraight(e: EngineState, v: number, s: number, t: number): number {
  const end = t + e.straightMax[s];
  if (!e.straightAllowed || end >= e.endTime || e.irqLen[v] !== 0) return -1;
  const arrivals = e.arrivalTime;
  const blocks = e.blocksStraight;
  for (let i = v * e.nS, s2 = 0; s2 < e.nS; i++, s2++) if (arrivals[i] < end && blocks[s2] === 1) return -1;
  const segments = e.straightLength[s];
  if (e.idleInGuest[v] === 1) {
    e.closeGuest(v, t);
    e.idleInGuest[v] = 0;
  }
  e.idleExitTaken[v] = 0;
  e.tickDue[v] = 1;
  const compute = e.straightCompute;
  const exit = e.straightExit;
  let now = t;
  let exits = 0;
  let exitCycles = 0;
  for (let i = e.straightStart[s], last = i + segments; i < last; i++) {
    now += compute[i];
    const plan = exit[i];
    if (plan < 0) break; // the tail: its guest interval stays open, as after the interpreter
    e.closeGuest(v, now);
    // The exit, then its VM entry (one event, as scheduleEntry counts a folded entry).
    now += e.exitStatistics(v, now, plan, e.straightSource[i]);
    exits++;
    exitCycles += e.lastExitCycles;
    e.events++;
    e.guestSince[v] = now;
  }
  e.stats.executionDone(s, exits, exitCycles);
  return now;
}

/**
 * The common event, specialised: an arrival of a straight-line path source (run-ahead
 * allowed) on a vCPU idle in the guest or running ahead with nothing queued. Draws the next
 * arrival and runs the whole job — the same intervals, exits and statistics as onArrival →
 * tryStraight → goIdle — with flat per-plan arrays and no calls but the histogram and the
 * timeline. Returns false, having changed nothing, when a precondition fails (onArrival then
 * takes the event). The arrival's time is read from `arrivalTime` (the event is that arrival),
 * not passed: a double argument to a call that is not inlined is boxed, one allocation per
 * event on the simulator's commonest path (issue #14).
 */
export function straightArrival(e: EngineState, v: number, s: number): boolean {
  if (
    e.mode[v] !== MODE_GUEST ||
    e.ctxActive[2 * v] !== 0 ||
    e.ctxActive[2 * v + 1] !== 0 ||
    e.pathLen[v] !== 0 ||
    e.irqLen[v] !== 0 ||
    e.vcpuTime[v] !== Number.POSITIVE_INFINITY
  )
    return false;
  const nS = e.nS;
  const arrivals = e.arrivalTime;
  const base = v * nS;
  const t = arrivals[base + s];
  const since = e.guestSince[v];
  const start = Math.max(since, t);
  const end = start + e.straightMax[s];
  if (end >= e.endTime) return false;
  const blocks = e.blocksStraight;
  for (let i = 0; i < nS; i++) if (blocks[i] === 1 && arrivals[base + i] < end) return false;
  // The observers in locals: the loop below is the simulator's hottest.
  const stats = e.stats;
  const recorder = e.recorder;
  const first = e.straightStart[s];
  const segments = e.straightLength[s];

  const mean = e.sourceMean[s];
  arrivals[base + s] = t + (e.sourcePeriodic[s] === 1 ? mean : -Math.log(1 - e.rng.next()) * mean);
  stats.arrivals[s]++;
  // The guest interval open since `since` (idle, as goIdle leaves it) ends at the start.
  let guestStart = start;
  if (e.idleInGuest[v] === 0) guestStart = since;
  else if (start > since) {
    stats.idleGuestCycles += start - since;
    if (recorder.fullAt < 0) recorder.record(since, start - since, v, e.idleState, -1, -1);
  }
  e.idleExitTaken[v] = 0;
  e.tickDue[v] = 1;
  const compute = e.straightCompute;
  const exit = e.straightExit;
  const exitSource = e.straightSource;
  let now = start;
  let exits = 0;
  let exitCycles = 0;
  for (let i = first, last = first + segments; i < last; i++) {
    now += compute[i];
    if (now > guestStart) {
      stats.guestCycles += now - guestStart;
      // Records only while the timeline keeps them: the call (its double arguments boxed) is
      // skipped once it is full.
      if (recorder.fullAt < 0) recorder.record(guestStart, now - guestStart, v, VcpuState.Guest, -1, -1);
    }
    const plan = exit[i];
    if (plan < 0) break; // the tail
    // The exit and its VM entry (one event, as a folded entry).
    let k = e.planOutcomeStart[plan];
    const lastOutcome = k + e.planOutcomeCount[plan] - 1;
    if (k < lastOutcome) {
      const u = e.rng.next();
      while (k < lastOutcome && e.outcomeCumulative[k] < u) k++;
    }
    const transition = sampleTransition(
      e.transitionRng[v]!,
      e.planTransition[plan],
      e.planJitter[plan],
      e.planTailMean[plan],
    );
    const handler = e.outcomeHandler[k];
    const userspace = e.outcomeUserspace[k];
    const total = transition + handler + userspace;
    stats.exit(plan, transition, handler, userspace, 0);
    if (recorder.fullAt < 0) {
      const code = e.planCode[plan];
      const handlerSource = e.planHandlerSource[plan];
      recorder.record(now, transition, v, VcpuState.Exit, code, exitSource[i]);
      if (handler > 0) recorder.record(now + transition, handler, v, VcpuState.Handler, code, handlerSource);
      if (userspace > 0)
        recorder.record(now + transition + handler, userspace, v, VcpuState.Userspace, code, handlerSource);
    }
    now += total;
    exits++;
    exitCycles += total;
    guestStart = now;
    e.events++;
  }
  stats.executionDone(s, exits, exitCycles);
  // Idle in the guest from the job's end (goIdle with nothing to do).
  e.guestSince[v] = now;
  e.idleInGuest[v] = 1;
  return true;
}
