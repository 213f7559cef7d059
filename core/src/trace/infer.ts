/**
 * A starting `.vmcs` from a trace (docs/traces.md "Inference"): a target, a vmcs block whose
 * controls make the exits seen, a handler per reason costing the measured mean, and a guest
 * with one path per reason at the measured rate. What the language cannot express is listed as
 * comments in the file.
 *
 * Per reason (the control that makes the operation exit, SDM Vol. 3C §26.1):
 * - MSR_WRITE / MSR_READ: `use_msr_bitmaps` and `msr trap write|read` of the MSRs the kvm_msr
 *   details named (bitmap bit set → exit, §26.1.3), a path of `wrmsr`/`rdmsr` per MSR in
 *   proportion to its detail count; IA32_TSC_DEADLINE when the trace named none.
 * - EPT_MISCONFIG: an `ept` misconfig page at each gpa of the kvm_mmio details (§28.3.3.1), a
 *   path of `mmio write|read` there.
 * - IO_INSTRUCTION: `use_io_bitmaps` + `io trap` of the ports of kvm_pio details, `out`/`in`.
 * - CPUID (exits unconditionally, §26.1.2), VMCALL (unconditional), RDTSC (`rdtsc_exiting`),
 *   WBINVD (`wbinvd_exiting`), XSETBV (unconditional): a path of that instruction.
 * - HLT: `hlt_exiting` and `idle halt`; the halted time is the measured HLT time (the estimate's
 *   idle model makes one HLT per idle period: a path without exits tops the arrivals up to the
 *   HLT rate when the other paths do not reach it).
 * - EXTERNAL_INTERRUPT: an `irq` source per vector seen (the `vector 0xNN` the kvm_exit's
 *   interruption information carried, else kvm_inj_virq's, else 32), with external-interrupt
 *   exiting (§26.2). An interrupt exits only when it finds the vCPU in guest mode (it wakes a
 *   halted one without an exit): the sources carry the measured guest time, and their rates are
 *   refined until the estimate's rate is the measured one.
 * - PREEMPTION_TIMER: `activate_vmx_preemption_timer` and a guest `timer periodic` at the
 *   measured rate (KVM runs the guest's LAPIC timer on the VMX-preemption timer, vmx_set_hv_timer;
 *   its expiry exits, SDM Vol. 3C §26.5.1), with `preemption_timer` set to the same period in
 *   timer ticks (IA32_VMX_MISC[4:0]); refined like the interrupts.
 * - EPT_VIOLATION: the 4 KiB page of each gpa of the kvm_page_fault details as an `ept` region
 *   without the permission its access needed (`none` for a read, `rx` for a write, `rw` for a
 *   fetch; §29.3.3, pre-2023 §28.2.3), and a path of `read`/`write`/`exec` there; 0x1000 when the
 *   trace named no gpa.
 * - Everything else depends on timing or host state the estimate derives rather than takes as a
 *   rate, and is listed as a comment.
 *
 * Costs: the round trip stays the profile's unless a measured mean is below it (then the
 * fastest mean), and each handler is `work` = measured mean − round trip.
 */

import { preemptionTimerRate } from "../vmx/capabilities";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import { BASIC_EXIT_REASON_MASK, EPT_PAGE_SIZE } from "../vmx/fieldFormats";
import { msrByIndex } from "../vmx/msrs";
import { DEFAULT_PROFILE_NAME, profileByName } from "../vmx/profiles";
import type { ReasonRow, TraceResult } from "./types";

export interface InferOptions {
  /** CPU profile name (default skylake_server) and clock (default the profile's). */
  profile?: string;
  hz?: number;
  /** A comment line naming where the trace came from. */
  sourceName?: string;
  /**
   * The estimate of a text's guest `inferred` (per-reason exits per second, all vCPUs), e.g.
   * from `analyze`. With it the wake-up rate is refined until the estimate's HLT rate is the
   * measured one (the idle model's HLTs depend on the busy share, which the file changes).
   */
  estimate?: (text: string) => { code: number; exitsPerSecond: number }[] | undefined;
}

export interface InferResult {
  text: string;
  /** Reasons written as guest paths. */
  expressed: string[];
  /** Reasons only commented, with why. */
  notExpressed: { reason: string; why: string }[];
  /** The window the rates are over (undefined: a report without timestamps, rates = counts per 1 s). */
  windowSec?: number;
}

const HLT = EXIT.HLT;
/** The first vector that is not an exception (irq vectors are 32–255, docs/language.md). */
const DEFAULT_VECTOR = 32;
/** EPT_PAGE_SIZE as a bigint, for guest-physical addresses kept as bigints. */
const PAGE_BIG = BigInt(EPT_PAGE_SIZE);
/** Where EPT_VIOLATION ops go when the trace named no gpa. */
const DEFAULT_FAULT_GPA = 0x1000;
/** The identity-mapped guest memory the inferred EPT grants (the existing layout). */
const EPT_TOP = 0x7fff_ffff;

/** Instructions that exit by themselves or under one control, as guest ops. */
const INSTRUCTIONS: Record<number, { op: string; control?: string; why: string }> = {
  [EXIT.CPUID]: { op: "cpuid", why: "CPUID exits unconditionally (SDM Vol. 3C §26.1.2)" },
  [EXIT.VMCALL]: { op: "vmcall", why: "VMCALL exits unconditionally in VMX non-root operation (§26.1.2)" },
  [EXIT.RDTSC]: { op: "rdtsc", control: "rdtsc_exiting", why: "RDTSC exits under RDTSC exiting (§26.1.3)" },
  [EXIT.WBINVD]: {
    op: "wbinvd",
    control: "wbinvd_exiting",
    why: "WBINVD exits under WBINVD exiting (§26.1.3)",
  },
  [EXIT.XSETBV]: { op: "xsetbv", why: "XSETBV exits unconditionally (§26.1.2)" },
};

function rateText(perSecond: number): string {
  return `${+perSecond.toPrecision(6)}/s`;
}

function detailsOf(row: ReasonRow, prefix: string): { key: string; count: number }[] {
  return (row.details ?? [])
    .filter((d) => d.key.startsWith(prefix))
    .map((d) => ({ key: d.key, count: d.count }));
}

/** Splits a rate over details in proportion to their counts (all of it to `fallback` when none). */
function split<T>(
  rate: number,
  items: { value: T; count: number }[],
  fallback: T,
): { value: T; rate: number }[] {
  const total = items.reduce((s, i) => s + i.count, 0);
  if (total === 0) return [{ value: fallback, rate }];
  return items.map((i) => ({ value: i.value, rate: (rate * i.count) / total }));
}

export function inferVmcs(trace: TraceResult, options: InferOptions = {}): InferResult {
  const profile = profileByName(options.profile ?? DEFAULT_PROFILE_NAME);
  if (!profile) throw new Error(`unknown CPU profile ${options.profile}`);
  const hz = options.hz ?? profile.defaultHz;
  const windowSec = trace.window && trace.window.durationSec > 0 ? trace.window.durationSec : undefined;
  const vcpus = Math.max(1, trace.vcpus.length);
  const latency = trace.exits.latency !== false && trace.kind !== "counters";
  const notExpressed: InferResult["notExpressed"] = [];
  const expressed: string[] = [];

  const rowRate = (r: ReasonRow) => r.ratePerSecond ?? r.count / (windowSec ?? 1);
  const rows = trace.exits.rows.filter((r) => r.count > 0);
  const meanCycles = (r: ReasonRow) => (latency ? (r.meanNs * hz) / 1e9 : 0);
  let roundTrip = profile.costs.round_trip.cycles;
  for (const r of rows)
    if (latency && r.code !== HLT && r.code !== undefined && r.code <= BASIC_EXIT_REASON_MASK)
      roundTrip = Math.min(roundTrip, Math.round(meanCycles(r)));

  const proc = new Set(["use_tsc_offsetting", "activate_secondary_controls"]);
  const msrTraps = { read: new Set<string>(), write: new Set<string>() };
  const ioTraps = new Set<number>();
  const misconfig = new Set<bigint>();
  const pin = new Set(["external_interrupt_exiting", "nmi_exiting", "virtual_nmis"]);
  const irqs: { vector: number; rate: number }[] = [];
  let timerRate: number | undefined;
  /** EPT_VIOLATION pages and the accesses that faulted there. */
  const faults = new Map<number, Set<string>>();
  const handlers: string[] = [];
  const ops: { name: string; op: string; rate: number; comment?: string }[] = [];
  let hltRow: ReasonRow | undefined;

  for (const r of rows) {
    const code = r.code;
    const def =
      code !== undefined && code <= BASIC_EXIT_REASON_MASK && r.isa !== "svm"
        ? exitReasonByCode(code)
        : undefined;
    if (!def) {
      notExpressed.push({
        reason: r.key,
        why: "no VT-x basic exit reason (flags, an SVM code or an unknown name)",
      });
      continue;
    }
    const perVcpu = rowRate(r) / vcpus;
    const work = Math.max(0, Math.round(meanCycles(r) - roundTrip));
    const handler = `handler ${def.name} { work ${work} }${latency ? `   // measured mean ${(r.meanNs / 1000).toFixed(2)} µs` : ""}`;
    if (def.code === HLT) {
      hltRow = r;
      proc.add("hlt_exiting");
      handlers.push(
        `handler HLT { halt }${latency ? `   // measured exit→entry mean ${(r.meanNs / 1000).toFixed(1)} µs, mostly halted time` : ""}`,
      );
      expressed.push(def.name);
      continue;
    }
    const name = def.name.toLowerCase();
    if (def.code === EXIT.MSR_READ || def.code === EXIT.MSR_WRITE) {
      const access = def.code === EXIT.MSR_WRITE ? "write" : "read";
      const items = detailsOf(r, `msr_${access} `).map((d) => ({
        value: msrByIndex(Number.parseInt(d.key.split(" ")[1]!, 16))?.name,
        count: d.count,
      }));
      const known = items.filter((i): i is { value: string; count: number } => i.value !== undefined);
      for (const part of split(perVcpu, known, "IA32_TSC_DEADLINE")) {
        msrTraps[access].add(part.value);
        proc.add("use_msr_bitmaps");
        const op = access === "write" ? "wrmsr" : "rdmsr";
        ops.push({ name: `${op}_${part.value.toLowerCase()}`, op: `${op} ${part.value}`, rate: part.rate });
      }
    } else if (def.code === EXIT.EPT_MISCONFIG) {
      const items = detailsOf(r, "mmio ").map((d) => {
        const [, access, gpa] = d.key.split(" ");
        return {
          value: { access: access === "write" ? "write" : "read", gpa: BigInt(gpa ?? "0xfebf0000") },
          count: d.count,
        };
      });
      for (const part of split(perVcpu, items, { access: "write", gpa: 0xfebf0000n })) {
        misconfig.add(part.value.gpa & ~(PAGE_BIG - 1n));
        const gpa = part.value.gpa.toString(16);
        ops.push({ name: `mmio_${gpa}`, op: `mmio ${part.value.access} 0x${gpa}`, rate: part.rate });
      }
    } else if (def.code === EXIT.IO_INSTRUCTION) {
      const items = detailsOf(r, "pio_").map((d) => {
        const [kind, port] = d.key.split(" ");
        return {
          value: { out: kind === "pio_write", port: Number.parseInt(port ?? "0x80", 16) },
          count: d.count,
        };
      });
      proc.add("use_io_bitmaps");
      for (const part of split(perVcpu, items, { out: true, port: 0x80 })) {
        ioTraps.add(part.value.port);
        const port = part.value.port.toString(16);
        ops.push({ name: `io_${port}`, op: `${part.value.out ? "out" : "in"} 0x${port}`, rate: part.rate });
      }
    } else if (
      (def.code === EXIT.EXTERNAL_INTERRUPT || def.code === EXIT.PREEMPTION_TIMER) &&
      (!windowSec || !latency)
    ) {
      notExpressed.push({
        reason: def.name,
        why: `${rateText(rowRate(r))} measured: without a trace window and latencies the guest-mode share an interrupt needs to exit is unknown`,
      });
      handlers.push(handler);
      continue;
    } else if (def.code === EXIT.EXTERNAL_INTERRUPT) {
      const vectors = new Map<number, number>();
      for (const d of r.details ?? []) {
        const m = /^(?:vector|inj_virq IRQ) 0x([0-9a-f]+)$/.exec(d.key);
        const vector = m ? Number.parseInt(m[1]!, 16) : Number.NaN;
        if (vector >= 32 && vector <= 255) vectors.set(vector, (vectors.get(vector) ?? 0) + d.count);
      }
      // A vector seen both ways is counted once: prefer the exit's own (`vector`) if it has any.
      const own = (r.details ?? []).filter((d) => d.key.startsWith("vector ")).length > 0;
      if (own) {
        vectors.clear();
        for (const d of r.details ?? []) {
          const m = /^vector 0x([0-9a-f]+)$/.exec(d.key);
          const vector = m ? Number.parseInt(m[1]!, 16) : Number.NaN;
          if (vector >= 32 && vector <= 255) vectors.set(vector, (vectors.get(vector) ?? 0) + d.count);
        }
      }
      const items = [...vectors].map(([value, count]) => ({ value, count }));
      for (const part of split(perVcpu, items, DEFAULT_VECTOR))
        irqs.push({ vector: part.value, rate: part.rate });
    } else if (def.code === EXIT.PREEMPTION_TIMER) {
      pin.add("activate_vmx_preemption_timer");
      timerRate = perVcpu;
    } else if (def.code === EXIT.EPT_VIOLATION) {
      const items = detailsOf(r, "page_fault ").map((d) => {
        const [, gpa, access] = d.key.split(" ");
        return {
          value: {
            gpa: Number.parseInt(gpa ?? "0", 16),
            access: access === "write" || access === "fetch" ? access : "read",
          },
          count: d.count,
        };
      });
      for (const part of split(perVcpu, items, { gpa: DEFAULT_FAULT_GPA, access: "read" })) {
        const page = part.value.gpa - (part.value.gpa % EPT_PAGE_SIZE);
        const needs = faults.get(page) ?? new Set<string>();
        needs.add(part.value.access);
        faults.set(page, needs);
        const op = part.value.access === "fetch" ? "exec" : part.value.access;
        const gpa = part.value.gpa.toString(16);
        ops.push({ name: `${op}_${gpa}`, op: `${op} 0x${gpa}`, rate: part.rate });
      }
    } else if (INSTRUCTIONS[def.code]) {
      const ins = INSTRUCTIONS[def.code]!;
      if (ins.control) proc.add(ins.control);
      ops.push({ name, op: ins.op, rate: perVcpu, comment: ins.why });
    } else {
      notExpressed.push({
        reason: def.name,
        why: `${rateText(rowRate(r))} measured: the estimate derives this reason from timing or host state, not from a rate a path can give`,
      });
      handlers.push(handler);
      continue;
    }
    handlers.push(handler);
    expressed.push(def.name);
  }
  const hltPerVcpu = hltRow ? rowRate(hltRow) / vcpus : undefined;
  // An interrupt exits only in guest mode; with `idle halt` the estimate's guest-mode share is
  // the guest's compute, so the interrupt and timer sources carry the measured guest time: the
  // window less every exit→entry interval (HLT's holds the halted time).
  const exitShare = windowSec ? Math.min(1, trace.exits.totalNs / 1e9 / windowSec / vcpus) : 1;
  const guestShare = Math.max(0.001, 1 - exitShare);
  // Spread over every arrival of the sources, whatever rates the refinement gives them.
  const bodyOf = (k: { irq: number; timer: number }) => {
    const arrivals = irqs.reduce((sum, i) => sum + i.rate * k.irq, 0) + (timerRate ?? 0) * k.timer;
    const us = hltRow && arrivals > 0 ? (guestShare / arrivals) * 1e6 : 0;
    return us > 0 ? `compute ${+us.toPrecision(4)}us` : "";
  };
  const timerTicks = (rate: number) =>
    Math.max(1, Math.round(hz / rate / 2 ** preemptionTimerRate(profile.msrs)));

  /** Multipliers the refinement sets: wake-ups, interrupt sources, the timer. */
  interface Knobs {
    wake: number | undefined;
    irq: number;
    timer: number;
  }
  const render = (k: Knobs): string => {
    const paths = guestPaths(ops, k.wake);
    const body = bodyOf(k);
    const lines: string[] = [];
    lines.push(
      `// Inferred by trapline infer${options.sourceName ? ` from ${options.sourceName}` : ""} (${trace.format}, ${trace.exits.totalCount} exits, ${vcpus} vCPU${vcpus === 1 ? "" : "s"}${windowSec ? `, ${+windowSec.toPrecision(6)} s window` : ", no window: rates are counts per 1 s"}).`,
    );
    lines.push("// A starting point: change a control and `trapline estimate` says what it would save.");
    for (const n of notExpressed) lines.push(`// not expressed: ${n.reason}: ${n.why}`);
    lines.push(
      `target ${profile.name} @ ${+(hz / 1e9).toPrecision(6)}GHz${roundTrip !== profile.costs.round_trip.cycles ? ` {\n  cost round_trip = ${roundTrip}   // the fastest measured exit\n}` : ""}`,
    );
    lines.push("");
    lines.push("vmcs inferred {");
    lines.push(`  pin   ${[...pin].join(" ")}`);
    lines.push(`  proc  ${[...proc].join(" ")}`);
    lines.push("  proc2 enable_ept enable_vpid unrestricted_guest");
    lines.push("  exit  host_address_space_size acknowledge_interrupt_on_exit");
    lines.push("  entry ia32e_mode_guest");
    if (msrTraps.write.size > 0) lines.push(`  msr trap write ${[...msrTraps.write].join(", ")}`);
    if (msrTraps.read.size > 0) lines.push(`  msr trap read ${[...msrTraps.read].join(", ")}`);
    if (ioTraps.size > 0)
      lines.push(`  io trap ${[...ioTraps].map((p) => `0x${p.toString(16)}`).join(", ")}`);
    if (timerRate !== undefined)
      lines.push(
        `  preemption_timer ${timerTicks(timerRate * k.timer)}   // the guest timer's period in timer ticks (KVM's hv timer)`,
      );
    lines.push("  field VIRTUAL_PROCESSOR_ID = 1");
    lines.push("  ept {");
    lines.push(...eptLines(faults));
    for (const page of [...misconfig].sort((a, b) => (a < b ? -1 : 1)))
      lines.push(`    0x${page.toString(16)} .. 0x${(page + PAGE_BIG - 1n).toString(16)} misconfig`);
    lines.push("  }");
    lines.push("}");
    lines.push("");
    lines.push(...handlers);
    if (!handlers.some((h) => h.startsWith("handler EXTERNAL_INTERRUPT")))
      lines.push("handler EXTERNAL_INTERRUPT { work 350 }   // not in the trace: an estimate");
    lines.push("");
    lines.push("guest inferred on inferred {");
    lines.push(`  vcpus ${vcpus}`);
    lines.push(...paths);
    for (const irq of irqs)
      lines.push(
        `  irq irq_${irq.vector.toString(16)} vector 0x${irq.vector.toString(16)} rate ${rateText(irq.rate * k.irq)} { ${body} }`,
      );
    if (timerRate !== undefined)
      lines.push(`  timer periodic ${+(timerRate * k.timer).toPrecision(6)}Hz { ${body} }`);
    if (hltRow) lines.push("  idle halt");
    lines.push("}");
    return `${lines.join("\n")}\n`;
  };
  const knobs: Knobs = { wake: hltPerVcpu, irq: 1, timer: 1 };
  let text = render(knobs);
  // One idle period per arrival that finds the vCPU idle: the HLT rate is the wake-up rate times
  // the idle share, which the wake-ups change; interrupts and timer expiries exit only when they
  // find the vCPU in guest mode. A few multiplicative steps settle all three.
  const measuredOf = (code: number) => {
    const row = rows.find((r) => r.code === code);
    return row ? rowRate(row) : undefined;
  };
  const targets = {
    hlt: hltPerVcpu !== undefined ? hltPerVcpu * vcpus : undefined,
    irq: irqs.length > 0 ? measuredOf(EXIT.EXTERNAL_INTERRUPT) : undefined,
    timer: timerRate !== undefined ? measuredOf(EXIT.PREEMPTION_TIMER) : undefined,
  };
  if (
    options.estimate &&
    (targets.hlt !== undefined || targets.irq !== undefined || targets.timer !== undefined)
  ) {
    for (let step = 0; step < 60; step++) {
      const estimated = options.estimate(text);
      if (!estimated) break;
      const rateOf = (code: number) => estimated.find((r) => r.code === code)?.exitsPerSecond ?? 0;
      const ratio = (target: number | undefined, code: number) => {
        if (target === undefined) return 1;
        const now = rateOf(code);
        return now > 0 ? target / now : 2;
      };
      const rIrq = ratio(targets.irq, EXIT.EXTERNAL_INTERRUPT);
      const rTimer = ratio(targets.timer, EXIT.PREEMPTION_TIMER);
      const rHlt = ratio(targets.hlt, HLT);
      if ([rIrq, rTimer, rHlt].every((r) => Math.abs(r - 1) < 0.002)) break;
      // Damped (the square root of each ratio): the three interact through the busy share.
      knobs.irq *= Math.sqrt(rIrq);
      knobs.timer *= Math.sqrt(rTimer);
      if (knobs.wake !== undefined) knobs.wake = Math.max(knobs.wake * Math.sqrt(rHlt), 1e-3);
      text = render(knobs);
    }
  }
  return { text, expressed, notExpressed, ...(windowSec ? { windowSec } : {}) };
}

/**
 * The guest's paths. The estimate makes one idle period (one HLT exit) per arrival that finds
 * the vCPU idle, so the number of arrivals decides the HLT rate: with fewer HLTs than exits the
 * exits are one path at the HLT rate (each operation repeated and branched to its measured
 * share per execution); with more, one path per operation and a path without exits for the
 * remaining wake-ups.
 */
function guestPaths(
  ops: { name: string; op: string; rate: number; comment?: string }[],
  hltRate: number | undefined,
): string[] {
  const total = ops.reduce((s, o) => s + o.rate, 0);
  if (hltRate === undefined || hltRate * 1.0001 >= total) {
    const paths = ops.map(
      (o) => `  path ${o.name} rate ${rateText(o.rate)} { ${o.op} }${o.comment ? `   // ${o.comment}` : ""}`,
    );
    if (hltRate !== undefined && hltRate > total * 1.0001)
      paths.push(
        `  path wakeup rate ${rateText(hltRate - total)} { compute 1us }   // wake-ups without an exit, so that idle periods (HLT) come at the measured rate`,
      );
    return paths;
  }
  const body: string[] = [];
  for (const o of ops) {
    const perExecution = o.rate / hltRate;
    const whole = Math.floor(perExecution + 1e-9);
    const fraction = perExecution - whole;
    if (whole === 1) body.push(`    ${o.op}`);
    else if (whole > 1) body.push(`    repeat ${whole} { ${o.op} }`);
    const percent = +(fraction * 100).toFixed(4);
    if (percent > 0) body.push(`    branch { ${percent}% ${o.name}: ${o.op} }`);
  }
  return [
    `  path work rate ${rateText(hltRate)} {   // one wake-up per HLT, the exits in their measured proportions`,
    ...body,
    "  }",
  ];
}

/**
 * The EPT block's regions: the identity-mapped memory (0 .. EPT_TOP, rwx) with each faulting page
 * cut out and mapped without the permission its accesses needed: a read needs none (`none`), a
 * write `rx`, a fetch `rw`, a write and a fetch `r` (regions must not overlap, TL209).
 */
function eptLines(faults: Map<number, Set<string>>): string[] {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const pages = [...faults.keys()].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const page of pages) {
    const needs = faults.get(page)!;
    const perms = needs.has("read")
      ? "none"
      : needs.has("write") && needs.has("fetch")
        ? "r"
        : needs.has("write")
          ? "rx"
          : "rw";
    if (page <= EPT_TOP && page > from) out.push(`    ${hex(from)} .. ${hex(page - 1)} rwx`);
    out.push(
      `    ${hex(page)} .. ${hex(page + EPT_PAGE_SIZE - 1)} ${perms}   // EPT_VIOLATION: ${[...needs].join(", ")}`,
    );
    from = Math.max(from, page + EPT_PAGE_SIZE);
  }
  if (from <= EPT_TOP) out.push(`    ${hex(from)} .. ${hex(EPT_TOP)} rwx`);
  return out;
}
