/**
 * Markdown from the language server (the estimate report) rendered into the page with monaco's
 * own renderer, the one its hovers use: marked (GitHub tables) then DOMPurify with monaco's
 * allow-list of tags and attributes. The report is not trusted: raw HTML in it is shown as text
 * (`supportHtml` unset with `replaceWithPlaintext`; without the latter monaco drops it silently),
 * command links are dropped (`isTrusted` unset), and the sanitizer removes scripts, event
 * handlers and `javascript:` URLs whatever the renderer produced. No second Markdown library:
 * this one is already in the bundle.
 */
import { renderMarkdown } from "monaco-editor/base/browser/markdownRenderer";

/** Replaces `target`'s content with `markdown` rendered; dispose before rendering again. */
export function renderUntrustedMarkdown(target: HTMLElement, markdown: string): { dispose(): void } {
  return renderMarkdown(
    { value: markdown, isTrusted: false, supportHtml: false, supportThemeIcons: false },
    { sanitizerConfig: { replaceWithPlaintext: true } },
    target,
  );
}
