/**
 * The timeline panel: the host messages, the worker (simulations and trace imports), the saved
 * state and the views around the canvas (header, legend, per-reason tables, histogram). The
 * canvas, its drawing and its pointer/keyboard interaction are timelineCanvas.ts, which this
 * class extends.
 */
import { VCPU_STATE_NAMES, VcpuState } from "../../core/src/results";
import { formatHz, formatInteger } from "../../core/src/util/format";
import type {
  ExportFormat,
  HostToPanel,
  PanelRun,
  PanelState,
  RunRequest,
  TraceFile,
} from "../../protocol/panel";
import { exportFileName, statsCsv, toChromeTraceJson } from "./export";
import type { PanelHost } from "./host";
import { drawHistogram, layoutLanes } from "./render";
import { clampView } from "./scale";
import { compareTable, el, reasonTable, summaryView } from "./statsView";
import { readPalette, watchTheme } from "./theme";
import { TimelineCanvas } from "./timelineCanvas";
import { buildIndex, latencyHistogram } from "./timelineIndex";
import { traceReasonTable, traceSubtitle } from "./traceView";
import { SimWorkerClient } from "./workerClient";

/** Histogram resolution: 4 bins per power of two (≈19 % wide). */
const HISTOGRAM_BINS_PER_OCTAVE = 4;

function isTraceFile(request: RunRequest | TraceFile): request is TraceFile {
  return "bytes" in request;
}

/** What to save so a reloaded panel can ask its host for the same runs (a trace is saved by reference). */
function stateOf(requests: (RunRequest | TraceFile)[]): Partial<PanelState> {
  const trace = requests.find(isTraceFile);
  const runs = requests.filter((r): r is RunRequest => !isTraceFile(r));
  if (trace) {
    const ref = { fileName: trace.fileName, ...(trace.uri !== undefined ? { uri: trace.uri } : {}) };
    return runs[0] ? { request: runs[0], trace: ref } : { trace: ref };
  }
  return runs.length === 2 ? { compare: { a: runs[0]!, b: runs[1]! } } : { request: runs[0]! };
}

export class TimelineApp extends TimelineCanvas {
  private histogramReason: number | undefined;
  private readonly worker: SimWorkerClient;
  /** Incremented by every simulate request; a run whose generation is stale stays silent. */
  private simulationGeneration = 0;
  private state: PanelState;

  private readonly root: HTMLElement;
  private readonly status: HTMLElement;
  private readonly header: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly details: HTMLElement;
  private readonly histogramCanvas: HTMLCanvasElement;
  private readonly histogramCaption: HTMLElement;
  private readonly buttons: Record<
    "reset" | "zoomSelection" | "exportTrace" | "exportCsv" | "cancel",
    HTMLButtonElement
  >;

  constructor(host: PanelHost, workerUrl: string | undefined, container: HTMLElement) {
    super(host);
    this.worker = new SimWorkerClient(workerUrl, host.kind === "vscode");
    this.state = host.getState() ?? {};
    const button = (label: string, title: string): HTMLButtonElement => {
      const b = el("button", { type: "button", title }, label);
      b.disabled = true;
      return b;
    };
    this.buttons = {
      reset: button("Whole run", "Show the whole run (Home)"),
      zoomSelection: this.zoomSelectionButton,
      exportTrace: button(
        "Export trace…",
        "Save the timeline as Chrome trace-event JSON (opens in Perfetto)",
      ),
      exportCsv: button("Export CSV…", "Save the per-reason statistics as CSV"),
      cancel: button("Cancel", "Stop the simulation or trace import in progress"),
    };
    this.buttons.cancel.hidden = true;
    this.status = el("div", { class: "status", role: "status" }, "Waiting for a simulation…");
    this.header = el("header", { class: "header" });
    this.legend = el("div", { class: "legend", "aria-label": "Legend" });
    this.histogramCaption = el("h3", {}, "Exit latency histogram");
    this.histogramCanvas = el("canvas", {
      class: "histogram",
      role: "img",
      "aria-label": "Exit latency histogram",
    });
    this.details = el("div", { class: "details" });
    this.root = el(
      "div",
      { class: "panel" },
      el(
        "div",
        { class: "toolbar", role: "toolbar", "aria-label": "Timeline" },
        this.buttons.reset,
        this.buttons.zoomSelection,
        this.buttons.exportTrace,
        this.buttons.exportCsv,
        this.buttons.cancel,
        this.status,
      ),
      this.header,
      this.legend,
      this.canvasWrap,
      this.live,
      this.selectionPane,
      el("section", { class: "histogram-pane" }, this.histogramCaption, this.histogramCanvas),
      this.details,
    );
    container.append(this.root);

    this.buttons.reset.addEventListener("click", () => this.resetView());
    this.buttons.exportTrace.addEventListener("click", () => this.exportAs("chrome-json"));
    this.buttons.exportCsv.addEventListener("click", () => this.exportAs("csv"));
    this.buttons.cancel.addEventListener("click", () => this.cancel());
    this.bindTraceDrop();
    watchTheme(() => {
      this.palette = readPalette();
      this.renderer.setPalette(this.palette);
      this.invalidate();
      this.drawHistogram();
    });
    host.onMessage((message) => void this.receive(message));
    const restorable = this.state.request || this.state.compare || this.state.trace;
    host.post({ type: "ready", ...(restorable ? { state: this.state } : {}) });
  }

  // ---- messages ----------------------------------------------------------------------------

  async receive(message: HostToPanel): Promise<void> {
    switch (message.type) {
      case "result":
        this.show([message.run]);
        break;
      case "compare":
        this.show([message.a, message.b]);
        break;
      case "simulate":
        await this.simulate([message.request]);
        break;
      case "compareSimulate":
        await this.simulate([message.a, message.b]);
        break;
      case "openTrace":
        await this.simulate(message.request ? [message.request, message.trace] : [message.trace]);
        break;
      case "cancel":
        this.cancel();
        break;
      case "requestExport":
        if (this.runs.length === 1) this.exportAs(message.format);
        else this.setStatus("Run a simulation first: there is nothing to export.", true);
        break;
      case "error":
        this.setStatus(message.message, true);
        break;
    }
  }

  /** Simulates the requests and imports the traces (in the worker, one after the other), then shows them. */
  private async simulate(requests: (RunRequest | TraceFile)[]): Promise<void> {
    // A newer request (a save while running, say) replaces the run in flight: stop it, and let
    // only the newest run report its status, so the host's progress follows the newest run.
    const generation = ++this.simulationGeneration;
    if (this.worker.busy) this.cancel();
    this.saveState(stateOf(requests));
    const first = requests[0]!;
    const version = "version" in first ? first.version : undefined;
    const verb = requests.some(isTraceFile) ? "Opening" : "Simulating";
    this.setStatus(`${verb} ${requests.map((r) => r.fileName).join(" and ")}…`);
    this.buttons.cancel.hidden = false;
    this.buttons.cancel.disabled = false;
    this.host.post({ type: "status", status: "running", ...(version !== undefined ? { version } : {}) });
    try {
      const runs: PanelRun[] = [];
      for (const request of requests) {
        if (!isTraceFile(request)) runs.push(await this.worker.run(request));
        else
          runs.push(
            await this.worker.importTrace(request.fileName, request.bytes, (p) => {
              if (generation !== this.simulationGeneration) return;
              const share = p.totalBytes > 0 ? p.bytes / p.totalBytes : 1;
              this.setStatus(
                `Importing ${request.fileName}… ${Math.floor(share * 100)}% (${formatInteger(p.bytes)} of ${formatInteger(p.totalBytes)} bytes, ${formatInteger(p.lines)} lines)`,
              );
              this.root.dataset.importProgress = share.toFixed(3);
            }),
          );
      }
      if (generation !== this.simulationGeneration) return;
      this.buttons.cancel.hidden = true;
      this.show(runs);
      this.host.post({
        type: "status",
        status: "done",
        exits: runs[0]!.stats.exits,
        ...(version !== undefined ? { version } : {}),
      });
    } catch (error) {
      if (generation !== this.simulationGeneration) return;
      this.buttons.cancel.hidden = true;
      const message = error instanceof Error ? error.message : String(error);
      const cancelled = message === "cancelled";
      this.setStatus(
        cancelled ? `${verb === "Opening" ? "Import" : "Simulation"} cancelled.` : message,
        !cancelled,
      );
      this.host.post({
        type: "status",
        status: cancelled ? "cancelled" : "failed",
        message,
        ...(version !== undefined ? { version } : {}),
      });
    }
  }

  /** Terminating the worker is immediate, whatever it is doing; a new one starts on the next run. */
  cancel(): void {
    this.worker.cancel();
  }

  protected saveView(view: { startNs: number; endNs: number }): void {
    this.saveState({ view });
  }

  private saveState(patch: Partial<PanelState>): void {
    const next: PanelState = { ...patch };
    if (!patch.request && !patch.compare && !patch.trace) {
      if (this.state.request) next.request = this.state.request;
      if (this.state.compare) next.compare = this.state.compare;
      if (this.state.trace) next.trace = this.state.trace;
    }
    if (!patch.view && this.state.view) next.view = this.state.view;
    this.state = next;
    this.host.setState(next);
  }

  /** A trace file dropped on the panel opens as "Open Trace" does (the playground; VS Code with Shift). */
  private bindTraceDrop(): void {
    this.root.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.root.addEventListener("drop", (event) => {
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      void file
        .arrayBuffer()
        .then((buffer) =>
          this.simulate([{ fileName: file.name || "trace.txt", bytes: new Uint8Array(buffer) }]),
        );
    });
  }

  // ---- showing results ---------------------------------------------------------------------

  show(runs: PanelRun[]): void {
    const started = performance.now();
    this.runs = runs.map((run) => ({ run, index: buildIndex(run.timeline) }));
    const compare = runs.length > 1;
    this.layout = layoutLanes(
      this.runs.map((r, i) =>
        compare ? { index: r.index, label: `${"AB"[i]}: ${r.run.title}` } : { index: r.index },
      ),
    );
    this.totalNs = Math.max(1, ...runs.map((r) => r.timeline.durationNs));
    this.assignReasonColours();
    this.selection = undefined;
    this.focus = undefined;
    this.focusedSlot = 0;
    this.histogramReason = undefined;
    const saved = this.state.view;
    this.view = clampView(
      saved && saved.endNs <= this.totalNs
        ? { ...saved, widthPx: this.view.widthPx }
        : { startNs: 0, endNs: this.totalNs, widthPx: this.view.widthPx },
      this.totalNs,
    );
    for (const b of Object.values(this.buttons)) b.disabled = false;
    this.buttons.zoomSelection.disabled = true;
    this.buttons.exportTrace.disabled = compare;
    this.buttons.exportCsv.disabled = compare;
    this.renderHeader();
    this.renderLegend();
    this.renderDetails();
    this.selectionPane.replaceChildren();
    this.drawNow();
    this.drawHistogram();
    const total = this.runs.reduce((sum, r) => sum + r.index.totalExits, 0);
    const decimated = runs.some((r) => r.timeline.decimated && !r.trace);
    const sampled = runs.some((r) => r.trace && r.trace.sampleStride > 1);
    this.setStatus(
      `${formatInteger(total)} exits drawn in ${(performance.now() - started).toFixed(0)} ms${decimated ? " (timeline decimated by the simulator; statistics use every event)" : ""}${sampled ? " (trace lanes are a bounded sample; statistics count every exit)" : ""}`,
    );
    this.root.dataset.exits = String(total);
    this.root.dataset.lanes = String(this.layout.slots.length);
  }

  private renderHeader(): void {
    if (this.runs.length === 1) {
      const { run } = this.runs[0]!;
      this.header.replaceChildren(
        el("h2", {}, run.title),
        el(
          "p",
          { class: "subtitle" },
          run.trace
            ? traceSubtitle(run)
            : `guest ${run.guest} · ${run.stats.target.profile} @ ${formatHz(run.stats.target.hz)} · ${run.stats.vcpus} vCPUs · seed ${run.stats.seed}`,
        ),
        summaryView(run),
        ...run.stats.warnings.map((w) => el("p", { class: "warning" }, w)),
      );
    } else {
      this.header.replaceChildren(
        el(
          "h2",
          {},
          this.runs.some((r) => r.run.trace) ? "Simulation beside the trace" : "Compare configurations",
        ),
        ...this.runs.map(({ run }, i) =>
          el("div", { class: "compare-run" }, el("h3", {}, `${"AB"[i]}: ${run.title}`), summaryView(run)),
        ),
      );
    }
  }

  private renderLegend(): void {
    const states = VCPU_STATE_NAMES.map((name) =>
      el(
        "span",
        { class: "legend-item" },
        el("span", { class: `swatch state-${name}`, "aria-hidden": "true" }),
        name,
      ),
    );
    const codes = [...this.reasonSlots.keys()];
    const reasons = codes.map((code) =>
      el(
        "span",
        { class: "legend-item" },
        el("span", { class: `swatch ${this.reasonClass(code)}`, "aria-hidden": "true" }),
        this.reasonName(code),
      ),
    );
    const markers = ["injection at VM entry", "interrupt arrival", "posted interrupt"].map((label, i) =>
      el(
        "span",
        { class: "legend-item" },
        el("span", { class: `marker marker-${i}`, "aria-hidden": "true" }),
        label,
      ),
    );
    // Nested runs: the level band's colours (Timeline.level).
    const levels = this.runs.some((r) => r.run.timeline.level)
      ? ["L0: transitions, L0 handlers, emulation", "L1 handler", "L2 guest"].map((label, i) =>
          el(
            "span",
            { class: "legend-item" },
            el("span", { class: `swatch level-${i}`, "aria-hidden": "true" }),
            label,
          ),
        )
      : [];
    this.legend.replaceChildren(
      el("div", { class: "legend-row" }, el("span", { class: "legend-title" }, "States"), ...states),
      ...(levels.length > 0
        ? [el("div", { class: "legend-row" }, el("span", { class: "legend-title" }, "Levels"), ...levels)]
        : []),
      el("div", { class: "legend-row" }, el("span", { class: "legend-title" }, "Exit reasons"), ...reasons),
      el("div", { class: "legend-row" }, el("span", { class: "legend-title" }, "Markers"), ...markers),
    );
  }

  private renderDetails(): void {
    if (this.runs.length === 2) {
      this.details.replaceChildren(compareTable(this.runs[0]!.run, this.runs[1]!.run));
      return;
    }
    const { run } = this.runs[0]!;
    const select = (code: number | undefined): void => this.selectHistogramReason(code);
    this.details.replaceChildren(
      run.trace
        ? traceReasonTable(run, this.reasonClass, select, this.histogramReason)
        : reasonTable(run, this.reasonClass, select, this.histogramReason),
    );
  }

  private selectHistogramReason(code: number | undefined): void {
    this.histogramReason = code;
    this.renderDetails();
    this.drawHistogram();
    const row =
      code !== undefined ? this.details.querySelector<HTMLElement>(`tr[data-code="${code}"]`) : null;
    row?.focus();
  }

  private drawHistogram(): void {
    const loaded = this.runs[0];
    if (!loaded) return;
    const code = this.histogramReason;
    const bins = latencyHistogram(loaded.index, code, HISTOGRAM_BINS_PER_OCTAVE);
    const which = this.runs.length > 1 ? `run A, ` : "";
    this.histogramCaption.textContent = `Exit latency histogram, ${which}${code !== undefined ? this.reasonName(code) : "all reasons"} (${HISTOGRAM_BINS_PER_OCTAVE} bins per power of two, from the timeline${loaded.run.timeline.decimated ? ", decimated" : ""})`;
    const colour =
      code !== undefined
        ? this.palette.reasons[this.reasonColour(code)]!
        : this.palette.states[VcpuState.Handler]!;
    drawHistogram(this.histogramCanvas, bins, HISTOGRAM_BINS_PER_OCTAVE, this.palette, colour);
  }

  // ---- export ------------------------------------------------------------------------------

  private exportAs(format: ExportFormat): void {
    const loaded = this.runs[0];
    if (!loaded) return;
    try {
      const content = format === "csv" ? statsCsv(loaded.run) : toChromeTraceJson(loaded.run);
      this.host.post({
        type: "export",
        format,
        fileName: exportFileName(loaded.run, format === "csv" ? "csv" : "trace.json"),
        content,
      });
    } catch (error) {
      this.setStatus(`Export failed: ${error instanceof Error ? error.message : String(error)}`, true);
    }
  }

  private setStatus(text: string, isError = false): void {
    this.status.textContent = text;
    this.status.classList.toggle("error", isError);
  }
}
