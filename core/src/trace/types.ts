/**
 * The shapes of an imported KVM trace (docs/traces.md). Times are nanoseconds; a window's start
 * and end are seconds on the trace's own clock (the tracer's timestamps).
 */

/** Text formats the importer reads. */
export type TraceFormat =
  /** `perf kvm stat report` / `live` output: one table of per-key statistics (both header styles). */
  | "perf-kvm-stat"
  /** `trace-cmd report` (libtraceevent's plugin_kvm rendering). */
  | "trace-cmd"
  /** The ftrace `trace` / `trace_pipe` file (the kernel's TP_printk rendering). */
  | "ftrace"
  /** `perf script` over the kvm tracepoints (`kvm:kvm_exit:` event names). */
  | "perf-script"
  /** `kvm_stat` interactive display text or `-1/--once` batch output. */
  | "kvm-stat"
  /** `kvm_stat -l/--log`: a banner of counter names, then one line of deltas per second. */
  | "kvm-stat-log";

export const TRACE_FORMATS: readonly TraceFormat[] = [
  "perf-kvm-stat",
  "trace-cmd",
  "ftrace",
  "perf-script",
  "kvm-stat",
  "kvm-stat-log",
];

/**
 * What the file holds: `events` (one line per tracepoint hit: paired here, so latencies,
 * percentiles and timelines exist), `report` (perf's own aggregate table: counts and latencies
 * but no distribution), `counters` (kvm_stat: counts and rates only, no latency).
 */
export type TraceKind = "events" | "report" | "counters";

/** Exit-reason vocabulary: VT-x (`EPT_VIOLATION`) or AMD SVM (`npf`). */
export type TraceIsa = "vmx" | "svm";

/** The three `perf kvm stat --event` modes (`kvm_reg_events_ops` in perf's kvm-stat.c). */
export type PairingMode = "vmexit" | "mmio" | "ioport";

export interface LatencySummary {
  count: number;
  /** Sum of the paired intervals. */
  totalNs: number;
  minNs: number;
  maxNs: number;
  meanNs: number;
  /** Sample standard deviation (n − 1); 0 below two samples. */
  stddevNs: number;
  /**
   * What perf prints as `( +- x% )`: the standard error of the mean relative to the mean, in
   * percent (`rel_stddev_stats(stddev_stats(), avg_stats())`, tools/perf/util/stat.c).
   */
  relStddevPercent: number;
  /** Percentiles from a log-bucketed histogram, within ±1.09 % (undefined for report/counter input). */
  p50Ns?: number;
  p99Ns?: number;
}

export interface DetailCount {
  /** What the detail event said, normalised: "msr_write 0x6e0", "pio_write 0xcf8", "IRQ 0xec". */
  key: string;
  count: number;
  /** Sum of the latencies of the exits this detail was attached to. */
  totalNs: number;
}

export interface RipCount {
  /** Guest RIP as printed, lower-case hex with 0x: "0xffffffff81000000". */
  rip: string;
  count: number;
}

export interface ReasonRow extends LatencySummary {
  /**
   * The row's key as perf would print it: the exit reason name (with flag names appended, e.g.
   * "INVALID_STATE FAILED_VMENTRY"), "0xfee000b0:W" for mmio, "0xcf8:POUT" for ioport.
   */
  key: string;
  /**
   * vmexit rows: the exit_reason value (basic reason | flag bits); undefined when the trace named
   * a reason no table knows. mmio rows: the gpa; ioport rows: the port.
   */
  code?: number;
  /** vmexit rows: the base name without flags ("INVALID_STATE"). */
  reason?: string;
  isa?: TraceIsa;
  /** Flag names that followed the reason (`FAILED_VMENTRY`). */
  flags?: string[];
  /** Share of all paired samples of the table (perf's Samples%), 0..1. */
  sampleShare: number;
  /** Share of all paired time (perf's Time%), 0..1. */
  timeShare: number;
  /** Samples per second over the trace window (undefined without a window). */
  ratePerSecond?: number;
  /** Detail events (kvm_msr, kvm_pio, kvm_mmio, …) seen between this exit and its entry. */
  details?: DetailCount[];
  /** Distinct details beyond the bound (DETAIL_KEYS_PER_REASON), counted but not named. */
  detailsOverflow?: number;
  /** Guest RIPs of the exits, most frequent first (bounded, see RIPS_PER_REASON). */
  rips?: RipCount[];
  /** Exits whose RIP was not kept because the bound was reached. */
  ripsOverflow?: number;
}

export interface PairedTable {
  mode: PairingMode;
  /** perf's table title: "VM-EXIT", "MMIO Access", "IO Port Access". */
  title: string;
  rows: ReasonRow[];
  totalCount: number;
  totalNs: number;
  /** false for counter input (kvm_stat): counts and rates only, the latency fields are 0. */
  latency?: false;
}

/** A bounded, evenly decimated sample of one vCPU's exits (docs/traces.md "Timeline sample"). */
export interface VcpuTimeline {
  /** Exit times, ns since the window start. */
  startNs: Float64Array;
  durationNs: Float64Array;
  /** Index into the vmexit table's rows. */
  reason: Int32Array;
  /** Every `stride`-th exit of the vCPU is in the sample (1 = all of them). */
  stride: number;
}

export interface VcpuSummary {
  vcpu: number;
  /** Host threads (tids) that ran this vCPU id. */
  threads: number[];
  exits: LatencySummary;
  /** Per reason, the same row shape as the whole-trace table (shares relative to this vCPU). */
  rows: ReasonRow[];
  timeline?: VcpuTimeline;
}

export interface ThreadSummary {
  tid: number;
  /** The task name as the trace printed it ("CPU 5/KVM"); "" when the format has none. */
  comm: string;
  /** The `trace-cmd report` input file the line came from, when several were reported together. */
  file?: string;
  /** vCPU id learned from the thread's first kvm_entry; undefined if it never had one. */
  vcpu?: number;
  exits: number;
}

export interface BadLine {
  /** 1-based line number in the input. */
  line: number;
  /** The line (cut to 200 characters). */
  text: string;
  reason: string;
}

export interface TraceWindow {
  startSec: number;
  endSec: number;
  durationSec: number;
}

/** A counter from kvm_stat (or perf's lost-events footer). */
export interface CounterRow {
  name: string;
  total: number;
  /** Per second: kvm_stat's CurAvg/s, the batch delta over its one second, or the log's mean. */
  ratePerSecond?: number;
}

export interface TraceResult {
  format: TraceFormat | undefined;
  kind: TraceKind | undefined;
  /** How the format was decided: from the text, or by the caller's override. */
  detectedBy: "content" | "override" | "none";
  isa?: TraceIsa;
  lines: number;
  /** Lines that parsed as trace events (any tracepoint) or table rows. */
  recognized: number;
  /** Comment and header lines (`#…`, banners, blank lines) — neither data nor bad. */
  ignored: number;
  badLineCount: number;
  /** The first few bad lines (MAX_BAD_LINES_SHOWN). */
  badLines: BadLine[];
  /** The input ended without a newline and that last line did not parse. */
  truncated: boolean;
  cancelled: boolean;
  window?: TraceWindow;
  /** Per exit reason (perf kvm stat --event=vmexit). */
  exits: PairedTable;
  /** perf kvm stat --event=mmio pairing (events input, or an MMIO Access report). */
  mmio: PairedTable;
  /** perf kvm stat --event=ioport pairing. */
  ioport: PairedTable;
  vcpus: VcpuSummary[];
  threads: ThreadSummary[];
  /** Event counts by tracepoint name (events input). */
  eventCounts: Record<string, number>;
  /** Exits dropped by the pairing rules: entries with no exit before them, entries timed before their exit. */
  pairing: { unpairedEntries: number; endBeforeBegin: number; ignoredBeforeFirstEntry: number };
  counters: CounterRow[];
  /** perf's `Lost events: N`. */
  lostEvents?: number;
  /** For perf kvm stat input: the header style and the footer's totals as printed. */
  report?: { header: "classic" | "hist"; totalSamples?: number; totalTimeNs?: number; snapshots: number };
}

export interface TraceProgress {
  lines: number;
  /** UTF-16 code units fed so far (the CLI reports bytes itself). */
  chars: number;
}

export interface TraceImportOptions {
  /** Skip detection and read the text as this format. */
  format?: TraceFormat;
  /** Exits kept per vCPU in the timeline sample (default TIMELINE_CAPACITY); 0 keeps none. */
  timelineCapacity?: number;
  /** Called about every `progressEveryLines` lines (default 65,536). */
  onProgress?: (progress: TraceProgress) => void;
  progressEveryLines?: number;
  /** Checked with each progress report; an aborted signal cancels the import (an AbortSignal fits). */
  signal?: { readonly aborted: boolean };
}
