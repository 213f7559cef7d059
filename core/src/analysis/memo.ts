/**
 * What an analysis computes once and reads many times, owned by the analysis itself — no table
 * at module level, nothing to release:
 *
 * - `AnalysisMemo`, one per program (`memoOf(program)`): handler and fn costs (cost.ts), the
 *   estimate's target summary (estimate.ts), each guest's exit context (exitRules.ts), the
 *   leaf-decision caches per effective control words (exitLeaf.ts), the fns that can halt
 *   (exitDelivery.ts), each vmcs's exit costs with their transition (transitionCost.ts: shared by
 *   every vmcs with the same transition key, the key of all the transition reads of a vmcs), and the
 *   nested levels and reflected-exit chains (nested/), and the host terms by their inputs
 *   (hostEstimate.ts: the halt-poll and PLE-growth chains guests alike share). It is carried by the program
 *   object under a non-enumerable symbol, so it lives and dies with the program, and a program
 *   copied with a spread (`{ ...program, target }`: a comparison on another CPU) starts a memo of
 *   its own, as its costs differ.
 * - What is derived from one vmcs block (its lookup bitmaps, exitLookup.ts; its effective
 *   controls, effective.ts) or one target (the implied default1 bits, the nested target of a
 *   vmcs12) is carried the same way by that IR object (`vmcsMemo`, `targetMemo`; each IR object
 *   carries one memo, so every kind of memo an object carries is a field of its one memo type).
 * - `DecisionStore`: leaf decisions shared by every vmcs whose decisions cannot differ (keyed by
 *   a signature of all a decision reads, exitLeaf.ts). It is the one memo worth keeping across
 *   analyses: the language server keeps one per open document and passes it to each version's
 *   `analyze` (`AnalyzeOptions.decisions`), so a keystroke re-decides only what it changed.
 *   Without one, each analysis makes its own (identical blocks of one file still share).
 */
import type { GuestIR, Program, TargetIR, VmcsIR } from "../model/ir";
import type { ControlWords } from "../vmx/controls";
import type { HandlerCost, HandlerOpCost } from "./cost";
import type { VmcsLookup } from "./exitLookup";
import type { ExitContext, GuestContext } from "./exitRules";
import type { HaltPollTerms, PollChain } from "./hostTerms";
import type { ChainCost } from "./nested/chain";
import type { NestedSetup } from "./nested/reflect";
import type { ExitCost, VmcsTransitionTerms } from "./transitionCost";
import type { ExitDecision, GuestEstimate } from "./types";

/** The decisions of one operation kind (exitLeaf.ts): the first operand inline, more in a map. */
export type LeafOperand = number | bigint | string;
export interface KindCache {
  operand: LeafOperand;
  decision: ExitDecision;
  more: Map<LeafOperand, ExitDecision> | undefined;
}
export type LeafCache = Map<string, KindCache>;
/** Leaf caches by variant (APIC mode, EOI vector, CPL). */
export type LeafVariants = Map<string, LeafCache>;

/** A fn's operations costed once per program: every `call` of it shares the result (cost.ts). */
export interface FnCost {
  cycles: number;
  userspace: number;
  children: HandlerOpCost[];
}

/**
 * Each fn's cost, and the fns being costed now (the current call chain). A fn is costed once
 * and every later `call` of it reuses that (the `children` of those calls are the same array),
 * so a call graph costs time linear in its size: a diamond of 25 levels
 * (`fn f0 { call f1 call f1 } … fn f24 { work 1 }`) is 25 fns, not 2^25 expansions. In a cyclic
 * graph (TL110, an error) a call back into a fn of the chain counts 0, and the fns of the cycle
 * keep the cost they were first given, entered wherever the cycle was first reached.
 */
export interface FnCosts {
  done: Map<string, FnCost>;
  calling: Set<string>;
}

/** A leaf cache carried by an exit context, valid while its vmcs and controls are the same. */
export interface ContextMemo {
  vmcs: VmcsIR;
  controls: object;
  map: LeafCache;
}

export type Signature = (string | number)[];

/** Shared decision caches in a store before it is cleared (bounds an editing session's memory). */
export const DECISION_STORE_LIMIT = 512;

/**
 * Leaf caches shared by every vmcs whose decisions cannot differ, by decision signature
 * (exitLeaf.ts decisionSignature). Bounded: cleared when full.
 */
export class DecisionStore {
  private readonly buckets = new Map<number, { signature: Signature; maps: LeafVariants }[]>();
  private count = 0;

  /** The variants for `signature` (hashed by the caller), made empty on first use. */
  variants(hash: number, signature: Signature): LeafVariants {
    let bucket = this.buckets.get(hash);
    if (bucket !== undefined) {
      for (const entry of bucket) if (sameSignature(entry.signature, signature)) return entry.maps;
    }
    if (this.count >= DECISION_STORE_LIMIT) {
      this.buckets.clear();
      this.count = 0;
      bucket = undefined;
    }
    const maps: LeafVariants = new Map();
    if (bucket === undefined) this.buckets.set(hash, [{ signature, maps }]);
    else bucket.push({ signature, maps });
    this.count++;
    return maps;
  }

  /** Signatures held (tests read it). */
  get size(): number {
    return this.count;
  }
}

function sameSignature(a: Signature, b: Signature): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The memo of one program's analysis. */
export class AnalysisMemo {
  /** handlerCost by basic exit reason (cost.ts). */
  readonly handlerCosts = new Map<number, HandlerCost>();
  readonly fnCosts: FnCosts = { done: new Map(), calling: new Set() };
  /** The CPU profile and frequency every estimate of the program names (estimate.ts). */
  targetSummary: GuestEstimate["target"] | undefined = undefined;
  /** Each guest's exit context (exitRules.ts guestContext). */
  readonly guestContexts = new Map<GuestIR, GuestContext>();
  /** Leaf-cache variants per effective control words object (exitLeaf.ts). */
  readonly leafVariants = new Map<object, { vmcs: VmcsIR; maps: LeafVariants }>();
  /** Leaf caches of exit contexts that cannot carry their own (frozen objects). */
  readonly frozenContexts = new Map<ExitContext, ContextMemo>();
  /** The fns that can reach a `halt` (exitDelivery.ts haltingFns). */
  haltingFns: ReadonlySet<string> | undefined = undefined;
  /** exitCost per vmcs (undefined: a guest without one), pinned and may-migrate (transitionCost.ts). */
  readonly exitCosts = new Map<
    VmcsIR | undefined,
    { byCode: Map<number, ExitCost>; migrating: Map<number, ExitCost> }
  >();
  /** The same entries by a key of all transitionCost reads of a vmcs (vmcs alike share one). */
  readonly exitCostsByTransition = new Map<
    string,
    { byCode: Map<number, ExitCost>; migrating: Map<number, ExitCost> }
  >();
  /** The reason-independent transition terms by transition key (transitionCost.ts). */
  readonly transitionTerms = new Map<string, VmcsTransitionTerms>();
  /** Reflected-exit chains by `hypervisor:reason` (nested/chain.ts). */
  readonly nestedChains = new Map<string, ChainCost>();
  /** Each guest's levels, undefined when it is not an L2 (nested/reflect.ts). */
  readonly nestedSetups = new Map<GuestIR, NestedSetup | undefined>();
  /**
   * The host terms (hostEstimate.ts) by a key of every input they read: the halt-poll chain by
   * the poll settings, the arrival streams and the busy time before a block; the PLE exits per
   * spin by the chain (numbered in `pollChainIds`), the spins and the rates. Guests alike (a
   * file of repeated units) solve each once, not once per guest and fixed-point pass.
   */
  readonly haltPoll = new Map<string, Map<number, HaltPollTerms>>();
  readonly pleGrowth = new Map<string, number[]>();
  readonly pollChainIds = new Map<PollChain, number>();

  constructor(readonly decisions: DecisionStore) {}
}

const MEMO: unique symbol = Symbol("trapline analysis memo");
type Holder<T> = { [MEMO]?: T };

/**
 * The memo `owner` carries, made by `make` on first use and kept under a non-enumerable symbol
 * (JSON, spreads and deep equality do not see it). An object that cannot take the property
 * (frozen) gets a fresh memo each time: correct, only slower.
 */
export function ownMemo<T>(owner: object, make: () => T): T {
  const held = (owner as Holder<T>)[MEMO];
  if (held !== undefined) return held;
  const memo = make();
  if (Object.isExtensible(owner))
    Object.defineProperty(owner, MEMO, {
      value: memo,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  return memo;
}

/** What is derived from one vmcs block: its lookup (exitLookup.ts), its effective controls (effective.ts). */
export interface VmcsMemo {
  lookup: VmcsLookup | undefined;
  controls: ControlWords | undefined;
  /** The target `controls` were computed for. */
  controlsTarget: TargetIR | undefined;
}

// The accessors below read the memo at a property load of their own before falling back to
// ownMemo: each load then sees one kind of owner (ownMemo's own sees every kind, and a load that
// sees many object shapes is slower), and no `make` closure is created on the common path.

const newVmcsMemo = (): VmcsMemo => ({ lookup: undefined, controls: undefined, controlsTarget: undefined });

export function vmcsMemo(vmcs: VmcsIR): VmcsMemo {
  return (vmcs as Holder<VmcsMemo>)[MEMO] ?? ownMemo(vmcs, newVmcsMemo);
}

/**
 * What is derived from one target: the implied default1 bits (effective.ts), and for a vmcs12
 * the nested target L1 sees and, on that nested target, the file's target behind it
 * (rules/nested.ts).
 */
export interface TargetMemo {
  /** The capability MSRs `implied` was computed from. */
  impliedFor: TargetIR["msrs"] | undefined;
  implied: bigint[];
  nested: TargetIR | undefined;
  host: TargetIR | undefined;
}

const newTargetMemo = (): TargetMemo => ({
  impliedFor: undefined,
  implied: [],
  nested: undefined,
  host: undefined,
});

export function targetMemo(target: TargetIR): TargetMemo {
  return (target as Holder<TargetMemo>)[MEMO] ?? ownMemo(target, newTargetMemo);
}

/** The program's memo; one with its own decision store when the program has none yet. */
const newAnalysisMemo = () => new AnalysisMemo(new DecisionStore());

export function memoOf(program: Program): AnalysisMemo {
  return (program as Holder<AnalysisMemo>)[MEMO] ?? ownMemo(program, newAnalysisMemo);
}

/** The leaf-cache memo an exit context carries (exitLeaf.ts), made by `make` on first use. */
export function contextMemo(ctx: object, make: () => ContextMemo): ContextMemo {
  return (ctx as Holder<ContextMemo>)[MEMO] ?? ownMemo(ctx, make);
}

/**
 * Gives `program` a memo whose shared decisions are `decisions` (the language server's store
 * for the document), unless it has one already. Returns the program's memo.
 */
export function adoptDecisions(program: Program, decisions: DecisionStore): AnalysisMemo {
  return ownMemo(program, () => new AnalysisMemo(decisions));
}
