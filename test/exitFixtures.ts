/**
 * Hand-built IR for the exit and estimator tests: a target whose capability MSRs allow every
 * control (TRUE MSRs with Bochs' example allowed-0 values, vmx-facts §5) and whose costs are
 * round numbers, so expected figures can be computed by hand in the test comments.
 */
import { effectiveControls } from "../core/src/analysis/effective";
import type { ExitContext } from "../core/src/analysis/exits";
import type {
  Arrival,
  EptPermissions,
  GuestIR,
  GuestOp,
  GuestSource,
  HandlerOp,
  Program,
  TargetIR,
  VmcsIR,
} from "../core/src/model/ir";
import type { Span } from "../core/src/source";
import { findControls } from "../core/src/vmx/controls";
import { exitReasonByName } from "../core/src/vmx/exitReasons";
import type { CapabilityMsrs, ControlWord, CostName, CostParam, CpuProfile } from "../core/src/vmx/types";
import { vmcsFieldByName } from "../core/src/vmx/vmcsFields";

export const S: Span = { start: 0, end: 0 };
let spanCounter = 1;
/** A distinct span per call, so operation estimates can be found by span. */
export function span(): Span {
  const s = spanCounter++;
  return { start: s * 10, end: s * 10 + 5 };
}

const allowAll = (allowed0: bigint) => (0xffffffffn << 32n) | allowed0;

export function msrs(trueControls = true): CapabilityMsrs {
  return {
    IA32_VMX_BASIC: trueControls ? 1n << 55n : 0n,
    IA32_VMX_PINBASED_CTLS: allowAll(0x16n),
    IA32_VMX_PROCBASED_CTLS: allowAll(0x0401e172n),
    IA32_VMX_EXIT_CTLS: allowAll(0x00036dffn),
    IA32_VMX_ENTRY_CTLS: allowAll(0x000011ffn),
    IA32_VMX_MISC: 4n << 16n,
    IA32_VMX_CR0_FIXED0: 0x80000021n,
    IA32_VMX_CR0_FIXED1: 0xffffffffn,
    IA32_VMX_CR4_FIXED0: 0x2000n,
    IA32_VMX_CR4_FIXED1: 0xffffffffn,
    IA32_VMX_VMCS_ENUM: 0n,
    IA32_VMX_PROCBASED_CTLS2: 0xffffffffn << 32n,
    IA32_VMX_EPT_VPID_CAP: 0n,
    // Bochs' TRUE examples: proc bits 15 and 16 (CR3 load/store exiting) may be 0.
    IA32_VMX_TRUE_PINBASED_CTLS: allowAll(0x16n),
    IA32_VMX_TRUE_PROCBASED_CTLS: allowAll(0x04006172n),
    IA32_VMX_TRUE_EXIT_CTLS: allowAll(0x00036dfbn),
    IA32_VMX_TRUE_ENTRY_CTLS: allowAll(0x000011fbn),
    IA32_VMX_VMFUNC: 0n,
    IA32_VMX_PROCBASED_CTLS3: 0xffn,
  };
}

/** Round-number costs (cycles) for hand arithmetic. */
export const COSTS: Record<CostName, number> = {
  round_trip: 1000,
  vmread: 50,
  vmwrite: 60,
  decode: 800,
  userspace_round_trip: 6000,
  halt_wake: 4000,
  ipi: 2000,
  invept: 500,
  invvpid: 300,
  inject: 100,
  advance_rip: 70,
  pml_drain: 9000,
  nested_vmexit: 4000,
  nested_vmentry: 5000,
  vmx_emulate: 200,
  vmptrld: 100,
  ept02_fault: 3000,
  // The transition's configuration terms and its distribution are off in these fixtures, so
  // hand arithmetic sees the round trip alone (test/transition-cost.test.ts covers them).
  msr_list_entry: 0,
  save_load_register: 0,
  tlb_refill: 0,
  ept_walk_level: 0,
  l1d_flush: 0,
  verw: 0,
  rsb_fill: 0,
  ibpb: 0,
  transition_jitter: 0,
  transition_tail: 0,
  transition_tail_migrating: 0,
  guest_instruction: 1,
};

export function target(options: { hz?: number; trueControls?: boolean } = {}): TargetIR {
  const costs = Object.fromEntries(
    Object.entries(COSTS).map(([k, v]) => [
      k,
      { cycles: v, provenance: "user", source: "test" } satisfies CostParam,
    ]),
  ) as Record<CostName, CostParam>;
  const m = msrs(options.trueControls ?? true);
  const profile: CpuProfile = {
    name: "test_cpu",
    displayName: "Test CPU",
    year: 2020,
    defaultHz: 2_000_000_000,
    maxPhysAddrBits: 46,
    msrs: m,
    costs,
    pauseIteration: { cycles: 140, provenance: "user", source: "test" },
    notes: "",
    source: "test",
  };
  return { profile, hz: options.hz ?? 2_000_000_000, msrs: m, costs };
}

export interface VmcsSpec {
  pin?: string[];
  proc?: string[];
  proc2?: string[];
  proc3?: string[];
  exit?: string[];
  entry?: string[];
  exceptions?: number[];
  pfErrorCode?: { mask: number; match: number };
  io?: [number, number][];
  msr?: { msr: number; read: boolean; write: boolean }[];
  cr0?: { mask: bigint; shadow: bigint };
  cr4?: { mask: bigint; shadow: bigint };
  cr3Targets?: bigint[];
  ple?: { gap: number; window: number };
  tprThreshold?: number;
  fields?: Record<string, bigint>;
  ept?: [bigint, bigint, EptPermissions][];
}

export const RWX: EptPermissions = { kind: "rwx", read: true, write: true, execute: true };
export const RO: EptPermissions = { kind: "rwx", read: true, write: false, execute: false };

export function vmcs(spec: VmcsSpec, name = "v"): VmcsIR {
  const written: Record<ControlWord, bigint> = {
    pin: 0n,
    proc: 0n,
    proc2: 0n,
    proc3: 0n,
    exit: 0n,
    entry: 0n,
  };
  const settings: VmcsIR["settings"] = [];
  for (const word of ["pin", "proc", "proc2", "proc3", "exit", "entry"] as const) {
    for (const n of spec[word] ?? []) {
      const def = findControls(n).find((d) => d.word === word);
      if (!def) throw new Error(`no control ${word} ${n}`);
      written[word] |= 1n << BigInt(def.bit);
      settings.push({ control: def, span: S });
    }
  }
  // Secondary controls imply activation, as a test convenience.
  if ((spec.proc2?.length ?? 0) > 0) written.proc |= 1n << 31n;
  if ((spec.proc3?.length ?? 0) > 0) written.proc |= 1n << 17n;
  const fields: VmcsIR["fields"] = new Map();
  for (const [k, value] of Object.entries(spec.fields ?? {})) {
    const field = vmcsFieldByName(k);
    if (!field) throw new Error(`no field ${k}`);
    fields.set(k, { field, value, span: S });
  }
  let exceptionBitmap = 0;
  for (const v of spec.exceptions ?? []) exceptionBitmap |= 1 << v;
  const v: VmcsIR = {
    name,
    span: S,
    nameSpan: S,
    written,
    settings,
    wordLines: {},
    exceptionBitmap,
    exceptionSpans: new Map(),
    ioTraps: (spec.io ?? []).map(([first, last]) => ({ first, last, span: S })),
    msrTraps: (spec.msr ?? []).map((m) => ({ ...m, span: S })),
    cr3Targets: (spec.cr3Targets ?? []).map((value) => ({ value, span: S })),
    fields,
    ept: (spec.ept ?? []).map(([start, end, perms]) => ({ start, end, perms, span: S })),
  };
  if (spec.pfErrorCode) v.pfErrorCode = { ...spec.pfErrorCode, span: S };
  if (spec.cr0) v.cr0 = { ...spec.cr0, span: S };
  if (spec.cr4) v.cr4 = { ...spec.cr4, span: S };
  if (spec.ple) v.ple = { ...spec.ple, span: S };
  if (spec.tprThreshold !== undefined) v.tprThreshold = { value: spec.tprThreshold, span: S };
  return v;
}

export function handler(reasonName: string, ops: HandlerOp[]) {
  const reason = exitReasonByName(reasonName);
  if (!reason) throw new Error(`no reason ${reasonName}`);
  return { reason, ops, span: S, reasonSpan: S };
}

export interface GuestSpec {
  vcpus?: number;
  apic?: "x2apic" | "xapic";
  idle?: "halt" | "poll" | "mwait";
  sources?: GuestSource[];
}

export function guest(spec: GuestSpec, vmcsName = "v", name = "g"): GuestIR {
  return {
    name,
    span: S,
    nameSpan: span(),
    vmcs: vmcsName,
    vmcsSpan: S,
    vcpus: spec.vcpus ?? 1,
    apic: spec.apic ?? "x2apic",
    idle: spec.idle ?? "poll",
    idleSpan: span(),
    sources: spec.sources ?? [],
  };
}

export function path(name: string, arrival: Arrival, ops: GuestOp[]): GuestSource {
  return { kind: "path", name, arrival, ops, span: span(), nameSpan: span() };
}

export function irq(
  name: string,
  vector: number,
  arrival: Arrival,
  ops: GuestOp[],
  posted = false,
): GuestSource {
  return { kind: "irq", name, vector, arrival, posted, ops, span: span(), nameSpan: span() };
}

import type { HostIR } from "../core/src/model/ir";
import { defaultHost } from "../core/src/model/statements/host";

export function timer(arrival: Arrival, ops: GuestOp[]): GuestSource {
  return { kind: "timer", name: "timer", arrival, ops, span: span(), nameSpan: span() };
}

export function program(
  v: VmcsIR,
  g: GuestIR,
  handlers: ReturnType<typeof handler>[] = [],
  options: { hz?: number; trueControls?: boolean; host?: HostIR } = {},
): Program {
  // The hand-computed figures are the base model's: no halt polling, a fixed PLE window
  // (the host terms have tests of their own, test/host.test.ts); `host` gives others.
  const host = options.host ?? { ...defaultHost(), haltPollNs: { value: 0 }, pleWindowGrow: { value: 0 } };
  return {
    target: { ...target(options), host },
    vmcs: new Map([[v.name, v]]),
    handlers: new Map(handlers.map((h) => [h.reason.code, h])),
    fns: new Map(),
    guests: new Map([[g.name, g]]),
    hypervisors: new Map(),
    expects: [],
    simulates: [],
  };
}

/** A decision context for one vmcs (a default guest unless given). */
export function context(
  spec: VmcsSpec,
  options: {
    guest?: GuestSpec;
    trueControls?: boolean;
    eoiVector?: number;
    handlers?: ReturnType<typeof handler>[];
  } = {},
): ExitContext {
  const v = vmcs(spec);
  const g = guest(options.guest ?? {});
  const p = program(v, g, options.handlers ?? [], { trueControls: options.trueControls ?? true });
  const ctx: ExitContext = { program: p, guest: g, vmcs: v, controls: effectiveControls(v, p.target) };
  if (options.eoiVector !== undefined) ctx.eoiVector = options.eoiVector;
  return ctx;
}

export function op(o: GuestOp): GuestOp {
  return o;
}
