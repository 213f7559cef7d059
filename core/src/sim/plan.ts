/**
 * Compiles a guest of the resolved program into the simulator's run-time form: per source a
 * small bytecode over typed arrays, and per exit reason an "exit plan" with its handler's
 * outcomes (branch arms) already costed. Every exit decision (decideExit) and handler cost
 * (handlerCost) is asked once here, never per event, and they are the same functions the static
 * estimator uses, so simulation and estimate agree by construction on stationary workloads.
 */
import { effectiveControls } from "../analysis/effective";
import { vmcsLookup } from "../analysis/exitLookup";
import { decideDelivery, decideExit, decideIdle, type ExitContext } from "../analysis/exits";
import { nestedSetup } from "../analysis/nested/reflect";
import { exitCost, vcpuMayMigrate } from "../analysis/transitionCost";
import type { ExitDecision } from "../analysis/types";
import { handlerKey, handlerOf, handlerTitle } from "../model/handlers";
import type { GuestOp, Program } from "../model/ir";
import type { Position, Span } from "../source";
import { preemptionTimerRate } from "../vmx/capabilities";
import { CONTROL, isControlSet } from "../vmx/controls";
import { exceptionByMnemonic } from "../vmx/exceptions";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import {
  OP_BRANCH,
  OP_COALESCE,
  OP_COMPUTE,
  OP_END,
  OP_EXIT,
  OP_FRACTIONAL_EXIT,
  OP_JUMP,
  OP_PAUSE_LOOP,
  OP_REPEAT,
  OP_REPEAT_END,
  OP_TSX,
  OP_TSX_END,
} from "./bytecode";
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
import { nestedIdlePlan } from "./nestedIdle";
import { NestedCompiler } from "./nestedPlan";
import { straightPlans } from "./straightPlan";
import type { TimelineSource } from "./timeline";

export * from "./bytecode";
export type { HandlerOutcome } from "./handlerOutcomes";
export type { StraightPlans } from "./straightPlan";

import type { CoalescePlans, CompiledGuest, ExitPlan, SourcePlan } from "./planTypes";

export type { CoalescePlans, CompiledGuest, ExitPlan, SourcePlan } from "./planTypes";

/** The PLE exit's reason (the engine checks it for a PAUSE loop's exit). */
export const REASON_PAUSE_INSTRUCTION = EXIT.PAUSE_INSTRUCTION;

/** NMI's vector (SDM Vol. 3A §6.3.1, Table 6-1). */
const NMI_VECTOR = exceptionByMnemonic("NMI")?.vector ?? -1;

export function compileGuest(
  program: Program,
  guestName: string,
  positionAt?: (offset: number) => Position,
): CompiledGuest {
  const guest = program.guests.get(guestName);
  if (!guest) throw new Error(`no guest named '${guestName}'`);
  const vmcs = program.vmcs.get(guest.vmcs);
  if (!vmcs) throw new Error(`guest '${guestName}' runs on unknown vmcs '${guest.vmcs}'`);
  const target = program.target;
  const controls = effectiveControls(vmcs, target);
  const ctx: ExitContext = { program, guest, vmcs, controls };
  const costs = target.costs;
  const warnings: string[] = [];
  // An L2 guest: exits L0 keeps run on vmcs02, whose transition is L0's (vmcs01).
  const nestedLevels = nestedSetup(program, guest);
  const costVmcs = nestedLevels ? nestedLevels.vmcs01 : vmcs;

  const timelineSources: TimelineSource[] = [];
  const sourceIndex = new Map<string, number>();
  const sourceOf = (label: string, span: Span | undefined): number => {
    if (!span) return -1;
    const key = `${span.start}:${span.end}:${label}`;
    const known = sourceIndex.get(key);
    if (known !== undefined) return known;
    const pos = positionAt ? positionAt(span.start) : { line: 0, character: 0 };
    timelineSources.push({
      label,
      line: pos.line,
      character: pos.character,
      start: span.start,
      end: span.end,
    });
    sourceIndex.set(key, timelineSources.length - 1);
    return timelineSources.length - 1;
  };

  // ---- exit plans ----
  const exits: ExitPlan[] = [];
  const exitByCode = new Map<number, number>();
  const fnOutcomes: FnOutcomes = new Map();
  // One plan per (reason, handler): a handler specialised by operand (ExitEffect.handler) has
  // its own; exitByCode keeps the general handler's under the bare reason code.
  const exitPlan = (code: number, variant?: number): number => {
    const key = handlerKey(code, variant);
    const known = exitByCode.get(key);
    if (known !== undefined) return known;
    const def = exitReasonByCode(code);
    const handler = handlerOf(program, code, variant);
    const cost = exitCost(program, costVmcs, code, vcpuMayMigrate(guest), variant);
    if (handler) walkCalledFns(handler.ops, program, costs, fnOutcomes);
    let outcomes = handler ? walkHandler(handler.ops, program, costs, fnOutcomes) : [emptyOutcome(1)];
    if (outcomes.length > MAX_OUTCOMES) outcomes = [mergeOutcomes(outcomes)];
    // handlerCost charges a `halt`'s wake-up (halt_wake) to the exit that blocked; the engine
    // spends that time when the vCPU wakes, so it is kept apart from the handler's own time.
    const wake = costs.halt_wake?.cycles ?? 0;
    const haltShare = outcomes.reduce((sum, o) => sum + (o.halt ? o.probability : 0), 0);
    const handlerTarget = handler ? cost.handler - haltShare * wake : cost.handler;
    // The shape (which arm, which effects) comes from the handler's ops; the means are scaled
    // to handlerCost's, so the simulated mean equals the estimator's exactly.
    scaleTo(
      outcomes,
      (o) => o.handler,
      (o, v) => {
        o.handler = v;
      },
      Math.max(0, handlerTarget),
    );
    scaleTo(
      outcomes,
      (o) => o.userspace,
      (o, v) => {
        o.userspace = v;
      },
      cost.userspace,
    );
    const n = outcomes.length;
    const plan: ExitPlan = {
      code,
      name: def?.name ?? `REASON_${code}`,
      transition: cost.transitionDetail.body,
      jitter: cost.transitionDetail.jitter,
      tailMean: cost.transitionDetail.tailMean,
      cumulative: new Float64Array(n),
      handler: new Float64Array(n),
      userspace: new Float64Array(n),
      halt: new Uint8Array(n),
      wake: new Float64Array(n),
      memoryAccess: def?.memoryAccess === true,
      kicks: new Uint8Array(n),
      injects: [],
      hasEffects: false,
      handlerSource: handler
        ? sourceOf(
            `handler ${handler.operand ? handlerTitle(handler) : (def?.name ?? code)}`,
            handler.reasonSpan,
          )
        : -1,
      hasHandler: handler !== undefined,
      nested: null,
    };
    fillOutcomes(plan, outcomes, wake, handler !== undefined, true);
    exits.push(plan);
    if (handler?.operand) plan.operand = handler.operand.label;
    exitByCode.set(key, exits.length - 1);
    return exits.length - 1;
  };

  const nested = nestedLevels
    ? new NestedCompiler(program, nestedLevels, exits, exitPlan, sourceOf, fnOutcomes)
    : undefined;

  // ---- bytecode ----
  const op: number[] = [];
  const a: number[] = [];
  const f: number[] = [];
  const opSource: number[] = [];
  const branchCumulative: Float64Array[] = [];
  const branchTargets: Int32Array[] = [];
  const emit = (kind: number, ai: number, fv: number, src: number): number => {
    op.push(kind);
    a.push(ai);
    f.push(fv);
    opSource.push(src);
    return op.length - 1;
  };

  const lookup = vmcsLookup(vmcs);
  // PAUSE-loop exiting in force for a CPL-0 spin: secondary bit 10, PAUSE exiting (primary bit
  // 30) 0 (it would take precedence), and a non-zero PLE_Gap (SDM Vol. 3C §26.1.3).
  const pleActive =
    isControlSet(controls, CONTROL.proc2.pause_loop_exiting) &&
    !isControlSet(controls, CONTROL.proc.pause_exiting) &&
    lookup.pleGap > 0;
  const pleWindow = Math.max(1, lookup.pleWindow);
  let opCtx: ExitContext = ctx;
  /** Repeat levels open around the op being compiled, and the most any loop left needs. */
  let repeatNesting = 0;
  let repeatDepth = 0;
  let sourceName = "";
  const coalesceSites: { op: Extract<GuestOp, { op: "coalesce" }>; ctx: ExitContext; source: string }[] = [];

  const mtf = isControlSet(controls, CONTROL.proc.monitor_trap_flag);
  const compileOps = (ops: GuestOp[]): void => {
    for (const g of ops) {
      switch (g.op) {
        case "compute":
          emit(OP_COMPUTE, 0, g.cycles, -1);
          // Under the monitor trap flag its instructions' MTF exits follow it (exitMtf.ts).
          if (mtf) emitExits(decideExit(g, opCtx), sourceOf("compute (MTF)", g.span));
          break;
        case "branch": {
          const at = emit(OP_BRANCH, branchCumulative.length, 0, -1);
          const cumulative = new Float64Array(g.arms.length + 1);
          const targets = new Int32Array(g.arms.length + 1);
          branchCumulative.push(cumulative);
          branchTargets.push(targets);
          const jumps: number[] = [];
          let sum = 0;
          g.arms.forEach((arm, i) => {
            sum += arm.probability;
            cumulative[i] = sum;
            targets[i] = op.length;
            compileOps(arm.ops);
            jumps.push(emit(OP_JUMP, 0, 0, -1));
          });
          // The remainder (probabilities summing below 100 %) does nothing.
          cumulative[g.arms.length] = Number.POSITIVE_INFINITY;
          targets[g.arms.length] = op.length;
          for (const j of jumps) a[j] = op.length;
          void at;
          break;
        }
        case "repeat": {
          if (!(g.count > 0)) break; // runs no iteration: nothing to compile
          const begin = emit(OP_REPEAT, 0, g.count, -1);
          repeatNesting++;
          compileOps(g.ops);
          repeatNesting--;
          // A body of computes only (nested pure repeats are folded already) has no exit and no
          // random draw: its time is count × the body's, taken in one step however large the
          // count (issue 15: `repeat 1000000 { repeat 1000000 { … compute 1 } }`).
          let pure = true;
          let bodyCycles = 0;
          for (let i = begin + 1; i < op.length && pure; i++) {
            if (op[i] === OP_COMPUTE) bodyCycles += f[i];
            else pure = false;
          }
          if (pure) {
            op.length = a.length = f.length = opSource.length = begin;
            if (bodyCycles > 0) emit(OP_COMPUTE, 0, g.count * bodyCycles, -1);
            break;
          }
          repeatDepth = Math.max(repeatDepth, repeatNesting + 1);
          emit(OP_REPEAT_END, begin, 0, -1);
          a[begin] = op.length;
          break;
        }
        case "coalesce": {
          // The body inline (the N-th execution's flush); compiled again as the site's flush
          // source below (the timeout's flush).
          const at = emit(OP_COALESCE, 0, coalesceSites.length, -1);
          coalesceSites.push({ op: g, ctx: opCtx, source: sourceName });
          compileOps(g.ops);
          a[at] = op.length;
          break;
        }
        case "tsx": {
          const begin = emit(OP_TSX, 0, 0, sourceOf("tsx", g.span));
          compileOps(g.ops);
          emit(OP_TSX_END, 0, 0, -1);
          a[begin] = op.length;
          break;
        }
        case "pause_loop": {
          const decision = decideExit(g, opCtx);
          const src = sourceOf(opLabel(g), g.span);
          if (pleActive) {
            // PAUSE-loop exiting: the engine splits the spin at the window itself (it must, to
            // model the lock holder and KVM's window growth).
            emit(OP_PAUSE_LOOP, exitPlan(REASON_PAUSE_INSTRUCTION), g.cycles, src);
          } else {
            emit(OP_PAUSE_LOOP, -1, g.cycles, src);
            if (nested) emitPlans(nested.decide(g), src);
            else emitExits(decision, src);
          }
          break;
        }
        default: {
          const src = sourceOf(opLabel(g), g.span);
          if (nested) emitPlans(nested.decide(g), src);
          else emitExits(decideExit(g, opCtx), src);
        }
      }
    }
  };
  const emitExits = (decision: ExitDecision, src: number): void =>
    emitPlans(
      decision.exits.map((e) => ({
        plan: e.perExecution > 0 ? exitPlan(e.reason.code, e.handler) : -1,
        perExecution: e.perExecution,
      })),
      src,
    );
  const emitPlans = (list: { plan: number; perExecution: number }[], src: number): void => {
    for (const e of list) {
      if (!(e.perExecution > 0)) continue;
      if (Number.isInteger(e.perExecution)) emit(OP_EXIT, e.plan, e.perExecution, src);
      else emit(OP_FRACTIONAL_EXIT, e.plan, e.perExecution, src);
    }
  };

  const posted = isControlSet(controls, CONTROL.pin.process_posted_interrupts);
  const sources: SourcePlan[] = guest.sources.map((s) => {
    const start = op.length;
    // An irq handler's `eoi` signals its own vector (the EOI-exit bitmap decides on it).
    opCtx = s.kind === "irq" ? { ...ctx, eoiVector: s.vector } : ctx;
    sourceName = s.name;
    compileOps(s.ops);
    emit(OP_END, 0, 0, -1);
    const isInterrupt = s.kind !== "path";
    const isNmi = s.kind === "nmi";
    // The exit an arrival causes while the vCPU is in guest mode: the estimator's own decision
    // (EXTERNAL_INTERRUPT, PREEMPTION_TIMER for the timer under the hv timer, EXCEPTION_NMI,
    // or none when posted).
    // An L2's interrupt: one exit, L0's physical exit (decided under vmcs01), which becomes
    // L1's nested exit when vmcs12 exits on interrupts (nestedPlan.ts delivery).
    const delivery = isInterrupt && !nested ? decideDelivery(s, opCtx).decision : undefined;
    const first = delivery?.exits[0];
    const l0Exit = first ? exitPlan(first.reason.code, first.handler) : -1;
    const arrivalExit = nested && isInterrupt ? nested.delivery(s) : l0Exit;
    const isPosted = nested
      ? nested.posted(s)
      : isInterrupt && !first && posted && (s.kind === "ipi" || (s.kind === "irq" && s.posted));
    return {
      name: s.name,
      kind: s.kind,
      arrival: s.arrival,
      isInterrupt,
      isNmi,
      vector: s.kind === "irq" ? s.vector : isNmi ? NMI_VECTOR : -1,
      arrivalExit,
      posted: isPosted,
      start,
      coalesceSite: -1,
    };
  });

  // One flush source per coalesce site, after the guest's sources: the body again, as a job of
  // its own that a batch's timeout starts on that vCPU (guest work then, e.g. the driver's timer
  // callback; the timer interrupt itself is not modelled). Lowering keeps coalesce out of
  // coalesce, so compiling a body adds no sites.
  const siteCount = coalesceSites.length;
  const coalesce: CoalescePlans = {
    count: new Int32Array(siteCount),
    timeoutCycles: new Float64Array(siteCount),
    flushSource: new Int32Array(siteCount),
  };
  const perSource = new Map<string, number>();
  coalesceSites.forEach((site, i) => {
    const start = op.length;
    opCtx = site.ctx;
    compileOps(site.op.ops);
    emit(OP_END, 0, 0, -1);
    const nth = (perSource.get(site.source) ?? 0) + 1;
    perSource.set(site.source, nth);
    coalesce.count[i] = site.op.count;
    coalesce.timeoutCycles[i] = site.op.timeoutSec * target.hz;
    coalesce.flushSource[i] = sources.length;
    sources.push({
      name: `${site.source}/coalesce${nth > 1 ? nth : ""}`,
      kind: "path",
      // No arrival process (rate 0): the engine sets the arrival time at a batch's first execution.
      arrival: { kind: "poisson", ratePerSec: 0 },
      isInterrupt: false,
      isNmi: false,
      vector: -1,
      arrivalExit: -1,
      posted: false,
      start,
      coalesceSite: i,
    });
  });

  // The idle loop: HLT (or MWAIT) with the decision the estimator uses.
  const idle = decideIdle(ctx);
  const idleFirst = idle.decision.exits[0];
  // An L2's idle HLT is decided per level like a written `hlt` (the estimator's idle model).
  const idleNested =
    nested && guest.idle === "halt"
      ? nested.decide({ op: "hlt", span: guest.idleSpan ?? guest.nameSpan })
      : [];
  const idleExit = nested
    ? (idleNested[0]?.plan ?? -1)
    : idleFirst
      ? exitPlan(idleFirst.reason.code, idleFirst.handler)
      : -1;
  if (idleExit >= 0 && !exits[idleExit].halt.some((h) => h === 1)) {
    warnings.push(
      `the ${exits[idleExit].name} handler does not 'halt': the simulator keeps the idle vCPU in the guest after that exit`,
    );
  }

  // VMX-preemption timer: counts down by 1 each time bit X of the TSC changes, X =
  // IA32_VMX_MISC[4:0] (SDM Vol. 3C §26.5.1; vmx/capabilities.ts preemptionTimerRate).
  let preemptionTimerCycles = 0;
  let preemptionTimerExit = -1;
  // When the guest has a timer, KVM uses the preemption timer for it (its arrivals exit
  // PREEMPTION_TIMER, see decideDelivery); otherwise the VMCS value is the hypervisor's own
  // countdown of guest time.
  const guestHasTimer = guest.sources.some((s) => s.kind === "timer");
  if (
    isControlSet(controls, CONTROL.pin.activate_vmx_preemption_timer) &&
    vmcs.preemptionTimer &&
    !guestHasTimer
  ) {
    preemptionTimerCycles = Math.max(1, vmcs.preemptionTimer.ticks) * 2 ** preemptionTimerRate(target.msrs);
    preemptionTimerExit = exitPlan(EXIT.PREEMPTION_TIMER);
  }

  const externalInterruptExit = exitPlan(EXIT.EXTERNAL_INTERRUPT);
  const nestedIrqExit = nested ? nested.irqExit() : -1;
  // An idle L2 that blocks: its own idle plan and the wake-up chain of each source (nestedIdle.ts).
  const runSources = sources.map((_, i) => guest.sources[i]);
  const segmentsOf = (code: number) => (nested ? exits[nested.reflectedPlan(code)].nested : null);
  const nestedIdle =
    nested && nestedIdlePlan(nested.setup, exits, idleExit, runSources, segmentsOf, sourceOf);
  const nestedSources = nested?.sourceFacts(runSources);
  const nestedNotify = nested?.notifyStream();
  nested?.finish();
  return {
    guest,
    profile: target.profile.name,
    hz: target.hz,
    vcpus: Math.max(1, guest.vcpus),
    op: Int32Array.from(op),
    a: Int32Array.from(a),
    f: Float64Array.from(f),
    opSource: Int32Array.from(opSource),
    branchCumulative,
    branchTargets,
    sources,
    exits,
    exitByCode,
    timelineSources,
    idle: guest.idle,
    idleExit: nestedIdle ? nestedIdle.idleExit : idleExit,
    externalInterruptExit,
    haltWakeCycles: costs.halt_wake?.cycles ?? 0,
    preemptionTimerCycles,
    preemptionTimerExit,
    preemptionTimerSaved: isControlSet(controls, CONTROL.exit.save_vmx_preemption_timer_value),
    pleWindow,
    repeatDepth,
    straight: straightPlans(sources, exits, op, a, f, opSource),
    coalesce,
    warnings,
    nested: nested?.run,
    nestedIrqExit,
    nestedIdle,
    nestedSources,
    nestedNotify,
  };
}

function opLabel(g: GuestOp): string {
  switch (g.op) {
    case "rdmsr":
    case "wrmsr":
      return `${g.op} ${g.msrName ?? `0x${g.msr.toString(16)}`}`;
    case "in":
    case "out":
      return `${g.op} 0x${g.port.toString(16)}`;
    case "mmio":
      return `mmio ${g.access} 0x${g.gpa.toString(16)}`;
    case "mem":
      return `${g.access} 0x${g.gpa.toString(16)}`;
    case "mov_cr":
      return `mov cr${g.cr}`;
    case "read_cr":
      return `read cr${g.cr}`;
    case "exception":
      return `exception ${g.vector}`;
    case "dirty":
      return `dirty ${g.pages} pages`;
    default:
      return g.op;
  }
}
