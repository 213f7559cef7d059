/**
 * Readable Markdown reports behind "Show Estimate" and "Compare Configurations", and the file
 * status the client's language status item shows. Comparison re-runs the core's estimator on the
 * same program with the guest moved to each vmcs block (and, on request, to other target
 * profiles) — a handful of estimates, on a command, not per keystroke.
 */
import {
  checkProgram,
  coalesceText,
  type Diagnostic,
  estimateGuest,
  type GuestEstimate,
  otherCpuTarget,
  type Program,
  profileByName,
  type TargetIR,
  type VmcsIR,
} from "../../../core/src/index";
import {
  formatCores,
  formatCycles,
  formatHz,
  formatInteger,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSignificant,
} from "../../../core/src/util/format";
import { spanToRange } from "../convert";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";
import type { CompareResult, CompareRow, FileStatusParams } from "../protocol";
import { type MeasuredView, measuredReportSection } from "./measured";

export function fileStatus(
  model: Pick<DocumentModel, "analysis">,
  uri: string,
  version: number | null,
  analysisMs: number,
): FileStatusParams {
  const { program, estimates, diagnostics, lines } = model.analysis;
  let total = 0;
  let maxOverhead = 0;
  const guests: FileStatusParams["guests"] = [];
  // The first `simulate` line per guest, by name: one pass, not a search per guest.
  const simulateOf = new Map<string, (typeof program.simulates)[number]>();
  for (const simulate of program.simulates)
    if (!simulateOf.has(simulate.guest)) simulateOf.set(simulate.guest, simulate);
  for (const guest of program.guests.values()) {
    const estimate = estimates.get(guest.name);
    const simulate = simulateOf.get(guest.name);
    guests.push({
      name: guest.name,
      vmcs: guest.vmcs,
      vcpus: guest.vcpus,
      exitsPerSecond: estimate?.exitsPerSecond ?? 0,
      overhead: estimate?.overhead ?? 0,
      hostCpu: estimate?.hostCpu ?? 0,
      demand: estimate?.demand ?? 0,
      range: spanToRange(lines, guest.nameSpan),
      simulate: simulate ? { durationSec: simulate.durationSec, seed: simulate.seed } : undefined,
    });
    total += estimate?.exitsPerSecond ?? 0;
    maxOverhead = Math.max(maxOverhead, estimate?.overhead ?? 0);
  }
  let errors = 0;
  let warnings = 0;
  for (const diagnostic of diagnostics) {
    if (diagnostic.severity === "error") errors++;
    else if (diagnostic.severity === "warning") warnings++;
  }
  return {
    uri,
    version,
    target: {
      profile: program.target.profile.name,
      hz: program.target.hz,
      declared: program.target.span !== undefined,
      range: program.target.span ? spanToRange(lines, program.target.span) : undefined,
      profileRange: program.target.profileSpan ? spanToRange(lines, program.target.profileSpan) : undefined,
    },
    guests,
    totalExitsPerSecond: total,
    maxOverhead,
    errors,
    warnings,
    analysisMs,
  };
}

export function estimateReport(
  model: DocumentModel,
  fileName: string,
  onlyGuest?: string,
  measured?: MeasuredView,
): string {
  const { program, estimates, diagnostics } = model.analysis;
  const out: string[] = [
    `# Trapline estimate: ${escapeMarkdown(fileName)}`,
    "",
    `Target **${program.target.profile.displayName}** (\`${program.target.profile.name}\`) @ ${formatHz(program.target.hz)}${program.target.span ? "" : " — default profile (no `target` line)"}`,
    "",
  ];
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length)
    out.push(
      `⚠ ${errors.length} error${errors.length === 1 ? "" : "s"} in the file; estimates cover what resolved.`,
      "",
    );
  const names = onlyGuest ? [onlyGuest] : [...estimates.keys()];
  if (!names.length) out.push("The file has no guest to estimate.");
  for (const name of names) {
    const estimate = estimates.get(name);
    if (!estimate) {
      out.push(
        `## guest ${escapeMarkdown(name)}`,
        "",
        "No estimate (the guest has errors or does not exist).",
        "",
      );
      continue;
    }
    out.push(...guestSection(estimate, program));
    const m = measured?.get(name);
    if (m) out.push(...measuredReportSection(m));
  }
  out.push(
    "_Static estimate: exit rates from the guest's declared arrival rates, cycles from the target's cost parameters (each labelled measured or estimate in the profile)._",
  );
  return out.join("\n");
}

function guestSection(estimate: GuestEstimate, program: Program): string[] {
  const guest = program.guests.get(estimate.guest);
  const out = [
    `## guest ${escapeMarkdown(estimate.guest)}${guest ? ` on ${codeSpan(guest.vmcs)}` : ""} · ${estimate.vcpus} vCPU${estimate.vcpus === 1 ? "" : "s"}`,
    "",
    "| metric | value |",
    "|---|---:|",
    `| exits | ${formatRate(estimate.exitsPerSecond)} |`,
    `| overhead (idle excluded) | ${formatPercent(estimate.overhead)} |`,
    `| host CPU | ${formatCores(estimate.hostCpu)} |`,
    `| demand per vCPU | ${formatPercent(estimate.demand)}${estimate.demand > 1 ? " ⚠ saturated" : ""} |`,
    "",
  ];
  if (estimate.byReason.length) {
    out.push(
      "### By exit reason",
      "",
      "| reason | code | exits/s | cycles/exit | transition | handler | user space | share |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const r of [...estimate.byReason].sort((a, b) => b.exitsPerSecond - a.exitsPerSecond)) {
      out.push(
        `| ${r.reason} | ${r.code} | ${formatRate(r.exitsPerSecond)} | ${formatInteger(r.cyclesPerExit)} | ${formatInteger(r.transitionCycles)} | ${formatInteger(r.handlerCycles)} | ${formatInteger(r.userspaceCycles)} | ${formatPercent(r.share)} |`,
      );
    }
    out.push("");
  }
  if (estimate.paths.length) {
    out.push(
      "### By path",
      "",
      `| path | kind | runs/s per vCPU | runs/s for the guest's ${estimate.vcpus} vCPU${estimate.vcpus === 1 ? "" : "s"} | exits per run | cycles per run (guest + exits) | latency its exits add (mean · p50 · p99) |`,
      "|---|---|---:|---:|---|---:|---|",
    );
    const coalesced: string[] = [];
    for (const p of estimate.paths) {
      const exits =
        p.exits.map((e) => `${e.reason} × ${formatSignificant(e.perExecution)}`).join(", ") || "none";
      const latency = p.latency
        ? `${formatSeconds(p.latency.mean)} · ${formatSeconds(p.latency.p50)} · ${formatSeconds(p.latency.p99)}`
        : "";
      out.push(
        `| ${escapeMarkdown(p.name)} | ${p.kind} | ${formatRate(p.executionsPerSecond)}${p.ratePer === "guest" ? " (written per guest)" : ""} | ${formatRate(p.guestExecutionsPerSecond)} | ${exits} (${formatSignificant(p.exitsPerExecution)} in all) | ${formatCycles(p.cyclesPerExecution)} (${formatInteger(p.guestCyclesPerExecution)} + ${formatInteger(p.exitCyclesPerExecution)}) | ${latency} |`,
      );
      for (const c of p.coalesce ?? [])
        coalesced.push(`- ${escapeMarkdown(`${p.kind} ${p.name}: ${coalesceText(c)}`)}`);
    }
    out.push("", ...coalesced);
    if (coalesced.length) out.push("");
  }
  return out;
}

/** Estimate `guestName` under every vmcs of the file and each requested profile. */
export function compareConfigurations(
  model: DocumentModel,
  guestName: string,
  profiles: string[] = [],
): CompareResult {
  const { program } = model.analysis;
  const guest = program.guests.get(guestName);
  if (!guest)
    return { guest: guestName, rows: [], markdown: `No guest named ${codeSpan(guestName)} in this file.` };
  const targets = [program.target];
  for (const name of profiles) {
    const profile = profileByName(name);
    if (!profile || profile === program.target.profile) continue;
    targets.push(otherCpuTarget(profile));
  }
  const inBlock = (vmcs: VmcsIR) => (d: Diagnostic) =>
    d.severity === "error" && d.span.start >= vmcs.span.start && d.span.end <= vmcs.span.end;
  // On another CPU the VM-entry checks (VMX-*) are run again on that CPU; the file's other
  // errors in the block do not depend on it.
  const checksOn = new Map<TargetIR, Diagnostic[]>();
  const errorsOf = (target: TargetIR, vmcsName: string): string[] => {
    const vmcs = program.vmcs.get(vmcsName);
    if (!vmcs) return [];
    let found = model.analysis.diagnostics.filter(inBlock(vmcs));
    if (target !== program.target) {
      let checks = checksOn.get(target);
      if (checks === undefined) {
        checks = checkProgram({ ...program, target }, { text: model.analysis.text });
        checksOn.set(target, checks);
      }
      found = [...found.filter((d) => !d.code.startsWith("VMX-")), ...checks.filter(inBlock(vmcs))];
    }
    return found.map((d) => `${d.code}: ${d.message}`);
  };
  const rows: CompareRow[] = [];
  for (const target of targets) {
    for (const vmcs of program.vmcs.values()) {
      const variant: Program = {
        ...program,
        target,
        guests: new Map(program.guests).set(guestName, { ...guest, vmcs: vmcs.name }),
      };
      let estimate: GuestEstimate | undefined;
      try {
        estimate = estimateGuest(variant, guestName);
      } catch {
        estimate = undefined;
      }
      rows.push({
        vmcs: vmcs.name,
        profile: target.profile.name,
        exitsPerSecond: estimate?.exitsPerSecond ?? Number.NaN,
        overhead: estimate?.overhead ?? Number.NaN,
        hostCpu: estimate?.hostCpu ?? Number.NaN,
        topReasons: [...(estimate?.byReason ?? [])]
          .sort((a, b) => b.exitsPerSecond - a.exitsPerSecond)
          .slice(0, 3)
          .map((r) => ({
            reason: r.reason,
            exitsPerSecond: r.exitsPerSecond,
            cyclesPerExit: r.cyclesPerExit,
          })),
        errors: errorsOf(target, vmcs.name),
      });
    }
  }
  const out = [
    `# Compare configurations: guest ${escapeMarkdown(guestName)}`,
    "",
    "| vmcs | target | exits/s | overhead | host CPU | top exits |",
    "|---|---|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const top = row.topReasons.map((r) => `${r.reason} ${formatRate(r.exitsPerSecond)}`).join(", ") || "—";
    const mark =
      row.vmcs === guest.vmcs && row.profile === program.target.profile.name ? " (as written)" : "";
    out.push(
      `| ${escapeMarkdown(row.vmcs)}${mark}${row.errors.length ? " ⚠" : ""} | ${escapeMarkdown(row.profile)} | ${Number.isNaN(row.exitsPerSecond) ? "n/a" : formatRate(row.exitsPerSecond)} | ${Number.isNaN(row.overhead) ? "n/a" : formatPercent(row.overhead)} | ${Number.isNaN(row.hostCpu) ? "n/a" : formatCores(row.hostCpu)} | ${top} |`,
    );
  }
  const broken = rows.filter((r) => r.errors.length);
  if (broken.length) {
    out.push("", "⚠ Configurations with errors (VM entry would fail):");
    for (const row of broken)
      out.push(`- ${escapeMarkdown(row.vmcs)}: ${row.errors.slice(0, 3).map(escapeMarkdown).join("; ")}`);
  }
  out.push("", "_Static estimates; run a simulation for distributions._");
  return { guest: guestName, rows, markdown: out.join("\n") };
}
