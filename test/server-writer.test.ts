/**
 * The stdio message writer: each message is on the stream when `write` returns (no event-loop
 * turn in between, so a GC task cannot delay published diagnostics), framed with the UTF-8 byte
 * length, whole and in order.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { type Message, StreamMessageReader } from "vscode-languageserver/node";
import { ImmediateStreamMessageWriter } from "../server/src/streamWriter";

test("a message is written synchronously, in one frame with its UTF-8 byte length", () => {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  const writes: string[] = [];
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string, ...rest: never[]) => {
    writes.push(chunk);
    return write(chunk, ...rest);
  }) as typeof stream.write;
  const writer = new ImmediateStreamMessageWriter(stream);
  const message = {
    jsonrpc: "2.0",
    method: "textDocument/publishDiagnostics",
    params: { uri: "file:///a.vmcs", diagnostics: [{ message: "⟶ 20k/s µs" }] },
  };
  void writer.write(message as Message);
  assert.equal(writes.length, 1, "header and body go out in one write");
  const frame = writes[0]!;
  const body = JSON.stringify(message);
  assert.equal(frame, `Content-Length: ${Buffer.byteLength(body, "utf8")}\r\n\r\n${body}`);
  assert.notEqual(Buffer.byteLength(body, "utf8"), body.length, "the test needs a multi-byte character");
});

test("messages read back whole and in order", async () => {
  const stream = new PassThrough();
  const writer = new ImmediateStreamMessageWriter(stream);
  const reader = new StreamMessageReader(stream);
  const received: unknown[] = [];
  const done = new Promise<void>((resolve) => {
    reader.listen((message) => {
      received.push((message as unknown as { params: unknown }).params);
      if (received.length === 50) resolve();
    });
  });
  for (let i = 0; i < 50; i++) {
    void writer.write({ jsonrpc: "2.0", method: "n", params: { i, text: "é".repeat(i * 100) } } as Message);
  }
  await done;
  assert.deepEqual(
    received.map((p) => (p as { i: number }).i),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.equal((received[49] as { text: string }).text.length, 4900);
  reader.dispose();
});

test("a failed write is reported through onError", async () => {
  const stream = new PassThrough();
  const writer = new ImmediateStreamMessageWriter(stream);
  const errors: unknown[] = [];
  writer.onError(([error]) => errors.push(error));
  stream.destroy();
  await writer.write({ jsonrpc: "2.0", method: "n" } as Message).catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(errors.length >= 1);
});

test("--socket=PORT and --socket PORT are read from the command line", async () => {
  const { socketPortFromArgv } = await import("../server/src/node");
  assert.equal(socketPortFromArgv(["node", "trapline", "lsp", "--socket=5007"]), 5007);
  assert.equal(socketPortFromArgv(["node", "trapline", "lsp", "--socket", "6001"]), 6001);
  assert.equal(socketPortFromArgv(["node", "trapline", "lsp", "--stdio"]), undefined);
  assert.equal(socketPortFromArgv(["node", "trapline", "lsp", "--socket=x"]), undefined);
});
