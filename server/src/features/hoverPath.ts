/**
 * The hover on a source's header line (`path send rate 50k/s {`, `irq nic vector 0x41 …`): its
 * per-execution figures from the estimate — the rate per vCPU and for the guest, exits and host
 * cycles per execution, the latency its exits add, a `coalesce` site's batch and wait
 * (core/src/analysis/pathReport.ts formats them).
 */
import type { Span } from "../../../core/src/index";
import { pathFigureLines } from "../../../core/src/index";
import { escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";

/** The markdown and the header's span, or undefined when `offset` is not on a source's header. */
export function pathHoverAt(
  model: DocumentModel,
  offset: number,
): { markdown: string; span: Span } | undefined {
  const { program, text } = model.analysis;
  for (const guest of program.guests.values()) {
    if (offset < guest.span.start || offset > guest.span.end) continue;
    for (const source of guest.sources) {
      if (offset < source.span.start || offset > source.span.end) continue;
      const brace = text.indexOf("{", source.span.start);
      const headerEnd = brace < 0 || brace > source.span.end ? source.span.end : brace;
      if (offset >= headerEnd) return undefined;
      const estimate = model.analysis.estimates.get(guest.name);
      const path = estimate?.paths.find((p) => p.name === source.name && p.kind === source.kind);
      if (!estimate || !path) return undefined;
      const lines = pathFigureLines(path, estimate.vcpus, estimate.target.hz).map(escapeMarkdown);
      return {
        markdown: [
          `**${source.kind} ${escapeMarkdown(source.name)}** — per execution (estimate)`,
          ...lines,
        ].join("\n\n"),
        span: { start: source.span.start, end: headerEnd },
      };
    }
  }
  return undefined;
}
