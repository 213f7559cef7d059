/**
 * `trapline estimate FILE [--guest NAME] [--json] [--explain]`: the static estimate of one guest.
 *
 * `--explain` adds, per exit reason, the rule, the deciding controls and the source of each
 * decision that causes it (cli/src/explain.ts); in JSON an `explain` array, only when asked.
 *
 * Without --guest the first guest of the file is estimated. A file with errors prints its
 * diagnostics on stderr and exits 1 without an estimate, because an illegal VMCS has no
 * meaningful cost; the one exception is a violated budget (TL401), which is the estimate's own
 * verdict: the estimate is printed, then the violation, and the exit status is 1.
 */
import {
  type Analysis,
  analyze,
  coalesceText,
  type Diagnostic,
  estimateFigures,
  type GuestEstimate,
  type GuestTimeEstimate,
  guestTime,
  nestedEstimate,
  pathRateText,
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
  pickGuest,
  readSource,
  UsageError,
} from "./command";
import { explainEstimate, explainText } from "./explain";
import { table } from "./format";
import { MEASURED_HELP, MEASURED_OPTIONS, measuredComparison, measuredText } from "./measured";
import { nestedJson, nestedText } from "./nestedEstimate";
import {
  estimateRows,
  rowDiagnostics,
  estimateFigures as rowFigures,
  SWEEP_HELP,
  SWEEP_OPTIONS,
  type SweepRequest,
  sweepJson,
  sweepRequest,
  sweepTable,
} from "./sweep";

const BUDGET_CODE = "TL401";

/** The contract's JSON shape (spec "Command line"), plus vcpus, demand and breakdowns. */
export function estimateJson(estimate: GuestEstimate): Record<string, unknown> {
  return {
    guest: estimate.guest,
    target: { profile: estimate.target.profile, hz: estimate.target.hz },
    vcpus: estimate.vcpus,
    exitsPerSecond: estimate.exitsPerSecond,
    overhead: estimate.overhead,
    hostCpu: estimate.hostCpu,
    demand: estimate.demand,
    // The host settings in force (each with its source) and what they did (docs/language.md "Host").
    ...(estimate.host ? { host: estimate.host } : {}),
    byReason: estimate.byReason.map((r) => ({
      reason: r.reason,
      code: r.code,
      exitsPerSecond: r.exitsPerSecond,
      cyclesPerExit: r.cyclesPerExit,
      transitionCycles: r.transitionCycles,
      handlerCycles: r.handlerCycles,
      userspaceCycles: r.userspaceCycles,
      share: r.share,
      // Handlers specialised by operand: each handler's part (docs/language.md "Handlers by operand").
      ...(r.handlers
        ? {
            handlers: r.handlers.map((h) => ({
              handler: h.handler,
              ...(h.operand !== undefined ? { operand: h.operand } : {}),
              exitsPerSecond: h.exitsPerSecond,
              cyclesPerExit: h.cyclesPerExit,
              transitionCycles: h.transitionCycles,
              handlerCycles: h.handlerCycles,
              userspaceCycles: h.userspaceCycles,
            })),
          }
        : {}),
    })),
    paths: estimate.paths.map((p) => ({
      name: p.name,
      kind: p.kind,
      executionsPerSecond: p.executionsPerSecond,
      exits: p.exits.map((e) => ({ reason: e.reason, code: e.code, perExecution: e.perExecution })),
      cyclesPerExecution: p.cyclesPerExecution,
      guestCyclesPerExecution: p.guestCyclesPerExecution,
      exitCyclesPerExecution: p.exitCyclesPerExecution,
      exitsPerExecution: p.exitsPerExecution,
      guestExecutionsPerSecond: p.guestExecutionsPerSecond,
      ...(p.ratePer ? { ratePer: p.ratePer } : {}),
      ...(p.latency ? { latency: p.latency } : {}),
      ...(p.coalesce ? { coalesce: p.coalesce } : {}),
    })),
  };
}

/** A readable report: totals, per exit reason, per path. */
export function estimateText(estimate: GuestEstimate, vmcsName: string | undefined): string {
  const hz = estimate.target.hz;
  const lines: string[] = [];
  lines.push(
    `guest ${estimate.guest}${vmcsName ? ` on ${vmcsName}` : ""}: target ${estimate.target.profile} @ ${formatHz(hz)}, ${estimate.vcpus} vCPU${estimate.vcpus === 1 ? "" : "s"}`,
  );
  lines.push(
    table([
      ["exits", formatRate(estimate.exitsPerSecond), "(all vCPUs)"],
      ["overhead", formatPercent(estimate.overhead), "(share of busy vCPU time spent on exits)"],
      ["host CPU", `${formatCores(estimate.hostCpu)}`, "(exit handling + halt polling)"],
      ["vCPU demand", formatPercent(estimate.demand), "(guest work + exits per vCPU; >100% saturates)"],
    ]).replace(/ +\(/g, "   ("),
  );
  const host = estimate.host;
  if (host) {
    const s = host.settings;
    const from = (x: { source: string }) => (x.source === "file" ? "file" : "KVM default");
    lines.push(
      `host: ${s.haltPollNs.value > 0 ? `halt_poll ${formatSeconds(s.haltPollNs.value / 1e9)} grow ${s.haltPollGrow.value} start ${formatSeconds(s.haltPollGrowStartNs.value / 1e9)} shrink ${s.haltPollShrink.value}` : "halt_poll off"} (${from(s.haltPollNs)}); ple_window grow ${s.pleWindowGrow.value} shrink ${s.pleWindowShrink.value} (${from(s.pleWindowGrow)}); ${s.pcpus.value > 0 ? `pcpus ${s.pcpus.value}` : "one pCPU per vCPU"}${s.pinned ? ", pinned" : ""} (${s.pcpus.source === "file" ? "file" : "model default"})${s.preemptRate.value > 0 ? `; preempt ${formatRate(s.preemptRate.value)} for ${formatSeconds(s.preemptSec.value)}` : ""}`,
    );
    if (host.blocksPerSecond > 0)
      lines.push(
        `  halt polling: ${formatPercent(host.haltPollSuccess)} of ${formatRate(host.blocksPerSecond)} blocks per vCPU caught, mean window ${formatSeconds(host.haltPollWindowNs / 1e9)}, ${formatCores(host.pollCpu)} polling`,
      );
    if (host.saturation)
      lines.push(
        `  saturated: ${host.saturation.note}; offered ${formatRate(host.saturation.offeredExitsPerSecond)} exits, ${formatCores(host.saturation.offeredHostCpu)}`,
      );
  }
  lines.push("");
  if (estimate.byReason.length === 0) {
    lines.push("  no exits");
  } else {
    const rows = [
      ["by reason", "exits/s", "cycles/exit", "µs/exit", "transition", "handler", "userspace", "share"],
    ];
    for (const r of estimate.byReason) {
      rows.push([
        `${r.reason} (${r.code})`,
        formatRate(r.exitsPerSecond),
        formatInteger(r.cyclesPerExit),
        formatSignificant((r.cyclesPerExit / hz) * 1e6),
        formatInteger(r.transitionCycles),
        formatInteger(r.handlerCycles),
        formatInteger(r.userspaceCycles),
        formatPercent(r.share),
      ]);
      for (const h of r.handlers ?? [])
        rows.push([
          `  ↳ ${h.operand ?? "other operands"}`,
          formatRate(h.exitsPerSecond),
          formatInteger(h.cyclesPerExit),
          formatSignificant((h.cyclesPerExit / hz) * 1e6),
          formatInteger(h.transitionCycles),
          formatInteger(h.handlerCycles),
          formatInteger(h.userspaceCycles),
          "",
        ]);
    }
    rows.push([
      "total",
      formatRate(estimate.exitsPerSecond),
      "",
      "",
      "",
      "",
      "",
      formatPercent(estimate.byReason.reduce((sum, r) => sum + r.share, 0)),
    ]);
    lines.push(table(rows));
  }
  if (estimate.paths.length > 0) {
    lines.push("");
    const rows = [
      [
        "by path",
        "rate/vCPU",
        "exits per execution",
        "exits",
        "guest cycles",
        "host cycles",
        "µs/execution",
        "added µs mean",
        "p50",
        "p99",
      ],
    ];
    const notes: string[] = [];
    for (const p of estimate.paths) {
      const exits =
        p.exits.length === 0
          ? "none"
          : p.exits.map((e) => `${e.reason}×${formatSignificant(e.perExecution)}`).join(" ");
      const us = (sec: number | undefined) => (sec === undefined ? "" : formatSignificant(sec * 1e6));
      rows.push([
        `${p.kind} ${p.name}`,
        formatRate(p.executionsPerSecond),
        exits,
        formatSignificant(p.exitsPerExecution),
        formatInteger(p.guestCyclesPerExecution),
        formatInteger(p.exitCyclesPerExecution),
        formatSignificant((p.cyclesPerExecution / hz) * 1e6),
        us(p.latency?.mean),
        us(p.latency?.p50),
        us(p.latency?.p99),
      ]);
      if (p.kind !== "idle" && (estimate.vcpus > 1 || p.ratePer))
        notes.push(`  ${p.kind} ${p.name}: rate ${pathRateText(p, estimate.vcpus)}`);
      for (const c of p.coalesce ?? []) notes.push(`  ${p.kind} ${p.name}: ${coalesceText(c)}`);
    }
    lines.push(table(rows));
    lines.push(
      "  host cycles: the exits' transition + handler + user space per execution; added µs: the latency one execution's own exits add (an interrupt's delivery exit is counted in its exits, not added)",
    );
    lines.push(...notes);
  }
  lines.push("");
  lines.push("Static estimate from the target's cost parameters; see `trapline simulate` for distributions.");
  return `${lines.join("\n")}\n`;
}

/** `guestTime` in --json: the TSC the guest reads and each path's guest-observed time (docs/estimator.md). */
export function guestTimeJson(t: GuestTimeEstimate): Record<string, unknown> {
  return {
    hostTscHz: t.hostTscHz,
    guestTscHz: t.guestTscHz,
    multiplier: t.multiplier,
    ...(t.offset !== undefined ? { offset: t.offset } : {}),
    rdtscExiting: t.rdtscExiting,
    paths: t.paths.map((p) => ({
      name: p.name,
      kind: p.kind,
      guestObservedNs: p.guestObservedNs,
      guestObservedTicks: p.guestObservedTicks,
      hostExitNs: p.hostExitNs,
      guestWorkNs: p.guestWorkNs,
      exitingTscReads: p.exitingTscReads,
    })),
  };
}

/** What RDTSC in the guest measures per execution, beside the host's exit time. */
export function guestTimeText(t: GuestTimeEstimate): string {
  const clock =
    t.multiplier === 1
      ? `guest TSC = host TSC${t.offset !== undefined ? ` + offset ${t.offset}` : ""} (${formatHz(t.guestTscHz)})`
      : `guest TSC = host TSC × ${formatSignificant(t.multiplier)}${t.offset !== undefined ? ` + offset ${t.offset}` : ""} (${formatHz(t.guestTscHz)})`;
  const rows = [["guest-observed time", "guest sees", "TSC ticks", "host spends on exits", "guest work"]];
  for (const p of t.paths)
    rows.push([
      `${p.kind} ${p.name}`,
      formatSeconds(p.guestObservedNs / 1e9),
      formatInteger(p.guestObservedTicks),
      formatSeconds(p.hostExitNs / 1e9),
      formatSeconds(p.guestWorkNs / 1e9),
    ]);
  return `${clock}${t.rdtscExiting ? "; RDTSC exits" : ""}; exit time is visible to the guest (KVM does not subtract it)\n${table(rows)}\n`;
}

function printDiagnostics(
  io: CliIO,
  file: string,
  analysis: Analysis,
  which: (code: string) => boolean,
): void {
  const out = analysis.diagnostics
    .filter((d) => which(d.code))
    .map((d) => formatDiagnosticLine(file, analysis.lines, d));
  if (out.length > 0) io.stderr(`${out.join("\n")}\n`);
}

export const estimateCommand: Command = {
  name: "estimate",
  summary: "static estimate of exit rates, costs, overhead and host CPU for one guest",
  usage:
    "estimate FILE [--guest NAME] [--json] [--explain] [--measured TRACE [--tolerance P]] [--target CPUS] [--sweep SPEC]",
  options: {
    guest: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    ...MEASURED_OPTIONS,
    ...SWEEP_OPTIONS,
  },
  help: `  --guest NAME       the guest to estimate (default: the first guest in the file)\n  --json             print the estimate as JSON (with --measured: a "measured" object added)\n  --explain          per exit reason, why it exits: the rule, the controls that decide it and\n                     its source (SDM section or KVM function), with the operations it applies\n                     to (the editor's hover); with --json an "explain" array is added\n${MEASURED_HELP}\n${SWEEP_HELP}\n\nA figure beyond the tolerance is flagged, not an error: the status stays 0.\n\nExit status: 0 success, 1 errors in the file (diagnostics on stderr, no estimate) or a\nviolated budget (estimate printed, violation on stderr) — with --target/--sweep: at some CPU or\npoint (rows printed, \`invalid\` or \`VIOLATED\`) — 2 bad usage (an unknown CPU or sweep parameter)\nor an unreadable file (or trace).`,
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError("estimate needs exactly one FILE");
    const file = positionals[0]!;
    const text = readSource(io, file);
    const analysis = analyze(text);
    const blocking = analysis.diagnostics.filter((d) => d.severity === "error" && d.code !== BUDGET_CODE);
    if (blocking.length > 0) {
      printDiagnostics(io, file, analysis, () => true);
      io.stderr(`trapline: ${file} has errors; no estimate\n`);
      return EXIT_DIAGNOSTICS;
    }
    const guestName = pickGuest(
      analysis,
      typeof values.guest === "string" ? values.guest : undefined,
      file,
      "estimate",
    );
    const request = sweepRequest(values, analysis, guestName);
    if (request && (request.spec !== undefined || request.targets.length > 1)) {
      if (values.explain || values.measured !== undefined)
        throw new UsageError(
          "--explain and --measured take one estimate: not with --sweep or several --target CPUs",
        );
      return printEstimateSweep(io, file, analysis, guestName, request, values.json === true);
    }
    let program = analysis.program;
    let estimate = analysis.estimates.get(guestName);
    let targetViolations: Diagnostic[] | undefined;
    if (request) {
      // One CPU named: the file's program on it (its own CPU: the file as it is).
      const row = estimateRows(analysis, guestName, request)[0]!;
      if (row.status === "error") {
        io.stderr(`${rowDiagnostics(file, analysis, row, row.diagnostics).join("\n")}\n`);
        io.stderr(`trapline: ${file} is not valid on ${row.target}; no estimate\n`);
        return EXIT_DIAGNOSTICS;
      }
      program = row.program;
      estimate = row.estimate;
      targetViolations = row.diagnostics;
    }
    if (!estimate) {
      io.stderr(`trapline: could not estimate guest ${guestName}\n`);
      return EXIT_DIAGNOSTICS;
    }
    const measured = await measuredComparison(io, values, () => estimateFigures(estimate));
    const nested = nestedEstimate(program, guestName);
    const observed = guestTime(program, estimate);
    const explained = values.explain ? explainEstimate(estimate, analysis.text, analysis.lines) : undefined;
    if (values.json) {
      const json = estimateJson(estimate);
      if (nested) json.nested = nestedJson(nested);
      if (observed) json.guestTime = guestTimeJson(observed);
      if (explained) json.explain = explained;
      if (measured) json.measured = { file: values.measured, ...measured };
      io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      io.stdout(estimateText(estimate, program.guests.get(guestName)?.vmcs));
      if (observed && observed.paths.length > 0) io.stdout(`\n${guestTimeText(observed)}`);
      if (nested) io.stdout(`\n${nestedText(nested, estimate.target.hz)}`);
      if (explained) io.stdout(`\n${explainText(explained)}`);
      if (measured) io.stdout(`\n${measuredText(measured, String(values.measured))}`);
    }
    // Budgets of the estimated guest decide the status; warnings go to stderr for information.
    const guestBudgetSpans = analysis.program.expects
      .filter((e) => e.guest === guestName)
      .flatMap((e) => e.budgets.map((b) => b.span.start));
    const violated =
      targetViolations ??
      analysis.diagnostics.filter((d) => d.code === BUDGET_CODE && guestBudgetSpans.includes(d.span.start));
    printDiagnostics(io, file, analysis, (code) => code !== BUDGET_CODE);
    if (violated.length > 0) {
      io.stderr(`${violated.map((d) => formatDiagnosticLine(file, analysis.lines, d)).join("\n")}\n`);
      return EXIT_DIAGNOSTICS;
    }
    return EXIT_OK;
  },
};

/** Several CPUs (one section each) or a sweep (one table row per CPU and point). */
function printEstimateSweep(
  io: CliIO,
  file: string,
  analysis: Analysis,
  guest: string,
  request: SweepRequest,
  json: boolean,
): number {
  const rows = estimateRows(analysis, guest, request);
  const vmcsName = analysis.program.guests.get(guest)?.vmcs;
  if (request.spec === undefined) {
    // --target A,B: the estimate per CPU, as `estimate --target A` prints each.
    if (json) {
      const out = rows.map((row) =>
        row.estimate
          ? estimateJson(row.estimate)
          : { guest, target: { profile: row.target }, errors: row.diagnostics.map((d) => d.message) },
      );
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      io.stdout(
        rows
          .map((row) =>
            row.estimate
              ? estimateText(row.estimate, vmcsName)
              : `guest ${guest} on ${row.target}: not valid on this CPU (diagnostics on stderr); no estimate\n`,
          )
          .join("\n"),
      );
    }
  } else {
    const table = rows.map((row) => ({
      row,
      figures: rowFigures(row),
      status: row.status,
      messages: row.diagnostics.map((d) => d.message),
    }));
    io.stdout(
      json
        ? `${JSON.stringify(sweepJson(guest, request.spec, table), null, 2)}\n`
        : sweepTable(guest, request.spec, table, "estimate"),
    );
  }
  printDiagnostics(io, file, analysis, (code) => code !== BUDGET_CODE);
  const bad = rows.filter((row) => row.status === "error" || row.status === "violated");
  const lines = bad.flatMap((row) => rowDiagnostics(file, analysis, row, row.diagnostics));
  if (lines.length > 0) io.stderr(`${lines.join("\n")}\n`);
  return bad.length > 0 ? EXIT_DIAGNOSTICS : EXIT_OK;
}
