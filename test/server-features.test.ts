/**
 * Language-server features in process: the real startServer over in-memory streams, driven by a
 * JSON-RPC client, with `$0` cursor markers in the test text.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type {
  CodeAction,
  CompletionItem,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  InlayHint,
  Location,
  SemanticTokens,
  WorkspaceEdit,
} from "vscode-languageserver";
import { analyze } from "../core/src/index";
import { formatRate } from "../core/src/util/format";
import { SEMANTIC_LEGEND } from "../server/src/features/decorations";
import type { FileStatusParams } from "../server/src/protocol";
import {
  assertAnswersAboutTheEdit,
  REPO_ROOT,
  requestsAfterAnEdit,
  startInProcess,
  type TestClient,
  withCursor,
} from "./support/lspHarness";

const EXAMPLE = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");

let client: TestClient;
let counter = 0;

before(async () => {
  client = await startInProcess({ simulateCommand: true, estimateCommand: true });
});
after(async () => {
  await client.close();
});

/** Opens `marked` (with a `$0` cursor) as a fresh document and waits for its analysis. */
async function openAt(
  marked: string,
): Promise<{ uri: string; position: { line: number; character: number } }> {
  const { text, position } = withCursor(marked);
  const uri = `file:///test/doc${++counter}.vmcs`;
  client.open(uri, text);
  await client.diagnostics(uri);
  // A round trip flushes the trapline/fileStatus notification sent right after the diagnostics.
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  return { uri, position };
}

/** EXAMPLE with `$0` inserted before the `occurrence`-th match of `needle` (plus `shift` characters). */
function exampleAt(needle: string, shift = 0): string {
  const at = EXAMPLE.indexOf(needle);
  assert.ok(at >= 0, `example contains ${needle}`);
  return `${EXAMPLE.slice(0, at + shift)}$0${EXAMPLE.slice(at + shift)}`;
}

function hoverText(hover: Hover | null): string {
  assert.ok(hover, "a hover");
  const contents = hover.contents as { value: string };
  return contents.value;
}

describe("diagnostics", () => {
  test("are pushed on open with codes and the source, and again after an edit", async () => {
    const uri = "file:///test/diag.vmcs";
    const text = "vmcs a {\n  proc hlt_exitting\n}\n";
    client.open(uri, text);
    const first = await client.diagnostics(uri, 1);
    const unknown = first.find((d) => d.range.start.line === 1);
    assert.ok(unknown, `a diagnostic on line 2, got ${JSON.stringify(first)}`);
    assert.equal(unknown.source, "trapline");
    assert.match(String(unknown.code), /^TL/);
    assert.equal(unknown.range.start.character, 7);
    client.change(uri, 2, "vmcs a {\n  proc hlt_exiting\n}\n");
    const second = await client.diagnostics(uri, 2);
    assert.ok(!second.some((d) => d.range.start.line === 1 && d.severity === 1), JSON.stringify(second));
  });

  test("a burst of edits is analysed once, for the last version", async () => {
    const uri = "file:///test/burst.vmcs";
    client.open(uri, "vmcs a { }\n");
    await client.diagnostics(uri, 1);
    const before = client.notifications("trapline/fileStatus").length;
    for (let v = 2; v <= 20; v++)
      client.change(uri, v, `vmcs a { proc hlt_exiting }\n${"// pad\n".repeat(v)}`);
    await client.diagnostics(uri, 20);
    // A round trip flushes the status notification sent right after the diagnostics.
    await client.request("textDocument/hover", {
      textDocument: { uri },
      position: { line: 0, character: 0 },
    });
    const statuses = (client.notifications("trapline/fileStatus") as FileStatusParams[]).slice(before);
    const forUri = statuses.filter((s) => s.uri === uri && s.version !== 1);
    assert.ok(forUri.length <= 2, `debounced: ${forUri.length} analyses for 19 edits`);
    assert.equal(forUri[forUri.length - 1]!.version, 20);
  });

  test("the server survives text that is not a program at all", async () => {
    const uri = "file:///test/garbage.vmcs";
    client.open(uri, "}}}{{{ \u0000 \ud800 guest on on on { path rate /s { ");
    const diagnostics = await client.diagnostics(uri, 1);
    assert.ok(diagnostics.length > 0);
    const hover = await client.request<Hover | null>("textDocument/hover", {
      textDocument: { uri },
      position: { line: 0, character: 20 },
    });
    assert.ok(hover === null || typeof hover === "object");
  });
});

describe("hover", () => {
  test("on a source's header: its per-execution figures, the rate per vCPU and for the guest", async () => {
    const plainText = (t: string) => t.replace(/\\(.)/g, "$1");
    const { uri, position } = await openAt(exampleAt("path send rate 20k/s", 6));
    const text = plainText(
      hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position })),
    );
    assert.match(text, /\*\*path send\*\* — per execution \(estimate\)/);
    assert.match(text, /rate 20k\/s per vCPU \(40k\/s for the guest's 2 vCPUs\)/);
    assert.match(text, /per execution: 1 exits \(EPT_MISCONFIG×1\), 23,273 host cycles/);
    assert.match(text, /latency its exits add: mean [\d.]+ µs, p50 [\d.]+ µs, p99 [\d.]+ µs/);
    // The name's own hover (the interrupt's delivery) follows the figures.
    const irq = await openAt(exampleAt("irq nic vector", 4));
    const irqText = plainText(
      hoverText(
        await client.request("textDocument/hover", {
          textDocument: { uri: irq.uri },
          position: irq.position,
        }),
      ),
    );
    assert.match(irqText, /\*\*irq nic\*\* — per execution/);
    assert.match(irqText, /EXTERNAL_INTERRUPT/);
  });

  test("on a guest operation: exit reason, rule, cycle breakdown, rates", async () => {
    const { uri, position } = await openAt(exampleAt("mmio write 0xfebf_0018", 2));
    const text = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(text, /EPT_MISCONFIG \(49\)/);
    assert.match(text, /transition/);
    assert.match(text, /user space/);
    assert.match(text, /cycles/);
    assert.match(text, /\/s\*\* per vCPU/);
    assert.match(text, /of a host core/);
    // The transition's terms under the guest's vmcs (analysis/transitionCost.ts), summing to it.
    assert.match(text, /round trip \| 1,419 \|/);
    assert.match(text, /EPT walk \\\(4 levels\\\) \| 104 \|/);
    // netperf is not pinned: the tail of a vCPU that may migrate (transition_tail_migrating).
    assert.match(text, /tail \\\(5 \\% of exits.*may migrate/);
    assert.match(text, /transition \(VM exit \+ entry\) \| 1,609 \|/);
  });

  test("on a control: word, bit, meaning, support on the target, effect here", async () => {
    const { uri, position } = await openAt(exampleAt("hlt_exiting", 3));
    const text = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(text, /`proc` bit 7/);
    assert.match(text, /CPU_BASED_VM_EXEC_CONTROL/);
    assert.match(text, /On \*\*skylake_server\*\*: supported/);
  });

  test("on a handler: cost per exit, branches, exits it serves", async () => {
    const { uri, position } = await openAt(exampleAt("EPT_MISCONFIG {", 3));
    const text = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(text, /handler EPT_MISCONFIG\*\* \(exit reason 49\)/);
    assert.match(text, /95\.0%|95%/);
    assert.match(text, /doorbell/);
    const served = analyze(withCursor(exampleAt("EPT_MISCONFIG {", 3)).text)
      .estimates.get("netperf")!
      .byReason.find((r) => r.code === 49)!.exitsPerSecond;
    assert.ok(text.includes(`Serves **${formatRate(served)}**`), `serves ${formatRate(served)}`);
  });

  test("on a VMCS field in a handler: encoding, width, read-only", async () => {
    const { uri, position } = await openAt(exampleAt("GUEST_PHYSICAL_ADDRESS", 4));
    const text = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(
      text,
      /GUEST_PHYSICAL_ADDRESS\*\* — encoding `0x2400`, 64-bit exit-information field, \*\*read-only\*\*/,
    );
  });

  test("on a guest-state field: an unset one is assumed valid", async () => {
    const text = readFileSync(join(REPO_ROOT, "examples", "hypercall-batching.vmcs"), "utf8");
    const at = text.indexOf("GUEST_RIP") + 3;
    const { uri, position } = await openAt(`${text.slice(0, at)}$0${text.slice(at)}`);
    const hover = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(hover, /GUEST_RIP\*\* — encoding `0x681e`, natural-width guest-state field/);
    assert.match(hover, /When a vmcs leaves it unset: assumed a valid value/);
  });

  test("on a handler's vmread: the cost's provenance said once (not 'estimate: estimate:')", async () => {
    const text = readFileSync(join(REPO_ROOT, "examples", "hypercall-batching.vmcs"), "utf8");
    const at = text.indexOf("vmread GUEST_RIP") + 2;
    const { uri, position } = await openAt(`${text.slice(0, at)}$0${text.slice(at)}`);
    const hover = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(
      hover,
      /\*\*VMREAD\*\* `GUEST_RIP` in handler [A-Z_]+: [^\n]* — estimate: VMREAD of a cached VMCS field/,
    );
    assert.doesNotMatch(hover, /estimate: estimate/);
  });

  test("on the target profile", async () => {
    const { uri, position } = await openAt(exampleAt("skylake_server", 2));
    const text = hoverText(await client.request("textDocument/hover", { textDocument: { uri }, position }));
    assert.match(text, /round_trip/);
    assert.match(text, /secondary controls yes/);
  });
});

describe("completion", () => {
  async function labels(marked: string): Promise<CompletionItem[]> {
    const { uri, position } = await openAt(marked);
    return client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri }, position });
  }

  test("controls of the statement's word, marking those the target lacks", async () => {
    const items = await labels("target haswell\nvmcs a {\n  proc2 enable_ept $0\n}\n");
    const names = items.map((i) => i.label);
    assert.ok(names.includes("enable_vpid"));
    assert.ok(!names.includes("enable_ept"), "already listed");
    assert.ok(!names.includes("hlt_exiting"), "a proc control is not offered after proc2");
    const pml = items.find((i) => i.label === "enable_pml");
    assert.ok(pml, "enable_pml offered");
    assert.match(String(pml.detail), /not supported on haswell/);
    assert.deepEqual(pml.tags, [1]);
  });

  test("exit reasons after handler, fields after vmread, MSRs after wrmsr, vmcs after on", async () => {
    assert.ok((await labels("handler $0")).some((i) => i.label === "EPT_VIOLATION"));
    assert.ok(
      (await labels("handler HLT {\n  vmread $0\n}\n")).some((i) => i.label === "EXIT_QUALIFICATION"),
    );
    const writes = await labels("handler HLT {\n  vmwrite $0\n}\n");
    assert.deepEqual(
      writes.find((i) => i.label === "VM_EXIT_REASON")?.tags,
      [1],
      "read-only field struck through",
    );
    assert.ok(
      (await labels("vmcs k { }\nguest g on k {\n  path p rate 1k/s {\n    wrmsr $0\n  }\n}\n")).some(
        (i) => i.label === "IA32_TSC_DEADLINE",
      ),
    );
    assert.deepEqual(
      (await labels("vmcs alpha { }\nvmcs beta { }\nguest g on $0")).map((i) => i.label).sort(),
      ["alpha", "beta"],
    );
  });

  test("guest operations inside a path, nothing inside a comment", async () => {
    const ops = await labels("vmcs k { }\nguest g on k {\n  path p rate 1k/s {\n    $0\n  }\n}\n");
    assert.ok(ops.some((i) => i.label === "cpuid"));
    assert.ok(ops.some((i) => i.label === "mmio"));
    assert.deepEqual(await labels("// handler $0\n"), []);
  });
});

describe("coalesce (notification coalescing extension)", () => {
  const VIRTIO = readFileSync(join(REPO_ROOT, "examples", "e1000-vs-virtio.vmcs"), "utf8");

  test("completion offers coalesce and send_ipi among the guest operations", async () => {
    const { uri, position } = await openAt(
      "vmcs k { }\nguest g on k {\n  path p rate 1k/s {\n    $0\n  }\n}\n",
    );
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri },
      position,
    });
    const coalesce = items.find((i) => i.label === "coalesce");
    assert.ok(coalesce, "coalesce offered");
    assert.match(JSON.stringify(coalesce.documentation), /once per N executions/);
    assert.ok(items.some((i) => i.label === "send_ipi"));
  });

  test("hover on the keyword explains it; on the notification inside, the coalesced rate", async () => {
    const at = VIRTIO.indexOf("coalesce 8 or 200us");
    const keyword = await openAt(`${VIRTIO.slice(0, at + 2)}$0${VIRTIO.slice(at + 2)}`);
    const keywordText = hoverText(
      await client.request("textDocument/hover", {
        textDocument: { uri: keyword.uri },
        position: keyword.position,
      }),
    );
    assert.match(keywordText, /notification coalescing/);

    const notify = VIRTIO.indexOf("out 0xc010", at);
    const op = await openAt(`${VIRTIO.slice(0, notify + 1)}$0${VIRTIO.slice(notify + 1)}`);
    const opText = hoverText(
      await client.request("textDocument/hover", { textDocument: { uri: op.uri }, position: op.position }),
    );
    assert.match(opText, /IO_INSTRUCTION \(30\)/);
    // The rate the hover reports is the estimator's: fewer notifications than the 50k/s sends.
    const estimate = analyze(VIRTIO).estimates.get("virtio")!;
    const notifications = estimate.operations.find((o) => o.span.start === notify)!;
    assert.ok(notifications.exitsPerSecond < 50_000 / 4, `coalesced: ${notifications.exitsPerSecond}/s`);
    assert.ok(opText.includes(formatRate(notifications.exitsPerSecond)), "the hover shows that rate");
  });
});

describe("navigation", () => {
  test("definition of a vmcs from a guest, references, rename", async () => {
    const { uri, position } = await openAt(exampleAt("on kvm {", 4));
    const definition = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri },
      position,
    });
    assert.ok(definition);
    assert.equal(
      definition.range.start.line,
      EXAMPLE.slice(0, EXAMPLE.indexOf("vmcs kvm")).split("\n").length - 1,
    );
    const references = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: true },
    });
    assert.equal(references.length, 2);
    const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
      textDocument: { uri },
      position,
      newName: "kvm2",
    });
    const edits = edit.changes?.[uri] ?? [];
    assert.equal(edits.length, 2);
    assert.ok(edits.every((e) => e.newText === "kvm2"));
    await assert.rejects(
      client.request("textDocument/rename", { textDocument: { uri }, position, newName: "2bad" }),
      /not a valid name/,
    );
  });

  test("references of a handler are the guest operations that exit with its reason", async () => {
    const { uri, position } = await openAt(exampleAt("EPT_MISCONFIG {", 1));
    const references = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: false },
    });
    assert.equal(references.length, 1);
    const line = EXAMPLE.split("\n")[references[0]!.range.start.line]!;
    assert.match(line, /mmio write 0xfebf_0018/);
  });

  test("document symbols and folding", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const symbols = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri },
    });
    const names = symbols.map((s) => s.name);
    for (const name of ["kvm", "netperf", "handler EPT_MISCONFIG", "handler HLT"])
      assert.ok(names.includes(name), name);
    const guest = symbols.find((s) => s.name === "netperf" && s.detail === "guest");
    assert.deepEqual(
      guest?.children?.map((c) => c.name),
      ["send", "nic", "timer"],
    );
    const folds = await client.request<FoldingRange[]>("textDocument/foldingRange", {
      textDocument: { uri },
    });
    assert.ok(folds.length >= 4);
  });
});

describe("code actions, semantic tokens, inlay hints, lenses", () => {
  test("quick fixes come from the core's fixes via Diagnostic.data", async () => {
    const uri = "file:///test/fix.vmcs";
    const text = "vmcs a {\n  proc hlt_exitting\n}\n";
    client.open(uri, text);
    const diagnostics: Diagnostic[] = await client.diagnostics(uri, 1);
    const withFix = diagnostics.filter((d) => (d.data as { fixes?: unknown[] } | undefined)?.fixes?.length);
    assert.ok(withFix.length > 0, `a diagnostic with a fix: ${JSON.stringify(diagnostics)}`);
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: withFix[0]!.range,
      context: { diagnostics: withFix },
    });
    const rename = actions.find((a) => /hlt_exiting/.test(a.title));
    assert.ok(rename, JSON.stringify(actions.map((a) => a.title)));
    assert.equal(rename.kind, "quickfix");
    assert.equal(rename.edit?.changes?.[uri]?.[0]?.newText, "hlt_exiting");
    // A client that does not echo `data` gets the same fix from the cached analysis.
    const stripped = withFix.map(({ data: _data, ...rest }) => rest);
    const again = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: withFix[0]!.range,
      context: { diagnostics: stripped },
    });
    assert.ok(again.some((a) => /hlt_exiting/.test(a.title)));
  });

  test("semantic tokens mark controls, reasons, fields and exiting operations", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const tokens = await client.request<SemanticTokens>("textDocument/semanticTokens/full", {
      textDocument: { uri },
    });
    const lines = EXAMPLE.split("\n");
    let line = 0;
    let character = 0;
    const decoded: { text: string; type: string; modifiers: string[] }[] = [];
    for (let i = 0; i < tokens.data.length; i += 5) {
      const [dl, dc, length, type, mods] = tokens.data.slice(i, i + 5) as [
        number,
        number,
        number,
        number,
        number,
      ];
      line += dl;
      character = dl === 0 ? character + dc : dc;
      decoded.push({
        text: lines[line]!.slice(character, character + length),
        type: SEMANTIC_LEGEND.tokenTypes[type]!,
        modifiers: SEMANTIC_LEGEND.tokenModifiers.filter((_, bit) => mods & (1 << bit)),
      });
    }
    const find = (text: string) => decoded.find((t) => t.text === text);
    assert.equal(find("hlt_exiting")?.type, "vmxControl");
    assert.equal(find("EPT_MISCONFIG")?.type, "exitReason");
    assert.equal(find("GUEST_PHYSICAL_ADDRESS")?.type, "vmcsField");
    const mmio = decoded.find((t) => t.text === "mmio");
    assert.equal(mmio?.type, "guestOperation");
    assert.deepEqual(mmio?.modifiers, ["exits"]);
    const compute = decoded.find((t) => t.text === "compute");
    assert.deepEqual(compute?.modifiers, []);
  });

  test("inlay hints after exiting operations, code lenses above handlers and guests", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const hints = await client.request<InlayHint[]>("textDocument/inlayHint", {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 999, character: 0 } },
    });
    const labels = hints.map((h) => String(h.label));
    const mmio = analyze(EXAMPLE)
      .estimates.get("netperf")!
      .operations.find((o) => o.decision.exits.some((e) => e.reason.name === "EPT_MISCONFIG"))!;
    assert.ok(
      labels.includes(`⟶ ${formatRate(mmio.exitsPerSecond)} per vCPU EPT_MISCONFIG`),
      labels.join(" | "),
    );
    assert.ok(!labels.some((l) => /compute/.test(l)));
    const lenses = await client.request<
      { command?: { title: string; command: string; arguments?: unknown[] } }[]
    >("textDocument/codeLens", { textDocument: { uri } });
    const titles = lenses.map((l) => l.command?.title ?? "");
    assert.ok(
      titles.some((t) => /^≈ [\d,]+ cycles · [\d.]+k exits\/s \(all vCPUs\) · [\d.]+% CPU$/.test(t)),
      titles.join(" | "),
    );
    const simulate = lenses.find((l) => l.command?.title === "▶ Simulate");
    assert.equal(simulate?.command?.command, "trapline.runSimulation");
    assert.deepEqual(simulate?.command?.arguments, [uri, "netperf"]);
  });

  test("custom requests: file status, estimate report, compare", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const statuses = client.notifications("trapline/fileStatus") as FileStatusParams[];
    const status = statuses.filter((s) => s.uri === uri).at(-1);
    assert.ok(status);
    assert.equal(status.target.profile, "skylake_server");
    assert.equal(status.guests[0]?.name, "netperf");
    assert.ok(status.totalExitsPerSecond > 0);
    const report = await client.request<{ markdown: string }>("trapline/estimateReport", { uri });
    assert.match(report.markdown, /## guest netperf on `kvm`/);
    assert.match(report.markdown, /EPT_MISCONFIG \| 49/);
    const compare = await client.request<{ rows: { vmcs: string; profile: string }[]; markdown: string }>(
      "trapline/compare",
      {
        uri,
        guest: "netperf",
        profiles: ["haswell"],
      },
    );
    assert.deepEqual(
      compare.rows.map((r) => `${r.vmcs}@${r.profile}`),
      ["kvm@skylake_server", "kvm@haswell"],
    );
  });

  test("compare on another CPU runs the VM-entry checks on that CPU", async () => {
    // PML arrived with Broadwell server parts: the pml block cannot run on Haswell.
    const text = readFileSync(join(REPO_ROOT, "examples", "pml-vs-write-protect.vmcs"), "utf8");
    const { uri } = await openAt(`${text}$0`);
    const compare = await client.request<{ rows: { vmcs: string; profile: string; errors: string[] }[] }>(
      "trapline/compare",
      { uri, guest: "migrating_pml", profiles: ["haswell"] },
    );
    const errorsOf = (vmcs: string, profile: string) =>
      compare.rows.find((r) => r.vmcs === vmcs && r.profile === profile)!.errors;
    assert.deepEqual(errorsOf("pml", "broadwell"), []);
    assert.deepEqual(errorsOf("write_protect", "haswell"), []);
    const onHaswell = errorsOf("pml", "haswell");
    assert.equal(onHaswell.length, 1);
    assert.match(onHaswell[0]!, /^VMX-CAP1: enable_pml \(proc2\) cannot be 1 on target haswell/);
  });
});

test("every request sent right after an edit is answered from the edited text", async () => {
  const uri = `file:///test/doc${++counter}.vmcs`;
  assertAnswersAboutTheEdit(await requestsAfterAnEdit(client, uri), uri);
});

describe("user text in Markdown", () => {
  // marked, as VS Code's hovers and monaco (the playground) render Markdown; loaded by a
  // non-literal specifier because monaco ships no typings for this module.
  const markedModule = "monaco-editor/base/common/marked/marked.js";
  let render: (markdown: string) => string;
  before(async () => {
    const { marked } = (await import(markedModule)) as { marked: { parse(text: string): string } };
    render = (markdown) => marked.parse(markdown);
  });

  /**
   * No element a user's text could have smuggled in: the rendered HTML holds only the structural
   * tags the server's own Markdown makes (text `<` comes out as `&lt;`), so no link, image or
   * raw HTML.
   */
  function assertInert(html: string, context: string): void {
    const foreign =
      /<(?!\/?(?:p|code|strong|em|h[1-6]|ul|ol|li|table|thead|tbody|tr|th|td|hr|br)\b)[a-z/][^>]*>/i.exec(
        html,
      );
    assert.equal(foreign, null, `${context}: ${foreign?.[0]} in ${html}`);
  }
  const textOf = (html: string) =>
    html
      .replace(/<[^>]*>/g, "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");

  const PAYLOADS = [
    "/*` [click me](https://evil.invalid/x) `*/",
    "/* ``` <img src=x onerror=alert(1)> ``` */",
    "/* ](javascript:alert(1)) [x](javascript:alert(1)) */",
    "/* ![i](https://evil.invalid/i.png) <https://evil.invalid> */",
    "/* ` `` ``` <script>alert(1)</script> | cell | */",
  ];

  test("codeSpan and escapeMarkdown render every payload as its own characters, inert", async () => {
    const { codeSpan, escapeMarkdown } = await import("../server/src/markdown");
    for (const payload of [...PAYLOADS, "`", "``", " `x` ", "*bold* _it_ ~~s~~ # h", "a\nb"]) {
      const flat = payload.replace(/\n/g, " ");
      const code = render(`x ${codeSpan(payload)} y`);
      assertInert(code, payload);
      const inner = /<code>([\s\S]*)<\/code>/.exec(code);
      assert.ok(inner, code);
      assert.equal(textOf(inner[1]!), flat, payload);
      const plain = render(`x ${escapeMarkdown(payload)} y`);
      assertInert(plain, payload);
      assert.doesNotMatch(plain, /<(code|em|strong|del|h\d)>/, payload);
      assert.equal(textOf(plain).trim(), `x ${flat} y`, payload);
    }
  });

  test("a hover on an operation whose source holds a payload renders it as code, no link or image", async () => {
    for (const payload of PAYLOADS) {
      const { uri, position } = await openAt(
        EXAMPLE.replace("mmio write 0xfebf_0018", `mmio ${payload} write 0xfebf_$00018`),
      );
      const hover = await client.request<Hover>("textDocument/hover", { textDocument: { uri }, position });
      const html = render(hoverText(hover));
      assertInert(html, payload);
      assert.ok(textOf(html).includes(`mmio ${payload}`.slice(0, 40)), html);
    }
  });

  test("the estimate report's title from the file name and the compare report's guest name are escaped", async () => {
    const name = "%5Bclick%5D(https%3A%2F%2Fevil.invalid)%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%60.vmcs";
    const uri = `file:///test/${name}`;
    client.open(uri, EXAMPLE);
    await client.diagnostics(uri);
    const report = await client.request<{ markdown: string }>("trapline/estimateReport", { uri });
    const html = render(report.markdown);
    assertInert(html, "estimate report");
    assert.ok(textOf(html).includes(decodeURIComponent(name)), html.slice(0, 300));
    const compare = await client.request<{ markdown: string }>("trapline/compare", {
      uri,
      guest: "`<img src=x onerror=alert(1)>`](javascript:alert(1))",
    });
    assertInert(render(compare.markdown), "compare");
    assert.match(compare.markdown, /^No guest named /);
  });
});
