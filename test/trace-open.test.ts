/**
 * Trace files are opened once (no stat-then-open on the path): the size and modification time
 * are the descriptor's, and the text read is that of the file opened, even when the path is
 * replaced in between. The language server's reader (server/src/node.ts nodeTraceFiles) and the
 * CLI's (cli/src/node.ts streamFile).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { streamFile } from "../cli/src/node";
import { nodeTraceFiles } from "../server/src/node";

const dir = mkdtempSync(join(tmpdir(), "trapline-trace-open-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORIGINAL = "     CPU 0/KVM-5001  [000]  1000.000001: kvm_entry:            vcpu 0 rip 0x1\n";
const REPLACEMENT = "# replaced\n".repeat(40);

/** The chunks' contents as text (the readers yield bytes, or text, or either with a byte count). */
async function text(
  chunks: AsyncIterable<string | Uint8Array | { text: string } | { data: Uint8Array }>,
): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of chunks) {
    if (typeof c === "string") parts.push(Buffer.from(c));
    else if (c instanceof Uint8Array) parts.push(Buffer.from(c));
    else parts.push("text" in c ? Buffer.from(c.text) : Buffer.from(c.data));
  }
  return Buffer.concat(parts).toString("utf8");
}

describe("the language server's trace reader", () => {
  test("reads the file it opened, with the descriptor's size, when the path is replaced after the open", async () => {
    const path = join(dir, "server.txt");
    writeFileSync(path, ORIGINAL);
    const opened = await nodeTraceFiles.open(path);
    try {
      // Replace the path by another file (what a stat-then-open would then read).
      const other = join(dir, "server-new.txt");
      writeFileSync(other, REPLACEMENT);
      renameSync(other, path);
      assert.equal(opened.size, ORIGINAL.length);
      assert.equal(await text(opened.chunks()), ORIGINAL);
      assert.notEqual(statSync(path).size, opened.size);
    } finally {
      await opened.close();
    }
  });

  test("refuses a directory and a FIFO without blocking, with their codes", async () => {
    const sub = join(dir, "sub");
    mkdirSync(sub);
    await assert.rejects(nodeTraceFiles.open(sub), { code: "EISDIR" });
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    // No writer: a blocking open would hang here.
    await assert.rejects(nodeTraceFiles.open(fifo), { code: "ENOTREGULAR" });
    await assert.rejects(nodeTraceFiles.open(join(dir, "missing.txt")), { code: "ENOENT" });
  });
});

describe("the CLI's trace reader", () => {
  test("streams the file it opened when the path is replaced after the open", async () => {
    const path = join(dir, "cli.txt");
    writeFileSync(path, ORIGINAL);
    const stream = streamFile(path);
    const other = join(dir, "cli-new.txt");
    writeFileSync(other, REPLACEMENT);
    renameSync(other, path);
    assert.equal(stream.size, ORIGINAL.length);
    assert.equal(await text(stream.chunks), ORIGINAL);
  });

  test("refuses a directory", () => {
    assert.throws(() => streamFile(dir), { code: "EISDIR" });
  });
});
