/**
 * The aggregate formats: `perf kvm stat report`/`live` tables and kvm_stat's outputs. They are
 * small (one row per key), so they are read line by line with regular expressions.
 *
 * perf kvm stat (tools/perf/builtin-kvm.c print_result, torvalds/linux@0019dc87):
 *   header `%20s %10s %9s %9s %11s %11s %16s` = name, "Samples", "Samples%", "Time%",
 *   "Min Time", "Max Time", "Avg time"; row `%20s %10llu %8.2f%% %8.2f%% %9.2fus %9.2fus
 *   %9.2fus ( +-%7.2f%% )`; footer `Total Samples:%llu, Total events handled time:%.2fus.` and
 *   `Lost events: %llu`; `live` prints a `HH:MM:SS.uuuuuu` line before each table and resets
 *   its statistics after it. Every conversion is followed by a space, so a value wider than its
 *   field pushes the rest right but never joins it: rows are split on whitespace, from the right
 *   (names may hold a space: SVM's `DE excp`).
 * The hists-based report (builtin-kvm.c `kvm_dimension`s, e.g. virt-pvm/linux@3a3321cc) prints
 *   `Event name  Samples  Sample%  Time (ns)  Time%  Max Time (ns)  Min Time (ns)  Mean Time (ns)`
 *   with integer nanoseconds; the column order is read from the header.
 * kvm_stat (tools/kvm/kvm_stat/kvm_stat, torvalds/linux@006f1548): the display
 *   (`kvm statistics - pid …`, ` Event  Total %Total CurAvg/s`), batch `'%-42s%10d%10d'` (name,
 *   total, delta over one second) and log (a banner of names, then ` %9d` deltas, one line per
 *   `time.sleep(1)`, the banner repeated every 20 lines).
 */
import { resolveReasonText } from "./reasons";
import { LatencyStats } from "./stats";
import type { CounterRow, PairedTable, ReasonRow, TraceIsa } from "./types";

export interface ReportTables {
  exits: PairedTable;
  mmio: PairedTable;
  ioport: PairedTable;
  isa?: TraceIsa;
  counters: CounterRow[];
  windowSec?: number;
  windowStartSec?: number;
  lostEvents?: number;
  report?: { header: "classic" | "hist"; totalSamples?: number; totalTimeNs?: number; snapshots: number };
}

export type LineVerdict = "data" | "ignored" | string;

const CLASSIC_ROW =
  /^\s*(.+?)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)us\s+\(\s*\+-\s*([\d.]+)%\s*\)\s*$/;
const TIME_OF_DAY = /^(?:\x1b\[[0-9;]*[A-Za-z])*\s*(\d\d):(\d\d):(\d\d)\.(\d{6})\s*$/;
const FOOTER = /^\s*Total Samples:\s*(\d+),\s*Total events handled time:\s*([\d.]+)us\.?\s*$/;
const LOST = /^\s*Lost events:\s*(\d+)\s*$/;
const HIST_COLUMNS = [
  "Mean Time (ns)",
  "Max Time (ns)",
  "Min Time (ns)",
  "Time (ns)",
  "Sample%",
  "Samples",
  "Time%",
];

type Mode = "vmexit" | "mmio" | "ioport";

interface Accumulated {
  stats: LatencyStats;
  code?: number;
  reason?: string;
  isa?: TraceIsa;
  flags?: string[];
}

function modeOfTitle(title: string): Mode {
  if (/MMIO/i.test(title)) return "mmio";
  if (/IO Port/i.test(title)) return "ioport";
  return "vmexit";
}

/** perf kvm stat report / live text. */
export class PerfReportReader {
  private header: "classic" | "hist" | undefined;
  private histColumns: string[] = [];
  private mode: Mode = "vmexit";
  private readonly tables: Record<Mode, Map<string, Accumulated>> = {
    vmexit: new Map(),
    mmio: new Map(),
    ioport: new Map(),
  };
  private snapshots = 0;
  private readonly times: number[] = [];
  private totalSamples: number | undefined;
  private totalTimeNs: number | undefined;
  private lost: number | undefined;
  private isa: TraceIsa | undefined;

  line(text: string): LineVerdict {
    const trimmed = text.trim();
    if (trimmed === "" || trimmed.startsWith("Analyze events for")) return "ignored";
    const tod = TIME_OF_DAY.exec(text);
    if (tod) {
      this.times.push(Number(tod[1]) * 3600 + Number(tod[2]) * 60 + Number(tod[3]) + Number(tod[4]) / 1e6);
      return "ignored";
    }
    if (/\bSamples%/.test(text) && /Avg time/.test(text)) {
      this.header = "classic";
      this.mode = modeOfTitle(text.slice(0, text.indexOf("Samples")));
      this.snapshots++;
      return "ignored";
    }
    if (trimmed.startsWith("Event name") && /Samples/.test(text)) {
      this.header = "hist";
      this.histColumns = histColumnsOf(text);
      this.snapshots++;
      return "ignored";
    }
    const footer = FOOTER.exec(text);
    if (footer) {
      this.totalSamples = (this.totalSamples ?? 0) + Number(footer[1]);
      this.totalTimeNs = (this.totalTimeNs ?? 0) + Number(footer[2]) * 1000;
      return "ignored";
    }
    const lost = LOST.exec(text);
    if (lost) {
      this.lost = (this.lost ?? 0) + Number(lost[1]);
      return "ignored";
    }
    if (this.header === "classic") {
      const m = CLASSIC_ROW.exec(text);
      if (!m) return "not a perf kvm stat row";
      const count = Number(m[2]);
      const minNs = Number(m[5]) * 1000;
      const maxNs = Number(m[6]) * 1000;
      const meanNs = Number(m[7]) * 1000;
      const rel = Number(m[8]);
      // Back from perf's relative standard error to M2: s_mean = rel·mean/100, s² = n·s_mean².
      const sMean = (rel / 100) * meanNs;
      const m2 = count < 2 ? 0 : sMean * sMean * count * (count - 1);
      this.add(m[1]!, count, meanNs * count, minNs, maxNs, m2);
      return "data";
    }
    if (this.header === "hist") {
      const tokens = trimmed.split(/\s+/);
      const numeric = this.histColumns.length;
      if (tokens.length < numeric + 1) return "not a perf kvm stat row";
      const name = tokens.slice(0, tokens.length - numeric).join(" ");
      const values = new Map<string, number>();
      const numbers = tokens.slice(tokens.length - numeric);
      for (let i = 0; i < numeric; i++) {
        const v = Number(numbers[i]!.replace(/%$/, ""));
        if (Number.isNaN(v)) return "not a perf kvm stat row";
        values.set(this.histColumns[i]!, v);
      }
      const count = values.get("Samples") ?? Number.NaN;
      if (Number.isNaN(count)) return "not a perf kvm stat row";
      const mean = values.get("Mean Time (ns)");
      const total = values.get("Time (ns)") ?? (mean ?? 0) * count;
      this.add(name, count, total, values.get("Min Time (ns)") ?? 0, values.get("Max Time (ns)") ?? 0, 0);
      return "data";
    }
    return "text before the perf kvm stat header";
  }

  private add(name: string, count: number, totalNs: number, minNs: number, maxNs: number, m2: number): void {
    const table = this.tables[this.mode];
    let acc = table.get(name);
    if (!acc) {
      acc = { stats: new LatencyStats(false) };
      if (this.mode === "vmexit") {
        const r = resolveReasonText(name);
        acc.reason = r.name;
        if (r.code !== undefined) acc.code = r.code;
        if (r.isa) {
          acc.isa = r.isa;
          this.isa ??= r.isa;
        }
        if (r.flags.length > 0) acc.flags = r.flags;
      } else {
        const code = Number.parseInt(name, 16);
        if (!Number.isNaN(code)) acc.code = code;
      }
      table.set(name, acc);
    }
    acc.stats.merge(count, totalNs, minNs, maxNs, m2);
  }

  finish(): ReportTables {
    let windowSec: number | undefined;
    let windowStartSec: number | undefined;
    if (this.times.length >= 2 && this.times.length === this.snapshots) {
      let span = this.times[this.times.length - 1]! - this.times[0]!;
      if (span < 0) span += 86_400; // past midnight
      const gap = span / (this.times.length - 1);
      windowSec = gap * this.times.length;
      windowStartSec = this.times[0]! - gap;
    }
    const out: ReportTables = {
      exits: toTable("vmexit", this.tables.vmexit, windowSec),
      mmio: toTable("mmio", this.tables.mmio, windowSec),
      ioport: toTable("ioport", this.tables.ioport, windowSec),
      counters: [],
      report: { header: this.header ?? "classic", snapshots: this.snapshots },
    };
    if (this.isa) out.isa = this.isa;
    if (windowSec !== undefined) out.windowSec = windowSec;
    if (windowStartSec !== undefined) out.windowStartSec = windowStartSec;
    if (this.totalSamples !== undefined) out.report!.totalSamples = this.totalSamples;
    if (this.totalTimeNs !== undefined) out.report!.totalTimeNs = this.totalTimeNs;
    if (this.lost !== undefined) out.lostEvents = this.lost;
    return out;
  }
}

function histColumnsOf(header: string): string[] {
  // Column titles hold spaces ("Max Time (ns)"), so find each known title, longest first.
  let rest = header.replace(/^\s*Event name/, (m) => " ".repeat(m.length));
  const found: { at: number; name: string }[] = [];
  for (const name of HIST_COLUMNS) {
    let at = rest.indexOf(name);
    while (at >= 0) {
      const before = at === 0 ? " " : rest[at - 1]!;
      const after = rest[at + name.length] ?? " ";
      if (/\s/.test(before) && /\s/.test(after)) break;
      at = rest.indexOf(name, at + 1);
    }
    if (at < 0) continue;
    found.push({ at, name });
    rest = rest.slice(0, at) + " ".repeat(name.length) + rest.slice(at + name.length);
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.name);
}

export function emptyTable(mode: Mode, latency = true): PairedTable {
  const table: PairedTable = {
    mode,
    title: mode === "vmexit" ? "VM-EXIT" : mode === "mmio" ? "MMIO Access" : "IO Port Access",
    rows: [],
    totalCount: 0,
    totalNs: 0,
  };
  if (!latency) table.latency = false;
  return table;
}

function toTable(mode: Mode, entries: Map<string, Accumulated>, windowSec: number | undefined): PairedTable {
  const table = emptyTable(mode);
  for (const acc of entries.values()) {
    table.totalCount += acc.stats.count;
    table.totalNs += acc.stats.totalNs;
  }
  for (const [key, acc] of entries) {
    const row: ReasonRow = {
      key,
      ...acc.stats.summary(),
      sampleShare: table.totalCount === 0 ? 0 : acc.stats.count / table.totalCount,
      timeShare: table.totalNs === 0 ? 0 : acc.stats.totalNs / table.totalNs,
    };
    if (acc.code !== undefined) row.code = acc.code;
    if (acc.reason !== undefined) row.reason = acc.reason;
    if (acc.isa) row.isa = acc.isa;
    if (acc.flags) row.flags = acc.flags;
    if (windowSec !== undefined) row.ratePerSecond = acc.stats.count / windowSec;
    table.rows.push(row);
  }
  table.rows.sort((a, b) => b.count - a.count);
  return table;
}

const KVM_STAT_TITLE = /^\s*kvm statistics\b/;
const KVM_STAT_HEADER = /^\s*Event\s+Total\s+%Total\s+CurAvg\/s\s*$/;
const KVM_STAT_DISPLAY_ROW = /^\s*(\S+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s*$/;
const KVM_STAT_TOTAL_ROW = /^\s*Total\s+(\d+)\s+(\d+)\s*$/;
const KVM_STAT_BATCH_ROW = /^\s*(\S+)\s+(\d+)\s+(\d+)\s*$/;
const KVM_EXIT_CHILD = /^kvm_exit\((.+)\)$/;

/** kvm_stat display or batch text. */
export class KvmStatReader {
  private readonly counters = new Map<string, CounterRow>();
  private display = false;

  line(text: string): LineVerdict {
    if (text.trim() === "") return "ignored";
    if (KVM_STAT_TITLE.test(text) || KVM_STAT_HEADER.test(text)) {
      this.display = true;
      return "ignored";
    }
    if (this.display) {
      if (KVM_STAT_TOTAL_ROW.test(text)) return "ignored";
      const m = KVM_STAT_DISPLAY_ROW.exec(text);
      if (!m) return "not a kvm_stat row";
      this.set(m[1]!, Number(m[2]), Number(m[4]));
      return "data";
    }
    const m = KVM_STAT_BATCH_ROW.exec(text);
    if (!m) return "not a kvm_stat row";
    this.set(m[1]!, Number(m[2]), Number(m[3]));
    return "data";
  }

  private set(name: string, total: number, ratePerSecond: number): void {
    this.counters.set(name, { name, total, ratePerSecond });
  }

  finish(): ReportTables {
    return countersToTables([...this.counters.values()], this.display ? undefined : 1);
  }
}

/** kvm_stat --log text. */
export class KvmStatLogReader {
  private names: string[] = [];
  private readonly totals = new Map<string, number>();
  private intervals = 0;

  line(text: string): LineVerdict {
    if (this.values(text)) return "data";
    const tokens = text.trim().split(/\s+/);
    if (tokens.length === 1 && tokens[0] === "") return "ignored";
    if (tokens.every((t) => /^\d+$/.test(t))) {
      if (this.names.length === 0) return "counter values before the banner";
      if (tokens.length !== this.names.length)
        return `${tokens.length} values under a banner of ${this.names.length} names`;
      tokens.forEach((t, i) => {
        const name = this.names[i]!;
        this.totals.set(name, (this.totals.get(name) ?? 0) + Number(t));
      });
      this.intervals++;
      return "data";
    }
    if (tokens.some((t) => /^\d+$/.test(t))) return "not a kvm_stat --log line";
    this.flushColumns();
    this.names = tokens;
    if (this.columns.length < tokens.length) this.columns = new Float64Array(tokens.length);
    for (const name of tokens) if (!this.totals.has(name)) this.totals.set(name, 0);
    return "ignored";
  }

  /** Column totals of the data lines read by `values`, added to `totals` when the banner changes. */
  private columns = new Float64Array(0);

  /**
   * A line of deltas under the current banner, read by char codes without splitting it: blanks
   * (space, tab) and decimal numbers of at most 15 digits (exact as doubles, as Number() reads
   * them), as many as the banner has names. Anything else returns false for the general reader.
   */
  private values(text: string): boolean {
    const n = this.names.length;
    if (n === 0) return false;
    const columns = this.columns;
    let column = 0;
    let i = 0;
    const end = text.length;
    // Read into a scratch pass first: a line with the wrong count or a foreign token adds nothing.
    for (let pass = 0; pass < 2; pass++) {
      column = 0;
      i = 0;
      while (i < end) {
        let c = text.charCodeAt(i);
        if (c === 32 || c === 9) {
          i++;
          continue;
        }
        const start = i;
        let v = 0;
        while (c >= 48 && c <= 57) {
          v = v * 10 + (c - 48);
          i++;
          c = i < end ? text.charCodeAt(i) : 32;
        }
        if (i === start || i - start > 15 || (c !== 32 && c !== 9)) return false;
        if (column >= n) return false;
        if (pass === 1) columns[column] = columns[column]! + v;
        column++;
      }
      if (column !== n) return false;
    }
    this.intervals++;
    return true;
  }

  private flushColumns(): void {
    for (let k = 0; k < this.names.length && k < this.columns.length; k++) {
      const name = this.names[k]!;
      if (this.columns[k] !== 0) this.totals.set(name, (this.totals.get(name) ?? 0) + this.columns[k]!);
    }
    this.columns.fill(0);
  }

  finish(): ReportTables {
    this.flushColumns();
    const counters = [...this.totals].map(([name, total]) => ({
      name,
      total,
      ratePerSecond: this.intervals > 0 ? total / this.intervals : 0,
    }));
    return countersToTables(counters, this.intervals > 0 ? this.intervals : undefined);
  }
}

/** kvm_exit(REASON) counters become exit rows (counts and rates, no latency). */
function countersToTables(counters: CounterRow[], windowSec: number | undefined): ReportTables {
  const exits = emptyTable("vmexit", false);
  let isa: TraceIsa | undefined;
  for (const c of counters) {
    const m = KVM_EXIT_CHILD.exec(c.name);
    if (!m) continue;
    const r = resolveReasonText(m[1]!);
    isa ??= r.isa;
    const row: ReasonRow = {
      key: r.display,
      reason: r.name,
      count: c.total,
      totalNs: 0,
      minNs: 0,
      maxNs: 0,
      meanNs: 0,
      stddevNs: 0,
      relStddevPercent: 0,
      sampleShare: 0,
      timeShare: 0,
    };
    if (r.code !== undefined) row.code = r.code;
    if (r.isa) row.isa = r.isa;
    if (c.ratePerSecond !== undefined) row.ratePerSecond = c.ratePerSecond;
    exits.rows.push(row);
    exits.totalCount += c.total;
  }
  if (exits.rows.length === 0) {
    const all = counters.find((c) => c.name === "kvm_exit" || c.name === "exits");
    if (all) exits.totalCount = all.total;
  }
  for (const row of exits.rows) row.sampleShare = exits.totalCount === 0 ? 0 : row.count / exits.totalCount;
  exits.rows.sort((a, b) => b.count - a.count);
  const out: ReportTables = {
    exits,
    mmio: emptyTable("mmio", false),
    ioport: emptyTable("ioport", false),
    counters,
  };
  if (isa) out.isa = isa;
  if (windowSec !== undefined) out.windowSec = windowSec;
  return out;
}
