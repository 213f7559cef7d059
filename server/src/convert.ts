/**
 * Conversions between the core's offset-based vocabulary (Span, Diagnostic, CodeFix) and the
 * LSP's line/character ranges. The core never sees LSP types; the server never sees anything
 * but these helpers' outputs.
 */
import {
  type CodeAction,
  CodeActionKind,
  DiagnosticSeverity,
  DiagnosticTag,
  type Diagnostic as LspDiagnostic,
  type TextEdit as LspTextEdit,
  type Range,
} from "vscode-languageserver";
import type { CodeFix, Diagnostic, LineMap, Severity, Span } from "../../core/src/index";

export function spanToRange(lines: LineMap, span: Span): Range {
  return { start: lines.positionAt(span.start), end: lines.positionAt(span.end) };
}

export function rangeToSpan(lines: LineMap, range: Range): Span {
  return { start: lines.offsetAt(range.start), end: lines.offsetAt(range.end) };
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** What a published diagnostic carries in `data`: its fixes, so code actions need no re-analysis. */
export interface DiagnosticData {
  fixes: { title: string; preferred?: boolean; edits: LspTextEdit[] }[];
}

export interface ClientDiagnosticSupport {
  relatedInformation: boolean;
  tags: boolean;
  codeDescription: boolean;
}

export function toLspDiagnostic(
  uri: string,
  lines: LineMap,
  diagnostic: Diagnostic,
  support: ClientDiagnosticSupport,
): LspDiagnostic {
  const result: LspDiagnostic = {
    range: spanToRange(lines, diagnostic.span),
    severity: SEVERITY[diagnostic.severity] ?? DiagnosticSeverity.Error,
    code: diagnostic.code,
    source: "trapline",
    message: diagnostic.reference ? `${diagnostic.message} (${diagnostic.reference})` : diagnostic.message,
  };
  if (diagnostic.related?.length && support.relatedInformation) {
    result.relatedInformation = diagnostic.related.map((related) => ({
      location: { uri, range: spanToRange(lines, related.span) },
      message: related.message,
    }));
  }
  if (diagnostic.tags?.length && support.tags) {
    result.tags = diagnostic.tags.map((tag) =>
      tag === "unnecessary" ? DiagnosticTag.Unnecessary : DiagnosticTag.Deprecated,
    );
  }
  if (diagnostic.fixes?.length) {
    const data: DiagnosticData = {
      fixes: diagnostic.fixes.map((fix) => ({
        title: fix.title,
        preferred: fix.preferred,
        edits: fix.edits.map((edit) => ({ range: spanToRange(lines, edit.span), newText: edit.newText })),
      })),
    };
    result.data = data;
  }
  return result;
}

/** Code actions for one published diagnostic from the fixes kept in its `data`. */
export function fixesToCodeActions(uri: string, diagnostic: LspDiagnostic): CodeAction[] {
  const data = diagnostic.data as DiagnosticData | undefined;
  if (!data || !Array.isArray(data.fixes)) return [];
  return data.fixes.map((fix) => ({
    title: fix.title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [diagnostic],
    isPreferred: fix.preferred === true,
    edit: { changes: { [uri]: fix.edits } },
  }));
}

/** Code actions straight from core fixes (for clients that do not echo `data` back). */
export function coreFixToCodeAction(
  uri: string,
  lines: LineMap,
  fix: CodeFix,
  diagnostic: LspDiagnostic,
): CodeAction {
  return {
    title: fix.title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [diagnostic],
    isPreferred: fix.preferred === true,
    edit: {
      changes: {
        [uri]: fix.edits.map((edit) => ({ range: spanToRange(lines, edit.span), newText: edit.newText })),
      },
    },
  };
}

export function rangesOverlap(a: Range, b: Range): boolean {
  const before = (p: Range["start"], q: Range["start"]) =>
    p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}
