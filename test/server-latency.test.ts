/**
 * What keeps the language server fast on large files: each version is analysed once, its
 * diagnostics are published before (and without) any index building, semantic tokens answer a
 * range request with that range only and a delta request with the changed numbers only, inlay
 * hints only for the requested range.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { InlayHint, SemanticTokens, SemanticTokensDelta } from "vscode-languageserver";
import {
  createConnection,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { generateVmcs } from "../bench/generate";
import { analyze } from "../core/src/index";
import { AnalysisCache, type AnalyzedVersion } from "../server/src/documents";
import { completeAt, lexicalContext, scanStart } from "../server/src/features/completion";
import type { FileStatusParams } from "../server/src/protocol";
import { startServer } from "../server/src/server";
import { REPO_ROOT, startInProcess, type TestClient } from "./support/lspHarness";

const TEXT = generateVmcs(600);
let client: TestClient;
let counter = 0;

before(async () => {
  client = await startInProcess({}, 30);
});
after(async () => {
  await client.close();
});

async function open(text: string): Promise<string> {
  const uri = `file:///latency/doc${++counter}.vmcs`;
  client.open(uri, text);
  await client.diagnostics(uri, 1);
  return uri;
}

function decode(data: readonly number[]): { line: number; character: number; length: number }[] {
  const tokens: { line: number; character: number; length: number }[] = [];
  let line = 0;
  let character = 0;
  for (let i = 0; i < data.length; i += 5) {
    line += data[i]!;
    character = data[i] === 0 ? character + data[i + 1]! : data[i + 1]!;
    tokens.push({ line, character, length: data[i + 2]! });
  }
  return tokens;
}

test("AnalysisCache: diagnostics go out before any index exists, one analysis per version", async () => {
  const published: { version: number; hadModel: boolean }[] = [];
  const cache = new AnalysisCache(
    20,
    (_uri, analyzed: AnalyzedVersion) =>
      published.push({ version: analyzed.version, hadModel: !!analyzed.model }),
    () => undefined,
  );
  const settle = () => new Promise((resolve) => setTimeout(resolve, 80));
  const uri = "file:///cache.vmcs";
  const document = TextDocument.create(uri, "vmcs", 1, TEXT);
  cache.schedule(document, true);
  assert.deepEqual(published, [{ version: 1, hadModel: false }]);
  // An edit nobody asks about: the debounce analyses and publishes it, without an index.
  TextDocument.update(document, [{ text: TEXT.replace("compute 3us", "compute 4us") }], 2);
  cache.schedule(document);
  assert.equal(cache.analysesRun, 1, "nothing runs before the debounce");
  await settle();
  assert.deepEqual(published.at(-1), { version: 2, hadModel: false });
  assert.equal(cache.analysesRun, 2);
  // Requests before the debounce fires: the first runs the analysis of the new version (without
  // publishing it: publication stays debounced), the others reuse it, the index is built once.
  TextDocument.update(document, [{ text: TEXT.replace("compute 3us", "compute 6us") }], 3);
  cache.schedule(document);
  const model = cache.model(uri);
  assert.ok(model);
  assert.match(model.analysis.text, /compute 6us/);
  assert.equal(cache.model(uri), model);
  assert.equal(cache.ensure(uri)?.version, 3);
  assert.equal(cache.analysesRun, 3);
  assert.equal(published.length, 2, "not published before the debounce");
  await settle();
  // The debounce publishes the analysis the requests ran: no second analysis of version 3.
  assert.deepEqual(published.at(-1), { version: 3, hadModel: true });
  assert.equal(published.length, 3);
  assert.equal(cache.analysesRun, 3);
  cache.close(uri);
});

/**
 * A barrier past every debounce timer running now: an edit of another document, published by a
 * timer set after theirs (same delay, later start). The server writes in order, so when its
 * diagnostics arrive, every message sent before — a second publication included — has too.
 */
async function pastPendingDebounces(on: TestClient): Promise<void> {
  const uri = `file:///latency/barrier${++counter}.vmcs`;
  on.open(uri, "vmcs a { }\n");
  await on.diagnostics(uri, 1);
  on.change(uri, 2, "vmcs a { proc hlt_exiting }\n");
  await on.diagnostics(uri, 2);
}

const statusVersions = (on: TestClient, uri: string) =>
  (on.notifications("trapline/fileStatus") as FileStatusParams[])
    .filter((s) => s.uri === uri)
    .map((s) => s.version);

test("one analysis and one publication per version, however many requests come before the debounce", async () => {
  const uri = await open(TEXT);
  const edited = TEXT.replace("compute 3us", "compute 5us");
  client.change(uri, 2, edited);
  const position = { line: 40, character: 4 };
  await Promise.all([
    client.request("textDocument/hover", { textDocument: { uri }, position }),
    client.request("textDocument/semanticTokens/full", { textDocument: { uri } }),
    client.request("textDocument/inlayHint", {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } },
    }),
    client.request("textDocument/codeLens", { textDocument: { uri } }),
    client.request("textDocument/completion", { textDocument: { uri }, position }),
    client.request("textDocument/documentSymbol", { textDocument: { uri } }),
  ]);
  await client.diagnostics(uri, 2);
  // Past the debounce of version 2: its timer must not have analysed or published it again.
  await pastPendingDebounces(client);
  assert.deepEqual(
    client.publications(uri).map((p) => p.version),
    [1, 2],
  );
  assert.deepEqual(statusVersions(client, uri), [1, 2]);
});

test("settings: a refresh republishes the open documents only when it changes the analysis", async () => {
  // A client that answers workspace/configuration (as VS Code and Neovim do): the server asks
  // after `initialized` and on every didChangeConfiguration.
  let answer: Record<string, unknown> = { defaultTarget: "" };
  let asked = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  /** Resolves once the client has answered the `count`-th configuration request. */
  const answered = (count: number) =>
    new Promise<void>((resolve) => {
      if (asked >= count) resolve();
      else waiting.push({ count, resolve });
    });
  const configured = await startInProcess({}, 30, (section) => {
    asked++;
    for (const w of waiting.splice(0))
      if (asked >= w.count) w.resolve();
      else waiting.push(w);
    return section === "trapline" ? answer : {};
  });
  try {
    const uri = "file:///latency/settings.vmcs";
    configured.open(uri, "vmcs kvm { proc hlt_exiting }\nguest g on kvm { path p rate 1k/s { hlt } }\n");
    await configured.diagnostics(uri, 1);
    // The refresh after `initialized`, and one on didChangeConfiguration, both read "" (VS Code's
    // default), which means the same target as absent: no republication.
    await answered(1);
    void configured.connection.sendNotification("workspace/didChangeConfiguration", { settings: {} });
    await answered(2);
    // Settings that change the analysis (another target): exactly one republication, same version.
    answer = { defaultTarget: "icelake_server" };
    void configured.connection.sendNotification("workspace/didChangeConfiguration", { settings: {} });
    await configured.diagnostics(uri, 1);
    await pastPendingDebounces(configured);
    assert.equal(asked, 3);
    assert.deepEqual(
      configured.publications(uri).map((p) => p.version),
      [1, 1],
    );
    const statuses = (configured.notifications("trapline/fileStatus") as FileStatusParams[]).filter(
      (s) => s.uri === uri,
    );
    assert.deepEqual(
      statuses.map((s) => [s.version, s.target.profile]),
      [
        [1, "skylake_server"],
        [1, "icelake_server"],
      ],
    );
  } finally {
    await configured.close();
  }
});

test("semantic tokens: a range request returns only the range's tokens, equal to the full result's", async () => {
  const uri = await open(TEXT);
  const full = await client.request<SemanticTokens>("textDocument/semanticTokens/full", {
    textDocument: { uri },
  });
  const range = { start: { line: 200, character: 0 }, end: { line: 260, character: 0 } };
  const ranged = await client.request<SemanticTokens>("textDocument/semanticTokens/range", {
    textDocument: { uri },
    range,
  });
  const all = decode(full.data);
  const inRange = all.filter((t) => t.line >= 200 && t.line < 260);
  assert.ok(inRange.length > 20, "the range has tokens");
  assert.deepEqual(decode(ranged.data), inRange);
  assert.ok(ranged.data.length < full.data.length / 5);
});

test("semantic tokens delta: the edits turn the previous result into the new full result", async () => {
  const uri = await open(TEXT);
  const first = await client.request<SemanticTokens>("textDocument/semanticTokens/full", {
    textDocument: { uri },
  });
  assert.ok(first.resultId);
  // Insert a line in the middle: every later token keeps its relative encoding.
  const middle = TEXT.indexOf("\nguest ", TEXT.length >> 1);
  const edited = `${TEXT.slice(0, middle)}\n// inserted${TEXT.slice(middle)}`;
  client.change(uri, 2, edited);
  await client.diagnostics(uri, 2);
  const delta = await client.request<SemanticTokensDelta>("textDocument/semanticTokens/full/delta", {
    textDocument: { uri },
    previousResultId: first.resultId,
  });
  assert.ok(delta.edits, "a delta, not a full result");
  const patched = [...first.data];
  for (const edit of [...delta.edits].sort((a, b) => b.start - a.start))
    patched.splice(edit.start, edit.deleteCount, ...(edit.data ?? []));
  const fresh = await client.request<SemanticTokens>("textDocument/semanticTokens/full", {
    textDocument: { uri },
  });
  assert.deepEqual(patched, fresh.data);
  const sent = delta.edits.reduce((n, e) => n + (e.data?.length ?? 0), 0);
  assert.ok(sent <= 10, `the delta carries ${sent} numbers`);
  // An unknown previous result gets the full tokens.
  const unknown = await client.request<SemanticTokens>("textDocument/semanticTokens/full/delta", {
    textDocument: { uri },
    previousResultId: "no-such-result",
  });
  assert.deepEqual(unknown.data, fresh.data);
});

test("inlay hints: only for the requested range", async () => {
  const uri = await open(TEXT);
  const everything = await client.request<InlayHint[]>("textDocument/inlayHint", {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 100_000, character: 0 } },
  });
  const visible = await client.request<InlayHint[]>("textDocument/inlayHint", {
    textDocument: { uri },
    range: { start: { line: 300, character: 0 }, end: { line: 350, character: 0 } },
  });
  const expected = everything.filter((h) => h.position.line >= 300 && h.position.line <= 350);
  assert.ok(expected.length > 0);
  assert.deepEqual(visible, expected);
});

test("completion's lexical scan from the enclosing declaration gives the context of a scan from the start", () => {
  const examples = readdirSync(join(REPO_ROOT, "examples"))
    .filter((name) => name.endsWith(".vmcs"))
    .map((name) => readFileSync(join(REPO_ROOT, "examples", name), "utf8"));
  let random = 12345;
  const next = () => {
    random = (random * 1103515245 + 12345) % 2147483648;
    return random;
  };
  let shortened = 0;
  for (const text of [TEXT, ...examples]) {
    const analysis = analyze(text);
    for (let k = 0; k < 300; k++) {
      const offset = next() % (text.length + 1);
      const from = scanStart(analysis, text, offset);
      if (from > 0) shortened++;
      const whole = lexicalContext(text, offset);
      const part = lexicalContext(text, offset, from);
      assert.deepEqual(
        { ...part, blockWords: part.blocks.length ? part.blockWords : [] },
        { ...whole, blockWords: whole.blocks.length ? whole.blockWords : [] },
        `offset ${offset} (scan from ${from})`,
      );
    }
  }
  assert.ok(shortened > 1000, `the scan was shortened ${shortened} times`);
  // With a syntax error, the scan starts at the beginning.
  const broken = `${TEXT}\nvmcs broken {\n  proc hlt_exiting\n`;
  assert.equal(scanStart(analyze(broken), broken, broken.length), 0);
});

test("a settings push that changes nothing does not re-analyse; a new default target does", async () => {
  const uri = await open(TEXT);
  const statusesOf = () =>
    (client.notifications("trapline/fileStatus") as FileStatusParams[]).filter((s) => s.uri === uri);
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  assert.equal(statusesOf().length, 1);
  // VS Code sends "" for an unset defaultTarget; the server started without one.
  void client.connection.sendNotification("workspace/didChangeConfiguration", {
    settings: { trapline: { defaultTarget: "", inlayHints: true } },
  });
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(statusesOf().length, 1, "no second analysis of version 1");
  void client.connection.sendNotification("workspace/didChangeConfiguration", {
    settings: { trapline: { defaultTarget: "haswell" } },
  });
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  assert.equal(statusesOf().length, 2, "the new target re-analyses");
  void client.connection.sendNotification("workspace/didChangeConfiguration", {
    settings: { trapline: { defaultTarget: "" } },
  });
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  assert.equal(statusesOf().length, 3, "back to the default re-analyses");
});

test("completion right after an edit answers from the edited text, analysed once for the request and the debounce", async () => {
  const uri = await open(TEXT);
  const statusesOf = (version: number) =>
    (client.notifications("trapline/fileStatus") as FileStatusParams[]).filter(
      (s) => s.uri === uri && s.version === version,
    );
  // The first vmcs block lists `proc2 enable_ept enable_vpid …`: delete `enable_ept` and start
  // typing it again, then ask for completion at once (as an editor does while one types).
  const line = "  proc2 enable_ept enable_vpid unrestricted_guest pause_loop_exiting";
  const anchor = TEXT.indexOf(line);
  assert.ok(anchor > 0);
  const typed = "  proc2 enab";
  const edited = `${TEXT.slice(0, anchor)}${typed} enable_vpid unrestricted_guest pause_loop_exiting${TEXT.slice(anchor + line.length)}`;
  client.change(uri, 2, edited);
  const position = { line: TEXT.slice(0, anchor).split("\n").length - 1, character: typed.length };
  const items = await client.request<{ label: string }[]>("textDocument/completion", {
    textDocument: { uri },
    position,
  });
  const labels = items.map((item) => item.label);
  assert.ok(labels.includes("enable_ept"), "deleted in version 2: offered again");
  assert.ok(!labels.includes("enable_vpid"), "still listed in version 2");
  assert.ok(labels.includes("enable_pml"));
  // The diagnostics of version 2 come with the debounce, from the analysis completion ran.
  await client.diagnostics(uri, 2);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(statusesOf(2).length, 1, "version 2 analysed and published once");
});

test("pull diagnostics: an unchanged result is answered `unchanged` against its result id", async () => {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  startServer(createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient)), {
    debounceMs: 30,
  });
  const connection = createMessageConnection(
    new StreamMessageReader(toClient),
    new StreamMessageWriter(toServer),
  );
  connection.onNotification(() => undefined);
  connection.onRequest(() => null);
  connection.listen();
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const init = await connection.sendRequest<{ capabilities: { diagnosticProvider?: unknown } }>(
      "initialize",
      {
        processId: null,
        rootUri: null,
        capabilities: { textDocument: { diagnostic: { dynamicRegistration: false } } },
      },
    );
    assert.ok(init.capabilities.diagnosticProvider, "pull diagnostics offered");
    const uri = "file:///pull.vmcs";
    const text = TEXT.replace("hlt_exiting", "hlt_exitting");
    void connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "vmcs", version: 1, text },
    });
    type Report = { kind: string; resultId?: string; items?: unknown[] };
    const pull = (previousResultId?: string) =>
      connection.sendRequest<Report>("textDocument/diagnostic", { textDocument: { uri }, previousResultId });
    const first = await pull();
    assert.equal(first.kind, "full");
    assert.ok(first.items!.length > 0 && first.resultId);
    // An edit that changes no diagnostic (same line count, after the error).
    const at = text.lastIndexOf("compute 3us") + "compute ".length;
    void connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: `${text.slice(0, at)}4${text.slice(at + 1)}` }],
    });
    assert.deepEqual(await pull(first.resultId), { kind: "unchanged", resultId: first.resultId });
    // An edit that fixes the error: a full report with a new id.
    void connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: 3 },
      contentChanges: [{ text: TEXT }],
    });
    const fixed = await pull(first.resultId);
    assert.equal(fixed.kind, "full");
    assert.notEqual(fixed.resultId, first.resultId);
    assert.ok(fixed.items!.length < first.items!.length);
    // A client without the previous id gets the full report.
    assert.equal((await pull()).kind, "full");
  } finally {
    clearInterval(keepAlive);
    connection.dispose();
    toServer.end();
    toClient.end();
  }
});

test("AnalysisCache keeps one analysis per document: earlier versions' analyses and indexes are collectable", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const cache = new AnalysisCache(
    5,
    () => undefined,
    () => undefined,
  );
  const uri = "file:///retention.vmcs";
  const text = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");
  const document = TextDocument.create(uri, "vmcs", 1, text);
  cache.schedule(document, true);
  const earlier: WeakRef<object>[] = [];
  for (let version = 2; version <= 30; version++) {
    TextDocument.update(document, [{ text: text.replace("compute 3us", `compute ${version}us`) }], version);
    cache.schedule(document);
    const model = cache.model(uri)!;
    if (version < 30) earlier.push(new WeakRef(model), new WeakRef(model.analysis));
    // Now and then the debounce publishes too (the published analysis must not be kept either).
    if (version % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
  }
  await new Promise((resolve) => setTimeout(resolve, 30));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const alive = earlier.filter((ref) => ref.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} analyses or indexes of superseded versions still reachable`);
  assert.match(cache.model(uri)!.analysis.text, /compute 30us/);
  cache.close(uri);
});

test("completion asks for the analysis only in contexts that offer names or the target's items", () => {
  const text = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");
  const analysis = analyze(text);
  let calls = 0;
  const load = () => {
    calls++;
    return analysis;
  };
  // A guest operation keyword inside a path: the operation list, no names.
  const inPath = text.indexOf("mmio write 0xfebf_0018");
  const keywords = completeAt(load, text, inPath);
  assert.ok(keywords.some((item) => item.label === "cpuid"));
  assert.equal(calls, 0, "keyword completion did not analyse");
  // Controls of a proc2 line: the target's support and the block's listed controls.
  const controls = completeAt(load, text, text.indexOf("enable_ept"));
  assert.ok(controls.some((item) => item.label === "enable_pml"));
  assert.equal(calls, 1, "control completion analysed once");
  // Passing the analysis itself gives the same items.
  assert.deepEqual(completeAt(analysis, text, text.indexOf("enable_ept")), controls);
});
