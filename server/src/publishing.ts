/**
 * Analysis scheduling and diagnostics publication: the document cache (debounced analysis, see
 * documents.ts), the LSP diagnostics computed once per version, push publication
 * (`textDocument/publishDiagnostics` and the file-status notification) and the pull model's
 * result ids (`textDocument/diagnostic` answers `unchanged` when nothing changed).
 */
import type {
  Connection,
  DocumentDiagnosticReport,
  Diagnostic as LspDiagnostic,
  TextDocuments,
} from "vscode-languageserver";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic } from "../../core/src/index";
import { type ClientDiagnosticSupport, toLspDiagnostic } from "./convert";
import { AnalysisCache, type AnalysisOptions, type AnalyzedVersion, describeError } from "./documents";
import { fileStatus } from "./features/reports";
import { FileStatusNotification } from "./protocol";

/** What the client said at `initialize` that decides how diagnostics reach it. */
export interface PublishingMode {
  /** The client pulls diagnostics (`textDocument/diagnostic`) instead of receiving them. */
  pull: boolean;
  support: ClientDiagnosticSupport;
}

export class Publishing {
  readonly cache: AnalysisCache;
  mode: PublishingMode = {
    pull: false,
    support: { relatedInformation: false, tags: false, codeDescription: false },
  };
  /** The LSP diagnostics last computed per URI and version, reused by pull requests and code actions. */
  private readonly published = new Map<
    string,
    { version: number; generation: number; diagnostics: LspDiagnostic[] }
  >();
  /**
   * Diagnostics beyond the analysis' own (the measurements', features/measured.ts), and the
   * generation that changes when they may have: converted diagnostics are cached per version
   * and generation.
   */
  extra?: {
    diagnostics(uri: string, analyzed: AnalyzedVersion): Diagnostic[];
    generation(): number;
  };
  /**
   * Pull diagnostics: the last report per document with a result id; when a new version's
   * diagnostics are the same (same ranges, messages, fixes), the client that sends that id back
   * gets `unchanged` instead of every diagnostic again.
   */
  private readonly pullResults = new Map<string, { resultId: string; content: string }>();
  private pullResultCounter = 0;

  constructor(
    private readonly connection: Connection,
    debounceMs: number,
    private readonly log: (message: string) => void,
  ) {
    this.cache = new AnalysisCache(debounceMs, (uri, analyzed) => this.publish(uri, analyzed), log);
  }

  /** The LSP form of the diagnostics of `analyzed` (converted once per version). */
  lspDiagnostics(uri: string, analyzed: AnalyzedVersion): LspDiagnostic[] {
    const generation = this.extra?.generation() ?? 0;
    const cached = this.published.get(uri);
    if (cached && cached.version === analyzed.version && cached.generation === generation)
      return cached.diagnostics;
    const { lines } = analyzed.analysis;
    const converted = this.coreDiagnostics(uri, analyzed).map((d) =>
      toLspDiagnostic(uri, lines, d, this.mode.support),
    );
    this.published.set(uri, { version: analyzed.version, generation, diagnostics: converted });
    return converted;
  }

  /** The analysis' diagnostics and the extra ones, in the core's form. */
  coreDiagnostics(uri: string, analyzed: AnalyzedVersion): Diagnostic[] {
    const own = analyzed.analysis.diagnostics;
    if (!this.extra) return own;
    try {
      const more = this.extra.diagnostics(uri, analyzed);
      return more.length ? [...own, ...more] : own;
    } catch (error) {
      this.log(`trapline: extra diagnostics of ${uri} failed: ${describeError(error)}`);
      return own;
    }
  }

  /**
   * The extra diagnostics of `uri` changed (a trace was read): publish again, at the analysed
   * version, or ask a pulling client to pull again.
   */
  republish(uri: string): void {
    if (this.mode.pull) {
      this.connection.languages.diagnostics.refresh().catch(() => undefined);
      return;
    }
    const analyzed = this.cache.ready(uri);
    if (!analyzed || this.cache.pending(uri)) return; // the pending publication will carry them
    try {
      this.connection.sendDiagnostics({
        uri,
        version: analyzed.version,
        diagnostics: this.lspDiagnostics(uri, analyzed),
      });
    } catch (error) {
      this.log(`trapline: republishing ${uri} failed: ${describeError(error)}`);
    }
  }

  /**
   * Follows the open documents: TextDocuments fires onDidChangeContent on open and on every
   * change (and updates the same TextDocument object in place): a document the cache does not
   * know yet is new, analyse it at once; later changes are debounced. `onClose` lets the caller
   * drop its own per-document state.
   */
  listen(documents: TextDocuments<TextDocument>, onClose: (uri: string) => void): void {
    documents.onDidChangeContent((event) => {
      this.cache.schedule(event.document, this.cache.document(event.document.uri) === undefined);
    });
    documents.onDidClose((event) => {
      const uri = event.document.uri;
      this.cache.close(uri);
      this.published.delete(uri);
      this.pullResults.delete(uri);
      onClose(uri);
      if (!this.mode.pull) this.connection.sendDiagnostics({ uri, diagnostics: [] });
    });
  }

  /** Analysis options changed: re-analyse and re-publish every open document. */
  reanalyzeAll(options: AnalysisOptions): void {
    this.cache.options = options;
    this.published.clear();
    this.pullResults.clear();
    this.cache.invalidateAll();
    if (this.mode.pull) this.connection.languages.diagnostics.refresh().catch(() => undefined);
  }

  /** The answer to `textDocument/diagnostic` for `uri`. */
  pullReport(uri: string, previousResultId: string | undefined): DocumentDiagnosticReport {
    const analyzed = this.cache.ensure(uri);
    const items = analyzed ? this.lspDiagnostics(uri, analyzed) : [];
    const content = JSON.stringify(items);
    let last = this.pullResults.get(uri);
    if (!last || last.content !== content) {
      last = { resultId: `${++this.pullResultCounter}`, content };
      this.pullResults.set(uri, last);
    } else if (previousResultId === last.resultId) {
      return { kind: "unchanged", resultId: last.resultId };
    }
    return { kind: "full", resultId: last.resultId, items };
  }

  private publish(uri: string, analyzed: AnalyzedVersion): void {
    try {
      if (!this.mode.pull) {
        this.connection.sendDiagnostics({
          uri,
          version: analyzed.version,
          diagnostics: this.lspDiagnostics(uri, analyzed),
        });
      }
      this.connection.sendNotification(
        FileStatusNotification,
        fileStatus({ analysis: analyzed.analysis }, uri, analyzed.version, analyzed.elapsedMs),
      );
    } catch (error) {
      this.log(`trapline: publishing results for ${uri} failed: ${describeError(error)}`);
    }
  }
}
