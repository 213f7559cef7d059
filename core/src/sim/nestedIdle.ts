/**
 * The idle L2 in the simulator (docs/simulator.md "Nested idle"): who blocks its vCPU and what
 * its wake-up costs per level, from the estimator's own facts (analysis/nested/wake.ts idleMode,
 * wakeChain, idleWindowCycles; KVM functions in core/src/vmx/nested.ts NESTED_HALT_*).
 *
 * - L1 blocks (vmcs12 HLT exiting): L2's HLT is reflected to L1, whose KVM blocks the vCPU
 *   (handle_halt → kvm_emulate_halt → kvm_vcpu_halt); L1 then idles in turn, its own HLT exits to
 *   L0 (vmcs01 HLT exiting) and L0 blocks L1's vCPU. The idle exit's plan is the reflected HLT
 *   chain up to there: without its VMRESUME and L1's wake-up, which follow the wake-up (the
 *   plan's `wake`, spent when the vCPU wakes or at once when an event is already pending). On
 *   the wake-up: L0 wakes L1, L1 wakes its vCPU thread, injects the interrupt into L2 (VMWRITE
 *   VM_ENTRY_INTR_INFO_FIELD, trapped unless shadowed; GUEST_INTR_STATUS when L1 posted it)
 *   and VMRESUMEs.
 * - L0 blocks (vmcs01 HLT exiting only): L0 keeps the HLT and blocks the vCPU in guest mode; an
 *   interrupt for L1 wakes it and vmx_check_nested_events synthesizes the nested
 *   EXTERNAL_INTERRUPT exit (nested_vmx_vmexit) — its chain less the round trip the HLT exit paid
 *   — or, when L1 posted it, L0 completes it at the entry (vmx_complete_nested_posted_interrupt).
 *
 * The interrupt that wakes a blocked L2 takes this chain instead of an owed nested exit. Where
 * L0's kvm_vcpu_halt blocks the vCPU (an L0 block, or L1's own HLT exiting), L0 halt-polls
 * first (the file's host settings): a poll that catches the arrival saves L0's halt_wake, as in
 * the estimator (estimate.ts, the single-level host terms).
 *
 * L1's own halt polling (the hypervisor's `halt_poll`, KVM's defaults; analysis/nested/wake.ts
 * l1PollsIdle): when L1 blocks, its kvm_vcpu_halt first spins its per-vCPU window (its own
 * grow_halt_poll_ns / shrink_halt_poll_ns, a second HostRuntime) as L1 guest code — the timeline's
 * `L1: L1 polling` segments; an arrival then takes the polled chain (wakeChain's `l1Polled`: no
 * L1 HLT, no L0 block, no L1 halt_wake). A window that passes is followed by L1's HLT exit up to
 * L0's block (SEG_L1_HALT_BEFORE_BLOCK, spent at the halt rather than in the idle exit), L0's poll
 * and block as before (the engine's hooks: sim/l1Poll.ts).
 */

import { handlerCost } from "../analysis/cost";
import { decideLeaf } from "../analysis/exits";
import { type ChainStep, reflectedChainCost } from "../analysis/nested/chain";
import type { NestedSetup } from "../analysis/nested/reflect";
import { type IdleMode, idleMode, l0BlocksIdle, l1PollsIdle, wakeChain } from "../analysis/nested/wake";
import type { GuestSource, Program } from "../model/ir";
import { l1HaltPoll } from "../model/statements/host";
import type { Span } from "../source";
import { EXIT } from "../vmx/exitReasons";
import type { ResolvedHost } from "./hostState";
import { LEVEL_L0, LEVEL_L1, type NestedExitPlan } from "./nestedPlan";
import type { ExitPlan } from "./plan";
import { VcpuState } from "./timeline";

/**
 * The labels of the idle plan's own segments (beyond the chain's and the wake-up steps', wake.ts
 * WAKE_*): trace/exportNested.ts writes L1's HLT exit at the first and the entry into L1 at the
 * second.
 */
export const SEG_L1_HALT_BEFORE_BLOCK = "L0: L1 idles, its HLT → L0, L0 blocks L1's vCPU";
export const SEG_L1_THREAD_WAKE = "L1 wakes the vCPU's thread (halt_wake)";
export const SEG_L0_HALT_WAKE = "L0: L0 wakes the vCPU (halt_wake)";
/**
 * L1's HLT exit up to L0's block after L1's own poll window passed (spent at the halt, and always
 * followed by a block: trace/exportNested.ts writes L1's HLT at it when a wake-up follows).
 */
export const SEG_L1_HALT_AFTER_POLL = "L0: L1's poll window passed: its HLT → L0, L0 blocks L1's vCPU";
/** L1 spins in its kvm_vcpu_halt poll loop (L1 guest mode on vmcs01, no exit). */
export const SEG_L1_POLLING = "L1 polling (kvm_vcpu_halt in L1, its halt-poll window)";

/** L1's own halt polling of the idle L2's vCPU (l1PollsIdle). */
export interface L1PollPlan {
  /** L1's settings, for its per-vCPU window (a HostRuntime of its own). */
  host: ResolvedHost;
  /** L1's HLT exit up to L0's block, spent when L1's window passes (0 when vmcs01 lets HLT through). */
  preBlock: number;
  /** L1's halt_wake in the idle exit's `wake`, which a caught arrival does not spend. */
  l1Wake: number;
  polling: NestedExitPlan;
  preBlockSegments: NestedExitPlan;
}

/** The wake-up of a blocked idle L2 by one arrival of a source, beyond the idle plan's own `wake`. */
export interface NestedWakePlan {
  /** Cycles at L0 and in L1, and exits into L0 (L1's HLT, its trapped VMWRITE…). */
  l0: number;
  l1: number;
  exits: number;
  /** Timeline segments of the whole wake-up (the idle plan's `wake` part included). */
  segments: NestedExitPlan;
  /** The same when L0's halt poll caught the arrival: without L0's halt_wake. */
  polledSegments: NestedExitPlan;
  /** When L1's own halt poll caught it (wakeChain's `l1Polled`): its cycles, exits and segments. */
  l1Polled?: { l0: number; l1: number; exits: number; segments: NestedExitPlan };
}

export interface NestedIdlePlan {
  mode: IdleMode;
  /** The idle loop's exit plan (its own copy: a written `hlt` keeps the shared one). */
  idleExit: number;
  /** Per source plan (coalesce flush sources included): the wake-up its arrival causes. */
  wake: NestedWakePlan[];
  /** Whether L0's kvm_vcpu_halt blocks the vCPU (its halt polling acts: wake.ts l0BlocksIdle). */
  polls: boolean;
  /** L0's halt_wake in every wake-up, which a successful poll does not spend. */
  l0Wake: number;
  /**
   * L1 blocks and an event is already pending at the entry (kvm_vcpu_halt returns at once): the
   * idle exit's `wake` as segments (L1's thread wake, the VMRESUME). L1's own HLT exit is
   * counted with a wake-up only (as the estimator does), so a trace of the timeline writes it
   * only when the vCPU blocked (trace/exportNested.ts).
   */
  pendingSegments?: NestedExitPlan;
  /** L1 blocks and polls first (l1PollsIdle): its poll's plan. */
  l1Poll?: L1PollPlan;
}

type SourceOf = (label: string, span: Span | undefined) => number;

const emptySegments = (): NestedExitPlan => ({
  parts: [],
  segCycles: new Float64Array(0),
  segLevel: new Uint8Array(0),
  segState: new Uint8Array(0),
  segSource: new Int32Array(0),
  segTotal: 0,
});

class Segments {
  readonly cycles: number[] = [];
  readonly levels: number[] = [];
  readonly states: number[] = [];
  readonly sources: number[] = [];
  push(c: number, level: number, state: number, source: number): void {
    if (!(c > 0)) return;
    this.cycles.push(c);
    this.levels.push(level);
    this.states.push(state);
    this.sources.push(source);
  }
  plan(): NestedExitPlan {
    return {
      parts: [],
      segCycles: Float64Array.from(this.cycles),
      segLevel: Uint8Array.from(this.levels),
      segState: Uint8Array.from(this.states),
      segSource: Int32Array.from(this.sources),
      segTotal: this.cycles.reduce((x, y) => x + y, 0),
    };
  }
}

/** A round trip's step is the transition (as nestedPlan.ts chainPlan); the rest handler time. */
const stateOf = (label: string) =>
  label.includes("→") && label.includes("entry") ? VcpuState.Exit : VcpuState.Handler;

/** Cycles of L1's own HLT exit up to L0's block (L0's HLT handler less its wake-up); 0 when vmcs01 lets it through. */
function l1HaltBeforeBlock(program: Program, setup: NestedSetup, span: Span): number {
  const own = decideLeaf({ op: "hlt", span }, setup.ctx01).exits;
  if (own.length === 0) return 0;
  let c = 0;
  for (const e of own) c += e.perExecution * handlerCost(program, e.reason.code).total;
  return Math.max(0, c - program.target.costs.halt_wake.cycles);
}

/**
 * The idle plan of an `idle halt` L2 whose HLT blocks at some level, or undefined. `shared` is
 * the plan the idle HLT decides to (decideNested); `reflectedSegments` the chain segments of a
 * reflected reason (nestedPlan.ts chainPlan, the first round trip excluded).
 */
export function nestedIdlePlan(
  setup: NestedSetup,
  exits: ExitPlan[],
  shared: number,
  sources: readonly (GuestSource | undefined)[],
  reflectedSegments: (code: number) => NestedExitPlan | null,
  sourceOf: SourceOf,
): NestedIdlePlan | undefined {
  const program = setup.program;
  const mode = idleMode(setup);
  if (mode === "none" || shared < 0) return undefined;
  const span = setup.guest.idleSpan ?? setup.guest.nameSpan;
  const base = exits[shared];
  const plan: ExitPlan = {
    ...base,
    handler: Float64Array.from(base.handler),
    wake: Float64Array.from(base.wake),
  };
  const costs = program.target.costs;
  const haltWake = costs.halt_wake.cycles;
  const src = (label: string) => sourceOf(label, span);
  // The wake-up's parts common to every source: L1 mode — L1's wake-up of its vCPU thread and
  // the VMRESUME (after the injection); L0 mode — L0's halt_wake.
  let threadWake = 0;
  let resume: ChainStep[] = [];
  let preBlock = 0;
  let pendingSegments: NestedExitPlan | undefined;
  const l1Polls = l1PollsIdle(setup, mode);
  if (mode === "L1") {
    const chain = reflectedChainCost(program, setup.hypervisor, EXIT.HLT);
    preBlock = l1HaltBeforeBlock(program, setup, span);
    // Up to the block: the chain without its VMRESUME and L1's wake-up, plus L1's own HLT exit —
    // which, when L1 polls first, is spent at the halt once L1's window has passed (beginL1Poll):
    // the handler stops at L1's block, the `wake` still omits L1's HLT exit (the wake-up chain has it).
    const delta = chain.resumeCycles - (l1Polls ? 0 : preBlock);
    for (let k = 0; k < plan.handler.length; k++) {
      if (plan.halt[k] !== 1) continue;
      const d = Math.min(plan.handler[k], Math.max(-plan.wake[k], delta));
      plan.handler[k] -= d;
      plan.wake[k] += d;
    }
    const steps = chain.steps;
    let lastL1 = -1;
    steps.forEach((s, i) => {
      if (s.level === "L1") lastL1 = i;
    });
    resume = steps.slice(lastL1 + 1).filter((s) => s.trapped !== true);
    if (base.nested) {
      // The idle exit's own segments: the chain's, less the resume steps at their end, then L1's HLT.
      const n = base.nested.segCycles.length - resume.filter((s) => s.cycles > 0).length;
      const pre = new Segments();
      for (let i = 0; i < n; i++)
        pre.push(
          base.nested.segCycles[i],
          base.nested.segLevel[i],
          base.nested.segState[i],
          base.nested.segSource[i],
        );
      if (!l1Polls) pre.push(preBlock, LEVEL_L0, VcpuState.Handler, src(SEG_L1_HALT_BEFORE_BLOCK));
      plan.nested = { ...pre.plan(), parts: base.nested.parts };
    }
    threadWake = chain.l1WakeCycles;
    const seg = new Segments();
    seg.push(threadWake, LEVEL_L1, VcpuState.Handler, src(SEG_L1_THREAD_WAKE));
    for (const s of resume)
      seg.push(
        s.cycles,
        s.level === "L0" ? LEVEL_L0 : LEVEL_L1,
        stateOf(s.label),
        src(`${s.level}: ${s.label}`),
      );
    pendingSegments = seg.plan();
  }
  exits.push(plan);
  const idleExit = exits.length - 1;

  const polls = l0BlocksIdle(setup, mode);
  /**
   * A source's wake-up segments; `polled`: L0's poll caught the arrival (no L0 halt_wake);
   * `l1Polled`: L1's own poll did (no L1 HLT, no L1 thread wake-up).
   */
  const wakeSegments = (
    source: GuestSource | undefined,
    polled: boolean,
    l1Polled = false,
  ): NestedExitPlan => {
    const w = wakeChain(setup, mode, source, l1Polled);
    const seg = new Segments();
    const stepSeg = (s: ChainStep, cycles = s.cycles) =>
      seg.push(
        cycles,
        s.level === "L0" ? LEVEL_L0 : LEVEL_L1,
        stateOf(s.label),
        src(`${s.level}: ${s.label}`),
      );
    if (mode === "L1") {
      // L0 wakes L1 (the rest of L1's own HLT step, its part before the block already on the
      // timeline; none when L0's poll caught the arrival), L1 wakes its vCPU thread, injects,
      // VMRESUMEs.
      let rest = w.steps;
      const first = w.steps[0];
      if (!l1Polled && polls && first && first.level === "L0" && first.traps > 0) {
        if (!polled) stepSeg(first, first.cycles - preBlock);
        rest = w.steps.slice(1);
      }
      if (!l1Polled) seg.push(threadWake, LEVEL_L1, VcpuState.Handler, src(SEG_L1_THREAD_WAKE));
      for (const s of rest) stepSeg(s);
      for (const s of resume) stepSeg(s);
    } else {
      if (!polled) seg.push(haltWake, LEVEL_L0, VcpuState.Handler, src(SEG_L0_HALT_WAKE));
      // The synthesized nested exit: the EXTERNAL_INTERRUPT chain's segments (its first round trip excluded).
      const synthesized = w.steps.some((s) => s.level === "L1")
        ? reflectedSegments(EXIT.EXTERNAL_INTERRUPT)
        : null;
      if (synthesized && Math.abs(synthesized.segTotal - (w.l0 + w.l1)) < 1e-6) appendAll(seg, synthesized);
      else for (const s of w.steps) stepSeg(s);
    }
    return seg.cycles.length > 0 ? seg.plan() : emptySegments();
  };
  const wake = sources.map((source): NestedWakePlan => {
    const w = wakeChain(setup, mode, source);
    const p = l1Polls ? wakeChain(setup, mode, source, true) : undefined;
    return {
      l0: w.l0,
      l1: w.l1,
      exits: w.l0Exits,
      segments: wakeSegments(source, false),
      polledSegments: wakeSegments(source, true),
      ...(p
        ? { l1Polled: { l0: p.l0, l1: p.l1, exits: p.l0Exits, segments: wakeSegments(source, true, true) } }
        : {}),
    };
  });
  let l1Poll: L1PollPlan | undefined;
  if (l1Polls) {
    const settings = l1HaltPoll(setup.hypervisor);
    const one = (c: number, level: number, state: number, label: string) => {
      const seg = new Segments();
      seg.push(Math.max(c, 1), level, state, src(label));
      return seg.plan();
    };
    l1Poll = {
      host: {
        haltPollNs: settings.haltPollNs.value,
        haltPollGrow: settings.haltPollGrow.value,
        haltPollGrowStartNs: settings.haltPollGrowStartNs.value,
        haltPollShrink: settings.haltPollShrink.value,
        pleWindowGrowth: false,
        pleWindowGrow: 0,
        pleWindowShrink: 0,
        pleWindowMax: 0,
        pcpus: 0,
        pinned: false,
        preemptRate: 0,
        preemptSec: 0,
      },
      preBlock,
      l1Wake: threadWake,
      polling: one(1, LEVEL_L1, VcpuState.Polling, `L1: ${SEG_L1_POLLING}`),
      preBlockSegments: one(preBlock, LEVEL_L0, VcpuState.Handler, SEG_L1_HALT_AFTER_POLL),
    };
  }
  return {
    mode,
    idleExit,
    wake,
    polls,
    l0Wake: polls ? haltWake : 0,
    pendingSegments,
    ...(l1Poll ? { l1Poll } : {}),
  };
}

function appendAll(seg: Segments, p: NestedExitPlan): void {
  for (let i = 0; i < p.segCycles.length; i++)
    seg.push(p.segCycles[i], p.segLevel[i], p.segState[i], p.segSource[i]);
}
