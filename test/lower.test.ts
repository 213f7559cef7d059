import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { analyze } from "../core/src/index";
import type { BlockContext } from "../core/src/lang/ast";
import { argumentWordList, argumentWords } from "../core/src/lang/grammar";
import { parse } from "../core/src/lang/parser";
import { lower } from "../core/src/model/lower";
import type { Diagnostic, TextEdit } from "../core/src/source";
import { DEFAULT_PROFILE_NAME } from "../core/src/vmx/profiles";

function lowerText(text: string) {
  const parsed = parse(text);
  assert.deepEqual(parsed.diagnostics, [], "no syntax errors expected in this test input");
  return lower(parsed);
}

function applyEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.span.start - a.span.start);
  for (const e of sorted) text = text.slice(0, e.span.start) + e.newText + text.slice(e.span.end);
  return text;
}

const only = (diagnostics: Diagnostic[], code: string) => diagnostics.filter((d) => d.code === code);

const VMCS = "vmcs kvm { proc hlt_exiting }\n";
const EXAMPLES = join(import.meta.dirname, "..", "examples");

describe("lowering", () => {
  it("converts times to cycles at the target frequency", () => {
    const { program, diagnostics } = lowerText(
      "target skylake_server @ 2.1GHz\nhandler HLT { userspace 9us work 900 work 10ns }\n",
    );
    assert.deepEqual(diagnostics, []);
    assert.equal(program.target.hz, 2.1e9);
    const ops = program.handlers.get(12)!.ops;
    assert.deepEqual(
      ops.map((op) => (op.op === "userspace" || op.op === "work" ? op.cycles : -1)),
      [18_900, 900, 21],
    );
  });

  it("converts rates to per second and periods to seconds", () => {
    const { program, diagnostics } = lowerText(
      `${VMCS}guest g on kvm { vcpus 4\n path a rate 100k/s { compute 3us }\n path b rate 2.5M/s { cpuid }\n path c every 2ms { cpuid }\n timer periodic 250Hz { eoi }\n irq nic vector 0x41 rate 7/s posted { eoi } }`,
    );
    assert.deepEqual(diagnostics, []);
    const guest = program.guests.get("g")!;
    assert.equal(guest.vcpus, 4);
    assert.deepEqual(
      guest.sources.map((s) => [s.name, s.arrival]),
      [
        ["a", { kind: "poisson", ratePerSec: 100_000 }],
        ["b", { kind: "poisson", ratePerSec: 2_500_000 }],
        ["c", { kind: "periodic", periodSec: 0.002 }],
        ["timer", { kind: "periodic", periodSec: 0.004 }],
        ["nic", { kind: "poisson", ratePerSec: 7 }],
      ],
    );
    const nic = guest.sources[4]!;
    assert.ok(nic.kind === "irq" && nic.vector === 0x41 && nic.posted);
    // compute 3us at the default profile's frequency
    const a = guest.sources[0]!.ops[0]!;
    assert.ok(a.op === "compute" && a.cycles === Math.round(3e-6 * program.target.hz));
  });

  it("fills the target with the default profile when there is no target line", () => {
    const { program } = lowerText(VMCS);
    assert.equal(program.target.profile.name, DEFAULT_PROFILE_NAME);
    assert.equal(program.target.span, undefined);
    assert.equal(program.target.hz, program.target.profile.defaultHz);
  });

  it("applies target overrides with provenance user, wherever the target is", () => {
    const { program, diagnostics } = lowerText(
      `${VMCS}target skylake_server @ 3GHz {\n  msr IA32_VMX_MISC = 0x2000_0000\n  cost round_trip = 1us\n}\n`,
    );
    assert.deepEqual(diagnostics, []);
    assert.equal(program.target.msrs.IA32_VMX_MISC, 0x20000000n);
    assert.deepEqual(program.target.costs.round_trip, {
      cycles: 3000,
      provenance: "user",
      source: "`target` override in this file",
    });
  });

  it("sets controls in their words and records the word lines", () => {
    const text = "vmcs kvm {\n  proc hlt_exiting\n       activate_secondary_controls\n  proc2 enable_ept\n}";
    const { program, diagnostics } = lowerText(text);
    assert.deepEqual(diagnostics, []);
    const vmcs = program.vmcs.get("kvm")!;
    assert.equal(vmcs.written.proc, (1n << 7n) | (1n << 31n));
    assert.equal(vmcs.written.proc2, 1n << 1n);
    assert.equal(vmcs.settings.length, 3);
    assert.equal(text.slice(vmcs.wordLines.proc!.start, vmcs.wordLines.proc!.end).split(/\s+/).length, 3);
  });

  it("names the right word for a control on the wrong line and moves it with the fix", () => {
    const text = "vmcs kvm {\n  pin nmi_exiting hlt_exiting\n  proc use_tsc_offsetting\n}";
    const { diagnostics, program } = lowerText(text);
    assert.equal(diagnostics.length, 1);
    const d = diagnostics[0]!;
    assert.equal(d.code, "TL103");
    assert.equal(
      d.message,
      "`hlt_exiting` is a primary processor-based VM-execution control; write it on the `proc` line",
    );
    assert.equal(text.slice(d.span.start, d.span.end), "hlt_exiting");
    const fixed = applyEdits(text, d.fixes![0]!.edits);
    assert.equal(fixed, "vmcs kvm {\n  pin nmi_exiting\n  proc use_tsc_offsetting hlt_exiting\n}");
    assert.equal(lowerText(fixed).diagnostics.length, 0);
    assert.equal(program.vmcs.get("kvm")!.written.proc, 1n << 3n);
  });

  it("adds a line for the right word when the vmcs has none", () => {
    const text = "vmcs kvm {\n  proc hlt_exiting enable_ept\n}";
    const d = lowerText(text).diagnostics[0]!;
    assert.match(d.message, /secondary processor-based .* `proc2` line/);
    assert.equal(
      applyEdits(text, d.fixes![0]!.edits),
      "vmcs kvm {\n  proc hlt_exiting\n  proc2 enable_ept\n}",
    );
  });

  it("suggests the closest name for unknown names, with a replacing fix", () => {
    const cases: [string, string, string][] = [
      ["vmcs kvm { proc hlt_exitng }", "TL104", "hlt_exiting"],
      ["handler EPT_MISCONFG { halt }", "TL105", "EPT_MISCONFIG"],
      ["handler HLT { vmread GUEST_RIPP }", "TL106", "GUEST_RIP"],
      ["vmcs kvm { msr trap write IA32_TSC_DEADLIN }", "TL107", "IA32_TSC_DEADLINE"],
      ["vmcs kvm { exceptions #PFF }", "TL108", "#PF"],
      ["fn ack { work 5 }\nhandler HLT { call akc }", "TL109", "ack"],
      ["vmcs kvm { }\nguest g on kvn { vcpus 1 }", "TL111", "kvm"],
      ["target skylake_servr", "TL102", "skylake_server"],
    ];
    for (const [text, code, suggestion] of cases) {
      const { diagnostics } = lowerText(text);
      const d = only(diagnostics, code)[0];
      assert.ok(d, `${text}: ${JSON.stringify(diagnostics)}`);
      assert.match(d.message, new RegExp(`did you mean \`${suggestion}\``));
      assert.equal(d.fixes?.[0]?.edits[0]?.newText, suggestion);
    }
  });

  it("rejects VMWRITE to a read-only exit-information field, citing the SDM", () => {
    // Sandy Bridge: IA32_VMX_MISC[29] = 0.
    const { diagnostics } = lowerText(
      "target sandy_bridge\nhandler HLT { vmwrite VM_EXIT_REASON vmwrite GUEST_RIP }",
    );
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.code, "TL203");
    assert.match(diagnostics[0]!.message, /read-only VM-exit information field .*IA32_VMX_MISC\[29\]/);
    assert.match(diagnostics[0]!.reference!, /§25\.11/);
    // Allowed when the target's IA32_VMX_MISC[29] is 1 (Haswell and later, or an override), but
    // pointless: a warning, not an error.
    const allowed = (text: string) =>
      lowerText(text).diagnostics.map((d) => ({ code: d.code, severity: d.severity }));
    assert.deepEqual(allowed("target skylake_server\nhandler HLT { vmwrite VM_EXIT_REASON }"), [
      { code: "TL203", severity: "warning" },
    ]);
    assert.deepEqual(
      allowed(
        "target sandy_bridge { msr IA32_VMX_MISC = 0x2000_0000 }\nhandler HLT { vmwrite VM_EXIT_REASON }",
      ),
      [{ code: "TL203", severity: "warning" }],
    );
    assert.deepEqual(allowed("target skylake_server\nhandler HLT { vmwrite GUEST_RIP }"), []);
    // Setting it with `field` is always an error: it is an output of VM exits.
    assert.equal(lowerText("vmcs v { field VM_EXIT_REASON = 1 }").diagnostics[0]?.code, "TL203");
  });

  it("rejects branch probabilities over 100%", () => {
    const { diagnostics } = lowerText("handler HLT { branch { 60% a: work 1\n 50% b: work 2 } }");
    const d = only(diagnostics, "TL204");
    assert.equal(d.length, 1);
    assert.match(d[0]!.message, /110%/);
  });

  it("detects recursion through fns", () => {
    const { diagnostics } = lowerText("fn a { call b }\nfn b { work 1 call a }\nhandler HLT { call a }");
    const d = only(diagnostics, "TL110");
    assert.equal(d.length, 1);
    assert.match(d[0]!.message, /a → b → a|b → a → b/);
  });

  it("reports duplicates with the first definition as related information", () => {
    const { diagnostics } = lowerText("vmcs a { }\nvmcs a { }\nhandler HLT { halt }\nhandler 12 { halt }");
    const d = only(diagnostics, "TL101");
    assert.equal(d.length, 2);
    assert.ok(d.every((x) => x.related?.length === 1));
  });

  it("checks values: vcpus, rates, vectors, durations", () => {
    const { diagnostics } = lowerText(
      `${VMCS}guest g on kvm { vcpus 0\n path a rate -5k/s { cpuid }\n path b rate 2000M/s { cpuid }\n path c rate 100 { cpuid }\n irq i vector 3 rate 1/s { eoi } }\nsimulate g for 400000000s`,
    );
    const messages = diagnostics.map((d) => `${d.code} ${d.message}`);
    assert.ok(
      messages.some((m) => /TL205 a vCPU count must be between 1 and 4096/.test(m)),
      messages.join("\n"),
    );
    assert.ok(messages.some((m) => /TL206 a rate must be greater than zero/.test(m)));
    assert.ok(messages.some((m) => /TL206 rate `2000M\/s` is above/.test(m)));
    assert.ok(messages.some((m) => /TL202 expected a rate/.test(m)));
    assert.ok(messages.some((m) => /TL205 an interrupt vector must be between 32 and 255/.test(m)));
    assert.ok(messages.some((m) => /TL207 .*longer than a year/.test(m)));
  });

  it("lowers guest operations, expect budgets and simulate", () => {
    const { program, diagnostics } = lowerText(
      `${VMCS}guest g on kvm { apic xapic\n path p rate 1k/s { rdmsr IA32_APIC_BASE wrmsr 0x6e0 in 0x3f8 mmio read 0xfee00000 mov cr3 mov cr0 0x80000031 read cr8 exception #PF 2 dirty 8 pages send_ipi tsx { cpuid } repeat 3 { rdtsc } branch { 30% x: hlt } } }\nexpect g { overhead < 5%  exits EPT_MISCONFIG < 1k/s  host_cpu < 0.5  p99 irq_latency < 50us }\nsimulate g for 100ms`,
    );
    assert.deepEqual(diagnostics, []);
    const ops = program.guests.get("g")!.sources[0]!.ops;
    assert.deepEqual(
      ops.map((o) => o.op),
      [
        "rdmsr",
        "wrmsr",
        "in",
        "mmio",
        "mov_cr",
        "mov_cr",
        "read_cr",
        "exception",
        "dirty",
        "mmio",
        "tsx",
        "repeat",
        "branch",
      ],
    );
    assert.ok(ops[0]!.op === "rdmsr" && ops[0]!.msr === 0x1b);
    assert.ok(ops[9]!.op === "mmio" && ops[9]!.gpa === 0xfee00300n, "xAPIC send_ipi writes the ICR");
    const budgets = program.expects[0]!.budgets;
    assert.deepEqual(
      budgets.map((b) => [b.metric.metric, b.value]),
      [
        ["overhead", 0.05],
        ["exits", 1000],
        ["host_cpu", 0.5],
        ["latency", 50e-6],
      ],
    );
    assert.deepEqual(program.simulates[0], {
      guest: "g",
      guestSpan: program.simulates[0]!.guestSpan,
      durationSec: 0.1,
      seed: 1,
      span: program.simulates[0]!.span,
    });
  });

  it("lowers vmcs statements to the IR and their fields", () => {
    const { program, diagnostics } = lowerText(
      "vmcs v { exceptions #AC #MC 14\n io trap 0x3f8..0x3ff, 0x60\n msr trap rw IA32_SPEC_CTRL\n cr0 mask 0x1 shadow 0x0\n ple gap 128 window 4096\n eptp memtype WB levels 4 accessed_dirty\n field VIRTUAL_PROCESSOR_ID = 1\n ept { 0x0 .. 0x7fff_ffff rwx\n 0xfebf_0000 .. 0xfebf_ffff misconfig\n 0xfee0_0000 apic } }",
    );
    assert.deepEqual(diagnostics, []);
    const v = program.vmcs.get("v")!;
    assert.equal(v.exceptionBitmap, (1 << 17) | (1 << 18) | (1 << 14));
    assert.deepEqual(
      v.ioTraps.map((r) => [r.first, r.last]),
      [
        [0x3f8, 0x3ff],
        [0x60, 0x60],
      ],
    );
    assert.deepEqual(
      v.msrTraps.map((m) => [m.msr, m.read, m.write]),
      [[0x48, true, true]],
    );
    assert.deepEqual(v.ple && [v.ple.gap, v.ple.window], [128, 4096]);
    assert.deepEqual(v.eptp && [v.eptp.memtype, v.eptp.levels, v.eptp.accessedDirty], ["WB", 4, true]);
    assert.equal(v.fields.get("VIRTUAL_PROCESSOR_ID")?.value, 1n);
    assert.equal(v.fields.get("PLE_WINDOW")?.value, 4096n);
    assert.deepEqual(
      v.ept.map((r) => [r.start, r.end, r.perms.kind]),
      [
        [0n, 0x7fffffffn, "rwx"],
        [0xfebf0000n, 0xfebfffffn, "misconfig"],
        [0xfee00000n, 0xfee00fffn, "apic"],
      ],
    );
  });

  it("indexes definitions and references for navigation and rename", () => {
    const text =
      "vmcs kvm { }\nfn ack { work 1 }\nhandler HLT { call ack }\nguest g on kvm { path p rate 1/s { hlt } }\nexpect g { exits HLT < 1/s }\nsimulate g for 1s";
    const { symbols } = lowerText(text);
    assert.deepEqual(
      symbols.definitions.map((d) => `${d.kind}:${d.name}`),
      ["vmcs:kvm", "fn:ack", "handler:HLT", "guest:g", "expect:g", "simulate:g"],
    );
    assert.deepEqual(
      symbols.definitions[3]!.children.map((c) => [c.kind, c.name, c.detail]),
      [["path", "p", "rate 1/s"]],
    );
    const kvm = symbols.lookup("vmcs", "kvm")!;
    const refs = symbols.referencesTo(kvm);
    assert.equal(refs.length, 1);
    assert.equal(text.slice(refs[0]!.span.start, refs[0]!.span.end), "kvm");
    assert.equal(symbols.resolveAt(refs[0]!.span.start), kvm);
    const g = symbols.lookup("guest", "g")!;
    assert.equal(symbols.referencesTo(g).length, 2);
    assert.equal(symbols.referencesTo(symbols.lookup("fn", "ack")!).length, 1);
    assert.equal(symbols.referencesTo(symbols.lookup("handler", "HLT")!).length, 1);
  });

  it("lowers `coalesce N or T { OPS }` to the coalesce operation", () => {
    const { program, diagnostics } = lowerText(
      `target skylake_server @ 2GHz\n${VMCS}guest g on kvm { path tx rate 100k/s { compute 1us  coalesce 16 or 50us { out 0xc050  compute 100 } } }`,
    );
    assert.deepEqual(diagnostics, []);
    const ops = program.guests.get("g")!.sources[0]!.ops;
    assert.equal(ops.length, 2);
    const op = ops[1]!;
    assert.equal(op.op, "coalesce");
    if (op.op !== "coalesce") return;
    assert.equal(op.count, 16);
    assert.equal(op.timeoutSec, 50e-6);
    assert.deepEqual(
      op.ops.map((o) =>
        o.op === "out" ? `out ${o.port}` : o.op === "compute" ? `compute ${o.cycles}` : o.op,
      ),
      ["out 49232", "compute 100"],
    );
  });

  it("checks `coalesce`: N ≥ 1, T > 0 after `or`, not inside `tsx` or `coalesce`", () => {
    const cases: [string, string, string][] = [
      ["coalesce 0 or 50us { cpuid }", "TL205", "0"],
      ["coalesce 65537 or 50us { cpuid }", "TL205", "65537"],
      ["coalesce 4 or 0us { cpuid }", "TL207", "0us"],
      ["coalesce 4 50us { cpuid }", "TL201", "50us"],
      ["coalesce 4 { cpuid }", "TL201", "4"],
      ["coalesce 4 or 10k/s { cpuid }", "TL202", "10k/s"],
      ["tsx { coalesce 4 or 1us { cpuid } }", "TL213", "coalesce"],
      ["coalesce 4 or 1us { branch { 50% coalesce 2 or 1us { cpuid } } }", "TL213", "coalesce"],
    ];
    for (const [ops, code, at] of cases) {
      const text = `${VMCS}guest g on kvm { path a rate 1k/s { ${ops} } }`;
      const { diagnostics, program } = lower(parse(text));
      assert.deepEqual(
        diagnostics.map((d) => d.code),
        [code],
        ops,
      );
      const d = diagnostics[0]!;
      const offset = text.indexOf(ops);
      // The nested case points at the inner `coalesce`, which the `related` entry tells apart.
      assert.equal(text.slice(d.span.start, d.span.end), at, ops);
      if (code === "TL213") {
        assert.ok(d.span.start > offset, "the inner keyword, not the outer one");
        assert.equal(d.related?.[0]?.span.start, offset);
        // The inner coalesce is dropped; its cpuid with it.
        const json = JSON.stringify(program.guests.get("g")!.sources[0]!.ops, (_k, v) =>
          typeof v === "bigint" ? String(v) : v,
        );
        assert.equal(json.split('"coalesce"').length - 1, ops.startsWith("tsx") ? 0 : 1);
      }
    }
    const one = lower(parse(`${VMCS}guest g on kvm { path a rate 1k/s { coalesce 1 or 1us { cpuid } } }`));
    assert.deepEqual(
      one.diagnostics.map((d) => [d.code, d.severity]),
      [["TL214", "warning"]],
    );
    assert.equal(one.program.guests.get("g")!.sources[0]!.ops[0]!.op, "coalesce");
  });
});

describe("lowering declaration by declaration (what analyze does)", () => {
  /** The file with its top-level declarations in reverse order (comments between them dropped). */
  function reversed(text: string): string {
    const decls = parse(text).file.decls;
    return decls
      .map((d) => text.slice(d.start, d.end))
      .reverse()
      .join("\n\n");
  }

  /** analyze's program, symbols and lowering diagnostics against lowering the whole tree. */
  function assertSameAsWholeTree(text: string): void {
    const whole = parse(text);
    const expected = lower(whole);
    const analysis = analyze(text);
    assert.deepStrictEqual(analysis.program, expected.program);
    assert.deepStrictEqual(analysis.symbols.definitions, expected.symbols.definitions);
    assert.deepStrictEqual(
      [...analysis.symbols.references].sort((a, b) => a.span.start - b.span.start),
      [...expected.symbols.references].sort((a, b) => a.span.start - b.span.start),
    );
    const codes = (ds: Diagnostic[]) =>
      ds.map((d) => `${d.span.start}-${d.span.end} ${d.code} ${d.message}`).sort();
    const lowerCodes = new Set(
      expected.diagnostics.map((d) => `${d.span.start}-${d.span.end} ${d.code} ${d.message}`),
    );
    assert.deepStrictEqual(
      codes(analysis.diagnostics).filter((line) => lowerCodes.has(line)),
      codes(expected.diagnostics),
    );
    assert.deepStrictEqual(
      [...analysis.declarationStarts],
      whole.file.decls.map((d) => d.start),
    );
  }

  for (const name of readdirSync(EXAMPLES).filter((f) => f.endsWith(".vmcs"))) {
    it(`${name}, as written and with its declarations reversed (target last, fns after their callers)`, () => {
      const text = readFileSync(join(EXAMPLES, name), "utf8");
      assertSameAsWholeTree(text);
      assertSameAsWholeTree(reversed(text));
    });
  }

  it("forward references, unknown names, a second target and no target at all", () => {
    const text = `guest g on later { path p rate 1k/s { cpuid } }
expect g { exits CPUID < 10k/s  exits HLT < 1/s }
simulate nobody for 1ms
handler CPUID { call helper  work 100 }
fn helper { call missing  work 10 }
vmcs later { proc hlt_exiting }
target skylake_server @ 3GHz
target haswell
`;
    assertSameAsWholeTree(text);
    assertSameAsWholeTree(text.replace(/^target.*$/gm, ""));
    const analysis = analyze(text);
    assert.equal(analysis.program.target.hz, 3e9, "declarations before the target wait for it");
    assert.equal(analysis.program.guests.get("g")!.sources[0]!.ops.length, 1);
    assert.ok(analysis.diagnostics.some((d) => d.code === "TL109" && d.message.includes("missing")));
    assert.ok(analysis.diagnostics.some((d) => d.code === "TL112" && d.message.includes("nobody")));
    assert.ok(analysis.diagnostics.some((d) => d.code === "TL101" && d.message.includes("only one")));
  });
});

describe("raw fields that a sugar statement also sets", () => {
  it("VMX_PREEMPTION_TIMER_VALUE, POSTED_INTR_NV and TPR_THRESHOLD fill the same IR (last statement wins)", () => {
    const text = `vmcs v {
  field VMX_PREEMPTION_TIMER_VALUE = 5000
  field POSTED_INTR_NV = 0xf2
  tpr_threshold 3
  field TPR_THRESHOLD = 5
}
`;
    const analysis = analyze(text);
    const v = analysis.program.vmcs.get("v")!;
    assert.equal(v.preemptionTimer?.ticks, 5000);
    assert.equal(v.postedInterruptVector?.vector, 0xf2);
    assert.equal(v.tprThreshold?.value, 5);
    // The timer's value without the timer control: TL323 on the field statement.
    const d = analysis.diagnostics.find((x) => x.code === "TL323")!;
    assert.equal(text.slice(d.span.start, d.span.end), "field VMX_PREEMPTION_TIMER_VALUE = 5000");
    assert.equal(
      lowerText(
        "vmcs v {\n  field VMX_PREEMPTION_TIMER_VALUE = 5000\n  preemption_timer 7\n}\n",
      ).program.vmcs.get("v")!.preemptionTimer?.ticks,
      7,
    );
  });
});

describe("statement argument words: declared once in grammar.ts, accepted by lowering", () => {
  const GUEST = (body: string) => `${VMCS}guest g on kvm {\n${body}\n}\n`;
  const OPS = (op: string) => GUEST(`  path p rate 1k/s { ${op} }`);
  // A complete statement around each declared word: lowering must accept every one.
  const cases: { context: BlockContext; keyword: string; source: (word: string) => string }[] = [
    {
      context: "vmcs",
      keyword: "msr",
      source: (w) => `vmcs kvm { proc use_msr_bitmaps\n msr trap ${w} IA32_EFER }\n`,
    },
    { context: "guest", keyword: "apic", source: (w) => GUEST(`  apic ${w}`) },
    { context: "guest", keyword: "idle", source: (w) => GUEST(`  idle ${w}`) },
    {
      context: "guest",
      keyword: "timer",
      source: (w) => GUEST(`  timer ${w}${w === "periodic" ? " 250Hz" : ""} { }`),
    },
    {
      context: "guest",
      keyword: "path",
      source: (w) => GUEST(`  path p ${w} ${w === "rate" ? "1k/s" : "1ms"} { }`),
    },
    { context: "guestOps", keyword: "mmio", source: (w) => OPS(`mmio ${w} 0xfee00000`) },
    { context: "guestOps", keyword: "mov", source: (w) => OPS(`mov ${w}`) },
  ];
  for (const { context, keyword, source } of cases) {
    const words = argumentWords(context, keyword).choice!;
    it(`\`${keyword}\` accepts ${words.join(", ")}`, () => {
      for (const word of words) {
        const { diagnostics } = lowerText(source(word));
        assert.deepEqual(
          diagnostics.filter((d) => d.severity === "error"),
          [],
          `${keyword} ${word}`,
        );
      }
    });
  }

  it("a misspelt word gets TL114 with a fix to a declared word", () => {
    for (const [source, expected] of [
      [GUEST("  apic x2apc"), "x2apic"],
      [GUEST("  idle mwiat"), "mwait"],
      [OPS("mov cr9"), "cr0"],
      ["vmcs kvm { msr trap wrte IA32_EFER }\n", "write"],
    ] as const) {
      const [diagnostic] = only(lowerText(source).diagnostics, "TL114");
      assert.ok(diagnostic, source);
      assert.equal(diagnostic.fixes?.[0]?.edits[0]?.newText, expected, source);
    }
  });

  it("a word that is a property of every object is still an unknown register", () => {
    const { diagnostics, program } = lowerText(OPS("mov constructor"));
    assert.match(only(diagnostics, "TL114")[0]?.message ?? "", /unknown register `constructor`/);
    assert.deepEqual(program.guests.get("g")!.sources[0]!.ops, []);
  });

  it("pairs and flags: `eptp` takes its declared pair words, values and flag", () => {
    const eptp = argumentWords("vmcs", "eptp");
    const source = `vmcs kvm { eptp ${eptp.pairs![0]} ${eptp.pairValues!.memtype![1]} ${eptp.pairs![1]} 5 ${eptp.flags![0]} }\n`;
    const { program, diagnostics } = lowerText(source);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      { ...program.vmcs.get("kvm")!.eptp, span: undefined },
      { memtype: "UC", levels: 5, accessedDirty: true, span: undefined },
    );
    assert.deepEqual(argumentWordList(eptp), ["memtype", "WB", "UC", "levels", "accessed_dirty"]);
  });
});
