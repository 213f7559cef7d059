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
