/**
 * The messages between the sweep panel page (webview/src/sweepPage.ts) and its host (the
 * extension's "Trapline: Run Sweep", client/src/sweepPanel.ts; later the playground). The host
 * sends the file's text and the sweep as the user typed it (`--sweep` syntax, docs/estimator.md
 * "Sweeps"); the page runs the static estimates itself and draws them.
 */

/** What to sweep: the CLI's `estimate FILE [--guest G] --sweep SPEC [--target CPUS]`. */
export interface SweepPanelRequest {
  text: string;
  fileName: string;
  guest?: string;
  /** `NAME=FROM..TO[:STEPS][:log]` or `NAME=A,B,…`. */
  sweep: string;
  /** `CPU[,CPU…]`: one line per CPU; absent: the file's target. */
  targets?: string;
}

export type HostToSweepPanel = { type: "sweep"; request: SweepPanelRequest };

export type SweepPanelToHost =
  | { type: "ready" }
  /** Drawn: how many points, how many of them invalid (the VMCS fails its checks there). */
  | { type: "done"; points: number; invalid: number; violated: number }
  /** The request could not run (a bad name or value, errors in the file): one line to show. */
  | { type: "failed"; message: string };

export function isHostToSweepPanel(value: unknown): value is HostToSweepPanel {
  const v = value as { type?: unknown; request?: { text?: unknown; sweep?: unknown } } | null;
  return (
    typeof v === "object" &&
    v !== null &&
    v.type === "sweep" &&
    typeof v.request?.text === "string" &&
    typeof v.request?.sweep === "string"
  );
}
