/**
 * Canvas drawing of the lanes: a time axis, then per vCPU a state band (guest, exit
 * transition, handler, user space, halted, polling, descheduled), a thin reason strip coloured
 * by exit reason, and injected-interrupt markers. Every lane is reduced to pixel columns by
 * {@link aggregateLane} and equal neighbouring columns are drawn as one rectangle, so a frame
 * costs O(lanes × width) fillRects at most, whatever the number of exits.
 */

import { formatNanoseconds } from "../../core/src/util/format";
import { lowerBound } from "../../core/src/util/search";
import { generateTicks, timeToX, type Viewport } from "./scale";
import type { Palette } from "./theme";
import {
  aggregateLane,
  type ColumnBuffer,
  createColumnBuffer,
  firstAfter,
  type Lane,
  NO_LEVEL,
  NO_STATE,
  type TimelineIndex,
} from "./timelineIndex";

export const AXIS_HEIGHT = 24;
export const LABEL_WIDTH = 72;
export const GROUP_HEADER_HEIGHT = 18;
export const LANE_HEIGHT = 34;
const STATE_BAND = 18;
const REASON_TOP = STATE_BAND + 3;
const REASON_BAND = 7;
/** Height of the level band inside the state band (nested runs). */
const LEVEL_BAND = 4;
const MARKER_SIZE = 5;

/** One drawn lane: which run it belongs to (compare shows two) and where it sits. */
export interface LaneSlot {
  group: number;
  index: TimelineIndex;
  lane: Lane;
  /** Top of the lane in CSS px. */
  top: number;
  label: string;
}

export interface Layout {
  slots: LaneSlot[];
  headers: { top: number; label: string }[];
  height: number;
}

export function layoutLanes(groups: { index: TimelineIndex; label?: string }[]): Layout {
  const slots: LaneSlot[] = [];
  const headers: { top: number; label: string }[] = [];
  let top = AXIS_HEIGHT + 4;
  groups.forEach((group, g) => {
    if (group.label) {
      headers.push({ top, label: group.label });
      top += GROUP_HEADER_HEIGHT;
    }
    for (const lane of group.index.lanes) {
      slots.push({ group: g, index: group.index, lane, top, label: `vCPU ${lane.vcpu}` });
      top += LANE_HEIGHT;
    }
  });
  return { slots, headers, height: top + 4 };
}

/** The lane under a CSS y coordinate. */
export function slotAtY(layout: Layout, y: number): LaneSlot | undefined {
  for (const slot of layout.slots) if (y >= slot.top && y < slot.top + LANE_HEIGHT) return slot;
  return undefined;
}

export interface FrameState {
  view: Viewport;
  selection?: { startNs: number; endNs: number };
  /** Highlighted exit (hover or keyboard focus). */
  focus?: { slot: LaneSlot; startNs: number; endNs: number };
  /** Colour slot per exit reason code. */
  reasonColour: (code: number) => number;
}

export class TimelineRenderer {
  private columns: ColumnBuffer = createColumnBuffer(1);
  /** Which LOD path each lane took in the last frame (for the benchmark and tests). */
  lastPaths: string[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private palette: Palette,
  ) {}

  setPalette(palette: Palette): void {
    this.palette = palette;
  }

  /** Sizes the backing store to CSS size × devicePixelRatio. Returns the CSS plot width. */
  resize(cssWidth: number, cssHeight: number): number {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(cssWidth * ratio));
    const h = Math.max(1, Math.floor(cssHeight * ratio));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.canvas.style.height = `${cssHeight}px`;
    return Math.max(1, cssWidth - LABEL_WIDTH);
  }

  draw(layout: Layout, frame: FrameState): void {
    const ctx = this.canvas.getContext("2d", { alpha: false });
    if (!ctx) return;
    const ratio = window.devicePixelRatio || 1;
    const p = this.palette;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const { view } = frame;
    const plotWidth = view.widthPx;
    const deviceWidth = Math.max(1, Math.round(plotWidth * ratio));
    if (this.columns.width !== deviceWidth) {
      this.columns = createColumnBuffer(deviceWidth);
    }

    this.drawAxis(ctx, layout, view);

    ctx.font = `11px ${p.fontFamily}`;
    ctx.textBaseline = "middle";
    for (const header of layout.headers) {
      ctx.fillStyle = p.foreground;
      ctx.fillText(header.label, 4, header.top + GROUP_HEADER_HEIGHT / 2);
    }
    this.lastPaths = [];
    for (const slot of layout.slots) {
      ctx.fillStyle = p.muted;
      ctx.fillText(slot.label, 4, slot.top + STATE_BAND / 2);
      this.drawLane(ctx, slot, frame, ratio);
    }

    if (frame.selection) {
      const x0 = LABEL_WIDTH + Math.max(0, timeToX(view, frame.selection.startNs));
      const x1 = LABEL_WIDTH + Math.min(plotWidth, timeToX(view, frame.selection.endNs));
      if (x1 > x0) {
        ctx.fillStyle = p.selection;
        ctx.fillRect(x0, AXIS_HEIGHT, Math.max(1, x1 - x0), layout.height - AXIS_HEIGHT);
      }
    }
    if (frame.focus) {
      const { slot, startNs, endNs } = frame.focus;
      const x0 = LABEL_WIDTH + timeToX(view, startNs);
      const x1 = LABEL_WIDTH + timeToX(view, endNs);
      ctx.strokeStyle = p.focus;
      ctx.lineWidth = 2;
      const w = Math.max(3, x1 - x0);
      ctx.strokeRect(x0 - (w - (x1 - x0)) / 2 - 1, slot.top - 2, w + 2, REASON_TOP + REASON_BAND + 4);
    }
  }

  private drawAxis(ctx: CanvasRenderingContext2D, layout: Layout, view: Viewport): void {
    const p = this.palette;
    ctx.font = `10px ${p.fontFamily}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = p.grid;
    for (const tick of generateTicks(view)) {
      const x = Math.round(LABEL_WIDTH + tick.x) + 0.5;
      if (tick.major) {
        ctx.fillRect(x - 0.5, AXIS_HEIGHT - 8, 1, layout.height - AXIS_HEIGHT + 8);
        ctx.fillStyle = p.foreground;
        ctx.fillText(tick.label, x + 3, 4);
        ctx.fillStyle = p.grid;
      } else {
        ctx.fillRect(x - 0.5, AXIS_HEIGHT - 4, 1, 4);
      }
    }
    ctx.fillStyle = p.muted;
    ctx.fillText(formatNanoseconds(view.endNs - view.startNs), 4, 4);
    ctx.fillRect(LABEL_WIDTH, AXIS_HEIGHT - 1, view.widthPx, 1);
  }

  private drawLane(ctx: CanvasRenderingContext2D, slot: LaneSlot, frame: FrameState, ratio: number): void {
    const { view } = frame;
    const cols = this.columns;
    this.lastPaths.push(aggregateLane(slot.index, slot.lane, view.startNs, view.endNs, cols));
    const p = this.palette;
    const width = cols.width;
    const colPx = 1 / ratio; // one device pixel in CSS px
    // State band: runs of equal state.
    let runStart = 0;
    for (let c = 1; c <= width; c++) {
      if (c < width && cols.state[c] === cols.state[runStart]) continue;
      const state = cols.state[runStart]!;
      if (state !== NO_STATE) {
        ctx.fillStyle = p.states[state]!;
        ctx.fillRect(LABEL_WIDTH + runStart * colPx, slot.top, (c - runStart) * colPx, STATE_BAND);
      }
      runStart = c;
    }
    // Reason strip: runs of equal reason.
    runStart = 0;
    for (let c = 1; c <= width; c++) {
      if (c < width && cols.reason[c] === cols.reason[runStart]) continue;
      const reason = cols.reason[runStart]!;
      if (reason >= 0) {
        ctx.fillStyle = p.reasons[frame.reasonColour(reason)]!;
        // At least one CSS pixel wide so a lone exit is visible at any zoom.
        ctx.fillRect(
          LABEL_WIDTH + runStart * colPx,
          slot.top + REASON_TOP,
          Math.max(1, (c - runStart) * colPx),
          REASON_BAND,
        );
      }
      runStart = c;
    }
    // Level band (nested runs): a thin strip at the foot of the state band, coloured by the
    // level with the most time in each column (L2 guest, L1 handler, L0).
    if (slot.index.timeline.level) {
      runStart = 0;
      for (let c = 1; c <= width; c++) {
        if (c < width && cols.level[c] === cols.level[runStart]) continue;
        const level = cols.level[runStart]!;
        if (level !== NO_LEVEL) {
          ctx.fillStyle = p.levels[level] ?? p.muted;
          ctx.fillRect(
            LABEL_WIDTH + runStart * colPx,
            slot.top + STATE_BAND - LEVEL_BAND,
            (c - runStart) * colPx,
            LEVEL_BAND,
          );
        }
        runStart = c;
      }
    }
    if (p.highContrast) {
      ctx.strokeStyle = p.foreground;
      ctx.lineWidth = 1;
      ctx.strokeRect(LABEL_WIDTH + 0.5, slot.top + 0.5, view.widthPx - 1, STATE_BAND - 1);
    }
    this.drawMarkers(ctx, slot, view, ratio);
  }

  /** At most one marker per device-pixel column: the first in the column, found by binary search. */
  private drawMarkers(ctx: CanvasRenderingContext2D, slot: LaneSlot, view: Viewport, ratio: number): void {
    const lane = slot.lane;
    const times = lane.markerTimes;
    const n = times.length;
    if (n === 0) return;
    const kinds = slot.index.timeline.markers.kind;
    const width = this.columns.width;
    const pxNs = (view.endNs - view.startNs) / width;
    let k = lowerBound(times, view.startNs);
    // Spread markers at least MARKER_SIZE CSS px apart.
    const stepCols = Math.max(1, Math.round(MARKER_SIZE * ratio));
    while (k < n) {
      const t = times[k]!;
      if (t > view.endNs) break;
      const c = Math.floor((t - view.startNs) / pxNs);
      const x = LABEL_WIDTH + (c + 0.5) / ratio;
      const kind = kinds[lane.markerOrder[k]!]!;
      ctx.fillStyle = this.palette.markers[Math.min(kind, 2)]!;
      ctx.beginPath();
      ctx.moveTo(x - MARKER_SIZE / 2, slot.top);
      ctx.lineTo(x + MARKER_SIZE / 2, slot.top);
      ctx.lineTo(x, slot.top + MARKER_SIZE);
      ctx.closePath();
      ctx.fill();
      // Skip to the first marker past the next free column.
      k = firstAfter(times, view.startNs + (c + stepCols) * pxNs, n);
      if (k < n && times[k]! < t) k++;
    }
  }
}

/** Logarithmic latency histogram: one bar per bin, labelled with the bin's lower bound. */
export function drawHistogram(
  canvas: HTMLCanvasElement,
  bins: number[],
  binsPerOctave: number,
  palette: Palette,
  colour: string,
): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 400;
  const cssHeight = canvas.clientHeight || 140;
  canvas.width = Math.floor(cssWidth * ratio);
  canvas.height = Math.floor(cssHeight * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = palette.background;
  ctx.fillRect(0, 0, cssWidth, cssHeight);
  const first = bins.findIndex((b) => b > 0);
  if (first < 0) {
    ctx.fillStyle = palette.muted;
    ctx.fillText("no exits", 8, 20);
    return;
  }
  const used = bins.slice(first);
  const max = Math.max(...used);
  const barWidth = (cssWidth - 16) / used.length;
  const plotHeight = cssHeight - 28;
  ctx.font = `10px ${palette.fontFamily}`;
  ctx.textBaseline = "top";
  used.forEach((count, i) => {
    const h = count > 0 ? Math.max(1, (count / max) * plotHeight) : 0;
    ctx.fillStyle = colour;
    ctx.fillRect(8 + i * barWidth + 1, 6 + plotHeight - h, Math.max(1, barWidth - 2), h);
    if (i % Math.max(1, Math.ceil(60 / barWidth)) === 0) {
      ctx.fillStyle = palette.muted;
      ctx.fillText(formatNanoseconds(2 ** ((first + i) / binsPerOctave)), 8 + i * barWidth, cssHeight - 18);
    }
  });
}
