/**
 * The static estimate of an L2 guest per level: L2→L0 exits per second, how many L0 handles
 * and how many it reflects to L1, the L1→L0 exits L1's handlers cause (trapped VMREAD/VMWRITE,
 * INVEPT, VMRESUME), and the cycles each level spends — host CPU by level. Each reflected exit
 * costs its chain (chain.ts); an exit L0 handles itself costs the single-level exit cost under vmcs01 (the file's L0 `handler`
 * and vmcs02's transition: analysis/transitionCost.ts exitCost), as for a single-level guest.
 *
 * The busy share is the single-level idle model's (hostShares.ts solveShares) with the nested
 * costs (docs/estimator.md "Nested idle and interrupt delivery"): an interrupt takes its
 * delivery exit (wake.ts nestedDelivery: one hardware exit — L0's own, or the physical exit L0
 * turns into a nested exit into L1 — or none when L1 posts it into L2) only when it finds L2 in
 * guest mode; one for L1 that finds the vCPU in root mode costs the nested exit L0 synthesizes at
 * the next entry (chain.ts synthesizedExitCost: no L2 exit); an idle period costs L2's HLT
 * at the level that handles it, and each blocking one the wake-up chain of who blocked it
 * (wake.ts wakeChain). EPT02's first-touch faults are a start-up figure (ept02.ts), apart.
 */
import { handlerKey } from "../../model/handlers";
import type { GuestIR, GuestOp, Program } from "../../model/ir";
import { arrivalRate } from "../estimate";
import { walkOps } from "../exits";
import { prepareHost } from "../hostEstimate";
import { type SourceModel, solveShares } from "../hostShares";
import type { ExitDecision } from "../types";
import { type ChainCost, reflectedChainCost, shadowSets, synthesizedExitCost } from "./chain";
import { ept02StartUp } from "./ept02";
import type { NestedEstimate, NestedOperationEstimate, NestedReasonEstimate } from "./estimateTypes";
import { exitCost, handlerOfExit } from "./exitCost";
import { NO_L1_POLL, solveWithL1Poll } from "./l1HaltPoll";
import { decideNested, type Level, type NestedExit, type NestedSetup, nestedSetup } from "./reflect";
import { atFixedSplit, impliedSplit, l2Side, type RootSplit, rootArrivalCycles } from "./rootSplit";
import {
  chainL1Side,
  idleMode,
  idleWindowCycles,
  l0BlocksIdle,
  l1PollsIdle,
  l1Sends,
  l1SideDelivery,
  nestedDelivery,
  type WakeChain,
  wakeChain,
} from "./wake";

export type {
  NestedEstimate,
  NestedIdleEstimate,
  NestedOperationEstimate,
  NestedPostedEstimate,
  NestedReasonEstimate,
} from "./estimateTypes";
export { exitCost } from "./exitCost";

const NO_DELIVERY: ExitDecision = { exits: [], rule: "", reference: "", controls: [] };
const cyclesOf = (w: WakeChain | undefined) => (w ? w.l0 + w.l1 : 0);

/**
 * One (level, reason) row being summed. Its exits may run different handlers (one specialised
 * by operand, the general one): the per-exit figures are then rate-weighted means (`sum` over
 * `rate`); with one handler, its own.
 */
interface Acc {
  reason: string;
  code: number;
  level: Level;
  rate: number;
  /** Of `rate`: nested exits L0 synthesizes at an entry (no L2 exit). */
  synthesized: number;
  first: PerExit;
  /** The handler of `first` (model/handlers.ts handlerKey); `mixed` once another one adds exits. */
  firstHandler: number;
  mixed: boolean;
  sum: PerExit;
}

interface PerExit {
  l0: number;
  l1: number;
  transitions: number;
  trapped: number;
  shadowed: number;
}

/** The estimate of an L2 guest by level; undefined when the guest is not an L2. */
export function nestedEstimate(program: Program, guestName: string): NestedEstimate | undefined {
  const guest = program.guests.get(guestName);
  if (!guest) return undefined;
  const setup = nestedSetup(program, guest);
  if (!setup) return undefined;
  // Solved at the split of root-mode time between L0's side for L2 and L1's that its rates imply.
  return atFixedSplit((split) => solve(setup, guest, split));
}

function solve(
  setup: NestedSetup,
  guest: GuestIR,
  split: RootSplit,
): { estimate: NestedEstimate; split: RootSplit } {
  const program = setup.program;
  const hz = program.target.hz > 0 ? program.target.hz : 1;
  const vcpus = Math.max(0, guest.vcpus);
  const acc = new Map<string, Acc>();
  const chains = new Map<number, ChainCost>();
  const operations: NestedOperationEstimate[] = [];
  let l2Cycles = 0;
  // Cycles per second per vCPU on L1's side of root mode (RootSplit), from the recorded exits'
  // chains (not the idle HLT's: its plan is the wake-up's, L0's for L2, as in the simulator).
  let countSide = true;
  let sideL1 = 0;
  let sideL0ForL1 = 0;
  /**
   * `how`: an interrupt's delivery into L1 — `l0Irq`, L0's handling of the physical interrupt
   * before the nested exit (wake.ts nestedDelivery), or `synthesized`, the nested exit L0
   * synthesizes at an entry with no L2 exit (chain.ts synthesizedExitCost).
   */
  const record = (
    x: Pick<NestedExit, "reason" | "level" | "handler">,
    rate: number,
    how?: { l0Irq: number } | { synthesized: true },
  ) => {
    const key = `${x.level}:${x.reason.code}`;
    const c = exitCost(setup, x.reason.code, x.level, x.handler);
    if (c.chain) chains.set(handlerKey(x.reason.code, x.handler), c.chain);
    const one: PerExit = {
      l0: c.l0,
      l1: c.l1,
      transitions: c.chain ? c.chain.l0Transitions : 1,
      trapped: c.chain ? c.chain.trappedAccesses : 0,
      shadowed: c.chain ? c.chain.shadowedAccesses : 0,
    };
    const synthesized = how !== undefined && "synthesized" in how && c.chain !== undefined;
    if (synthesized) {
      const s = synthesizedExitCost(program, c.chain!);
      one.l0 = s.l0Cycles;
      one.transitions = s.l0Transitions;
    } else if (how !== undefined && "l0Irq" in how) one.l0 += how.l0Irq;
    let a = acc.get(key);
    if (!a) {
      a = {
        reason: x.reason.name,
        code: x.reason.code,
        level: x.level,
        rate: 0,
        synthesized: 0,
        first: one,
        firstHandler: handlerKey(x.reason.code, x.handler),
        mixed: false,
        sum: { l0: 0, l1: 0, transitions: 0, trapped: 0, shadowed: 0 },
      };
      acc.set(key, a);
    }
    if (
      handlerKey(x.reason.code, x.handler) !== a.firstHandler ||
      one.l0 !== a.first.l0 ||
      one.transitions !== a.first.transitions
    )
      a.mixed = true;
    if (rate > 0 && countSide && c.chain) {
      const side = chainL1Side(c.chain);
      sideL1 += rate * side.l1;
      sideL0ForL1 += rate * side.l0ForL1;
    }
    if (rate > 0) {
      a.rate += rate;
      if (synthesized) a.synthesized += rate;
      a.sum.l0 += rate * one.l0;
      a.sum.l1 += rate * one.l1;
      a.sum.transitions += rate * one.transitions;
      a.sum.trapped += rate * one.trapped;
      a.sum.shadowed += rate * one.shadowed;
    }
    return c;
  };

  const leavesOf = (source: (typeof guest.sources)[number]) => {
    const leaves: { op: GuestOp; executions: number }[] = [];
    const walked = walkOps(
      source.ops,
      setup.ctx12,
      (op, _d, executions) => {
        if (op.op !== "branch" && op.op !== "repeat" && op.op !== "tsx" && op.op !== "coalesce")
          leaves.push({ op, executions });
      },
      1,
      false,
      source.arrival,
    );
    return { leaves, computeCycles: walked.computeCycles, deferredFlushes: walked.deferredFlushes };
  };
  /** L0 + L1 cycles of one execution of the leaves. */
  const cyclesOfLeaves = (leaves: readonly { op: GuestOp; executions: number }[]) => {
    let cycles = 0;
    for (const { op, executions } of leaves)
      for (const x of decideNested(setup, op).exits) {
        const c = exitCost(setup, x.reason.code, x.level, x.handler);
        cycles += executions * x.perExecution * (c.l0 + c.l1);
      }
    return cycles;
  };
  const addOps = (leaves: { op: GuestOp; executions: number }[], rate: number) => {
    for (const { op, executions } of leaves) {
      const d = decideNested(setup, op);
      if (d.exits.length === 0) continue;
      let l0 = 0;
      let l1 = 0;
      let perExecution = 0;
      for (const x of d.exits) {
        const c = record(x, rate * executions * x.perExecution);
        l0 += x.perExecution * c.l0;
        l1 += x.perExecution * c.l1;
        perExecution += x.perExecution;
      }
      operations.push({
        span: op.span,
        exits: d.exits.map((x) => ({
          reason: x.reason.name,
          code: x.reason.code,
          level: x.level,
          perExecution: x.perExecution,
          rule: x.rule,
          reference: x.reference,
          ...handlerOfExit(setup, x),
        })),
        exitsPerSecond: rate * executions * perExecution,
        l0CyclesPerExecution: l0,
        l1CyclesPerExecution: l1,
      });
    }
  };

  // 1. Per source: its operations' cycles per execution, its interrupt's delivery to L2 in guest
  //    mode, and the wake-up it causes when it ends a blocking idle period.
  const mode = idleMode(setup);
  const blocked = mode !== "none";
  const l1Poll = l1PollsIdle(setup, mode);
  const perSource = guest.sources.map((source) => {
    const { leaves, computeCycles, deferredFlushes } = leavesOf(source);
    const delivery = nestedDelivery(setup, source);
    const model: SourceModel = {
      source,
      rate: arrivalRate(source.arrival),
      tickless: source.arrival.kind === "tickless",
      computeCycles,
      opExits: [],
      // L1's notification of an interrupt it sends is an exit of the sender's vCPU (its ICR
      // write): busy time of a vCPU per arrival, as the simulator's notification stream.
      opExitCycles: cyclesOfLeaves(leaves) + delivery.notifyCycles,
      delivery: NO_DELIVERY,
      deliveryExitCycles: delivery.l0 + delivery.l1,
      deferredFlushes,
      context: setup.ctx12,
      busyTicks: source.arrival.kind === "tickless" ? source.arrival.hz : 0,
    };
    // The nested exit an interrupt for L1 owes when it finds the vCPU in root mode (below): the
    // one L0 synthesizes at the next entry, its chain less the round trip.
    // On L1's side of root mode it is L1's own interrupt instead (wake.ts l1SideDelivery).
    let owed = 0;
    let toL1 = 0;
    if (!model.tickless && !delivery.posted)
      for (const e of delivery.exits)
        if (e.level === "L1") {
          const s = synthesizedExitCost(
            program,
            reflectedChainCost(program, setup.hypervisor, e.reason.code),
          );
          owed += e.perExecution * (s.l0Cycles + s.l1Cycles);
          toL1 += e.perExecution;
        }
    const onL1Side =
      toL1 > 0
        ? { l1: l1SideDelivery(setup, source, "l1"), l0ForL1: l1SideDelivery(setup, source, "l0ForL1") }
        : undefined;
    return {
      leaves,
      delivery,
      model,
      owed: model.rate * rootArrivalCycles(split, owed, toL1, onL1Side),
      toL1,
      onL1Side,
      wake: blocked ? wakeChain(setup, mode, source) : undefined,
      // The wake-up when L1's own halt poll caught the arrival (l1HaltPoll.ts).
      polledWake: l1Poll ? wakeChain(setup, mode, source, true) : undefined,
    };
  });
  const rootDelivery = perSource.reduce((sum, x) => sum + x.owed, 0);
  const flushWake = blocked ? wakeChain(setup, mode, undefined) : undefined;
  const flushPolledWake = l1Poll ? wakeChain(setup, mode, undefined, true) : undefined;

  // 2. The busy share: the idle exit (L2's HLT at its level) per idle period, plus on the
  //    blocking ones (survival S) the mean wake-up; the window up to the block sets S.
  const idleOp: GuestOp = { op: "hlt", span: guest.idleSpan ?? guest.nameSpan };
  const idleExit = guest.idle === "halt" ? cyclesOfLeaves([{ op: idleOp, executions: 1 }]) : 0;
  const models = perSource.map((x) => x.model);
  const windowCycles = idleWindowCycles(setup, mode, idleExit);
  const perIdleExit = windowCycles + (blocked ? program.target.costs.halt_wake.cycles : 0);
  const first = solveShares(models, perIdleExit, 0, blocked, program.target, hz, rootDelivery);
  let arrivals = 0;
  let wakeSum = 0;
  let polledWakeSum = 0;
  for (const x of perSource) {
    if (x.model.tickless) continue;
    arrivals += x.model.rate * (1 + x.model.deferredFlushes);
    wakeSum += x.model.rate * (cyclesOf(x.wake) + x.model.deferredFlushes * cyclesOf(flushWake));
    polledWakeSum +=
      x.model.rate * (cyclesOf(x.polledWake) + x.model.deferredFlushes * cyclesOf(flushPolledWake));
  }
  const perIdlePeriod = idleExit + first.survival * (arrivals > 0 ? wakeSum / arrivals : 0);
  // L0's halt polling where L0 blocks the vCPU (l0BlocksIdle): a poll that catches the arrival
  // saves L0's wake-up (halt_wake) of the block, the single-level host terms (hostEstimate.ts)
  // solved with the nested busy share; the models' ops are left out (no PLE growth here).
  const haltWake = program.target.costs.halt_wake.cycles;
  const hostRun = l0BlocksIdle(setup, mode)
    ? prepareHost(
        program,
        guest,
        models.map((m) => ({ ...m, source: { ...m.source, ops: [] } })),
        setup.ctx12,
        true,
      )
    : undefined;
  const solveWith = (pollSaving: number) =>
    solveShares(
      models,
      perIdleExit,
      perIdleExit - perIdlePeriod + pollSaving,
      blocked,
      program.target,
      hz,
      rootDelivery,
    );
  let shares = solveWith(0);
  let pollSuccess = 0;
  // L1's own halt poll (l1HaltPoll.ts): a caught arrival takes the polled wake-up instead of the
  // whole one and spends no L1 halt_wake; L0's poll acts on the blocks L1's poll missed.
  let l1 = NO_L1_POLL;
  if (l1Poll) {
    const solved = solveWithL1Poll(program, setup, models, shares, solveWith, hostRun, hz, {
      arrivals,
      missedMinusCaught: wakeSum - polledWakeSum,
    });
    ({ shares, pollSuccess, l1 } = solved);
  } else if (hostRun) {
    let terms = hostRun.update(shares, hz);
    for (let pass = 0; pass < 3 && terms.changed; pass++) {
      shares = solveWith(terms.pollSavingPerIdleExit);
      terms = hostRun.update(shares, hz);
    }
    pollSuccess = terms.poll.success;
  }
  const rho = shares.rho;
  const idlePeriods = shares.idlePeriods;
  const wakeUps = blocked ? idlePeriods * shares.survival : 0;

  // 3. Rates: operations per execution, deliveries per arrival in guest mode, wake-ups.
  let wakeL0 = 0;
  let wakeL1 = 0;
  let wakeExits = 0;
  const addWake = (w: WakeChain | undefined, perSecond: number) => {
    if (!w || perSecond <= 0) return;
    wakeL0 += perSecond * w.l0;
    wakeL1 += perSecond * w.l1;
    wakeExits += perSecond * w.l0Exits;
  };
  const posted = {
    posted: 0,
    inGuest: 0,
    avoided: 0,
    avoidedCycles: 0,
    sends: 0,
    notify: 0,
    notifyCycles: 0,
  };
  let postedRule: { rule: string; reference: string } | undefined;
  let topWake: { rate: number; wake?: WakeChain } = { rate: -1 };
  // Interrupts for L1 caught on L1's side of root mode, per vCPU: count, cycles, exits into L0.
  let l1SideDeliveries = 0;
  let l1SideL0 = 0;
  let l1SideL1 = 0;
  let l1SideExits = 0;
  // Root mode is busy time outside guest mode: 1 − p where the idle L2 stays in guest mode;
  // ρ − p where it blocks (its blocked time is neither, and the arrival that ends a blocked
  // idle period takes the wake-up chain instead: wakeChain).
  const rootShare = Math.max(0, blocked ? rho - shares.pRun : 1 - shares.pRun);
  for (const x of perSource) {
    const m = x.model;
    const executions = m.tickless ? idlePeriods + m.busyTicks * rho : m.rate;
    l2Cycles += executions * m.computeCycles;
    addOps(x.leaves, executions);
    // A tickless tick's interrupt is taken in guest mode (as in the single-level estimate).
    const inGuest = m.tickless ? executions : m.rate * shares.pRun;
    // One hardware exit per delivery; into L1 it carries L0's handling of the physical
    // interrupt before the emulated exit (nestedDelivery l0IrqCycles).
    for (const e of x.delivery.exits)
      record(e, inGuest * e.perExecution, e.level === "L1" ? { l0Irq: x.delivery.l0IrqCycles } : undefined);
    // An interrupt for L1 that finds the vCPU in root mode (L0 or L1 handling an exit) takes no
    // exit from L2 — L2 is not running — but is still L1's: at the next nested entry
    // vmx_check_nested_events (nested.c) synthesizes the nested exit into L1 (as the simulator's
    // owed exits do), the chain less its first round trip. Root mode is the time outside L2's
    // guest mode.
    // Only on L0's side for L2, though: one that finds L1's side (L1 running, or L0 emulating
    // L1's trapped instruction; is_guest_mode false) is injected into L1 at its entry
    // (kvm_check_and_inject_events), after an exit from L1 when L1 ran, and L1 injects it into
    // L2 at its VMRESUME (wake.ts l1SideDelivery): no nested exit.
    if (!m.tickless && !x.delivery.posted) {
      const inRoot = m.rate * rootShare;
      for (const e of x.delivery.exits)
        if (e.level === "L1") record(e, inRoot * l2Side(split) * e.perExecution, { synthesized: true });
      if (x.onL1Side)
        for (const [w, share] of [
          [x.onL1Side.l1, split.l1],
          [x.onL1Side.l0ForL1, split.l0ForL1],
        ] as const) {
          const perSecond = inRoot * x.toL1 * share;
          l1SideDeliveries += perSecond;
          l1SideL0 += perSecond * w.l0;
          l1SideL1 += perSecond * w.l1;
          l1SideExits += perSecond * w.l0Exits;
        }
    }
    if (x.delivery.posted) {
      postedRule ??= { rule: x.delivery.rule, reference: x.delivery.reference };
      posted.posted += executions;
      posted.inGuest += inGuest;
      posted.avoided += inGuest * x.delivery.avoidedExits;
      posted.avoidedCycles += inGuest * x.delivery.avoidedCycles;
    }
    if (l1Sends(x.model.source)) {
      posted.sends += executions;
      posted.notify += executions * x.delivery.notifyExits;
      posted.notifyCycles += executions * x.delivery.notifyCycles;
    }
    if (!m.tickless && arrivals > 0) {
      const missed = 1 - l1.success;
      addWake(x.wake, (missed * wakeUps * m.rate) / arrivals);
      addWake(flushWake, (missed * wakeUps * m.rate * m.deferredFlushes) / arrivals);
      addWake(x.polledWake, (l1.success * wakeUps * m.rate) / arrivals);
      addWake(flushPolledWake, (l1.success * wakeUps * m.rate * m.deferredFlushes) / arrivals);
      // The chain most wake-ups take: the polled one when L1's poll catches most arrivals.
      if (m.rate > topWake.rate)
        topWake = { rate: m.rate, wake: l1.success >= 0.5 ? (x.polledWake ?? x.wake) : x.wake };
    }
  }
  // A wake-up whose block L0's poll caught spends no L0 halt_wake (L0 sees the blocks L1's own
  // poll missed); one L1's poll caught spends no L1 halt_wake (charged to the idle exit's L1
  // cycles: a correction of L1's, not of the wake-up chain), and L1 spins its poll time.
  wakeL0 -= wakeUps * (1 - l1.success) * pollSuccess * haltWake;
  const l1WakeSaved = wakeUps * l1.success * l1.l1WakeCycles;
  const l1PollCycles = l1.blocksPerSecond * l1.pollSec * hz;
  // The idle exits: L2's HLT decided like a written `hlt` (idle halt only).
  countSide = false;
  if (guest.idle === "halt" && idlePeriods > 0) addOps([{ op: idleOp, executions: 1 }], idlePeriods);

  const byReason: NestedReasonEstimate[] = [];
  let reflected = 0;
  let synthesizedExits = 0;
  let l0Handled = 0;
  let l1Exits = 0;
  let l0c = 0;
  let l1c = 0;
  for (const a of acc.values()) {
    const total = a.rate * vcpus;
    // One handler: its figures exactly; several: their rate-weighted mean.
    const per: PerExit =
      a.mixed && a.rate > 0
        ? {
            l0: a.sum.l0 / a.rate,
            l1: a.sum.l1 / a.rate,
            transitions: a.sum.transitions / a.rate,
            trapped: a.sum.trapped / a.rate,
            shadowed: a.sum.shadowed / a.rate,
          }
        : a.first;
    if (a.level === "L1") {
      // Every exit into L0 of the row's chains but their L2 exits (none for a synthesized one).
      const synthesized = a.synthesized * vcpus;
      reflected += total;
      synthesizedExits += synthesized;
      l1Exits += total * per.transitions - (total - synthesized);
    } else l0Handled += total;
    l0c += total * per.l0;
    l1c += total * per.l1;
    byReason.push({
      reason: a.reason,
      code: a.code,
      level: a.level,
      exitsPerSecond: total,
      l0CyclesPerExit: per.l0,
      l1CyclesPerExit: per.l1,
      l0TransitionsPerExit: per.transitions,
      trappedAccessesPerExit: per.trapped,
      shadowedAccessesPerExit: per.shadowed,
    });
  }
  l0c += vcpus * (wakeL0 + posted.notifyCycles + l1SideL0);
  l1c += vcpus * (wakeL1 + l1PollCycles - l1WakeSaved + l1SideL1);
  l1Exits += vcpus * (wakeExits + posted.notify + l1SideExits);
  // The split this solution implies: L1's side of the root time it spends (its deliveries on
  // L1's side are themselves on it, L0 running for L1 or L1 injecting).
  const measured = impliedSplit(sideL1, sideL0ForL1 + l1SideL0 + l1SideL1, rootShare * hz);
  byReason.sort(
    (x, y) =>
      y.exitsPerSecond * (y.l0CyclesPerExit + y.l1CyclesPerExit) -
      x.exitsPerSecond * (x.l0CyclesPerExit + x.l1CyclesPerExit),
  );
  const l2c = l2Cycles * vcpus;
  const busy = l2c + l0c + l1c;
  const l1PollTotal = vcpus * l1PollCycles;
  const estimate: NestedEstimate = {
    guest: guest.name,
    hypervisor: setup.hypervisor.name,
    vmcs01: setup.vmcs01.name,
    vmcs12: setup.vmcs12.name,
    shadowing: shadowSets(program, setup.vmcs01).on,
    vcpus,
    l2ExitsPerSecond: reflected - synthesizedExits + l0Handled,
    reflectedPerSecond: reflected,
    synthesizedPerSecond: synthesizedExits,
    l0HandledPerSecond: l0Handled,
    l1ExitsPerSecond: l1Exits,
    l0ExitsPerSecond: reflected - synthesizedExits + l0Handled + l1Exits,
    hostCpu: { l2: l2c / hz, l1: l1c / hz, l0: l0c / hz, total: busy / hz },
    // Overhead is a share of L2's busy time (as the single-level estimate keeps halt polling out
    // of it): L1's halt-poll spinning runs while L2 is idle, so it is in hostCpu.l1, not here.
    overhead: busy - l1PollTotal > 0 ? (l0c + l1c - l1PollTotal) / (busy - l1PollTotal) : 0,
    byReason,
    chains: [...chains.values()],
    operations,
    busyShare: rho,
    guestShare: shares.pRun,
    idle:
      guest.idle === "halt"
        ? {
            mode,
            rule:
              (topWake.wake ?? flushWake)?.rule ?? "the idle L2 does not block: no level exits on its HLT",
            reference: (topWake.wake ?? flushWake)?.reference ?? "",
            idlePeriodsPerSecond: vcpus * idlePeriods,
            wakeUpsPerSecond: vcpus * wakeUps,
            survival: shares.survival,
            windowCycles,
            l0CyclesPerWake: wakeUps > 0 ? wakeL0 / wakeUps : 0,
            l1CyclesPerWake: wakeUps > 0 ? wakeL1 / wakeUps : 0,
            l0ExitsPerWake: wakeUps > 0 ? wakeExits / wakeUps : 0,
            steps: (topWake.wake ?? flushWake)?.steps ?? [],
            haltPollSuccess: pollSuccess,
            l1HaltPollSuccess: l1.success,
            l1PollWindowNs: l1.meanWindowSec * 1e9,
            l1PollCpu: (vcpus * l1PollCycles) / hz,
          }
        : undefined,
    posted: postedRule
      ? {
          postedPerSecond: vcpus * posted.posted,
          inGuestModePerSecond: vcpus * posted.inGuest,
          avoidedExitsPerSecond: vcpus * posted.avoided,
          avoidedCyclesPerSecond: vcpus * posted.avoidedCycles,
          ...postedRule,
        }
      : undefined,
    l1Notify:
      posted.sends > 0
        ? {
            sendsPerSecond: vcpus * posted.sends,
            exitsPerSecond: vcpus * posted.notify,
            cyclesPerExit: posted.notify > 0 ? posted.notifyCycles / posted.notify : 0,
          }
        : undefined,
    ept02: ept02StartUp(setup),
    l1SideRoot: {
      l1RunningShare: split.l1,
      l0ForL1Share: split.l0ForL1,
      deliveriesPerSecond: vcpus * l1SideDeliveries,
      exitsPerSecond: vcpus * l1SideExits,
    },
  };
  return { estimate, split: measured };
}
