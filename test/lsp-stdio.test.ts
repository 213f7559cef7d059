/**
 * The shipped server over stdio: `trapline lsp --stdio` in a child process (the built bundle when
 * present, else the sources through tsx), driven by a JSON-RPC client as any editor would.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type {
  CodeAction,
  CompletionItem,
  Diagnostic,
  Hover,
  PublishDiagnosticsParams,
} from "vscode-languageserver";
import {
  createMessageConnection,
  SocketMessageReader,
  SocketMessageWriter,
} from "vscode-languageserver/node";
import { escapeMarkdown } from "../server/src/markdown";
import {
  assertAnswersAboutTheEdit,
  REPO_ROOT,
  requestsAfterAnEdit,
  serverCommand,
  startStdio,
  type TestClient,
} from "./support/lspHarness";

const EXAMPLE = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");
let client: TestClient & { stderr: () => string };

before(async () => {
  client = await startStdio();
});
after(async () => {
  await client.close();
});

function positionOf(text: string, needle: string, shift = 0) {
  const at = text.indexOf(needle) + shift;
  const before = text.slice(0, at);
  return { line: before.split("\n").length - 1, character: at - (before.lastIndexOf("\n") + 1) };
}

test("publishes diagnostics, answers hover, completion and code actions", async () => {
  const uri = "file:///stdio/kvm-default.vmcs";
  const text = EXAMPLE.replace("use_msr_bitmaps", "use_msr_bitmap");
  client.open(uri, text);
  const diagnostics: Diagnostic[] = await client.diagnostics(uri, 1);
  const typo = diagnostics.find((d) => d.range.start.line === positionOf(text, "use_msr_bitmap").line);
  assert.ok(typo, JSON.stringify(diagnostics));
  assert.equal(typo.severity, 1);

  const hover = await client.request<Hover>("textDocument/hover", {
    textDocument: { uri },
    position: positionOf(text, "mmio write 0xfebf_0018", 1),
  });
  assert.match((hover.contents as { value: string }).value, /EPT_MISCONFIG \(49\)[\s\S]*cycles/);

  const completion = await client.request<CompletionItem[]>("textDocument/completion", {
    textDocument: { uri },
    position: positionOf(text, "enable_ept"),
  });
  assert.ok(completion.some((i) => i.label === "enable_pml"));

  const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
    textDocument: { uri },
    range: typo.range,
    context: { diagnostics: [typo] },
  });
  assert.ok(
    actions.some((a) => a.edit?.changes?.[uri]?.[0]?.newText === "use_msr_bitmaps"),
    JSON.stringify(actions),
  );
});

test("an edit republishes diagnostics for the new version", async () => {
  const uri = "file:///stdio/edit.vmcs";
  client.open(uri, "vmcs a { proc hlt_exiting }\n");
  assert.equal((await client.diagnostics(uri, 1)).filter((d) => d.severity === 1).length, 0);
  client.change(uri, 2, "vmcs a { proc hlt_exitin }\n");
  assert.ok((await client.diagnostics(uri, 2)).some((d) => d.severity === 1));
  assert.equal(client.stderr().includes("uncaught"), false, client.stderr());
});

test("every request sent right after an edit is answered from the edited text", async () => {
  const uri = "file:///stdio/fresh.vmcs";
  assertAnswersAboutTheEdit(await requestsAfterAnEdit(client, uri), uri);
});

test("--socket=PORT: the server connects to the client's port and publishes diagnostics", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const { command, args } = serverCommand();
  assert.equal(args.at(-1), "--stdio", "serverCommand ends with the transport flag");
  const child = spawn(command, [...args.slice(0, -1), `--socket=${port}`], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    const socket = await accepted;
    const connection = createMessageConnection(
      new SocketMessageReader(socket),
      new SocketMessageWriter(socket),
    );
    const published = new Promise<PublishDiagnosticsParams>((resolve) =>
      connection.onNotification("textDocument/publishDiagnostics", resolve),
    );
    connection.listen();
    await connection.sendRequest("initialize", { processId: null, rootUri: null, capabilities: {} });
    void connection.sendNotification("initialized", {});
    void connection.sendNotification("textDocument/didOpen", {
      textDocument: {
        uri: "file:///socket.vmcs",
        languageId: "vmcs",
        version: 1,
        text: "vmcs a { proc hlt_exitin }\n",
      },
    });
    const params = await published;
    assert.equal(params.version, 1);
    assert.ok(params.diagnostics.some((d) => d.severity === 1));
    await connection.sendRequest("shutdown");
    void connection.sendNotification("exit");
    await new Promise<void>((resolve) =>
      child.exitCode !== null ? resolve() : child.once("exit", () => resolve()),
    );
    connection.dispose();
  } finally {
    child.kill();
    server.close();
  }
});

/**
 * A raw JSON-RPC client over the server's stdio (no vscode-jsonrpc on the client side, so the
 * params go out exactly as written, `null` included).
 */
function rawServer() {
  const { command, args } = serverCommand();
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let buffer = Buffer.alloc(0);
  const responses = new Map<number, (message: RawResponse) => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString())![1]);
      if (buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString("utf8"));
      buffer = buffer.subarray(headerEnd + 4 + length);
      if (typeof message.id === "number" && !("method" in message)) responses.get(message.id)?.(message);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let nextId = 0;
  const send = (message: object) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
    child.stdin!.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin!.write(body);
  };
  return {
    child,
    exited,
    request(method: string, params: unknown): Promise<RawResponse> {
      const id = ++nextId;
      const answered = new Promise<RawResponse>((resolve) => responses.set(id, resolve));
      send(params === undefined ? { id, method } : { id, method, params });
      return answered;
    },
    notify(method: string, params?: unknown) {
      send(params === undefined ? { method } : { method, params });
    },
    /** A request and its `$/cancelRequest` in one write: the server reads both before running it. */
    requestCancelled(method: string, params: unknown): Promise<RawResponse> {
      const id = ++nextId;
      const answered = new Promise<RawResponse>((resolve) => responses.set(id, resolve));
      const frame = (message: object) => {
        const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
        return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
      };
      child.stdin!.write(
        Buffer.concat([frame({ id, method, params }), frame({ method: "$/cancelRequest", params: { id } })]),
      );
      return answered;
    },
  };
}

interface RawResponse {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

const INVALID_PARAMS = -32602;
const INVALID_REQUEST = -32600;

test("raw JSON-RPC: bad params answer InvalidParams, a malformed %-escape is an ordinary URI, shutdown then exit 0", async () => {
  const server = rawServer();
  try {
    await server.request("initialize", { processId: null, rootUri: null, capabilities: {} });
    server.notify("initialized", {});
    const uri = "file:///stdio/bad%zz-escape%.vmcs";
    const text =
      "vmcs kvm { proc hlt_exiting }\nhandler HLT { halt }\nguest g on kvm { path p rate 1k/s { hlt } }\n";
    server.notify("textDocument/didOpen", { textDocument: { uri, languageId: "vmcs", version: 1, text } });
    const doc = { textDocument: { uri } };
    const position = { line: 2, character: 37 };
    const range = { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } };
    const good: [string, unknown][] = [
      ["textDocument/hover", { ...doc, position }],
      ["textDocument/completion", { ...doc, position }],
      ["textDocument/definition", { ...doc, position }],
      ["textDocument/references", { ...doc, position, context: { includeDeclaration: true } }],
      ["textDocument/prepareRename", { ...doc, position }],
      ["textDocument/rename", { ...doc, position, newName: "x" }],
      ["textDocument/documentSymbol", doc],
      ["textDocument/foldingRange", doc],
      ["textDocument/codeAction", { ...doc, range, context: { diagnostics: [] } }],
      ["textDocument/codeLens", doc],
      ["textDocument/inlayHint", { ...doc, range }],
      ["textDocument/semanticTokens/full", doc],
      ["textDocument/semanticTokens/full/delta", { ...doc, previousResultId: "1" }],
      ["textDocument/semanticTokens/range", { ...doc, range }],
      ["trapline/estimateReport", { uri }],
      ["trapline/compare", { uri, guest: "g" }],
      ["trapline/fileInfo", { uri }],
    ];
    // Each request with valid params is answered (the URI with `%zz` and a lone `%` is open).
    for (const [method, params] of good) {
      const response = await server.request(method, params);
      assert.equal(response.error, undefined, `${method}: ${JSON.stringify(response.error)}`);
    }
    const hover = await server.request("textDocument/hover", { ...doc, position });
    assert.match(JSON.stringify(hover.result), /HLT/);
    const report = (await server.request("trapline/estimateReport", { uri })).result as { markdown: string };
    // The file name as written (%-escapes that do not decode stay), Markdown-escaped.
    assert.ok(report.markdown.includes(escapeMarkdown("bad%zz-escape%.vmcs")), report.markdown.slice(0, 80));
    const info = (await server.request("trapline/fileInfo", { uri })).result as { guests: string[] };
    assert.deepEqual(info.guests, ["g"]);
    // Every request cancelled before it runs answers RequestCancelled.
    for (const [method, params] of good) {
      const response = await server.requestCancelled(method, params);
      assert.equal(response.error?.code, -32800, `${method} cancelled: ${JSON.stringify(response)}`);
    }
    // A character past the end of its line means the end of the line (LSP), not an error.
    const clamped = await server.request("textDocument/hover", {
      ...doc,
      position: { line: 2, character: 9999 },
    });
    assert.equal(clamped.error, undefined);

    // params null, and each method's params broken in one field: InvalidParams, never an
    // InternalError or an empty result.
    for (const [method] of good) {
      const response = await server.request(method, null);
      assert.equal(
        response.error?.code,
        INVALID_PARAMS,
        `${method} with params null: ${JSON.stringify(response)}`,
      );
    }
    const broken: [string, unknown][] = [
      ["textDocument/hover", { position }],
      ["textDocument/hover", { textDocument: { uri: 42 }, position }],
      ["textDocument/hover", { ...doc, position: { line: "2", character: 0 } }],
      ["textDocument/hover", { ...doc, position: { line: -1, character: 0 } }],
      ["textDocument/hover", { ...doc, position: { line: 1.5, character: 0 } }],
      ["textDocument/hover", { ...doc, position: { line: 99, character: 0 } }],
      ["textDocument/completion", { ...doc, position: { line: 99, character: 0 } }],
      ["textDocument/completion", { ...doc }],
      ["textDocument/definition", { ...doc, position: null }],
      ["textDocument/references", { ...doc, position }],
      ["textDocument/references", { ...doc, position, context: { includeDeclaration: "yes" } }],
      ["textDocument/rename", { ...doc, position, newName: 7 }],
      ["textDocument/prepareRename", { ...doc, position: { line: 0 } }],
      ["textDocument/codeAction", { ...doc, range }],
      ["textDocument/codeAction", { ...doc, range, context: { diagnostics: [{ message: "m" }] } }],
      ["textDocument/inlayHint", doc],
      ["textDocument/inlayHint", { ...doc, range: { start: range.end, end: range.start } }],
      ["textDocument/semanticTokens/range", { ...doc, range: "all" }],
      ["textDocument/semanticTokens/full/delta", { ...doc, previousResultId: 3 }],
      ["textDocument/documentSymbol", { textDocument: "x" }],
      ["trapline/compare", { uri }],
      ["trapline/compare", { uri, guest: "g", profiles: "haswell" }],
      ["trapline/fileInfo", { uri: 1 }],
      ["trapline/estimateReport", []],
    ];
    for (const [method, params] of broken) {
      const response = await server.request(method, params);
      assert.equal(
        response.error?.code,
        INVALID_PARAMS,
        `${method} ${JSON.stringify(params)}: ${JSON.stringify(response)}`,
      );
    }

    const shutdown = await server.request("shutdown", undefined);
    assert.equal(shutdown.error, undefined);
    assert.equal(shutdown.result, null);
    // After shutdown every request is InvalidRequest (LSP: "should error with InvalidRequest").
    for (const [method, params] of [...good, ["shutdown", undefined] as [string, unknown]]) {
      const response = await server.request(method, params);
      assert.equal(
        response.error?.code,
        INVALID_REQUEST,
        `${method} after shutdown: ${JSON.stringify(response)}`,
      );
    }
    server.notify("exit");
    assert.equal(await server.exited, 0, "exit after shutdown ends the process with 0");
  } finally {
    server.child.kill();
  }
});

test("raw JSON-RPC: exit without shutdown ends the process with 1", async () => {
  const server = rawServer();
  try {
    await server.request("initialize", { processId: null, rootUri: null, capabilities: {} });
    server.notify("exit");
    assert.equal(await server.exited, 1);
  } finally {
    server.child.kill();
  }
});
