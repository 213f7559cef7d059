/**
 * A simulated timeline as `trace-cmd report` text (docs/traces.md "Simulation as a trace"), so
 * that the importer, `--measured` and `calibrate` read a simulation as they read a real trace.
 *
 * Rendering: trace-cmd's default layout (`<task>-<tid> [cpu] <sec>.<nsec>: <event>: <fields>`,
 * timestamps in nanoseconds as `trace-cmd report -t` prints them) with libtraceevent's
 * plugin_kvm fields: `kvm_exit: vcpu %u reason %s rip 0x%llx info %llx %llx intr_info 0x%llx
 * error_code 0x%llx` and the comma-less `kvm_entry: vcpu %u rip 0x%llx`
 * (libtraceevent plugins/plugin_kvm.c, kvm_exit_handler / kvm_entry_handler). Each vCPU is its
 * own host thread named as QEMU names its vCPU threads, `CPU <n>/KVM` (qemu_thread_create in
 * accel/kvm's kvm_start_vcpu_thread), with tid = pid + 1 + n, on host CPU n (pinned).
 *
 * What the lines mean:
 * - A `kvm_entry` at time 0 starts each vCPU thread (perf learns the vCPU id from a thread's
 *   first kvm_entry and ignores its events before it; that entry pairs with nothing).
 * - An exit episode (transition, handler, user space) is a `kvm_exit` at its start and a
 *   `kvm_entry` at its end. A HLT exit that blocks the vCPU enters again only after the halted
 *   (or halt-polling) time and the wake-up, as in KVM, where the vCPU thread sleeps inside the
 *   exit (kvm_vcpu_halt): so the trace's HLT latency holds the idle time, as a real one does.
 * - An exit still open when the run ends gets its `kvm_entry` at its end (possibly after the
 *   run's end), so that the exported count equals the simulation's (which counts an exit when it
 *   begins); a real trace stopped there would lose that one exit per vCPU.
 * - MSR exits of a guest `wrmsr`/`rdmsr` of a named MSR carry a `kvm_msr` line
 *   (`msr_write %x = 0x%llx`, arch/x86/kvm/trace.h TRACE_EVENT(kvm_msr)); the value is not
 *   simulated and printed as 0.
 *
 * - EXTERNAL_INTERRUPT exits print the VM-exit interruption information KVM's kvm_exit shows
 *   (`intr_info`): valid, type external interrupt and the arriving source's vector (the layout
 *   and its SDM sections: core/src/vmx/fieldFormats.ts; KVM acknowledges interrupts on exit).
 *   A guest timer without the VMX-preemption timer is a host hrtimer interrupt: Linux's
 *   LOCAL_TIMER_VECTOR (core/src/vmx/kvmDefaults.ts, localTimerVector).
 * - EPT_VIOLATION exits of a guest `read`/`write`/`exec ADDR` carry a `kvm_page_fault` line
 *   (`vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx`, arch/x86/kvm/trace.h) with the
 *   gpa and, as KVM's handle_ept_violation passes it, the exit qualification: the read, write
 *   or fetch bit, with the linear-address-valid and translated-access bits set as in real
 *   traces (the bits and their SDM table: core/src/vmx/fieldFormats.ts).
 *
 * Guest RIPs are not simulated: each exit source gets a made-up RIP (0xffffffff81000000 plus
 * 0x10 × its source index), so distinct operations stay distinct in the RIP table.
 *
 * A nested run (an L2 guest, Timeline.level) is written as L0's KVM traces it on the vCPU
 * thread, which runs both L1 and L2 (exportNested.ts has the sequence and its KVM sources).
 */
import type { Timeline } from "../sim/timeline";
import { VcpuState } from "../sim/timeline";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import {
  EPT_QUAL_FETCH,
  EPT_QUAL_GLA_VALID,
  EPT_QUAL_READ,
  EPT_QUAL_TRANSLATED,
  EPT_QUAL_WRITE,
  interruptionInfo,
} from "../vmx/fieldFormats";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import { msrByName } from "../vmx/msrs";
import { guestRip, type LaneWriter, NestedLane, RIP_BASE } from "./exportNested";

export interface TraceCmdExportOptions {
  /** Process id of the VMM (QEMU); the vCPU threads are pid + 1 + vCPU. Default 4000. */
  pid?: number;
  /** Timestamp of the run's start on the trace clock, seconds. Default 1000. */
  baseSec?: number;
  /** Prefix lines (comments). */
  header?: string[];
  /**
   * A nested run: whether vmcs12 enables EPT (kvm_nested_vmenter's `nested_ept=y`); default
   * false (`nested_ept=n`).
   */
  nestedEpt?: boolean;
}

const HLT = EXIT.HLT;

/** Thrown when the timeline does not hold every interval (a decimated timeline cannot be exported). */
export class TraceExportError extends Error {}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}

function timestamp(baseNs: bigint, ns: number): string {
  const t = baseNs + BigInt(Math.round(ns));
  const sec = t / 1_000_000_000n;
  const frac = (t % 1_000_000_000n).toString().padStart(9, "0");
  return `${sec}.${frac}`;
}

/** The `kvm_msr` detail a guest operation's label implies ("wrmsr IA32_TSC_DEADLINE"). */
function msrDetail(label: string | undefined): string | undefined {
  if (!label) return undefined;
  const m = /^(wrmsr|rdmsr)\s+([A-Za-z0-9_]+)/.exec(label);
  if (!m) return undefined;
  const msr = msrByName(m[2]!);
  if (!msr) return undefined;
  return `msr_${m[1] === "wrmsr" ? "write" : "read"} ${msr.index.toString(16)} = 0x0`;
}

/** A host hrtimer's vector: the arrival of a guest timer KVM emulates with one. */
const LOCAL_TIMER_VECTOR = KVM_DEFAULTS.localTimerVector.value;
/** EPT-violation exit qualification of a guest access: linear address valid, translated access. */
const QUAL_LINEAR_TRANSLATED = EPT_QUAL_GLA_VALID | EPT_QUAL_TRANSLATED;
const QUAL_ACCESS: Record<string, number> = {
  read: EPT_QUAL_READ,
  write: EPT_QUAL_WRITE,
  exec: EPT_QUAL_FETCH,
};

/** The `kvm_page_fault` fields of a guest memory access's label ("write 0x2000"). */
function pageFaultDetail(label: string | undefined, vcpu: number, rip: string): string | undefined {
  const m = label ? /^(read|write|exec) 0x([0-9a-f]+)$/.exec(label) : null;
  if (!m) return undefined;
  const qual = QUAL_LINEAR_TRANSLATED | QUAL_ACCESS[m[1]!]!;
  return `vcpu ${vcpu} rip ${rip} address 0x${m[2]!.padStart(16, "0")} error_code 0x${qual.toString(16)}`;
}

/** Per vCPU, the times and vectors of interrupt arrivals (markers of kind 1), in time order. */
function arrivalsByVcpu(timeline: Timeline): { time: number[]; vector: number[] }[] {
  const out = Array.from({ length: timeline.vcpus }, () => ({
    time: [] as number[],
    vector: [] as number[],
  }));
  const m = timeline.markers;
  const order: number[] = [];
  for (let i = 0; i < m.count; i++) if (m.kind[i] === 1) order.push(i);
  order.sort((a, b) => m.time[a]! - m.time[b]!);
  for (const i of order) {
    const lane = out[m.vcpu[i]!];
    if (!lane) continue;
    lane.time.push(m.time[i]!);
    lane.vector.push(m.vector[i]!);
  }
  return out;
}

interface Line {
  ns: number;
  text: string;
}

function laneWriter(
  timeline: Timeline,
  v: number,
  pid: number,
  baseNs: bigint,
  out: Line[],
  arrivals: { time: number[]; vector: number[] },
): LaneWriter {
  const task = `CPU ${v}/KVM-${pid + 1 + v}`;
  const cpu = `[${String(v).padStart(3, "0")}]`;
  const prefix = (ns: number) => `${task.padStart(16)} ${cpu} ${timestamp(baseNs, ns)}: `;
  let nextArrival = 0;
  let lastEntry: Line | undefined;
  const line = (ns: number, event: string, fields: string) => {
    // trace-cmd pads the event name; a longer one is followed by one blank.
    const name = `${event}:`;
    out.push({ ns, text: `${prefix(ns)}${name.length < 22 ? name.padEnd(22) : `${name} `}${fields}` });
  };
  const interruptInfo = (ns: number) => {
    // The arrival that made this exit: the last one at or before it.
    while (nextArrival < arrivals.time.length && arrivals.time[nextArrival]! <= ns + 1e-3) nextArrival++;
    const vector = nextArrival > 0 ? arrivals.vector[nextArrival - 1]! : -1;
    return interruptionInfo(vector >= 0 ? vector : LOCAL_TIMER_VECTOR);
  };
  return {
    vcpu: v,
    line,
    interruptInfo,
    exit(ns, code, source, rip = guestRip(source)) {
      const name = exitReasonByCode(code)?.name ?? `UNKNOWN (${code})`;
      const intrInfo = code === EXIT.EXTERNAL_INTERRUPT ? interruptInfo(ns) : 0;
      line(
        ns,
        "kvm_exit",
        `vcpu ${v} reason ${name} rip ${hex(rip)} info 0 0 intr_info 0x${intrInfo.toString(16)} error_code 0x0`,
      );
      const label = timeline.sources[source]?.label;
      const detail = code === EXIT.MSR_READ || code === EXIT.MSR_WRITE ? msrDetail(label) : undefined;
      if (detail) line(ns, "kvm_msr", detail);
      const fault = code === EXIT.EPT_VIOLATION ? pageFaultDetail(label, v, hex(rip)) : undefined;
      if (fault) line(ns, "kvm_page_fault", fault);
      return rip;
    },
    entry(ns, rip) {
      line(ns, "kvm_entry", `vcpu ${v} rip ${hex(rip)}`);
      lastEntry = out[out.length - 1];
    },
    retractEntryAt(ns) {
      if (lastEntry === undefined || out[out.length - 1] !== lastEntry || Math.abs(lastEntry.ns - ns) > 1e-3)
        return false;
      out.pop();
      lastEntry = undefined;
      return true;
    },
  };
}

/**
 * The timeline as `trace-cmd report` text. Throws TraceExportError for a decimated timeline
 * (intervals merged or dropped: the exits could not be written one by one).
 */
export function timelineToTraceCmd(timeline: Timeline, options: TraceCmdExportOptions = {}): string {
  if (timeline.decimated)
    throw new TraceExportError(
      "the timeline was decimated (more intervals than it holds): shorten the run to export every exit",
    );
  const pid = options.pid ?? 4000;
  const baseNs = BigInt(Math.round((options.baseSec ?? 1000) * 1e9));
  const n = timeline.count;
  // Intervals per vCPU in time order (halted intervals are recorded when they end).
  const perVcpu: number[][] = Array.from({ length: timeline.vcpus }, () => []);
  for (let i = 0; i < n; i++) perVcpu[timeline.vcpu[i]!]?.push(i);
  const lines: Line[][] = [];
  const arrivalsOf = arrivalsByVcpu(timeline);
  for (let v = 0; v < timeline.vcpus; v++) {
    const idx = perVcpu[v]!;
    idx.sort((a, b) => timeline.start[a]! - timeline.start[b]! || a - b);
    const out: Line[] = [];
    const writer = laneWriter(timeline, v, pid, baseNs, out, arrivalsOf[v]!);
    writer.entry(0, RIP_BASE + 4n);
    const nested =
      timeline.level !== undefined ? new NestedLane(timeline, writer, options.nestedEpt === true) : undefined;
    let k = 0;
    while (k < idx.length) {
      const i = idx[k]!;
      if (timeline.state[i] !== VcpuState.Exit) {
        k++;
        continue;
      }
      if (nested) {
        k = nested.episode(idx, k);
        continue;
      }
      const code = timeline.reason[i]!;
      const start = timeline.start[i]!;
      let end = start + timeline.duration[i]!;
      const rip = writer.exit(start, code, timeline.source[i]!);
      k++;
      // The handler and user-space parts; for HLT also the halted/polling time and the wake-up.
      while (k < idx.length) {
        const j = idx[k]!;
        const state = timeline.state[j]!;
        const part =
          ((state === VcpuState.Handler || state === VcpuState.Userspace) && timeline.reason[j] === code) ||
          (code === HLT && (state === VcpuState.Halted || state === VcpuState.Polling));
        if (!part || Math.abs(timeline.start[j]! - end) > 1e-3) break;
        end = timeline.start[j]! + timeline.duration[j]!;
        k++;
      }
      writer.entry(end, rip + 4n);
    }
    lines.push(out);
  }
  // Merge the vCPUs' lines by time (stable: a vCPU's own order kept).
  const all: { ns: number; v: number; seq: number; text: string }[] = [];
  for (let v = 0; v < lines.length; v++)
    lines[v]!.forEach((l, seq) => {
      all.push({ ns: Math.round(l.ns), v, seq, text: l.text });
    });
  all.sort((a, b) => a.ns - b.ns || a.v - b.v || a.seq - b.seq);
  const header = [
    ...(options.header ?? []).map((h) => `# ${h}`),
    "version = 6",
    `cpus=${Math.max(1, timeline.vcpus)}`,
  ];
  return `${header.join("\n")}\n${all.map((l) => l.text).join("\n")}\n`;
}
