/**
 * Colours for canvas drawing, read from CSS custom properties (timeline.css maps them to the
 * editor's --vscode-* theme variables, with fallbacks for the playground). Re-read when the
 * theme changes (VS Code swaps the body class: vscode-light / vscode-dark / vscode-high-contrast).
 */
import { VCPU_STATE_NAMES } from "../../core/src/results";

export interface Palette {
  states: string[];
  reasons: string[];
  /** Nested runs: L0, L1, L2 (Timeline.level). */
  levels: string[];
  markers: string[];
  foreground: string;
  muted: string;
  grid: string;
  selection: string;
  focus: string;
  background: string;
  highContrast: boolean;
  /** Canvas fonts cannot use var(): the resolved family of the page. */
  fontFamily: string;
}

export const REASON_COLOURS = 10;

function read(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readPalette(element: Element = document.body): Palette {
  const style = getComputedStyle(element);
  return {
    states: VCPU_STATE_NAMES.map((name) => read(style, `--tl-state-${name}`, "#888")),
    reasons: Array.from({ length: REASON_COLOURS }, (_, i) => read(style, `--tl-reason-${i}`, "#c60")),
    levels: ["#b03a2e", "#2e86c1", "#5fa463"].map((fallback, i) => read(style, `--tl-level-${i}`, fallback)),
    markers: ["inject", "arrival", "posted"].map((kind) => read(style, `--tl-marker-${kind}`, "#d00")),
    foreground: read(style, "--tl-foreground", "#333"),
    muted: read(style, "--tl-muted", "#888"),
    grid: read(style, "--tl-grid", "rgba(128,128,128,0.25)"),
    selection: read(style, "--tl-selection", "rgba(0,120,212,0.25)"),
    focus: read(style, "--tl-focus", "#0078d4"),
    background: read(style, "--tl-background", "#fff"),
    highContrast: document.body.classList.contains("vscode-high-contrast"),
    fontFamily: style.fontFamily || "sans-serif",
  };
}

/** Calls `onChange` when VS Code switches theme (body class) or the OS colour scheme changes. */
export function watchTheme(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ["class"] });
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", onChange);
}
