/**
 * Entry of the sweep panel page (bundled to dist/webview/sweep.js; docs/timeline.md "Sweep
 * plot"). The host posts the file's text and a sweep in the CLI's `--sweep` syntax; the page
 * runs the core's static estimates at every point (analysis/sweep.ts — the same rows as
 * `trapline estimate FILE --sweep …`), then draws the plot (sweepPlot.ts) and the table. The
 * figure plotted is chosen with the buttons above it.
 *
 * In VS Code the page talks through `acquireVsCodeApi()`; elsewhere (the playground later, the
 * browser test) through `window.traplineSweep.receive(message)` and same-origin window messages
 * from its parent, as the timeline page does (host.ts).
 */
import {
  analyze,
  parseSweepSpec,
  parseTargets,
  SweepError,
  sweepEstimates,
  sweepRowFigures,
} from "../../core/src/index";
import { formatCores, formatPercent, formatRate, formatSignificant } from "../../core/src/util/format";
import {
  type HostToSweepPanel,
  isHostToSweepPanel,
  type SweepPanelRequest,
  type SweepPanelToHost,
} from "../../protocol/sweep";
import { escapeXml, type PlotInput, plotModel, plotSvg, SWEEP_METRICS, type SweepMetric } from "./sweepPlot";

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

export interface SweepPageApi {
  receive(message: HostToSweepPanel): void;
  posted: SweepPanelToHost[];
  /** The plotted input, for tests. */
  input?: PlotInput;
}

declare global {
  interface Window {
    traplineSweep?: SweepPageApi;
  }
}

/** The rows of a request as the page plots them; a one-line message when it cannot run. */
export function runSweepRequest(
  request: SweepPanelRequest,
): { input: PlotInput; guest: string } | { failed: string } {
  const analysis = analyze(request.text);
  const errors = analysis.diagnostics.filter((d) => d.severity === "error" && d.code !== "TL401");
  if (errors.length > 0) {
    const first = errors[0]!;
    const line = analysis.lines.positionAt(first.span.start).line + 1;
    return {
      failed: `${request.fileName} has ${errors.length === 1 ? "an error" : `${errors.length} errors`} (line ${line}: ${first.message}); fix ${errors.length === 1 ? "it" : "them"} to sweep`,
    };
  }
  const guests = [...analysis.program.guests.keys()];
  const guest = request.guest ?? guests[0];
  if (guest === undefined || !analysis.program.guests.has(guest))
    return { failed: `${request.fileName} has no guest ${guest ?? "to sweep"}` };
  try {
    const spec = parseSweepSpec(analysis.program, guest, request.sweep);
    const targets = request.targets ? parseTargets(request.targets) : [];
    const rows = sweepEstimates(analysis.program, analysis.text, guest, spec, targets);
    return {
      guest,
      input: {
        parameter: spec.parameter.name,
        kind: spec.parameter.kind,
        log: spec.log,
        rows: rows.map((r) => {
          const figures = sweepRowFigures(r);
          return {
            target: r.target,
            point: r.point,
            label: r.label,
            status: r.status,
            ...(figures ? { figures } : {}),
          };
        }),
      },
    };
  } catch (error) {
    if (error instanceof SweepError) return { failed: error.message };
    throw error;
  }
}

const STATUS_TEXT = { none: "–", ok: "ok", violated: "violated", error: "invalid" } as const;

class SweepPage {
  private metric: SweepMetric = "overhead";
  private input: PlotInput | undefined;
  private title = "";
  readonly api: SweepPageApi = { receive: (m) => this.receive(m), posted: [] };

  constructor(
    private readonly root: HTMLElement,
    private readonly vscode: VsCodeApi | undefined,
  ) {
    window.addEventListener("message", (event: MessageEvent) => {
      // VS Code delivers its messages itself; elsewhere only the same-origin parent may drive us.
      const fromParent =
        this.vscode !== undefined ||
        (event.source === window.parent && event.origin === window.location.origin);
      if (fromParent && isHostToSweepPanel(event.data)) this.receive(event.data);
    });
    window.addEventListener("resize", () => this.draw());
    this.root.innerHTML = `<p class="status">Waiting for a sweep…</p>`;
    this.post({ type: "ready" });
  }

  private post(message: SweepPanelToHost): void {
    this.api.posted.push(message);
    if (this.vscode) this.vscode.postMessage(message);
    else if (window.parent !== window) window.parent.postMessage(message, window.location.origin);
  }

  receive(message: HostToSweepPanel): void {
    if (!isHostToSweepPanel(message)) return;
    const result = runSweepRequest(message.request);
    if ("failed" in result) {
      this.input = undefined;
      this.api.input = undefined;
      this.root.innerHTML = `<p class="status error">${escapeXml(result.failed)}</p>`;
      this.post({ type: "failed", message: result.failed });
      return;
    }
    this.input = result.input;
    this.api.input = result.input;
    this.title = `${message.request.fileName} — guest ${result.guest}: ${result.input.parameter}${result.input.log ? " (log steps)" : ""}, static estimate`;
    this.draw();
    const rows = result.input.rows;
    this.post({
      type: "done",
      points: rows.length,
      invalid: rows.filter((r) => r.status === "error").length,
      violated: rows.filter((r) => r.status === "violated").length,
    });
  }

  private draw(): void {
    const input = this.input;
    if (!input) return;
    const width = Math.max(320, Math.min(1200, (this.root.clientWidth || 800) - 16));
    const model = plotModel(input, this.metric, { width, height: Math.round(width * 0.45) });
    const buttons = SWEEP_METRICS.map(
      (m) =>
        `<button type="button" data-metric="${m.key}" aria-pressed="${m.key === this.metric}">${escapeXml(m.label)}</button>`,
    ).join("");
    const legend =
      model.series.length > 1
        ? `<ul class="legend">${model.series.map((s) => `<li class="series-${s.index % 8}"><span class="swatch"></span>${escapeXml(s.name)}</li>`).join("")}</ul>`
        : "";
    const head = `<tr><th>${escapeXml(input.kind === "target" ? "target" : input.parameter)}</th>${input.kind === "target" ? "" : "<th>target</th>"}<th>exits/s</th><th>µs/exit</th><th>host CPU</th><th>overhead</th><th>demand</th><th>budget</th></tr>`;
    const body = input.rows
      .map((r) => {
        const f = r.figures;
        const cells = f
          ? [
              formatRate(f.exitsPerSecond),
              formatSignificant(f.microsecondsPerExit),
              formatCores(f.hostCpu),
              formatPercent(f.overhead),
              formatPercent(f.demand ?? 0),
            ]
          : ["–", "–", "–", "–", "–"];
        return `<tr class="${r.status}"><td>${escapeXml(input.kind === "target" ? r.target : r.label)}</td>${input.kind === "target" ? "" : `<td>${escapeXml(r.target)}</td>`}${cells.map((c) => `<td>${escapeXml(c)}</td>`).join("")}<td>${STATUS_TEXT[r.status]}</td></tr>`;
      })
      .join("");
    this.root.innerHTML = `<h1>${escapeXml(this.title)}</h1><div class="metrics" role="group" aria-label="figure">${buttons}</div>${legend}${plotSvg(model)}<table class="sweep"><thead>${head}</thead><tbody>${body}</tbody></table>`;
    for (const button of this.root.querySelectorAll<HTMLButtonElement>("button[data-metric]"))
      button.addEventListener("click", () => {
        this.metric = button.dataset.metric as SweepMetric;
        this.draw();
      });
  }
}

function start(): void {
  const root = document.getElementById("trapline-sweep") ?? document.body;
  const page = new SweepPage(root, typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : undefined);
  window.traplineSweep = page.api;
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
}
