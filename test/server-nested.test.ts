/**
 * The language server on nested files (issue #13), driven over its protocol (the real
 * startServer, in process): hover, definition and references on a `hypervisor` block and its
 * handlers, `guest … in HYPERVISOR` navigation, the outline, completion after `in`, and the
 * TL217 quick fix; on examples/nested-two-l1.vmcs (two L1s, one L2 each).
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
  Hover,
  Location,
} from "vscode-languageserver";
import { analyze, nestedEstimate } from "../core/src/index";
import { formatCompact, formatRate } from "../core/src/util/format";
import { REPO_ROOT, startInProcess, type TestClient, withCursor } from "./support/lspHarness";

const EXAMPLE = readFileSync(join(REPO_ROOT, "examples", "nested-two-l1.vmcs"), "utf8");
const lineOf = (text: string, needle: string, from = 0) => {
  const at = text.indexOf(needle, from);
  assert.ok(at >= 0, `the text has ${needle}`);
  return text.slice(0, at).split("\n").length - 1;
};

let client: TestClient;
let counter = 0;

before(async () => {
  client = await startInProcess({ simulateCommand: true, estimateCommand: true });
});
after(async () => {
  await client.close();
});

/** `text` with `$0` inserted `shift` characters into the first `needle` after `from`. */
function at(text: string, needle: string, shift = 0, from = 0): string {
  const i = text.indexOf(needle, from);
  assert.ok(i >= 0, `the text has ${needle}`);
  return `${text.slice(0, i + shift)}$0${text.slice(i + shift)}`;
}

async function openAt(marked: string) {
  const { text, position } = withCursor(marked);
  const uri = `file:///test/nested${++counter}.vmcs`;
  client.open(uri, text);
  const diagnostics: Diagnostic[] = await client.diagnostics(uri);
  await client.request("textDocument/documentSymbol", { textDocument: { uri } });
  return { uri, position, text, diagnostics };
}

async function hover(marked: string): Promise<string> {
  const { uri, position } = await openAt(marked);
  const h = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position });
  assert.ok(h, "a hover");
  return (h.contents as { value: string }).value;
}

const KVM_OLD_BLOCK = EXAMPLE.indexOf("hypervisor kvm_old");

describe("hover on the hypervisor block", () => {
  test("an L1 handler's header: its chain per level and the L2 exits that reach it", async () => {
    const text = await hover(at(EXAMPLE, "CPUID {", 1, KVM_OLD_BLOCK));
    assert.match(text, /\*\*L1 handler CPUID\*\* of hypervisor `kvm_old`/);
    assert.match(text, /VMCS shadowing off/);
    // The chain the estimator costs for kvm_old (not kvm_fast's, whose CPUID handler differs).
    const a = analyze(EXAMPLE);
    const old = nestedEstimate(a.program, "l2_old")!.chains.find((c) => c.reasonCode === 10)!;
    const fast = nestedEstimate(a.program, "l2_fast")!.chains.find((c) => c.reasonCode === 10)!;
    assert.notEqual(old.l1Cycles, fast.l1Cycles);
    assert.ok(
      text.includes(`L0 ${old.l0Cycles.toLocaleString("en-US")}, L1 ${old.l1Cycles.toLocaleString("en-US")}`),
      text,
    );
    assert.match(text, /trapped VMX instructions \\\(4 VMREAD\\\/VMWRITE/);
    // Reached by l2_old's cpuid only (20k/s per vCPU × 2 vCPUs), not by l2_fast's.
    assert.ok(text.includes(`Reached by **${formatRate(40_000)}** L2 exits`), text);
    assert.match(
      text,
      new RegExp(
        `\`l2_old\` line ${lineOf(EXAMPLE, "cpuid", EXAMPLE.indexOf("guest l2_old")) + 1} \`cpuid\``,
      ),
    );
    assert.doesNotMatch(text, /l2_fast/);
  });

  test("the same reason in the other hypervisor: its own chain, with shadowing", async () => {
    const text = await hover(at(EXAMPLE, "CPUID {", 1, EXAMPLE.indexOf("hypervisor kvm_fast")));
    assert.match(text, /of hypervisor `kvm_fast`/);
    assert.match(text, /VMCS shadowing on/);
    assert.match(text, /`l2_fast` line \d+ `cpuid`/);
    assert.doesNotMatch(text, /l2_old/);
  });

  test("an L1 handler no L2 reaches says so", async () => {
    const text = await hover(
      at(
        EXAMPLE.replace(
          "  handler EXTERNAL_INTERRUPT { call l1_exit_path  vmread VM_EXIT_INTR_INFO  work 350  vmresume }\n}\n\nguest",
          "  handler EXTERNAL_INTERRUPT { call l1_exit_path  vmread VM_EXIT_INTR_INFO  work 350  vmresume }\n  handler RDTSC { work 100 }\n}\n\nguest",
        ),
        "RDTSC {",
        1,
      ),
    );
    assert.match(text, /L1 handler RDTSC/);
    assert.match(text, /No L2 exit in this file reaches it/);
  });

  test("the hypervisor's name and `in NAME`: its vmcs01 and the L2s it runs", async () => {
    const onName = await hover(at(EXAMPLE, "hypervisor kvm_old", 12));
    assert.match(onName, /\*\*hypervisor\*\* `kvm_old`.*vmcs01 `vmcs01_old`, VMCS shadowing off/);
    assert.match(onName, /- `l2_old` on `vmcs12`/);
    assert.doesNotMatch(onName, /l2_fast/);
    const onRef = await hover(at(EXAMPLE, "in kvm_fast", 4));
    assert.match(onRef, /\*\*hypervisor\*\* `kvm_fast`.*shadowing on/);
  });

  test("bad input: a hypervisor on an undefined vmcs, `in` an unknown name — hovers, no crash", async () => {
    const broken = EXAMPLE.replace(
      "hypervisor kvm_old on vmcs01_old",
      "hypervisor kvm_old on vmcs01_gone",
    ).replace("in kvm_fast {", "in kvm_gone {");
    const onName = await hover(at(broken, "hypervisor kvm_old", 12));
    assert.match(onName, /vmcs01 `vmcs01_gone` \(not defined\), VMCS shadowing off/);
    const onHandler = await hover(at(broken, "CPUID {", 1, broken.indexOf("hypervisor kvm_old")));
    assert.match(onHandler, /L1 handler CPUID/);
    const { uri, position, diagnostics } = await openAt(at(broken, "in kvm_gone", 4));
    assert.ok(
      diagnostics.some((d) => d.code === "TL117"),
      JSON.stringify(diagnostics.map((d) => d.code)),
    );
    const h = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position });
    assert.ok(h === null || typeof (h.contents as { value: string }).value === "string");
    const d = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri },
      position,
    });
    assert.equal(d, null, "an unknown hypervisor has no definition");
  });

  test("an L1 handler's VMREAD: an exit to L0 without shadowing, none with it", async () => {
    const old = await hover(at(EXAMPLE, "vmread EXIT_QUALIFICATION", 1, KVM_OLD_BLOCK));
    assert.match(old, /\*\*In L1\*\* \(hypervisor `kvm_old`, VMCS shadowing off\): exits to L0/);
    assert.match(old, /`VMREAD EXIT_QUALIFICATION` [\d,]+ cycles/);
    assert.match(old, /\*\*VMREAD\*\* `EXIT_QUALIFICATION`/, "and the operation's own hover");
    const fast = await hover(
      at(EXAMPLE, "vmread EXIT_QUALIFICATION", 1, EXAMPLE.indexOf("hypervisor kvm_fast")),
    );
    assert.match(fast, /\(hypervisor `kvm_fast`, VMCS shadowing on\): served by the shadow VMCS/);
    // advance_rip is a VMREAD and a VMWRITE: both trapped in kvm_old.
    const rip = await hover(at(EXAMPLE, "advance_rip", 1, KVM_OLD_BLOCK));
    assert.match(rip, /`VMREAD VM_EXIT_INSTRUCTION_LEN` [\d,]+ cycles, `VMWRITE GUEST_RIP` [\d,]+ cycles/);
  });
});

describe("navigation", () => {
  test("definition from `in NAME` to the hypervisor, from the hypervisor's `on VMCS` to the vmcs", async () => {
    const { uri, position } = await openAt(at(EXAMPLE, "in kvm_old", 5));
    const d = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri },
      position,
    });
    assert.equal(d?.range.start.line, lineOf(EXAMPLE, "hypervisor kvm_old"));
    assert.equal(d?.range.start.character, "hypervisor ".length);
    const onVmcs = await openAt(at(EXAMPLE, "on vmcs01_old {", 4));
    const v = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri: onVmcs.uri },
      position: onVmcs.position,
    });
    assert.equal(v?.range.start.line, lineOf(EXAMPLE, "vmcs vmcs01_old"));
  });

  test("references of a vmcs01 include the hypervisor's `on` (rename keeps it)", async () => {
    const { uri, position } = await openAt(at(EXAMPLE, "vmcs vmcs01_old", 5));
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: false },
    });
    assert.deepEqual(
      refs.map((r) => r.range.start.line),
      [lineOf(EXAMPLE, "hypervisor kvm_old")],
    );
  });

  test("references and rename of a hypervisor cover its `in` clauses", async () => {
    const { uri, position } = await openAt(at(EXAMPLE, "hypervisor kvm_fast", 12));
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: true },
    });
    assert.deepEqual(
      refs.map((r) => r.range.start.line),
      [lineOf(EXAMPLE, "hypervisor kvm_fast"), lineOf(EXAMPLE, "guest l2_fast")],
    );
    const edit = await client.request<{ changes: Record<string, { newText: string }[]> }>(
      "textDocument/rename",
      {
        textDocument: { uri },
        position,
        newName: "kvm_new",
      },
    );
    assert.equal(edit.changes[uri]?.length, 2);
  });

  test("references of an L1 handler are the L2 operations reflected to it; definition goes back", async () => {
    const { uri, position, text } = await openAt(at(EXAMPLE, "IO_INSTRUCTION {", 1, KVM_OLD_BLOCK));
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: false },
    });
    const outLine = lineOf(text, "out 0x3f8", text.indexOf("guest l2_old"));
    assert.deepEqual(
      refs.map((r) => r.range.start.line),
      [outLine],
    );
    // From that L2 operation, definition is the L1 handler of the hypervisor that runs it.
    const d = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri },
      position: { line: outLine, character: 6 },
    });
    assert.equal(d?.range.start.line, lineOf(text, "IO_INSTRUCTION {", KVM_OLD_BLOCK));
  });

  test("the outline shows each hypervisor with its handlers", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const symbols = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri },
    });
    const old = symbols.find((s) => s.name === "kvm_old");
    assert.equal(old?.detail, "hypervisor");
    assert.deepEqual(
      old?.children?.map((c) => `${c.name} ${c.detail}`),
      ["handler CPUID L1", "handler IO_INSTRUCTION L1", "handler HLT L1", "handler EXTERNAL_INTERRUPT L1"],
    );
    // Top-level handlers stay L0's; the hypervisor's are not listed among them.
    assert.deepEqual(
      symbols.filter((s) => s.name.startsWith("handler")).map((s) => s.name),
      ["handler EXTERNAL_INTERRUPT", "handler HLT"],
    );
  });
});

describe("code lenses", () => {
  test("each L1 handler: its chain and the reflected exits that reach it (idle HLTs included)", async () => {
    const { uri } = await openAt(`${EXAMPLE}$0`);
    const lenses = await client.request<
      { range: { start: { line: number } }; command?: { title: string } }[]
    >("textDocument/codeLens", { textDocument: { uri } });
    const titleAt = (line: number) =>
      lenses.filter((l) => l.range.start.line === line).map((l) => l.command?.title ?? "");
    const e = nestedEstimate(analyze(EXAMPLE).program, "l2_old")!;
    const cpuid = e.chains.find((c) => c.reasonCode === 10)!;
    const hlt = e.byReason.find((r) => r.level === "L1" && r.code === 12)!;
    assert.deepEqual(titleAt(lineOf(EXAMPLE, "handler CPUID", KVM_OLD_BLOCK)), [
      `L1: ≈ ${cpuid.total.toLocaleString("en-US")} cycles per reflected exit (L0 ${cpuid.l0Cycles.toLocaleString("en-US")}, L1 ${cpuid.l1Cycles.toLocaleString("en-US")}) · 40k exits/s (all vCPUs)`,
    ]);
    const hltLens = titleAt(lineOf(EXAMPLE, "handler HLT", KVM_OLD_BLOCK))[0]!;
    assert.ok(hltLens.endsWith(`· ${formatCompact(hlt.exitsPerSecond)} exits/s (all vCPUs)`), hltLens);
  });
});

describe("completion and quick fix", () => {
  test("after `guest NAME on VMCS` comes `in`, after `in` the hypervisors", async () => {
    const base = EXAMPLE.replace(
      "guest l2_old on vmcs12 in kvm_old {",
      "guest l2_old on vmcs12 in kvm_old {\n}\nguest l2_new on vmcs12 $0",
    );
    const first = await openAt(base);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: first.uri },
      position: first.position,
    });
    assert.deepEqual(
      items.map((i) => i.label),
      ["in"],
    );
    const second = await openAt(base.replace("l2_new on vmcs12 $0", "l2_new on vmcs12 in $0"));
    const names = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: second.uri },
      position: second.position,
    });
    assert.deepEqual(names.map((i) => i.label).sort(), ["kvm_fast", "kvm_old"]);
  });

  test("after `hypervisor NAME on` come the vmcs names", async () => {
    const { uri, position } = await openAt(`${EXAMPLE}\nhypervisor kvm_new on $0`);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri },
      position,
    });
    assert.deepEqual(items.map((i) => i.label).sort(), ["vmcs01_fast", "vmcs01_old", "vmcs12"]);
  });

  test("inside a hypervisor block: its statements, exit reasons after `handler`, handler operations in an L1 handler", async () => {
    const complete = async (marked: string) => {
      const { uri, position } = await openAt(marked);
      const items = await client.request<CompletionItem[]>("textDocument/completion", {
        textDocument: { uri },
        position,
      });
      return items.map((i) => i.label);
    };
    const block = "hypervisor kvm_old on vmcs01_old {\n";
    assert.deepEqual(await complete(EXAMPLE.replace(block, `${block}  $0\n`)), ["handler", "halt_poll"]);
    // Reasons L0 already handles (HLT, EXTERNAL_INTERRUPT) are not marked handled for L1.
    const reasons = await complete(EXAMPLE.replace(block, `${block}  handler $0\n`));
    assert.ok(reasons.includes("RDTSC") && reasons.includes("HLT"), reasons.join(" "));
    const inHandler = await complete(
      EXAMPLE.replace(block, `${block}  handler RDTSC {\n    work 100\n    $0\n  }\n`),
    );
    for (const op of ["vmread", "vmresume", "advance_rip", "halt"]) assert.ok(inHandler.includes(op), op);
    const field = await complete(EXAMPLE.replace(block, `${block}  handler RDTSC { vmread $0 }\n`));
    assert.ok(field.includes("VM_EXIT_REASON"), field.slice(0, 10).join(" "));
  });

  test("TL217 offers one quick fix per hypervisor", async () => {
    const { uri, diagnostics } = await openAt(`${EXAMPLE.replace("on vmcs12 in kvm_old", "on vmcs12")}$0`);
    const tl217 = diagnostics.filter((d) => d.code === "TL217");
    assert.equal(tl217.length, 1);
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: tl217[0]!.range,
      context: { diagnostics: tl217 },
    });
    const titles = actions.map((a) => a.title);
    assert.ok(titles.includes("Run it in `kvm_old` (add `in kvm_old`)"), JSON.stringify(titles));
    const fix = actions.find((a) => a.title.includes("kvm_old"))!;
    assert.equal(fix.edit?.changes?.[uri]?.[0]?.newText, " in kvm_old");
  });
});
