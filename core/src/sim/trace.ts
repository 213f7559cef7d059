/**
 * Chrome trace-event JSON export of a simulated timeline, the format Perfetto and
 * chrome://tracing open (shared/reference/trace-formats.md §4): one process per guest
 * (process_name), one thread per vCPU (thread_name), an `X` slice per VM exit named by its
 * reason with `handler` and `userspace` child slices nested inside it, `X` slices for halted,
 * polling and descheduled time, `i` instants (scope t) for event injections and posted
 * deliveries, and a `C` counter of exits per second per reason. Timestamps are microseconds
 * with fractional nanoseconds (displayTimeUnit "ns"). Slices on one thread never overlap
 * partially: the simulator's intervals on a vCPU are disjoint and children lie inside parents.
 * A nested run (Timeline.level) names each child by its level — "L1 handler", "L0 emulating
 * VMREAD …", "L0 transition" — and puts the level ("L0", "L1", "L2") in every slice's args.
 */

import { exitReasonByCode } from "../vmx/exitReasons";
import type { Timeline } from "./timeline";
import { TIMELINE_LEVEL_NAMES, VcpuState } from "./timeline";

export interface TraceOptions {
  guest: string;
  /** Counter bin width in seconds (default 1 ms). */
  counterBinSec?: number;
}

const MARKER_NAMES = ["inject", "arrival", "posted"];

function reasonName(code: number): string {
  return exitReasonByCode(code)?.name ?? `REASON_${code}`;
}

/** Microseconds from nanoseconds, rounded to the nanosecond so the text stays short. */
function us(ns: number): number {
  return Math.round(ns) / 1000;
}

export function timelineToTrace(timeline: Timeline, options: TraceOptions): string {
  const pid = 1;
  const parts: string[] = [];
  const push = (event: unknown): void => {
    parts.push(JSON.stringify(event));
  };
  push({ ph: "M", pid, name: "process_name", args: { name: `guest ${options.guest}` } });
  for (let v = 0; v < timeline.vcpus; v++) {
    push({ ph: "M", pid, tid: v, name: "thread_name", args: { name: `vCPU ${v}` } });
    push({ ph: "M", pid, tid: v, name: "thread_sort_index", args: { sort_index: v } });
  }
  const cycles = (ns: number): number => Math.round((ns * timeline.hz) / 1e9);
  const sourceArgs = (index: number): Record<string, unknown> => {
    const s = index >= 0 ? timeline.sources[index] : undefined;
    return s ? { source: s.label, line: s.line + 1 } : {};
  };
  // Per-reason exit counts in bins, for the counter track.
  const binNs = (options.counterBinSec ?? 0.001) * 1e9;
  const bins = new Map<number, Map<string, number>>();

  const levels = timeline.level;
  const levelArgs = (index: number): Record<string, unknown> =>
    levels ? { level: TIMELINE_LEVEL_NAMES[levels[index]] ?? String(levels[index]) } : {};
  /** A nested chain's segment: named by its level and what runs there. */
  const segmentName = (j: number): string => {
    const level = levels![j];
    if (level === 1) return "L1 handler";
    if (timeline.state[j] === VcpuState.Exit) return "L0 transition";
    if (timeline.state[j] === VcpuState.Userspace) return "L0 userspace";
    const label = timeline.source[j] >= 0 ? timeline.sources[timeline.source[j]]?.label : undefined;
    return label?.startsWith("L0") ? label : "L0 handler";
  };

  const n = timeline.count;
  let i = 0;
  while (i < n) {
    const state = timeline.state[i];
    const v = timeline.vcpu[i];
    const start = timeline.start[i];
    const dur = timeline.duration[i];
    if (state === VcpuState.Exit) {
      // An exit episode: the transition followed by its handler and user-space intervals.
      const code = timeline.reason[i];
      let end = start + dur;
      let handlerSource = -1;
      const children: { name: string; start: number; dur: number; at: number }[] = [];
      let j = i + 1;
      while (
        j < n &&
        timeline.vcpu[j] === v &&
        timeline.reason[j] === code &&
        (timeline.state[j] === VcpuState.Handler ||
          timeline.state[j] === VcpuState.Userspace ||
          // A nested chain's later round trips (the VMRESUME) are inside its episode.
          (levels !== undefined && timeline.state[j] === VcpuState.Exit)) &&
        Math.abs(timeline.start[j] - end) < 1e-6
      ) {
        const name = levels
          ? segmentName(j)
          : timeline.state[j] === VcpuState.Handler
            ? "handler"
            : "userspace";
        children.push({ name, start: timeline.start[j], dur: timeline.duration[j], at: j });
        if (handlerSource < 0) handlerSource = timeline.source[j];
        end = timeline.start[j] + timeline.duration[j];
        j++;
      }
      const name = reasonName(code);
      push({
        ph: "X",
        pid,
        tid: v,
        name,
        cat: "vmexit",
        ts: us(start),
        dur: us(end) - us(start),
        args: {
          reason: code,
          cycles: cycles(end - start),
          ...sourceArgs(timeline.source[i]),
          ...(handlerSource >= 0 ? { handler: timeline.sources[handlerSource]?.label } : {}),
          ...levelArgs(i),
        },
      });
      for (const c of children) {
        const cs = Math.max(us(c.start), us(start));
        const ce = Math.min(us(c.start + c.dur), us(end));
        push({
          ph: "X",
          pid,
          tid: v,
          name: c.name,
          cat: "vmexit",
          ts: cs,
          dur: Math.max(0, ce - cs),
          args: {
            cycles: cycles(c.dur),
            ...levelArgs(c.at),
            ...(levels ? sourceArgs(timeline.source[c.at]) : {}),
          },
        });
      }
      const bin = Math.floor(start / binNs);
      let counts = bins.get(bin);
      if (!counts) {
        counts = new Map();
        bins.set(bin, counts);
      }
      counts.set(name, (counts.get(name) ?? 0) + 1);
      i = j;
      continue;
    }
    if (state !== VcpuState.Guest) {
      // Halted, polling, descheduled, or a wake-up (handler time outside an exit).
      const name =
        state === VcpuState.Handler ? `wake-up (${reasonName(timeline.reason[i])})` : stateName(state);
      push({
        ph: "X",
        pid,
        tid: v,
        name,
        cat: "vcpu",
        ts: us(start),
        dur: us(start + dur) - us(start),
        args: { cycles: cycles(dur), ...levelArgs(i) },
      });
    }
    i++;
  }

  const m = timeline.markers;
  for (let k = 0; k < m.count; k++) {
    const kind = m.kind[k];
    if (kind === 1) continue; // arrivals are implied by the latency; injections carry the story
    const vector = m.vector[k];
    push({
      ph: "i",
      s: "t",
      pid,
      tid: m.vcpu[k],
      name: `${MARKER_NAMES[kind] ?? "event"} ${vector >= 0 ? `0x${vector.toString(16)}` : ""}`.trim(),
      ts: us(m.time[k]),
      args: { vector },
    });
  }

  const reasons = new Set<string>();
  for (const counts of bins.values()) for (const r of counts.keys()) reasons.add(r);
  const sortedBins = [...bins.keys()].sort((a, b) => a - b);
  for (const bin of sortedBins) {
    const counts = bins.get(bin)!;
    const args: Record<string, number> = {};
    for (const r of reasons) args[r] = ((counts.get(r) ?? 0) * 1e9) / binNs;
    push({ ph: "C", pid, name: "exits/s", ts: us(bin * binNs), args });
  }
  return `{"displayTimeUnit":"ns","otherData":{"generator":"trapline simulate","guest":${JSON.stringify(options.guest)},"decimated":${timeline.decimated}},"traceEvents":[\n${parts.join(",\n")}\n]}\n`;
}

function stateName(state: number): string {
  switch (state) {
    case VcpuState.Halted:
      return "halted";
    case VcpuState.Polling:
      return "polling";
    case VcpuState.Descheduled:
      return "descheduled";
    default:
      return "guest";
  }
}
