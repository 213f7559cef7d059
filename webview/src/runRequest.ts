/**
 * Runs one simulation request with the core (analyze → simulate) and packages the result for
 * the panel. Used by the panel's Web Worker (webview/src/simWorker.ts); no DOM, no Node APIs.
 * Defaults follow the `simulate GUEST for TIME seed N` line of the file, as `trapline simulate`.
 */
import {
  analyze,
  analyzeProgram,
  type CpuProfile,
  compareDiagnostics,
  type Diagnostic,
  estimateData,
  otherCpuTarget,
  PROFILES,
  type Program,
  profileByName,
  type Span,
  simulateAsync,
} from "../../core/src/index";
import { BUDGET_CODE, type PanelRun, type RunRequest } from "../../protocol/panel";

/** Simulated time when neither the request nor the file's `simulate` line gives one. */
export const FALLBACK_DURATION_SEC = 0.1;

export class RunError extends Error {}

export async function runRequest(request: RunRequest, signal?: AbortSignal): Promise<PanelRun> {
  const profile = request.target !== undefined ? requestedProfile(request, request.target) : undefined;
  const options = request.defaultTarget ? { defaultTarget: request.defaultTarget } : {};
  let analysis = analyze(request.text, options);
  let guest = pickGuest(request, analysis.program);
  if (request.vmcs !== undefined) {
    analysis = onOtherVmcs(request, analysis, guest, options);
    guest = pickGuest(request, analysis.program);
  } else {
    throwOnErrors(request, analysis);
  }
  if (profile !== undefined) analysis = onOtherCpu(request, analysis, guest, profile);
  const program = analysis.program;
  const line = program.simulates.find((s) => s.guest === guest);
  const durationSec =
    request.durationSec ?? line?.durationSec ?? request.defaultDurationSec ?? FALLBACK_DURATION_SEC;
  const seed = request.seed ?? line?.seed ?? request.defaultSeed ?? 1;
  const { timeline, ...stats } = await simulateAsync(program, guest, {
    durationSec,
    seed,
    positionAt: (offset) => analysis.lines.positionAt(offset),
    ...(signal ? { signal } : {}),
  });
  const estimate = analysis.estimates.get(guest);
  const vmcs = program.guests.get(guest)?.vmcs;
  return {
    title: runTitle(request, guest, request.vmcs !== undefined ? vmcs : undefined, profile?.name),
    guest,
    timeline,
    stats,
    // Plain data: the panel receives it as JSON (VS Code) or a structured clone (playground).
    ...(estimate ? { estimate: estimateData(estimate, false) } : {}),
  };
}

/**
 * "netperf.vmcs — netperf", "posted-interrupts.vmcs (saved) — with_pi on legacy",
 * "posted-interrupts.vmcs — with_pi on legacy (sapphire_rapids)": the CPU is named when the
 * request names one (`target`), so both runs of a comparison across CPUs say which is which.
 */
export function runTitle(request: RunRequest, guest: string, vmcs?: string, cpu?: string): string {
  return `${request.fileName}${request.savedVersion ? " (saved)" : ""} — ${guest}${vmcs ? ` on ${vmcs}` : ""}${cpu ? ` (${cpu})` : ""}`;
}

function requestedProfile(request: RunRequest, name: string): CpuProfile {
  const profile = profileByName(name);
  if (profile === undefined) {
    throw new RunError(
      `${request.fileName}: there is no CPU profile named ${name} (profiles: ${PROFILES.map((p) => p.name).join(", ")})`,
    );
  }
  return profile;
}

type Analysis = ReturnType<typeof analyze>;

function throwOnErrors(request: RunRequest, analysis: Analysis, context = ""): void {
  const errors = analysis.diagnostics.filter((d) => d.severity === "error" && d.code !== BUDGET_CODE);
  if (errors.length === 0) return;
  const first = errors[0]!;
  const at = analysis.lines.positionAt(first.span.start);
  throw new RunError(
    `${request.fileName}${context}:${at.line + 1}:${at.character + 1}: ${first.code}: ${first.message}` +
      (errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : ""),
  );
}

function pickGuest(request: RunRequest, program: Analysis["program"]): string {
  const guest = request.guest ?? program.simulates[0]?.guest ?? program.guests.keys().next().value;
  if (guest === undefined) throw new RunError(`${request.fileName} has no guest to simulate`);
  if (!program.guests.has(guest)) {
    throw new RunError(
      `${request.fileName} has no guest named ${guest} (guests: ${[...program.guests.keys()].join(", ")})`,
    );
  }
  return guest;
}

/**
 * The analysis of the text with `guest … on X` rewritten to name `request.vmcs`. Rewriting the
 * reference (its span from the lowering) in a copy of the text, rather than patching the
 * Program, re-runs every check and lint on the new pairing and gives the estimate for it; the
 * rewrite stays on the guest's line, so the line numbers the timeline's sources carry still
 * match the editor.
 */
function onOtherVmcs(
  request: RunRequest,
  analysis: Analysis,
  guest: string,
  options: { defaultTarget?: string },
): Analysis {
  const vmcs = request.vmcs!;
  // Errors of the file as written come first: the user must see them as they are in the editor.
  throwOnErrors(request, analysis);
  if (!analysis.program.vmcs.has(vmcs)) {
    throw new RunError(
      `${request.fileName} has no vmcs block named ${vmcs} (blocks: ${[...analysis.program.vmcs.keys()].join(", ")})`,
    );
  }
  const declared = analysis.program.guests.get(guest)!;
  if (declared.vmcs === vmcs) return analysis;
  const { start, end } = declared.vmcsSpan;
  if (request.text.slice(start, end) !== declared.vmcs) {
    throw new RunError(`${request.fileName}: cannot find the vmcs reference of guest ${guest}`);
  }
  const text = `${request.text.slice(0, start)}${vmcs}${request.text.slice(end)}`;
  const rewritten = analyze(text, options);
  throwOnErrors(request, rewritten, ` (guest ${guest} on ${vmcs})`);
  return rewritten;
}

/**
 * The analysis on another CPU, evaluated as the language server's `trapline/compare` evaluates
 * its rows for other CPUs (both through core's `otherCpuTarget`), so the simulation and its
 * estimate match the row the run was started from: the program as lowered from the file (times
 * are cycles at the file's clock) with the profile as its target. The VM-entry checks, estimates
 * and lints run again on it (`analyzeProgram`: an
 * unsupported control is VMX-CAP1, a reason that now exits without a handler TL310), except
 * that errors inside the other vmcs blocks and other guests do not stop this guest's run (the
 * file as written passed every check; an older CPU may lack a control only another block
 * uses). Checks made while lowering (an EPT range past the CPU's physical-address width,
 * VMWRITE to a read-only field) stay the file's target's. The file's own profile is the file
 * as written.
 */
function onOtherCpu(request: RunRequest, analysis: Analysis, guest: string, profile: CpuProfile): Analysis {
  if (profile === analysis.program.target.profile) return analysis;
  const program: Program = { ...analysis.program, target: otherCpuTarget(profile) };
  const analysed = analyzeProgram(program, request.text);
  const diagnostics = analysed.diagnostics.sort(compareDiagnostics);
  const onCpu: Analysis = { ...analysis, program, diagnostics, estimates: analysed.estimates };
  const own = program.guests.get(guest)!;
  const elsewhere = [
    ...[...program.vmcs.values()].filter((v) => v.name !== own.vmcs).map((v) => v.span),
    ...[...program.guests.values()].filter((g) => g !== own).map((g) => g.span),
  ];
  const inside = (d: Diagnostic, s: Span) => d.span.start >= s.start && d.span.end <= s.end;
  const guestOn = request.vmcs !== undefined ? `guest ${guest} on ${request.vmcs}, ` : "";
  throwOnErrors(
    request,
    { ...onCpu, diagnostics: diagnostics.filter((d) => !elsewhere.some((s) => inside(d, s))) },
    ` (${guestOn}target ${profile.name})`,
  );
  return onCpu;
}

/** The buffers of a run's timeline, to transfer (not copy) across postMessage. */
export function timelineTransferables(run: PanelRun): ArrayBuffer[] {
  const t = run.timeline;
  const buffers = [
    t.start,
    t.duration,
    t.vcpu,
    t.state,
    t.reason,
    t.source,
    t.markers.time,
    t.markers.vcpu,
    t.markers.kind,
    t.markers.vector,
  ].map((a) => a.buffer as ArrayBuffer);
  return [...new Set(buffers)];
}
