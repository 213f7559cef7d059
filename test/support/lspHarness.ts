/**
 * A JSON-RPC LSP client for tests: in-process (the server's startServer over in-memory streams)
 * or over a spawned `trapline lsp --stdio`. Cursor markers `$0` in test text give positions.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Connection, Diagnostic, Position, PublishDiagnosticsParams } from "vscode-languageserver";
import {
  createConnection,
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver/node";
import { type ServerOptions, startServer } from "../../server/src/server";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Removes the `$0` marker and returns the text and the marker's position. */
export function withCursor(marked: string): { text: string; position: Position; offset: number } {
  const offset = marked.indexOf("$0");
  if (offset < 0) throw new Error("test text has no $0 marker");
  const text = marked.slice(0, offset) + marked.slice(offset + 2);
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  const character = offset - (before.lastIndexOf("\n") + 1);
  return { text, position: { line, character }, offset };
}

export interface TestClient {
  connection: MessageConnection;
  open(uri: string, text: string): void;
  change(uri: string, version: number, text: string): void;
  /**
   * The next diagnostics published for `uri` (with `version` when given) that no earlier call
   * took: each publication answers one call.
   */
  diagnostics(uri: string, version?: number): Promise<Diagnostic[]>;
  /** Every publication received for `uri` so far, in order (taken by `diagnostics` or not). */
  publications(uri: string): PublishDiagnosticsParams[];
  notifications(method: string): unknown[];
  request<R>(method: string, params: unknown): Promise<R>;
  close(): Promise<void>;
}

const CLIENT_CAPABILITIES = {
  textDocument: {
    publishDiagnostics: { relatedInformation: true, tagSupport: { valueSet: [1, 2] } },
    hover: { contentFormat: ["markdown", "plaintext"] },
    completion: { completionItem: { snippetSupport: true, documentationFormat: ["markdown"] } },
    semanticTokens: {
      requests: { full: true, range: true },
      tokenTypes: [],
      tokenModifiers: [],
      formats: ["relative"],
    },
  },
  workspace: { configuration: false },
};

/** How the test client answers `workspace/configuration` (one item per section asked). */
export type ConfigurationAnswer = (section: string | undefined) => unknown;

function wrap(
  connection: MessageConnection,
  dispose: () => Promise<void>,
  configuration: ConfigurationAnswer = () => ({}),
): TestClient {
  /** Publications no `diagnostics` call has taken yet. */
  const published: PublishDiagnosticsParams[] = [];
  const received: PublishDiagnosticsParams[] = [];
  const waiters: { uri: string; version?: number; resolve: (d: Diagnostic[]) => void }[] = [];
  const other = new Map<string, unknown[]>();
  connection.onNotification((method: string, params: unknown) => {
    if (process.env.LSP_DEBUG) console.log("notification", method, JSON.stringify(params).slice(0, 120));
    if (method === "textDocument/publishDiagnostics") {
      const p = params as PublishDiagnosticsParams;
      received.push(p);
      // The oldest waiter for it takes it; otherwise it waits for the next call. (A publication
      // both handed to a waiter and kept for the next call answered that call too: a test that
      // asked twice for one version saw one publication as two.)
      const i = waiters.findIndex(
        (w) => w.uri === p.uri && (w.version === undefined || w.version === p.version),
      );
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(p.diagnostics);
      else published.push(p);
      return;
    }
    const list = other.get(method) ?? [];
    list.push(params);
    other.set(method, list);
  });
  // The server logs through window/logMessage; keep it quiet but accepted.
  connection.onRequest("workspace/configuration", (params: { items?: { section?: string }[] }) =>
    Promise.all((params?.items ?? [{}]).map((item) => configuration(item.section))),
  );
  connection.onRequest("client/registerCapability", () => null);
  connection.listen();
  return {
    connection,
    open(uri, text) {
      void connection.sendNotification("textDocument/didOpen", {
        textDocument: { uri, languageId: "vmcs", version: 1, text },
      });
    },
    change(uri, version, text) {
      void connection.sendNotification("textDocument/didChange", {
        textDocument: { uri, version },
        contentChanges: [{ text }],
      });
    },
    diagnostics(uri, version) {
      const done = published.find((p) => p.uri === uri && (version === undefined || p.version === version));
      if (done) {
        published.splice(published.indexOf(done), 1);
        return Promise.resolve(done.diagnostics);
      }
      return new Promise((resolve) => waiters.push({ uri, version, resolve }));
    },
    publications(uri) {
      return received.filter((p) => p.uri === uri);
    },
    notifications(method) {
      return other.get(method) ?? [];
    },
    request<R>(method: string, params: unknown) {
      return connection.sendRequest(method, params) as Promise<R>;
    },
    close: dispose,
  };
}

async function initialize(
  client: TestClient,
  initializationOptions: unknown,
  configurationRequests = false,
): Promise<unknown> {
  const result = await client.request("initialize", {
    processId: null,
    rootUri: null,
    capabilities: configurationRequests
      ? {
          ...CLIENT_CAPABILITIES,
          workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        }
      : CLIENT_CAPABILITIES,
    initializationOptions,
  });
  void client.connection.sendNotification("initialized", {});
  return result;
}

/** The server in this process, over in-memory streams. */
export async function startInProcess(
  initializationOptions: unknown = {},
  debounceMs = 50,
  /** When given, the client advertises `workspace/configuration` and answers it with this. */
  configuration?: ConfigurationAnswer,
  /** Starts the server on the connection (default: startServer; the browser server's start, say). */
  start: (connection: Connection, options: ServerOptions) => void = startServer,
): Promise<TestClient & { capabilities: Record<string, unknown> }> {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverConnection = createConnection(
    new StreamMessageReader(toServer),
    new StreamMessageWriter(toClient),
  );
  start(serverConnection, { debounceMs });
  const connection = createMessageConnection(
    new StreamMessageReader(toClient),
    new StreamMessageWriter(toServer),
  );
  // In-memory streams hold no event-loop handle: keep the loop alive while the client is open.
  const keepAlive = setInterval(() => undefined, 1000);
  const client = wrap(
    connection,
    async () => {
      clearInterval(keepAlive);
      connection.dispose();
      serverConnection.dispose();
      toServer.end();
      toClient.end();
    },
    configuration,
  );
  const result = (await initialize(client, initializationOptions, configuration !== undefined)) as {
    capabilities: Record<string, unknown>;
  };
  return Object.assign(client, { capabilities: result.capabilities });
}

/** The command line that starts the shipped server: the bundle when built, else the sources. */
export function serverCommand(): { command: string; args: string[] } {
  const bundle = join(REPO_ROOT, "dist", "cli", "trapline.js");
  if (existsSync(bundle) && process.env.TRAPLINE_LSP_FROM_SOURCE !== "1") {
    return { command: process.execPath, args: [join(REPO_ROOT, "bin", "trapline.js"), "lsp", "--stdio"] };
  }
  return {
    command: process.execPath,
    args: [
      "--import",
      "tsx",
      "--eval",
      // The package is CommonJS, so tsx loads the source as CommonJS and a dynamic import sees
      // its exports under `default`.
      'import("./cli/src/main.ts").then((m) => (m.runNode ?? m.default.runNode)(["lsp", "--stdio"]))',
    ],
  };
}

/** `trapline lsp --stdio` in a child process. */
export async function startStdio(
  initializationOptions: unknown = {},
): Promise<TestClient & { child: ChildProcess; stderr: () => string }> {
  const { command, args } = serverCommand();
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const client = wrap(connection, async () => {
    try {
      await connection.sendRequest("shutdown");
      void connection.sendNotification("exit");
    } catch {
      // already gone
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const timer = setTimeout(() => child.kill(), 2000);
    await exited;
    clearTimeout(timer);
    connection.dispose();
  });
  await initialize(client, initializationOptions);
  return Object.assign(client, { child, stderr: () => stderr });
}

/** The position of the `occurrence`-th (0-based) match of `needle` in `text`, plus `shift`. */
export function positionIn(text: string, needle: string, shift = 0, occurrence = 0): Position {
  let at = -1;
  for (let k = 0; k <= occurrence; k++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`${needle} (occurrence ${occurrence}) not in the test text`);
  }
  at += shift;
  const before = text.slice(0, at);
  return { line: before.split("\n").length - 1, character: at - (before.lastIndexOf("\n") + 1) };
}

/** Version 1 of the document {@link requestsAfterAnEdit} edits. */
export const BEFORE_EDIT = `target skylake_server
vmcs kvm { proc hlt_exiting }
handler HLT { work 100 halt }
guest g on kvm { vcpus 1 path p rate 1k/s { hlt } }
`;

/**
 * Version 2: two lines inserted above, the vmcs renamed `box`, the guest `h`, a control
 * misspelt (a diagnostic with a quick fix) and a half-typed `guest h2 on ` line. Every answer to
 * a request about version 2 differs from the same request's answer about version 1.
 */
export const AFTER_EDIT = `// two lines
// inserted
target skylake_server
vmcs box { proc hlt_exiting rdtsc_exitting }
handler HLT {
  work 100 halt
}
guest h on box { vcpus 1 path p rate 1k/s { hlt } }
guest h2 on 
`;

/**
 * Sends BEFORE_EDIT, waits for its analysis, replaces it with AFTER_EDIT and, without waiting for
 * anything, sends every request that reads the document (one batch, before the debounce could
 * have run): each answer must be computed on version 2. Returns the answers for the caller's own
 * extra checks.
 */
export async function requestsAfterAnEdit(client: TestClient, uri: string): Promise<Record<string, unknown>> {
  client.open(uri, BEFORE_EDIT);
  await client.diagnostics(uri, 1);
  client.change(uri, 2, AFTER_EDIT);
  const doc = { textDocument: { uri } };
  const at = (needle: string, shift = 0, occurrence = 0) => ({
    ...doc,
    position: positionIn(AFTER_EDIT, needle, shift, occurrence),
  });
  const whole = { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } };
  const typo = positionIn(AFTER_EDIT, "rdtsc_exitting");
  const requests: Record<string, [string, unknown]> = {
    completion: ["textDocument/completion", at("guest h2 on ", 12)],
    hover: ["textDocument/hover", at("box", 1, 1)],
    definition: ["textDocument/definition", at("box", 1, 1)],
    references: ["textDocument/references", { ...at("box", 1, 1), context: { includeDeclaration: true } }],
    prepareRename: ["textDocument/prepareRename", at("box", 1, 1)],
    rename: ["textDocument/rename", { ...at("box", 1, 1), newName: "vm" }],
    codeAction: [
      "textDocument/codeAction",
      { ...doc, range: { start: typo, end: typo }, context: { diagnostics: [] } },
    ],
    codeLens: ["textDocument/codeLens", doc],
    inlayHint: ["textDocument/inlayHint", { ...doc, range: whole }],
    semanticTokens: ["textDocument/semanticTokens/full", doc],
    semanticTokensRange: ["textDocument/semanticTokens/range", { ...doc, range: whole }],
    documentSymbol: ["textDocument/documentSymbol", doc],
    foldingRange: ["textDocument/foldingRange", doc],
    fileInfo: ["trapline/fileInfo", { uri }],
    estimateReport: ["trapline/estimateReport", { uri }],
    compare: ["trapline/compare", { uri, guest: "h" }],
  };
  const names = Object.keys(requests);
  const answers = await Promise.all(names.map((name) => client.request(...requests[name]!)));
  const result: Record<string, unknown> = {};
  names.forEach((name, i) => {
    result[name] = answers[i];
  });
  return result;
}

/** Asserts that every answer of {@link requestsAfterAnEdit} is about AFTER_EDIT. */
export function assertAnswersAboutTheEdit(answers: Record<string, unknown>, uri: string): void {
  const line = (needle: string) => positionIn(AFTER_EDIT, needle).line;
  const boxDecl = positionIn(AFTER_EDIT, "box");
  const boxRef = positionIn(AFTER_EDIT, "box", 0, 1);
  const labels = (answers.completion as { label: string }[]).map((i) => i.label);
  assert.deepEqual(labels, ["box"], "completion after `on` offers the vmcs of version 2");
  const hover = answers.hover as { contents: { value: string } };
  assert.match(hover.contents.value, /\*\*vmcs box\*\*[\s\S]*Guests: h\b/);
  const definition = answers.definition as { uri: string; range: { start: Position } };
  assert.deepEqual(definition.range.start, boxDecl);
  const references = answers.references as { range: { start: Position } }[];
  assert.deepEqual(
    references.map((r) => r.range.start),
    [boxDecl, boxRef],
  );
  const prepare = answers.prepareRename as { placeholder: string; range: { start: Position } };
  assert.equal(prepare.placeholder, "box");
  assert.deepEqual(prepare.range.start, boxRef);
  const rename = answers.rename as { changes: Record<string, { range: { start: Position } }[]> };
  assert.deepEqual(
    rename.changes[uri]!.map((e) => e.range.start),
    [boxDecl, boxRef],
  );
  const actions = answers.codeAction as {
    edit: { changes: Record<string, { newText: string; range: { start: Position } }[]> };
  }[];
  assert.ok(actions.length > 0, "the misspelt control of version 2 has a quick fix");
  const fix = actions[0]!.edit.changes[uri]![0]!;
  assert.equal(fix.newText, "rdtsc_exiting");
  assert.deepEqual(fix.range.start, positionIn(AFTER_EDIT, "rdtsc_exitting"));
  const lenses = answers.codeLens as { range: { start: Position } }[];
  assert.deepEqual(
    [...new Set(lenses.map((l) => l.range.start.line))],
    [line("handler HLT"), line("guest h on"), line("guest h2")],
  );
  const hints = answers.inlayHint as { position: Position }[];
  assert.deepEqual(
    hints.map((h) => h.position.line),
    [line("{ hlt }")],
  );
  const tokens = answers.semanticTokens as { data: number[] };
  assert.equal(tokens.data[0], line("target"), "the first token is on the target line of version 2");
  assert.deepEqual((answers.semanticTokensRange as { data: number[] }).data, tokens.data);
  const symbols = answers.documentSymbol as { name: string }[];
  assert.ok(symbols.some((s) => s.name === "box") && symbols.some((s) => s.name === "h"));
  assert.ok(!symbols.some((s) => s.name === "kvm" || s.name === "g"));
  const folding = answers.foldingRange as { startLine: number; endLine: number }[];
  assert.ok(
    folding.some((f) => f.startLine === line("handler HLT") && f.endLine === line("handler HLT") + 1),
  );
  const info = answers.fileInfo as { guests: string[]; vmcs: string[] };
  assert.deepEqual(info.vmcs, ["box"]);
  assert.ok(info.guests.includes("h") && !info.guests.includes("g"));
  assert.match((answers.estimateReport as { markdown: string }).markdown, /guest h on `box`/);
  const compare = answers.compare as { rows: { vmcs: string }[] };
  assert.deepEqual(
    compare.rows.map((r) => r.vmcs),
    ["box"],
  );
}
