/**
 * L1's own KVM halt polling of an idle L2's vCPU (docs/estimator.md "Nested idle and interrupt
 * delivery"): when L1 blocks the idle L2 (vmcs12 HLT exiting), L1's handle_halt →
 * kvm_emulate_halt → kvm_vcpu_halt (virt/kvm/kvm_main.c) polls up to its vcpu->halt_poll_ns
 * window (grow_halt_poll_ns / shrink_halt_poll_ns, capped by kvm_vcpu_max_halt_poll_ns) as L1
 * guest code on vmcs01 before it schedules and its idle task's HLT exits to L0. The window is
 * the same Markov chain as L0's (hostTerms.ts haltPollTerms, haltSurvival), with L1's settings
 * (the hypervisor's `halt_poll`, KVM's defaults) and the blocks at L1's kvm_vcpu_halt.
 *
 * A poll that catches the arrival saves L1's HLT exit, L0's block and wake-up of L1's vCPU and
 * L1's own wake-up of its vCPU thread (halt_wake: the thread never slept), at the price of L1
 * spinning (host CPU in L1's guest mode). One that misses spins the whole window, then the
 * wake-up is today's: L1's HLT, L0's halt polling of L1's vCPU (on those blocks only), the block.
 */
import type { HostIR, Program } from "../../model/ir";
import { hostSettings, l1HaltPoll } from "../../model/statements/host";
import { EXIT } from "../../vmx/exitReasons";
import type { ShareSolution, SourceModel } from "../hostShares";
import { type HaltArrival, type HaltPollTerms, haltPollTerms, haltSurvival } from "../hostTerms";
import { reflectedChainCost } from "./chain";
import type { NestedSetup } from "./reflect";

/** L1's poll at its blocks, from a busy-share solution whose `survival` is the share of idle exits reaching L1's block. */
export interface L1PollNow {
  terms: HaltPollTerms;
  /** Blocks at L1's kvm_vcpu_halt per second per vCPU. */
  blocksPerSecond: number;
}

/** The L1 settings as a HostIR (haltPollTerms reads the four halt-poll fields only). */
export function l1PollHost(program: Program, setup: NestedSetup): HostIR {
  return { ...hostSettings(program, setup.guest), ...l1HaltPoll(setup.hypervisor) };
}

/** The arrival streams that end an idle period (as hostEstimate.ts prepareHost builds L0's). */
function arrivalsOf(models: readonly SourceModel[]): HaltArrival[] {
  const out: HaltArrival[] = [];
  for (const m of models) {
    if (m.tickless) continue;
    out.push({ periodic: m.source.arrival.kind === "periodic", rate: m.rate });
    if (m.deferredFlushes > 0) out.push({ periodic: false, rate: m.rate * m.deferredFlushes });
  }
  return out;
}

/** L1's halt-poll terms for one solution of the busy share (solved again until the savings settle). */
export function l1PollTerms(
  host: HostIR,
  models: readonly SourceModel[],
  solution: ShareSolution,
): L1PollNow {
  const blocksPerSecond = solution.idlePeriods > 0 ? solution.idlePeriods * solution.survival : 0;
  if (!(blocksPerSecond > 0))
    return { terms: haltPollTerms({ ...host, haltPollNs: { value: 0 } }, () => 1), blocksPerSecond };
  const busySec = Math.min(1, solution.rho / blocksPerSecond);
  return { terms: haltPollTerms(host, haltSurvival(arrivalsOf(models), busySec)), blocksPerSecond };
}

/**
 * What L0's halt polling sees when L1 polls first: only the blocks L1's poll missed reach L0's
 * kvm_vcpu_halt (the solution's survival scaled by the miss share). The time from L0's block to
 * the arrival is taken with the same survival as L1's (exact for Poisson arrivals, which are
 * memoryless; an estimate for periodic ones, which L1's window has brought closer).
 */
export function l0ViewAfterL1Poll(solution: ShareSolution, l1Success: number): ShareSolution {
  return { ...solution, survival: solution.survival * (1 - l1Success) };
}

/** L1's poll in the estimate: its success share, mean poll time and window per block, its blocks/s, L1's halt_wake. */
export interface L1PollEstimate {
  success: number;
  pollSec: number;
  meanWindowSec: number;
  blocksPerSecond: number;
  l1WakeCycles: number;
}

export const NO_L1_POLL: L1PollEstimate = {
  success: 0,
  pollSec: 0,
  meanWindowSec: 0,
  blocksPerSecond: 0,
  l1WakeCycles: 0,
};

/**
 * The busy share solved with L1's poll (estimate.ts): per pass, L1's terms on the current
 * solution, L0's on the blocks L1 missed (`hostRun`, hostEstimate.ts prepareHost), and the
 * cycles both save per idle exit, until ρ settles. `missedMinusCaught`: Σ λ·(whole wake-up −
 * polled wake-up) over the arrivals.
 */
export function solveWithL1Poll(
  program: Program,
  setup: NestedSetup,
  models: readonly SourceModel[],
  first: ShareSolution,
  solveWith: (saving: number) => ShareSolution,
  hostRun:
    | { update(s: ShareSolution, hz: number): { pollSavingPerIdleExit: number; poll: { success: number } } }
    | undefined,
  hz: number,
  wakes: { arrivals: number; missedMinusCaught: number },
): { shares: ShareSolution; pollSuccess: number; l1: L1PollEstimate } {
  const host = l1PollHost(program, setup);
  const l1WakeCycles = reflectedChainCost(program, setup.hypervisor, EXIT.HLT).l1WakeCycles;
  const perArrival = wakes.arrivals > 0 ? wakes.missedMinusCaught / wakes.arrivals + l1WakeCycles : 0;
  let shares = first;
  let pollSuccess = 0;
  let l1 = NO_L1_POLL;
  for (let pass = 0; pass < 6; pass++) {
    const now = l1PollTerms(host, models, shares);
    l1 = { ...now.terms, blocksPerSecond: now.blocksPerSecond, l1WakeCycles };
    const l1Saving = shares.survival * l1.success * perArrival;
    let l0Saving = 0;
    if (hostRun) {
      const terms = hostRun.update(l0ViewAfterL1Poll(shares, l1.success), hz);
      l0Saving = terms.pollSavingPerIdleExit;
      pollSuccess = terms.poll.success;
    }
    const next = solveWith(l0Saving + l1Saving);
    const settled = Math.abs(next.rho - shares.rho) <= 1e-9 * Math.max(1e-9, shares.rho);
    shares = next;
    if (settled) break;
  }
  return { shares, pollSuccess, l1 };
}
