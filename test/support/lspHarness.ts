/**
 * A JSON-RPC LSP client for tests: in-process (the server's startServer over in-memory streams)
 * or over a spawned `trapline lsp --stdio`. Cursor markers `$0` in test text give positions.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Diagnostic, Position, PublishDiagnosticsParams } from "vscode-languageserver";
import {
  createConnection,
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver/node";
import { startServer } from "../../server/src/server";

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
  /** The next diagnostics published for `uri` (with `version` when given). */
  diagnostics(uri: string, version?: number): Promise<Diagnostic[]>;
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

function wrap(connection: MessageConnection, dispose: () => Promise<void>): TestClient {
  const published: PublishDiagnosticsParams[] = [];
  const waiters: { uri: string; version?: number; resolve: (d: Diagnostic[]) => void }[] = [];
  const other = new Map<string, unknown[]>();
  connection.onNotification((method: string, params: unknown) => {
    if (process.env.LSP_DEBUG) console.log("notification", method, JSON.stringify(params).slice(0, 120));
    if (method === "textDocument/publishDiagnostics") {
      const p = params as PublishDiagnosticsParams;
      published.push(p);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.uri === p.uri && (w.version === undefined || w.version === p.version)) {
          waiters.splice(i, 1);
          w.resolve(p.diagnostics);
        }
      }
      return;
    }
    const list = other.get(method) ?? [];
    list.push(params);
    other.set(method, list);
  });
  // The server logs through window/logMessage; keep it quiet but accepted.
  connection.onRequest("workspace/configuration", () => [{}]);
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
    notifications(method) {
      return other.get(method) ?? [];
    },
    request<R>(method: string, params: unknown) {
      return connection.sendRequest(method, params) as Promise<R>;
    },
    close: dispose,
  };
}

async function initialize(client: TestClient, initializationOptions: unknown): Promise<unknown> {
  const result = await client.request("initialize", {
    processId: null,
    rootUri: null,
    capabilities: CLIENT_CAPABILITIES,
    initializationOptions,
  });
  void client.connection.sendNotification("initialized", {});
  return result;
}

/** The server in this process, over in-memory streams. */
export async function startInProcess(
  initializationOptions: unknown = {},
  debounceMs = 50,
): Promise<TestClient & { capabilities: Record<string, unknown> }> {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverConnection = createConnection(
    new StreamMessageReader(toServer),
    new StreamMessageWriter(toClient),
  );
  startServer(serverConnection, { debounceMs });
  const connection = createMessageConnection(
    new StreamMessageReader(toClient),
    new StreamMessageWriter(toServer),
  );
  // In-memory streams hold no event-loop handle: keep the loop alive while the client is open.
  const keepAlive = setInterval(() => undefined, 1000);
  const client = wrap(connection, async () => {
    clearInterval(keepAlive);
    connection.dispose();
    serverConnection.dispose();
    toServer.end();
    toClient.end();
  });
  const result = (await initialize(client, initializationOptions)) as {
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
