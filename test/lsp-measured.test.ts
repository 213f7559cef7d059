/**
 * `measured "TRACE"` in the editor (docs/traces.md "In the editor"), over the shipped server on
 * stdio (`trapline lsp --stdio`): a real perf kvm stat report from test/fixtures/traces/ set
 * beside the estimate in hovers, code lenses, the Show Estimate report and TL409 diagnostics
 * with the "Calibrate from the measured trace" quick fix (the edits `trapline calibrate` makes);
 * TL410 for a missing trace and in an untrusted workspace; a changed trace is read again.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { CodeAction, CodeLens, Diagnostic, Hover } from "vscode-languageserver";
import { analyze, applyTextEdits, calibrate, importTrace } from "../core/src/index";
import { positionIn, REPO_ROOT, startStdio, type TestClient } from "./support/lspHarness";

/** A published diagnostic's message as text (the LSP allows markup). */
const messageOf = (d: Diagnostic) => (typeof d.message === "string" ? d.message : d.message.value);

const FIXTURES = join(REPO_ROOT, "test", "fixtures");
const REPORT = "perf-kvm-stat-report-compute-go.txt";
const REPORT_TEXT = readFileSync(join(FIXTURES, "traces", REPORT), "utf8");
const BASE = readFileSync(join(FIXTURES, "measured", "tsc-deadline.vmcs"), "utf8");

/** The fixture .vmcs with a `measured` line in its guest. */
function withMeasured(line: string): string {
  const text = BASE.replace("  idle halt\n", `  idle halt\n  ${line}\n`);
  assert.notEqual(text, BASE);
  return text;
}

/** The diagnostics `uri` is published with next that satisfy `wanted` (earlier ones skipped). */
async function diagnosticsUntil(
  client: TestClient,
  uri: string,
  wanted: (d: Diagnostic[]) => boolean,
): Promise<Diagnostic[]> {
  for (;;) {
    const diagnostics = await client.diagnostics(uri);
    if (wanted(diagnostics)) return diagnostics;
  }
}

const hasCode = (code: string) => (d: Diagnostic[]) => d.some((x) => x.code === code);

describe("measured traces over stdio", { timeout: 60_000 }, () => {
  let client: TestClient;
  let scratch: string;
  before(async () => {
    client = await startStdio({ estimateCommand: true });
    scratch = mkdtempSync(join(tmpdir(), "trapline-measured-"));
  });
  after(async () => {
    await client.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  // The document is not on disk: only its directory matters (the trace path is relative to it).
  const uri = pathToFileURL(join(FIXTURES, "measured", "editor-measured.vmcs")).href;
  const text = withMeasured(`measured "../traces/${REPORT}" tolerance 25%`);

  test("TL409 on the handler whose µs per exit the trace contradicts, with the calibrate fix", async () => {
    client.open(uri, text);
    const diagnostics = await diagnosticsUntil(client, uri, hasCode("TL409"));
    const mismatch = diagnostics.filter((d) => d.code === "TL409");
    assert.equal(mismatch.length, 1, JSON.stringify(mismatch));
    const d = mismatch[0]!;
    // On `MSR_WRITE` of `handler MSR_WRITE` (the reason's µs per exit), a warning.
    assert.deepEqual(d.range.start, positionIn(text, "MSR_WRITE {"));
    assert.equal(d.severity, 2);
    assert.match(
      messageOf(d),
      /^MSR_WRITE: measured 0\.78 µs per exit, the model 2 µs \(0\.39×, beyond ±25%/,
    );

    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: d.range,
      context: { diagnostics: [d] },
    });
    const fix = actions.find((a) => a.title === "Calibrate from the measured trace");
    assert.ok(fix, JSON.stringify(actions.map((a) => a.title)));
    // The same edit as `trapline calibrate --write` (core/src/trace/calibrate.ts).
    const program = analyze(text).program;
    const expected = applyTextEdits(text, calibrate(program, text, importTrace(REPORT_TEXT)).edits);
    const edits = fix.edit!.changes![uri]!;
    const lines = text.split("\n");
    const offset = (p: { line: number; character: number }) =>
      lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
    const applied = [...edits]
      .sort((a, b) => offset(b.range.start) - offset(a.range.start))
      .reduce((t, e) => t.slice(0, offset(e.range.start)) + e.newText + t.slice(offset(e.range.end)), text);
    assert.equal(applied, expected);
    assert.notEqual(applied, text);
    // After calibration the model reproduces the measured MSR_WRITE latency: no TL409 left.
    client.change(uri, 2, applied);
    const calibrated = await client.diagnostics(uri, 2);
    assert.equal(calibrated.filter((x) => x.code === "TL409").length, 0, JSON.stringify(calibrated));
    client.change(uri, 3, text);
    await diagnosticsUntil(client, uri, hasCode("TL409"));
  });

  test("the hover of `measured` shows per reason: measured exits/s, µs/exit, the model's, the ratio", async () => {
    const hover = await client.request<Hover>("textDocument/hover", {
      textDocument: { uri },
      position: positionIn(text, "measured", 2),
    });
    const value = (hover.contents as { value: string }).value;
    assert.match(
      value,
      /\*\*Measured\*\* `\.\.\/traces\/perf-kvm-stat-report-compute-go\.txt` beside the estimate of guest `g`/,
      value,
    );
    assert.match(value, /perf-kvm-stat: 309 exits, no timestamps; tolerance ±25%/, value);
    assert.match(value, /\| MSR\\_WRITE \| — \| 1k\/s \| — \| 0\.78 µs \| 2 µs \| 0\.39× ⚠ \|/, value);
    assert.match(value, /\| EPT\\_MISCONFIG \(trace only\) \| — \| — \| — \| 2\.58 µs \| — \| — \|/, value);
    assert.match(
      value,
      /\| HLT \| — \| 997\.3\/s \| — \| 603000 µs \| 1\.73 µs \| idle, not compared \|/,
      value,
    );

    const handler = await client.request<Hover>("textDocument/hover", {
      textDocument: { uri },
      position: positionIn(text, "MSR_WRITE {", 2),
    });
    assert.match(
      (handler.contents as { value: string }).value,
      /\*\*Measured\*\* \(`\.\.\/traces\/perf-kvm-stat-report-compute-go\.txt`, guest `g`\): 0\.78 µs\/exit \(model 2 µs, 0\.39× ⚠\)/,
    );
  });

  test("code lenses on `measured` and on the handler carry the measured figure", async () => {
    const lenses = await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } });
    const measuredLine = positionIn(text, "measured").line;
    const onMeasured = lenses.find((l) => l.range.start.line === measuredLine);
    assert.ok(onMeasured, JSON.stringify(lenses));
    assert.equal(
      onMeasured.command!.title,
      "measured 0.816 µs/exit (model 2 µs, 0.408× ⚠) · 2 figures beyond ±25%",
    );
    const handlerLine = positionIn(text, "handler MSR_WRITE").line;
    const onHandler = lenses.find((l) => l.range.start.line === handlerLine);
    assert.match(onHandler!.command!.title, / · measured 0\.78 µs\/exit \(0\.39× ⚠\)$/);
  });

  test("the Show Estimate report has the measured section", async () => {
    const report = await client.request<{ markdown: string }>("trapline/estimateReport", {
      uri,
      guest: "g",
    });
    assert.match(
      report.markdown,
      /### Measured: `\.\.\/traces\/perf-kvm-stat-report-compute-go\.txt`/,
      report.markdown,
    );
    assert.match(
      report.markdown,
      /\| MSR\\_WRITE \| — \| 1k\/s \| — \| 0\.78 µs \| 2 µs \| 0\.39× ⚠ \|/,
      report.markdown,
    );
    assert.match(
      report.markdown,
      /Calibration \(quick fix "Calibrate from the measured trace"/,
      report.markdown,
    );
  });

  test("a missing trace is a located TL410; writing it makes the comparison appear", async () => {
    const docUri = pathToFileURL(join(scratch, "g.vmcs")).href;
    const missing = withMeasured('measured "later.txt"');
    client.open(docUri, missing);
    const first = await diagnosticsUntil(client, docUri, hasCode("TL410"));
    const d = first.find((x) => x.code === "TL410")!;
    assert.deepEqual(d.range.start, positionIn(missing, '"later.txt"'));
    assert.match(messageOf(d), /the trace `later\.txt` is not compared: no such file/);
    // The server watches the path (through its directory while the file does not exist).
    writeFileSync(join(scratch, "later.txt"), REPORT_TEXT);
    const after = await diagnosticsUntil(client, docUri, hasCode("TL409"));
    assert.equal(after.filter((x) => x.code === "TL410").length, 0);
  });

  test("a directory is refused, and a trace that is not one says so", async () => {
    const docUri = pathToFileURL(join(scratch, "h.vmcs")).href;
    writeFileSync(join(scratch, "junk.txt"), "hello\nworld\n");
    const dir = withMeasured('measured "."');
    client.open(docUri, dir);
    const d1 = await diagnosticsUntil(client, docUri, hasCode("TL410"));
    assert.match(messageOf(d1.find((x) => x.code === "TL410")!), /is a directory/);
    client.change(docUri, 2, withMeasured('measured "junk.txt"'));
    const d2 = await diagnosticsUntil(client, docUri, (d) =>
      d.some((x) => x.code === "TL410" && /not a KVM trace/.test(messageOf(x))),
    );
    assert.equal(d2.filter((x) => x.code === "TL410").length, 1);
  });
});

describe("an untrusted workspace reads no trace", { timeout: 60_000 }, () => {
  let client: TestClient;
  before(async () => {
    client = await startStdio({ workspaceTrusted: false });
  });
  after(async () => {
    await client.close();
  });

  test("TL410 until the client says the workspace is trusted", async () => {
    const uri = pathToFileURL(join(FIXTURES, "measured", "untrusted.vmcs")).href;
    const text = withMeasured(`measured "../traces/${REPORT}"`);
    client.open(uri, text);
    const first = await diagnosticsUntil(client, uri, hasCode("TL410"));
    assert.match(messageOf(first.find((x) => x.code === "TL410")!), /not trusted/);
    assert.equal(first.filter((x) => x.code === "TL409").length, 0);
    void client.connection.sendNotification("trapline/didGrantWorkspaceTrust");
    const trusted = await diagnosticsUntil(client, uri, hasCode("TL409"));
    assert.equal(trusted.filter((x) => x.code === "TL410").length, 0);
  });
});
