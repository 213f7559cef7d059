/**
 * Walking operation lists: branches weighted, repeats multiplied, TSX and coalescing through their models.
 */

import type { Arrival, GuestOp } from "../model/ir";
import { coalesceModel, describeCoalesce } from "./coalesceModel";
import { decideLeafOp } from "./exitLeaf";
import { mtfOn } from "./exitMtf";
import {
  addEffect,
  COALESCE_REFERENCE,
  type ExitContext,
  exitCount,
  fmt,
  SDM_TSX,
  summarize,
} from "./exitRules";
import { TSX_ATTEMPTS, tsxModel } from "./tsxModel";
import type { ExitDecision, ExitEffect } from "./types";

/** Called for every operation of a walk with its expected executions per walk root execution. */
export type OpVisitor = (op: GuestOp, decision: ExitDecision, executions: number) => void;

export interface WalkResult {
  decision: ExitDecision;
  /** Probability that the operations cause no exit (ops taken as independent). */
  noExitProbability: number;
  /** Guest computation cycles per execution (tsx attempts included). */
  computeCycles: number;
  /**
   * `coalesce` flushes per execution that run at their batch's timeout, as guest work of their
   * own on the vCPU (they can wake an idle vCPU, like an arrival); 0 without `coalesce`.
   */
  deferredFlushes: number;
}

/**
 * Walks an operation list once: decides every leaf, aggregates compound operations from their
 * children (never re-deciding), reports each operation to `visit`. Linear in the number of
 * operations.
 */
export function walkOps(
  ops: readonly GuestOp[],
  ctx: ExitContext,
  visit?: OpVisitor,
  executions = 1,
  describe = true,
  /** How the enclosing source's executions arrive, for `coalesce` (coalesceModel). */
  arrival?: Arrival,
): WalkResult {
  if (ops.length === 1) return walkOne(ops[0]!, ctx, visit, executions, arrival);
  const acc: ExitEffect[] = [];
  const parts: ExitDecision[] = [];
  let noExitP = 1;
  let compute = 0;
  let deferred = 0;
  for (const op of ops) {
    if (op.op === "compute" && !mtfOn(ctx)) {
      // The most common operation: no decision needed in the aggregate (without MTF).
      compute += op.cycles;
      if (visit) visit(op, decideLeafOp(op, ctx), executions);
      continue;
    }
    const r = walkOne(op, ctx, visit, executions, arrival);
    for (const e of r.decision.exits) addEffect(acc, e.reason, e.perExecution, e.handler);
    parts.push(r.decision);
    noExitP *= r.noExitProbability;
    compute += r.computeCycles;
    deferred += r.deferredFlushes;
  }
  const exits = acc;
  const count = ops.length;
  return {
    decision: new CompoundDecision(
      exits,
      describe ? RuleKind.Ops : RuleKind.None,
      count,
      parts,
      "the decisions of the operations inside",
      undefined,
    ),
    noExitProbability: noExitP,
    computeCycles: compute,
    deferredFlushes: deferred,
  };
}

/** How a compound decision's rule text reads (built on first read). */
export const RuleKind = {
  /** Rule text not wanted (branch arms: only their exits are aggregated). */
  None: 0,
  /** An operation list; `param` = the number of operations. */
  Ops: 1,
  /** `repeat N`; `param` = N. */
  Repeat: 2,
  Branch: 3,
  /** `tsx`; `param` = the per-attempt abort probability q. */
  Tsx: 4,
  /** `coalesce`; `param` = the expected batch size E[B] (the body runs once per E[B]). */
  Coalesce: 5,
} as const;
export type RuleKind = (typeof RuleKind)[keyof typeof RuleKind];

/**
 * A decision aggregated from others. Its rule text and control union are built on first read
 * (hovers read a handful; the estimator creates thousands per keystroke). A class with
 * prototype getters rather than an object literal with its own accessors: V8 keeps literals
 * with accessors in dictionary mode, about 1 µs each to create. Callers read decisions only
 * through their properties; `toJSON` gives JSON the plain values (a spread or structured clone
 * would not see the lazy fields, and no caller makes one).
 */
export class CompoundDecision implements ExitDecision {
  detail?: string;
  private ruleText: string | undefined = undefined;
  private controlList: string[] | undefined = undefined;

  constructor(
    readonly exits: ExitEffect[],
    private readonly ruleKind: RuleKind,
    private readonly param: number,
    /** The decisions aggregated: one decision, or a list of them. */
    private readonly parts: ExitDecision | readonly ExitDecision[],
    readonly reference: string,
    detail: string | undefined,
  ) {
    if (detail !== undefined) this.detail = detail;
  }

  get rule(): string {
    if (this.ruleText === undefined) this.ruleText = describeCompound(this.ruleKind, this.param, this.exits);
    return this.ruleText;
  }

  get controls(): string[] {
    if (this.controlList === undefined) {
      const set = new Set<string>();
      const parts = this.parts;
      if (Array.isArray(parts)) {
        for (const p of parts as readonly ExitDecision[]) for (const c of p.controls) set.add(c);
      } else for (const c of (parts as ExitDecision).controls) set.add(c);
      this.controlList = [...set];
    }
    return this.controlList;
  }

  toJSON(): ExitDecision {
    const d: ExitDecision = {
      exits: this.exits,
      rule: this.rule,
      controls: this.controls,
      reference: this.reference,
    };
    if (this.detail !== undefined) d.detail = this.detail;
    return d;
  }
}

export function describeCompound(kind: RuleKind, param: number, exits: ExitEffect[]): string {
  switch (kind) {
    case RuleKind.None:
      return "";
    case RuleKind.Ops:
      return param === 0 ? "No operations." : summarize(exits, `${param} operations`);
    case RuleKind.Repeat:
      return summarize(exits, `repeat ${param} (the body's exits × ${param})`);
    case RuleKind.Branch:
      return summarize(exits, "branch (exits weighted by the arms' probabilities)");
    case RuleKind.Tsx:
      return param === 0
        ? "The transaction commits: nothing inside exits."
        : summarize(
            exits,
            `tsx: the body exits with probability ${(param * 100).toFixed(1)}% per attempt; ${TSX_ATTEMPTS} attempts, then the fallback path runs the body non-transactionally`,
          );
    case RuleKind.Coalesce:
      return summarize(
        exits,
        `coalesce: the body runs once per ${fmt(param)} executions (expected batch size)`,
      );
  }
}

export function walkOne(
  op: GuestOp,
  ctx: ExitContext,
  visit: OpVisitor | undefined,
  executions: number,
  arrival: Arrival | undefined,
): WalkResult {
  switch (op.op) {
    case "repeat": {
      const body = walkOps(op.ops, ctx, visit, executions * op.count, true, arrival);
      const exits = body.decision.exits.map((e) =>
        e.handler === undefined
          ? { reason: e.reason, perExecution: e.perExecution * op.count }
          : { reason: e.reason, perExecution: e.perExecution * op.count, handler: e.handler },
      );
      const decision = new CompoundDecision(
        exits,
        RuleKind.Repeat,
        op.count,
        body.decision,
        body.decision.reference,
        undefined,
      );
      visit?.(op, decision, executions);
      return {
        decision,
        noExitProbability: body.noExitProbability ** op.count,
        computeCycles: body.computeCycles * op.count,
        deferredFlushes: body.deferredFlushes * op.count,
      };
    }
    case "branch": {
      const acc: ExitEffect[] = [];
      const parts: ExitDecision[] = [];
      let noExitP = 0;
      let compute = 0;
      let deferred = 0;
      let total = 0;
      for (const arm of op.arms) {
        const body = walkOps(arm.ops, ctx, visit, executions * arm.probability, false, arrival);
        for (const e of body.decision.exits)
          addEffect(acc, e.reason, e.perExecution * arm.probability, e.handler);
        parts.push(body.decision);
        noExitP += arm.probability * body.noExitProbability;
        compute += arm.probability * body.computeCycles;
        deferred += arm.probability * body.deferredFlushes;
        total += arm.probability;
      }
      noExitP += Math.max(0, 1 - total); // the remainder does nothing
      const exits = acc;
      const decision = new CompoundDecision(
        exits,
        RuleKind.Branch,
        0,
        parts,
        "the decisions of the operations inside",
        undefined,
      );
      visit?.(op, decision, executions);
      return { decision, noExitProbability: noExitP, computeCycles: compute, deferredFlushes: deferred };
    }
    case "tsx": {
      // Inner operations are reported with their fallback-path executions; the tsx operation
      // itself carries the aborted attempts too.
      const probe = walkOps(op.ops, ctx);
      // A probability whatever the arms inside say (lowering scales arms above 100 %, TL204).
      const q = Math.min(1, Math.max(0, 1 - probe.noExitProbability));
      // Interrupts arriving while the transaction is open abort it (ctx.asyncArrivalsPerCycle,
      // set by the estimator for paths: the interrupt sources beside them).
      const model = tsxModel(q, ctx.asyncArrivalsPerCycle ?? 0, probe.computeCycles);
      const body = visit ? walkOps(op.ops, ctx, visit, executions * model.fallbackExitFactor) : probe;
      const bodyExits = body.decision.exits;
      const total = bodyExits.reduce((s, e) => s + e.perExecution, 0);
      const acc: ExitEffect[] = [];
      for (const e of bodyExits) {
        // Aborted attempts: one exit each if the aborting operation is a memory access (its
        // EPT/APIC/PML exit happens, then the transaction aborts); an exiting instruction or
        // an exception aborts the transaction without executing (RTM), so no exit.
        if (e.reason.memoryAccess && total > 0)
          addEffect(acc, e.reason, (model.abortedAttempts * e.perExecution) / total, e.handler);
        addEffect(acc, e.reason, model.fallbackExitFactor * e.perExecution, e.handler);
      }
      const exits = acc.filter((e) => e.perExecution > 0);
      const decision = new CompoundDecision(
        exits,
        RuleKind.Tsx,
        q,
        body.decision,
        SDM_TSX,
        "A memory-access exit (EPT, APIC, PML) inside a transaction is taken and aborts it; exiting instructions and exceptions abort without an exit. Attempts: glibc's retry_try_xbegin = 3.",
      );
      visit?.(op, decision, executions);
      return {
        decision,
        noExitProbability: probe.noExitProbability,
        computeCycles: probe.computeCycles * model.computeFactor,
        // Lowering rejects `coalesce` inside `tsx` (TL213).
        deferredFlushes: 0,
      };
    }
    case "coalesce": {
      // The body runs once per batch: at the N-th execution, or at the timeout (docs/estimator.md
      // §2.6). Its operations are reported with their flush executions.
      const model = coalesceModel(op.count, op.timeoutSec, arrival, executions);
      const flush = model.flushProbability;
      const body = walkOps(op.ops, ctx, visit, executions * flush, true, arrival);
      const exits: ExitEffect[] = [];
      for (const e of body.decision.exits) addEffect(exits, e.reason, e.perExecution * flush, e.handler);
      const decision = new CompoundDecision(
        exits,
        RuleKind.Coalesce,
        model.batchSize,
        body.decision,
        COALESCE_REFERENCE,
        describeCoalesce(op.count, op.timeoutSec, model),
      );
      visit?.(op, decision, executions);
      return {
        decision,
        noExitProbability: 1 - flush + flush * body.noExitProbability,
        computeCycles: body.computeCycles * flush,
        deferredFlushes: flush * model.timeoutShare,
      };
    }
    default: {
      const decision = decideLeafOp(op, ctx);
      visit?.(op, decision, executions);
      const n = exitCount(decision);
      return {
        decision,
        // An expected count below 1 (PML) is read as a probability of exiting.
        noExitProbability: n >= 1 ? 0 : 1 - n,
        computeCycles: op.op === "compute" ? op.cycles : op.op === "pause_loop" ? op.cycles : 0,
        deferredFlushes: 0,
      };
    }
  }
}
