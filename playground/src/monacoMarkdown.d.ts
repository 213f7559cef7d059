/**
 * The part of monaco's internal Markdown renderer the report pane uses
 * (monaco-editor/esm/vs/base/browser/markdownRenderer.js, the renderer behind monaco's hovers,
 * already in the page bundle). monaco ships no declaration for it.
 */
declare module "monaco-editor/base/browser/markdownRenderer" {
  export interface MarkdownSource {
    value: string;
    /** Command links allowed; never set by the playground. */
    isTrusted?: boolean;
    /** Raw HTML in the Markdown rendered as HTML; unset, it is escaped to text. */
    supportHtml?: boolean;
    supportThemeIcons?: boolean;
  }
  export interface RenderedMarkdown {
    readonly element: HTMLElement;
    dispose(): void;
  }
  export function renderMarkdown(
    markdown: MarkdownSource,
    options?: Record<string, unknown>,
    target?: HTMLElement,
  ): RenderedMarkdown;
}
