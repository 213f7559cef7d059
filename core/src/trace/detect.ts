/**
 * Format detection from the first lines of a file (docs/traces.md "Detection"). Aggregate
 * formats announce themselves by their headers; event formats share one line grammar
 * (events.ts) and are told apart by their markers:
 * - perf script: the `kvm:` subsystem prefix on event names;
 * - trace-cmd report: its header lines (`version = N`, `cpus=N`, `CPU N is empty`), the
 *   multi-file `trace.dat:` prefix, or libtraceevent plugin_kvm's comma-less
 *   `kvm_entry: vcpu N rip 0x…`; or no irq-flags column at all (trace-cmd's default layout);
 * - ftrace: its `# tracer:` header, or the irq-flags column (`d....`) without trace-cmd markers.
 */
import { EV_ENTRY, EventLine, parseEventLine } from "./events";
import type { TraceFormat } from "./types";

const PERF_CLASSIC_HEADER = /\bSamples\s+Samples%\s+Time%/;
const PERF_HIST_HEADER = /^\s*Event name\s+.*Samples/;
const PERF_FOOTER = /^\s*Total Samples:\s*\d+,/;
const KVM_STAT_DISPLAY = /^\s*(kvm statistics\b|Event\s+Total\s+%Total\s+CurAvg\/s)/;
const KVM_STAT_BATCH_ROW = /^\s*[a-z_][\w()\-.]*\s+\d+\s+\d+\s*$/i;
const TRACE_CMD_HEADER = /^\s*(\S+:\s+)?(version = \d+|cpus=\d+|CPU \d+ is empty)\s*$/;

/** Lines detection looks at, at most (comment lines not counted). */
export const DETECTION_LINES = 200;

/** A trace-cmd/ftrace header line that is neither an event nor a bad line. */
export function isTraceCmdHeader(line: string): boolean {
  return TRACE_CMD_HEADER.test(line);
}

export function detectFormat(lines: readonly string[]): TraceFormat | undefined {
  const ev = new EventLine();
  let events = 0;
  let perfPrefix = 0;
  let flags = 0;
  let traceCmdMarkers = 0;
  let ftraceHeader = false;
  let batchRows = 0;
  let numericLines = 0;
  let bannerLines = 0;
  let seen = 0;
  for (const line of lines) {
    if (seen >= DETECTION_LINES) break;
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (trimmed.startsWith("#")) {
      if (/^#\s*tracer:/.test(trimmed)) ftraceHeader = true;
      continue;
    }
    seen++;
    if (
      PERF_CLASSIC_HEADER.test(line) ||
      PERF_HIST_HEADER.test(line) ||
      PERF_FOOTER.test(line) ||
      trimmed.startsWith("Analyze events for")
    )
      return "perf-kvm-stat";
    if (KVM_STAT_DISPLAY.test(line)) return "kvm-stat";
    if (TRACE_CMD_HEADER.test(line)) {
      traceCmdMarkers++;
      continue;
    }
    if (parseEventLine(line, 0, line.length, ev)) {
      events++;
      if (ev.perfPrefix) perfPrefix++;
      if (ev.flagsColumn) flags++;
      if (ev.fileStart >= 0) traceCmdMarkers++;
      if (ev.kind === EV_ENTRY && /^vcpu \d+ rip /.test(line.slice(ev.fieldsStart))) traceCmdMarkers++;
      continue;
    }
    const tokens = trimmed.split(/\s+/);
    if (tokens.every((t) => /^\d+$/.test(t))) numericLines++;
    else if (KVM_STAT_BATCH_ROW.test(line)) batchRows++;
    else if (tokens.some((t) => /^(kvm_|exits$|halt_)/.test(t)) && !tokens.some((t) => /^\d+$/.test(t)))
      bannerLines++;
  }
  if (events > 0) {
    if (perfPrefix > 0) return "perf-script";
    if (traceCmdMarkers > 0) return "trace-cmd";
    if (ftraceHeader || flags > 0) return "ftrace";
    return "trace-cmd";
  }
  if (bannerLines > 0 && numericLines > 0) return "kvm-stat-log";
  if (batchRows > 0) return "kvm-stat";
  return undefined;
}
