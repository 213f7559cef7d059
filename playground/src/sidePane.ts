/**
 * The pane over the timeline that shows the server's two reports, as the extension's "Show
 * Estimate" and "Compare Configurations" (static) do: `trapline/estimateReport` (Markdown,
 * rendered by monaco's sanitising renderer, ./markdown.ts) and `trapline/compare` (its rows as a
 * table, one per vmcs block and target CPU). Both come from the server's cached analysis of the
 * current version; the page computes nothing. While the pane is open it asks again after each
 * analysis (`trapline/fileStatus`), so it follows the text as one types.
 */

import { formatCores, formatPercent, formatRate } from "../../core/src/util/format";
import {
  COMPARE_METHOD,
  type CompareParams,
  type CompareResult,
  type CompareRow,
  ESTIMATE_REPORT_METHOD,
  type EstimateReportParams,
  type EstimateReportResult,
  type FileInfoResult,
  type FileStatusParams,
} from "../../protocol/lsp";
import { renderUntrustedMarkdown } from "./markdown";

export type ProfileInfo = FileInfoResult["profiles"][number];

export interface SidePaneHost {
  request<R>(method: string, params: unknown): Promise<R>;
  /** The document's URI as the server knows it. */
  uri(): string;
  /** The latest file status (target, guests and their vmcs, error count). */
  status(): FileStatusParams | undefined;
  profiles(): readonly ProfileInfo[];
  /** The guest the toolbar's Guest picker shows. */
  selectedGuest(): string | undefined;
  /** Simulate `guest` on `a` and on `b` in the timeline panel's compare view. */
  simulateCompare(guest: string, a: CompareSide, b: CompareSide): void;
}

/**
 * One side of a simulated comparison: the guest on a vmcs block, and on a CPU profile when
 * `profile` is given (the run request's `target`: that CPU at its default clock, as the compare
 * row estimates it); without it, on the file's target as written.
 */
export interface CompareSide {
  vmcs: string;
  profile?: string;
}

type Mode = { kind: "report"; guest?: string } | { kind: "compare"; guest?: string };

export class SidePane {
  private mode: Mode | undefined;
  /** Answers to anything but the latest request are dropped. */
  private generation = 0;
  private rendered: { dispose(): void } | undefined;
  /** Extra CPUs ticked in the compare view (kept while the page is open). */
  private readonly compareProfiles = new Set<string>();
  private readonly title: HTMLElement;
  private readonly body: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: SidePaneHost,
  ) {
    this.title = root.querySelector<HTMLElement>(".side-pane-title")!;
    this.body = root.querySelector<HTMLElement>(".side-pane-body")!;
    root.querySelector<HTMLButtonElement>(".side-pane-close")!.addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  get showing(): Mode["kind"] | undefined {
    return this.mode?.kind;
  }

  /** The estimate report of every guest, or of `guest` (a guest's cost lens). */
  showReport(guest?: string): void {
    this.open(guest ? { kind: "report", guest } : { kind: "report" });
  }

  /** The comparison of `guest` (default: the Guest picker's) under every vmcs block. */
  showCompare(guest?: string): void {
    this.open(guest ? { kind: "compare", guest } : { kind: "compare" });
  }

  close(): void {
    this.mode = undefined;
    this.generation++;
    this.root.hidden = true;
    this.rendered?.dispose();
    this.rendered = undefined;
    this.body.replaceChildren();
  }

  /** Re-requests what the pane shows (after a new analysis, or another guest was picked). */
  refresh(): void {
    if (this.mode) void this.load(this.mode);
  }

  private open(mode: Mode): void {
    const wasHidden = this.root.hidden;
    this.mode = mode;
    this.root.hidden = false;
    void this.load(mode);
    if (wasHidden) this.root.querySelector<HTMLButtonElement>(".side-pane-close")!.focus();
  }

  private async load(mode: Mode): Promise<void> {
    const generation = ++this.generation;
    try {
      if (mode.kind === "report") {
        const params: EstimateReportParams = {
          uri: this.host.uri(),
          ...(mode.guest ? { guest: mode.guest } : {}),
        };
        const result = await this.host.request<EstimateReportResult>(ESTIMATE_REPORT_METHOD, params);
        if (generation === this.generation) this.renderReport(mode, result);
      } else {
        const guest = mode.guest ?? this.host.selectedGuest();
        if (!guest) {
          this.renderMessage("Compare configurations", "The file declares no guest to compare.");
          return;
        }
        const params: CompareParams = { uri: this.host.uri(), guest, profiles: [...this.compareProfiles] };
        const result = await this.host.request<CompareResult>(COMPARE_METHOD, params);
        if (generation === this.generation) this.renderCompare(result);
      }
    } catch (error) {
      if (generation === this.generation)
        this.renderMessage(
          mode.kind === "report" ? "Estimate report" : "Compare configurations",
          `The language server did not answer: ${error instanceof Error ? error.message : String(error)}`,
        );
    }
  }

  private renderMessage(title: string, message: string): void {
    this.rendered?.dispose();
    this.rendered = undefined;
    this.title.textContent = title;
    this.body.replaceChildren(el("p", { class: "side-pane-message" }, message));
  }

  private renderReport(mode: Mode & { kind: "report" }, result: EstimateReportResult): void {
    this.title.textContent = mode.guest ? `Estimate report: guest ${mode.guest}` : "Estimate report";
    const content = el("div", { class: "report-markdown" });
    const note = el(
      "p",
      { class: "side-pane-note" },
      "Static estimate of the current text; updates as you edit.",
    );
    if (mode.guest) {
      const all = el("button", { type: "button", class: "link-button" }, "Show every guest");
      all.addEventListener("click", () => this.showReport());
      note.append(" ", all);
    }
    this.rendered?.dispose();
    this.body.replaceChildren(note, content);
    this.rendered = renderUntrustedMarkdown(content, result.markdown);
  }

  private renderCompare(result: CompareResult): void {
    this.rendered?.dispose();
    this.rendered = undefined;
    const status = this.host.status();
    const fileTarget = status?.target.profile;
    const own = status?.guests.find((g) => g.name === result.guest)?.vmcs;
    this.title.textContent = `Compare configurations: guest ${result.guest}`;

    const note = el(
      "p",
      { class: "side-pane-note" },
      `The static estimate of ${result.guest} under each vmcs block of the file, on ${fileTarget ?? "the file's target"}` +
        " and on the CPUs ticked below (each at its default clock, without the file's msr/cost overrides). Updates as you edit.",
    );

    const options = el("fieldset", { class: "compare-profiles" }, el("legend", {}, "Also estimate on"));
    for (const profile of this.host.profiles()) {
      if (profile.name === fileTarget) continue;
      const box = el("input", { type: "checkbox", value: profile.name }) as HTMLInputElement;
      box.checked = this.compareProfiles.has(profile.name);
      box.addEventListener("change", () => {
        if (box.checked) this.compareProfiles.add(profile.name);
        else this.compareProfiles.delete(profile.name);
        this.refresh();
      });
      options.append(
        el("label", { title: `${profile.displayName} (${profile.year})` }, box, ` ${profile.name}`),
      );
    }

    const simulateBlocked =
      (status?.errors ?? 0) > 0
        ? "Fix the file's errors first: a VMCS that fails VM entry cannot be simulated"
        : undefined;
    const head = el(
      "tr",
      {},
      ...["vmcs", "target CPU", "exits/s", "overhead", "host CPU", "top exits", ""].map((h) =>
        el("th", { scope: "col" }, h),
      ),
    );
    const rows = result.rows.map((row) => {
      const onFileTarget = row.profile === fileTarget;
      return compareRowView(row, {
        asWritten: row.vmcs === own && onFileTarget,
        simulate:
          own === undefined || (onFileTarget && row.vmcs === own)
            ? undefined
            : onFileTarget
              ? {
                  blocked: simulateBlocked,
                  run: () => this.host.simulateCompare(result.guest, { vmcs: own }, { vmcs: row.vmcs }),
                  label: `Simulate ${own} ↔ ${row.vmcs}`,
                }
              : {
                  // A is the guest as written; both runs name their CPU in the panel.
                  blocked: simulateBlocked,
                  run: () =>
                    this.host.simulateCompare(
                      result.guest,
                      fileTarget ? { vmcs: own, profile: fileTarget } : { vmcs: own },
                      { vmcs: row.vmcs, profile: row.profile },
                    ),
                  label: `Simulate ${own} on ${fileTarget ?? "the file's target"} ↔ ${row.vmcs} on ${row.profile}`,
                },
      });
    });
    const table = el("table", { class: "compare-table" }, el("thead", {}, head), el("tbody", {}, ...rows));
    const broken = result.rows.filter((row) => row.errors.length > 0);
    const children: Node[] = [note, options, table];
    if (result.rows.length === 0) children.push(el("p", { class: "side-pane-message" }, result.markdown));
    if (broken.length > 0) {
      children.push(
        el("p", { class: "side-pane-note" }, "⚠ Configurations with errors (VM entry would fail):"),
        el(
          "ul",
          { class: "compare-errors" },
          ...broken.map((row) => el("li", {}, `${row.vmcs}: ${row.errors.slice(0, 3).join("; ")}`)),
        ),
      );
    }
    this.body.replaceChildren(...children);
  }
}

function compareRowView(
  row: CompareRow,
  options: {
    asWritten: boolean;
    simulate: { blocked: string | undefined; run: () => void; label: string } | undefined;
  },
): HTMLElement {
  const number = (value: number, format: (v: number) => string) =>
    Number.isNaN(value) ? "n/a" : format(value);
  const vmcsCell = el("td", {}, row.vmcs);
  if (options.asWritten) vmcsCell.append(el("span", { class: "as-written" }, " (as written)"));
  if (row.errors.length > 0)
    vmcsCell.append(el("span", { class: "row-errors", title: row.errors.join("\n") }, " ⚠"));
  const action = el("td", {});
  if (options.simulate) {
    const button = el("button", { type: "button" }, "Simulate A ↔ B") as HTMLButtonElement;
    button.title = options.simulate.blocked ?? `${options.simulate.label} in the timeline panel`;
    button.disabled = options.simulate.blocked !== undefined || row.errors.length > 0;
    const run = options.simulate.run;
    button.addEventListener("click", run);
    action.append(button);
  }
  const tr = el(
    "tr",
    { "data-vmcs": row.vmcs, "data-profile": row.profile },
    vmcsCell,
    el("td", {}, row.profile),
    el("td", { class: "num" }, number(row.exitsPerSecond, formatRate)),
    el("td", { class: "num" }, number(row.overhead, formatPercent)),
    el("td", { class: "num" }, number(row.hostCpu, formatCores)),
    el("td", {}, row.topReasons.map((r) => `${r.reason} ${formatRate(r.exitsPerSecond)}`).join(", ") || "—"),
    action,
  );
  if (options.asWritten) tr.classList.add("as-written-row");
  if (row.errors.length > 0) tr.classList.add("has-errors");
  return tr;
}

/** A DOM element with attributes and text/element children (text is always text, never HTML). */
function el(tag: string, attributes: Record<string, string>, ...children: (Node | string)[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}
