/**
 * How interrupts, IPIs, NMIs and timers reach a guest (SDM Vol. 3C §26.2 and §30.6, pre-2023 §25.2 and §29.6), and what an idle vCPU costs.
 */
import type { GuestSource, HandlerOp, Program } from "../model/ir";
import { EXIT } from "../vmx/exitReasons";
import { leafCache } from "./exitLeaf";
import {
  ctl,
  type ExitContext,
  exitsWith,
  hex,
  noExit,
  on,
  SDM_COND,
  SDM_OTHER,
  SDM_POSTED,
  state,
} from "./exitRules";
import { memoOf } from "./memo";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// Interrupt delivery and idle

export interface DeliveryDecision {
  /** The decision when the interrupt arrives while the vCPU runs in guest mode. */
  decision: ExitDecision;
  /**
   * Whether the exit is avoided when the vCPU is blocked in the host (after a HLT/MWAIT exit):
   * the interrupt then wakes the vCPU instead (kvm_vcpu_kick), and no VM exit happens because
   * the vCPU is not in VMX non-root operation.
   */
  wakesWhenBlocked: boolean;
}

/**
 * What delivering a source's interrupt costs in exits (per arrival, vCPU in guest mode).
 * Paths are not interrupts: no exit. `irq` exits EXTERNAL_INTERRUPT with external-interrupt
 * exiting unless posted (the source says `posted` and process_posted_interrupts +
 * virtual_interrupt_delivery are in force). IPIs between vCPUs are posted by KVM whenever
 * posted interrupts are on (vmx_deliver_posted_interrupt), otherwise the kick is a host IPI
 * that exits EXTERNAL_INTERRUPT. The guest timer is KVM's emulated LAPIC timer: with the
 * VMX-preemption timer active KVM uses it (vmx_set_hv_timer) and expiry exits PREEMPTION_TIMER;
 * otherwise a host hrtimer interrupt exits EXTERNAL_INTERRUPT. NMIs exit EXCEPTION_NMI with
 * NMI exiting.
 */
export function decideDelivery(source: GuestSource, ctx: ExitContext): DeliveryDecision {
  // Cached with the leaf decisions: the decision depends on the controls and the source's
  // kind, vector and `posted` only.
  const cache = leafCache(ctx);
  const kind = DELIVERY_KINDS[source.kind];
  const operand = source.kind === "irq" ? source.vector * 2 + (source.posted ? 1 : 0) : 0;
  const byKind = cache.get(kind);
  let decision: ExitDecision | undefined;
  if (byKind === undefined) {
    decision = computeDelivery(source, ctx);
    cache.set(kind, { operand, decision, more: undefined });
  } else if (byKind.operand === operand) decision = byKind.decision;
  else {
    byKind.more ??= new Map();
    decision = byKind.more.get(operand);
    if (decision === undefined) {
      decision = computeDelivery(source, ctx);
      byKind.more.set(operand, decision);
    }
  }
  return { decision, wakesWhenBlocked: true };
}

export const DELIVERY_KINDS = {
  path: "delivery:path",
  irq: "delivery:irq",
  ipi: "delivery:ipi",
  nmi: "delivery:nmi",
  timer: "delivery:timer",
} as const;

export function computeDelivery(source: GuestSource, ctx: ExitContext): ExitDecision {
  return computeDeliveryResult(source, ctx).decision;
}

export function computeDeliveryResult(source: GuestSource, ctx: ExitContext): DeliveryDecision {
  const c = ctl();
  const posted = on(ctx, c.postedInterrupts) && on(ctx, c.vid);
  const extControls = state(ctx, c.extInt, c.postedInterrupts, c.vid);
  const external = (what: string): ExitDecision =>
    on(ctx, c.extInt)
      ? exitsWith(
          EXIT.EXTERNAL_INTERRUPT,
          `${what} exits EXTERNAL_INTERRUPT: external-interrupt exiting is 1.`,
          extControls,
          SDM_OTHER,
        )
      : noExit(
          `${what} does not exit: external-interrupt exiting is 0 (the guest IDT takes it directly).`,
          extControls,
          SDM_OTHER,
        );
  switch (source.kind) {
    case "path":
      return {
        decision: noExit("A code path starts without an interrupt.", [], SDM_OTHER),
        wakesWhenBlocked: true,
      };
    case "irq":
      if (source.posted && posted)
        return {
          decision: noExit(
            `Interrupt vector ${hex(source.vector)} is posted: process posted interrupts and virtual-interrupt delivery deliver it without a VM exit.`,
            extControls,
            SDM_POSTED,
            "A blocked vCPU is woken by the wake-up notification vector (POSTED_INTR_WAKEUP_VECTOR) instead.",
          ),
          wakesWhenBlocked: true,
        };
      return {
        decision: external(
          `Interrupt vector ${hex(source.vector)}${source.posted ? " (posted requested, but process posted interrupts or virtual-interrupt delivery is 0)" : ""}`,
        ),
        wakesWhenBlocked: true,
      };
    case "ipi":
      if (posted)
        return {
          decision: noExit(
            "The IPI is posted (KVM vmx_deliver_posted_interrupt) and delivered without a VM exit.",
            extControls,
            SDM_POSTED,
          ),
          wakesWhenBlocked: true,
        };
      return { decision: external("The IPI's kick (a host IPI)"), wakesWhenBlocked: true };
    case "nmi":
      return {
        decision: on(ctx, c.nmiExiting)
          ? exitsWith(
              EXIT.EXCEPTION_NMI,
              "The NMI exits EXCEPTION_NMI: NMI exiting is 1.",
              state(ctx, c.nmiExiting),
              SDM_OTHER,
            )
          : noExit(
              "The NMI is delivered to the guest: NMI exiting is 0.",
              state(ctx, c.nmiExiting),
              SDM_OTHER,
            ),
        wakesWhenBlocked: true,
      };
    case "timer":
      if (on(ctx, c.preemptionTimer))
        return {
          decision: exitsWith(
            EXIT.PREEMPTION_TIMER,
            "The guest's timer expires as the VMX-preemption timer (KVM's hv timer, vmx_set_hv_timer): exits PREEMPTION_TIMER.",
            state(ctx, c.preemptionTimer),
            "SDM Vol. 3C §26.5.1 (older §25.5.1), VMX-Preemption Timer; KVM vmx_set_hv_timer",
          ),
          wakesWhenBlocked: true,
        };
      return {
        decision: external("The timer interrupt (KVM's host hrtimer for the emulated LAPIC timer)"),
        wakesWhenBlocked: true,
      };
  }
}

export interface IdleDecision {
  /** Exits taken once per idle period (when the vCPU goes idle). */
  decision: ExitDecision;
  /**
   * Whether the vCPU is blocked in the host while idle (interrupts wake it without exiting)
   * as opposed to staying in guest mode (halted in the guest, MWAIT in the guest, or polling),
   * where interrupts arrive as they would to a running vCPU.
   */
  blockedInHost: boolean;
  /** Idle polling: the vCPU keeps its core busy in guest mode. */
  polling: boolean;
}

export function decideIdle(ctx: ExitContext): IdleDecision {
  const c = ctl();
  switch (ctx.guest.idle) {
    case "poll":
      return {
        decision: noExit(
          "idle poll: the guest spins in its idle loop without exiting; interrupts find it running.",
          [],
          SDM_COND,
        ),
        blockedInHost: false,
        polling: true,
      };
    case "mwait": {
      if (!on(ctx, c.mwait))
        return {
          decision: noExit(
            "idle mwait: MWAIT does not exit (MWAIT exiting is 0); the vCPU waits in guest mode and interrupts exit as for a running vCPU.",
            state(ctx, c.mwait),
            SDM_COND,
          ),
          blockedInHost: false,
          polling: false,
        };
      const handler = ctx.program.handlers.get(EXIT.MWAIT_INSTRUCTION);
      const blocks = handler ? opsContainHalt(handler.ops, ctx.program) : false;
      return {
        decision: exitsWith(
          EXIT.MWAIT_INSTRUCTION,
          `idle mwait: each idle period starts with an MWAIT exit (MWAIT exiting is 1)${blocks ? "; the handler halts the vCPU" : "; the handler does not halt, so the vCPU returns to its idle loop in guest mode"}.`,
          state(ctx, c.mwait),
          SDM_COND,
        ),
        blockedInHost: blocks,
        polling: false,
      };
    }
    default:
      return on(ctx, c.hlt)
        ? {
            decision: exitsWith(
              EXIT.HLT,
              "idle halt: each idle period starts with a HLT exit (HLT exiting is 1); the vCPU blocks in the host until an interrupt wakes it.",
              state(ctx, c.hlt),
              SDM_COND,
            ),
            blockedInHost: true,
            polling: false,
          }
        : {
            decision: noExit(
              "idle halt: HLT does not exit (HLT exiting is 0); the vCPU halts in guest mode and interrupts exit as for a running vCPU.",
              state(ctx, c.hlt),
              SDM_COND,
            ),
            blockedInHost: false,
            polling: false,
          };
  }
}

/**
 * Whether a handler's operations can halt the vCPU: a `halt` in them, in any nested block, or in
 * any fn they reach through `call`s, however deep (a structural question, as the simulator's
 * handler outcomes ask it: a `halt` inside `repeat 0` or a 0 % arm still counts).
 */
export function opsContainHalt(ops: readonly HandlerOp[], program: Program): boolean {
  const halting = haltingFns(program);
  const scan = scanOps(ops);
  return scan.halts || scan.calls.some((name) => halting.has(name));
}

/**
 * The fns of a program that can reach a `halt`, once per program and in time linear in the call
 * graph: each fn's operations are scanned once for a direct `halt` and the fns it calls, then
 * the fns that halt directly are propagated backwards along the calls (a breadth-first walk of
 * the reversed graph). Reachability is exact in a cyclic graph too (TL110 reports the cycle; as
 * for the costs, going round it again adds nothing), and no fn's answer depends on where the
 * graph was entered.
 */
function haltingFns(program: Program): ReadonlySet<string> {
  const memo = memoOf(program);
  if (memo.haltingFns) return memo.haltingFns;
  const callers = new Map<string, string[]>();
  const halting = new Set<string>();
  const queue: string[] = [];
  for (const [name, fn] of program.fns) {
    const scan = scanOps(fn.ops);
    if (scan.halts) {
      halting.add(name);
      queue.push(name);
    }
    for (const callee of scan.calls) {
      const list = callers.get(callee);
      if (list) list.push(name);
      else callers.set(callee, [name]);
    }
  }
  for (let i = 0; i < queue.length; i++) {
    for (const caller of callers.get(queue[i]!) ?? []) {
      if (halting.has(caller)) continue;
      halting.add(caller);
      queue.push(caller);
    }
  }
  memo.haltingFns = halting;
  return halting;
}

/** A direct `halt` in `ops` (nested blocks included) and the fns they call, by an explicit stack. */
function scanOps(ops: readonly HandlerOp[]): { halts: boolean; calls: string[] } {
  const calls: string[] = [];
  let halts = false;
  const stack: (readonly HandlerOp[])[] = [ops];
  for (let block = stack.pop(); block !== undefined; block = stack.pop()) {
    for (const op of block) {
      if (op.op === "halt") halts = true;
      else if (op.op === "call") calls.push(op.fn);
      else if (op.op === "repeat") stack.push(op.ops);
      else if (op.op === "branch") for (const arm of op.arms) stack.push(arm.ops);
    }
  }
  return { halts, calls };
}
