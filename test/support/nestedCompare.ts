/**
 * Simulator against estimator for an L2 guest (issue #13): every per-level figure within 3 %
 * (or three Poisson standard deviations of a rare exit's rate), the shared check of
 * test/sim-nested.test.ts and test/sim-nested-idle.test.ts.
 */
import assert from "node:assert/strict";
import { nestedSetup } from "../../core/src/analysis/nested/reflect";
import { analyze, nestedEstimate, simulate } from "../../core/src/index";
import type { Program } from "../../core/src/model/ir";
import { l1HaltPoll, l1Polls } from "../../core/src/model/statements/host";

/** 3 %, or three Poisson standard deviations of a rate seen `count` times (a rare exit's noise). */
export const tolerance = (count: number) => Math.max(0.03, 3 / Math.sqrt(Math.max(1, count)));

/** A share measured over `count` trials: 3 points, or three binomial standard deviations at p = ½. */
const shareTolerance = (count: number) => Math.max(0.03, 1.5 / Math.sqrt(Math.max(1, count)));

/**
 * The blocks each vCPU's L1 halt-poll window takes to grow from 0 (kvm_vcpu_init) to its ceiling
 * (grow_halt_poll_ns: × grow, at least grow_start): a start-up transient of misses the stationary
 * estimate does not have, which dominates a rare figure such as the wake-up exits when L1's
 * poll catches nearly every arrival. 0 when L1 does not poll.
 */
function l1GrowthBlocks(program: Program, guest: string): number {
  const g = program.guests.get(guest);
  const hypervisor = g ? nestedSetup(program, g)?.hypervisor : undefined;
  if (!hypervisor || !l1Polls(hypervisor)) return 0;
  const h = l1HaltPoll(hypervisor);
  const max = h.haltPollNs.value;
  let w = 0;
  let n = 0;
  while (w < max && n < 64) {
    w = Math.min(Math.max(w * h.haltPollGrow.value, h.haltPollGrowStartNs.value), max);
    n++;
  }
  return n;
}

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
  // L1's window growth from 0 at the start: up to that many missed polls per vCPU, each with at
  // most three wake-up exits (L1's HLT, the interrupt for L1, the trapped injection VMWRITE).
  const startUpMisses = (l1GrowthBlocks(a.program, guest) * e.vcpus) / durationSec;
  const wakeExitSlack = 3 * startUpMisses;
  assert.ok(
    Math.abs(n.wakeExitsPerSecond - wakeExits) <=
      tolerance(wakeExits * durationSec) * wakeExits + wakeExitSlack,
    `wake-up exits: simulated ${n.wakeExitsPerSecond}, estimated ${wakeExits} (start-up slack ${wakeExitSlack}/s)`,
  );
  // L0's halt polling where L0 blocks the vCPU: the share of blocks a poll catches — within 3
  // points, or three binomial standard deviations at worst (p = ½) over the blocks counted: when
  // L1 polls first, L0 sees only the few blocks L1's poll missed, and its window's growth from 0
  // (kvm_vcpu_init) is a start-up transient over them.
  const c = r.counters;
  const blocks = c.haltPollSuccesses + c.haltWakeups;
  const polled = blocks > 0 ? c.haltPollSuccesses / blocks : 0;
  const pollEst = e.idle?.haltPollSuccess ?? 0;
  assert.ok(
    Math.abs(polled - pollEst) <= shareTolerance(blocks),
    `halt-poll success: simulated ${polled}, estimated ${pollEst} over ${blocks} blocks`,
  );
  // L1's own halt polling (sim/nestedIdle.ts, analysis/nested/l1HaltPoll.ts): its success share
  // over L1's blocks and the host CPU it spins.
  const l1Blocks = wakeUps * durationSec;
  const l1Est = e.idle?.l1HaltPollSuccess ?? 0;
  assert.ok(
    Math.abs(n.l1HaltPollSuccess - l1Est) <= shareTolerance(l1Blocks) + startUpMisses / Math.max(1, wakeUps),
    `L1 halt-poll success: simulated ${n.l1HaltPollSuccess}, estimated ${l1Est}`,
  );
  within(n.l1PollCpu, e.idle?.l1PollCpu ?? 0, 0.03, "L1 polling CPU");
  // Interrupts for L1 that found the vCPU in root mode: on L0's side for L2, the nested exit L0
  // synthesizes at the next entry (no L2 exit, so not in l2ExitsPerSecond); on L1's side (L1
  // running, or L0 emulating its trapped instruction), L1's own interrupt (analysis/nested/
  // wake.ts l1SideDelivery, sim/l1Side.ts) and the exits into L0 it causes.
  // The synthesized ones within 3 % (or the Poisson noise) of all the interrupts for L1 that
  // find root mode: the split of root time moves arrivals between the two, and the simulator's
  // root-mode arrivals run ~2 % under the estimate's λ × root share on the idle-poll loads
  // (test/l1-halt-poll.test.ts, sim-nested-idle.test.ts) already before the split.
  const side = e.l1SideRoot.deliveriesPerSecond;
  const inRoot = e.synthesizedPerSecond + side;
  assert.ok(
    Math.abs(n.synthesizedPerSecond - e.synthesizedPerSecond) <= tolerance(inRoot * durationSec) * inRoot,
    `synthesized nested exits: simulated ${n.synthesizedPerSecond}, estimated ${e.synthesizedPerSecond} (of ${inRoot} in root mode)`,
  );
  within(n.l1SideDeliveriesPerSecond, side, tolerance(side * durationSec), "interrupts for L1 on L1's side");
  const sideExits = e.l1SideRoot.exitsPerSecond;
  within(n.l1SideExitsPerSecond, sideExits, tolerance(sideExits * durationSec), "their exits into L0");
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
