/** `trapline check FILE… [--json]`: diagnostics in the contract's text or JSON form. */
import { type Analysis, analyze, type Diagnostic, type LineMap } from "../../core/src/index";
import { type Command, EXIT_DIAGNOSTICS, EXIT_OK, readSource, UsageError } from "./command";

/** `FILE:LINE:COL: SEVERITY CODE: MESSAGE`, 1-based line and column. */
export function formatDiagnosticLine(file: string, lines: LineMap, diagnostic: Diagnostic): string {
  const { line, character } = lines.positionAt(diagnostic.span.start);
  const message = diagnostic.message.replace(/\r?\n/g, " ");
  return `${file}:${line + 1}:${character + 1}: ${diagnostic.severity} ${diagnostic.code}: ${message}`;
}

/** The JSON form of one diagnostic: 0-based ranges, plus related information and fixes. */
export function diagnosticJson(lines: LineMap, diagnostic: Diagnostic): Record<string, unknown> {
  const range = (span: { start: number; end: number }) => ({
    start: lines.positionAt(span.start),
    end: lines.positionAt(span.end),
  });
  const json: Record<string, unknown> = {
    severity: diagnostic.severity,
    code: diagnostic.code,
    message: diagnostic.message,
    range: range(diagnostic.span),
  };
  if (diagnostic.reference) json.reference = diagnostic.reference;
  if (diagnostic.related?.length) {
    json.related = diagnostic.related.map((r) => ({ message: r.message, range: range(r.span) }));
  }
  if (diagnostic.fixes?.length) {
    json.fixes = diagnostic.fixes.map((f) => ({
      title: f.title,
      preferred: f.preferred === true,
      edits: f.edits.map((e) => ({ range: range(e.span), newText: e.newText })),
    }));
  }
  if (diagnostic.tags?.length) json.tags = diagnostic.tags;
  return json;
}

export function hasErrors(analysis: Analysis): boolean {
  return analysis.diagnostics.some((d) => d.severity === "error");
}

export const checkCommand: Command = {
  name: "check",
  summary: "report diagnostics (VM-entry checks, capabilities, unhandled exits, budgets)",
  usage: "check FILE… [--json]",
  options: { json: { type: "boolean" } },
  help: '  --json   print {"files":[{"file","diagnostics":[…]}]} with 0-based ranges\n\nExit status: 0 no errors, 1 errors in any file, 2 bad usage or an unreadable file.',
  run({ values, positionals }, io) {
    if (positionals.length === 0) throw new UsageError("check needs at least one FILE");
    // Read every file first: an unreadable one is a usage error before any output.
    const sources = positionals.map((file) => ({ file, text: readSource(io, file) }));
    let anyError = false;
    const results = sources.map(({ file, text }) => {
      const analysis = analyze(text);
      if (hasErrors(analysis)) anyError = true;
      return { file, analysis };
    });
    if (values.json) {
      const json = {
        files: results.map(({ file, analysis }) => ({
          file,
          diagnostics: analysis.diagnostics.map((d) => diagnosticJson(analysis.lines, d)),
        })),
      };
      io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      const out: string[] = [];
      for (const { file, analysis } of results) {
        for (const d of analysis.diagnostics) out.push(formatDiagnosticLine(file, analysis.lines, d));
      }
      if (out.length > 0) io.stdout(`${out.join("\n")}\n`);
    }
    return anyError ? EXIT_DIAGNOSTICS : EXIT_OK;
  },
};
