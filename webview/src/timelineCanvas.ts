/**
 * The timeline's canvas and everything drawn on or done with it: lanes, the visible range,
 * level-of-detail frames, hover tooltips, range selection, reveal clicks and the keyboard. The
 * panel (app.ts) extends it with the host messages, the worker, saved state and the views
 * around the canvas (header, legend, tables, histogram).
 *
 * Interaction: wheel zooms at the pointer (shift+wheel or a horizontal wheel pans); dragging
 * selects a time range (its statistics appear below; double-click or Z zooms to it); a click on
 * an exit asks the host to reveal its guest operation or handler. Keyboard (the timeline has
 * focus): + / − zoom, ← / → pan, Home shows the whole run, ↑ / ↓ pick a vCPU, N / P move to the
 * next / previous exit on it, Enter reveals that exit, Z zooms to the selection, Esc clears.
 */
import { type Timeline, VCPU_STATE_NAMES, VcpuState } from "../../core/src/results";
import { formatInteger, formatNanoseconds } from "../../core/src/util/format";
import type { PanelRun, RevealTarget } from "../../protocol/panel";
import type { PanelHost } from "./host";
import {
  type FrameState,
  LABEL_WIDTH,
  type LaneSlot,
  type Layout,
  slotAtY,
  TimelineRenderer,
} from "./render";
import { clampView, nsToCycles, panBy, type Viewport, xToTime, zoomAt } from "./scale";
import { el, selectionView } from "./statsView";
import { type Palette, REASON_COLOURS, readPalette } from "./theme";
import { type Hit, hitTest, neighbourExit, rangeStats, type TimelineIndex } from "./timelineIndex";

export interface LoadedRun {
  run: PanelRun;
  index: TimelineIndex;
}

/** Pointer travel (CSS px) below which a press is a click, not a drag. */
const CLICK_SLOP_PX = 3;
/** Hover slop: exits within this many CSS px of the pointer are picked. */
const HOVER_SLOP_PX = 4;

export abstract class TimelineCanvas {
  protected runs: LoadedRun[] = [];
  protected layout: Layout = { slots: [], headers: [], height: 0 };
  protected view: Viewport = { startNs: 0, endNs: 1, widthPx: 1 };
  protected totalNs = 1;
  protected selection: { startNs: number; endNs: number } | undefined;
  protected focus: { slot: LaneSlot; exit: number } | undefined;
  protected focusedSlot = 0;
  protected reasonSlots = new Map<number, number>();
  protected palette: Palette;
  protected readonly renderer: TimelineRenderer;
  private frameRequested = false;
  /** Last frame's draw time, ms (benchmark and tests). */
  lastFrameMs = 0;

  protected readonly canvas: HTMLCanvasElement;
  protected readonly canvasWrap: HTMLElement;
  protected readonly tooltip: HTMLElement;
  protected readonly live: HTMLElement;
  protected readonly selectionPane: HTMLElement;
  protected readonly zoomSelectionButton: HTMLButtonElement;

  constructor(protected readonly host: PanelHost) {
    this.palette = readPalette();
    this.zoomSelectionButton = el(
      "button",
      { type: "button", title: "Zoom to the selected range (Z)" },
      "Zoom to selection",
    );
    this.zoomSelectionButton.disabled = true;
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
    this.renderer = new TimelineRenderer(this.canvas, this.palette);
    this.zoomSelectionButton.addEventListener("click", () => this.zoomToSelection());
    this.bindPointer();
    this.bindKeyboard();
    new ResizeObserver(() => this.invalidate()).observe(this.canvasWrap);
  }

  /** Persist the visible range (the panel's saved state). */
  protected abstract saveView(view: { startNs: number; endNs: number }): void;

  protected assignReasonColours(): void {
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

  protected reasonColour = (code: number): number => this.reasonSlots.get(code) ?? 0;
  protected reasonClass = (code: number): string => `reason-${this.reasonColour(code)}`;

  reasonName(code: number): string {
    for (const { run } of this.runs) {
      const r = run.stats.byReason.find((x) => x.code === code);
      if (r) return r.reason;
      const named = run.reasonNames?.[code] ?? run.estimate?.byReason.find((x) => x.code === code)?.reason;
      if (named) return named;
    }
    return `exit reason ${code}`;
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
    this.saveView({ startNs: this.view.startNs, endNs: this.view.endNs });
    this.invalidate();
  }

  protected resetView(): void {
    this.setView(0, this.totalNs);
  }

  protected zoomToSelection(): void {
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
    this.zoomSelectionButton.disabled = !selection;
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
      lines.push(`${levelPart(timeline, i) ?? stateName} part: ${nsAndCycles(duration)}`);
      for (const source of this.exitSources(slot, hit.exit)) lines.push(source);
    } else {
      lines.push(`${levelPart(timeline, i) ?? stateName} on vCPU ${slot.lane.vcpu}`);
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
}

/**
 * What runs during interval `i` of a nested run (Timeline.level), for the tooltip: "L2 guest",
 * "L1 handler", "L0 emulating VMREAD …" (the segment's own label), "L0 transition"; undefined
 * for a single-level run.
 */
export function levelPart(timeline: Timeline, i: number): string | undefined {
  const levels = timeline.level;
  if (!levels) return undefined;
  const level = levels[i]!;
  const state = timeline.state[i]!;
  if (level === 2) return state === VcpuState.Guest ? "L2 guest" : `L2 ${VCPU_STATE_NAMES[state] ?? "idle"}`;
  // L1 runs handlers, or polls in its own kvm_vcpu_halt for an idle L2 (sim/l1Poll.ts).
  if (level === 1) return state === VcpuState.Polling ? "L1 polling" : "L1 handler";
  const src = timeline.source[i]!;
  const label = src >= 0 ? timeline.sources[src]?.label : undefined;
  if (label?.startsWith("L0")) return label.replace(/^L0: /, "L0 ");
  if (state === VcpuState.Exit) return "L0 transition";
  if (state === VcpuState.Handler) return "L0 handler";
  return `L0 ${VCPU_STATE_NAMES[state] ?? ""}`.trim();
}
