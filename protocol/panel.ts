/**
 * The message protocol between the timeline panel page and its host (the VS Code extension or
 * the browser playground). The page knows nothing else about its host: everything crosses as
 * these messages. Timelines travel as typed arrays (structured clone), never as JSON numbers.
 *
 * It lives in protocol/, not in webview/src, because both ends import it: the page
 * (webview/src), the extension's panel host (client/src/timelinePanel.ts) and the playground
 * (playground/src/panelFrame.ts). The client may not import the page's sources, nor the page
 * the client's; a wire contract both sides share is neither's (docs/ARCHITECTURE.md).
 */
import type { GuestEstimate, SimulationResult, Timeline } from "../core/src/results";

/**
 * The statistics of one simulation exactly as `simulate` returned them (the fields
 * `trapline simulate --json` prints), without the timeline, which travels separately.
 */
export type RunStats = Omit<SimulationResult, "timeline">;

/** One simulated run as the panel draws it. */
export interface PanelRun {
  /** What the panel header calls it ("netperf.vmcs — netperf"). */
  title: string;
  guest: string;
  timeline: Timeline;
  stats: RunStats;
  /** The static estimate of the same guest, shown beside the simulated figures (plain data). */
  estimate?: Omit<GuestEstimate, "operations">;
  /** Exit-reason names by basic reason number, for reasons the stats do not list. */
  reasonNames?: Record<number, string>;
  /** Present when the run is an imported trace, not a simulation (docs/timeline.md "Traces"). */
  trace?: TraceInfo;
}

/** What the panel says about an imported trace beside its lanes and statistics. */
export interface TraceInfo {
  /** The importer's format name ("trace-cmd", "ftrace", …). */
  format: string;
  /** "events" (lanes drawn), "report" or "counters" (statistics only). */
  kind: string;
  /** The trace's own clock, seconds: where its window starts and ends. */
  window?: { startSec: number; endSec: number };
  /** 1 when every paired exit is drawn; N when the lanes are a bounded sample of every N-th. */
  sampleStride: number;
  drawnExits: number;
  lines: number;
  badLines: number;
}

/**
 * A trace file for the panel to import (in its worker, in chunks: docs/timeline.md "Traces").
 * The bytes cross as a typed array (structured clone / transfer), never as a string.
 */
export interface TraceFile {
  fileName: string;
  /** The file's URI in the host, so a restored panel can read it again (VS Code). */
  uri?: string;
  bytes: Uint8Array;
}

/** What a restored panel needs to open a trace again (no bytes: the host reads the file). */
export interface TraceRef {
  fileName: string;
  uri?: string;
}

/** What to simulate; the panel runs it in its worker (see docs/timeline.md). */
export interface RunRequest {
  /** Document text. */
  text: string;
  /** Shown in titles and export file names. */
  fileName: string;
  /** The document's URI in the host, so a restored panel can re-run it (VS Code). */
  uri?: string;
  guest?: string;
  durationSec?: number;
  seed?: number;
  /** Host's document version, echoed in status messages so stale runs can be ignored. */
  version?: number;
  defaultTarget?: string;
  /**
   * Run the guest on this `vmcs` block instead of the one its `guest … on X` line names
   * (Compare Configurations). The page substitutes the reference in a copy of the text and
   * analyses that copy, so every check of the new pairing applies.
   */
  vmcs?: string;
  /**
   * Run on this CPU profile (by name) instead of the file's target (Compare Configurations,
   * other CPUs). As the language server's `trapline/compare` rows estimate another CPU: the
   * program as the file lowers it (its times already cycles at the file's clock), with the
   * profile's capability MSRs and costs at its default clock, without the file's `@` frequency
   * and `msr`/`cost` overrides; the VM-entry checks and lints run again on it. The file's own
   * profile runs the file as written. Applied after `vmcs`.
   */
  target?: string;
  /** Duration and seed when neither the request nor the file's `simulate` line gives them (settings). */
  defaultDurationSec?: number;
  defaultSeed?: number;
  /** The text is the file's last saved version, not the editor's (Compare: saved ↔ unsaved). */
  savedVersion?: boolean;
}

export type HostToPanel =
  | { type: "result"; run: PanelRun }
  | { type: "compare"; a: PanelRun; b: PanelRun }
  | { type: "simulate"; request: RunRequest }
  | { type: "compareSimulate"; a: RunRequest; b: RunRequest }
  /**
   * Import a trace and show it; with `request`, simulate that too and compare them (A: the
   * simulation, B: the trace) on aligned lanes.
   */
  | { type: "openTrace"; trace: TraceFile; request?: RunRequest }
  /** Stop the running simulation (the host's progress notification was cancelled). */
  | { type: "cancel" }
  /** Ask the page to build an export and post it back as an `export` message. */
  | { type: "requestExport"; format: ExportFormat }
  | { type: "error"; message: string };

/** A source location to reveal: a guest operation or a handler. */
export interface RevealTarget {
  line: number;
  character: number;
  /** UTF-16 offsets of the token, when known. */
  start?: number;
  end?: number;
  label?: string;
}

export type ExportFormat = "chrome-json" | "csv";

export type RunStatus = "running" | "done" | "cancelled" | "failed";

export type PanelToHost =
  /** The page is loaded; `state` is what it saved before a reload (the host re-runs it). */
  | { type: "ready"; state?: PanelState }
  | { type: "reveal"; target: RevealTarget }
  /** Save `content` (built by the page, which holds the timeline) under a suggested name. */
  | { type: "export"; format: ExportFormat; fileName: string; content: string }
  | { type: "status"; status: RunStatus; message?: string; version?: number; exits?: number };

/** Persisted with the webview state API: enough to re-request the run after a reload. */
export interface PanelState {
  request?: RunRequest;
  compare?: { a: RunRequest; b: RunRequest };
  /** An imported trace; with `request` too, the panel compares the simulation with it. */
  trace?: TraceRef;
  /** Visible range in ns. */
  view?: { startNs: number; endNs: number };
}

/**
 * A budget the static estimate violates (`expect`, TL401) is an error of the file but does not
 * stop a simulation, as in `trapline simulate`: simulating is how one sees the violation.
 */
export const BUDGET_CODE = "TL401";

/** Worker protocol (webview/src/simWorker.ts). */
export type ToSimWorker =
  | { type: "run"; id: number; request: RunRequest }
  /** Import a trace; the worker owns the bytes (transferred). */
  | { type: "importTrace"; id: number; fileName: string; bytes: Uint8Array };
export type FromSimWorker =
  | { type: "done"; id: number; run: PanelRun }
  /** Import progress: bytes decoded of the total. */
  | { type: "progress"; id: number; bytes: number; totalBytes: number; lines: number }
  | { type: "failed"; id: number; message: string };

export function isHostToPanel(value: unknown): value is HostToPanel {
  if (typeof value !== "object" || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (
    type === "result" ||
    type === "compare" ||
    type === "simulate" ||
    type === "compareSimulate" ||
    type === "openTrace" ||
    type === "cancel" ||
    type === "requestExport" ||
    type === "error"
  );
}
