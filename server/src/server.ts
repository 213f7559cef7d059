/**
 * The Trapline language server: protocol wiring over any `Connection` (stdio/IPC in node.ts, a
 * Web Worker in browser.ts). Every handler is a thin adapter: convert positions, read the cached
 * analysis, call a feature function, convert back. No handler lets an exception escape: failures
 * are logged and answered with an empty result, so the server survives any text.
 */
import {
  type CancellationToken,
  type CodeAction,
  CodeActionRequest,
  CodeLensRequest,
  CompletionRequest,
  type Connection,
  DefinitionRequest,
  type DiagnosticServerCancellationData,
  DidChangeConfigurationNotification,
  type DocumentDiagnosticParams,
  type DocumentDiagnosticReport,
  DocumentDiagnosticRequest,
  DocumentSymbolRequest,
  ErrorCodes,
  FoldingRangeRequest,
  HoverRequest,
  type InitializeParams,
  type InitializeResult,
  InlayHintRequest,
  LSPErrorCodes,
  type Diagnostic as LspDiagnostic,
  type Position,
  PrepareRenameRequest,
  ReferencesRequest,
  RenameRequest,
  type RequestHandler,
  ResponseError,
  type SemanticTokens,
  type SemanticTokensDelta,
  SemanticTokensDeltaRequest,
  SemanticTokensRangeRequest,
  SemanticTokensRequest,
  TextDocumentSyncKind,
  TextDocuments,
} from "vscode-languageserver";
import { TextDocument } from "vscode-languageserver-textdocument";
import { PROFILES } from "../../core/src/index";
import {
  type ClientDiagnosticSupport,
  coreFixToCodeAction,
  fixesToCodeActions,
  rangesOverlap,
  rangeToSpan,
  spanToRange,
  toLspDiagnostic,
} from "./convert";
import { AnalysisCache, type AnalyzedVersion, describeError } from "./documents";
import { completeAt } from "./features/completion";
import {
  codeLenses,
  inlayHints,
  SEMANTIC_LEGEND,
  semanticTokens,
  semanticTokensEdits,
} from "./features/decorations";
import { hoverAt } from "./features/hover";
import {
  definitionAt,
  documentSymbols,
  foldingRanges,
  prepareRenameAt,
  referencesAt,
  renameAt,
} from "./features/navigation";
import { compareConfigurations, estimateReport, fileStatus } from "./features/reports";
import type { DocumentModel } from "./model";
import {
  checkedOffset,
  type EchoedDiagnostic,
  invalidParams,
  readCodeAction,
  readCustom,
  readDocument,
  readDocumentPosition,
  readDocumentRange,
  readPreviousResultId,
  readReferences,
  readRename,
} from "./params";
import {
  CompareRequest,
  EstimateReportRequest,
  FileInfoRequest,
  FileStatusNotification,
  type TraplineInitializationOptions,
  type TraplineSettings,
} from "./protocol";

/** Delay between the last edit and its analysis unless ServerOptions say otherwise. */
export const DEFAULT_DEBOUNCE_MS = 50;

export interface ServerOptions {
  /** Delay between the last edit and the analysis; typescript-language-server uses 50 ms. */
  debounceMs?: number;
}

/** What the client may pass as `initializationOptions` (defined with the protocol). */
export type { TraplineInitializationOptions } from "./protocol";

export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const documents = new TextDocuments(TextDocument);
  let pullDiagnostics = false;
  let configurationRequests = false;
  let diagnosticSupport: ClientDiagnosticSupport = {
    relatedInformation: false,
    tags: false,
    codeDescription: false,
  };
  let lensOptions = { simulateCommand: false, estimateCommand: false };
  let settings: TraplineSettings = {};

  const log = (message: string) => {
    try {
      connection.console.log(message);
    } catch {
      // The connection itself is gone; nothing left to tell.
    }
  };

  /** The LSP diagnostics last computed per URI and version, reused by pull requests and code actions. */
  const published = new Map<string, { version: number; diagnostics: LspDiagnostic[] }>();

  const lspDiagnostics = (uri: string, analyzed: AnalyzedVersion): LspDiagnostic[] => {
    const cached = published.get(uri);
    if (cached && cached.version === analyzed.version) return cached.diagnostics;
    const { lines, diagnostics } = analyzed.analysis;
    const converted = diagnostics.map((d) => toLspDiagnostic(uri, lines, d, diagnosticSupport));
    published.set(uri, { version: analyzed.version, diagnostics: converted });
    return converted;
  };

  const cache = new AnalysisCache(
    options.debounceMs ?? DEFAULT_DEBOUNCE_MS,
    (uri, analyzed) => {
      try {
        if (!pullDiagnostics) {
          connection.sendDiagnostics({
            uri,
            version: analyzed.version,
            diagnostics: lspDiagnostics(uri, analyzed),
          });
        }
        connection.sendNotification(
          FileStatusNotification,
          fileStatus({ analysis: analyzed.analysis }, uri, analyzed.version, analyzed.elapsedMs),
        );
      } catch (error) {
        log(`trapline: publishing results for ${uri} failed: ${describeError(error)}`);
      }
    },
    log,
  );

  /** Set by `shutdown`: every later request is answered InvalidRequest, as the LSP says. */
  let shutDown = false;

  /**
   * Wraps a request handler: after `shutdown` the answer is InvalidRequest; the raw params are
   * read (and checked) by `read` first, a bad field answering InvalidParams; a cancelled request
   * answers RequestCancelled. Registered with `connection.onRequest` directly: the library's
   * `onHover`-style helpers read `params.workDoneToken` before any handler runs and threw on
   * `params: null`.
   */
  function guard<P, R>(
    method: string,
    read: (raw: unknown) => P,
    handler: (params: P, token: CancellationToken) => R | ResponseError<void>,
  ): (raw: unknown, token: CancellationToken) => R | ResponseError<void> {
    return (raw, token) => {
      if (shutDown) return new ResponseError(ErrorCodes.InvalidRequest, `${method}: the server is shut down`);
      // Params sent as an array are spread into the handler's arguments by vscode-jsonrpc: with
      // other than one element the token is not where it belongs.
      if (typeof (token as Partial<CancellationToken> | undefined)?.isCancellationRequested !== "boolean")
        return invalidParams(`${method}: params must be an object`);
      if (token.isCancellationRequested) return cancelled();
      let params: P;
      try {
        params = read(raw);
      } catch (error) {
        if (error instanceof ResponseError) return error as ResponseError<void>;
        throw error;
      }
      return handler(params, token);
    };
  }

  /**
   * Runs a request handler against the current model: answers "cancelled" when the client has
   * cancelled, `empty` when the document is not open or the feature throws (after logging); an
   * InvalidParams the handler throws (a position past the last line) is the answer.
   */
  function withModel<T>(
    name: string,
    uri: string,
    token: CancellationToken | undefined,
    empty: T,
    handler: (model: DocumentModel) => T,
  ): T | ResponseError<void> {
    if (token?.isCancellationRequested) return cancelled();
    try {
      const model = cache.model(uri);
      if (!model) return empty;
      if (token?.isCancellationRequested) return cancelled();
      return handler(model);
    } catch (error) {
      if (error instanceof ResponseError) return error as ResponseError<void>;
      log(`trapline: ${name} failed on ${uri}: ${describeError(error)}`);
      return empty;
    }
  }

  /** The offset of a request's position in the analysed text (InvalidParams past the last line). */
  const offsetIn = (model: DocumentModel, position: Position) =>
    checkedOffset(model.analysis.lines.lineCount, position, (p) => model.analysis.lines.offsetAt(p));

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const capabilities = params.capabilities;
    pullDiagnostics = capabilities.textDocument?.diagnostic !== undefined;
    configurationRequests = capabilities.workspace?.configuration === true;
    const publish = capabilities.textDocument?.publishDiagnostics;
    diagnosticSupport = {
      relatedInformation: publish?.relatedInformation === true || pullDiagnostics,
      tags: (publish?.tagSupport?.valueSet?.length ?? 0) > 0 || pullDiagnostics,
      codeDescription: publish?.codeDescriptionSupport === true,
    };
    const init = (params.initializationOptions ?? {}) as TraplineInitializationOptions;
    if (init.settings) settings = init.settings;
    cache.options = { defaultTarget: settings.defaultTarget || undefined };
    lensOptions = {
      simulateCommand: init.simulateCommand === true,
      estimateCommand: init.estimateCommand === true,
    };
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: [" ", "#"], resolveProvider: false },
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        codeActionProvider: { codeActionKinds: ["quickfix"] },
        codeLensProvider: { resolveProvider: false },
        inlayHintProvider: { resolveProvider: false },
        semanticTokensProvider: { legend: SEMANTIC_LEGEND, full: { delta: true }, range: true },
        ...(pullDiagnostics
          ? {
              diagnosticProvider: {
                interFileDependencies: false,
                workspaceDiagnostics: false,
                identifier: "trapline",
              },
            }
          : {}),
      },
      serverInfo: { name: "trapline", version: "0.1.0" },
    };
  });

  async function refreshSettings(pushed?: unknown): Promise<void> {
    let next: TraplineSettings | undefined;
    if (configurationRequests) {
      try {
        next = ((await connection.workspace.getConfiguration("trapline")) ?? {}) as TraplineSettings;
      } catch (error) {
        log(`trapline: reading settings failed: ${describeError(error)}`);
      }
    } else if (pushed && typeof pushed === "object" && "trapline" in pushed) {
      next = (pushed as { trapline: TraplineSettings }).trapline;
    }
    if (!next) return;
    // "" (VS Code's default for the setting) and absent both mean the documented default: a
    // change between them must not re-analyse every open document at the same version.
    const changed = (next.defaultTarget || undefined) !== (settings.defaultTarget || undefined);
    settings = next;
    if (changed) {
      cache.options = { defaultTarget: settings.defaultTarget || undefined };
      published.clear();
      pullResults.clear();
      cache.invalidateAll();
      if (pullDiagnostics) connection.languages.diagnostics.refresh().catch(() => undefined);
    }
  }

  connection.onInitialized(() => {
    if (configurationRequests) {
      connection.client
        .register(DidChangeConfigurationNotification.type, { section: "trapline" })
        .catch(() => undefined);
      void refreshSettings();
    }
  });
  connection.onDidChangeConfiguration((params) => void refreshSettings(params.settings));

  // TextDocuments fires onDidChangeContent on open and on every change (and updates the same
  // TextDocument object in place): a document the cache does not know yet is new, analyse it at
  // once; later changes are debounced.
  documents.onDidChangeContent((event) => {
    cache.schedule(event.document, cache.document(event.document.uri) === undefined);
  });
  documents.onDidClose((event) => {
    cache.close(event.document.uri);
    published.delete(event.document.uri);
    pullResults.delete(event.document.uri);
    tokenResults.delete(event.document.uri);
    if (!pullDiagnostics) connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  // Pull diagnostics: the last report per document with a result id; when a new version's
  // diagnostics are the same (same ranges, messages, fixes), the client that sends that id back
  // gets `unchanged` instead of every diagnostic again.
  const pullResults = new Map<string, { resultId: string; content: string }>();
  let pullResultCounter = 0;
  connection.onRequest(
    DocumentDiagnosticRequest.type,
    guard(DocumentDiagnosticRequest.method, readDocument, (params) => {
      const uri = params.uri;
      const previousResultId = readPreviousResultId(params, "previousResultId");
      const analyzed = cache.ensure(uri);
      const items = analyzed ? lspDiagnostics(uri, analyzed) : [];
      const content = JSON.stringify(items);
      let last = pullResults.get(uri);
      if (!last || last.content !== content) {
        last = { resultId: `${++pullResultCounter}`, content };
        pullResults.set(uri, last);
      } else if (previousResultId === last.resultId) {
        return { kind: "unchanged", resultId: last.resultId } satisfies DocumentDiagnosticReport;
      }
      return { kind: "full", resultId: last.resultId, items } satisfies DocumentDiagnosticReport;
    }) as RequestHandler<
      DocumentDiagnosticParams,
      DocumentDiagnosticReport,
      DiagnosticServerCancellationData
    >,
  );

  connection.onRequest(
    HoverRequest.type,
    guard(HoverRequest.method, readDocumentPosition, (params, token) =>
      withModel("hover", params.uri, token, null, (model) =>
        hoverAt(model, offsetIn(model, params.position)),
      ),
    ),
  );

  connection.onRequest(
    CompletionRequest.type,
    guard(CompletionRequest.method, readDocumentPosition, (params, token) => {
      const uri = params.uri;
      const document = cache.document(uri);
      if (!document) return [];
      const offset = checkedOffset(document.lineCount, params.position, (p) => document.offsetAt(p));
      try {
        // The analysis of the text as it is now: names, the target and the controls already
        // listed all come from the version the client just sent. When the debounce has not run
        // it yet, completion runs it (the debounce then publishes it) — only in the contexts
        // that need names or the target; a keyword completion reads the text alone.
        const ready = cache.ready(uri);
        if (ready) return completeAt(ready.analysis, document.getText(), offset);
        const items = completeAt(() => cache.ensure(uri)?.analysis, document.getText(), offset);
        if (token.isCancellationRequested) return cancelled();
        return items;
      } catch (error) {
        log(`trapline: completion failed on ${uri}: ${describeError(error)}`);
        return [];
      }
    }),
  );

  connection.onRequest(
    DefinitionRequest.type,
    guard(DefinitionRequest.method, readDocumentPosition, (params, token) =>
      withModel("definition", params.uri, token, null, (model) =>
        definitionAt(model, params.uri, offsetIn(model, params.position)),
      ),
    ),
  );
  connection.onRequest(
    ReferencesRequest.type,
    guard(ReferencesRequest.method, readReferences, (params, token) =>
      withModel("references", params.uri, token, [], (model) =>
        referencesAt(model, params.uri, offsetIn(model, params.position), params.includeDeclaration),
      ),
    ),
  );
  connection.onRequest(
    PrepareRenameRequest.type,
    guard(PrepareRenameRequest.method, readDocumentPosition, (params, token) =>
      withModel("prepareRename", params.uri, token, null, (model) =>
        prepareRenameAt(model, offsetIn(model, params.position)),
      ),
    ),
  );
  connection.onRequest(
    RenameRequest.type,
    guard(RenameRequest.method, readRename, (params, token) =>
      withModel("rename", params.uri, token, null, (model) =>
        renameAt(model, params.uri, offsetIn(model, params.position), params.newName),
      ),
    ),
  );
  connection.onRequest(
    DocumentSymbolRequest.type,
    guard(DocumentSymbolRequest.method, readDocument, (params, token) =>
      withModel("documentSymbol", params.uri, token, [], (model) => documentSymbols(model)),
    ),
  );
  connection.onRequest(
    FoldingRangeRequest.type,
    guard(FoldingRangeRequest.method, readDocument, (params) => {
      // Braces and comments of the current text: no analysis needed.
      const document = cache.document(params.uri);
      if (!document) return [];
      try {
        return foldingRanges(undefined, document.getText(), (offset) => document.positionAt(offset).line);
      } catch (error) {
        log(`trapline: folding failed: ${describeError(error)}`);
        return [];
      }
    }),
  );

  connection.onRequest(
    CodeActionRequest.type,
    guard(CodeActionRequest.method, readCodeAction, (params, token) =>
      withModel("codeAction", params.uri, token, [] as CodeAction[], (model) => {
        const uri = params.uri;
        const analyzed = cache.ensure(uri);
        const current = analyzed ? lspDiagnostics(uri, analyzed) : [];
        const actions: CodeAction[] = [];
        // The client echoes the diagnostics it shows, which may be those of an earlier version
        // (publication is debounced): only one the current version still has, at the same
        // range, gets fixes, and they are the current version's (edits at its offsets).
        for (const echoed of params.diagnostics) {
          const match = current.find((d) => sameDiagnostic(d, echoed));
          if (match) actions.push(...fixesToCodeActions(uri, match));
        }
        if (actions.length || params.diagnostics.some((d) => d.source === "trapline")) return actions;
        // The client sent no diagnostics of ours: the fixes of the current analysis in the range.
        const { lines, diagnostics } = model.analysis;
        for (const diagnostic of diagnostics) {
          if (!diagnostic.fixes?.length) continue;
          const range = spanToRange(lines, diagnostic.span);
          if (!rangesOverlap(range, params.range)) continue;
          const lsp = toLspDiagnostic(uri, lines, diagnostic, diagnosticSupport);
          for (const fix of diagnostic.fixes) actions.push(coreFixToCodeAction(uri, lines, fix, lsp));
        }
        return actions;
      }),
    ),
  );

  // The last full result per document, for `semanticTokens/full/delta`: after an edit the client
  // gets the few numbers that changed instead of every token of the file again.
  const tokenResults = new Map<string, { resultId: string; data: number[] }>();
  let tokenResultCounter = 0;
  const fullTokens = (uri: string, model: DocumentModel) => {
    const result = { resultId: String(++tokenResultCounter), data: semanticTokens(model).data };
    tokenResults.set(uri, result);
    return result;
  };
  connection.onRequest(
    SemanticTokensRequest.type,
    guard(SemanticTokensRequest.method, readDocument, (params, token) =>
      withModel<SemanticTokens>("semanticTokens", params.uri, token, { data: [] }, (model) =>
        fullTokens(params.uri, model),
      ),
    ),
  );
  connection.onRequest(
    SemanticTokensDeltaRequest.type,
    guard(SemanticTokensDeltaRequest.method, readDocument, (params, token) => {
      const previousResultId = readPreviousResultId(params, "previousResultId");
      return withModel<SemanticTokens | SemanticTokensDelta>(
        "semanticTokens/delta",
        params.uri,
        token,
        { data: [] },
        (model) => {
          const previous = tokenResults.get(params.uri);
          const next = fullTokens(params.uri, model);
          if (!previous || previous.resultId !== previousResultId) return next;
          return { resultId: next.resultId, edits: semanticTokensEdits(previous.data, next.data) };
        },
      );
    }),
  );
  connection.onRequest(
    SemanticTokensRangeRequest.type,
    guard(SemanticTokensRangeRequest.method, readDocumentRange, (params, token) =>
      withModel("semanticTokens/range", params.uri, token, { data: [] }, (model) =>
        semanticTokens(model, rangeToSpan(model.analysis.lines, params.range)),
      ),
    ),
  );
  connection.onRequest(
    InlayHintRequest.type,
    guard(InlayHintRequest.method, readDocumentRange, (params, token) =>
      withModel("inlayHint", params.uri, token, [], (model) =>
        settings.inlayHints === false
          ? []
          : inlayHints(model, rangeToSpan(model.analysis.lines, params.range)),
      ),
    ),
  );
  connection.onRequest(
    CodeLensRequest.type,
    guard(CodeLensRequest.method, readDocument, (params, token) =>
      withModel("codeLens", params.uri, token, [], (model) =>
        settings.codeLens === false ? [] : codeLenses(model, params.uri, lensOptions),
      ),
    ),
  );

  connection.onRequest(
    EstimateReportRequest,
    guard(
      EstimateReportRequest.method,
      (raw) => readCustom(raw, "optional"),
      (params, token) =>
        withModel("estimateReport", params.uri, token, { markdown: "The file is not open." }, (model) => ({
          markdown: estimateReport(model, fileNameOf(params.uri), params.guest),
        })),
    ),
  );
  connection.onRequest(
    CompareRequest,
    guard(
      CompareRequest.method,
      (raw) => readCustom(raw, "required"),
      (params, token) =>
        withModel(
          "compare",
          params.uri,
          token,
          { guest: params.guest!, rows: [], markdown: "The file is not open." },
          (model) => compareConfigurations(model, params.guest!, params.profiles),
        ),
    ),
  );
  connection.onRequest(
    FileInfoRequest,
    guard(
      FileInfoRequest.method,
      (raw) => readCustom(raw, "none"),
      (params, token) =>
        withModel(
          "fileInfo",
          params.uri,
          token,
          {
            guests: [],
            vmcs: [],
            profiles: [],
            target: { profile: "", declared: false, profileRange: undefined },
          },
          (model) => {
            const { program, lines } = model.analysis;
            return {
              guests: [...program.guests.keys()],
              vmcs: [...program.vmcs.keys()],
              profiles: PROFILES.map((p) => ({ name: p.name, displayName: p.displayName, year: p.year })),
              target: {
                profile: program.target.profile.name,
                declared: program.target.span !== undefined,
                profileRange: program.target.profileSpan
                  ? spanToRange(lines, program.target.profileSpan)
                  : undefined,
              },
            };
          },
        ),
    ),
  );

  connection.onShutdown(() => {
    // A second `shutdown` is a request after shutdown too.
    if (shutDown)
      return new ResponseError(ErrorCodes.InvalidRequest, "shutdown: the server is already shut down");
    shutDown = true;
    for (const uri of cache.uris()) cache.close(uri);
    return undefined;
  });

  documents.listen(connection);
  connection.listen();
}

/** The same diagnostic (as published and as echoed by the client, which may drop `data`). */
function sameDiagnostic(a: LspDiagnostic, b: EchoedDiagnostic): boolean {
  return (
    a.code === b.code &&
    a.message === b.message &&
    a.range.start.line === b.range.start.line &&
    a.range.start.character === b.range.start.character &&
    a.range.end.line === b.range.end.line &&
    a.range.end.character === b.range.end.character
  );
}

function cancelled(): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestCancelled, "request cancelled");
}

/** The last path segment of `uri`, percent-decoded when its escapes are valid (else as written). */
export function fileNameOf(uri: string): string {
  const path = uri.split(/[?#]/, 1)[0]!;
  const name = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(name);
  } catch {
    // `%zz` or a lone `%`: an ordinary URI string to us (the document is keyed by it as sent).
    return name;
  }
}
