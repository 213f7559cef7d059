/**
 * The host in the estimate (docs/estimator.md, "Host"): the settings in force (the file's
 * `target` block or KVM's defaults), the halt-poll and PLE-growth terms solved against the
 * busy-share solution (hostTerms.ts, hostShares.ts), and what an over-committed or saturated
 * vCPU can deliver (issue 12, wrong result 6).
 */

import type { GuestIR, HostIR, Program } from "../model/ir";
import { HOST_DEFAULT_SOURCE, type HostParam, hostSettings } from "../model/statements/host";
import { EXIT } from "../vmx/exitReasons";
import { vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, on } from "./exitRules";
import type { ShareSolution, SourceModel } from "./hostShares";
import {
  type HaltArrival,
  type HaltPollTerms,
  haltPollTerms,
  haltSurvival,
  type PollChain,
  pleGrowthExits,
  type SpinSource,
  spinLoops,
} from "./hostTerms";
import { type AnalysisMemo, memoOf } from "./memo";
import { exitCost, vcpuMayMigrate } from "./transitionCost";
import type { HostEstimate, HostSettingEstimate } from "./types";

export interface HostTermsNow {
  blocksPerSecond: number;
  poll: HaltPollTerms;
  pollSavingPerIdleExit: number;
  schedInsPerSecond: number;
  /** Whether this pass changed an input of the solution (solve again). */
  changed: boolean;
}

interface SpinSiteOf {
  model: SourceModel;
  cycles: number;
  executions: number;
  fixed: number;
}

/** The host terms of one guest: call `update` after each solution until it no longer changes. */
export function prepareHost(
  program: Program,
  guest: GuestIR,
  models: SourceModel[],
  ctx: ExitContext,
  /** Whether an idle vCPU blocks in the host (kvm_vcpu_halt), where halt polling acts. */
  blocks: boolean,
) {
  const host = hostSettings(program, guest);
  const wake = program.target.costs.halt_wake?.cycles ?? 0;
  const sites: SpinSiteOf[] = [];
  const lookup = vmcsLookup(ctx.vmcs);
  const window = lookup.pleWindow;
  const gap = lookup.pleGap;
  const c = ctl();
  for (const m of models) {
    const sctx = m.context;
    // KVM's window growth acts on PAUSE-loop exits only (not PAUSE exiting), at CPL 0.
    if (m.tickless || !on(sctx, c.ple) || on(sctx, c.pause) || (sctx.cpl ?? 0) > 0 || gap === 0) continue;
    for (const loop of spinLoops(m.source.ops))
      sites.push({
        model: m,
        cycles: loop.cycles,
        executions: loop.executions,
        fixed: Math.floor(loop.cycles / Math.max(1, window)),
      });
  }
  // A PAUSE exit's cost, for the exits window growth saves (only guests with spin sites ask).
  const pauseCost =
    sites.length > 0
      ? exitCost(program, ctx.vmcs, EXIT.PAUSE_INSTRUCTION, vcpuMayMigrate(ctx.guest)).total
      : 0;
  // Without spin sites (most guests) no PLE-growth input is needed: none is built.
  const spinning = sites.length > 0;
  const base = new Map<SourceModel, { exits: SourceModel["opExits"]; cycles: number }>();
  for (const s of sites) base.set(s.model, { exits: s.model.opExits, cycles: s.model.opExitCycles });
  const arrivalsOf = (): HaltArrival[] => {
    const out: HaltArrival[] = [];
    for (const m of models) {
      if (m.tickless) continue;
      out.push({ periodic: m.source.arrival.kind === "periodic", rate: m.rate });
      if (m.deferredFlushes > 0) out.push({ periodic: false, rate: m.rate * m.deferredFlushes });
    }
    return out;
  };
  const arrivals = arrivalsOf();
  let executionsPerSec = 0;
  for (const m of models) if (!m.tickless) executionsPerSec += m.rate;
  const memo = memoOf(program);
  // Every input of the halt-poll chain but the busy time before a block (hostTerms.ts); built
  // on first use (a guest that never blocks needs none).
  // The terms by busy time of every guest with these inputs (memo.ts haltPoll).
  let pollByBusy: Map<number, HaltPollTerms> | undefined;
  const pollTermsOf = () => {
    if (pollByBusy !== undefined) return pollByBusy;
    const key = `${host.haltPollNs.value} ${host.haltPollGrow.value} ${host.haltPollGrowStartNs.value} ${host.haltPollShrink.value}|${arrivals.map((a) => `${a.periodic ? "p" : "e"}${a.rate}`).join(" ")}`;
    pollByBusy = memo.haltPoll.get(key);
    if (pollByBusy === undefined) {
      pollByBusy = new Map();
      memo.haltPoll.set(key, pollByBusy);
    }
    return pollByBusy;
  };
  // Sources in the order of `sites` (grouped by model), each with its spins per execution.
  const order = spinning ? [...new Set(sites.map((s) => s.model))] : [];
  const grouped: SpinSource[] = order.map((m) => ({
    rate: m.rate,
    sites: sites.filter((s) => s.model === m).map((s) => ({ cycles: s.cycles, executions: s.executions })),
  }));
  const flat = order.flatMap((m) => sites.filter((s) => s.model === m));
  const spinsKey = spinning
    ? grouped
        .map((src) => `${src.rate}:${src.sites.map((s) => `${s.cycles}x${s.executions}`).join(",")}`)
        .join(" ")
    : "";
  let last: HostTermsNow | undefined;

  const update = (solution: ShareSolution, hz: number): HostTermsNow => {
    const blocking = blocks && solution.idlePeriods > 0;
    const blocksPerSecond = blocking ? solution.idlePeriods * solution.survival : 0;
    const busySec = blocksPerSecond > 0 ? Math.min(1, solution.rho / blocksPerSecond) : 0;
    let poll = blocksPerSecond > 0 ? haltPollOnce(pollTermsOf(), host, arrivals, busySec) : NO_POLL;
    // Over-committed pCPUs: a vCPU polls only while no other one waits for a CPU
    // (kvm_vcpu_can_poll: single_task_running()), so polling gets at most the CPU time the busy
    // vCPUs leave, capacity − ρ per vCPU; successes and polling time shrink in that ratio (an
    // estimate).
    const capacity = hostCapacity(host, guest);
    if (capacity < 1 && poll.pollSec > 0) {
      const spare = Math.max(0, capacity - solution.rho);
      const f = Math.min(1, spare / (blocksPerSecond * poll.pollSec));
      poll = { ...poll, success: poll.success * f, pollSec: poll.pollSec * f };
    }
    const pollSavingPerIdleExit = solution.survival * poll.success * wake;
    const schedInsPerSecond = blocksPerSecond * (1 - poll.success) + host.preemptRate.value;
    if (spinning) {
      const grownFlat = pleGrowthOnce(
        memo,
        grouped,
        spinsKey,
        executionsPerSec,
        window,
        host,
        poll.chain,
        blocksPerSecond,
      );
      const fewer = new Map<SourceModel, number>();
      for (let i = 0; i < flat.length; i++) {
        const s = flat[i]!;
        fewer.set(s.model, (fewer.get(s.model) ?? 0) + s.executions * (s.fixed - grownFlat[i]!));
      }
      for (const [m, less] of fewer) {
        const b = base.get(m)!;
        m.opExits = b.exits.map((e) =>
          e.reason.code === EXIT.PAUSE_INSTRUCTION
            ? { ...e, perExecution: Math.max(0, e.perExecution - less) }
            : e,
        );
        m.opExitCycles = b.cycles - less * pauseCost;
      }
    }
    const changed =
      last === undefined
        ? pollSavingPerIdleExit > 0 || sites.length > 0
        : Math.abs(last.pollSavingPerIdleExit - pollSavingPerIdleExit) > 1e-6 * Math.max(1, wake) ||
          Math.abs(last.schedInsPerSecond - schedInsPerSecond) > 1e-6 * Math.max(1, schedInsPerSecond);
    void hz;
    last = { blocksPerSecond, poll, pollSavingPerIdleExit, schedInsPerSecond, changed };
    return last;
  };

  const report = (
    terms: HostTermsNow,
    capacity: number,
    pollCpu: number,
    saturation: HostEstimate["saturation"],
  ): HostEstimate => ({
    settings: settingsReport(host, guest),
    blocksPerSecond: terms.blocksPerSecond,
    haltPollSuccess: terms.poll.success,
    haltPollWindowNs: terms.poll.meanWindowSec * 1e9,
    pollCpu,
    schedInsPerSecond: terms.schedInsPerSecond,
    capacity,
    ...(saturation ? { saturation } : {}),
  });
  return { update, report };
}

/**
 * haltPollTerms once per distinct input in the analysis: `byBusy` holds the terms of the other
 * inputs' key (the poll settings and the arrivals), by the busy time before a block.
 */
function haltPollOnce(
  byBusy: Map<number, HaltPollTerms>,
  host: HostIR,
  arrivals: readonly HaltArrival[],
  busySec: number,
): HaltPollTerms {
  let terms = byBusy.get(busySec);
  if (terms === undefined) {
    terms = haltPollTerms(host, haltSurvival(arrivals, busySec));
    byBusy.set(busySec, terms);
  }
  return terms;
}

/** pleGrowthExits once per distinct input in the analysis (the result is not changed by callers). */
function pleGrowthOnce(
  memo: AnalysisMemo,
  sources: readonly SpinSource[],
  /** Names `sources` (their rates and spins) in the key. */
  spins: string,
  executionsPerSec: number,
  window: number,
  host: HostIR,
  chain: PollChain,
  blocksPerSecond: number,
): readonly number[] {
  let chainId = memo.pollChainIds.get(chain);
  if (chainId === undefined) {
    chainId = memo.pollChainIds.size;
    memo.pollChainIds.set(chain, chainId);
  }
  const key = `${chainId}|${executionsPerSec} ${window} ${blocksPerSecond}|${host.pleWindowGrow.value} ${host.pleWindowShrink.value} ${host.pleWindowMax.value} ${host.preemptRate.value}|${spins}`;
  let exits = memo.pleGrowth.get(key);
  if (exits === undefined) {
    exits = pleGrowthExits(
      sources,
      executionsPerSec,
      window,
      host,
      chain,
      blocksPerSecond,
      host.preemptRate.value,
    );
    memo.pleGrowth.set(key, exits);
  }
  return exits;
}

const NO_POLL: HaltPollTerms = {
  success: 0,
  pollSec: 0,
  meanWindowSec: 0,
  chain: { states: [0], next: [[{ to: 0, p: 1, sleeps: true }]], pi: [1] },
};

function settingsReport(host: HostIR, guest: GuestIR): HostEstimate["settings"] {
  const one = (p: HostParam): HostSettingEstimate => {
    const v = host[p];
    return v.span
      ? {
          value: v.value,
          source: "file",
          from:
            p === "haltPollNs" && guest.haltPollNs ? "the guest's `halt_poll`" : "the file's `target` block",
        }
      : { value: v.value, source: "default", from: HOST_DEFAULT_SOURCE[p] };
  };
  return {
    pcpus: one("pcpus"),
    pinned: guest.pinned !== undefined,
    haltPollNs: one("haltPollNs"),
    haltPollGrow: one("haltPollGrow"),
    haltPollGrowStartNs: one("haltPollGrowStartNs"),
    haltPollShrink: one("haltPollShrink"),
    pleWindowGrow: one("pleWindowGrow"),
    pleWindowShrink: one("pleWindowShrink"),
    pleWindowMax: one("pleWindowMax"),
    preemptRate: one("preemptRate"),
    preemptSec: one("preemptSec"),
  };
}

/**
 * The share of a physical CPU one vCPU can have: 1 without overcommit; with `pcpus P` below
 * the vCPU count N, P/N when the threads may migrate (the host balances them), 1/⌈N/P⌉ when
 * pinned (vCPU v on pCPU v mod P: the most loaded pCPU's share), less host preemption's share.
 */
export function hostCapacity(host: HostIR, guest: GuestIR): number {
  const p = host.pcpus.value;
  const n = Math.max(1, guest.vcpus);
  let share = 1;
  if (p > 0 && p < n) share = guest.pinned ? 1 / Math.ceil(n / p) : p / n;
  return share * Math.max(0, 1 - host.preemptRate.value * host.preemptSec.value);
}

/**
 * Delivered against offered (wrong result 6 of issue 12): when the offered busy share is above
 * the capacity, interrupts and tickless ticks (which preempt path work) keep their rate while
 * they fit, and paths get what is left — the simulator's queues fill and drop the rest.
 */
export function deliveredScale(
  models: readonly SourceModel[],
  pRun: number,
  hz: number,
  capacity: number,
  active: boolean,
) {
  let pathBusy = 0;
  let irqBusy = 0;
  let offeredExits = 0;
  let offeredExitCycles = 0;
  for (const m of models) {
    const rate = m.tickless ? m.busyTicks : m.rate;
    const share = m.tickless ? 1 : pRun;
    const cycles = m.computeCycles + m.opExitCycles + share * m.deliveryExitCycles;
    if (m.source.kind === "path") pathBusy += (rate * cycles) / hz;
    else irqBusy += (rate * cycles) / hz;
    let n = 0;
    for (const e of m.opExits) n += e.perExecution;
    for (const e of m.delivery.exits) n += share * e.perExecution;
    offeredExits += rate * n;
    offeredExitCycles += rate * (m.opExitCycles + share * m.deliveryExitCycles);
  }
  const offered = pathBusy + irqBusy;
  if (!active || !(offered > capacity)) {
    return {
      of: (_m: SourceModel) => 1,
      idle: 1,
      offeredDemand: undefined as number | undefined,
      saturation: () => undefined,
    };
  }
  const irqScale = irqBusy > capacity ? capacity / irqBusy : 1;
  const pathScale = irqBusy >= capacity ? 0 : pathBusy > 0 ? (capacity - irqBusy) / pathBusy : 1;
  return {
    of: (m: SourceModel) => (m.source.kind === "path" ? pathScale : irqScale),
    idle: 0,
    offeredDemand: offered,
    saturation: (vcpus: number) => ({
      offeredExitsPerSecond: offeredExits * vcpus,
      offeredHostCpu: (offeredExitCycles * vcpus) / hz,
      deliveredShare: capacity / offered,
      note: `offered ${(offered * 100).toFixed(0)} % of a CPU per vCPU, ${capacity < 1 ? `${(capacity * 100).toFixed(0)} % available (over-committed host)` : "100 % available"}: the figures are what it can deliver; budgets are checked against them`,
    }),
  };
}
