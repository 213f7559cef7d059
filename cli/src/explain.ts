/**
 * `trapline estimate FILE --explain`: per exit reason of the guest, why it exits — the decision
 * the core took for each operation that causes it (its rule, the controls that decided it and
 * the SDM section or KVM function), the same data the editor's hover shows on the operation.
 *
 * The decisions come from the estimate's `operations` (core/src/analysis/types.ts
 * `OperationEstimate`); this module only groups and prints them. A compound operation
 * (`tsx`, `branch`, `coalesce`) whose inner operations already explain a reason is left out
 * for that reason: its own rule aggregates theirs.
 */
import type { GuestEstimate, LineMap, OperationEstimate } from "../../core/src/index";
import { formatRate } from "../../core/src/util/format";

/** One operation a decision applies to: its 1-based line and the first line of its text. */
export interface ExplainedOperation {
  line: number;
  text: string;
  /** This operation's exits of the reason, all vCPUs (the estimate's per-operation figure). */
  exitsPerSecond: number;
}

/** One decision (rule, controls, source) and the operations it decided. */
export interface ExplainedDecision {
  rule: string;
  detail?: string;
  controls: string[];
  source: string;
  operations: ExplainedOperation[];
}

/** Why one exit reason of the estimate occurs. */
export interface ReasonExplanation {
  reason: string;
  code: number;
  /** All vCPUs, as `byReason`. */
  exitsPerSecond: number;
  decisions: ExplainedDecision[];
}

const MAX_TEXT = 60;

/** The first line of an operation's source text, as a label ("mmio write 0xfebf_0018"). */
function operationText(text: string, span: { start: number; end: number }): string {
  const source = text.slice(span.start, Math.min(span.end, span.start + MAX_TEXT));
  const line = source.split(/[\r\n{]/, 1)[0]!.trim();
  return line.length ? line : source.trim();
}

function contains(outer: { start: number; end: number }, inner: { start: number; end: number }): boolean {
  return (
    outer.start <= inner.start &&
    inner.end <= outer.end &&
    (outer.start !== inner.start || outer.end !== inner.end)
  );
}

/** Per exit reason with a positive rate (in `byReason` order), the decisions that cause it. */
export function explainEstimate(estimate: GuestEstimate, text: string, lines: LineMap): ReasonExplanation[] {
  const causing = (code: number): OperationEstimate[] =>
    estimate.operations.filter(
      (o) =>
        o.exitsPerSecond > 0 && o.decision.exits.some((e) => e.reason.code === code && e.perExecution > 0),
    );
  const out: ReasonExplanation[] = [];
  for (const r of estimate.byReason) {
    if (!(r.exitsPerSecond > 0)) continue;
    const ops = causing(r.code);
    // Innermost first: an operation enclosing another that causes the reason adds nothing.
    const innermost = ops.filter((o) => !ops.some((inner) => contains(o.span, inner.span)));
    const decisions: ExplainedDecision[] = [];
    const byKey = new Map<string, ExplainedDecision>();
    for (const o of innermost) {
      const d = o.decision;
      const key = JSON.stringify([d.rule, d.detail ?? "", d.controls, d.reference]);
      let entry = byKey.get(key);
      if (!entry) {
        entry = {
          rule: d.rule,
          ...(d.detail ? { detail: d.detail } : {}),
          controls: [...d.controls],
          source: d.reference,
          operations: [],
        };
        byKey.set(key, entry);
        decisions.push(entry);
      }
      let all = 0;
      let mine = 0;
      for (const e of d.exits) {
        all += e.perExecution;
        if (e.reason.code === r.code) mine += e.perExecution;
      }
      entry.operations.push({
        line: lines.positionAt(o.span.start).line + 1,
        text: operationText(text, o.span),
        exitsPerSecond: all > 0 ? ((o.exitsPerSecond * mine) / all) * estimate.vcpus : 0,
      });
    }
    out.push({ reason: r.reason, code: r.code, exitsPerSecond: r.exitsPerSecond, decisions });
  }
  return out;
}

/** The `--explain` section of the text report. */
export function explainText(explanations: readonly ReasonExplanation[]): string {
  const lines: string[] = ["Why it exits (per exit reason):"];
  if (explanations.length === 0) lines.push("  no exits");
  for (const r of explanations) {
    lines.push(`  ${r.reason} (${r.code}), ${formatRate(r.exitsPerSecond)} (all vCPUs)`);
    if (r.decisions.length === 0) lines.push("    no single operation causes it");
    for (const d of r.decisions) {
      const at = d.operations
        .map((o) => `line ${o.line} \`${o.text}\` (${formatRate(o.exitsPerSecond)})`)
        .join(", ");
      lines.push(`    at ${at}`);
      lines.push(`      rule: ${d.rule}${d.detail ? ` ${d.detail}` : ""}`);
      lines.push(`      controls: ${d.controls.length > 0 ? d.controls.join(", ") : "none"}`);
      lines.push(`      source: ${d.source}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
