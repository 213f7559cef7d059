/**
 * The static estimate of an L2 guest per level: L2→L0 exits per second, how many L0 handles
 * and how many it reflects to L1, the L1→L0 exits L1's handlers cause (trapped VMREAD/VMWRITE,
 * INVEPT, VMRESUME), and the cycles each level spends — host CPU by level. Each reflected exit
 * costs its chain (chain.ts); an exit L0 handles itself costs the single-level exit cost under vmcs01 (the file's L0 `handler`
 * and vmcs02's transition: analysis/transitionCost.ts exitCost), as for a single-level guest.
 *
 * Scope (docs/estimator.md "Nested virtualization"): per-source arrival rates as in the
 * single-level estimate, without its idle model (an L2 that halts is charged its HLT exits, not
 * the wake-ups); interrupt delivery: the physical interrupt exit is L0's, and when vmcs12 has
 * external-interrupt exiting it becomes a nested exit into L1 as well (the interrupt is taken
 * to be L1's: its device or timer).
 */
import type { GuestIR, GuestOp, Program } from "../../model/ir";
import type { Span } from "../../source";
import { EXIT } from "../../vmx/exitReasons";
import { NESTED_EXIT_ON_INTR } from "../../vmx/nested";
import { arrivalRate, estimateGuest } from "../estimate";
import { decideDelivery, reason, walkOps } from "../exits";
import { exitCost as singleExitCost, vcpuMayMigrate } from "../transitionCost";
import { type ChainCost, reflectedChainCost } from "./chain";
import {
  decideNested,
  interruptGoesToL1,
  type Level,
  type NestedExit,
  type NestedSetup,
  nestedSetup,
} from "./reflect";

export interface NestedReasonEstimate {
  reason: string;
  code: number;
  level: Level;
  /** L2→L0 exits of this reason and level per second, all vCPUs. */
  exitsPerSecond: number;
  /** Cycles per exit spent in L0 (round trips, emulation, L0's handler) and in L1. */
  l0CyclesPerExit: number;
  l1CyclesPerExit: number;
  /** Exits into L0 per L2 exit (1 for an L0-handled exit; the whole chain for a reflected one). */
  l0TransitionsPerExit: number;
  trappedAccessesPerExit: number;
  shadowedAccessesPerExit: number;
}

export interface NestedOperationEstimate {
  span: Span;
  exits: {
    reason: string;
    code: number;
    level: Level;
    perExecution: number;
    rule: string;
    reference: string;
  }[];
  /** Per vCPU. */
  exitsPerSecond: number;
  /** Cycles at L0 and at L1 per execution of the operation. */
  l0CyclesPerExecution: number;
  l1CyclesPerExecution: number;
}

export interface NestedEstimate {
  guest: string;
  hypervisor: string;
  vmcs01: string;
  vmcs12: string;
  shadowing: boolean;
  vcpus: number;
  /** Every L2→L0 exit per second, all vCPUs. */
  l2ExitsPerSecond: number;
  reflectedPerSecond: number;
  l0HandledPerSecond: number;
  /** L1→L0 exits per second caused by L1's handlers (trapped VMX instructions and VMRESUMEs). */
  l1ExitsPerSecond: number;
  /** Every exit into L0 per second: L2's and L1's. */
  l0ExitsPerSecond: number;
  /** Host cores by level: L2's own work, L1's handlers, L0's transitions and emulation. */
  hostCpu: { l2: number; l1: number; l0: number; total: number };
  /** (L0 + L1 cycles) / (L2 + L0 + L1 cycles): the share of L2's busy time spent outside L2. */
  overhead: number;
  byReason: NestedReasonEstimate[];
  /** The chain of each reflected reason, for hovers and the text report. */
  chains: ChainCost[];
  operations: NestedOperationEstimate[];
}

interface Acc {
  reason: string;
  code: number;
  level: Level;
  rate: number;
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
  return solve(setup, guest);
}

/** Cycles at L0 and L1 and L0 transitions of one exit at a level. */
export function exitCost(
  setup: NestedSetup,
  code: number,
  level: Level,
): { l0: number; l1: number; chain?: ChainCost } {
  // An exit L0 keeps: L0's handler and the transition of vmcs02, whose controls are L0's
  // (vmcs01) — the single-level exit cost under vmcs01, as the simulator's plan.
  if (level === "L0")
    return {
      l0: singleExitCost(setup.program, setup.vmcs01, code, vcpuMayMigrate(setup.guest)).total,
      l1: 0,
    };
  const chain = reflectedChainCost(setup.program, setup.hypervisor, code);
  return { l0: chain.l0Cycles, l1: chain.l1Cycles, chain };
}

function solve(setup: NestedSetup, guest: GuestIR): NestedEstimate {
  const program = setup.program;
  const hz = program.target.hz > 0 ? program.target.hz : 1;
  const vcpus = Math.max(0, guest.vcpus);
  const acc = new Map<string, Acc>();
  const chains = new Map<number, ChainCost>();
  const operations: NestedOperationEstimate[] = [];
  let l2Cycles = 0;
  const record = (x: Pick<NestedExit, "reason" | "level">, rate: number) => {
    const key = `${x.level}:${x.reason.code}`;
    const c = exitCost(setup, x.reason.code, x.level);
    if (c.chain) chains.set(x.reason.code, c.chain);
    let a = acc.get(key);
    if (!a) {
      a = {
        reason: x.reason.name,
        code: x.reason.code,
        level: x.level,
        rate: 0,
        l0: c.l0,
        l1: c.l1,
        transitions: c.chain ? c.chain.l0Transitions : 1,
        trapped: c.chain ? c.chain.trappedAccesses : 0,
        shadowed: c.chain ? c.chain.shadowedAccesses : 0,
      };
      acc.set(key, a);
    }
    a.rate += rate;
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
    return { leaves, computeCycles: walked.computeCycles };
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
        })),
        exitsPerSecond: rate * executions * perExecution,
        l0CyclesPerExecution: l0,
        l1CyclesPerExecution: l1,
      });
    }
  };
  for (const source of guest.sources) {
    const rate = arrivalRate(source.arrival);
    const { leaves, computeCycles } = leavesOf(source);
    l2Cycles += rate * computeCycles;
    addOps(leaves, rate);
    // Delivery of the source's interrupt (paths have none).
    if (source.kind !== "path") {
      const delivery = decideDelivery(source, setup.ctx01).decision;
      for (const e of delivery.exits) record({ reason: e.reason, level: "L0" }, rate * e.perExecution);
      if (source.kind !== "nmi" && interruptGoesToL1(setup, NESTED_EXIT_ON_INTR))
        record({ reason: reason(EXIT.EXTERNAL_INTERRUPT), level: "L1" }, rate);
    }
  }

  // Idle: the idle periods per second of the single-level estimate's idle model (the busy share
  // barely moves them), each an L2 HLT decided like a written `hlt` (idle halt only).
  if (guest.idle === "halt") {
    const idle = estimateGuest(program, guest.name).paths.find((p) => p.kind === "idle");
    if (idle && idle.executionsPerSecond > 0)
      addOps(
        [{ op: { op: "hlt", span: guest.idleSpan ?? guest.nameSpan }, executions: 1 }],
        idle.executionsPerSecond,
      );
  }

  const byReason: NestedReasonEstimate[] = [];
  let reflected = 0;
  let l0Handled = 0;
  let l1Exits = 0;
  let l0c = 0;
  let l1c = 0;
  for (const a of acc.values()) {
    const total = a.rate * vcpus;
    if (a.level === "L1") {
      reflected += total;
      l1Exits += total * (a.transitions - 1);
    } else l0Handled += total;
    l0c += total * a.l0;
    l1c += total * a.l1;
    byReason.push({
      reason: a.reason,
      code: a.code,
      level: a.level,
      exitsPerSecond: total,
      l0CyclesPerExit: a.l0,
      l1CyclesPerExit: a.l1,
      l0TransitionsPerExit: a.transitions,
      trappedAccessesPerExit: a.trapped,
      shadowedAccessesPerExit: a.shadowed,
    });
  }
  byReason.sort(
    (x, y) =>
      y.exitsPerSecond * (y.l0CyclesPerExit + y.l1CyclesPerExit) -
      x.exitsPerSecond * (x.l0CyclesPerExit + x.l1CyclesPerExit),
  );
  const l2c = l2Cycles * vcpus;
  const busy = l2c + l0c + l1c;
  return {
    guest: guest.name,
    hypervisor: setup.hypervisor.name,
    vmcs01: setup.vmcs01.name,
    vmcs12: setup.vmcs12.name,
    shadowing:
      [...chains.values()][0]?.shadowing ??
      reflectedChainCost(program, setup.hypervisor, EXIT.CPUID).shadowing,
    vcpus,
    l2ExitsPerSecond: reflected + l0Handled,
    reflectedPerSecond: reflected,
    l0HandledPerSecond: l0Handled,
    l1ExitsPerSecond: l1Exits,
    l0ExitsPerSecond: reflected + l0Handled + l1Exits,
    hostCpu: { l2: l2c / hz, l1: l1c / hz, l0: l0c / hz, total: busy / hz },
    overhead: busy > 0 ? (l0c + l1c) / busy : 0,
    byReason,
    chains: [...chains.values()],
    operations,
  };
}
