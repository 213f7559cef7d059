/**
 * Text helpers every hover module shares: the word under the cursor, an operation's title, the
 * transition rows of an exit-cost table.
 */
import type { Span } from "../../../core/src/index";
import { formatInteger } from "../../../core/src/util/format";
import { escapeMarkdown } from "../markdown";

export function wordAt(text: string, offset: number): { text: string; span: Span } | undefined {
  const isWord = (c: number) =>
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 35; /* # */
  let start = offset;
  while (start > 0 && isWord(text.charCodeAt(start - 1))) start--;
  let end = offset;
  while (end < text.length && isWord(text.charCodeAt(end))) end++;
  if (start === end) return undefined;
  return { text: text.slice(start, end), span: { start, end } };
}

/** The first line of an operation's source text, for labels ("mmio write 0xfebf_0018"). */
export function opTitle(text: string, span: Span): string {
  const source = text.slice(span.start, Math.min(span.end, span.start + 60));
  const line = source.split(/[\r\n{]/, 1)[0]!.trim();
  return line.length ? line : source.trim();
}

/** The transition's terms as indented table rows (only when there is more than the round trip). */
export function transitionRows(rows: { label: string; cycles: number }[]): string[] {
  if (rows.length <= 1) return [];
  return rows.map((r) => `| &nbsp;&nbsp;${escapeMarkdown(r.label)} | ${formatInteger(r.cycles)} |`);
}
