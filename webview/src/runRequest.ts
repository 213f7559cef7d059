/**
 * Runs one simulation request with the core (analyze → simulate) and packages the result for
 * the panel. Used by the panel's Web Worker (webview/src/simWorker.ts); no DOM, no Node APIs.
 * Defaults follow the `simulate GUEST for TIME seed N` line of the file, as `trapline simulate`.
 */
import { analyze, estimateData } from "../../core/src/index";
import { simulateAsync } from "../../core/src/sim/index";
import { BUDGET_CODE, type PanelRun, type RunRequest } from "./protocol";

/** Simulated time when neither the request nor the file's `simulate` line gives one. */
export const FALLBACK_DURATION_SEC = 0.1;

export class RunError extends Error {}

export async function runRequest(request: RunRequest, signal?: AbortSignal): Promise<PanelRun> {
  const options = request.defaultTarget ? { defaultTarget: request.defaultTarget } : {};
  let analysis = analyze(request.text, options);
  let guest = pickGuest(request, analysis.program);
  if (request.vmcs !== undefined) {
    analysis = onOtherVmcs(request, analysis, guest, options);
    guest = pickGuest(request, analysis.program);
  } else {
    throwOnErrors(request, analysis);
  }
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
    title: runTitle(request, guest, request.vmcs !== undefined ? vmcs : undefined),
    guest,
    timeline,
    stats,
    // Plain data: the panel receives it as JSON (VS Code) or a structured clone (playground).
    ...(estimate ? { estimate: estimateData(estimate, false) } : {}),
  };
}

/** "netperf.vmcs — netperf", "posted-interrupts.vmcs (saved) — with_pi on legacy". */
export function runTitle(request: RunRequest, guest: string, vmcs?: string): string {
  return `${request.fileName}${request.savedVersion ? " (saved)" : ""} — ${guest}${vmcs ? ` on ${vmcs}` : ""}`;
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
