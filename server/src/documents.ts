/**
 * Per-document analysis state. Every request reads the analysis of the document's *current*
 * version: when the debounced analysis has not run yet, the request runs it (once per version:
 * the debounce then publishes that same analysis instead of analysing again). Only publishing
 * diagnostics is debounced, so the client does not get a diagnostics flicker per keystroke; a
 * newer edit restarts the delay and a superseded version is never published. The core's
 * `analyze` is synchronous, so no two analyses of one version can be in flight.
 */
import type { TextDocument } from "vscode-languageserver-textdocument";
import { type Analysis, analyze, DecisionStore, LineMap } from "../../core/src/index";
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
  /** The one analysis kept per document: of the current version, or of an older one. */
  current?: AnalyzedVersion;
  /** The analysis that went to the listener last (each analysis goes out once). */
  published?: AnalyzedVersion;
  /** Exit decisions shared from one version's analysis to the next (core AnalyzeOptions). */
  decisions: DecisionStore;
}

/** Called once per published version of a document, after the debounce (or at once on open). */
export type AnalysisListener = (uri: string, analyzed: AnalyzedVersion) => void;

const now: () => number = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

export class AnalysisCache {
  private readonly tracked = new Map<string, Tracked>();
  options: AnalysisOptions = {};
  /** Analyses run so far (tests and benches read it: one per version, whoever asked first). */
  analysesRun = 0;

  constructor(
    private readonly debounceMs: number,
    private readonly onAnalyzed: AnalysisListener,
    private readonly log: (message: string) => void,
  ) {}

  /**
   * A document was opened or changed: publish its analysis after the debounce delay (or now).
   * The analysis itself runs when the delay ends, or earlier if a request needs it.
   */
  schedule(document: TextDocument, immediately = false): void {
    let entry = this.tracked.get(document.uri);
    if (!entry) {
      entry = { document, decisions: new DecisionStore() };
      this.tracked.set(document.uri, entry);
    }
    entry.document = document;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (immediately) {
      this.publish(document.uri);
      return;
    }
    const uri = document.uri;
    entry.timer = setTimeout(() => {
      const tracked = this.tracked.get(uri);
      if (!tracked) return;
      tracked.timer = undefined;
      this.publish(uri);
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

  /** Re-analyse and re-publish everything (settings changed). */
  invalidateAll(): void {
    for (const entry of this.tracked.values()) {
      entry.current = undefined;
      entry.published = undefined;
      this.schedule(entry.document, true);
    }
  }

  /** True when a debounced publication is pending for `uri` (its analysis may have run). */
  pending(uri: string): boolean {
    return this.tracked.get(uri)?.timer !== undefined;
  }

  /** The analysis of the document's current version if it has run, without running it. */
  ready(uri: string): AnalyzedVersion | undefined {
    const entry = this.tracked.get(uri);
    const current = entry?.current;
    // The text is compared too (the same string when unchanged: a pointer check), for a client
    // that sends a change without a new version number.
    return current &&
      current.version === entry.document.version &&
      current.analysis.text === entry.document.getText()
      ? current
      : undefined;
  }

  /**
   * The analysis of the document's current version, running it now if nobody has yet (a request
   * must never answer from stale text). It does not publish: the pending debounce does, with
   * this same analysis.
   */
  ensure(uri: string): AnalyzedVersion | undefined {
    const entry = this.tracked.get(uri);
    if (!entry) return undefined;
    const ready = this.ready(uri);
    if (ready) return ready;
    // The previous version's analysis (and its position index) is dropped before the new one
    // is built: one analysis per document is alive at a time.
    entry.current = undefined;
    entry.published = undefined;
    const analyzed = this.run(entry.document, entry.decisions);
    entry.current = analyzed;
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

  /** Analyse the current version if needed and hand it to the listener, once per version. */
  private publish(uri: string): void {
    const analyzed = this.ensure(uri);
    const entry = this.tracked.get(uri);
    if (!analyzed || !entry || entry.published === analyzed) return;
    entry.published = analyzed;
    this.onAnalyzed(uri, analyzed);
  }

  private run(document: TextDocument, decisions: DecisionStore): AnalyzedVersion {
    const text = document.getText();
    const started = now();
    this.analysesRun++;
    try {
      const analysis = analyze(
        text,
        this.options.defaultTarget ? { defaultTarget: this.options.defaultTarget, decisions } : { decisions },
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
