/**
 * Nested virtualization in the simulator (issue #13): the exit plans of an L2 guest, built from
 * the estimator's own facts — which level handles each L2 exit (analysis/nested/reflect.ts,
 * decideNested) and what a reflected exit costs, step by step (analysis/nested/chain.ts) — so
 * that simulation and estimate agree by construction on stationary loads, as plan.ts does for a
 * single level.
 *
 * - An exit L0 keeps is an ordinary exit plan (L0's `handler`, the transition of vmcs01).
 * - An exit reflected to L1 is a plan whose transition is the chain's first round trip (L2 → L0
 *   exit, L0 → L1 entry) and whose "handler" time is the rest of the chain: nested_vmexit
 *   emulation (+ the shadow sync), L1's handler with its trapped VMREAD/VMWRITE/INVEPT/VMPTRLD
 *   (each a further L0 round trip and emulation), the VMRESUME round trip and nested_vmentry.
 *   Its arms (branches of L1's handler) and effects (halt, kick, inject) come from L1's handler
 *   ops; the means are scaled to the chain's.
 * - An interrupt for L1 with vmcs12's external-interrupt exiting that finds L2 running: one
 *   hardware exit — L0's physical exit (its transition and host IRQ handler), then the reflected
 *   EXTERNAL_INTERRUPT chain less its first round trip (the physical exit's is it: L0 enters L1,
 *   not L2, after vmx_check_nested_events → nested_vmx_vmexit) — one plan, one part into L1.
 * - One that finds the vCPU outside L2: the nested exit L0 synthesizes at the next entry, the
 *   chain less its first round trip, with no L2 exit (analysis/nested/chain.ts
 *   synthesizedExitCost).
 *
 * Each plan carries its parts (level and cycles per exit, for the per-level result) and the
 * timeline segments after its transition (level, state, source), which the recorder writes with
 * their levels.
 */
import {
  type ChainCost,
  type ChainStep,
  reflectedChainCost,
  STEP_VMRESUME,
  synthesizedExitCost,
} from "../analysis/nested/chain";
import { decideNested, interruptGoesToL1, type Level, type NestedSetup } from "../analysis/nested/reflect";
import { l1NotifyExits, l1Sends, l1SideDelivery, nestedDelivery } from "../analysis/nested/wake";
import { handlerKey, handlerOf, handlerTitle } from "../model/handlers";
import type { GuestOp, GuestSource, HandlerOp, Program } from "../model/ir";
import type { Span } from "../source";
import { isControlSet } from "../vmx/controls";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import { L1_NOTIFY_MSR, NESTED_EXIT_ON_INTR } from "../vmx/nested";
import {
  emptyOutcome,
  type FnOutcomes,
  fillOutcomes,
  MAX_OUTCOMES,
  mergeOutcomes,
  scaleTo,
  walkCalledFns,
  walkHandler,
} from "./handlerOutcomes";
import type { ExitPlan } from "./plan";
import { VcpuState } from "./timeline";

/** Timeline levels (Timeline.level): what runs during an interval. */
export const LEVEL_L0 = 0;
export const LEVEL_L1 = 1;
export const LEVEL_L2 = 2;

/** One exit of the plan as the estimator counts it: its level and cycles per exit. */
export interface NestedPart {
  level: Level;
  code: number;
  reason: string;
  /** Expected cycles per exit at L0 and in L1 (the L0 part of a kept exit is measured instead). */
  l0: number;
  l1: number;
  /**
   * Exits into L0 per exit: 1 kept; a chain's 2 + trapped instructions reflected (the L2 exit,
   * the VMRESUME); 1 + trapped synthesized.
   */
  transitions: number;
  trapped: number;
  shadowed: number;
  /** A nested exit L0 synthesizes at an entry: no exit from L2 (vmx_check_nested_events). */
  synthesized?: true;
}

export interface NestedExitPlan {
  parts: NestedPart[];
  /** Segments after the transition, in order: cycles (expected), level, VcpuState, source. */
  segCycles: Float64Array;
  segLevel: Uint8Array;
  segState: Uint8Array;
  segSource: Int32Array;
  /** Sum of segCycles (the expected handler + user space time they split). */
  segTotal: number;
  /**
   * A reflected chain's segments by the side of root mode they are on (analysis/nested/wake.ts
   * RootSide: SIDE_L2, SIDE_L1, SIDE_L0_FOR_L1), where an interrupt for L1 that arrives is L1's
   * own (sim/l1Side.ts); absent: all L0's for L2.
   */
  segSide?: Uint8Array;
  /** The first segment of the chain's VMRESUME (L1's side ends there; sim/l1Side.ts inserts before it). */
  segResumeFrom?: number;
}

/** Sides of root mode a chain's segment is on (NestedExitPlan.segSide). */
export const SIDE_L2 = 0;
export const SIDE_L1 = 1;
export const SIDE_L0_FOR_L1 = 2;

/**
 * What an interrupt for L1 costs when it finds L1's side of root mode (wake.ts l1SideDelivery):
 * cycles per level, exits into L0, and its segments (inserted before the chain's VMRESUME).
 */
export interface L1SidePath {
  l0: number;
  l1: number;
  exits: number;
  segments: NestedExitPlan;
}

/** The run's levels (CompiledGuest.nested). */
export interface NestedRun {
  hypervisor: string;
  vmcs01: string;
  vmcs12: string;
  shadowing: boolean;
}

/**
 * The timeline label of L1's notification exit (trace/exportNested.ts writes it as L1's
 * `kvm_exit MSR_WRITE` + `kvm_msr` + `kvm_entry`; "wrmsr X2APIC_ICR" gives the kvm_msr line).
 */
export const NOTIFY_LABEL = `wrmsr ${L1_NOTIFY_MSR}: L1 notifies an interrupt it sends (an exit of L1 into L0)`;

/**
 * L1's notifications on the sender's vCPU (nestedPlan.ts NestedCompiler.notifyStream): the plan
 * of one, its Exit interval's source and its expected cycles.
 */
export interface NestedNotifyPlan {
  plan: number;
  source: number;
  cyclesPerExit: number;
}

/** Per source plan: its interrupts are L1's (owed a nested exit outside L2); L1's notification per arrival. */
export interface NestedSourceFacts {
  toL1: Uint8Array;
  /** Per source L1's: its delivery when it finds L1 running / L0 running for L1 (sim/l1Side.ts). */
  l1Side: ({ l1: L1SidePath; l0ForL1: L1SidePath } | undefined)[];
  notifyExits: Float64Array;
  notifyCycles: Float64Array;
}

type SourceOf = (label: string, span: Span | undefined) => number;

/**
 * The nested side of compileGuest: decides L2 operations per level and builds the plans of
 * reflected exits. `l0Plan` is compileGuest's own plan of an exit L0 handles.
 */
export class NestedCompiler {
  private readonly reflected = new Map<number, number>();
  private readonly withL1 = new Map<number, number>();
  private synthesized = -2;
  readonly run: NestedRun;

  constructor(
    private readonly program: Program,
    readonly setup: NestedSetup,
    private readonly exits: ExitPlan[],
    /** compileGuest's plan of an exit L0 keeps, with L0's handler specialised by operand (`variant`). */
    private readonly l0Plan: (code: number, variant?: number) => number,
    private readonly sourceOf: SourceOf,
    private readonly fnOutcomes: FnOutcomes,
  ) {
    this.run = {
      hypervisor: setup.hypervisor.name,
      vmcs01: setup.vmcs01.name,
      vmcs12: setup.vmcs12.name,
      shadowing: reflectedChainCost(program, setup.hypervisor, EXIT.CPUID).shadowing,
    };
  }

  /** The exits of a leaf L2 operation: plan and count per execution. */
  decide(op: GuestOp): { plan: number; perExecution: number }[] {
    return decideNested(this.setup, op).exits.map((x) => ({
      // The handler at the exit's level, chosen by the operand (NestedExit.handler), as the estimate's.
      plan:
        x.level === "L0"
          ? this.l0Plan(x.reason.code, x.handler)
          : this.reflectedPlan(x.reason.code, x.handler),
      perExecution: x.perExecution,
    }));
  }

  /**
   * The exit an interrupt source's arrival causes in L2 in guest mode (−1: none), the
   * estimator's delivery (analysis/nested/wake.ts nestedDelivery): one hardware exit, L0's
   * physical exit (vmcs02 has vmcs01's external-interrupt exiting, not its posted interrupts:
   * prepare_vmcs02_early; nested_vmx_l0_wants_exit keeps it), which L0 turns into the nested
   * EXTERNAL_INTERRUPT exit into L1 when vmcs12 has external-interrupt exiting
   * (vmx_check_nested_events → nested_vmx_vmexit); none when L1 posts it into L2 (vmcs12 PI + VID).
   */
  delivery(source: GuestSource): number {
    const d = nestedDelivery(this.setup, source);
    if (d.posted) return -1;
    const exit = d.exits[0];
    if (!exit) return -1;
    if (exit.level === "L0") return this.l0Plan(exit.reason.code);
    const l1Exit = this.reflectedPlan(exit.reason.code);
    // The physical exit L0 takes first (decided on vmcs01): none when vmcs01 lets interrupts
    // through, and the chain alone is the delivery.
    if (!this.physicalExit()) return l1Exit;
    const l0Exit = this.l0Plan(EXIT.EXTERNAL_INTERRUPT);
    const known = this.withL1.get(l0Exit);
    if (known !== undefined) return known;
    const plan = combinePlans(this.exits[l0Exit], this.exits[l1Exit]);
    this.exits.push(plan);
    this.withL1.set(l0Exit, this.exits.length - 1);
    return this.exits.length - 1;
  }

  /** Whether L1 posts this source's interrupts into L2 (delivered without an exit on L2's vCPU). */
  posted(source: GuestSource): boolean {
    return source.kind !== "path" && nestedDelivery(this.setup, source).posted;
  }

  /**
   * Whether an interrupt of this source is L1's (a nested exit into L1 when it finds L2 in guest
   * mode, owed at the next nested entry otherwise); not when L1 posts it into L2: L0 completes
   * the posted interrupt at the entry (vmx_complete_nested_posted_interrupt), no exit into L1.
   */
  toL1(source: GuestSource): boolean {
    if (source.kind === "path") return false;
    const d = nestedDelivery(this.setup, source);
    return !d.posted && d.exits.some((x) => x.level === "L1");
  }

  /** L1's notification of an interrupt it sends (an ICR write on the sender's vCPU): exits into L0 and L0 cycles per arrival. */
  notify(source: GuestSource): { exits: number; cycles: number } {
    if (source.kind === "path") return { exits: 0, cycles: 0 };
    const d = nestedDelivery(this.setup, source);
    return { exits: d.notifyExits, cycles: d.notifyCycles };
  }

  /** Whether vmcs02 exits on external interrupts (vmcs01's pin control: the physical exit). */
  private physicalExit(): boolean {
    return isControlSet(this.setup.ctx01.controls, NESTED_EXIT_ON_INTR);
  }

  /**
   * The nested EXTERNAL_INTERRUPT exit an interrupt for L1 owes when it arrived outside L2 (the
   * vCPU in L0 or L1): L0 synthesizes it at the next nested entry (vmx_check_nested_events →
   * nested_vmx_vmexit), which goes into L1 instead of L2 — the reflected chain with no
   * transition of its own (the exit L0 was finishing paid the entry) and no L2 exit
   * (analysis/nested/chain.ts synthesizedExitCost); −1 when vmcs12 does not exit on interrupts
   * or no source's interrupts are L1's.
   */
  irqExit(): number {
    if (this.synthesized !== -2) return this.synthesized;
    if (!interruptGoesToL1(this.setup, NESTED_EXIT_ON_INTR)) {
      this.synthesized = -1;
      return -1;
    }
    const reflectedIndex = this.reflectedPlan(EXIT.EXTERNAL_INTERRUPT);
    // Only a run with interrupts for L1 owes any: no plan of its own otherwise (every plan draws
    // a per-vCPU fraction at the start, so one more would change the random stream of runs it
    // does not concern).
    if (!this.setup.guest.sources.some((s) => this.toL1(s))) {
      this.synthesized = -1;
      return -1;
    }
    const reflected = this.exits[reflectedIndex];
    const chain = reflectedChainCost(this.program, this.setup.hypervisor, EXIT.EXTERNAL_INTERRUPT);
    const owed = synthesizedExitCost(this.program, chain);
    const nested = reflected.nested!;
    this.exits.push({
      ...reflected,
      transition: 0,
      jitter: 0,
      tailMean: 0,
      nested: {
        ...nested,
        parts: nested.parts.map((part) => ({
          ...part,
          l0: owed.l0Cycles,
          transitions: owed.l0Transitions,
          synthesized: true as const,
        })),
      },
    });
    this.synthesized = this.exits.length - 1;
    return this.synthesized;
  }

  /** Per source plan (coalesce flush sources: undefined), whether it is L1's and L1's notification of it. */
  sourceFacts(sources: readonly (GuestSource | undefined)[]): NestedSourceFacts {
    const n = sources.length;
    const facts: NestedSourceFacts = {
      l1Side: new Array(n).fill(undefined),
      toL1: new Uint8Array(n),
      notifyExits: new Float64Array(n),
      notifyCycles: new Float64Array(n),
    };
    sources.forEach((source, i) => {
      if (!source) return;
      facts.toL1[i] = this.toL1(source) ? 1 : 0;
      if (facts.toL1[i] === 1)
        facts.l1Side[i] = { l1: this.l1SidePath(source, "l1"), l0ForL1: this.l1SidePath(source, "l0ForL1") };
      const notify = this.notify(source);
      facts.notifyExits[i] = notify.exits;
      facts.notifyCycles[i] = notify.cycles;
    });
    return facts;
  }

  /** The L1-side delivery of `source` as segments (levels and labels of wake.ts l1SideDelivery's steps). */
  private l1SidePath(source: GuestSource, side: "l1" | "l0ForL1"): L1SidePath {
    const w = l1SideDelivery(this.setup, source, side);
    const span = this.setup.hypervisor.nameSpan;
    const steps = w.steps.filter((x) => x.cycles > 0);
    return {
      l0: w.l0,
      l1: w.l1,
      exits: w.l0Exits,
      segments: {
        parts: [],
        segCycles: Float64Array.from(steps.map((x) => x.cycles)),
        segLevel: Uint8Array.from(steps.map((x) => (x.level === "L0" ? LEVEL_L0 : LEVEL_L1))),
        segState: Uint8Array.from(steps.map(() => VcpuState.Handler)),
        segSource: Int32Array.from(steps.map((x) => this.sourceOf(`${x.level}: ${x.label}`, span))),
        segTotal: w.l0 + w.l1,
        segSide: Uint8Array.from(steps.map(() => SIDE_L0_FOR_L1)),
      },
    };
  }

  /**
   * L1's notification of the interrupts it sends (an `ipi`, a `posted` irq: its ICR write,
   * analysis/nested/wake.ts l1NotifyExits) as an exit of the sender's vCPU: L1 runs there, its
   * write exits to L0 (vmcs01's transition and L0's handler, the plan of an exit L0 keeps) and
   * L0 enters L1 again — no L2 exit, so the plan has no parts (the statistics count it:
   * nestedNotify). Undefined when L1 sends none or vmcs01 passes the write through.
   */
  notifyStream(): NestedNotifyPlan | undefined {
    if (!this.setup.guest.sources.some((s) => s.kind !== "path" && l1Sends(s))) return undefined;
    const exit = l1NotifyExits(this.setup)[0];
    if (!exit) return undefined;
    const base = this.exits[this.l0Plan(exit.reason.code, exit.handler)];
    this.exits.push({
      ...base,
      nested: {
        parts: [],
        segCycles: new Float64Array(0),
        segLevel: new Uint8Array(0),
        segState: new Uint8Array(0),
        segSource: new Int32Array(0),
        segTotal: 0,
      },
    });
    const d = nestedDelivery(
      this.setup,
      this.setup.guest.sources.find((s) => s.kind !== "path" && l1Sends(s))!,
    );
    return {
      plan: this.exits.length - 1,
      source: this.sourceOf(NOTIFY_LABEL, this.setup.hypervisor.nameSpan),
      cyclesPerExit: d.notifyExits > 0 ? d.notifyCycles / d.notifyExits : 0,
    };
  }

  /** Every plan of the run gets its parts: an L0 plan is one kept exit. */
  finish(): void {
    for (const e of this.exits) {
      if (e.nested !== null) continue;
      e.nested = {
        parts: [
          {
            level: "L0",
            code: e.code,
            reason: e.name,
            l0: 0,
            l1: 0,
            transitions: 1,
            trapped: 0,
            shadowed: 0,
          },
        ],
        segCycles: new Float64Array(0),
        segLevel: new Uint8Array(0),
        segState: new Uint8Array(0),
        segSource: new Int32Array(0),
        segTotal: 0,
      };
    }
  }

  /**
   * The plan of an exit of `code` reflected to L1, run by L1's handler specialised by operand
   * at `variant` (NestedExit.handler), else L1's general handler.
   */
  reflectedPlan(code: number, variant?: number): number {
    const key = handlerKey(code, variant);
    const known = this.reflected.get(key);
    if (known !== undefined) return known;
    const program = this.program;
    const costs = program.target.costs;
    const chain = reflectedChainCost(program, this.setup.hypervisor, code, variant);
    const handler = handlerOf(this.setup.hypervisor, code, variant);
    const ops: HandlerOp[] = handler ? handler.ops : [];
    if (handler) walkCalledFns(ops, program, costs, this.fnOutcomes);
    let outcomes = handler ? walkHandler(ops, program, costs, this.fnOutcomes) : [emptyOutcome(1)];
    if (outcomes.length > MAX_OUTCOMES) outcomes = [mergeOutcomes(outcomes)];
    // The first round trip is the transition; the rest of the chain is the exit's "handler"
    // time. As for a single level, an L1 `halt`'s wake-up (in the chain's L1 cycles) is spent
    // when the vCPU wakes.
    const transition = costs.round_trip.cycles;
    const wake = costs.halt_wake?.cycles ?? 0;
    const haltShare = outcomes.reduce((sum, o) => sum + (o.halt ? o.probability : 0), 0);
    for (const o of outcomes) {
      o.handler += o.userspace;
      o.userspace = 0;
    }
    scaleTo(
      outcomes,
      (o) => o.handler,
      (o, v) => {
        o.handler = v;
      },
      Math.max(0, chain.total - transition - haltShare * wake),
    );
    const def = exitReasonByCode(code);
    const name = def?.name ?? `REASON_${code}`;
    const handlerSource = handler
      ? this.sourceOf(`L1 handler ${handler.operand ? handlerTitle(handler) : name}`, handler.reasonSpan)
      : this.sourceOf(`L1 handler ${name} (none written)`, this.setup.hypervisor.nameSpan);
    const n = outcomes.length;
    const plan: ExitPlan = {
      code,
      name,
      transition,
      jitter: 0,
      tailMean: 0,
      cumulative: new Float64Array(n),
      handler: new Float64Array(n),
      userspace: new Float64Array(n),
      halt: new Uint8Array(n),
      wake: new Float64Array(n),
      memoryAccess: def?.memoryAccess === true,
      kicks: new Uint8Array(n),
      injects: [],
      hasEffects: false,
      handlerSource,
      hasHandler: true,
      nested: null,
    };
    fillOutcomes(plan, outcomes, wake, handler !== undefined, false);
    plan.nested = chainPlan(chain, name, handlerSource, this.sourceOf, this.setup.hypervisor.nameSpan);
    this.exits.push(plan);
    if (handler?.operand) plan.operand = handler.operand.label;
    this.reflected.set(key, this.exits.length - 1);
    return this.exits.length - 1;
  }
}

/** The reflected part of a chain and its timeline segments (the first round trip excluded). */
function chainPlan(
  chain: ChainCost,
  reason: string,
  handlerSource: number,
  sourceOf: SourceOf,
  span: Span,
): NestedExitPlan {
  const cycles: number[] = [];
  const levels: number[] = [];
  const states: number[] = [];
  const sources: number[] = [];
  const sides: number[] = [];
  let resumeFrom = -1;
  const push = (c: number, level: number, state: number, source: number, side = SIDE_L2) => {
    if (!(c > 0)) return;
    cycles.push(c);
    levels.push(level);
    states.push(state);
    sources.push(source);
    sides.push(side);
  };
  const l0Step = (s: ChainStep) => {
    if (s.label === STEP_VMRESUME && resumeFrom < 0) resumeFrom = cycles.length;
    push(
      s.cycles,
      LEVEL_L0,
      s.label.includes("→") && s.label.includes("entry") ? VcpuState.Exit : VcpuState.Handler,
      sourceOf(`L0: ${s.label}`, span),
    );
  };
  const steps = chain.steps;
  const trappedStep = steps.find((s) => s.trapped === true);
  for (let i = 1; i < steps.length; i++) {
    const s = steps[i];
    if (s.trapped === true) continue; // interleaved with L1's handler below
    if (s.level === "L0") {
      l0Step(s);
      continue;
    }
    // L1's handler, cut by each trapped instruction (in handler order) at equal slices: the
    // chain has L1's cycles and the instructions' order, not where between them each runs.
    const emulations: { cycles: number; source: number }[] = [];
    let sum = 0;
    for (const t of chain.trappedOps) {
      const times = Math.round(t.weight);
      const label = `L0 emulating ${t.op.toUpperCase()}${t.field ? ` ${t.field}` : ""} (L1 trapped)`;
      for (let k = 0; k < times; k++) {
        emulations.push({ cycles: t.cycles, source: sourceOf(label, t.span ?? span) });
        sum += t.cycles;
      }
    }
    const trappedCycles = trappedStep?.cycles ?? 0;
    if (trappedCycles > 0 && emulations.length === 0)
      emulations.push({ cycles: trappedCycles, source: sourceOf(`L0: ${trappedStep!.label}`, span) });
    // Their expected total is the chain's trapped step (branch weights need not round evenly).
    const scale = sum > 0 ? trappedCycles / sum : 1;
    const slice = s.cycles / (emulations.length + 1);
    // L1's side of root mode (wake.ts chainL1Side): its handler, and L0 emulating its trapped instructions.
    push(slice, LEVEL_L1, VcpuState.Handler, handlerSource, SIDE_L1);
    for (const e of emulations) {
      push(e.cycles * scale, LEVEL_L0, VcpuState.Handler, e.source, SIDE_L0_FOR_L1);
      push(slice, LEVEL_L1, VcpuState.Handler, handlerSource, SIDE_L1);
    }
  }
  let segTotal = 0;
  for (const c of cycles) segTotal += c;
  return {
    parts: [
      {
        level: "L1",
        code: chain.reasonCode,
        reason,
        l0: chain.l0Cycles,
        l1: chain.l1Cycles,
        transitions: chain.l0Transitions,
        trapped: chain.trappedAccesses,
        shadowed: chain.shadowedAccesses,
      },
    ],
    segCycles: Float64Array.from(cycles),
    segLevel: Uint8Array.from(levels),
    segState: Uint8Array.from(states),
    segSource: Int32Array.from(sources),
    segTotal,
    segSide: Uint8Array.from(sides),
    ...(resumeFrom >= 0 ? { segResumeFrom: resumeFrom } : {}),
  };
}

/**
 * L0's physical exit followed by the reflected chain, one hardware exit: the physical exit's
 * transition is the chain's first round trip (L2 → L0 exit, and the entry goes into L1), then
 * L0's host IRQ handler (handle_external_interrupt_irqoff), then the rest of the chain. One part,
 * the exit into L1, whose L0 cycles the run draws (nestedResult.ts).
 */
function combinePlans(l0: ExitPlan, l1: ExitPlan): ExitPlan {
  const chain = l1.nested!;
  const n = l0.cumulative.length;
  const handler = new Float64Array(n);
  for (let i = 0; i < n; i++) handler[i] = l0.handler[i] + chain.segTotal;
  // Segments: L0's handler and user space time (scaled at record time with the drawn arm), then
  // the chain after its first round trip.
  const l0Mean = meanOf(l0, l0.handler) + meanOf(l0, l0.userspace);
  const cycles = [l0Mean, ...chain.segCycles];
  const levels = [LEVEL_L0, ...chain.segLevel];
  const states = [VcpuState.Handler, ...chain.segState];
  const sources = [l0.handlerSource, ...chain.segSource];
  return {
    ...l0,
    handler,
    nested: {
      parts: chain.parts,
      segCycles: Float64Array.from(cycles),
      segLevel: Uint8Array.from(levels),
      segState: Uint8Array.from(states),
      segSource: Int32Array.from(sources),
      segTotal: cycles.reduce((x, y) => x + y, 0),
      // L0's host IRQ handler first: L0's for L2.
      ...(chain.segSide ? { segSide: Uint8Array.from([SIDE_L2, ...chain.segSide]) } : {}),
      ...(chain.segResumeFrom !== undefined ? { segResumeFrom: chain.segResumeFrom + 1 } : {}),
    },
  };
}

function meanOf(plan: ExitPlan, values: Float64Array): number {
  let mean = 0;
  let previous = 0;
  for (let i = 0; i < values.length; i++) {
    mean += (plan.cumulative[i] - previous) * values[i];
    previous = plan.cumulative[i];
  }
  return mean;
}
