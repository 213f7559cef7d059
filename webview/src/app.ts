/**
 * The timeline panel: wires the host messages, the simulation worker, the canvas renderer, the
 * statistics view and the pointer/keyboard interaction together.
 *
 * Interaction: wheel zooms at the pointer (shift+wheel or a horizontal wheel pans); dragging
 * selects a time range (its statistics appear below; double-click or Z zooms to it); a click on
 * an exit asks the host to reveal its guest operation or handler. Keyboard (the timeline has
 * focus): + / − zoom, ← / → pan, Home shows the whole run, ↑ / ↓ pick a vCPU, N / P move to the
 * next / previous exit on it, Enter reveals that exit, Z zooms to the selection, Esc clears.
 */
import { VCPU_STATE_NAMES, VcpuState } from "../../core/src/results";
import { formatHz, formatInteger, formatNanoseconds } from "../../core/src/util/format";
import type {
  ExportFormat,
  HostToPanel,
  PanelRun,
  PanelState,
  RevealTarget,
  RunRequest,
  TraceFile,
} from "../../protocol/panel";
import { exportFileName, statsCsv, toChromeTraceJson } from "./export";
import type { PanelHost } from "./host";
import {
  drawHistogram,
  type FrameState,
  LABEL_WIDTH,
  type LaneSlot,
  type Layout,
  layoutLanes,
  slotAtY,
  TimelineRenderer,
} from "./render";
import { clampView, nsToCycles, panBy, type Viewport, xToTime, zoomAt } from "./scale";
import { compareTable, el, reasonTable, selectionView, summaryView } from "./statsView";
import { type Palette, REASON_COLOURS, readPalette, watchTheme } from "./theme";
import {
  buildIndex,
  type Hit,
  hitTest,
  latencyHistogram,
  neighbourExit,
  rangeStats,
  type TimelineIndex,
} from "./timelineIndex";
import { traceReasonTable, traceSubtitle } from "./traceView";
import { SimWorkerClient } from "./workerClient";

interface LoadedRun {
  run: PanelRun;
  index: TimelineIndex;
}

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

/** Pointer travel (CSS px) below which a press is a click, not a drag. */
const CLICK_SLOP_PX = 3;
/** Histogram resolution: 4 bins per power of two (≈19 % wide). */
const HISTOGRAM_BINS_PER_OCTAVE = 4;
/** Hover slop: exits within this many CSS px of the pointer are picked. */
const HOVER_SLOP_PX = 4;

export class TimelineApp {
  private runs: LoadedRun[] = [];
  private layout: Layout = { slots: [], headers: [], height: 0 };
  private view: Viewport = { startNs: 0, endNs: 1, widthPx: 1 };
  private totalNs = 1;
  private selection: { startNs: number; endNs: number } | undefined;
  private focus: { slot: LaneSlot; exit: number } | undefined;
  private focusedSlot = 0;
  private histogramReason: number | undefined;
  private reasonSlots = new Map<number, number>();
  private palette: Palette;
  private renderer: TimelineRenderer;
  private frameRequested = false;
  private readonly worker: SimWorkerClient;
  /** Incremented by every simulate request; a run whose generation is stale stays silent. */
  private simulationGeneration = 0;
  private state: PanelState;
  /** Last frame's draw time, ms (benchmark and tests). */
  lastFrameMs = 0;

  private readonly root: HTMLElement;
  private readonly status: HTMLElement;
  private readonly header: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly canvasWrap: HTMLElement;
  private readonly tooltip: HTMLElement;
  private readonly live: HTMLElement;
  private readonly details: HTMLElement;
  private readonly selectionPane: HTMLElement;
  private readonly histogramCanvas: HTMLCanvasElement;
  private readonly histogramCaption: HTMLElement;
  private readonly buttons: Record<
    "reset" | "zoomSelection" | "exportTrace" | "exportCsv" | "cancel",
    HTMLButtonElement
  >;

  constructor(
    private readonly host: PanelHost,
    workerUrl: string | undefined,
    container: HTMLElement,
  ) {
    this.worker = new SimWorkerClient(workerUrl, host.kind === "vscode");
    this.state = host.getState() ?? {};
    this.palette = readPalette();
    const button = (label: string, title: string): HTMLButtonElement => {
      const b = el("button", { type: "button", title }, label);
      b.disabled = true;
      return b;
    };
    this.buttons = {
      reset: button("Whole run", "Show the whole run (Home)"),
      zoomSelection: button("Zoom to selection", "Zoom to the selected range (Z)"),
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
    this.canvas = el("canvas", {
      class: "timeline",
      tabindex: "0",
      role: "img",
      "aria-roledescription": "timeline",
      "aria-label":
        "Timeline of vCPU states and VM exits. Keys: plus and minus zoom, arrows pan, N and P step through exits, Enter reveals the exit in the editor.",
    });
    this.tooltip = el("div", { class: "tooltip", role: "tooltip", id: "timeline-tooltip" });
    this.tooltip.hidden = true;
    this.canvasWrap = el("div", { class: "canvas-wrap" }, this.canvas, this.tooltip);
    this.live = el("div", { class: "visually-hidden", "aria-live": "polite" });
    this.selectionPane = el("div", { class: "selection-pane" });
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
    this.renderer = new TimelineRenderer(this.canvas, this.palette);

    this.buttons.reset.addEventListener("click", () => this.resetView());
    this.buttons.zoomSelection.addEventListener("click", () => this.zoomToSelection());
    this.buttons.exportTrace.addEventListener("click", () => this.exportAs("chrome-json"));
    this.buttons.exportCsv.addEventListener("click", () => this.exportAs("csv"));
    this.buttons.cancel.addEventListener("click", () => this.cancel());
    this.bindTraceDrop();
    this.bindPointer();
    this.bindKeyboard();
    new ResizeObserver(() => this.invalidate()).observe(this.canvasWrap);
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

  private assignReasonColours(): void {
    // Reasons with the most exit time get the first (most distinct) colours; stable across A/B.
    this.reasonSlots.clear();
    const time = new Map<number, number>();
    for (const { run } of this.runs) {
      for (const r of run.stats.byReason) time.set(r.code, (time.get(r.code) ?? 0) + r.share);
    }
    for (const { index } of this.runs)
      for (const code of index.reasons) if (!time.has(code)) time.set(code, 0);
    [...time.entries()]
      .sort((a, b) => b[1] - a[1])
      .forEach(([code], i) => {
        this.reasonSlots.set(code, i % REASON_COLOURS);
      });
  }

  private reasonColour = (code: number): number => this.reasonSlots.get(code) ?? 0;
  private reasonClass = (code: number): string => `reason-${this.reasonColour(code)}`;

  reasonName(code: number): string {
    for (const { run } of this.runs) {
      const r = run.stats.byReason.find((x) => x.code === code);
      if (r) return r.reason;
      const named = run.reasonNames?.[code] ?? run.estimate?.byReason.find((x) => x.code === code)?.reason;
      if (named) return named;
    }
    return `exit reason ${code}`;
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
    this.legend.replaceChildren(
      el("div", { class: "legend-row" }, el("span", { class: "legend-title" }, "States"), ...states),
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

  // ---- drawing -----------------------------------------------------------------------------

  invalidate(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.drawNow();
    });
  }

  /** Draws synchronously and returns the time it took in ms. */
  drawNow(): number {
    const started = performance.now();
    const cssWidth = this.canvasWrap.clientWidth || 800;
    const plotWidth = this.renderer.resize(cssWidth, Math.max(this.layout.height, 60));
    this.view = clampView({ ...this.view, widthPx: plotWidth }, this.totalNs);
    if (this.runs.length > 0) {
      const frame: FrameState = {
        view: this.view,
        reasonColour: this.reasonColour,
        ...(this.selection ? { selection: this.selection } : {}),
      };
      if (this.focus) {
        const { slot, exit } = this.focus;
        frame.focus = {
          slot,
          startNs: slot.lane.exitStart[exit]!,
          endNs: slot.lane.ends[slot.lane.exitLast[exit]!]!,
        };
      }
      this.renderer.draw(this.layout, frame);
    }
    this.lastFrameMs = performance.now() - started;
    return this.lastFrameMs;
  }

  getView(): Viewport {
    return { ...this.view };
  }

  setView(startNs: number, endNs: number): void {
    this.view = clampView({ startNs, endNs, widthPx: this.view.widthPx }, this.totalNs);
    this.viewChanged();
  }

  /**
   * Where exit `exit` of the `slotIndex`-th drawn lane is on screen (client coordinates of its
   * middle), after scrolling it into view if needed; for browser tests and the benchmark.
   */
  locateExit(
    slotIndex: number,
    exit: number,
  ): { clientX: number; clientY: number; reason: string } | undefined {
    const slot = this.layout.slots[slotIndex];
    if (!slot || exit < 0 || exit >= slot.lane.exitCount) return undefined;
    const start = slot.lane.exitStart[exit]!;
    const end = slot.lane.ends[slot.lane.exitLast[exit]!]!;
    if (start < this.view.startNs || end > this.view.endNs) {
      const span = Math.max(this.view.endNs - this.view.startNs, (end - start) * 4);
      this.setView(start - span / 2, start + span / 2);
      this.drawNow();
    }
    const rect = this.canvas.getBoundingClientRect();
    const mid = (start + end) / 2;
    const x = ((mid - this.view.startNs) / (this.view.endNs - this.view.startNs)) * this.view.widthPx;
    return {
      clientX: rect.left + LABEL_WIDTH + x,
      clientY: rect.top + slot.top + 9,
      reason: this.reasonName(slot.lane.exitReason[exit]!),
    };
  }

  /** Index of the longest exit of a drawn lane (easiest to point at), or -1. */
  longestExit(slotIndex: number): number {
    const lane = this.layout.slots[slotIndex]?.lane;
    if (!lane) return -1;
    let best = -1;
    for (let e = 0; e < lane.exitCount; e++)
      if (best < 0 || lane.exitLatency[e]! > lane.exitLatency[best]!) best = e;
    return best;
  }

  private viewChanged(): void {
    this.saveState({ view: { startNs: this.view.startNs, endNs: this.view.endNs } });
    this.invalidate();
  }

  private resetView(): void {
    this.setView(0, this.totalNs);
  }

  private zoomToSelection(): void {
    if (!this.selection) return;
    this.setView(this.selection.startNs, this.selection.endNs);
  }

  // ---- interaction -------------------------------------------------------------------------

  private plotX(event: { clientX: number }): number {
    return event.clientX - this.canvas.getBoundingClientRect().left - LABEL_WIDTH;
  }

  private plotY(event: { clientY: number }): number {
    return event.clientY - this.canvas.getBoundingClientRect().top;
  }

  private hitAt(x: number, y: number): { slot: LaneSlot; hit: Hit } | undefined {
    if (x < 0 || x > this.view.widthPx) return undefined;
    const slot = slotAtY(this.layout, y);
    if (!slot) return undefined;
    const t = xToTime(this.view, x);
    const slop = HOVER_SLOP_PX * ((this.view.endNs - this.view.startNs) / this.view.widthPx);
    const hit = hitTest(slot.index, slot.lane, t, slop);
    return hit ? { slot, hit } : undefined;
  }

  private bindPointer(): void {
    let dragStartX: number | undefined;
    let panning = false;
    let lastX = 0;
    let moved = false;
    this.canvas.addEventListener("pointerdown", (event) => {
      if (this.runs.length === 0) return;
      this.canvas.focus();
      const x = this.plotX(event);
      lastX = x;
      moved = false;
      panning = event.button === 1 || event.shiftKey;
      dragStartX = x;
      this.canvas.setPointerCapture(event.pointerId);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      const x = this.plotX(event);
      if (dragStartX !== undefined) {
        if (Math.abs(x - dragStartX) > CLICK_SLOP_PX) moved = true;
        if (panning) {
          this.view = panBy(this.view, lastX - x, this.totalNs);
          lastX = x;
          this.viewChanged();
        } else if (moved) {
          const a = xToTime(this.view, Math.max(0, Math.min(this.view.widthPx, dragStartX)));
          const b = xToTime(this.view, Math.max(0, Math.min(this.view.widthPx, x)));
          this.selection = { startNs: Math.min(a, b), endNs: Math.max(a, b) };
          this.invalidate();
        }
        return;
      }
      this.hover(x, this.plotY(event), event.clientX, event.clientY);
    });
    this.canvas.addEventListener("pointerup", (event) => {
      if (dragStartX === undefined) return;
      const x = this.plotX(event);
      dragStartX = undefined;
      if (panning) return;
      if (!moved) {
        const found = this.hitAt(x, this.plotY(event));
        if (found) this.reveal(found.slot, found.hit);
        return;
      }
      this.selectionChanged();
    });
    this.canvas.addEventListener("pointerleave", () => {
      if (dragStartX === undefined) this.tooltip.hidden = true;
    });
    this.canvas.addEventListener("dblclick", (event) => {
      if (this.selection) this.zoomToSelection();
      else this.zoom(this.plotX(event), 0.5);
    });
    this.canvas.addEventListener(
      "wheel",
      (event) => {
        if (this.runs.length === 0) return;
        event.preventDefault();
        const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
        const dx = event.deltaX * unit;
        const dy = event.deltaY * unit;
        if (event.shiftKey || Math.abs(dx) > Math.abs(dy)) {
          this.view = panBy(this.view, event.shiftKey ? dy || dx : dx, this.totalNs);
          this.viewChanged();
        } else {
          this.zoom(this.plotX(event), Math.exp(dy * 0.002));
        }
        this.tooltip.hidden = true;
      },
      { passive: false },
    );
  }

  private zoom(x: number, factor: number): void {
    this.view = zoomAt(this.view, Math.max(0, Math.min(this.view.widthPx, x)), factor, this.totalNs);
    this.viewChanged();
  }

  private selectionChanged(): void {
    const selection = this.selection;
    this.buttons.zoomSelection.disabled = !selection;
    if (!selection || this.runs.length === 0) {
      this.selectionPane.replaceChildren();
      return;
    }
    const views = this.runs.map(({ run, index }, i) => {
      const stats = rangeStats(index, selection.startNs, selection.endNs);
      const view = selectionView(
        stats,
        run.timeline.vcpus,
        (code) => this.reasonName(code),
        run.timeline.decimated,
      );
      if (this.runs.length > 1) view.prepend(el("h3", {}, `${"AB"[i]}: ${run.title}`));
      return view;
    });
    this.selectionPane.replaceChildren(...views);
    this.live.textContent = `Selected ${formatNanoseconds(selection.endNs - selection.startNs)}`;
  }

  private hover(x: number, y: number, clientX: number, clientY: number): void {
    const found = this.hitAt(x, y);
    if (!found) {
      this.tooltip.hidden = true;
      return;
    }
    this.showTooltip(found.slot, found.hit, clientX, clientY);
  }

  private showTooltip(slot: LaneSlot, hit: Hit, clientX: number, clientY: number): void {
    this.tooltip.replaceChildren(
      ...this.describe(slot, hit).map((line, i) => el(i === 0 ? "strong" : "div", {}, line)),
    );
    this.tooltip.hidden = false;
    const wrap = this.canvasWrap.getBoundingClientRect();
    const left = Math.min(clientX - wrap.left + 12, wrap.width - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${clientY - wrap.top + 14}px`;
  }

  /** Tooltip lines: reason and number, start, durations in ns and cycles, handler, guest operation. */
  describe(slot: LaneSlot, hit: Hit): string[] {
    const timeline = slot.index.timeline;
    const i = hit.interval;
    const hz = timeline.hz;
    const state = timeline.state[i]!;
    const stateName = VCPU_STATE_NAMES[state] ?? `state ${state}`;
    const duration = timeline.duration[i]!;
    const lines: string[] = [];
    const nsAndCycles = (ns: number): string =>
      `${ns.toFixed(ns < 10 ? 1 : 0)} ns = ${formatInteger(nsToCycles(ns, hz))} cycles`;
    if (hit.exit >= 0) {
      const lane = slot.lane;
      const code = lane.exitReason[hit.exit]!;
      lines.push(`${this.reasonName(code)} (exit reason ${code})`);
      lines.push(
        `exit #${formatInteger(hit.exit + 1)} on vCPU ${lane.vcpu}, start ${formatNanoseconds(lane.exitStart[hit.exit]!)}`,
      );
      lines.push(`latency ${nsAndCycles(lane.exitLatency[hit.exit]!)} (transition + handler + user space)`);
      lines.push(`${stateName} part: ${nsAndCycles(duration)}`);
      for (const source of this.exitSources(slot, hit.exit)) lines.push(source);
    } else {
      lines.push(`${stateName} on vCPU ${slot.lane.vcpu}`);
      lines.push(`start ${formatNanoseconds(timeline.start[i]!)}, ${nsAndCycles(duration)}`);
      const src = timeline.source[i]!;
      if (src >= 0 && timeline.sources[src]) {
        const s = timeline.sources[src]!;
        lines.push(`${s.label} (line ${s.line + 1})`);
      }
    }
    return lines;
  }

  /** "handler: …" and "guest: …" lines from the sources of the exit's intervals. */
  private exitSources(slot: LaneSlot, exit: number): string[] {
    const timeline = slot.index.timeline;
    const lane = slot.lane;
    const seen = new Set<number>();
    const lines: string[] = [];
    for (let k = lane.exitFirst[exit]!; k <= lane.exitLast[exit]!; k++) {
      const src = timeline.source[lane.order[k]!]!;
      if (src < 0 || seen.has(src) || !timeline.sources[src]) continue;
      seen.add(src);
      const s = timeline.sources[src]!;
      lines.push(`${s.label} (line ${s.line + 1})`);
    }
    return lines;
  }

  /** The source to reveal for a hit: the interval's own source, else the first of its exit. */
  revealTarget(slot: LaneSlot, hit: Hit): RevealTarget | undefined {
    const timeline = slot.index.timeline;
    let src = timeline.source[hit.interval]!;
    if (src < 0 && hit.exit >= 0) {
      for (let k = slot.lane.exitFirst[hit.exit]!; k <= slot.lane.exitLast[hit.exit]! && src < 0; k++) {
        src = timeline.source[slot.lane.order[k]!]!;
      }
    }
    const s = src >= 0 ? timeline.sources[src] : undefined;
    if (!s) return undefined;
    return { line: s.line, character: s.character, start: s.start, end: s.end, label: s.label };
  }

  private reveal(slot: LaneSlot, hit: Hit): void {
    if (hit.exit >= 0) {
      this.focus = { slot, exit: hit.exit };
      this.invalidate();
    }
    const target = this.revealTarget(slot, hit);
    if (target) this.host.post({ type: "reveal", target });
  }

  private bindKeyboard(): void {
    this.canvas.addEventListener("keydown", (event) => {
      if (this.runs.length === 0) return;
      const w = this.view.widthPx;
      let handled = true;
      switch (event.key) {
        case "+":
        case "=":
          this.zoom(this.focusX() ?? w / 2, 0.5);
          break;
        case "-":
        case "_":
          this.zoom(this.focusX() ?? w / 2, 2);
          break;
        case "ArrowLeft":
          this.view = panBy(this.view, -w * 0.2, this.totalNs);
          this.viewChanged();
          break;
        case "ArrowRight":
          this.view = panBy(this.view, w * 0.2, this.totalNs);
          this.viewChanged();
          break;
        case "Home":
        case "0":
          this.resetView();
          break;
        case "ArrowUp":
        case "ArrowDown": {
          const count = this.layout.slots.length;
          this.focusedSlot = (this.focusedSlot + (event.key === "ArrowUp" ? count - 1 : 1)) % count;
          const slot = this.layout.slots[this.focusedSlot]!;
          this.live.textContent = `${slot.label}${this.runs.length > 1 ? ` of run ${"AB"[slot.group]}` : ""}`;
          this.focus = undefined;
          this.invalidate();
          break;
        }
        case "n":
        case "N":
        case "]":
          this.stepExit(1);
          break;
        case "p":
        case "P":
        case "[":
          this.stepExit(-1);
          break;
        case "Enter":
          if (this.focus) {
            const { slot, exit } = this.focus;
            const k = slot.lane.exitFirst[exit]!;
            this.reveal(slot, { lane: slot.lane, position: k, interval: slot.lane.order[k]!, exit });
          }
          break;
        case "z":
        case "Z":
          this.zoomToSelection();
          break;
        case "Escape":
          this.selection = undefined;
          this.focus = undefined;
          this.tooltip.hidden = true;
          this.selectionChanged();
          this.invalidate();
          break;
        default:
          handled = false;
      }
      if (handled) event.preventDefault();
    });
  }

  private focusX(): number | undefined {
    if (!this.focus) return undefined;
    const x =
      ((this.focus.slot.lane.exitStart[this.focus.exit]! - this.view.startNs) /
        (this.view.endNs - this.view.startNs)) *
      this.view.widthPx;
    return x >= 0 && x <= this.view.widthPx ? x : undefined;
  }

  /** Moves the keyboard focus to the next/previous exit on the focused vCPU, scrolling to it. */
  private stepExit(dir: 1 | -1): void {
    const slot = this.layout.slots[this.focusedSlot];
    if (!slot) return;
    const from =
      this.focus && this.focus.slot === slot
        ? slot.lane.exitStart[this.focus.exit]!
        : dir > 0
          ? this.view.startNs - 1
          : this.view.endNs;
    const exit = neighbourExit(slot.lane, from, dir);
    if (exit < 0) {
      this.live.textContent = dir > 0 ? "No later exit on this vCPU" : "No earlier exit on this vCPU";
      return;
    }
    this.focus = { slot, exit };
    const start = slot.lane.exitStart[exit]!;
    if (start < this.view.startNs || start > this.view.endNs) {
      const span = this.view.endNs - this.view.startNs;
      this.setView(start - span / 2, start + span / 2);
    } else {
      this.invalidate();
    }
    const k = slot.lane.exitFirst[exit]!;
    const hit: Hit = { lane: slot.lane, position: k, interval: slot.lane.order[k]!, exit };
    const lines = this.describe(slot, hit);
    this.live.textContent = lines.join(". ");
    const rect = this.canvas.getBoundingClientRect();
    const x = this.focusX() ?? 0;
    this.showTooltip(slot, hit, rect.left + LABEL_WIDTH + x, rect.top + slot.top + 20);
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
