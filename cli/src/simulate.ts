/**
 * `trapline simulate FILE [--guest NAME] [--duration TIME] [--seed N] [--json] [--trace OUT.json]`:
 * runs the discrete-event simulator on one guest and prints its statistics. Defaults come from
 * the file's `simulate GUEST for TIME [seed N]` line, then 100 ms and seed 1. Exit status 1
 * when the file has errors or a budget (including simulated ones such as `p99 irq_latency`)
 * is violated; 2 for bad usage, an unreadable file, or a run refused or stopped by a budget (a
 * stopped run prints its statistics, which cover the part simulated, and says so).
 */
import {
  type Analysis,
  analyze,
  budgetViolationMessage,
  checkSimulatedBudgets,
  type ExpectIR,
  nestedEptOf,
  type Program,
  SimulationError,
  type SimulationResult,
  simulate,
  simulationFigures,
  TraceExportError,
  timelineToTraceCmd,
  toBaseUnit,
} from "../../core/src/index";
import {
  formatCores,
  formatHz,
  formatInteger,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSignificant,
} from "../../core/src/util/format";
import { formatDiagnosticLine } from "./check";
import {
  type CliIO,
  type Command,
  EXIT_DIAGNOSTICS,
  EXIT_OK,
  EXIT_USAGE,
  pickGuest,
  readSource,
  UsageError,
} from "./command";
import { table } from "./format";
import { MEASURED_HELP, MEASURED_OPTIONS, measuredComparison, measuredText } from "./measured";
import { nestedSimulationText } from "./nestedSimulate";
import {
  estimateRows,
  meanCycles,
  type RowFigures,
  rowDiagnostics,
  SWEEP_HELP,
  SWEEP_OPTIONS,
  type SweepRequest,
  sweepJson,
  sweepRequest,
  sweepTable,
} from "./sweep";
import { timelineToTrace } from "./trace";

const BUDGET_CODE = "TL401";
const DEFAULT_DURATION_SEC = 0.1;

/** "100ms", "1s", "250us", "0.5" (seconds). */
export function parseDuration(text: string): number {
  // A sign is read so that `-1s` is told it must be positive rather than that it is not a time.
  const m = /^\s*([+-]?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*(ns|us|µs|ms|s)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--duration: '${text}' is not a time (e.g. 100ms, 1s)`);
  const value = Number(m[1]);
  const unit = (m[2] ?? "s").replace("µs", "us").toLowerCase();
  const seconds = toBaseUnit(value, unit);
  if (seconds === undefined || !(seconds > 0) || !Number.isFinite(seconds)) {
    throw new UsageError(`--duration: '${text}' must be a positive time`);
  }
  return seconds;
}

function parseSeed(text: string): number {
  if (!/^[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--seed: '${text}' is not a non-negative integer`);
  }
  return Number(text);
}

/** The contract's JSON: the estimate's top-level fields measured, plus duration, exits, latency. */
export function simulationJson(r: SimulationResult): Record<string, unknown> {
  const { timeline: _timeline, ...rest } = r;
  return {
    guest: r.guest,
    target: r.target,
    vcpus: r.vcpus,
    seed: r.seed,
    duration: r.duration,
    exits: r.exits,
    exitsPerSecond: r.exitsPerSecond,
    overhead: r.overhead,
    hostCpu: r.hostCpu,
    latency: {
      irq: {
        p50: r.latency.irq.p50,
        p99: r.latency.irq.p99,
        max: r.latency.irq.max,
        mean: r.latency.irq.mean,
        count: r.latency.irq.count,
      },
      bySource: r.latency.bySource,
    },
    byReason: r.byReason,
    paths: r.paths,
    time: rest.time,
    counters: rest.counters,
    ...(r.host ? { host: r.host } : {}),
    warnings: r.warnings,
    ...(r.stopped ? { stopped: r.stopped } : {}),
    ...(r.nested ? { nested: r.nested } : {}),
  };
}

export function simulationText(r: SimulationResult, vmcsName: string | undefined): string {
  const hz = r.target.hz;
  const lines: string[] = [];
  lines.push(
    `guest ${r.guest}${vmcsName ? ` on ${vmcsName}` : ""}: target ${r.target.profile} @ ${formatHz(hz)}, ${r.vcpus} vCPU${r.vcpus === 1 ? "" : "s"}, simulated ${formatSeconds(r.duration)}, seed ${r.seed}`,
  );
  lines.push(
    table([
      ["exits", `${r.exits}`, `(${formatRate(r.exitsPerSecond)}, all vCPUs)`],
      ["overhead", formatPercent(r.overhead), "(share of busy vCPU time spent on exits)"],
      ["host CPU", `${formatCores(r.hostCpu)}`, "(exit handling + halt polling)"],
      [
        "irq latency",
        r.latency.irq.count > 0 ? `p50 ${formatSeconds(r.latency.irq.p50)}` : "no interrupts",
        r.latency.irq.count > 0
          ? `mean ${formatSeconds(r.latency.irq.mean)}  p99 ${formatSeconds(r.latency.irq.p99)}  max ${formatSeconds(r.latency.irq.max)}`
          : "",
      ],
    ]),
  );
  lines.push("");
  if (r.byReason.length === 0) lines.push("  no exits");
  else {
    const rows = [
      ["by reason", "exits", "exits/s", "cycles/exit", "min", "mean", "p50", "p99", "max", "share"],
    ];
    for (const x of r.byReason) {
      rows.push([
        `${x.reason} (${x.code})`,
        `${x.exits}`,
        formatRate(x.exitsPerSecond),
        formatInteger(x.cyclesPerExit),
        formatSeconds(x.duration.min),
        formatSeconds(x.duration.mean),
        formatSeconds(x.duration.p50),
        formatSeconds(x.duration.p99),
        formatSeconds(x.duration.max),
        formatPercent(x.share),
      ]);
      // Handlers specialised by operand: each handler's part (docs/language.md "Handlers by operand").
      for (const h of x.handlers ?? [])
        rows.push([
          `  ↳ ${h.operand ?? "other operands"}`,
          `${h.exits}`,
          formatRate(h.exitsPerSecond),
          formatInteger(h.cyclesPerExit),
          "",
          "",
          "",
          "",
          "",
          "",
        ]);
    }
    lines.push(table(rows));
  }
  const interrupts = Object.entries(r.latency.bySource);
  if (interrupts.length > 0) {
    lines.push("");
    const rows = [["latency", "count", "min", "mean", "p50", "p99", "max"]];
    for (const [name, l] of interrupts) {
      rows.push([
        name,
        `${l.count}`,
        formatSeconds(l.min),
        formatSeconds(l.mean),
        formatSeconds(l.p50),
        formatSeconds(l.p99),
        formatSeconds(l.max),
      ]);
    }
    lines.push(table(rows));
  }
  if (r.paths.length > 0) {
    lines.push("");
    const rows = [
      [
        "by path",
        "arrivals",
        "executions",
        "per vCPU",
        "guest",
        "dropped",
        "exits/execution",
        "host cycles",
        "added µs mean",
        "p50",
        "p99",
      ],
    ];
    const notes: string[] = [];
    const us = (sec: number) => formatSignificant(sec * 1e6);
    for (const p of r.paths) {
      rows.push([
        `${p.kind} ${p.name}`,
        `${p.arrivals}`,
        `${p.executions}`,
        formatRate(p.executionsPerSecond / Math.max(1, r.vcpus)),
        formatRate(p.executionsPerSecond),
        `${p.dropped}`,
        formatSignificant(p.exitsPerExecution),
        formatInteger(p.exitCyclesPerExecution),
        us(p.latency.mean),
        us(p.latency.p50),
        us(p.latency.p99),
      ]);
      for (const c of p.coalesce ?? [])
        notes.push(
          `  ${p.kind} ${p.name}: coalesce ${c.count} or ${us(c.timeoutSec)} µs: ${formatSignificant(c.batchSize)} executions per notification (${formatSignificant(c.flushesPerExecution)} per execution); wait until the flush mean ${us(c.wait.mean)} µs, p50 ${us(c.wait.p50)} µs, p99 ${us(c.wait.p99)} µs, max ${us(c.wait.max)} µs`,
        );
    }
    lines.push(table(rows));
    lines.push(
      `  executions/s per vCPU and for the guest's ${r.vcpus} vCPU${r.vcpus === 1 ? "" : "s"}; host cycles: the exits' cycles per execution; added µs: the latency one execution's own exits add`,
    );
    lines.push(...notes);
  }
  const t = r.time;
  const c = r.counters;
  lines.push("");
  lines.push(
    `  events ${c.events}, TSX aborts ${c.tsxAborts}, halts ended by polling ${c.haltPollSuccesses}, after sleeping ${c.haltWakeups}, injections ${c.injections}, kicks ${c.kicks}, directed yields ${c.directedYields}${c.haltPollGrows !== undefined ? `, halt-poll window grown ${c.haltPollGrows}` : ""}${c.haltPollShrinks !== undefined ? `, shrunk ${c.haltPollShrinks}` : ""}`,
  );
  // The host settings the run used (also in --json as `host`; issue #12: nothing JSON-only).
  const h = r.host;
  if (h)
    lines.push(
      `  host: ${h.haltPollNs > 0 ? `halt_poll ${formatSeconds(h.haltPollNs / 1e9)} grow ${h.haltPollGrow} start ${formatSeconds(h.haltPollGrowStartNs / 1e9)} shrink ${h.haltPollShrink}` : "halt_poll off"}; ple_window ${h.pleWindowGrowth ? `grow ${h.pleWindowGrow} shrink ${h.pleWindowShrink} max ${formatInteger(h.pleWindowMax)}` : "fixed"}; ${h.pcpus > 0 ? `pcpus ${h.pcpus}` : "one pCPU per vCPU"}${h.pinned ? ", pinned" : ""}${h.preemptRate > 0 ? `; preempt ${formatRate(h.preemptRate)} for ${formatSeconds(h.preemptSec)}` : ""}`,
    );
  lines.push(
    `  vCPU time: guest ${formatSeconds(t.guest)}${t.spinning > 0 ? ` (spinning ${formatSeconds(t.spinning)})` : ""}, exits ${formatSeconds(t.exit)}, handlers ${formatSeconds(t.handler)}, user space ${formatSeconds(t.userspace)}, halted ${formatSeconds(t.halted)}${t.polling > 0 ? `, polling ${formatSeconds(t.polling)}` : ""}${t.idleInGuest > 0 ? `, idle in guest ${formatSeconds(t.idleInGuest)}` : ""}${t.descheduled > 0 ? `, descheduled ${formatSeconds(t.descheduled)}` : ""}`,
  );
  for (const w of r.warnings) lines.push(`  note: ${w}`);
  if (r.nested) lines.push("", nestedSimulationText(r.guest, r.nested, hz));
  lines.push("");
  lines.push("Percentiles from log-bucketed histograms over every event (within ±1.1%).");
  return `${lines.join("\n")}\n`;
}

export const simulateCommand: Command = {
  name: "simulate",
  summary: "discrete-event simulation of one guest: exit statistics, latency distributions, timeline",
  usage:
    "simulate FILE [--guest NAME] [--duration TIME] [--seed N] [--json] [--trace OUT.json] [--trace-cmd OUT.txt] [--measured TRACE [--tolerance P]] [--target CPUS] [--sweep SPEC]",
  options: {
    guest: { type: "string" },
    duration: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
    trace: { type: "string" },
    "trace-cmd": { type: "string" },
    ...MEASURED_OPTIONS,
    ...SWEEP_OPTIONS,
  },
  help:
    "  --guest NAME       the guest (default: the file's `simulate` line, else the first guest)\n  --duration TIME    simulated time, e.g. 100ms, 1s (default: the `simulate` line, else 100ms)\n  --seed N           PRNG seed (default: the `simulate` line, else 1); same seed, same output\n  --json             print the statistics as JSON (times in seconds)\n  --trace OUT.json   write Chrome trace-event JSON (opens in ui.perfetto.dev)\n  --trace-cmd OUT.txt  write the run as `trace-cmd report` text (kvm_exit/kvm_entry per vCPU thread)\n" +
    MEASURED_HELP +
    `\n${SWEEP_HELP.replaceAll("estimate on", "simulate on")}` +
    "\n\nA figure beyond the tolerance is flagged, not an error: it does not change the status.\n\nExit status: 0 success, 1 errors in the file or a violated budget, 2 bad usage, an unreadable\nfile, or a run refused or stopped by the event or step budget (its statistics are printed).",
  async run({ values, positionals }, io: CliIO) {
    if (positionals.length !== 1) throw new UsageError("simulate needs exactly one FILE");
    const file = positionals[0]!;
    const text = readSource(io, file);
    const analysis = analyze(text);
    const blocking = analysis.diagnostics.filter((d) => d.severity === "error" && d.code !== BUDGET_CODE);
    if (blocking.length > 0) {
      const out = analysis.diagnostics.map((d) => formatDiagnosticLine(file, analysis.lines, d));
      io.stderr(`${out.join("\n")}\ntrapline: ${file} has errors; no simulation\n`);
      return EXIT_DIAGNOSTICS;
    }
    // The `simulate` line names the default guest; else the first guest.
    const guest = pickGuest(
      analysis,
      typeof values.guest === "string" ? values.guest : undefined,
      file,
      "simulate",
      analysis.program.simulates[0]?.guest,
    );
    const line = analysis.program.simulates.find((s) => s.guest === guest);
    const durationSec =
      typeof values.duration === "string"
        ? parseDuration(values.duration)
        : (line?.durationSec ?? DEFAULT_DURATION_SEC);
    const seed = typeof values.seed === "string" ? parseSeed(values.seed) : (line?.seed ?? 1);
    const request = sweepRequest(values, analysis, guest);
    if (request && (request.spec !== undefined || request.targets.length > 1)) {
      for (const option of ["trace", "trace-cmd", "measured"])
        if (values[option] !== undefined)
          throw new UsageError(`--${option} takes one run: not with --sweep or several --target CPUs`);
      return simulateSweep(io, file, analysis, guest, request, durationSec, seed, values.json === true);
    }
    let program = analysis.program;
    if (request) {
      const row = estimateRows(analysis, guest, request)[0]!;
      if (row.status === "error") {
        io.stderr(`${rowDiagnostics(file, analysis, row, row.diagnostics).join("\n")}\n`);
        io.stderr(`trapline: ${file} is not valid on ${row.target}; no simulation\n`);
        return EXIT_DIAGNOSTICS;
      }
      program = row.program;
    }
    let result: SimulationResult;
    try {
      result = simulate(program, guest, {
        durationSec,
        seed,
        positionAt: (offset) => analysis.lines.positionAt(offset),
        timelineIntervals:
          typeof values.trace === "string" || typeof values["trace-cmd"] === "string" ? undefined : 0,
      });
    } catch (error) {
      if (error instanceof SimulationError) throw new UsageError(error.message);
      throw error;
    }
    if (typeof values.trace === "string") {
      try {
        io.writeFile(values.trace, timelineToTrace(result.timeline, { guest }));
      } catch (error) {
        throw new UsageError(
          `cannot write ${values.trace}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
        );
      }
    }
    const traceCmd = values["trace-cmd"];
    if (typeof traceCmd === "string") {
      let text: string;
      try {
        text = timelineToTraceCmd(result.timeline, {
          header: [`trapline simulate ${file} --guest ${guest} --duration ${durationSec}s --seed ${seed}`],
          nestedEpt: result.nested ? nestedEptOf(program, result.nested.vmcs12) : undefined,
        });
      } catch (error) {
        if (error instanceof TraceExportError) throw new UsageError(`--trace-cmd: ${error.message}`);
        throw error;
      }
      try {
        io.writeFile(traceCmd, text);
      } catch (error) {
        throw new UsageError(
          `cannot write ${traceCmd}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
        );
      }
    }
    const measured = await measuredComparison(io, values, () => simulationFigures(result));
    if (values.json) {
      const json = simulationJson(result);
      if (measured) json.measured = { file: values.measured, ...measured };
      io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      io.stdout(simulationText(result, program.guests.get(guest)?.vmcs));
      if (measured) io.stdout(`\n${measuredText(measured, String(values.measured))}`);
    }
    if (result.stopped) {
      io.stderr(`simulate: ${result.warnings[result.warnings.length - 1]}\n`);
      return EXIT_USAGE;
    }
    const lines = simulatedViolations(file, analysis, program, result);
    if (lines.length > 0) {
      io.stderr(`${lines.join("\n")}\n`);
      return EXIT_DIAGNOSTICS;
    }
    return EXIT_OK;
  },
};

/**
 * The simulated budgets a run violates, as `FILE:L:C: error TL401: …` lines in the words and
 * units of the static check (analysis/budgetText.ts).
 */
function simulatedViolations(
  file: string,
  analysis: Analysis,
  program: Program,
  result: SimulationResult,
): string[] {
  const budgets = new Map<number, ExpectIR["budgets"][number]>();
  for (const e of program.expects) for (const b of e.budgets) budgets.set(b.span.start, b);
  return checkSimulatedBudgets(program, result)
    .filter((b) => !b.ok)
    .map((b) => {
      const pos = analysis.lines.positionAt(b.span.start);
      const budget = budgets.get(b.span.start);
      const message = budget
        ? budgetViolationMessage(budget.metric, b.value, b.comparator, b.limit, result.guest, "simulated")
        : `simulated ${b.metric} ${b.value} violates the budget ${b.comparator} ${b.limit}`;
      return `${file}:${pos.line + 1}:${pos.character + 1}: error ${BUDGET_CODE}: ${message}`;
    });
}

/** One simulation per (CPU, point), a table row each; a point the checks reject is not run. */
function simulateSweep(
  io: CliIO,
  file: string,
  analysis: Analysis,
  guest: string,
  request: SweepRequest,
  durationSec: number,
  seed: number,
  json: boolean,
): number {
  const rows = estimateRows(analysis, guest, request).map((row) => {
    const messages = row.diagnostics.filter((d) => d.severity === "error" && d.code !== BUDGET_CODE);
    if (row.status === "error")
      return {
        row,
        figures: undefined,
        status: row.status,
        messages: messages.map((d) => d.message),
        stderr: rowDiagnostics(file, analysis, row, messages),
        result: undefined,
      };
    let result: SimulationResult;
    try {
      result = simulate(row.program, guest, {
        durationSec,
        seed,
        positionAt: (offset) => analysis.lines.positionAt(offset),
        timelineIntervals: 0,
      });
    } catch (error) {
      if (!(error instanceof SimulationError)) throw error;
      const where = `[at ${row.target}${row.label !== row.target ? `, ${row.label}` : ""}]`;
      return {
        row,
        figures: undefined,
        status: "error" as const,
        messages: [error.message],
        stderr: [`trapline: ${error.message} ${where}`],
        result: undefined,
      };
    }
    const violations = simulatedViolations(file, analysis, row.program, result).map(
      (line) => `${line} [at ${row.target}${row.label !== row.target ? `, ${row.label}` : ""}]`,
    );
    const hasBudgets = row.program.expects.some((e) => e.guest === guest && e.budgets.length > 0);
    const cyclesPerExit = meanCycles(result.byReason, result.exitsPerSecond);
    const figures: RowFigures = {
      exitsPerSecond: result.exitsPerSecond,
      cyclesPerExit,
      microsecondsPerExit: (cyclesPerExit / result.target.hz) * 1e6,
      hostCpu: result.hostCpu,
      overhead: result.overhead,
      ...(result.latency.irq.count > 0 ? { irqLatencyP99: result.latency.irq.p99 } : {}),
    };
    const status = result.stopped
      ? ("error" as const)
      : violations.length > 0
        ? ("violated" as const)
        : hasBudgets
          ? ("ok" as const)
          : ("none" as const);
    const stopped = result.stopped ? [`simulate: ${result.warnings[result.warnings.length - 1]}`] : [];
    return {
      row,
      figures,
      status,
      messages: [...stopped, ...violations],
      stderr: [...stopped, ...violations],
      result,
    };
  });
  const spec = request.spec;
  if (json) {
    const out = sweepJson(guest, spec, rows);
    io.stdout(
      `${JSON.stringify(spec ? { ...out, duration: durationSec, seed } : rows.map((r) => (r.result ? simulationJson(r.result) : { guest, target: { profile: r.row.target }, errors: r.messages })), null, 2)}\n`,
    );
  } else if (spec) io.stdout(sweepTable(guest, spec, rows, "simulation"));
  else
    io.stdout(
      rows
        .map((r) =>
          r.result
            ? simulationText(r.result, analysis.program.guests.get(guest)?.vmcs)
            : `guest ${guest} on ${r.row.target}: not simulated (diagnostics on stderr)\n`,
        )
        .join("\n"),
    );
  const lines = rows.flatMap((r) => r.stderr);
  if (lines.length > 0) io.stderr(`${lines.join("\n")}\n`);
  if (rows.some((r) => r.result?.stopped)) return EXIT_USAGE;
  return rows.some((r) => r.status === "error" || r.status === "violated") ? EXIT_DIAGNOSTICS : EXIT_OK;
}
