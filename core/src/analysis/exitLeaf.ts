/**
 * The leaf decision: the dispatcher over the families and the memo of leaf decisions shared between identical operations in identical contexts.
 */
import { guestOperandOf, operandHandlerIndex } from "../model/handlers";
import type { GuestOp, VmcsIR } from "../model/ir";
import { instructionExitByOp } from "../vmx/instructions";
import { decideUses } from "./exitCpuid";
import { decideMovFromCr, decideMovToCr } from "./exitCr";
import { decideDirty, eptAccessedDirty } from "./exitDirty";
import { decideException } from "./exitExceptions";
import { decideInstruction, decideOther, decideRdtsc } from "./exitInstructions";
import { decideIo } from "./exitIo";
import { vmcsLookup } from "./exitLookup";
import { decideEoi, decideMemory } from "./exitMemory";
import { decideMsr } from "./exitMsr";
import { decideComputeMtf, mtfOn, withMtf } from "./exitMtf";
import { decidePauseLoop, exitRoundTripEstimate, pauseIterationCycles } from "./exitPause";
import { type ExitContext, noExit, SDM_COND } from "./exitRules";
import {
  type ContextMemo,
  contextMemo,
  type DecisionStore,
  type LeafCache,
  type LeafOperand,
  type LeafVariants,
  memoOf,
  type Signature,
} from "./memo";
import type { ExitDecision } from "./types";

/** Decides an operation that has no body. */
export function decideLeafOp(op: GuestOp, ctx: ExitContext): ExitDecision {
  // Monitor trap flag: per-instruction exits (exitMtf.ts); a compute's depend on its cycles,
  // which the memo's operand does not hold.
  if (mtfOn(ctx)) {
    if (op.op === "compute") return decideComputeMtf(op.cycles, ctx);
    return withMtf(op, decideLeafUncached(op, ctx));
  }
  return decideLeafUncached(op, ctx);
}

/**
 * The leaf decision with each exit's handler chosen by the operation's operand (a specialised
 * `handler REASON OPERAND`, model/handlers.ts); the same decision when none matches.
 */
function computeLeafWithHandlers(op: GuestOp, ctx: ExitContext): ExitDecision {
  const d = computeLeaf(op, ctx);
  const table = ctx.program.operandHandlers;
  if (table === undefined || table.size === 0 || d.exits.length === 0) return d;
  const operand = guestOperandOf(op);
  if (operand === undefined) return d;
  let exits: ExitDecision["exits"] | undefined;
  d.exits.forEach((e, i) => {
    const handler = operandHandlerIndex(table, e.reason.code, operand);
    if (handler === undefined) return;
    exits ??= d.exits.slice();
    exits[i] = { ...e, handler };
  });
  return exits === undefined ? d : { ...d, exits };
}

function decideLeafUncached(op: GuestOp, ctx: ExitContext): ExitDecision {
  const kind = leafKind(op);
  if (kind === undefined) return computeLeafWithHandlers(op, ctx);
  const cache = leafCache(ctx);
  const operand = leafOperand(op);
  const byKind = cache.get(kind);
  if (byKind === undefined) {
    const d = computeLeafWithHandlers(op, ctx);
    cache.set(kind, { operand, decision: d, more: undefined });
    return d;
  }
  // `===` is the map's SameValueZero here: operands are integers, bigints and strings.
  if (byKind.operand === operand) return byKind.decision;
  byKind.more ??= new Map();
  let d = byKind.more.get(operand);
  if (!d) {
    d = computeLeafWithHandlers(op, ctx);
    byKind.more.set(operand, d);
  }
  return d;
}

/**
 * Decisions of identical leaf operations are shared (callers treat decisions as read-only):
 * a 10,000-line file repeats the same few operations, and building the rule text is the
 * expensive part. One cache per (vmcs, program, effective controls, APIC mode, EOI vector,
 * CPL), carried by the context object itself so the hot path does one property read; inside it,
 * keyed by operation kind and then by the operand value (no string building per operation).
 *
 * Each context carries its own leaf cache (memo.ts ownMemo): the memo is owned by the analysis
 * that made the context and goes with it, and a context copied with a spread
 * (`{ ...ctx, eoiVector }`) does not inherit it. A context that cannot take the property
 * (frozen) keeps it in the program's memo.
 */
export function leafCache(ctx: ExitContext): LeafCache {
  const own = contextMemo(ctx, newContextMemo);
  if (own.vmcs === ctx.vmcs && own.controls === ctx.controls) return own.map;
  const memo = memoOf(ctx.program);
  const frozen = !Object.isExtensible(ctx);
  if (frozen) {
    const kept = memo.frozenContexts.get(ctx);
    if (kept !== undefined && kept.vmcs === ctx.vmcs && kept.controls === ctx.controls) return kept.map;
  }
  let entry = memo.leafVariants.get(ctx.controls);
  if (!entry || entry.vmcs !== ctx.vmcs) {
    entry = { vmcs: ctx.vmcs, maps: sharedVariants(ctx, memo.decisions) };
    memo.leafVariants.set(ctx.controls, entry);
  }
  const variant = `${ctx.guest.apic}|${ctx.eoiVector ?? ""}|${ctx.cpl ?? 0}`;
  let map = entry.maps.get(variant);
  if (!map) {
    map = new Map();
    entry.maps.set(variant, map);
  }
  own.vmcs = ctx.vmcs;
  own.controls = ctx.controls;
  own.map = map;
  if (frozen) memo.frozenContexts.set(ctx, own);
  return map;
}

/** A context memo that matches no context yet (`vmcs` and `controls` are placeholders). */
const UNSET: VmcsIR = Object.freeze({}) as VmcsIR;
/** Never returned: a memo with `UNSET` fails the check before its map is read. */
const UNSET_MAP: LeafCache = new Map();
function newContextMemo(): ContextMemo {
  return { vmcs: UNSET, controls: UNSET, map: UNSET_MAP };
}

/**
 * Leaf caches shared by every vmcs whose decisions cannot differ, from the analysis' decision
 * store (memo.ts DecisionStore): keyed by a signature of all that a leaf decision reads (the
 * effective control words, the exception bitmap, the vmcs lookup's bitmaps, EPT map, fields and
 * the PAUSE exit cost). Identical vmcs blocks in a file share one set of decisions, and so does
 * the same vmcs in the next analysis of an edited file when the language server passes the
 * document's store (the IR objects are new, their contents mostly not).
 */
export function sharedVariants(ctx: ExitContext, decisions: DecisionStore): LeafVariants {
  const signature = decisionSignature(ctx);
  // Hashed and compared as numbers: joining them into a string key cost more than the lookup.
  return decisions.variants(signatureHash(signature), signature);
}

export function signatureHash(signature: Signature): number {
  let h = 0x811c9dc5;
  for (const part of signature) {
    if (typeof part === "number") {
      // Both 32-bit halves of values up to 2^53 (addresses, bitmaps).
      h = Math.imul(h ^ (part | 0), 0x01000193);
      h = Math.imul(h ^ ((part / 0x1_0000_0000) | 0), 0x01000193);
    } else {
      for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x01000193);
    }
  }
  return h;
}

/** Every input of a leaf decision besides the operation and the variant (APIC mode, EOI vector, CPL). */
export function decisionSignature(ctx: ExitContext): Signature {
  const w = ctx.controls;
  const lookup = vmcsLookup(ctx.vmcs);
  // Numbers (bigints converted only when they do not fit a double exactly).
  const parts: Signature = [
    num(w.pin),
    num(w.proc),
    num(w.proc2),
    num(w.proc3),
    num(w.exit),
    num(w.entry),
    ctx.vmcs.exceptionBitmap,
    exitRoundTripEstimate(ctx),
    pauseIterationCycles(ctx),
    num(lookup.eoiExitBitmap),
    num(lookup.cr0Mask),
    num(lookup.cr0Shadow),
    num(lookup.cr4Mask),
    num(lookup.cr4Shadow),
    lookup.cr3TargetCount,
    lookup.tprThreshold,
    lookup.pleGap,
    lookup.pleWindow,
    lookup.pfecMask,
    lookup.pfecMatch,
    // EPT A/D flags decide whether PML logs (`dirty`, exitDirty.ts).
    eptAccessedDirty(ctx.vmcs) ? 1 : 0,
    "cr3",
  ];
  for (const v of lookup.cr3TargetValues) parts.push(num(v));
  // `uses F` reads the CPUID presentation (exitCpuid.ts); the target is the program's.
  parts.push("cpuid", ctx.program.target.profile.name);
  for (const f of ctx.vmcs.cpuid?.hidden.keys() ?? []) parts.push(f);
  parts.push("io");
  for (const r of lookup.ioRanges) parts.push(r.first, r.last);
  parts.push("msr");
  for (const [msr, bits] of lookup.msrBits) parts.push(msr, bits);
  parts.push("ept");
  for (const e of lookup.ept) {
    const p = e.perms;
    parts.push(
      num(e.start),
      num(e.end),
      p.kind === "rwx" ? (p.read ? 1 : 0) | (p.write ? 2 : 0) | (p.execute ? 4 : 0) : p.kind,
    );
  }
  return parts;
}

/** A bigint as a number where that is exact (the common case), else its decimal text. */
export const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
export function num(value: bigint): number | string {
  return value >= 0n && value <= MAX_EXACT ? Number(value) : `${value}n`;
}

export const MEMORY_KINDS = {
  mmio: { read: "mmio:read", write: "mmio:write", exec: "mmio:exec" },
  mem: { read: "mem:read", write: "mem:write", exec: "mem:exec" },
} as const;
export const CR_KINDS = { 0: "mov_cr0", 3: "mov_cr3", 4: "mov_cr4", 8: "mov_cr8" } as const;

/** The cache's first-level key (a constant string); undefined for compound operations. */
export function leafKind(op: GuestOp): string | undefined {
  switch (op.op) {
    case "mmio":
      return MEMORY_KINDS.mmio[op.access];
    case "mem":
      return MEMORY_KINDS.mem[op.access];
    case "mov_cr":
      return CR_KINDS[op.cr];
    case "read_cr":
      return op.cr === 3 ? "read_cr3" : "read_cr8";
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      return undefined;
    default:
      return op.op;
  }
}

/** The operand the decision depends on within a kind. */
export function leafOperand(op: GuestOp): LeafOperand {
  switch (op.op) {
    case "rdmsr":
    case "wrmsr":
      return op.msrName === undefined ? op.msr : `${op.msr}:${op.msrName}`;
    case "in":
    case "out":
      return op.port;
    case "mmio":
    case "mem":
      return op.gpa;
    case "mov_cr":
      return op.value ?? "none";
    case "pause_loop":
      return op.cycles;
    case "exception":
      return op.errorCode === undefined ? -1 - op.vector : op.vector + 32 * op.errorCode;
    case "dirty":
      return op.pages;
    case "vmcall":
      return op.nr ?? -1;
    case "uses":
      return op.feature;
    default:
      return 0;
  }
}

export function computeLeaf(op: GuestOp, ctx: ExitContext): ExitDecision {
  switch (op.op) {
    case "compute":
      return noExit("Guest computation runs without exiting.", [], SDM_COND);
    case "rdtsc":
      return decideRdtsc(ctx);
    case "cpuid":
    case "xsetbv":
    case "vmcall":
    case "hlt":
    case "rdtscp":
    case "rdpmc":
    case "rdrand":
    case "rdseed":
    case "invlpg":
    case "invpcid":
    case "wbinvd":
    case "mov_dr":
      return decideInstruction(instructionExitByOp(op.op)!, ctx);
    case "in":
    case "out":
      return decideIo(op.op, op.port, ctx);
    case "rdmsr":
    case "wrmsr":
      return decideMsr(op.msr, op.op === "wrmsr", ctx, op.msrName);
    case "mmio":
      return decideMemory(op.gpa, op.access, ctx, true);
    case "mem":
      return decideMemory(op.gpa, op.access, ctx, false);
    case "mov_cr":
      return decideMovToCr(op.cr, op.value, ctx);
    case "read_cr":
      return decideMovFromCr(op.cr, ctx);
    case "pause_loop":
      return decidePauseLoop(op.cycles, ctx);
    case "exception":
      return decideException(op.vector, op.errorCode, ctx);
    case "eoi":
      return decideEoi(ctx);
    case "dirty":
      return decideDirty(op.pages, ctx);
    case "uses":
      return decideUses(op.feature, ctx);
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      throw new Error("a compound operation reached the leaf decider (exits.ts decideLeaf walks them)");
    default:
      return decideOther((op as { op: string }).op, ctx);
  }
}
