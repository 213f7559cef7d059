/**
 * The cost of one VM transition (VM exit + KVM's minimal exit/entry path + VM entry) as a
 * function of what the VMCS asks the CPU to do, per vmcs and exit reason:
 *
 *   body = round_trip
 *        + msr_list_entry × (exit MSR-store + exit MSR-load + entry MSR-load counts)
 *        + save_load_register × (registers the save/load controls move beyond the baseline's)
 *        + [no VPID] tlb_refill × refs(4, EPT levels) / 24
 *        + [EPT violation/misconfig] ept_walk_level × EPT levels
 *        + mitigations: verw, rsb_fill (every transition), l1d_flush (every entry, or in KVM's
 *          cond mode with the probability that the handler leaves KVM, emulates or blocks),
 *          ibpb (with the probability that the handler blocks)
 *   mean = body + tailShare × tailMean × (1 − e^−TAIL_CAP)
 *
 * The facts (which controls, fields and mitigations, with their sources) are in
 * core/src/vmx/transitionTerms.ts; the cycles are the target's cost parameters, each
 * overridable. The estimator charges the mean; the simulator samples the distribution around
 * it (core/src/sim/transitionSample.ts), so both agree in the mean. docs/estimator.md,
 * "Transition cost".
 */
import { handlerKey, handlerOf } from "../model/handlers";
import type { GuestIR, HandlerOp, Program, VmcsIR } from "../model/ir";
import { CONTROL, type ControlWords, controlInWord, isControlSet } from "../vmx/controls";
import { EXIT } from "../vmx/exitReasons";
import { eptpWalkLengthMinusOne } from "../vmx/fieldFormats";
import {
  BASELINE_SAVE_LOAD,
  EPT_WALK_EXITS,
  EPT_WALK_SOURCE,
  L1TF_COND_REASONS,
  MITIGATIONS,
  MSR_LIST_COUNT_FIELDS,
  SAVE_LOAD_CONTROLS,
  TRANSITION_DISTRIBUTION,
  TWO_D_WALK,
} from "../vmx/transitionTerms";
import type { CostName } from "../vmx/types";
import { type HandlerCost, handlerCost } from "./cost";
import { effectiveControls } from "./effective";
import { memoOf } from "./memo";

export interface TransitionTerm {
  /** "round trip", "MSR lists (3 entries)", "VERW", … */
  label: string;
  /** Expected cycles of this term per transition (may be negative: fewer registers than the baseline). */
  cycles: number;
  costName: CostName;
  /** Why the term applies, with its source. */
  detail: string;
}

export interface TransitionCost {
  /** Cycles of the deterministic terms: the centre of the distribution's body. */
  body: number;
  /** Standard deviation of the body (`transition_jitter`). */
  jitter: number;
  /** Share of transitions in the tail (vmx/transitionTerms.ts TRANSITION_DISTRIBUTION). */
  tailShare: number;
  /** Mean extra cycles of a tail transition before the cap (`transition_tail`, or `transition_tail_migrating`). */
  tailMean: number;
  /** Whether the tail is that of a vCPU that may migrate (the guest is not `pinned`). */
  migrating: boolean;
  /** Expected cycles per transition: what the estimator charges. */
  mean: number;
  terms: TransitionTerm[];
}

/**
 * A tail sample is capped at this many tail means (so a straight-line job has a bound); the
 * mean accounts for the cap exactly: E[min(X, c·m)] = m·(1 − e^−c) for X exponential of mean m.
 */
export const TAIL_CAP = 10;
/** The body is clamped at ± this many standard deviations (symmetric: the mean is unchanged). */
export const BODY_CLAMP = 6;

/** Expected cycles of a transition with this shape (the simulator's sampling has this mean). */
export function transitionMean(body: number, tailShare: number, tailMean: number): number {
  return Math.max(0, body) + tailShare * tailMean * (1 - Math.exp(-TAIL_CAP));
}

/** Longest transition the simulator can draw with this shape (for straight-line bounds). */
export function transitionMax(body: number, jitter: number, tailMean: number): number {
  return Math.max(0, body + BODY_CLAMP * jitter) + TAIL_CAP * tailMean;
}

/** EPT paging-structure levels the vmcs walks: `eptp … levels`, EPTP bits 5:3, or 4. */
export function eptLevels(vmcs: VmcsIR): number {
  if (vmcs.eptp !== undefined) return vmcs.eptp.levels;
  const raw = vmcs.fields.size === 0 ? undefined : vmcs.fields.get("EPT_POINTER")?.value;
  const levels = raw === undefined ? 4 : eptpWalkLengthMinusOne(raw) + 1;
  return levels === 5 ? 5 : 4;
}

function registersMoved(words: ControlWords, list: readonly { word: "exit" | "entry"; control: string }[]) {
  let n = 0;
  const names: string[] = [];
  for (const row of list) {
    const control = controlInWord(row.word, row.control);
    if (!control || ((words[row.word] >> BigInt(control.bit)) & 1n) === 0n) continue;
    const def = SAVE_LOAD_CONTROLS.find((c) => c.word === row.word && c.control === row.control);
    n += def?.registers ?? 0;
    names.push(`${row.word} ${row.control}`);
  }
  return { n, names };
}

/**
 * Probability that a handler's run does something after which KVM's `cond` L1D flush (or a
 * vCPU switch) follows: an op `which` accepts, anywhere in the handler, its branches weighted
 * and its repeats and calls followed (a call cycle counts 0).
 */
function probabilityOf(
  ops: readonly HandlerOp[],
  program: Program,
  which: (op: HandlerOp) => boolean,
  calling: Set<string> = new Set(),
): number {
  let none = 1; // probability that no op so far triggered
  for (const op of ops) {
    let p = 0;
    if (which(op)) p = 1;
    else if (op.op === "branch") {
      for (const arm of op.arms) p += arm.probability * probabilityOf(arm.ops, program, which, calling);
    } else if (op.op === "repeat") {
      const once = probabilityOf(op.ops, program, which, calling);
      p = 1 - (1 - once) ** Math.max(0, op.count);
    } else if (op.op === "call") {
      const fn = program.fns.get(op.fn);
      if (fn && !calling.has(op.fn)) {
        calling.add(op.fn);
        p = probabilityOf(fn.ops, program, which, calling);
        calling.delete(op.fn);
      }
    }
    none *= 1 - Math.min(1, Math.max(0, p));
    if (none === 0) break;
  }
  return 1 - none;
}

const leavesKvmOrEmulates = (op: HandlerOp) =>
  op.op === "userspace" || op.op === "decode" || op.op === "halt";
const blocks = (op: HandlerOp) => op.op === "halt";

function handlerProbability(
  program: Program,
  code: number,
  which: (op: HandlerOp) => boolean,
  variant: number | undefined,
): number {
  const handler = handlerOf(program, code, variant);
  // The default handler of HLT blocks the vCPU (cost.ts charges it the halt wake-up).
  if (!handler) return code === EXIT.HLT ? 1 : 0;
  return probabilityOf(handler.ops, program, which);
}

/**
 * The terms of a transition that do not depend on the exit reason (round trip, MSR lists,
 * save/load controls, TLB refill) and the EPT levels, once per transition key in the analysis:
 * every reason's transition under vmcs alike starts with the same terms.
 */
function vmcsTerms(program: Program, vmcs: VmcsIR | undefined): VmcsTransitionTerms {
  const cache = memoOf(program).transitionTerms;
  const key = transitionKey(program, vmcs);
  let cached = cache.get(key);
  if (cached === undefined) {
    cached = computeVmcsTerms(program, vmcs);
    cache.set(key, cached);
  }
  return cached;
}

export interface VmcsTransitionTerms {
  /** Read-only: each transition copies the list before adding its reason's terms. */
  terms: readonly TransitionTerm[];
  /** EPT levels when EPT is on, else undefined. */
  levels: number | undefined;
}

function computeVmcsTerms(program: Program, vmcs: VmcsIR | undefined): VmcsTransitionTerms {
  const target = program.target;
  const costs = target.costs;
  const c = (name: CostName) => costs[name]?.cycles ?? 0;
  const terms: TransitionTerm[] = [];
  let levels: number | undefined;
  const add = (label: string, cycles: number, costName: CostName, detail: string) => {
    if (cycles !== 0) terms.push({ label, cycles, costName, detail });
  };
  add("round trip", c("round_trip"), "round_trip", costs.round_trip.source);

  if (vmcs !== undefined) {
    const words = effectiveControls(vmcs, target);
    // MSR lists.
    let entries = 0;
    const listed: string[] = [];
    for (const row of MSR_LIST_COUNT_FIELDS) {
      const value = vmcs.fields.get(row.field)?.value;
      if (value === undefined || value <= 0n) continue;
      const n = Number(value);
      entries += n;
      listed.push(`${row.field} = ${n} (${row.what}; ${row.source})`);
    }
    add(
      `MSR lists (${entries} entr${entries === 1 ? "y" : "ies"})`,
      entries * c("msr_list_entry"),
      "msr_list_entry",
      listed.join("; "),
    );
    // Save/load controls beyond the measured baseline's (absent baseline controls are not
    // credited: the measurement does not say what they cost, so the round trip is the floor).
    const moved = registersMoved(
      words,
      SAVE_LOAD_CONTROLS.filter((row) => !isBaseline(row)),
    );
    add(
      `save/load controls (${moved.n} register${moved.n === 1 ? "" : "s"})`,
      moved.n * c("save_load_register"),
      "save_load_register",
      `${moved.names.join(", ")}: beyond ${BASELINE_SAVE_LOAD.map((b) => `${b.word} ${b.control}`).join(" + ")}, taken as part of the measured round trip (KVM's required sets, an assumption)`,
    );
    const ept = isControlSet(words, CONTROL.proc2.enable_ept);
    levels = ept ? eptLevels(vmcs) : undefined;
    if (!isControlSet(words, CONTROL.proc2.enable_vpid)) {
      const refs = TWO_D_WALK.refs(TWO_D_WALK.guestLevels, levels);
      add(
        `TLB refill without VPID (${refs}-reference walks)`,
        (c("tlb_refill") * refs) / TWO_D_WALK.referenceRefs,
        "tlb_refill",
        `${TWO_D_WALK.source}; ${ept ? `EPT ${levels} levels` : "shadow paging (EPT off)"}`,
      );
    }
  }

  return { terms, levels };
}

/**
 * The transition cost of an exit of reason `code` under `vmcs` (the target's round trip alone
 * without one); `migrating`: the vCPU thread may migrate (a guest without `pinned`), whose tail
 * is `transition_tail_migrating` instead of the pinned `transition_tail`.
 */
export function transitionCost(
  program: Program,
  vmcs: VmcsIR | undefined,
  code: number,
  migrating = false,
  /** The specialised handler that takes the exit (its ops decide the conditional mitigations). */
  variant?: number,
): TransitionCost {
  const target = program.target;
  const costs = target.costs;
  const c = (name: CostName) => costs[name]?.cycles ?? 0;
  const fixed = vmcsTerms(program, vmcs);
  const terms: TransitionTerm[] = fixed.terms.slice();
  const add = (label: string, cycles: number, costName: CostName, detail: string) => {
    if (cycles !== 0) terms.push({ label, cycles, costName, detail });
  };
  const levels = fixed.levels;
  if (levels !== undefined && EPT_WALK_EXITS.has(code)) {
    add(`EPT walk (${levels} levels)`, levels * c("ept_walk_level"), "ept_walk_level", EPT_WALK_SOURCE);
  }

  for (const name of target.mitigations ?? []) {
    const def = MITIGATIONS.find((m) => m.name === name);
    if (!def) continue;
    let share = 1;
    if (def.when === "l1tfCond")
      share = L1TF_COND_REASONS.has(code)
        ? 1
        : handlerProbability(program, code, leavesKvmOrEmulates, variant);
    else if (def.when === "vcpuSwitch") share = handlerProbability(program, code, blocks, variant);
    add(
      share === 1 ? name : `${name} (${Math.round(share * 1000) / 10} % of exits)`,
      share * c(def.cost),
      def.cost,
      `${def.meaning} ${def.source}`,
    );
  }

  let body = 0;
  for (const t of terms) body += t.cycles;
  body = Math.max(0, body);
  const jitter = Math.max(0, c("transition_jitter"));
  const tailMean = Math.max(0, c(migrating ? "transition_tail_migrating" : "transition_tail"));
  const tailShare = TRANSITION_DISTRIBUTION.tailShare;
  return {
    body,
    jitter,
    tailShare,
    tailMean,
    migrating,
    mean: transitionMean(body, tailShare, tailMean),
    terms,
  };
}

function isBaseline(row: { word: string; control: string }): boolean {
  return BASELINE_SAVE_LOAD.some((b) => b.word === row.word && b.control === row.control);
}

/** The exit's cost with its vmcs's transition: handlerCost with `transition` and `total` replaced. */
export interface ExitCost extends HandlerCost {
  transitionDetail: TransitionCost;
}

/**
 * The cost of one exit of reason `code` in a guest of `vmcs`: the handler's (cost.ts) plus the
 * transition this vmcs and the target's mitigations give (transitionCost); `migrating` for a
 * guest whose vCPUs are not pinned (`vcpuMayMigrate`). Cached per vmcs.
 */
export function exitCost(
  program: Program,
  vmcs: VmcsIR | undefined,
  code: number,
  migrating = false,
  /** The specialised handler that takes the exit (ExitEffect.handler); absent: the general one. */
  variant?: number,
): ExitCost {
  return exitCostIn(exitCostsOf(program, vmcs, migrating), program, vmcs, code, migrating, variant);
}

/** The exit costs of `vmcs` (pinned or may-migrate) by handler key: what exitCost fills and reads. */
export function exitCostsOf(
  program: Program,
  vmcs: VmcsIR | undefined,
  migrating: boolean,
): Map<number, ExitCost> {
  const memo = memoOf(program);
  let entry = memo.exitCosts.get(vmcs);
  if (entry === undefined) {
    // Shared by every vmcs whose transition cannot differ (a file of repeated units costs each
    // exit reason once, not once per vmcs).
    const key = transitionKey(program, vmcs);
    entry = memo.exitCostsByTransition.get(key);
    if (entry === undefined) {
      entry = { byCode: new Map(), migrating: new Map() };
      memo.exitCostsByTransition.set(key, entry);
    }
    memo.exitCosts.set(vmcs, entry);
  }
  return migrating ? entry.migrating : entry.byCode;
}

/**
 * exitCost with the vmcs's costs already looked up (`map`, from exitCostsOf with the same
 * program, vmcs and `migrating`): for a loop that costs many exits of one guest.
 */
export function exitCostIn(
  map: Map<number, ExitCost>,
  program: Program,
  vmcs: VmcsIR | undefined,
  code: number,
  migrating: boolean,
  variant: number | undefined,
): ExitCost {
  const key = handlerKey(code, variant);
  const cached = map.get(key);
  if (cached) return cached;
  const base = handlerCost(program, code, variant);
  const detail = transitionCost(program, vmcs, code, migrating, variant);
  const result: ExitCost = {
    ...base,
    transition: detail.mean,
    total: base.total - base.transition + detail.mean,
    transitionDetail: detail,
  };
  map.set(key, result);
  return result;
}

/**
 * Everything transitionCost reads of `vmcs` (the program's target and handlers are the memo's
 * own): the exit and entry control words (save/load controls), EPT and VPID, the EPT levels and
 * the MSR-list counts. Two vmcs with the same key have the same transition for every reason.
 */
function transitionKey(program: Program, vmcs: VmcsIR | undefined): string {
  if (vmcs === undefined) return "";
  const words = effectiveControls(vmcs, program.target);
  const ept = isControlSet(words, CONTROL.proc2.enable_ept);
  let key = `${wordKey(words.exit)}:${wordKey(words.entry)}:${ept ? eptLevels(vmcs) : "-"}:${isControlSet(words, CONTROL.proc2.enable_vpid)}`;
  for (const row of MSR_LIST_COUNT_FIELDS) key += `:${vmcs.fields.get(row.field)?.value}`;
  return key;
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** A control word in a key: as a number where exact (cheaper to print than a bigint), else its digits and `n`. */
function wordKey(value: bigint): number | string {
  return value >= 0n && value <= MAX_EXACT ? Number(value) : `${value}n`;
}

/** Whether a guest's vCPU threads may migrate between physical CPUs: no `pinned` statement. */
export function vcpuMayMigrate(guest: GuestIR | undefined): boolean {
  return guest !== undefined && guest.pinned === undefined;
}

/**
 * The rows a hover shows under "transition": each term, then the tail's share of the mean
 * ("tail: 5 % × 860"), summing to the mean the estimate charges.
 */
export function transitionBreakdown(detail: TransitionCost): { label: string; cycles: number }[] {
  const rows = detail.terms.map((t) => ({ label: t.label, cycles: t.cycles }));
  const tail = detail.mean - detail.body;
  if (tail > 0)
    rows.push({
      label: `tail (${Math.round(detail.tailShare * 100)} % of exits, +${Math.round(detail.tailMean)} on average; vCPU ${detail.migrating ? "may migrate" : "pinned"})`,
      cycles: tail,
    });
  return rows;
}

/**
 * The vmcs a handler's cost is shown for where no guest picks one (handler hover, code lens):
 * that of the first guest, else the first vmcs; undefined in a file without vmcs.
 */
export function primaryGuest(program: Program): GuestIR | undefined {
  for (const guest of program.guests.values()) if (program.vmcs.has(guest.vmcs)) return guest;
  return undefined;
}

export function primaryVmcs(program: Program): VmcsIR | undefined {
  for (const guest of program.guests.values()) {
    const vmcs = program.vmcs.get(guest.vmcs);
    if (vmcs) return vmcs;
  }
  for (const vmcs of program.vmcs.values()) return vmcs;
  return undefined;
}
