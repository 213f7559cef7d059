/**
 * Per-document analysis state: debounced re-analysis after edits (a newer edit cancels the stale
 * pending run), a synchronous catch-up when a request needs the current version, and the cached
 * {@link DocumentModel} every request reads. The core's `analyze` is synchronous; "cancelling"
 * stale work means never starting it, and never publishing results of a superseded version.
 */
import type { TextDocument } from "vscode-languageserver-textdocument";
import { type Analysis, analyze, LineMap } from "../../core/src/index";
import { DocumentModel } from "./model";

export interface AnalysisOptions {
  defaultTarget?: string;
}

export interface AnalyzedVersion {
  version: number;
  analysis: Analysis;
  /** Milliseconds the core took. */
  elapsedMs: number;
  /** Built on first use by a request: publishing diagnostics does not need it. */
  model?: DocumentModel;
  /** Set when the core threw: the analysis is an empty placeholder and this is the message. */
  internalError?: string;
}

interface Tracked {
  document: TextDocument;
  timer?: ReturnType<typeof setTimeout>;
  current?: AnalyzedVersion;
}

/** Called after each analysis of the latest version of a document. */
export type AnalysisListener = (uri: string, analyzed: AnalyzedVersion) => void;

const now: () => number = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

export class AnalysisCache {
  private readonly tracked = new Map<string, Tracked>();
  options: AnalysisOptions = {};

  constructor(
    private readonly debounceMs: number,
    private readonly onAnalyzed: AnalysisListener,
    private readonly log: (message: string) => void,
  ) {}

  /** A document was opened or changed: analyse it after the debounce delay. */
  schedule(document: TextDocument, immediately = false): void {
    let entry = this.tracked.get(document.uri);
    if (!entry) {
      entry = { document };
      this.tracked.set(document.uri, entry);
    }
    entry.document = document;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (immediately) {
      this.ensure(document.uri);
      return;
    }
    entry.timer = setTimeout(() => {
      const tracked = this.tracked.get(document.uri);
      if (!tracked) return;
      tracked.timer = undefined;
      this.ensure(document.uri);
    }, this.debounceMs);
  }

  close(uri: string): void {
    const entry = this.tracked.get(uri);
    if (entry?.timer !== undefined) clearTimeout(entry.timer);
    this.tracked.delete(uri);
  }

  uris(): string[] {
    return [...this.tracked.keys()];
  }

  document(uri: string): TextDocument | undefined {
    return this.tracked.get(uri)?.document;
  }

  /** Re-analyse everything (settings changed). */
  invalidateAll(): void {
    for (const entry of this.tracked.values()) {
      entry.current = undefined;
      this.schedule(entry.document, true);
    }
  }

  /**
   * The analysis of the document's current version, running it now if the debounced run has not
   * happened yet (a request must never answer from stale offsets).
   */
  ensure(uri: string): AnalyzedVersion | undefined {
    const entry = this.tracked.get(uri);
    if (!entry) return undefined;
    const version = entry.document.version;
    if (entry.current && entry.current.version === version) return entry.current;
    if (entry.timer !== undefined) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    const analyzed = this.run(entry.document);
    entry.current = analyzed;
    this.onAnalyzed(uri, analyzed);
    return analyzed;
  }

  /** The model (position index) of the current version. */
  model(uri: string): DocumentModel | undefined {
    const analyzed = this.ensure(uri);
    if (!analyzed) return undefined;
    if (!analyzed.model) {
      try {
        analyzed.model = new DocumentModel(analyzed.analysis);
      } catch (error) {
        this.log(`trapline: indexing ${uri} failed: ${describeError(error)}`);
        return undefined;
      }
    }
    return analyzed.model;
  }

  /**
   * The newest analysis of the document without running one: the current version's when it has
   * been analysed, else the previous one's (`current` false). For completion, which reads the
   * text itself and only names from the analysis, so typing never waits for (or forces) the
   * analysis that the debounce runs anyway, nor builds a position index.
   */
  latestAnalysis(uri: string): { analysis: Analysis; current: boolean } | undefined {
    const entry = this.tracked.get(uri);
    if (!entry) return undefined;
    if (entry.current)
      return { analysis: entry.current.analysis, current: entry.current.version === entry.document.version };
    const analyzed = this.ensure(uri);
    return analyzed ? { analysis: analyzed.analysis, current: true } : undefined;
  }

  private run(document: TextDocument): AnalyzedVersion {
    const text = document.getText();
    const started = now();
    try {
      const analysis = analyze(
        text,
        this.options.defaultTarget ? { defaultTarget: this.options.defaultTarget } : {},
      );
      return { version: document.version, analysis, elapsedMs: now() - started };
    } catch (error) {
      // The server must survive any text: log the core's failure, show it as one diagnostic.
      const message = describeError(error);
      this.log(`trapline: analysis of ${document.uri} (version ${document.version}) threw: ${message}`);
      return {
        version: document.version,
        analysis: emptyAnalysis(text, message),
        elapsedMs: now() - started,
        internalError: message,
      };
    }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Stand-in when the core failed: no program elements, one diagnostic saying so. */
function emptyAnalysis(text: string, message: string): Analysis {
  const firstLine = message.split("\n", 1)[0] ?? message;
  // Built lazily from the real facade on an empty file, so the shape always matches the core's.
  const base = analyze("", {});
  return {
    ...base,
    text,
    lines: new LineMap(text),
    diagnostics: [
      {
        severity: "error",
        code: "TL-INTERNAL",
        message: `internal error in the Trapline analyser (please report): ${firstLine}`,
        span: { start: 0, end: Math.min(text.length, text.indexOf("\n") >>> 0) },
      },
    ],
  };
}
