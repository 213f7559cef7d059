/**
 * Handlers specialised by operand (issue 12; docs/language.md "Handlers by operand"): the header
 * syntax and its lowering, each diagnostic failing and passing (TL115, TL116, TL107 with its
 * fix, TL310 for an operand no handler takes), the estimator and the simulator charging each exit
 * with the handler its operand selects, and the language server's completion, hover and
 * go-to-definition.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { CompletionItem, Hover, Location } from "vscode-languageserver";
import { analyze, type Diagnostic } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { startInProcess, type TestClient, withCursor } from "./support/lspHarness";

const VMCS = `target skylake_server @ 2.0GHz

vmcs v {
  pin   external_interrupt_exiting nmi_exiting
  proc  hlt_exiting use_tpr_shadow use_io_bitmaps use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  io  trap 0x3f8..0x3ff, 0x60
  msr trap write IA32_TSC_DEADLINE, IA32_MISC_ENABLE
  ept {
    0x0000_0000 .. 0x7fff_ffff  rwx
    0xfebf_0000 .. 0xfebf_ffff  misconfig
  }
}
handler HLT { halt }
handler EXTERNAL_INTERRUPT { work 300 }
`;

/** Two MSR_WRITE handlers: TSC deadline 100 cycles, any other MSR 1,000. */
const MSR_FILE = `${VMCS}
handler MSR_WRITE IA32_TSC_DEADLINE { work 100 }
handler MSR_WRITE { work 1000 }
guest g on v {
  vcpus 1
  path deadline rate 10k/s { compute 2us  wrmsr IA32_TSC_DEADLINE }
  path misc rate 10k/s { compute 2us  wrmsr IA32_MISC_ENABLE }
  idle halt
}
`;

function codes(diagnostics: readonly Diagnostic[], code: string): Diagnostic[] {
  return diagnostics.filter((d) => d.code === code);
}

function errorsOf(text: string): Diagnostic[] {
  return analyze(text).diagnostics.filter((d) => d.severity === "error");
}

describe("handlers by operand: syntax and lowering", () => {
  test("each operand form lowers into the reason's list, the general handler stays the fallback", () => {
    const text = `${VMCS}
handler MSR_WRITE IA32_TSC_DEADLINE { work 100 }
handler MSR_READ 0x10 { work 10 }
handler IO_INSTRUCTION port 0x3f8..0x3ff out { userspace 3us }
handler IO_INSTRUCTION port 0x60 { work 40 }
handler EPT_MISCONFIG gpa 0xfebf_0000..0xfebf_0fff { userspace 8us }
handler VMCALL nr 11 { work 50 }
handler VMCALL { work 500 }
`;
    const a = analyze(text);
    assert.deepEqual(errorsOf(text), []);
    const table = a.program.operandHandlers!;
    const labels = [...table.values()].flat().map((h) => `${h.reason.name} ${h.operand!.label}`);
    assert.deepEqual(labels, [
      "MSR_WRITE IA32_TSC_DEADLINE",
      "MSR_READ IA32_TSC",
      "IO_INSTRUCTION port 0x3f8..0x3ff out",
      "IO_INSTRUCTION port 0x60",
      "EPT_MISCONFIG gpa 0xfebf0000..0xfebf0fff",
      "VMCALL nr 11",
    ]);
    const port = table.get(30)![0]!.operand!;
    assert.deepEqual(
      { kind: port.kind, from: (port as { from: number }).from, to: (port as { to: number }).to },
      { kind: "port", from: 0x3f8, to: 0x3ff },
    );
    // The general VMCALL handler is in `handlers`, not in the specialised list.
    assert.ok(a.program.handlers.has(18));
    assert.equal(table.get(18)!.length, 1);
    assert.equal(a.program.handlers.has(32), false, "no general MSR_WRITE handler");
  });

  test("`vmcall N` carries the hypercall number", () => {
    const a = analyze(
      `${VMCS}handler VMCALL { work 1 }\nguest g on v {\n  path p rate 1k/s { vmcall 11  vmcall }\n}\n`,
    );
    const ops = a.program.guests.get("g")!.sources[0]!.ops;
    assert.deepEqual(
      ops.map((o) => (o.op === "vmcall" ? (o.nr ?? "none") : o.op)),
      [11, "none"],
    );
  });

  test("inside a hypervisor block the same header lowers into L1's table", () => {
    const text = `${VMCS}
hypervisor l1 on v {
  handler VMCALL nr 5 { work 10 }
  handler VMCALL { work 20 }
  handler HLT port 5 { work 1 }
}
`;
    const a = analyze(text);
    const l1 = a.program.hypervisors.get("l1")!;
    assert.equal(l1.operandHandlers?.get(18)?.[0]?.operand?.label, "nr 5");
    assert.ok(l1.handlers.has(18));
    const bad = codes(a.diagnostics, "TL115");
    assert.equal(bad.length, 1);
    assert.equal(text.slice(bad[0]!.span.start, bad[0]!.span.end), "port 5");
  });
});

describe("handlers by operand: diagnostics", () => {
  test("TL115: a reason without an operand, with its fix; passing without the operand", () => {
    const failing = `${VMCS}handler PAUSE_INSTRUCTION port 5 { work 1 }\n`;
    const [d] = codes(analyze(failing).diagnostics, "TL115");
    assert.ok(d, "TL115 reported");
    assert.equal(failing.slice(d.span.start, d.span.end), "port 5");
    assert.match(d.message, /PAUSE_INSTRUCTION` exits carry no operand/);
    const fix = d.fixes?.[0];
    assert.ok(fix);
    const edit = fix.edits[0]!;
    const fixed = failing.slice(0, edit.span.start) + edit.newText + failing.slice(edit.span.end);
    assert.match(fixed, /handler PAUSE_INSTRUCTION \{ work 1 \}/);
    assert.deepEqual(codes(analyze(fixed).diagnostics, "TL115"), []);
  });

  test("TL115: the wrong operand word for the reason", () => {
    const failing = `${VMCS}handler IO_INSTRUCTION gpa 0x1000 { work 1 }\n`;
    const [d] = codes(analyze(failing).diagnostics, "TL115");
    assert.ok(d);
    assert.equal(failing.slice(d.span.start, d.span.end), "gpa");
    assert.match(d.message, /expected `port`/);
    const passing = `${VMCS}handler IO_INSTRUCTION port 0x1000 { work 1 }\n`;
    assert.deepEqual(codes(analyze(passing).diagnostics, "TL115"), []);
  });

  test("TL116: overlapping port ranges, the same MSR twice; disjoint ranges and other directions pass", () => {
    const ranges = `${VMCS}handler IO_INSTRUCTION port 0x3f8..0x3ff { work 1 }\nhandler IO_INSTRUCTION port 0x3fc..0x400 { work 2 }\n`;
    const [d] = codes(analyze(ranges).diagnostics, "TL116");
    assert.ok(d);
    assert.equal(ranges.slice(d.span.start, d.span.end), "port 0x3fc..0x400");
    assert.match(d.message, /overlaps handler IO_INSTRUCTION port 0x3f8..0x3ff/);
    assert.equal(d.related?.length, 1);
    const twice = `${VMCS}handler MSR_WRITE IA32_TSC_DEADLINE { work 1 }\nhandler MSR_WRITE 0x6e0 { work 2 }\n`;
    const [dup] = codes(analyze(twice).diagnostics, "TL116");
    assert.ok(dup, "the same MSR by name and by number");
    assert.match(dup.message, /duplicate handler MSR_WRITE IA32_TSC_DEADLINE/);
    const passing = `${VMCS}handler IO_INSTRUCTION port 0x3f8..0x3fb { work 1 }\nhandler IO_INSTRUCTION port 0x3fc..0x400 { work 2 }\nhandler IO_INSTRUCTION port 0x3f8 in { work 3 }\nhandler IO_INSTRUCTION port 0x3f8..0x3fb out { work 4 }\n`;
    // `0x3f8 in` overlaps `0x3f8..0x3fb` (either direction): one TL116; `… out` too.
    assert.equal(codes(analyze(passing).diagnostics, "TL116").length, 2);
    const clean = `${VMCS}handler IO_INSTRUCTION port 0x3f8..0x3fb in { work 1 }\nhandler IO_INSTRUCTION port 0x3f8..0x3fb out { work 2 }\nhandler IO_INSTRUCTION port 0x3fc..0x400 { work 3 }\n`;
    assert.deepEqual(codes(analyze(clean).diagnostics, "TL116"), []);
  });

  test("TL107: an unknown MSR name with its did-you-mean fix", () => {
    const failing = `${VMCS}handler MSR_WRITE IA32_TSC_DEADLNE { work 1 }\n`;
    const [d] = codes(analyze(failing).diagnostics, "TL107");
    assert.ok(d);
    assert.equal(failing.slice(d.span.start, d.span.end), "IA32_TSC_DEADLNE");
    assert.equal(d.fixes?.[0]?.edits[0]?.newText, "IA32_TSC_DEADLINE");
    const passing = failing.replace("DEADLNE", "DEADLINE");
    assert.deepEqual(codes(analyze(passing).diagnostics, "TL107"), []);
  });

  test("TL311 on a specialised handler whose exit no vmcs enables", () => {
    const noIo = VMCS.replace(" use_io_bitmaps", "").replace("  io  trap 0x3f8..0x3ff, 0x60\n", "");
    const failing = `${noIo}handler IO_INSTRUCTION port 0x60 { work 1 }\n`;
    const [d] = codes(analyze(failing).diagnostics, "TL311");
    assert.ok(d, "TL311 reported");
    assert.match(d.message, /handler IO_INSTRUCTION port 0x60 never runs/);
    const passing = `${VMCS}handler IO_INSTRUCTION port 0x60 { work 1 }\n`;
    assert.deepEqual(codes(analyze(passing).diagnostics, "TL311"), []);
  });

  test("TL310 for an operand no handler takes; none once the general handler is there", () => {
    const failing = MSR_FILE.replace("handler MSR_WRITE { work 1000 }\n", "");
    const unhandled = codes(analyze(failing).diagnostics, "TL310");
    assert.equal(unhandled.length, 1, "only the IA32_MISC_ENABLE write");
    assert.equal(failing.slice(unhandled[0]!.span.start, unhandled[0]!.span.end), "wrmsr IA32_MISC_ENABLE");
    assert.match(unhandled[0]!.message, /specialised MSR_WRITE handlers take IA32_TSC_DEADLINE only/);
    assert.deepEqual(codes(analyze(MSR_FILE).diagnostics, "TL310"), []);
  });
});

describe("handlers by operand: estimator and simulator", () => {
  test("the estimate charges each MSR write with its handler (hand-computed)", () => {
    const a = analyze(MSR_FILE);
    assert.deepEqual(errorsOf(MSR_FILE), []);
    const estimate = a.estimates.get("g")!;
    const row = estimate.byReason.find((r) => r.reason === "MSR_WRITE")!;
    // 10k/s each; handler work 100 vs 1,000 cycles: the row's handler cycles are their mean, 550.
    assert.equal(row.exitsPerSecond, 20_000);
    assert.equal(row.handlerCycles, 550);
    const [deadline, general] = row.handlers!;
    assert.equal(deadline!.handler, "MSR_WRITE IA32_TSC_DEADLINE");
    assert.equal(deadline!.operand, "IA32_TSC_DEADLINE");
    assert.equal(deadline!.exitsPerSecond, 10_000);
    assert.equal(deadline!.handlerCycles, 100);
    assert.equal(general!.handler, "MSR_WRITE");
    assert.equal(general!.operand, undefined);
    assert.equal(general!.exitsPerSecond, 10_000);
    assert.equal(general!.handlerCycles, 1000);
    // The same transition: the two differ by the handlers' 900 cycles exactly.
    assert.equal(general!.cyclesPerExit - deadline!.cyclesPerExit, 900);
    // Per path: 2 µs at 2 GHz = 4,000 guest cycles, plus one exit at its own handler's cost.
    const path = (name: string) => estimate.paths.find((p) => p.name === name)!;
    assert.equal(path("deadline").exitCyclesPerExecution, deadline!.cyclesPerExit);
    assert.equal(path("misc").exitCyclesPerExecution, general!.cyclesPerExit);
  });

  test("the simulator runs the handler the operand selects, within 3 % of the estimate", () => {
    const a = analyze(MSR_FILE);
    const sim = simulate(a.program, "g", { durationSec: 1, seed: 3, timelineIntervals: 0 });
    const row = sim.byReason.find((r) => r.reason === "MSR_WRITE")!;
    const [deadline, general] = row.handlers!;
    assert.equal(deadline!.handler, "MSR_WRITE IA32_TSC_DEADLINE");
    // `work N` is deterministic: each handler's mean is its own cycles exactly.
    assert.ok(Math.abs(deadline!.handlerCycles - 100) < 1e-9, String(deadline!.handlerCycles));
    assert.ok(Math.abs(general!.handlerCycles - 1000) < 1e-9, String(general!.handlerCycles));
    assert.equal(row.exits, deadline!.exits + general!.exits);
    const est = a.estimates.get("g")!.byReason.find((r) => r.reason === "MSR_WRITE")!;
    const within = (x: number, y: number) => Math.abs(x - y) / y <= 0.03;
    assert.ok(within(row.cyclesPerExit, est.cyclesPerExit), `${row.cyclesPerExit} vs ${est.cyclesPerExit}`);
    assert.ok(
      within(row.exitsPerSecond, est.exitsPerSecond),
      `${row.exitsPerSecond} vs ${est.exitsPerSecond}`,
    );
    assert.ok(within(sim.hostCpu, a.estimates.get("g")!.hostCpu));
  });

  test("port direction, guest-physical ranges and hypercall numbers select their handlers", () => {
    const text = `${VMCS}
handler IO_INSTRUCTION port 0x3f8..0x3ff out { userspace 2000 }
handler IO_INSTRUCTION { work 200 }
handler EPT_MISCONFIG gpa 0xfebf_0000..0xfebf_0fff { work 3000 }
handler EPT_MISCONFIG { work 30 }
handler VMCALL nr 11 { work 70 }
handler VMCALL { work 700 }
guest g on v {
  path p rate 1k/s {
    out 0x3f8  in 0x3f8
    mmio write 0xfebf_0010  mmio write 0xfebf_1000
    vmcall 11  vmcall 12  vmcall
  }
}
`;
    const a = analyze(text);
    assert.deepEqual(errorsOf(text), []);
    const byReason = a.estimates.get("g")!.byReason;
    const split = (reason: string) =>
      Object.fromEntries(byReason.find((r) => r.reason === reason)!.handlers!.map((h) => [h.handler, h]));
    const io = split("IO_INSTRUCTION");
    assert.equal(io["IO_INSTRUCTION port 0x3f8..0x3ff out"]!.exitsPerSecond, 1000);
    assert.equal(io.IO_INSTRUCTION!.exitsPerSecond, 1000, "the IN takes the general handler");
    assert.equal(io.IO_INSTRUCTION!.handlerCycles, 200);
    const ept = split("EPT_MISCONFIG");
    assert.equal(ept["EPT_MISCONFIG gpa 0xfebf0000..0xfebf0fff"]!.handlerCycles, 3000);
    assert.equal(ept.EPT_MISCONFIG!.handlerCycles, 30);
    const vmcall = split("VMCALL");
    assert.equal(vmcall["VMCALL nr 11"]!.exitsPerSecond, 1000);
    assert.equal(vmcall.VMCALL!.exitsPerSecond, 2000, "nr 12 and the unnumbered vmcall");
    const mean = byReason.find((r) => r.reason === "VMCALL")!.handlerCycles;
    assert.ok(Math.abs(mean - (70 + 700 * 2) / 3) < 1e-9, String(mean));
  });
});

describe("handlers by operand: language server", () => {
  let client: TestClient;
  let counter = 0;
  before(async () => {
    client = await startInProcess({});
  });
  after(async () => {
    await client.close();
  });
  async function openAt(marked: string) {
    const { text, position } = withCursor(marked);
    const uri = `file:///test/operand${++counter}.vmcs`;
    client.open(uri, text);
    await client.diagnostics(uri);
    return { uri, position, text };
  }
  const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length - 1;

  test("completion after `handler MSR_WRITE ` offers MSR names, after `handler IO_INSTRUCTION ` the word `port`", async () => {
    const msr = await openAt(`${VMCS}handler MSR_WRITE $0\n`);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: msr.uri },
      position: msr.position,
    });
    assert.ok(items.some((i) => i.label === "IA32_TSC_DEADLINE"));
    const io = await openAt(`${VMCS}handler IO_INSTRUCTION $0\n`);
    const words = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: io.uri },
      position: io.position,
    });
    assert.deepEqual(
      words.map((i) => i.label),
      ["port"],
    );
  });

  test("hover on a guest operation names the handler it runs; go-to-definition goes there", async () => {
    const marked = MSR_FILE.replace("wrmsr IA32_TSC_DEADLINE", "wrmsr $0IA32_TSC_DEADLINE");
    const { uri, position, text } = await openAt(marked);
    const hover = await client.request<Hover | null>("textDocument/hover", {
      textDocument: { uri },
      position,
    });
    assert.ok(hover);
    // Markdown escapes the underscores.
    const value = (hover.contents as { value: string }).value.replaceAll("\\", "");
    const line = lineOf(text, "handler MSR_WRITE IA32_TSC_DEADLINE") + 1;
    assert.match(value, new RegExp(`runs the MSR_WRITE IA32_TSC_DEADLINE handler, line ${line}`));
    const definition = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri },
      position,
    });
    assert.equal(definition?.range.start.line, line - 1);
    // The other MSR's write goes to the general handler.
    const other = await openAt(MSR_FILE.replace("wrmsr IA32_MISC_ENABLE", "wrmsr $0IA32_MISC_ENABLE"));
    const general = await client.request<Location | null>("textDocument/definition", {
      textDocument: { uri: other.uri },
      position: other.position,
    });
    assert.equal(general?.range.start.line, lineOf(other.text, "handler MSR_WRITE {"));
  });

  test("hover on a specialised handler: its own cost and the fallback it stands beside", async () => {
    const marked = MSR_FILE.replace(
      "handler MSR_WRITE IA32_TSC_DEADLINE",
      "handler $0MSR_WRITE IA32_TSC_DEADLINE",
    );
    const { uri, position, text } = await openAt(marked);
    const hover = await client.request<Hover | null>("textDocument/hover", {
      textDocument: { uri },
      position,
    });
    assert.ok(hover);
    const value = (hover.contents as { value: string }).value.replaceAll("\\", "");
    assert.match(value, /\*\*handler MSR_WRITE IA32_TSC_DEADLINE\*\*/);
    assert.match(value, /\| handler \| 100 \|/);
    const general = lineOf(text, "handler MSR_WRITE {") + 1;
    assert.match(value, new RegExp(`every other runs the general handler \\(line ${general}\\)`));
  });

  test("references of a specialised handler are the operations it takes", async () => {
    const marked = MSR_FILE.replace(
      "handler MSR_WRITE IA32_TSC_DEADLINE",
      "handler $0MSR_WRITE IA32_TSC_DEADLINE",
    );
    const { uri, position, text } = await openAt(marked);
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri },
      position,
      context: { includeDeclaration: false },
    });
    assert.deepEqual(
      refs.map((r) => r.range.start.line),
      [lineOf(text, "wrmsr IA32_TSC_DEADLINE")],
    );
  });
});
