/**
 * The playground's dropped or pasted trace standing in for `measured "…"` (docs/lsp.md
 * `trapline/didProvideTrace`): the browser server's start (server/src/browser.ts calls
 * startServerWithProvidedTraces), in process, the trace sent as the playground sends it. Before a trace is provided the path gets TL410 as
 * information; once the client provides the real perf kvm stat report of
 * test/fixtures/traces/, the hover, the lenses and TL409 are those the Node server gives for the
 * same file (test/lsp-measured.test.ts); a second trace replaces the first.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CodeLens, Diagnostic, Hover } from "vscode-languageserver";
import { TRACE_PROVIDED_METHOD } from "../protocol/lsp";
import { startServerWithProvidedTraces } from "../server/src/memoryTraces";
import { positionIn, REPO_ROOT, startInProcess, type TestClient } from "./support/lspHarness";

const FIXTURES = join(REPO_ROOT, "test", "fixtures");
const REPORT_TEXT = readFileSync(join(FIXTURES, "traces", "perf-kvm-stat-report-compute-go.txt"), "utf8");
const BASE = readFileSync(join(FIXTURES, "measured", "tsc-deadline.vmcs"), "utf8");
const TEXT = BASE.replace("  idle halt\n", '  idle halt\n  measured "run1.txt" tolerance 25%\n');
const URI = "inmemory://playground/scratch.vmcs";

const messageOf = (d: Diagnostic) => (typeof d.message === "string" ? d.message : d.message.value);

async function diagnosticsUntil(
  client: TestClient,
  wanted: (d: Diagnostic[]) => boolean,
): Promise<Diagnostic[]> {
  for (;;) {
    const diagnostics = await client.diagnostics(URI);
    if (wanted(diagnostics)) return diagnostics;
  }
}

describe("a provided trace stands in for `measured` (browser server)", { timeout: 60_000 }, () => {
  let client: TestClient;
  before(async () => {
    assert.notEqual(TEXT, BASE);
    client = await startInProcess({ estimateCommand: true }, 10, undefined, startServerWithProvidedTraces);
  });
  after(async () => {
    await client.close();
  });

  test("TL410 as information before any trace is provided", async () => {
    client.open(URI, TEXT);
    const diagnostics = await diagnosticsUntil(client, (d) => d.some((x) => x.code === "TL410"));
    const d = diagnostics.find((x) => x.code === "TL410")!;
    assert.equal(d.severity, 3);
    assert.match(messageOf(d), /Open trace… and it stands in for this path/);
    assert.deepEqual(d.range.start, positionIn(TEXT, '"run1.txt"'));
  });

  test("once provided: TL409 on the handler, the hover and lenses show measured beside modelled", async () => {
    void client.connection.sendNotification(TRACE_PROVIDED_METHOD, {
      fileName: "dropped.txt",
      text: REPORT_TEXT,
    });
    const diagnostics = await diagnosticsUntil(client, (d) => d.some((x) => x.code === "TL409"));
    assert.equal(diagnostics.filter((x) => x.code === "TL410").length, 0, JSON.stringify(diagnostics));
    const mismatch = diagnostics.filter((x) => x.code === "TL409");
    assert.equal(mismatch.length, 1, JSON.stringify(mismatch));
    assert.deepEqual(mismatch[0]!.range.start, positionIn(TEXT, "MSR_WRITE {"));
    assert.match(
      messageOf(mismatch[0]!),
      /^MSR_WRITE: measured 0\.78 µs per exit, the model 2 µs \(0\.39×, beyond ±25%/,
    );

    const hover = await client.request<Hover>("textDocument/hover", {
      textDocument: { uri: URI },
      position: positionIn(TEXT, "measured", 2),
    });
    const value = (hover.contents as { value: string }).value;
    assert.match(value, /perf-kvm-stat: 309 exits, no timestamps; tolerance ±25%/, value);
    assert.match(value, /\*\*Measured\*\* `run1\.txt` beside the estimate of guest `g`/, value);
    assert.match(value, /\| MSR\\_WRITE \| — \| 1k\/s \| — \| 0\.78 µs \| 2 µs \| 0\.39× ⚠ \|/, value);

    const lenses = await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: URI } });
    const onMeasured = lenses.find((l) => l.range.start.line === positionIn(TEXT, "measured").line);
    assert.equal(
      onMeasured?.command?.title,
      "measured 0.816 µs/exit (model 2 µs, 0.408× ⚠) · 2 figures beyond ±25%",
    );
  });

  test("a second trace replaces the first; text in no format gives TL410 as a warning", async () => {
    void client.connection.sendNotification(TRACE_PROVIDED_METHOD, {
      fileName: "junk.txt",
      text: "hello\nworld\n",
    });
    const diagnostics = await diagnosticsUntil(client, (d) => d.some((x) => x.code === "TL410"));
    const d = diagnostics.find((x) => x.code === "TL410")!;
    assert.equal(d.severity, 2);
    assert.match(messageOf(d), /not a KVM trace in any format/);
    assert.equal(diagnostics.filter((x) => x.code === "TL409").length, 0);
  });
});
