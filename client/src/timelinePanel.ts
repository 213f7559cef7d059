/**
 * The VS Code side of the "Trapline Timeline" panel: one webview panel per file (reused),
 * restored after a window reload, re-run on save, with a cancellable progress notification.
 *
 * Where the simulation runs: in the panel page's Web Worker (dist/webview/sim-worker.js), not in
 * the extension host. A timeline of a million exits is ~100 MB of typed arrays; produced in the
 * webview it never crosses the extension-host ↔ renderer connection (a WebSocket in remote and
 * web setups), the extension host (shared with every other extension and the language client)
 * is never busy, and the browser playground runs the very same worker. The host keeps only the
 * request (document text + options); a panel recreated after being hidden or after a reload
 * re-requests the run with its saved state. See docs/timeline.md.
 *
 * Traces ("Trapline: Open Trace"): the host reads the file's bytes (vscode.workspace.fs, which
 * has no streaming read, hence TRACE_MAX_BYTES) and posts them to the page as a typed array; the
 * page's worker imports them in chunks with the core's TraceImporter, with progress in the panel
 * and cancellation (the notification's or the panel's Cancel). A restored panel reads the file
 * again from the URI its page saved.
 *
 * Settings read: `trapline.simulation.rerunOnSave` (boolean, default true),
 * `trapline.simulation.defaultDurationMs` and `trapline.simulation.defaultSeed` (used when the
 * file has no `simulate` line for the guest) and `trapline.defaultTarget` (passed to the
 * analysis like the language server does).
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type {
  ExportFormat,
  HostToPanel,
  PanelState,
  PanelToHost,
  RevealTarget,
  RunRequest,
  TraceFile,
} from "../../protocol/panel";
import { webviewPage } from "./webviewPage";

export const TIMELINE_VIEW_TYPE = "trapline.timeline";
export const RERUN_ON_SAVE_SETTING = "trapline.simulation.rerunOnSave";

export interface TimelineRunOptions {
  guest?: string;
  durationSec?: number;
  seed?: number;
  /** Run the guest on this vmcs block instead of its own (Compare Configurations). */
  vmcs?: string;
  /** Simulate the file's last saved text instead of the editor's (Compare: saved ↔ unsaved). */
  savedVersion?: boolean;
  /** Run on this CPU profile instead of the file's target (Compare: another CPU; RunRequest.target). */
  target?: string;
}

interface RunSpec {
  uri: vscode.Uri;
  options: TimelineRunOptions;
  /** The file is a KVM trace to import, not a .vmcs file to simulate. */
  trace?: boolean;
}

/**
 * The largest trace the host reads into memory to hand to the panel (vscode.workspace.fs reads
 * whole files). Larger traces are for `trapline trace`, which streams from disk.
 */
export const TRACE_MAX_BYTES = 512 * 1024 * 1024;

interface PanelEntry {
  key: string;
  panel: vscode.WebviewPanel;
  runs: RunSpec[];
  /** Resolves the progress notification of the run in flight. */
  finishProgress?: () => void;
  /** Set when the page has loaded and can take messages. */
  ready: boolean;
  /** An export asked for before the panel had a result. */
  pendingExport?: ExportFormat;
  /** The page reported `running` and not yet its end. */
  running: boolean;
}

/** The identity of a panel: one per file, one per compared pair. */
function panelKey(runs: readonly RunSpec[]): string {
  if (runs.length === 1) return `${runs[0]!.trace ? "trace:" : ""}${runs[0]!.uri.toString()}`;
  return `compare:${runs
    .map(
      (r) =>
        `${r.trace ? "trace:" : ""}${r.uri.toString()}|${r.options.guest ?? ""}|${r.options.vmcs ?? ""}|${r.options.savedVersion ? "saved" : ""}|${r.options.target ?? ""}`,
    )
    .join("||")}`;
}

/** "with_pi on apicv", "with_pi (saved)", "with_pi (haswell)", "kvm-default.vmcs". */
function runLabel(spec: RunSpec): string {
  if (spec.trace) return `${basename(spec.uri)} (measured)`;
  const guest = spec.options.guest ?? basename(spec.uri);
  return `${guest}${spec.options.vmcs ? ` on ${spec.options.vmcs}` : ""}${spec.options.savedVersion ? " (saved)" : ""}${spec.options.target ? ` (${spec.options.target})` : ""}`;
}

export class TimelinePanels implements vscode.Disposable {
  private readonly entries = new Map<string, PanelEntry>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.disposables.push(
      vscode.window.registerWebviewPanelSerializer(TIMELINE_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) =>
          this.restore(panel, state as PanelState | undefined),
      }),
      vscode.workspace.onDidSaveTextDocument((document) => this.onSave(document)),
    );
  }

  /** Shows (or reuses) the panel of `document` and simulates it. */
  async show(document: vscode.TextDocument, options: TimelineRunOptions = {}): Promise<void> {
    const key = document.uri.toString();
    const entry = this.entries.get(key) ?? this.create(key, `Trapline Timeline: ${basename(document.uri)}`);
    entry.runs = [{ uri: document.uri, options }];
    entry.panel.reveal(undefined, true);
    if (entry.ready) await this.run(entry);
  }

  /** "Compare Configurations": two runs in one panel with aligned timelines. */
  async compare(
    a: { document: vscode.TextDocument; options?: TimelineRunOptions },
    b: { document: vscode.TextDocument; options?: TimelineRunOptions },
  ): Promise<void> {
    const runs: RunSpec[] = [
      { uri: a.document.uri, options: a.options ?? {} },
      { uri: b.document.uri, options: b.options ?? {} },
    ];
    const key = panelKey(runs);
    const files =
      a.document.uri.toString() === b.document.uri.toString()
        ? basename(a.document.uri)
        : `${basename(a.document.uri)} ↔ ${basename(b.document.uri)}`;
    const entry =
      this.entries.get(key) ??
      this.create(key, `Trapline Compare: ${files}: ${runLabel(runs[0]!)} ↔ ${runLabel(runs[1]!)}`);
    entry.runs = runs;
    entry.panel.reveal(undefined, true);
    if (entry.ready) await this.run(entry);
  }

  /**
   * "Open Trace": shows (or reuses) the panel of the trace file; with `compareWith`, one panel
   * with that simulation (A) beside the trace (B) on aligned lanes.
   */
  async openTrace(
    trace: vscode.Uri,
    compareWith?: { uri: vscode.Uri; options: TimelineRunOptions },
  ): Promise<void> {
    const traceSpec: RunSpec = { uri: trace, options: {}, trace: true };
    const runs: RunSpec[] = compareWith ? [{ ...compareWith }, traceSpec] : [traceSpec];
    const key = panelKey(runs);
    const title = compareWith
      ? `Trapline Compare: ${runLabel(runs[0]!)} ↔ ${basename(trace)} (measured)`
      : `Trapline Trace: ${basename(trace)}`;
    const entry = this.entries.get(key) ?? this.create(key, title);
    entry.runs = runs;
    entry.panel.reveal(undefined, true);
    if (entry.ready) await this.run(entry);
  }

  /**
   * The simulation shown in the active (else the only visible) single-simulation panel, which
   * "Open Trace" offers to compare the trace with.
   */
  shownSimulation(): { uri: vscode.Uri; options: TimelineRunOptions; label: string } | undefined {
    const single = [...this.entries.values()].filter(
      (e) => e.panel.visible && e.runs.length === 1 && !e.runs[0]!.trace,
    );
    const entry = single.find((e) => e.panel.active) ?? (single.length === 1 ? single[0] : undefined);
    const spec = entry?.runs[0];
    return spec ? { uri: spec.uri, options: spec.options, label: runLabel(spec) } : undefined;
  }

  /** Asks the panel of `document` (opened and simulated if needed) to export. */
  async exportFrom(document: vscode.TextDocument, format: ExportFormat): Promise<void> {
    const entry = this.entries.get(document.uri.toString());
    if (!entry) {
      // Simulate first; the export follows when the run is done.
      await this.show(document);
      const created = this.entries.get(document.uri.toString());
      if (created) created.pendingExport = format;
      return;
    }
    entry.panel.reveal(undefined, true);
    // A hidden panel has no page until it is shown again (then it re-runs), and a running page
    // has nothing to export yet: either way the export follows the run's `done`.
    if (!entry.ready || entry.running || !entry.panel.visible) entry.pendingExport = format;
    else this.post(entry, { type: "requestExport", format });
  }

  dispose(): void {
    for (const entry of this.entries.values()) entry.panel.dispose();
    for (const d of this.disposables) d.dispose();
  }

  // ---- panels ------------------------------------------------------------------------------

  private webviewRoot(): vscode.Uri {
    return vscode.Uri.joinPath(this.context.extensionUri, "dist", "webview");
  }

  private create(key: string, title: string): PanelEntry {
    const panel = vscode.window.createWebviewPanel(
      TIMELINE_VIEW_TYPE,
      title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      // No retainContextWhenHidden: the page saves its state and re-requests the run instead.
      { enableScripts: true, localResourceRoots: [this.webviewRoot()] },
    );
    return this.attach(key, panel);
  }

  private attach(key: string, panel: vscode.WebviewPanel): PanelEntry {
    const entry: PanelEntry = { key, panel, runs: [], ready: false, running: false };
    this.entries.set(key, entry);
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((message: PanelToHost) => void this.receive(entry, message));
    // A hidden panel's page is destroyed (no retainContextWhenHidden); the new page posts `ready`.
    panel.onDidChangeViewState(() => {
      if (!panel.visible) {
        entry.ready = false;
        entry.running = false;
        entry.finishProgress?.();
        entry.finishProgress = undefined;
      }
    });
    panel.onDidDispose(() => {
      entry.finishProgress?.();
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry;
  }

  private async restore(panel: vscode.WebviewPanel, state: PanelState | undefined): Promise<void> {
    panel.webview.options = { enableScripts: true, localResourceRoots: [this.webviewRoot()] };
    const requests = state?.compare
      ? [state.compare.a, state.compare.b]
      : state?.request
        ? [state.request]
        : [];
    const simulations: RunSpec[] = requests
      .filter((r): r is RunRequest & { uri: string } => typeof r.uri === "string")
      .map((r) => ({
        uri: vscode.Uri.parse(r.uri),
        options: {
          ...(r.guest !== undefined ? { guest: r.guest } : {}),
          ...(r.durationSec !== undefined ? { durationSec: r.durationSec } : {}),
          ...(r.seed !== undefined ? { seed: r.seed } : {}),
          ...(r.vmcs !== undefined ? { vmcs: r.vmcs } : {}),
          ...(r.savedVersion ? { savedVersion: true } : {}),
          ...(r.target !== undefined ? { target: r.target } : {}),
        },
      }));
    // A trace restores from the URI its page saved; with a request too, as the comparison.
    const trace = state?.trace?.uri;
    const runs: RunSpec[] = trace
      ? [...simulations.slice(0, 1), { uri: vscode.Uri.parse(trace), options: {}, trace: true }]
      : simulations;
    const key = runs.length > 0 ? panelKey(runs) : `restored:${Date.now()}`;
    this.entries.get(key)?.panel.dispose();
    const entry = this.attach(key, panel);
    entry.runs = runs;
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(18).toString("base64");
    const root = this.webviewRoot();
    const script = webview.asWebviewUri(vscode.Uri.joinPath(root, "timeline.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(root, "timeline.css"));
    const worker = webview.asWebviewUri(vscode.Uri.joinPath(root, "sim-worker.js"));
    const source = webview.cspSource;
    // The worker script is fetched (connect-src) and started from a blob: URL (worker-src),
    // because a webview resource has another origin than the page.
    const csp = [
      "default-src 'none'",
      `style-src ${source}`,
      `img-src ${source}`,
      `font-src ${source}`,
      `script-src 'nonce-${nonce}'`,
      `connect-src ${source}`,
      "worker-src blob:",
    ].join("; ");
    return webviewPage({
      csp,
      style: String(style),
      script: String(script),
      nonce,
      title: "Trapline Timeline",
      main: `id="trapline-timeline" data-sim-worker="${worker}"`,
    });
  }

  // ---- messages ----------------------------------------------------------------------------

  private post(entry: PanelEntry, message: HostToPanel): void {
    void entry.panel.webview.postMessage(message);
  }

  private async receive(entry: PanelEntry, message: PanelToHost): Promise<void> {
    switch (message.type) {
      case "ready":
        entry.ready = true;
        // A fresh page (first load, shown again after being hidden, or after a reload) has no
        // timeline: run the current text of its file(s).
        if (entry.runs.length > 0) await this.run(entry);
        break;
      case "reveal":
        await this.reveal(entry, message.target);
        break;
      case "export":
        await this.saveExport(entry, message.format, message.fileName, message.content);
        break;
      case "status":
        entry.running = message.status === "running";
        if (message.status === "running") this.startProgress(entry);
        else {
          entry.finishProgress?.();
          entry.finishProgress = undefined;
          if (message.status === "done" && entry.pendingExport) {
            this.post(entry, { type: "requestExport", format: entry.pendingExport });
            entry.pendingExport = undefined;
          }
          if (message.status === "failed") {
            vscode.window.showErrorMessage(
              `Trapline ${entry.runs.some((r) => r.trace) ? "trace import" : "simulation"} failed: ${message.message ?? "unknown error"}`,
            );
          }
        }
        break;
    }
  }

  private async traceFile(spec: RunSpec): Promise<TraceFile> {
    const size = (await vscode.workspace.fs.stat(spec.uri)).size;
    if (size > TRACE_MAX_BYTES) {
      throw new Error(
        `${basename(spec.uri)} is ${(size / 2 ** 20).toFixed(0)} MiB; the panel reads traces up to ${TRACE_MAX_BYTES / 2 ** 20} MiB. \`trapline trace\` streams larger ones from disk.`,
      );
    }
    const read = await vscode.workspace.fs.readFile(spec.uri);
    // A plain Uint8Array over its own buffer: in a Node extension host readFile may return a
    // Node Buffer, which webview.postMessage does not transfer as a typed array (VS Code's
    // serializer tells views apart by `constructor.name`; a Buffer goes through JSON as
    // `{type: "Buffer", data: [...]}` and the panel got no bytes: "t.slice is not a function").
    const bytes = read.constructor === Uint8Array ? read : new Uint8Array(read);
    return { fileName: basename(spec.uri), uri: spec.uri.toString(), bytes };
  }

  private async request(spec: RunSpec): Promise<RunRequest> {
    const document = await vscode.workspace.openTextDocument(spec.uri);
    const settings = vscode.workspace.getConfiguration("trapline", spec.uri);
    const defaultTarget = settings.get<string>("defaultTarget");
    const durationMs = settings.get<number>("simulation.defaultDurationMs");
    const seed = settings.get<number>("simulation.defaultSeed");
    const text = spec.options.savedVersion
      ? new TextDecoder().decode(await vscode.workspace.fs.readFile(spec.uri))
      : document.getText();
    return {
      text,
      fileName: basename(spec.uri),
      uri: spec.uri.toString(),
      version: document.version,
      ...(spec.options.guest !== undefined ? { guest: spec.options.guest } : {}),
      ...(spec.options.durationSec !== undefined ? { durationSec: spec.options.durationSec } : {}),
      ...(spec.options.seed !== undefined ? { seed: spec.options.seed } : {}),
      ...(spec.options.vmcs !== undefined ? { vmcs: spec.options.vmcs } : {}),
      ...(spec.options.savedVersion ? { savedVersion: true } : {}),
      ...(spec.options.target !== undefined ? { target: spec.options.target } : {}),
      ...(defaultTarget ? { defaultTarget } : {}),
      ...(typeof durationMs === "number" && durationMs > 0 ? { defaultDurationSec: durationMs / 1000 } : {}),
      ...(typeof seed === "number" && Number.isInteger(seed) ? { defaultSeed: seed } : {}),
    };
  }

  private async run(entry: PanelEntry): Promise<void> {
    const traceSpec = entry.runs.find((r) => r.trace);
    if (traceSpec) {
      try {
        const simulation = entry.runs.find((r) => !r.trace);
        const request = simulation ? await this.request(simulation) : undefined;
        const trace = await this.traceFile(traceSpec);
        this.post(entry, { type: "openTrace", trace, ...(request ? { request } : {}) });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.post(entry, { type: "error", message: `Cannot read the trace: ${message}` });
        void vscode.window.showErrorMessage(`Trapline Open Trace: ${message}`);
      }
      return;
    }
    try {
      const requests = await Promise.all(entry.runs.map((spec) => this.request(spec)));
      if (requests.length === 2)
        this.post(entry, { type: "compareSimulate", a: requests[0]!, b: requests[1]! });
      else if (requests.length === 1) this.post(entry, { type: "simulate", request: requests[0]! });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.post(entry, { type: "error", message: `Cannot read the file to simulate: ${message}` });
    }
  }

  private startProgress(entry: PanelEntry): void {
    entry.finishProgress?.();
    // The resolver exists before withProgress calls back (which it may do later), so a run
    // that is done before the notification's task starts still ends it.
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    entry.finishProgress = finish;
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Trapline: ${entry.runs.some((r) => r.trace) ? "opening" : "simulating"} ${entry.runs.length > 1 ? entry.runs.map(runLabel).join(" and ") : basename(entry.runs[0]?.uri ?? vscode.Uri.file("file"))}`,
        cancellable: true,
      },
      (_progress, token) => {
        token.onCancellationRequested(() => {
          // Only the run this notification belongs to.
          if (entry.finishProgress !== finish) return;
          this.post(entry, { type: "cancel" });
          finish();
          entry.finishProgress = undefined;
        });
        return finished;
      },
    );
  }

  private onSave(document: vscode.TextDocument): void {
    if (!vscode.workspace.getConfiguration().get<boolean>(RERUN_ON_SAVE_SETTING, true)) return;
    const uri = document.uri.toString();
    for (const entry of this.entries.values()) {
      // A hidden panel has no page; it re-runs when shown again (its page posts "ready").
      if (!entry.ready || !entry.panel.visible) continue;
      if (entry.runs.some((r) => r.uri.toString() === uri)) void this.run(entry);
    }
  }

  private async reveal(entry: PanelEntry, target: RevealTarget): Promise<void> {
    // The page does not know which of a compare panel's files the exit came from when both are
    // the same file; the first run whose file is open wins, which is right for one-file panels.
    const spec = entry.runs[0];
    if (!spec || spec.trace) return;
    const document = await vscode.workspace.openTextDocument(spec.uri);
    const line = Math.min(target.line, Math.max(0, document.lineCount - 1));
    const start = new vscode.Position(line, target.character);
    const length = target.start !== undefined && target.end !== undefined ? target.end - target.start : 0;
    const end = document.validatePosition(start.translate(0, Math.max(0, length)));
    const editor = await vscode.window.showTextDocument(document, {
      viewColumn: vscode.ViewColumn.One,
      selection: new vscode.Range(start, end),
      preserveFocus: false,
    });
    editor.revealRange(new vscode.Range(start, end), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private async saveExport(
    entry: PanelEntry,
    format: ExportFormat,
    fileName: string,
    content: string,
  ): Promise<void> {
    const near = entry.runs[0]?.uri;
    const defaultUri = near ? vscode.Uri.joinPath(near, "..", fileName) : undefined;
    const target = await vscode.window.showSaveDialog({
      ...(defaultUri ? { defaultUri } : {}),
      filters: format === "csv" ? { CSV: ["csv"] } : { "Chrome trace JSON": ["json"] },
      title:
        format === "csv"
          ? "Save exit statistics as CSV"
          : "Save the trace (opens in Perfetto or chrome://tracing)",
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(content));
    const choice = await vscode.window.showInformationMessage(`Trapline: saved ${basename(target)}.`, "Open");
    if (choice === "Open") await vscode.window.showTextDocument(target);
  }
}

function basename(uri: vscode.Uri): string {
  const path = uri.path;
  return path.slice(path.lastIndexOf("/") + 1) || path;
}

let shared: TimelinePanels | undefined;

/**
 * The panels of this extension, created (with the serializer and the save listener) on first
 * use; call from `activate` so panels restore after a window reload.
 */
export function registerTimelinePanels(context: vscode.ExtensionContext): TimelinePanels {
  if (!shared) {
    shared = new TimelinePanels(context);
    context.subscriptions.push(shared, { dispose: () => (shared = undefined) });
  }
  return shared;
}

/** Shows the "Trapline Timeline" panel of `document` and simulates it. */
export function showTimeline(
  context: vscode.ExtensionContext,
  document: vscode.TextDocument,
  options: TimelineRunOptions = {},
): Promise<void> {
  return registerTimelinePanels(context).show(document, options);
}
