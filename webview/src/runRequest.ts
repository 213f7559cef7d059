/**
 * Runs one simulation request with the core (analyze → simulate) and packages the result for
 * the panel. Used by the panel's Web Worker (webview/src/simWorker.ts); no DOM, no Node APIs.
 * Defaults follow the `simulate GUEST for TIME seed N` line of the file, as `trapline simulate`.
 */
import { analyze } from "../../core/src/index";
import { simulateAsync } from "../../core/src/sim/index";
import type { PanelRun, RunRequest } from "./protocol";

/** Simulated time when neither the request nor the file's `simulate` line gives one. */
export const FALLBACK_DURATION_SEC = 0.1;

export class RunError extends Error {}

export async function runRequest(request: RunRequest, signal?: AbortSignal): Promise<PanelRun> {
  const analysis = analyze(
    request.text,
    request.defaultTarget ? { defaultTarget: request.defaultTarget } : {},
  );
  const errors = analysis.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    const first = errors[0]!;
    const at = analysis.lines.positionAt(first.span.start);
    throw new RunError(
      `${request.fileName}:${at.line + 1}:${at.character + 1}: ${first.code}: ${first.message}` +
        (errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : ""),
    );
  }
  const program = analysis.program;
  const guest = request.guest ?? program.simulates[0]?.guest ?? program.guests.keys().next().value;
  if (guest === undefined) throw new RunError(`${request.fileName} has no guest to simulate`);
  if (!program.guests.has(guest)) {
    throw new RunError(
      `${request.fileName} has no guest named ${guest} (guests: ${[...program.guests.keys()].join(", ")})`,
    );
  }
  const line = program.simulates.find((s) => s.guest === guest);
  const durationSec = request.durationSec ?? line?.durationSec ?? FALLBACK_DURATION_SEC;
  const seed = request.seed ?? line?.seed ?? 1;
  const { timeline, ...stats } = await simulateAsync(program, guest, {
    durationSec,
    seed,
    positionAt: (offset) => analysis.lines.positionAt(offset),
    ...(signal ? { signal } : {}),
  });
  const estimate = analysis.estimates.get(guest);
  return {
    title: `${request.fileName} — ${guest}`,
    guest,
    timeline,
    stats,
    ...(estimate ? { estimate } : {}),
  };
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
