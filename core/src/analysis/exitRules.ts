/**
 * The context of an exit decision and the builders every family uses: the SDM references (Vol. 3C editions from 2023; pre-2023 section numbers beside), the controls the decisions test (vmx/controls.ts CONTROL refs) and the decision constructors.
 */
import type { GuestIR, GuestSource, Program, VmcsIR } from "../model/ir";
import { CONTROL, type ControlRef, isControlSet } from "../vmx/controls";
import { exitReasonByCode } from "../vmx/exitReasons";
import { SDM_CONDITIONAL } from "../vmx/instructions";
import type { ControlWord, ExitReasonDef } from "../vmx/types";
import { effectiveControls } from "./effective";
import { memoOf } from "./memo";
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
  /**
   * Interrupts per guest cycle that can land while a path runs (the guest's interrupt sources:
   * each, exiting or posted, aborts an open transaction), for `tsx` (tsxModel). Absent: 0.
   */
  asyncArrivalsPerCycle?: number;
}

/**
 * The context of a guest's operations under its vmcs (no EOI vector, CPL 0), one object per
 * guest, kept in the program's memo (memo.ts): the estimator and the unhandled-exit lint decide
 * in the same context object, so the lint finds the estimate's leaf decisions without building
 * another cache entry. Undefined when the guest's vmcs does not exist.
 */
export function guestContext(program: Program, guest: GuestIR): ExitContext | undefined {
  const vmcs = program.vmcs.get(guest.vmcs);
  if (vmcs === undefined) return undefined;
  const controls = effectiveControls(vmcs, program.target);
  const contexts = memoOf(program).guestContexts;
  const cached = contexts.get(guest);
  if (cached && cached.vmcs === vmcs && cached.controls === controls) return cached;
  const ctx: GuestContext = {
    program,
    guest,
    vmcs,
    controls,
    irqContexts: undefined,
    pathContext: undefined,
  };
  contexts.set(guest, ctx);
  return ctx;
}

/**
 * The context of one source's operations: the guest's, with the source's vector as the EOI
 * vector for an `irq` (an `eoi` in it signals that vector's EOI). Cached per guest context
 * and vector, so every estimate decides an irq's operations in the same context object.
 */
export function sourceContext(ctx: ExitContext, source: GuestSource): ExitContext {
  if (source.kind !== "irq") return ctx;
  const owner = memoOf(ctx.program).guestContexts.get(ctx.guest);
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

/**
 * The context of a guest's `path` operations when interrupts can land while they run
 * (`asyncArrivalsPerCycle`, the tsx model): cached per guest context and rate, so each solve of
 * the estimate decides the paths in the same context object (and finds its leaf cache).
 */
export function pathContext(ctx: ExitContext, asyncArrivalsPerCycle: number): ExitContext {
  const owner = memoOf(ctx.program).guestContexts.get(ctx.guest);
  if (owner !== ctx) return { ...ctx, asyncArrivalsPerCycle };
  const cached = owner.pathContext;
  if (cached !== undefined && cached.asyncArrivalsPerCycle === asyncArrivalsPerCycle) return cached;
  const path: ExitContext = {
    program: ctx.program,
    guest: ctx.guest,
    vmcs: ctx.vmcs,
    controls: ctx.controls,
    asyncArrivalsPerCycle,
  };
  owner.pathContext = path;
  return path;
}

export interface GuestContext extends ExitContext {
  irqContexts: Map<number, ExitContext> | undefined;
  pathContext: ExitContext | undefined;
}

// ---------------------------------------------------------------------------------------------
// References

export const SDM_COND = SDM_CONDITIONAL;
export const SDM_OTHER = "SDM Vol. 3C §26.2 (older editions §25.2), Other Causes of VM Exits";
export const SDM_EPT = "SDM Vol. 3C §29.3.3 (older editions §28.2.3), EPT-Induced VM Exits";
export const SDM_PML = "SDM Vol. 3C §29.3.6 (older editions §28.2.6), Page-Modification Logging";
export const SDM_APIC_MMIO =
  "SDM Vol. 3C §30.4 (older editions §29.4), Virtualizing Memory-Mapped APIC Accesses";
export const SDM_APIC_MSR = "SDM Vol. 3C §30.5 (older editions §29.5), Virtualizing MSR-Based APIC Accesses";
export const SDM_TPR = "SDM Vol. 3C §30.1.2 (older editions §29.1.2), TPR Virtualization";
export const SDM_EOI = "SDM Vol. 3C §30.1.4 (older editions §29.1.4), EOI Virtualization";
export const SDM_POSTED = "SDM Vol. 3C §30.6 (older editions §29.6), Posted-Interrupt Processing";
export const SDM_CR8 = "SDM Vol. 3C §30.3 (older editions §29.3), Virtualizing CR8-Based TPR Accesses";
export const SDM_TSX = "SDM Vol. 1 ch. 16 (Intel TSX), RTM runtime considerations";
export const COALESCE_REFERENCE =
  "notification coalescing: VIRTIO 1.2 split virtqueues, Available Buffer Notification Suppression (VIRTIO_F_EVENT_IDX; Linux vring_need_event, include/uapi/linux/virtio_ring.h); NIC moderation (ethtool -C tx-frames/tx-usecs, struct ethtool_coalesce, include/uapi/linux/ethtool.h)";

// ---------------------------------------------------------------------------------------------
// Exit reasons by basic number

export function reason(code: number): ExitReasonDef {
  const r = exitReasonByCode(code);
  if (!r) throw new Error(`exit reason ${code} missing from the VT-x tables`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Controls, resolved once

/** The controls the decisions test, by short name (resolved refs: one AND per test). */
export const C = {
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
export function ctl() {
  return C;
}

export function on(ctx: ExitContext, ref: ControlRef): boolean {
  return isControlSet(ctx.controls, ref);
}

export function state(ctx: ExitContext, ...refs: ControlRef[]): string[] {
  return refs.map((r) => `${r.name}=${on(ctx, r) ? 1 : 0}`);
}

// ---------------------------------------------------------------------------------------------
// Decision builders

export function exitsWith(
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
export const SECONDARY_NOTE = ", or the secondary controls are not activated";

export function noExit(rule: string, controls: string[], reference: string, detail?: string): ExitDecision {
  const d: ExitDecision = { exits: [], rule, controls, reference };
  if (detail) d.detail = detail;
  return d;
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Total exits per execution of a decision. */
export function exitCount(d: ExitDecision): number {
  let n = 0;
  for (const e of d.exits) n += e.perExecution;
  return n;
}

/**
 * Adds exits of a reason to an accumulator kept in first-seen order. A list, not a map: an
 * operation list exits with a handful of reasons at most, and walks build thousands of these.
 */
export function addEffect(acc: ExitEffect[], r: ExitReasonDef, perExecution: number, handler?: number): void {
  if (perExecution === 0) return;
  for (let i = 0; i < acc.length; i++) {
    const e = acc[i]!;
    // One entry per (reason, handler): exits a specialised handler takes stay apart.
    if (e.reason.code === r.code && e.handler === handler) {
      e.perExecution += perExecution;
      return;
    }
  }
  acc.push(handler === undefined ? { reason: r, perExecution } : { reason: r, perExecution, handler });
}

export function summarize(exits: ExitEffect[], what: string): string {
  if (exits.length === 0) return `${capitalize(what)}: no exits.`;
  const parts = exits.map((e) => `${fmt(e.perExecution)} ${e.reason.name}`);
  return `${capitalize(what)}: ${parts.join(", ")} per execution.`;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(3);
}
