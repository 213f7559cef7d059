/**
 * The Trapline language server: protocol wiring over any `Connection` (stdio/IPC in node.ts, a
 * Web Worker in browser.ts). Every handler is a thin adapter: convert positions, read the cached
 * analysis, call a feature function, convert back. No handler lets an exception escape: failures
 * are logged and answered with an empty result, so the server survives any text.
 */
import {
  type CodeAction,
  CodeActionRequest,
  CodeLensRefreshRequest,
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
import type { Analysis } from "../../core/src/index";
import {
  coreFixToCodeAction,
  fixesToCodeActions,
  rangesOverlap,
  rangeToSpan,
  spanToRange,
  toLspDiagnostic,
} from "./convert";
import { registerCustomRequests } from "./custom";
import { describeError } from "./documents";
import { completeAt } from "./features/completion";
import {
  codeLenses,
  inlayHints,
  SEMANTIC_LEGEND,
  semanticTokens,
  semanticTokensEdits,
} from "./features/decorations";
import { hoverAt } from "./features/hover";
import { type MeasuredView, measuredDiagnostics, measuredView } from "./features/measured";
import {
  definitionAt,
  documentSymbols,
  foldingRanges,
  prepareRenameAt,
  referencesAt,
  renameAt,
} from "./features/navigation";
import { type TraceFiles, TraceStore } from "./measurements";
import type { DocumentModel } from "./model";
import {
  checkedOffset,
  readCodeAction,
  readDocument,
  readDocumentPosition,
  readDocumentRange,
  readPreviousResultId,
  readReferences,
  readRename,
} from "./params";
import {
  type TraplineInitializationOptions,
  type TraplineSettings,
  WORKSPACE_TRUST_METHOD,
} from "./protocol";
import { Publishing } from "./publishing";
import { cancelled, offsetIn, RequestRunner, sameDiagnostic } from "./requests";

export { fileNameOf } from "./requests";

/** Delay between the last edit and its analysis unless ServerOptions say otherwise. */
export const DEFAULT_DEBOUNCE_MS = 50;

export interface ServerOptions {
  /** Delay between the last edit and the analysis; typescript-language-server uses 50 ms. */
  debounceMs?: number;
  /** How to read the traces `measured` statements name (none in the browser). */
  traceFiles?: TraceFiles;
}

/** What the client may pass as `initializationOptions` (defined with the protocol). */
export type { TraplineInitializationOptions } from "./protocol";

export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const documents = new TextDocuments(TextDocument);
  let configurationRequests = false;
  let lensOptions = { simulateCommand: false, estimateCommand: false };
  let settings: TraplineSettings = {};

  const log = (message: string) => {
    try {
      connection.console.log(message);
    } catch {
      // The connection itself is gone; nothing left to tell.
    }
  };

  const publishing = new Publishing(connection, options.debounceMs ?? DEFAULT_DEBOUNCE_MS, log);
  const cache = publishing.cache;
  const run = new RequestRunner(cache, log);
  const guard = run.guard.bind(run);
  const withModel = run.withModel.bind(run);
  let codeLensRefresh = false;

  // The traces `measured` statements name: read in the background; when one is read (or
  // fails), the documents that name a trace get their diagnostics and lenses again.
  const traces = new TraceStore(options.traceFiles, () => republishMeasured(), log);
  const views = new WeakMap<Analysis, { generation: number; view: MeasuredView }>();
  const measuredOf = (uri: string, analysis: Analysis): MeasuredView | undefined => {
    if (![...analysis.program.guests.values()].some((g) => g.measured)) return undefined;
    const cached = views.get(analysis);
    if (cached && cached.generation === traces.generation) return cached.view;
    const generation = traces.generation;
    const view = measuredView(analysis, (ir) => traces.get(uri, ir.path));
    views.set(analysis, { generation, view });
    return view;
  };
  publishing.extra = {
    diagnostics: (uri, analyzed) => {
      const view = measuredOf(uri, analyzed.analysis);
      return view ? measuredDiagnostics(analyzed.analysis, view) : [];
    },
    generation: () => traces.generation,
  };
  function republishMeasured(): void {
    for (const uri of cache.uris()) {
      const analyzed = cache.ready(uri);
      if (analyzed && [...analyzed.analysis.program.guests.values()].some((g) => g.measured))
        publishing.republish(uri);
    }
    if (codeLensRefresh) connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const capabilities = params.capabilities;
    const pullDiagnostics = capabilities.textDocument?.diagnostic !== undefined;
    configurationRequests = capabilities.workspace?.configuration === true;
    const publish = capabilities.textDocument?.publishDiagnostics;
    publishing.mode = {
      pull: pullDiagnostics,
      support: {
        relatedInformation: publish?.relatedInformation === true || pullDiagnostics,
        tags: (publish?.tagSupport?.valueSet?.length ?? 0) > 0 || pullDiagnostics,
        codeDescription: publish?.codeDescriptionSupport === true,
      },
    };
    codeLensRefresh = capabilities.workspace?.codeLens?.refreshSupport === true;
    const init = (params.initializationOptions ?? {}) as TraplineInitializationOptions;
    traces.trusted = init.workspaceTrusted !== false;
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
    if (changed) publishing.reanalyzeAll({ defaultTarget: settings.defaultTarget || undefined });
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
  connection.onNotification(WORKSPACE_TRUST_METHOD, () => {
    if (traces.trusted) return;
    traces.trusted = true;
    traces.clear();
    republishMeasured();
  });

  publishing.listen(documents, (uri) => tokenResults.delete(uri));

  connection.onRequest(
    DocumentDiagnosticRequest.type,
    guard(DocumentDiagnosticRequest.method, readDocument, (params) => {
      return publishing.pullReport(params.uri, readPreviousResultId(params, "previousResultId"));
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
        hoverAt(model, offsetIn(model, params.position), measuredOf(params.uri, model.analysis)),
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
        const current = analyzed ? publishing.lspDiagnostics(uri, analyzed) : [];
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
        const { lines } = model.analysis;
        const diagnostics = analyzed ? publishing.coreDiagnostics(uri, analyzed) : [];
        for (const diagnostic of diagnostics) {
          if (!diagnostic.fixes?.length) continue;
          const range = spanToRange(lines, diagnostic.span);
          if (!rangesOverlap(range, params.range)) continue;
          const lsp = toLspDiagnostic(uri, lines, diagnostic, publishing.mode.support);
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
        settings.codeLens === false
          ? []
          : codeLenses(model, params.uri, lensOptions, measuredOf(params.uri, model.analysis)),
      ),
    ),
  );

  registerCustomRequests(connection, run, (uri, model) => measuredOf(uri, model.analysis));

  connection.onShutdown(() => {
    // A second `shutdown` is a request after shutdown too.
    if (run.shutDown)
      return new ResponseError(ErrorCodes.InvalidRequest, "shutdown: the server is already shut down");
    run.shutDown = true;
    for (const uri of cache.uris()) cache.close(uri);
    return undefined;
  });

  documents.listen(connection);
  connection.listen();
}
