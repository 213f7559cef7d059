/**
 * Guest-observed time in hovers (docs/estimator.md "Guest-observed time"): on a path's name,
 * what RDTSC in the guest measures per execution beside what the host spends on its exits; the
 * same lines in the guest's hover.
 */
import { guestTime, type PathGuestTime } from "../../../core/src/index";
import { formatHz, formatInteger, formatSeconds, formatSignificant } from "../../../core/src/util/format";
import { escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";

/** "guest sees 3.91 µs (11,743 TSC ticks), host spends 1.91 µs on its exits; its own work 2 µs". */
export function pathTimeLine(p: PathGuestTime): string {
  return `guest sees **${formatSeconds(p.guestObservedNs / 1e9)}** (${formatInteger(p.guestObservedTicks)} TSC ticks), host spends **${formatSeconds(p.hostExitNs / 1e9)}** on its exits; its own work ${formatSeconds(p.guestWorkNs / 1e9)}${p.exitingTscReads ? " · its RDTSCs exit" : ""}`;
}

/** The guest-time lines of a guest's hover (empty without paths). */
export function guestTimeLines(model: DocumentModel, guestName: string): string[] {
  const estimate = model.analysis.estimates.get(guestName);
  const t = estimate ? guestTime(model.analysis.program, estimate) : undefined;
  if (!t || t.paths.length === 0) return [];
  const clock = `${t.multiplier === 1 ? "host TSC" : `host TSC × ${formatSignificant(t.multiplier)}`}${t.offset !== undefined ? ` + ${t.offset}` : ""}, ${formatHz(t.guestTscHz)}`;
  const lines = [
    "",
    `Guest-observed time per execution (guest TSC = ${clock}; exit time is visible: KVM does not subtract it):`,
  ];
  for (const p of t.paths) lines.push(`- ${p.kind} ${escapeMarkdown(p.name)}: ${pathTimeLine(p)}`);
  return lines;
}

/** The hover on a guest source's name (`path NAME`, `irq NAME`): its guest-observed time. */
export function sourceNameHover(
  model: DocumentModel,
  offset: number,
): { markdown: string; span: { start: number; end: number } } | undefined {
  const program = model.analysis.program;
  for (const guest of program.guests.values()) {
    if (offset < guest.span.start || offset > guest.span.end) continue;
    for (const source of guest.sources) {
      const span = source.nameSpan;
      if (offset < span.start || offset > span.end) continue;
      const estimate = model.analysis.estimates.get(guest.name);
      const t = estimate ? guestTime(program, estimate) : undefined;
      const p = t?.paths.find((x) => x.span.start === source.span.start);
      if (!p) return undefined;
      return {
        markdown: `**${source.kind} ${escapeMarkdown(source.name)}** (guest ${escapeMarkdown(guest.name)})\n\n${pathTimeLine(p)}\n\n_RDTSC differences in the guest include every exit (the TSC counts on in VMX root operation; SDM Vol. 3C §26.3, KVM kvm_vcpu_write_tsc_offset)._`,
        span,
      };
    }
  }
  return undefined;
}
