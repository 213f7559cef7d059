/**
 * `trapline trace TRACE [--format F] [--json] [--vcpu N]`: the measured exits of a real KVM
 * trace (docs/traces.md). The file is streamed in chunks through the core's TraceImporter, so
 * a 1 GB `trace-cmd report` is read in bounded memory; progress goes to stderr when it is a
 * terminal (redrawn in place) or with `--progress` (a line per update, for logs). Ctrl-C stops
 * the process as for any command; the editor cancels through TraceImporter's signal.
 *
 * Exit status: 0 imported cleanly; 1 imported, but some lines did not parse (the table is still
 * printed, the bad lines are summarised on stderr); 2 bad usage, an unreadable file, or text in
 * no known format (one line on stderr).
 *
 * The module also re-exports the Chrome trace-event converter of the simulator (core/src/sim/trace.ts),
 * which `simulate --trace` uses.
 */
import {
  type LatencySummary,
  type PairedTable,
  type ReasonRow,
  TRACE_FORMATS,
  type TraceFormat,
  TraceImporter,
  type TraceResult,
  type VcpuSummary,
} from "../../core/src/index";
import { formatPercent, formatRate } from "../../core/src/util/format";
import {
  type CliIO,
  type Command,
  cannotRead,
  EXIT_DIAGNOSTICS,
  EXIT_OK,
  EXIT_USAGE,
  readSource,
  UsageError,
} from "./command";
import { table } from "./format";

export { type TraceOptions, timelineToTrace } from "../../core/src/index";

/**
 * Reads TRACE through io (streamed when io can), with progress on a terminal, or as lines on
 * any stderr when `forceProgress` (`--progress`).
 */
export async function readTrace(
  io: CliIO,
  path: string,
  format: TraceFormat | undefined,
  forceProgress = false,
): Promise<TraceResult> {
  const importer = new TraceImporter(format ? { format } : {});
  if (!io.streamFile) {
    importer.feed(readSource(io, path));
    return importer.end();
  }
  let stream: ReturnType<NonNullable<CliIO["streamFile"]>>;
  try {
    stream = io.streamFile(path);
  } catch (error) {
    throw cannotRead(path, error);
  }
  const inPlace = io.stderrIsTTY === true;
  const progress = inPlace || forceProgress;
  // A terminal is redrawn five times a second; a log gets a line a second.
  const every = inPlace ? 200 : 1000;
  let bytes = 0;
  let lastDraw = 0;
  try {
    for await (const chunk of stream.chunks) {
      if ("data" in chunk) importer.feedBytes(chunk.data);
      else importer.feed(chunk.text);
      bytes += chunk.bytes;
      if (importer.detectedFormat === null) break;
      if (progress) {
        const now = Date.now();
        if (now - lastDraw >= every) {
          lastDraw = now;
          const of = stream.size
            ? ` of ${megabytes(stream.size)} (${formatPercent(bytes / stream.size)})`
            : "";
          const text = `trapline trace: ${megabytes(bytes)}${of}, ${importer.progress.lines.toLocaleString("en-US")} lines`;
          io.stderr(inPlace ? `\r${text}` : `${text}\n`);
        }
      }
    }
  } catch (error) {
    throw cannotRead(path, error);
  } finally {
    if (inPlace && lastDraw > 0) io.stderr("\r\x1b[K");
  }
  return importer.end();
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function us(ns: number | undefined): string {
  if (ns === undefined || !Number.isFinite(ns)) return "—";
  const v = ns / 1000;
  return v >= 1000 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function latencyJson(s: LatencySummary): Record<string, unknown> {
  const out: Record<string, unknown> = {
    count: s.count,
    totalNs: s.totalNs,
    minNs: s.minNs,
    maxNs: s.maxNs,
    meanNs: s.meanNs,
    stddevNs: s.stddevNs,
    relStddevPercent: s.relStddevPercent,
  };
  if (s.p50Ns !== undefined) out.p50Ns = s.p50Ns;
  if (s.p99Ns !== undefined) out.p99Ns = s.p99Ns;
  return out;
}

function rowJson(r: ReasonRow): Record<string, unknown> {
  const out: Record<string, unknown> = { key: r.key };
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.code !== undefined) out.code = r.code;
  if (r.isa) out.isa = r.isa;
  if (r.flags) out.flags = r.flags;
  Object.assign(out, latencyJson(r));
  out.sampleShare = r.sampleShare;
  out.timeShare = r.timeShare;
  if (r.ratePerSecond !== undefined) out.ratePerSecond = r.ratePerSecond;
  if (r.details) out.details = r.details;
  if (r.detailsOverflow) out.detailsOverflow = r.detailsOverflow;
  if (r.rips) out.rips = r.rips;
  if (r.ripsOverflow) out.ripsOverflow = r.ripsOverflow;
  return out;
}

function tableJson(t: PairedTable): Record<string, unknown> {
  return {
    title: t.title,
    latency: t.latency !== false,
    totalCount: t.totalCount,
    totalNs: t.totalNs,
    rows: t.rows.map(rowJson),
  };
}

function vcpuJson(v: VcpuSummary): Record<string, unknown> {
  const out: Record<string, unknown> = {
    vcpu: v.vcpu,
    threads: v.threads,
    exits: latencyJson(v.exits),
    rows: v.rows.map(rowJson),
  };
  if (v.timeline) out.timelineSample = { exits: v.timeline.startNs.length, stride: v.timeline.stride };
  return out;
}

/** The `--json` shape (docs/traces.md "JSON"). */
export function traceJson(file: string, result: TraceResult, vcpu?: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    file,
    format: result.format ?? null,
    kind: result.kind ?? null,
    detectedBy: result.detectedBy,
    isa: result.isa ?? null,
    window: result.window ?? null,
    lines: result.lines,
    recognized: result.recognized,
    ignored: result.ignored,
    badLineCount: result.badLineCount,
    badLines: result.badLines,
    truncated: result.truncated,
  };
  if (vcpu !== undefined) {
    const v = result.vcpus.find((x) => x.vcpu === vcpu)!;
    out.vcpu = vcpu;
    out.exits = {
      title: "VM-EXIT",
      latency: true,
      totalCount: v.exits.count,
      totalNs: v.exits.totalNs,
      rows: v.rows.map(rowJson),
    };
  } else {
    out.exits = tableJson(result.exits);
  }
  out.mmio = tableJson(result.mmio);
  out.ioport = tableJson(result.ioport);
  out.vcpus = result.vcpus.map(vcpuJson);
  out.threads = result.threads;
  out.eventCounts = result.eventCounts;
  out.pairing = result.pairing;
  out.counters = result.counters;
  if (result.lostEvents !== undefined) out.lostEvents = result.lostEvents;
  if (result.report) out.report = result.report;
  return out;
}

function rateOf(r: ReasonRow): string {
  return r.ratePerSecond === undefined ? "—" : formatRate(r.ratePerSecond);
}

function reasonName(r: ReasonRow): string {
  return r.code === undefined || r.isa === undefined
    ? r.key
    : `${r.key} (${r.isa === "svm" ? `0x${r.code.toString(16)}` : r.code})`;
}

function exitRows(title: string, rows: ReasonRow[], kind: TraceResult["kind"], latency: boolean): string {
  if (rows.length === 0) return "  none";
  if (!latency) {
    const out = [[title, "count", "share", "rate"]];
    for (const r of rows) out.push([reasonName(r), String(r.count), formatPercent(r.sampleShare), rateOf(r)]);
    return table(out);
  }
  if (kind === "report") {
    const out = [[title, "count", "rate", "share", "time", "mean µs", "min µs", "max µs", "± (perf)"]];
    for (const r of rows) {
      out.push([
        reasonName(r),
        String(r.count),
        rateOf(r),
        formatPercent(r.sampleShare),
        formatPercent(r.timeShare),
        us(r.meanNs),
        us(r.minNs),
        us(r.maxNs),
        `${r.relStddevPercent.toFixed(2)}%`,
      ]);
    }
    return table(out);
  }
  const out = [[title, "count", "rate", "time", "mean µs", "p50 µs", "p99 µs", "max µs"]];
  for (const r of rows) {
    out.push([
      reasonName(r),
      String(r.count),
      rateOf(r),
      formatPercent(r.timeShare),
      us(r.meanNs),
      us(r.p50Ns),
      us(r.p99Ns),
      us(r.maxNs),
    ]);
  }
  return table(out);
}

/** The readable report. */
export function traceText(file: string, result: TraceResult, vcpu?: number): string {
  const lines: string[] = [];
  const by = result.detectedBy === "override" ? "--format" : "detected";
  lines.push(
    `trace ${file}: ${result.format} (${by}${result.isa ? `, ${result.isa.toUpperCase()} reasons` : ""}), ${result.lines.toLocaleString("en-US")} lines`,
  );
  if (result.window) {
    const w = result.window;
    lines.push(
      `window ${w.startSec.toFixed(6)} … ${w.endSec.toFixed(6)} s (${w.durationSec.toPrecision(4)} s)`,
    );
  } else {
    lines.push("window unknown (the input has no timestamps): no rates");
  }
  const latency = result.exits.latency !== false;
  lines.push("");
  if (vcpu !== undefined) {
    const v = result.vcpus.find((x) => x.vcpu === vcpu)!;
    lines.push(
      `vCPU ${vcpu} (thread${v.threads.length === 1 ? "" : "s"} ${v.threads.join(", ")}): ${v.exits.count.toLocaleString("en-US")} exits`,
    );
    lines.push(exitRows("exit reason", v.rows, result.kind, latency));
  } else {
    const total = result.exits.totalCount.toLocaleString("en-US");
    lines.push(
      result.kind === "events"
        ? `exits: ${total} paired (kvm_exit → kvm_entry per host thread, as perf kvm stat pairs them)`
        : `exits: ${total}`,
    );
    lines.push(exitRows("exit reason", result.exits.rows, result.kind, latency));
  }
  if (result.kind === "events") {
    const p = result.pairing;
    const dropped: string[] = [];
    if (p.unpairedEntries > 0) dropped.push(`${p.unpairedEntries} kvm_entry without an exit`);
    if (p.endBeforeBegin > 0) dropped.push(`${p.endBeforeBegin} entry timed before its exit`);
    if (p.ignoredBeforeFirstEntry > 0)
      dropped.push(
        `${p.ignoredBeforeFirstEntry} event${p.ignoredBeforeFirstEntry === 1 ? "" : "s"} before a thread's first kvm_entry`,
      );
    if (dropped.length > 0) lines.push(`  not paired: ${dropped.join(", ")}`);
  }
  for (const t of [result.mmio, result.ioport]) {
    if (t.rows.length === 0) continue;
    lines.push("");
    lines.push(`${t.title}: ${t.totalCount.toLocaleString("en-US")}`);
    lines.push(
      exitRows(t.mode === "mmio" ? "gpa:R/W" : "port:PIN/POUT", t.rows, result.kind, t.latency !== false),
    );
  }
  if (vcpu === undefined && result.vcpus.length > 0) {
    lines.push("");
    const rows = [["per vCPU", "threads", "exits", "rate", "mean µs", "p99 µs", "max µs", "top reason"]];
    const seconds = result.window?.durationSec;
    for (const v of result.vcpus) {
      rows.push([
        `vCPU ${v.vcpu}`,
        v.threads.map((t) => (t < 0 ? "?" : String(t))).join(","),
        String(v.exits.count),
        seconds ? formatRate(v.exits.count / seconds) : "—",
        us(v.exits.meanNs),
        us(v.exits.p99Ns),
        us(v.exits.maxNs),
        v.rows[0]?.key ?? "—",
      ]);
    }
    lines.push(table(rows));
  }
  if (result.kind === "counters" && result.counters.length > 0 && result.exits.rows.length === 0) {
    lines.push("");
    const rows = [["counter", "total", "rate"]];
    for (const c of result.counters)
      rows.push([c.name, String(c.total), c.ratePerSecond === undefined ? "—" : formatRate(c.ratePerSecond)]);
    lines.push(table(rows));
  }
  if (result.lostEvents) lines.push(`\nperf lost ${result.lostEvents} events: the counts are lower bounds`);
  lines.push("");
  if (result.kind === "events")
    lines.push("Latency: kvm_exit → kvm_entry on the host thread; p50/p99 within ±1.1 %.");
  else if (result.kind === "report")
    lines.push("From perf's aggregate table: no distribution, so no percentiles.");
  else lines.push("kvm_stat counters: counts and rates only, no latency.");
  return `${lines.join("\n")}\n`;
}

function badLineSummary(file: string, result: TraceResult): string {
  const shown = result.badLines.map((b) => `${file}:${b.line}: ${b.reason}: ${b.text}`);
  const more = result.badLineCount - result.badLines.length;
  const tail =
    more > 0
      ? [`… and ${more.toLocaleString("en-US")} more line${more === 1 ? "" : "s"} that did not parse`]
      : [];
  const truncated = result.truncated ? ["the input ends mid-line: its last line was counted, not used"] : [];
  return `${[...shown, ...tail, ...truncated].join("\n")}\n`;
}

export const traceCommand: Command = {
  name: "trace",
  summary: "import a real KVM trace: measured exits per reason and per vCPU",
  usage: "trace TRACE [--format F] [--json] [--vcpu N] [--progress]",
  options: {
    format: { type: "string" },
    json: { type: "boolean" },
    vcpu: { type: "string" },
    progress: { type: "boolean" },
  },
  help: `  --format F   read TRACE as F instead of detecting it: ${TRACE_FORMATS.join(", ")}
  --json       print the import as JSON (docs/traces.md)
  --vcpu N     only vCPU N (its id from kvm_entry), as perf kvm stat --vcpu
  --progress   progress lines on stderr even when it is not a terminal (on a terminal the
               progress is always shown, redrawn in place)

TRACE is perf kvm stat report/live output, trace-cmd report, the ftrace trace file, perf script
of the kvm tracepoints, or kvm_stat output. Lines starting with # are comments.

Exit status: 0 imported, 1 imported but some lines did not parse (listed on stderr), 2 bad
usage, an unreadable file or an unknown format.`,
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError("trace needs exactly one TRACE file");
    const file = positionals[0]!;
    let format: TraceFormat | undefined;
    if (typeof values.format === "string") {
      if (!(TRACE_FORMATS as readonly string[]).includes(values.format))
        throw new UsageError(`unknown --format ${values.format} (formats: ${TRACE_FORMATS.join(", ")})`);
      format = values.format as TraceFormat;
    }
    let vcpu: number | undefined;
    if (typeof values.vcpu === "string") {
      if (!/^\d+$/.test(values.vcpu)) throw new UsageError(`--vcpu needs a vCPU number, not ${values.vcpu}`);
      vcpu = Number(values.vcpu);
    }
    const result = await readTrace(io, file, format, values.progress === true);
    if (result.format === undefined) {
      io.stderr(
        `trapline trace: ${file}: not a trace format Trapline reads (${result.lines === 0 ? "empty file" : "first lines match none"}; formats: ${TRACE_FORMATS.join(", ")}; see --format)\n`,
      );
      return EXIT_USAGE;
    }
    if (vcpu !== undefined) {
      if (result.kind !== "events")
        throw new UsageError(`--vcpu needs an event trace; ${file} is ${result.format} ${result.kind}`);
      if (!result.vcpus.some((v) => v.vcpu === vcpu)) {
        const ids = result.vcpus.map((v) => v.vcpu).join(", ");
        throw new UsageError(
          `${file} has no vCPU ${vcpu}${ids ? ` (vCPUs: ${ids})` : " (no kvm_entry names a vCPU)"}`,
        );
      }
    }
    if (values.json) io.stdout(`${JSON.stringify(traceJson(file, result, vcpu), null, 2)}\n`);
    else io.stdout(traceText(file, result, vcpu));
    if (result.badLineCount > 0) {
      io.stderr(badLineSummary(file, result));
      return EXIT_DIAGNOSTICS;
    }
    return EXIT_OK;
  },
};
