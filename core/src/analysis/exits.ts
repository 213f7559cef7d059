/**
 * Whether a guest operation causes a VM exit under the VMCS in force, and why — deciding as
 * the SDM states it and keeping the rule, the deciding controls and the reference for hovers.
 *
 * Section numbers are those of the current SDM Vol. 3C (2023 and later); the older edition the
 * project's reference quotes (vmx-facts "SDM-xem") numbers the same sections one chapter lower
 * (non-root operation = chapter 25, address translation = 28, APIC virtualization = 29).
 * Modelling choices (values not given, PLE, TSX, dirty logging, shadow paging) are documented
 * in docs/estimator.md.
 */
import type { Arrival, GuestIR, GuestOp, GuestSource, HandlerOp, Program, VmcsIR } from "../model/ir";
import {
  APIC_READ_VIRTUALIZED,
  APIC_WRITE_VIRTUALIZED,
  apicRegisterOffset,
  cr8PriorityClass,
  eoiExitBitSet,
  isX2apicMsr,
  X2APIC_MSR,
  XAPIC_BASE,
  XAPIC_OFFSET,
} from "../vmx/apic";
import { CONTROL, type ControlRef, isControlSet } from "../vmx/controls";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import {
  type InstructionExitDef,
  instructionExitByOp,
  ioBitmapOf,
  SDM_CONDITIONAL,
} from "../vmx/instructions";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import type { ControlWord, ExitReasonDef } from "../vmx/types";
import { handlerCost } from "./cost";
import { effectiveControls } from "./effective";
import { eptRegionAt, ioBitmapBit, msrBitmapBit, msrInBitmapRange, vmcsLookup } from "./exitLookup";
import type { ExitDecision, ExitEffect } from "./types";

export interface ExitContext {
  program: Program;
  guest: GuestIR;
  vmcs: VmcsIR;
  /** Effective control words (effectiveControls). */
  controls: Record<ControlWord, bigint>;
  /**
   * The vector whose EOI an `eoi` signals (the interrupt being serviced), for the EOI-exit
   * bitmap. Absent (timer, IPI, paths): the bit is taken as clear — KVM sets EOI-exit bits only
   * for level-triggered I/O APIC vectors and vectors with ack notifiers (vcpu_load_eoi_exitmap,
   * kvm_ioapic_scan_entry), never for the LAPIC timer or IPIs.
   */
  eoiVector?: number;
  /** Guest CPL (default 0: a guest kernel), for PAUSE. */
  cpl?: number;
}

/**
 * The context of a guest's operations under its vmcs (no EOI vector, CPL 0), one object per
 * guest: the estimator and the unhandled-exit lint decide in the same context object, so the
 * lint finds the estimate's leaf decisions without building another cache entry. Undefined
 * when the guest's vmcs does not exist.
 */
export function guestContext(program: Program, guest: GuestIR): ExitContext | undefined {
  const vmcs = program.vmcs.get(guest.vmcs);
  if (vmcs === undefined) return undefined;
  const controls = effectiveControls(vmcs, program.target);
  const cached = guestContexts.get(guest);
  if (cached && cached.program === program && cached.vmcs === vmcs && cached.controls === controls)
    return cached;
  const ctx: GuestContext = { program, guest, vmcs, controls, irqContexts: undefined };
  guestContexts.set(guest, ctx);
  return ctx;
}

/**
 * The context of one source's operations: the guest's, with the source's vector as the EOI
 * vector for an `irq` (an `eoi` in it signals that vector's EOI). Cached per guest context
 * and vector, so every estimate decides an irq's operations in the same context object.
 */
export function sourceContext(ctx: ExitContext, source: GuestSource): ExitContext {
  if (source.kind !== "irq") return ctx;
  const owner = guestContexts.get(ctx.guest);
  if (owner !== ctx) return { ...ctx, eoiVector: source.vector };
  owner.irqContexts ??= new Map();
  let irq = owner.irqContexts.get(source.vector);
  if (irq === undefined) {
    irq = {
      program: ctx.program,
      guest: ctx.guest,
      vmcs: ctx.vmcs,
      controls: ctx.controls,
      eoiVector: source.vector,
    };
    owner.irqContexts.set(source.vector, irq);
  }
  return irq;
}

interface GuestContext extends ExitContext {
  irqContexts: Map<number, ExitContext> | undefined;
}
const guestContexts = new WeakMap<GuestIR, GuestContext>();

// ---------------------------------------------------------------------------------------------
// References

const SDM_COND = SDM_CONDITIONAL;
const SDM_OTHER = "SDM Vol. 3C §26.2 (older editions §25.2), Other Causes of VM Exits";
const SDM_EPT = "SDM Vol. 3C §29.3.3 (older editions §28.2.3), EPT-Induced VM Exits";
const SDM_PML = "SDM Vol. 3C §29.3.6 (older editions §28.2.6), Page-Modification Logging";
const SDM_APIC_MMIO = "SDM Vol. 3C §30.4 (older editions §29.4), Virtualizing Memory-Mapped APIC Accesses";
const SDM_APIC_MSR = "SDM Vol. 3C §30.5 (older editions §29.5), Virtualizing MSR-Based APIC Accesses";
const SDM_TPR = "SDM Vol. 3C §30.1.2 (older editions §29.1.2), TPR Virtualization";
const SDM_EOI = "SDM Vol. 3C §30.1.4 (older editions §29.1.4), EOI Virtualization";
const SDM_POSTED = "SDM Vol. 3C §30.6 (older editions §29.6), Posted-Interrupt Processing";
const SDM_CR8 = "SDM Vol. 3C §30.3 (older editions §29.3), Virtualizing CR8-Based TPR Accesses";
const SDM_TSX = "SDM Vol. 1 ch. 16 (Intel TSX), RTM runtime considerations";
const COALESCE_REFERENCE =
  "notification coalescing: VIRTIO 1.2 split virtqueues, Available Buffer Notification Suppression (VIRTIO_F_EVENT_IDX; Linux vring_need_event, include/uapi/linux/virtio_ring.h); NIC moderation (ethtool -C tx-frames/tx-usecs, struct ethtool_coalesce, include/uapi/linux/ethtool.h)";

// ---------------------------------------------------------------------------------------------
// Exit reasons by basic number (vmx-facts §1, L-uapi)

const reasonCache = new Map<number, ExitReasonDef>();
export function reason(code: number): ExitReasonDef {
  let r = reasonCache.get(code);
  if (!r) {
    r = exitReasonByCode(code);
    if (!r) throw new Error(`exit reason ${code} missing from the VT-x tables`);
    reasonCache.set(code, r);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Controls, resolved once

/** The controls the decisions test, by short name (resolved refs: one AND per test). */
const C = {
  extInt: CONTROL.pin.external_interrupt_exiting,
  nmiExiting: CONTROL.pin.nmi_exiting,
  preemptionTimer: CONTROL.pin.activate_vmx_preemption_timer,
  postedInterrupts: CONTROL.pin.process_posted_interrupts,
  hlt: CONTROL.proc.hlt_exiting,
  invlpg: CONTROL.proc.invlpg_exiting,
  mwait: CONTROL.proc.mwait_exiting,
  rdpmc: CONTROL.proc.rdpmc_exiting,
  rdtsc: CONTROL.proc.rdtsc_exiting,
  tscOffset: CONTROL.proc.use_tsc_offsetting,
  cr3Load: CONTROL.proc.cr3_load_exiting,
  cr3Store: CONTROL.proc.cr3_store_exiting,
  cr8Load: CONTROL.proc.cr8_load_exiting,
  cr8Store: CONTROL.proc.cr8_store_exiting,
  tprShadow: CONTROL.proc.use_tpr_shadow,
  movDr: CONTROL.proc.mov_dr_exiting,
  uncondIo: CONTROL.proc.unconditional_io_exiting,
  ioBitmaps: CONTROL.proc.use_io_bitmaps,
  msrBitmaps: CONTROL.proc.use_msr_bitmaps,
  monitor: CONTROL.proc.monitor_exiting,
  pause: CONTROL.proc.pause_exiting,
  apicAccesses: CONTROL.proc2.virtualize_apic_accesses,
  ept: CONTROL.proc2.enable_ept,
  rdtscp: CONTROL.proc2.enable_rdtscp,
  x2apic: CONTROL.proc2.virtualize_x2apic_mode,
  wbinvd: CONTROL.proc2.wbinvd_exiting,
  apicRegs: CONTROL.proc2.apic_register_virtualization,
  vid: CONTROL.proc2.virtual_interrupt_delivery,
  ple: CONTROL.proc2.pause_loop_exiting,
  rdrand: CONTROL.proc2.rdrand_exiting,
  invpcid: CONTROL.proc2.enable_invpcid,
  rdseed: CONTROL.proc2.rdseed_exiting,
  pml: CONTROL.proc2.enable_pml,
  tscScaling: CONTROL.proc2.use_tsc_scaling,
  ipiVirt: CONTROL.proc3.ipi_virtualization,
} as const;
function ctl() {
  return C;
}

function on(ctx: ExitContext, ref: ControlRef): boolean {
  return isControlSet(ctx.controls, ref);
}

function state(ctx: ExitContext, ...refs: ControlRef[]): string[] {
  return refs.map((r) => `${r.name}=${on(ctx, r) ? 1 : 0}`);
}

// ---------------------------------------------------------------------------------------------
// Decision builders

function exitsWith(
  code: number,
  rule: string,
  controls: string[],
  reference: string,
  detail?: string,
  perExecution = 1,
): ExitDecision {
  const d: ExitDecision = { exits: [{ reason: reason(code), perExecution }], rule, controls, reference };
  if (detail) d.detail = detail;
  return d;
}

/** The wording for a secondary control, which also reads as 0 while the word is not activated. */
const SECONDARY_NOTE = ", or the secondary controls are not activated";

function noExit(rule: string, controls: string[], reference: string, detail?: string): ExitDecision {
  const d: ExitDecision = { exits: [], rule, controls, reference };
  if (detail) d.detail = detail;
  return d;
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Total exits per execution of a decision. */
export function exitCount(d: ExitDecision): number {
  let n = 0;
  for (const e of d.exits) n += e.perExecution;
  return n;
}

// ---------------------------------------------------------------------------------------------
// The entry point

/**
 * Decides one guest operation. For a compound operation (tsx, branch, repeat, coalesce) the
 * decision of its whole body: exits per execution summed (branches weighted, repeats
 * multiplied, a coalesce's body scaled by its flushes per execution). `arrival` is how the
 * enclosing source's executions arrive (what a `coalesce` batch depends on); without it a
 * `coalesce` is taken at its count limit (one flush per N executions).
 */
export function decideExit(op: GuestOp, ctx: ExitContext, arrival?: Arrival): ExitDecision {
  switch (op.op) {
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      return walkOps([op], ctx, undefined, 1, true, arrival).decision;
    default:
      return decideLeaf(op, ctx);
  }
}

/** Decides an operation that has no body. */
export function decideLeaf(op: GuestOp, ctx: ExitContext): ExitDecision {
  const kind = leafKind(op);
  if (kind === undefined) return computeLeaf(op, ctx);
  const cache = leafCache(ctx);
  const operand = leafOperand(op);
  const byKind = cache.get(kind);
  if (byKind === undefined) {
    const d = computeLeaf(op, ctx);
    cache.set(kind, { operand, decision: d, more: undefined });
    return d;
  }
  // `===` is the map's SameValueZero here: operands are integers, bigints and strings.
  if (byKind.operand === operand) return byKind.decision;
  byKind.more ??= new Map();
  let d = byKind.more.get(operand);
  if (!d) {
    d = computeLeaf(op, ctx);
    byKind.more.set(operand, d);
  }
  return d;
}

type LeafOperand = number | bigint | string;
/**
 * The decisions of one operation kind: the first operand seen inline, further ones in a map
 * made on demand (a vmcs usually meets one operand per kind, and a Map per kind per vmcs was
 * the bulk of this cache's memory).
 */
interface KindCache {
  operand: LeafOperand;
  decision: ExitDecision;
  more: Map<LeafOperand, ExitDecision> | undefined;
}
type LeafCache = Map<string, KindCache>;

/**
 * Decisions of identical leaf operations are shared (callers treat decisions as read-only):
 * a 10,000-line file repeats the same few operations, and building the rule text is the
 * expensive part. One cache per (vmcs, program, effective controls, APIC mode, EOI vector,
 * CPL), found through the context object so the hot path does one WeakMap lookup; inside it,
 * keyed by operation kind and then by the operand value (no string building per operation).
 */
const leafCaches = new WeakMap<object, { vmcs: VmcsIR; program: Program; maps: Map<string, LeafCache> }>();
const contextCaches = new WeakMap<ExitContext, { vmcs: VmcsIR; controls: object; map: LeafCache }>();
/** The last context looked up and its cache entry: walks decide runs of leaves in one context. */
let lastContext: ExitContext | undefined;
let lastContextCache: { vmcs: VmcsIR; controls: object; map: LeafCache } | undefined;
function leafCache(ctx: ExitContext): LeafCache {
  if (
    ctx === lastContext &&
    lastContextCache !== undefined &&
    lastContextCache.vmcs === ctx.vmcs &&
    lastContextCache.controls === ctx.controls
  )
    return lastContextCache.map;
  const direct = contextCaches.get(ctx);
  if (direct && direct.vmcs === ctx.vmcs && direct.controls === ctx.controls) {
    lastContext = ctx;
    lastContextCache = direct;
    return direct.map;
  }
  let entry = leafCaches.get(ctx.controls);
  if (!entry || entry.vmcs !== ctx.vmcs || entry.program !== ctx.program) {
    entry = { vmcs: ctx.vmcs, program: ctx.program, maps: sharedVariants(ctx) };
    leafCaches.set(ctx.controls, entry);
  }
  const variant = `${ctx.guest.apic}|${ctx.eoiVector ?? ""}|${ctx.cpl ?? 0}`;
  let map = entry.maps.get(variant);
  if (!map) {
    map = new Map();
    entry.maps.set(variant, map);
  }
  const cached = { vmcs: ctx.vmcs, controls: ctx.controls, map };
  contextCaches.set(ctx, cached);
  lastContext = ctx;
  lastContextCache = cached;
  return map;
}

/** Drops the memo of the last context (it keeps that context's program alive otherwise). */
export function releaseExitMemo(): void {
  lastContext = undefined;
  lastContextCache = undefined;
}

/**
 * Leaf caches shared by every vmcs whose decisions cannot differ: keyed by a signature of all
 * that a leaf decision reads (the effective control words, the exception bitmap, the vmcs
 * lookup's bitmaps, EPT map, fields and the PAUSE exit cost). Identical vmcs blocks in a file
 * share one set of decisions, and so does the same vmcs in the next analysis of an edited file
 * (the IR objects are new, their contents mostly not). Bounded: cleared when full.
 */
const sharedCaches = new Map<number, { signature: Signature; maps: Map<string, LeafCache> }[]>();
let sharedCacheCount = 0;
const SHARED_CACHE_LIMIT = 512;

function sharedVariants(ctx: ExitContext): Map<string, LeafCache> {
  const signature = decisionSignature(ctx);
  // Hashed and compared as numbers: joining them into a string key cost more than the lookup.
  const hash = signatureHash(signature);
  let bucket = sharedCaches.get(hash);
  if (bucket !== undefined) {
    for (const entry of bucket) if (sameSignature(entry.signature, signature)) return entry.maps;
  }
  if (sharedCacheCount >= SHARED_CACHE_LIMIT) {
    sharedCaches.clear();
    sharedCacheCount = 0;
    bucket = undefined;
  }
  const maps = new Map<string, LeafCache>();
  if (bucket === undefined) sharedCaches.set(hash, [{ signature, maps }]);
  else bucket.push({ signature, maps });
  sharedCacheCount++;
  return maps;
}

type Signature = (string | number)[];

function signatureHash(signature: Signature): number {
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

function sameSignature(a: Signature, b: Signature): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every input of a leaf decision besides the operation and the variant (APIC mode, EOI vector, CPL). */
function decisionSignature(ctx: ExitContext): Signature {
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
    "cr3",
  ];
  for (const v of lookup.cr3TargetValues) parts.push(num(v));
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
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
function num(value: bigint): number | string {
  return value >= 0n && value <= MAX_EXACT ? Number(value) : `${value}n`;
}

const MEMORY_KINDS = {
  mmio: { read: "mmio:read", write: "mmio:write", exec: "mmio:exec" },
  mem: { read: "mem:read", write: "mem:write", exec: "mem:exec" },
} as const;
const CR_KINDS = { 0: "mov_cr0", 3: "mov_cr3", 4: "mov_cr4", 8: "mov_cr8" } as const;

/** The cache's first-level key (a constant string); undefined for compound operations. */
function leafKind(op: GuestOp): string | undefined {
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
function leafOperand(op: GuestOp): LeafOperand {
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
    default:
      return 0;
  }
}

function computeLeaf(op: GuestOp, ctx: ExitContext): ExitDecision {
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
    case "branch":
    case "repeat":
    case "tsx":
    case "coalesce":
      return walkOps([op], ctx).decision;
    default:
      return decideOther((op as { op: string }).op, ctx);
  }
}

/**
 * Operations the IR may grow (the language spec lists only the ones above): any other instruction
 * of the table (INVD, GETSEC, MONITOR, MWAIT).
 */
function decideOther(name: string, ctx: ExitContext): ExitDecision {
  const row = instructionExitByOp(name);
  if (row) return decideInstruction(row, ctx);
  return noExit(`No exit rule is known for "${name}"; treated as not exiting.`, [], SDM_COND);
}

/** "HLT exiting", "enable RDTSCP": the SDM name as it reads inside a sentence. */
function controlText(control: ControlRef): string {
  const name = control.sdmName;
  return /^[A-Z][a-z]/.test(name) ? name[0]!.toLowerCase() + name.slice(1) : name;
}

/**
 * An instruction decided by its row of the instruction table (vmx/instructions.ts): exits
 * unconditionally, or when every control of the row is 1; #UD when the control that enables it
 * is 0 (the #UD then exits only through the exception bitmap).
 */
function decideInstruction(row: InstructionExitDef, ctx: ExitContext): ExitDecision {
  const code = EXIT[row.reason];
  const insn = row.mnemonic;
  if (row.exitsWhen === "always")
    return exitsWith(code, `${insn} causes a VM exit unconditionally.`, [], row.reference);
  const controls = row.exitsWhen;
  const all = row.enabledBy ? [row.enabledBy, ...controls] : controls;
  if (row.enabledBy && !on(ctx, row.enabledBy))
    return withUd(
      ctx,
      `${insn} raises #UD because ${controlText(row.enabledBy)} is 0 (it does not exit as ${insn}).`,
      state(ctx, row.enabledBy),
    );
  const names = all.map(controlText);
  const listed =
    names.length === 1 ? `${names[0]} is` : `${names.join(" and ")} are ${names.length === 2 ? "both " : ""}`;
  if (controls.every((c) => on(ctx, c)))
    return exitsWith(code, `${insn} exits because ${listed.trimEnd()} 1.`, state(ctx, ...all), row.reference);
  const clear = controls.filter((c) => !on(ctx, c));
  const secondary = clear.some((c) => c.word === "proc2" || c.word === "proc3") ? SECONDARY_NOTE : "";
  const otherwise = row.otherwise ? `: ${row.otherwise}` : "";
  const because = row.enabledBy
    ? `: ${controlText(row.enabledBy)} is 1 but ${clear.map(controlText).join(" and ")} ${clear.length === 1 ? "is" : "are"} 0${secondary}${otherwise}.`
    : ` (${clear.map(controlText).join(" and ")} ${clear.length === 1 ? "is" : "are"} 0${secondary})${otherwise}.`;
  return noExit(`${insn} does not exit${because}`, state(ctx, ...all), row.reference);
}

/** RDTSC: the table's rule, and what the guest reads when it does not exit. */
function decideRdtsc(ctx: ExitContext): ExitDecision {
  const c = ctl();
  const d = decideInstruction(instructionExitByOp("rdtsc")!, ctx);
  if (d.exits.length > 0) return d;
  return noExit(
    d.rule,
    state(ctx, c.rdtsc, c.tscOffset),
    d.reference,
    on(ctx, c.tscOffset)
      ? `The guest reads TSC + TSC_OFFSET${on(ctx, c.tscScaling) ? " (scaled by the TSC multiplier)" : ""}: use TSC offsetting changes the value, never causes an exit.`
      : "The guest reads the host TSC unmodified.",
  );
}

/** An instruction that raises #UD: exits only if bit 6 of the exception bitmap is set. */
function withUd(ctx: ExitContext, rule: string, controls: string[]): ExitDecision {
  const ud = decideException(6, undefined, ctx);
  const d: ExitDecision = {
    exits: ud.exits,
    rule: `${rule} ${ud.exits.length ? "The #UD exits because bit 6 of the exception bitmap is set." : "The #UD is delivered to the guest (bit 6 of the exception bitmap is 0)."}`,
    controls: [...controls, ...ud.controls],
    reference: `${SDM_COND}; ${SDM_OTHER}`,
  };
  return d;
}

// ---------------------------------------------------------------------------------------------
// I/O

function decideIo(kind: "in" | "out", port: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const insn = kind.toUpperCase();
  const controls = state(ctx, c.ioBitmaps, c.uncondIo);
  // A one-byte access is modelled: wider accesses exit if any covered port's bit is set.
  if (on(ctx, c.ioBitmaps)) {
    const bitmap = ioBitmapOf(port);
    return ioBitmapBit(lookup, port)
      ? exitsWith(
          EXIT.IO_INSTRUCTION,
          `${insn} ${hex(port)} exits: use I/O bitmaps is 1 and the port's bit is set in I/O bitmap ${bitmap}.`,
          controls,
          SDM_COND,
          "With use I/O bitmaps = 1, unconditional I/O exiting is ignored.",
        )
      : noExit(
          `${insn} ${hex(port)} does not exit: use I/O bitmaps is 1 and the port's bit is clear in I/O bitmap ${bitmap}.`,
          controls,
          SDM_COND,
          "With use I/O bitmaps = 1, unconditional I/O exiting is ignored; add the port to `io trap` to intercept it.",
        );
  }
  return on(ctx, c.uncondIo)
    ? exitsWith(
        EXIT.IO_INSTRUCTION,
        `${insn} ${hex(port)} exits: use I/O bitmaps is 0 and unconditional I/O exiting is 1.`,
        controls,
        SDM_COND,
      )
    : noExit(
        `${insn} ${hex(port)} does not exit: use I/O bitmaps and unconditional I/O exiting are both 0 (the guest reaches the physical port).`,
        controls,
        SDM_COND,
      );
}

// ---------------------------------------------------------------------------------------------
// MSRs and x2APIC virtualization

function decideMsr(msr: number, write: boolean, ctx: ExitContext, msrName?: string): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const insn = write ? "WRMSR" : "RDMSR";
  const code = write ? EXIT.MSR_WRITE : EXIT.MSR_READ;
  const label = msrName ? `${msrName} (${hex(msr)})` : hex(msr);
  const controls = state(ctx, c.msrBitmaps);
  if (!on(ctx, c.msrBitmaps))
    return exitsWith(
      code,
      `${insn} ${label} exits: use MSR bitmaps is 0, so every ${insn} exits.`,
      controls,
      SDM_COND,
    );
  if (!msrInBitmapRange(msr))
    return exitsWith(
      code,
      `${insn} ${label} exits: the MSR is outside 0–0x1fff and 0xc0000000–0xc0001fff, which always exit.`,
      controls,
      SDM_COND,
    );
  if (msrBitmapBit(lookup, msr, write))
    return exitsWith(
      code,
      `${insn} ${label} exits: its ${write ? "write" : "read"} bit is set in the MSR bitmap.`,
      controls,
      SDM_COND,
    );
  if (isX2apicMsr(msr)) return decideX2apicPassThrough(msr, write, ctx, label);
  return noExit(
    `${insn} ${label} does not exit: its ${write ? "write" : "read"} bit is clear in the MSR bitmap.`,
    controls,
    SDM_COND,
  );
}

/** An x2APIC MSR access the MSR bitmap lets through (SDM §30.5). */
function decideX2apicPassThrough(msr: number, write: boolean, ctx: ExitContext, label: string): ExitDecision {
  const c = ctl();
  const insn = write ? "WRMSR" : "RDMSR";
  const controls = state(ctx, c.msrBitmaps, c.x2apic, c.apicRegs, c.vid);
  const kvm =
    "KVM clears these bitmap bits only with APICv on (vmx_update_msr_bitmap_x2apic: reads of 0x800–0x8ff except TMCCT, writes of TPR, EOI and SELF_IPI).";
  if (!on(ctx, c.x2apic))
    return noExit(
      `${insn} ${label} does not exit: the MSR bitmap lets it through and virtualize x2APIC mode is 0, so it reaches the physical local APIC.`,
      controls,
      SDM_APIC_MSR,
      `The guest touches the host's APIC: trap the MSR (\`msr trap\`) or virtualize it. ${kvm}`,
    );
  if (!write) {
    const virtualized = on(ctx, c.apicRegs) || msr === X2APIC_MSR.TPR;
    return noExit(
      `RDMSR ${label} does not exit: the MSR bitmap lets it through and virtualize x2APIC mode is 1.`,
      controls,
      SDM_APIC_MSR,
      virtualized
        ? "The read is served from the virtual-APIC page (TPR always; other registers with APIC-register virtualization)."
        : "Without APIC-register virtualization only TPR reads are virtualized; this read executes normally on the physical APIC.",
    );
  }
  if (msr === X2APIC_MSR.TPR) return decideTprWrite(ctx, `WRMSR ${label}`, controls, SDM_APIC_MSR);
  if (msr === X2APIC_MSR.EOI && on(ctx, c.vid))
    return decideVirtualEoi(ctx, `WRMSR ${label}`, controls, SDM_APIC_MSR);
  if (msr === X2APIC_MSR.SELF_IPI && on(ctx, c.vid))
    return noExit(
      `WRMSR ${label} does not exit: with virtual-interrupt delivery the self-IPI is virtualized (the vector is set in the virtual IRR).`,
      controls,
      SDM_APIC_MSR,
    );
  if (msr === X2APIC_MSR.ICR && on(ctx, c.ipiVirt))
    return noExit(
      `WRMSR ${label} does not exit: IPI virtualization (tertiary control) sends the IPI through the PID-pointer table.`,
      [...controls, ...state(ctx, c.ipiVirt)],
      SDM_APIC_MSR,
    );
  return noExit(
    `WRMSR ${label} does not exit: the MSR bitmap lets it through and the write is not one virtualize x2APIC mode virtualizes, so it reaches the physical local APIC.`,
    controls,
    SDM_APIC_MSR,
    `Only TPR, and EOI and SELF_IPI with virtual-interrupt delivery, are virtualized. ${kvm}`,
  );
}

/**
 * A virtualized write to the TPR (x2APIC MSR, APIC page or CR8). With virtual-interrupt
 * delivery, PPR virtualization follows and nothing exits. Without it, the write exits with
 * TPR_BELOW_THRESHOLD if VTPR[7:4] < TPR threshold[3:0]. The written value is unknown to the
 * model: a guest lowering its TPR to 0 (the common "unmask all" write) is assumed, so it exits
 * iff the threshold is above 0.
 */
function decideTprWrite(
  ctx: ExitContext,
  what: string,
  controls: string[],
  reference: string,
  newPriorityClass = 0,
): ExitDecision {
  const c = ctl();
  const threshold = vmcsLookup(ctx.vmcs).tprThreshold;
  if (on(ctx, c.vid))
    return noExit(
      `${what} does not exit: TPR virtualization with virtual-interrupt delivery evaluates pending virtual interrupts instead.`,
      controls,
      `${reference}; ${SDM_TPR}`,
    );
  return newPriorityClass < threshold
    ? exitsWith(
        EXIT.TPR_BELOW_THRESHOLD,
        `${what} exits with TPR_BELOW_THRESHOLD: the new TPR class ${newPriorityClass} is below the TPR threshold ${threshold}.`,
        controls,
        `${reference}; ${SDM_TPR}`,
        "Trap-like: the write completes first.",
      )
    : noExit(
        `${what} does not exit: the new TPR class ${newPriorityClass} is not below the TPR threshold ${threshold}.`,
        controls,
        `${reference}; ${SDM_TPR}`,
      );
}

/** EOI virtualization (virtual-interrupt delivery = 1): exits only per the EOI-exit bitmap. */
function decideVirtualEoi(
  ctx: ExitContext,
  what: string,
  controls: string[],
  reference: string,
): ExitDecision {
  const vector = ctx.eoiVector;
  const bitmap = vmcsLookup(ctx.vmcs).eoiExitBitmap;
  const set = vector !== undefined && eoiExitBitSet(bitmap, vector);
  const which = vector === undefined ? "the serviced vector" : `vector ${hex(vector)}`;
  return set
    ? exitsWith(
        EXIT.EOI_INDUCED,
        `${what} is virtualized and exits with EOI_INDUCED: the EOI-exit bitmap bit of ${which} is set.`,
        controls,
        `${reference}; ${SDM_EOI}`,
      )
    : noExit(
        `${what} does not exit: EOI virtualization (virtual-interrupt delivery) and the EOI-exit bitmap bit of ${which} is clear.`,
        controls,
        `${reference}; ${SDM_EOI}`,
        vector === undefined
          ? "No vector is known here; the bit is taken as clear (KVM sets it only for level-triggered I/O APIC vectors)."
          : undefined,
      );
}

// ---------------------------------------------------------------------------------------------
// Memory: EPT and the APIC-access page

function decideMemory(
  gpa: bigint,
  access: "read" | "write" | "exec",
  ctx: ExitContext,
  isMmio: boolean,
): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const what = `${isMmio ? "MMIO " : ""}${access} of ${hex(gpa)}`;
  const region = eptRegionAt(lookup, gpa);
  if (region?.perms.kind === "apic") return decideApicPage(gpa, access, ctx, what, on(ctx, c.ept));
  if (!on(ctx, c.ept))
    return noExit(
      `The ${what} does not exit through EPT: enable EPT is 0.`,
      state(ctx, c.ept),
      SDM_EPT,
      "Without EPT the hypervisor uses shadow paging, whose page-fault exits are out of this model's scope.",
    );
  const controls = state(ctx, c.ept);
  if (!region)
    return exitsWith(
      EXIT.EPT_VIOLATION,
      `The ${what} exits with EPT_VIOLATION: no EPT mapping covers the address.`,
      controls,
      SDM_EPT,
    );
  const perms = region.perms;
  switch (perms.kind) {
    case "misconfig":
      return exitsWith(
        EXIT.EPT_MISCONFIG,
        `The ${what} exits with EPT_MISCONFIG: the EPT entry is misconfigured (KVM's emulated-MMIO marker).`,
        controls,
        `${SDM_EPT}; KVM handle_ept_misconfig (arch/x86/kvm/vmx/vmx.c)`,
      );
    case "none":
      return exitsWith(
        EXIT.EPT_VIOLATION,
        `The ${what} exits with EPT_VIOLATION: the EPT entry grants no access.`,
        controls,
        SDM_EPT,
      );
    case "rwx": {
      const allowed = access === "read" ? perms.read : access === "write" ? perms.write : perms.execute;
      return allowed
        ? noExit(`The ${what} does not exit: the EPT entry allows ${access}.`, controls, SDM_EPT)
        : exitsWith(
            EXIT.EPT_VIOLATION,
            `The ${what} exits with EPT_VIOLATION: the EPT entry does not allow ${access}.`,
            controls,
            SDM_EPT,
          );
    }
  }
  return noExit(`The ${what} does not exit.`, controls, SDM_EPT);
}

/** An access to the APIC-access page (the `apic` EPT region). */
function decideApicPage(
  gpa: bigint,
  access: "read" | "write" | "exec",
  ctx: ExitContext,
  what: string,
  eptOn: boolean,
): ExitDecision {
  const c = ctl();
  const offset = apicRegisterOffset(gpa);
  const controls = state(ctx, c.apicAccesses, c.tprShadow, c.apicRegs, c.vid);
  const reg = `APIC register ${hex(offset)}`;
  if (!on(ctx, c.apicAccesses)) {
    if (!eptOn)
      return noExit(
        `The ${what} does not exit: virtualize APIC accesses and enable EPT are both 0.`,
        controls,
        SDM_APIC_MMIO,
        "Without EPT the hypervisor uses shadow paging, whose page-fault exits are out of this model's scope.",
      );
    return exitsWith(
      EXIT.EPT_VIOLATION,
      `The ${what} exits with EPT_VIOLATION: virtualize APIC accesses is 0, so the APIC page has no mapping of its own.`,
      controls,
      `${SDM_EPT}; ${SDM_APIC_MMIO}`,
    );
  }
  if (access === "exec")
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The ${what} exits with APIC_ACCESS: instruction fetches from the APIC-access page are never virtualized.`,
      controls,
      SDM_APIC_MMIO,
    );
  if (!on(ctx, c.tprShadow))
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The ${what} exits with APIC_ACCESS: use TPR shadow is 0, so no access is virtualized.`,
      controls,
      SDM_APIC_MMIO,
    );
  const regs = on(ctx, c.apicRegs);
  const vid = on(ctx, c.vid);
  if (access === "read") {
    const virtualized = regs ? APIC_READ_VIRTUALIZED.has(offset) : offset === XAPIC_OFFSET.TPR;
    return virtualized
      ? noExit(
          `The read of ${reg} does not exit: it is virtualized from the virtual-APIC page.`,
          controls,
          SDM_APIC_MMIO,
        )
      : exitsWith(
          EXIT.APIC_ACCESS,
          `The read of ${reg} exits with APIC_ACCESS: it is not a register the CPU virtualizes${regs ? "" : " (only TPR without APIC-register virtualization)"}.`,
          controls,
          SDM_APIC_MMIO,
        );
  }
  const virtualized = regs
    ? APIC_WRITE_VIRTUALIZED.has(offset)
    : offset === XAPIC_OFFSET.TPR ||
      (vid && (offset === XAPIC_OFFSET.EOI || offset === XAPIC_OFFSET.ICR_LOW));
  if (!virtualized)
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The write of ${reg} exits with APIC_ACCESS: the write is not virtualized under these controls.`,
      controls,
      SDM_APIC_MMIO,
    );
  if (offset === XAPIC_OFFSET.TPR)
    return decideTprWrite(ctx, `The write of ${reg} (TPR)`, controls, SDM_APIC_MMIO);
  if (offset === XAPIC_OFFSET.EOI && vid)
    return decideVirtualEoi(ctx, `The write of ${reg} (EOI)`, controls, SDM_APIC_MMIO);
  if (offset === XAPIC_OFFSET.ICR_LOW && vid && !regs)
    // Self-IPIs are virtualized; the ICR value is unknown to the model, so a general IPI
    // (APIC-write VM exit) is assumed.
    return exitsWith(
      EXIT.APIC_WRITE,
      `The write of ${reg} (ICR low) exits with APIC_WRITE after the write (only a self-IPI would be virtualized).`,
      controls,
      SDM_APIC_MMIO,
    );
  return exitsWith(
    EXIT.APIC_WRITE,
    `The write of ${reg} is virtualized into the virtual-APIC page, then exits with APIC_WRITE (APIC-write emulation, trap-like).`,
    controls,
    SDM_APIC_MMIO,
  );
}

// ---------------------------------------------------------------------------------------------
// EOI

function decideEoi(ctx: ExitContext): ExitDecision {
  if (ctx.guest.apic === "x2apic") {
    const d = decideMsr(X2APIC_MSR.EOI, true, ctx, "X2APIC_EOI");
    return { ...d, rule: `EOI in x2APIC mode is WRMSR X2APIC_EOI: ${d.rule}` };
  }
  const d = decideMemory(XAPIC_BASE + BigInt(XAPIC_OFFSET.EOI), "write", ctx, true);
  return { ...d, rule: `EOI in xAPIC mode is an MMIO write to 0xfee000b0: ${d.rule}` };
}

// ---------------------------------------------------------------------------------------------
// Control registers

function decideMovToCr(cr: 0 | 3 | 4 | 8, value: bigint | undefined, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  if (cr === 0 || cr === 4) {
    const mask = cr === 0 ? lookup.cr0Mask : lookup.cr4Mask;
    const shadow = cr === 0 ? lookup.cr0Shadow : lookup.cr4Shadow;
    const controls = [`CR${cr}_GUEST_HOST_MASK=${hex(mask)}`, `CR${cr}_READ_SHADOW=${hex(shadow)}`];
    if (mask === 0n)
      return noExit(
        `MOV to CR${cr} does not exit: the CR${cr} guest/host mask is 0 (the guest owns every bit).`,
        controls,
        SDM_COND,
      );
    if (value === undefined)
      return exitsWith(
        EXIT.CR_ACCESS,
        `MOV to CR${cr} exits: the value is taken to differ from the read shadow in a bit set in the guest/host mask ${hex(mask)}.`,
        controls,
        SDM_COND,
        "Give the value (`mov cr" + cr + " VALUE`) to decide exactly.",
      );
    const differing = (value ^ shadow) & mask;
    return differing !== 0n
      ? exitsWith(
          EXIT.CR_ACCESS,
          `MOV to CR${cr} of ${hex(value)} exits: it differs from the read shadow in host-owned bits ${hex(differing)}.`,
          controls,
          SDM_COND,
        )
      : noExit(
          `MOV to CR${cr} of ${hex(value)} does not exit: it matches the read shadow in every bit of the guest/host mask.`,
          controls,
          SDM_COND,
        );
  }
  if (cr === 3) {
    const controls = [...state(ctx, c.cr3Load), `CR3_TARGET_COUNT=${lookup.cr3TargetCount}`];
    if (!on(ctx, c.cr3Load))
      return noExit("MOV to CR3 does not exit (CR3-load exiting is 0).", controls, SDM_COND);
    const n = Math.min(lookup.cr3TargetCount, lookup.cr3TargetValues.length);
    if (n === 0)
      return exitsWith(
        EXIT.CR_ACCESS,
        "MOV to CR3 exits: CR3-load exiting is 1 and the CR3-target count is 0.",
        controls,
        SDM_COND,
      );
    if (value === undefined)
      return exitsWith(
        EXIT.CR_ACCESS,
        `MOV to CR3 exits: CR3-load exiting is 1 and the value is taken to be none of the ${n} CR3-target values.`,
        controls,
        SDM_COND,
        "Give the value (`mov cr3 VALUE`) to decide exactly.",
      );
    for (let i = 0; i < n; i++)
      if (lookup.cr3TargetValues[i] === value)
        return noExit(
          `MOV to CR3 of ${hex(value)} does not exit: it equals CR3-target value ${i}.`,
          controls,
          SDM_COND,
        );
    return exitsWith(
      EXIT.CR_ACCESS,
      `MOV to CR3 of ${hex(value)} exits: CR3-load exiting is 1 and it is none of the first ${n} CR3-target values.`,
      controls,
      SDM_COND,
    );
  }
  // CR8 (64-bit mode only).
  const controls = state(ctx, c.cr8Load, c.tprShadow, c.vid);
  if (on(ctx, c.cr8Load))
    return exitsWith(EXIT.CR_ACCESS, "MOV to CR8 exits because CR8-load exiting is 1.", controls, SDM_COND);
  if (!on(ctx, c.tprShadow))
    return noExit(
      "MOV to CR8 does not exit: CR8-load exiting and use TPR shadow are 0, so the guest writes the physical TPR.",
      controls,
      SDM_COND,
    );
  const cls = value === undefined ? 0 : cr8PriorityClass(value);
  const d = decideTprWrite(
    ctx,
    `MOV to CR8${value === undefined ? "" : ` of ${hex(value)}`}`,
    controls,
    `${SDM_COND}; ${SDM_CR8}`,
    cls,
  );
  if (value === undefined && d.exits.length)
    d.detail = "The value is not given: a write of 0 (unmask every priority class) is assumed.";
  return d;
}

function decideMovFromCr(cr: 3 | 8, ctx: ExitContext): ExitDecision {
  const c = ctl();
  if (cr === 3)
    return on(ctx, c.cr3Store)
      ? exitsWith(
          EXIT.CR_ACCESS,
          "MOV from CR3 exits because CR3-store exiting is 1.",
          state(ctx, c.cr3Store),
          SDM_COND,
        )
      : noExit("MOV from CR3 does not exit (CR3-store exiting is 0).", state(ctx, c.cr3Store), SDM_COND);
  const controls = state(ctx, c.cr8Store, c.tprShadow);
  return on(ctx, c.cr8Store)
    ? exitsWith(EXIT.CR_ACCESS, "MOV from CR8 exits because CR8-store exiting is 1.", controls, SDM_COND)
    : noExit(
        `MOV from CR8 does not exit (CR8-store exiting is 0)${on(ctx, c.tprShadow) ? "; it reads VTPR[7:4] from the virtual-APIC page" : "; it reads the physical TPR"}.`,
        controls,
        `${SDM_COND}; ${SDM_CR8}`,
      );
}

// ---------------------------------------------------------------------------------------------
// PAUSE loops

/** Cycles of one spin-loop iteration on the target: the profile's estimate (vmx/profiles.ts). */
function pauseIterationCycles(ctx: ExitContext): number {
  return ctx.program.target.profile.pauseIteration.cycles;
}

function decidePauseLoop(cycles: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const cpl = ctx.cpl ?? 0;
  const lookup = vmcsLookup(ctx.vmcs);
  if (on(ctx, c.pause)) {
    // Every PAUSE exits at any CPL; PAUSE-loop exiting is then ignored. The loop keeps spinning
    // for its wall time, and each iteration costs one PAUSE plus one exit.
    const exitCycles = exitRoundTripEstimate(ctx);
    const iteration = pauseIterationCycles(ctx);
    const n = Math.max(1, Math.floor(cycles / (iteration + exitCycles)));
    return exitsWith(
      EXIT.PAUSE_INSTRUCTION,
      `Every PAUSE exits because PAUSE exiting is 1: about ${n} exits in a ${Math.round(cycles)}-cycle spin.`,
      state(ctx, c.pause, c.ple),
      SDM_COND,
      `Modelled as max(1, floor(spin / (${iteration} cycles per PAUSE iteration (the target's estimate) + ${Math.round(exitCycles)} cycles per exit))).`,
      n,
    );
  }
  const controls = state(ctx, c.pause, c.ple);
  if (!on(ctx, c.ple))
    return noExit(
      "PAUSE does not exit: PAUSE exiting and PAUSE-loop exiting are both 0.",
      controls,
      SDM_COND,
    );
  if (cpl > 0)
    return noExit(
      "PAUSE does not exit: PAUSE-loop exiting is ignored at CPL > 0 and PAUSE exiting is 0.",
      controls,
      SDM_COND,
    );
  const gap = lookup.pleGap;
  const window = lookup.pleWindow;
  const pleControls = [...controls, `PLE_GAP=${gap}`, `PLE_WINDOW=${window}`];
  if (gap === 0)
    return noExit(
      "PAUSE-loop exiting never fires: PLE_Gap is 0, so every PAUSE starts a new loop.",
      pleControls,
      SDM_COND,
      `Set \`ple gap ${KVM_DEFAULTS.pleGap.value} window ${KVM_DEFAULTS.pleWindow.value}\` (KVM's defaults, KVM_DEFAULT_PLE_GAP / KVM_VMX_DEFAULT_PLE_WINDOW).`,
    );
  const n = Math.floor(cycles / Math.max(1, window));
  const model = `A CPL-0 spin of T cycles with PAUSEs closer than PLE_Gap exits floor(T / PLE_Window) times: floor(${Math.round(cycles)} / ${window}) = ${n}. KVM's per-vCPU window growth (grow_ple_window) is left to the simulator.`;
  return n > 0
    ? exitsWith(
        EXIT.PAUSE_INSTRUCTION,
        `PAUSE-loop exiting: the spin outlasts PLE_Window ${n} time${n === 1 ? "" : "s"}.`,
        pleControls,
        SDM_COND,
        model,
        n,
      )
    : noExit(
        "PAUSE-loop exiting does not fire: the spin is shorter than PLE_Window.",
        pleControls,
        SDM_COND,
        model,
      );
}

function exitRoundTripEstimate(ctx: ExitContext): number {
  return handlerCost(ctx.program, EXIT.PAUSE_INSTRUCTION).total;
}

// ---------------------------------------------------------------------------------------------
// Exceptions

function decideException(vector: number, errorCode: number | undefined, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const v = vector & 0x1f;
  if (v === 2)
    return on(ctx, c.nmiExiting)
      ? exitsWith(
          EXIT.EXCEPTION_NMI,
          "The NMI exits because NMI exiting is 1.",
          state(ctx, c.nmiExiting),
          SDM_OTHER,
        )
      : noExit("The NMI is delivered to the guest (NMI exiting is 0).", state(ctx, c.nmiExiting), SDM_OTHER);
  const bitmap = ctx.vmcs.exceptionBitmap;
  const bit = ((bitmap >>> v) & 1) === 1;
  const controls = [`EXCEPTION_BITMAP=${hex(bitmap >>> 0)}`];
  if (v === 14) {
    const lookup = vmcsLookup(ctx.vmcs);
    const pfec = errorCode ?? 0;
    const matches = (pfec & lookup.pfecMask) === lookup.pfecMatch;
    const exits = matches ? bit : !bit;
    controls.push(
      `PAGE_FAULT_ERROR_CODE_MASK=${hex(lookup.pfecMask)}`,
      `PAGE_FAULT_ERROR_CODE_MATCH=${hex(lookup.pfecMatch)}`,
    );
    const rule = `#PF with error code ${hex(pfec)}: (PFEC & mask) ${matches ? "==" : "!="} match, so the exit ${matches ? "follows" : "inverts"} bit 14 of the exception bitmap (${bit ? 1 : 0}).`;
    const detail = errorCode === undefined ? "No error code given: 0 is assumed." : undefined;
    return exits
      ? exitsWith(EXIT.EXCEPTION_NMI, `${rule} It exits.`, controls, SDM_OTHER, detail)
      : noExit(`${rule} It is delivered to the guest.`, controls, SDM_OTHER, detail);
  }
  return bit
    ? exitsWith(
        EXIT.EXCEPTION_NMI,
        `Exception vector ${v} exits: its bit is set in the exception bitmap.`,
        controls,
        SDM_OTHER,
      )
    : noExit(
        `Exception vector ${v} is delivered to the guest: its bit is clear in the exception bitmap.`,
        controls,
        SDM_OTHER,
      );
}

// ---------------------------------------------------------------------------------------------
// Dirty pages

/** PML buffer entries (PML_LOG_NR_ENTRIES, arch/x86/kvm/vmx/vmx.h; the KVM_DEFAULTS table). */
export const PML_ENTRIES = KVM_DEFAULTS.pmlEntries.value;

function decideDirty(pages: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const controls = state(ctx, c.ept, c.pml);
  if (!on(ctx, c.ept))
    return noExit(
      "Dirty logging without EPT uses shadow-page write protection, which is out of this model's scope.",
      controls,
      SDM_PML,
    );
  if (on(ctx, c.pml))
    return exitsWith(
      EXIT.PML_FULL,
      `With PML each newly dirtied page is logged; the ${PML_ENTRIES}-entry buffer fills and exits with PML_FULL once every ${PML_ENTRIES} pages: ${pages}/${PML_ENTRIES} = ${(pages / PML_ENTRIES).toFixed(4)} exits per execution.`,
      controls,
      `${SDM_PML}; KVM vmx_flush_pml_buffer`,
      "Dirty logging (e.g. live migration) is assumed to be on.",
      pages / PML_ENTRIES,
    );
  return exitsWith(
    EXIT.EPT_VIOLATION,
    `Without PML, dirty logging write-protects every page: the first write to each of ${pages} pages exits with EPT_VIOLATION.`,
    controls,
    `${SDM_EPT}; KVM write-protection dirty logging (kvm_mmu_slot_remove_write_access)`,
    "Dirty logging (e.g. live migration) is assumed to be on.",
    pages,
  );
}

// ---------------------------------------------------------------------------------------------
// Compound operations

/**
 * Transactional attempts before the fallback path: glibc's lock elision default
 * (`glibc.elision.retry_try_xbegin` = 3, sysdeps/unix/sysv/linux/x86/elision-conf.c). A model
 * parameter, not a hardware fact.
 */
export const TSX_ATTEMPTS = 3;

export interface TsxModel {
  /** Probability that one transactional attempt aborts (the body would exit). */
  abortProbability: number;
  /** Expected transactional attempts per execution (each runs the body's computation). */
  attempts: number;
  /** Expected aborted attempts per execution. */
  abortedAttempts: number;
  /** Probability the fallback (non-transactional) path runs. */
  fallbackProbability: number;
  /** Multiplier on the body's (unconditional) exits for the fallback path: q^(A−1). */
  fallbackExitFactor: number;
}

/**
 * Expected-value model of a transactional region whose body exits with probability q per
 * attempt, with A = TSX_ATTEMPTS attempts before the fallback:
 * attempt k (1..A) runs with probability q^(k−1) and aborts with probability q; the fallback
 * runs with probability q^A and, being conditioned on an exit, carries E/q exits — so
 * q^(A−1)·E in expectation.
 */
export function tsxModel(q: number): TsxModel {
  let attempts = 0;
  let aborted = 0;
  let pk = 1;
  for (let k = 1; k <= TSX_ATTEMPTS; k++) {
    attempts += pk;
    aborted += pk * q;
    pk *= q;
  }
  return {
    abortProbability: q,
    attempts,
    abortedAttempts: aborted,
    fallbackProbability: pk,
    fallbackExitFactor: q > 0 ? q ** (TSX_ATTEMPTS - 1) : 0,
  };
}

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
    if (op.op === "compute") {
      // The most common operation: no decision needed in the aggregate.
      compute += op.cycles;
      if (visit) visit(op, decideLeaf(op, ctx), executions);
      continue;
    }
    const r = walkOne(op, ctx, visit, executions, arrival);
    for (const e of r.decision.exits) addEffect(acc, e.reason, e.perExecution);
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
const RuleKind = {
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
type RuleKind = (typeof RuleKind)[keyof typeof RuleKind];

/**
 * A decision aggregated from others. Its rule text and control union are built on first read
 * (hovers read a handful; the estimator creates thousands per keystroke). A class with
 * prototype getters rather than an object literal with its own accessors: V8 keeps literals
 * with accessors in dictionary mode, about 1 µs each to create. Callers read decisions only
 * through their properties; `toJSON` gives JSON the plain values (a spread or structured clone
 * would not see the lazy fields, and no caller makes one).
 */
class CompoundDecision implements ExitDecision {
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

function describeCompound(kind: RuleKind, param: number, exits: ExitEffect[]): string {
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

function walkOne(
  op: GuestOp,
  ctx: ExitContext,
  visit: OpVisitor | undefined,
  executions: number,
  arrival: Arrival | undefined,
): WalkResult {
  switch (op.op) {
    case "repeat": {
      const body = walkOps(op.ops, ctx, visit, executions * op.count, true, arrival);
      const exits = body.decision.exits.map((e) => ({
        reason: e.reason,
        perExecution: e.perExecution * op.count,
      }));
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
        for (const e of body.decision.exits) addEffect(acc, e.reason, e.perExecution * arm.probability);
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
      const q = 1 - probe.noExitProbability;
      const model = tsxModel(q);
      const body = visit ? walkOps(op.ops, ctx, visit, executions * model.fallbackExitFactor) : probe;
      const bodyExits = body.decision.exits;
      const total = bodyExits.reduce((s, e) => s + e.perExecution, 0);
      const acc: ExitEffect[] = [];
      for (const e of bodyExits) {
        // Aborted attempts: one exit each if the aborting operation is a memory access (its
        // EPT/APIC/PML exit happens, then the transaction aborts); an exiting instruction or
        // an exception aborts the transaction without executing (RTM), so no exit.
        if (e.reason.memoryAccess && total > 0)
          addEffect(acc, e.reason, (model.abortedAttempts * e.perExecution) / total);
        addEffect(acc, e.reason, model.fallbackExitFactor * e.perExecution);
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
        computeCycles: body.computeCycles * (model.attempts + model.fallbackProbability),
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
      for (const e of body.decision.exits) addEffect(exits, e.reason, e.perExecution * flush);
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
      const decision = decideLeaf(op, ctx);
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

// ---------------------------------------------------------------------------------------------
// Coalescing (`coalesce N or T`)

/** The batch model of one `coalesce` site (docs/estimator.md §2.6). */
export interface CoalesceModel {
  /** How the site's executions were taken to arrive. */
  arrivals: "poisson" | "periodic" | "unknown";
  /** Executions of the site per second per vCPU (0 when unknown). */
  ratePerSec: number;
  /** Expected executions per batch, E[B] (1 ≤ E[B] ≤ N). */
  batchSize: number;
  /** Flushes (runs of the body) per execution: 1 / E[B]. */
  flushProbability: number;
  /** Share of batches that close at the timeout rather than at N executions. */
  timeoutShare: number;
}

/**
 * The expected batch of a `coalesce N or T` site. A batch opens at an execution and closes at
 * the N-th or at T after the first, whichever comes first; the body runs once per batch, so
 * flushes per execution = 1/E[B] (renewal-reward).
 *
 * - Poisson executions at rate r (the source's rate × the site's executions per source
 *   execution — exact for branch arms, which thin a Poisson stream; the mean for `repeat`):
 *   K ~ Poisson(rT) executions follow the first inside the window, B = min(N, 1 + K), so
 *   E[B] = Σ_{k=0}^{N−1} P(K ≥ k) and the timeout closes a batch with P(K ≤ N − 2).
 * - Periodic executions (`every`, `timer periodic`) spaced d = period / executions:
 *   B = min(N, ⌈T/d⌉) (an execution exactly at the deadline comes after it), deterministic.
 * - Unknown (a tickless timer, whose rate the idle model solves later, or no arrival given):
 *   taken as λ → 0, E[B] = 1: every execution flushes, at its timeout — an upper bound.
 */
export function coalesceModel(
  count: number,
  timeoutSec: number,
  arrival: Arrival | undefined,
  executions = 1,
): CoalesceModel {
  const n = Math.max(1, Math.floor(count));
  if (arrival === undefined || arrival.kind === "tickless" || !(executions > 0)) {
    // With no arrival given, decideExit on its own: the count limit only.
    const batch = arrival === undefined ? n : 1;
    return {
      arrivals: "unknown",
      ratePerSec: 0,
      batchSize: batch,
      flushProbability: 1 / batch,
      timeoutShare: arrival === undefined || n === 1 ? 0 : 1,
    };
  }
  if (arrival.kind === "periodic") {
    const period = arrival.periodSec / executions;
    const ratio = timeoutSec / period;
    // Executions at 0, d, 2d, … join while k·d < T: ⌈T/d⌉ of them (float noise at integers).
    const near = Math.round(ratio);
    const members = Math.abs(ratio - near) <= 1e-9 * Math.max(1, ratio) ? near : Math.ceil(ratio);
    const batch = Math.min(n, Math.max(1, members));
    return {
      arrivals: "periodic",
      ratePerSec: 1 / period,
      batchSize: batch,
      flushProbability: 1 / batch,
      timeoutShare: batch < n ? 1 : 0,
    };
  }
  const rate = Math.max(0, arrival.ratePerSec) * executions;
  const mean = rate * timeoutSec; // E[K]
  const { batchSize, atLeastLast } = poissonBatch(n, mean);
  return {
    arrivals: "poisson",
    ratePerSec: rate,
    batchSize,
    flushProbability: 1 / batchSize,
    timeoutShare: n === 1 ? 0 : Math.min(1, Math.max(0, 1 - atLeastLast)),
  };
}

/**
 * E[min(N, 1 + K)] = Σ_{k=0}^{N−1} P(K ≥ k) for K ~ Poisson(mean), and P(K ≥ N − 1). The pmf
 * is stepped in log space (e^−mean underflows past mean ≈ 745); the sum stops once the tail is
 * below 1e-16 past the mean, and is N at once when N − 1 is far below the mean.
 */
function poissonBatch(n: number, mean: number): { batchSize: number; atLeastLast: number } {
  if (n === 1) return { batchSize: 1, atLeastLast: 1 };
  // P(K < N−1) < 1e-20 when N−1 is 10 standard deviations (and 20) below the mean.
  if (n - 1 < mean - 10 * Math.sqrt(mean) - 20) return { batchSize: n, atLeastLast: 1 };
  let sum = 0;
  let tail = 1; // P(K ≥ k)
  let logPmf = -mean; // log P(K = k)
  const logMean = Math.log(mean);
  for (let k = 0; k < n; k++) {
    if (k === n - 1) return { batchSize: sum + tail, atLeastLast: tail };
    sum += tail;
    tail -= Math.exp(logPmf);
    if (tail < 1e-16 && k > mean) return { batchSize: sum, atLeastLast: 0 };
    if (tail < 0) tail = 0;
    logPmf += logMean - Math.log(k + 1);
  }
  return { batchSize: sum, atLeastLast: tail };
}

function describeCoalesce(count: number, timeoutSec: number, model: CoalesceModel): string {
  const window = formatSecondsShort(timeoutSec);
  const closes = `A batch closes at ${count} executions or ${window} after its first, whichever comes first`;
  const timeout = `${(model.timeoutShare * 100).toFixed(1)}% of batches close at the timeout (their flush runs then, as guest work of its own)`;
  switch (model.arrivals) {
    case "poisson":
      return `${closes}. Poisson executions at ${fmt(model.ratePerSec)}/s per vCPU: λT = ${fmt(model.ratePerSec * timeoutSec)}, E[batch] = E[min(${count}, 1 + Poisson(λT))] = ${fmt(model.batchSize)}; ${timeout}.`;
    case "periodic":
      return `${closes}. Periodic executions every ${formatSecondsShort(1 / model.ratePerSec)}: batch = min(${count}, ⌈T/period⌉) = ${fmt(model.batchSize)}; ${timeout}.`;
    case "unknown":
      return model.batchSize === 1
        ? `${closes}. The execution rate is not known before the idle model (tickless timer): every execution is taken to flush at its timeout (an upper bound).`
        : `${closes}. No execution rate given: one flush per ${count} executions (the count limit).`;
  }
}

function formatSecondsShort(seconds: number): string {
  if (seconds >= 1) return `${fmt(seconds)} s`;
  if (seconds >= 1e-3) return `${fmt(seconds * 1e3)} ms`;
  if (seconds >= 1e-6) return `${fmt(seconds * 1e6)} µs`;
  return `${fmt(seconds * 1e9)} ns`;
}

/**
 * Adds exits of a reason to an accumulator kept in first-seen order. A list, not a map: an
 * operation list exits with a handful of reasons at most, and walks build thousands of these.
 */
function addEffect(acc: ExitEffect[], r: ExitReasonDef, perExecution: number): void {
  if (perExecution === 0) return;
  for (let i = 0; i < acc.length; i++) {
    const e = acc[i]!;
    if (e.reason.code === r.code) {
      e.perExecution += perExecution;
      return;
    }
  }
  acc.push({ reason: r, perExecution });
}

function summarize(exits: ExitEffect[], what: string): string {
  if (exits.length === 0) return `${capitalize(what)}: no exits.`;
  const parts = exits.map((e) => `${fmt(e.perExecution)} ${e.reason.name}`);
  return `${capitalize(what)}: ${parts.join(", ")} per execution.`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(3);
}

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

const DELIVERY_KINDS = {
  path: "delivery:path",
  irq: "delivery:irq",
  ipi: "delivery:ipi",
  nmi: "delivery:nmi",
  timer: "delivery:timer",
} as const;

function computeDelivery(source: GuestSource, ctx: ExitContext): ExitDecision {
  return computeDeliveryResult(source, ctx).decision;
}

function computeDeliveryResult(source: GuestSource, ctx: ExitContext): DeliveryDecision {
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

function opsContainHalt(ops: readonly HandlerOp[], program: Program, depth = 0): boolean {
  if (depth > 16) return false;
  for (const op of ops) {
    if (op.op === "halt") return true;
    if (op.op === "repeat" && opsContainHalt(op.ops, program, depth + 1)) return true;
    if (op.op === "branch" && op.arms.some((a) => opsContainHalt(a.ops, program, depth + 1))) return true;
    if (op.op === "call") {
      const fn = program.fns.get(op.fn);
      if (fn && opsContainHalt(fn.ops, program, depth + 1)) return true;
    }
  }
  return false;
}
