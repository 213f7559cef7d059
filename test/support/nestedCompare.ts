/**
 * Simulator against estimator for an L2 guest (issue #13): every per-level figure within 3 %
 * (or three Poisson standard deviations of a rare exit's rate), the shared check of
 * test/sim-nested.test.ts and test/sim-nested-idle.test.ts.
 */
import assert from "node:assert/strict";
import { analyze, nestedEstimate, simulate } from "../../core/src/index";

/** 3 %, or three Poisson standard deviations of a rate seen `count` times (a rare exit's noise). */
export const tolerance = (count: number) => Math.max(0.03, 3 / Math.sqrt(Math.max(1, count)));

export const within = (sim: number, est: number, tol: number, what: string) => {
  const rel = est === 0 ? Math.abs(sim) : Math.abs(sim / est - 1);
  assert.ok(rel <= tol, `${what}: simulated ${sim}, estimated ${est} (${(rel * 100).toFixed(2)} % apart)`);
};

/**
 * Every per-level figure within 3 % (or the Poisson noise of a rare exit): L2 exits, L1→L0
 * exits, exits into L0, host CPU by level, per reason and level; with an `idle halt` L2 that
 * blocks, its wake-ups and L0's halt-poll success; with interrupts L1 sends, its notification
 * exits. Interrupts for L1
 * that arrive while the vCPU is in L0 or L1 take no physical exit, only the nested exit at the
 * next nested entry, in both the simulator and the estimator (vmx_check_nested_events).
 */
export function compareNested(text: string, guest: string, durationSec: number, seed = 1): void {
  const a = analyze(text);
  const errors = a.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, []);
  const e = nestedEstimate(a.program, guest);
  assert.ok(e, "an L2 guest");
  const r = simulate(a.program, guest, { durationSec, seed });
  const n = r.nested;
  assert.ok(n, "the simulation has a nested result");
  assert.equal(n.hypervisor, e.hypervisor);
  assert.equal(n.shadowing, e.shadowing);
  for (const k of [
    "l2ExitsPerSecond",
    "reflectedPerSecond",
    "l0HandledPerSecond",
    "l1ExitsPerSecond",
    "l0ExitsPerSecond",
  ] as const) {
    within(n[k], e[k], tolerance(e[k] * durationSec), k);
  }
  for (const k of ["l2", "l1", "l0", "total"] as const)
    within(n.hostCpu[k], e.hostCpu[k], 0.03, `hostCpu.${k}`);
  within(n.overhead, e.overhead, 0.03, "overhead");
  const wakeUps = e.idle && e.idle.mode !== "none" ? e.idle.wakeUpsPerSecond : 0;
  within(n.wakeUpsPerSecond, wakeUps, tolerance(wakeUps * durationSec), "idle wake-ups");
  const wakeExits = wakeUps * (e.idle?.l0ExitsPerWake ?? 0);
  within(n.wakeExitsPerSecond, wakeExits, tolerance(wakeExits * durationSec), "wake-up exits");
  // L0's halt polling where L0 blocks the vCPU: the share of blocks a poll catches.
  const c = r.counters;
  const blocks = c.haltPollSuccesses + c.haltWakeups;
  const polled = blocks > 0 ? c.haltPollSuccesses / blocks : 0;
  const pollEst = e.idle?.haltPollSuccess ?? 0;
  assert.ok(
    Math.abs(polled - pollEst) <= 0.03,
    `halt-poll success: simulated ${polled}, estimated ${pollEst}`,
  );
  // Nested exits L0 synthesizes at an entry (an interrupt for L1 that found the vCPU in root
  // mode): no L2 exit, so not in l2ExitsPerSecond.
  within(
    n.synthesizedPerSecond,
    e.synthesizedPerSecond,
    tolerance(e.synthesizedPerSecond * durationSec),
    "synthesized nested exits",
  );
  const notify = e.l1Notify?.exitsPerSecond ?? 0;
  within(n.notifyExitsPerSecond, notify, tolerance(notify * durationSec), "L1 notification exits");
  for (const b of e.byReason) {
    const s: (typeof n.byReason)[number] | undefined = n.byReason.find(
      (x) => x.code === b.code && x.level === b.level,
    );
    assert.ok(s, `${b.reason} at ${b.level} simulated`);
    within(
      s.exitsPerSecond,
      b.exitsPerSecond,
      tolerance(b.exitsPerSecond * durationSec),
      `${b.reason} ${b.level} exits/s`,
    );
    within(s.l1CyclesPerExit, b.l1CyclesPerExit, 0.03, `${b.reason} ${b.level} L1 cycles`);
    // Per exit, a kept exit's transition is drawn (its tail is rare and long): noise as a rate's.
    within(
      s.l0CyclesPerExit,
      b.l0CyclesPerExit,
      tolerance(s.exitsPerSecond * durationSec),
      `${b.reason} ${b.level} L0 cycles`,
    );
    // Exact for a reason one handler takes; a reason whose exits run several (handlers by
    // operand) has their mean, weighted by the run's counts and by the estimate's rates. The
    // EXTERNAL_INTERRUPT row into L1 mixes delivered exits (their L2 exit among the exits into
    // L0) and synthesized ones (one fewer): the share's binomial noise, three standard
    // deviations (at most 1.5 / √n exits per exit), is added.
    const n2 = Math.max(1, s.exitsPerSecond * durationSec);
    const split =
      b.code === 1 && b.level === "L1" && e.synthesizedPerSecond > 0
        ? 1.5 / Math.sqrt(n2) / Math.max(1, b.l0TransitionsPerExit)
        : 0;
    within(
      s.l0TransitionsPerExit,
      b.l0TransitionsPerExit,
      tolerance(s.exitsPerSecond * durationSec) / 10 + split,
      `${b.reason} ${b.level} exits into L0 per exit`,
    );
  }
  // No reason the estimator lacks.
  for (const s of n.byReason)
    assert.ok(
      e.byReason.some((b) => b.code === s.code && b.level === s.level),
      `${s.reason} at ${s.level} simulated, not estimated`,
    );
}
