import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { analyze } from "../core/src/index";
import {
  type Arm,
  type Block,
  type GuestDecl,
  keywordSpanOf,
  type Statement,
  type VmcsDecl,
} from "../core/src/lang/ast";
import { TOP_LEVEL_KEYWORDS } from "../core/src/lang/grammar";
import { nodePathAt } from "../core/src/lang/nodePath";
import { parse } from "../core/src/lang/parser";
import { DECLARATIONS } from "../core/src/lang/parser/declarations";

const EXAMPLES = new URL("../examples/", import.meta.url);

function specExample(): string {
  // The spec's own example lives in the shared spec; the repository keeps a copy in the test.
  return `// netperf.vmcs: a KVM-like hypervisor on a Skylake server, guest sending small packets
target skylake_server @ 2.1GHz

vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_io_bitmaps
        use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest pause_loop_exiting
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest

  exceptions #AC #MC
  io  trap 0x3f8..0x3ff, 0xcf8..0xcff
  msr trap write IA32_TSC_DEADLINE, X2APIC_EOI
  ple gap 128 window 4096
  field VIRTUAL_PROCESSOR_ID = 1
  ept {
    0x0000_0000 .. 0x7fff_ffff  rwx         // guest RAM
    0xfebf_0000 .. 0xfebf_ffff  misconfig   // e1000 BAR0: trapped MMIO
  }
}

handler EPT_MISCONFIG {
  vmread GUEST_PHYSICAL_ADDRESS
  decode
  branch {
    95% doorbell: userspace 9us     // the device model lives in the user-space VMM
     5% other:    work 900
  }
}

handler IO_INSTRUCTION  { vmread EXIT_QUALIFICATION  work 600  advance_rip }
handler EXTERNAL_INTERRUPT { work 350 }
handler MSR_WRITE       { work 250  advance_rip }
handler HLT             { halt }

guest netperf on kvm {
  vcpus 2
  path send rate 100k/s {
    compute 3us
    mmio write 0xfebf_0018       // TX doorbell: exits with EPT_MISCONFIG
  }
  irq nic vector 0x41 rate 100k/s {
    compute 1us
    eoi
  }
  timer periodic 250Hz { wrmsr IA32_TSC_DEADLINE  eoi }
  idle halt
}

expect netperf { overhead < 20%  exits < 400k/s }
simulate netperf for 100ms seed 1
`;
}

const words = (s: Statement) => s.items.map((i) => (i.kind === "Ident" ? i.name : i.kind));
const stmts = (b: Block | undefined) => (b?.entries ?? []) as Statement[];

describe("parser", () => {
  it("has one declaration parser per top-level keyword, and no other", () => {
    assert.deepEqual([...DECLARATIONS.keys()].sort(), [...TOP_LEVEL_KEYWORDS].sort());
  });

  it("parses the spec's complete example with no diagnostics and the expected structure", () => {
    const text = specExample();
    const { file, diagnostics } = parse(text);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      file.decls.map((d) => d.kind),
      [
        "Target",
        "Vmcs",
        "Handler",
        "Handler",
        "Handler",
        "Handler",
        "Handler",
        "Guest",
        "Expect",
        "Simulate",
      ],
    );
    const vmcs = file.decls[1] as VmcsDecl;
    assert.equal(vmcs.name?.name, "kvm");
    assert.equal(text.slice(vmcs.name!.start, vmcs.name!.end), "kvm");
    const body = stmts(vmcs.body);
    assert.deepEqual(
      body.map((s) => s.keyword),
      ["pin", "proc", "proc2", "exit", "entry", "exceptions", "io", "msr", "ple", "field", "ept"],
    );
    // The `proc` list continues on the next line.
    assert.deepEqual(words(body[1]!), [
      "hlt_exiting",
      "use_tsc_offsetting",
      "use_tpr_shadow",
      "use_io_bitmaps",
      "use_msr_bitmaps",
      "activate_secondary_controls",
    ]);
    assert.equal(text.slice(keywordSpanOf(body[1]!).start, keywordSpanOf(body[1]!).end), "proc");
    assert.ok(text.slice(body[1]!.start, body[1]!.end).endsWith("activate_secondary_controls"));
    assert.deepEqual(words(body[6]!), ["trap", "Range", "Range"]);
    assert.equal(body[10]!.body?.entries.length, 2);
    assert.equal(body[10]?.body?.entries[1]?.kind, "EptEntry");

    const handler = file.decls[2]!;
    assert.equal(handler.kind, "Handler");
    const branch = stmts(handler.kind === "Handler" ? handler.body : undefined)[2]!;
    assert.equal(branch.keyword, "branch");
    const arms = branch.body!.entries as Arm[];
    assert.deepEqual(
      arms.map((a) => [a.probability.text, a.label?.name, a.statements.map((s) => s.keyword)]),
      [
        ["95%", "doorbell", ["userspace"]],
        ["5%", "other", ["work"]],
      ],
    );
    // Several statements on one line.
    const io = file.decls[3]!;
    assert.deepEqual(
      stmts(io.kind === "Handler" ? io.body : undefined).map((s) => s.keyword),
      ["vmread", "work", "advance_rip"],
    );
    const guest = file.decls[7] as GuestDecl;
    assert.equal(guest.vmcs?.name, "kvm");
    const path = stmts(guest.body)[1]!;
    assert.deepEqual(words(path), ["send", "rate", "Quantity"]);
    assert.deepEqual(
      stmts(path.body).map((s) => [s.keyword, ...words(s)]),
      [
        ["compute", "Quantity"],
        ["mmio", "write", "Number"],
      ],
    );
    const expect = file.decls[8]!;
    assert.equal(expect.kind === "Expect" ? expect.body?.entries.length : 0, 2);
  });

  it("an analysis keeps the declaration starts and rebuilds its syntax tree only when read", () => {
    for (const name of readdirSync(EXAMPLES).filter((f) => f.endsWith(".vmcs"))) {
      const text = readFileSync(new URL(name, EXAMPLES), "utf8");
      const fresh = parse(text).file;
      const analysis = analyze(text);
      assert.deepEqual(
        [...analysis.declarationStarts],
        fresh.decls.map((d) => d.start),
        name,
      );
      const rebuilt = analysis.parse.file;
      assert.equal(analysis.parse.file, rebuilt, "rebuilt once, then kept");
      assert.deepEqual(
        rebuilt.decls.map((d) => [d.kind, d.start, d.end]),
        fresh.decls.map((d) => [d.kind, d.start, d.end]),
        name,
      );
    }
  });

  it("parses every example in the repository without syntax errors", () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".vmcs"));
    assert.ok(files.length > 0);
    for (const name of files) {
      assert.deepEqual(parse(readFileSync(new URL(name, EXAMPLES), "utf8")).diagnostics, [], name);
    }
  });

  it("recovers from a bad line in the middle: one diagnostic, the rest intact", () => {
    const text = specExample().replace("  decode\n", "  decode\n  frobnicate 12 {}\n");
    const { file, diagnostics } = parse(text);
    assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
    assert.equal(diagnostics[0]!.code, "TL014");
    assert.equal(text.slice(diagnostics[0]!.span.start, diagnostics[0]!.span.end), "frobnicate");
    assert.equal(file.decls.length, 10);
    const handler = file.decls[2]!;
    assert.deepEqual(
      stmts(handler.kind === "Handler" ? handler.body : undefined).map((s) => s.keyword),
      ["vmread", "decode", "frobnicate", "branch"],
    );
  });

  it("recovers from garbage at top level and in a vmcs block", () => {
    const text =
      "vmcs a {\n  proc hlt_exiting\n  ) ) )\n  pin nmi_exiting\n}\n%%% nonsense\nguest g on a { vcpus 1 }\n";
    const { file, diagnostics } = parse(text);
    assert.equal(diagnostics.filter((d) => d.code !== "TL001").length, 2, JSON.stringify(diagnostics));
    assert.deepEqual(
      stmts((file.decls[0] as VmcsDecl).body).map((s) => s.keyword),
      ["proc", "pin"],
    );
    assert.equal(file.decls[1]!.kind, "Guest");
  });

  it("says what was expected", () => {
    const cases: [string, RegExp][] = [
      ["vmcs a { proc { } }", /expected a control name after `proc`, found `\{`/],
      ["vmcs { }", /expected a name after `vmcs`, found `\{`/],
      ["guest g { }", /expected `on VMCS` after `guest g`, found `\{`/],
      ["handler HLT { wrok 5 }", /unknown handler operation `wrok`; did you mean `work`\?/],
      ["vmsc a { }", /expected a declaration .*found `vmsc`; did you mean `vmcs`\?/],
      ["expect g { overhead 20% }", /expected `<` or `<=` after `overhead`, found `20%`/],
      ["handler HLT { branch { 0.5 work 1 } }", /write the probability as a percentage/],
      ["guest g on a { path p rate 1k/s }", /expected `\{` after `path`/],
      ["simulate g seed 1", /expected `for TIME` after `simulate g`/],
      ["vmcs a {\n  proc hlt_exiting\n", /never closed: expected `\}` before the end of the file/],
    ];
    for (const [text, message] of cases) {
      const { diagnostics } = parse(text);
      assert.ok(
        diagnostics.some((d) => message.test(d.message)),
        `${text}\n→ ${diagnostics.map((d) => d.message).join(" | ")}`,
      );
    }
  });

  it("offers a did-you-mean fix that replaces the token", () => {
    const text = "handler HLT { hlat }";
    const d = parse(text).diagnostics[0]!;
    assert.deepEqual(d.fixes?.[0]?.edits, [{ span: { start: 14, end: 18 }, newText: "halt" }]);
  });

  it("closes an unclosed block at the next top-level declaration", () => {
    const text = "vmcs a {\n  proc hlt_exiting\nhandler HLT { halt }\n";
    const { file, diagnostics } = parse(text);
    assert.equal(diagnostics.length, 1);
    assert.deepEqual(diagnostics[0]!.span, { start: 7, end: 8 });
    assert.deepEqual(
      file.decls.map((d) => d.kind),
      ["Vmcs", "Handler"],
    );
  });

  it("keeps `mmio write` together and ends statements at keywords on the same line", () => {
    const { file, diagnostics } = parse(
      "guest g on a { path p every 1ms { mmio write 0x10 write 0x20 read cr3 eoi } }",
    );
    assert.deepEqual(diagnostics, []);
    const path = stmts((file.decls[0] as GuestDecl).body)[0]!;
    assert.deepEqual(
      stmts(path.body).map((s) => [s.keyword, s.items.length]),
      [
        ["mmio", 2],
        ["write", 1],
        ["read", 1],
        ["eoi", 0],
      ],
    );
  });

  it("parses `coalesce N or T { OPS }` as a guest operation with three items and a body", () => {
    const { file, diagnostics } = parse(
      "guest g on a { path tx rate 100k/s { compute 1us\n coalesce 16 or 50us { out 0xc050 } cpuid } }",
    );
    assert.deepEqual(diagnostics, []);
    const path = stmts((file.decls[0] as GuestDecl).body)[0]!;
    const ops = stmts(path.body);
    assert.deepEqual(
      ops.map((s) => s.keyword),
      ["compute", "coalesce", "cpuid"],
    );
    const coalesce = ops[1]!;
    assert.deepEqual(
      coalesce.items.map((i) => i.kind),
      ["Number", "Ident", "Quantity"],
    );
    assert.equal(coalesce.body?.context, "guestOps");
    assert.deepEqual(
      stmts(coalesce.body).map((s) => s.keyword),
      ["out"],
    );
  });

  it("accepts a detached unit with a fix", () => {
    const { file, diagnostics } = parse("handler HLT { work 3 us }");
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.code, "TL005");
    assert.deepEqual(diagnostics[0]!.fixes?.[0]?.edits, [{ span: { start: 20, end: 21 }, newText: "" }]);
    const work = stmts(file.decls[0]!.kind === "Handler" ? file.decls[0]!.body : undefined)[0]!;
    assert.equal(work.items[0]!.kind, "Quantity");
  });

  it("finds the node path at an offset", () => {
    const text = "vmcs kvm {\n  proc hlt_exiting use_tsc_offsetting\n}";
    const { file } = parse(text);
    const offset = text.indexOf("use_tsc") + 2;
    const path = nodePathAt(file, offset);
    assert.deepEqual(
      path.map((n) => n.kind),
      ["File", "Vmcs", "Block", "Statement", "Ident"],
    );
    const statement = path[3] as Statement;
    assert.equal(statement.keyword, "proc");
    // Just after the last item still counts as inside the `proc` list.
    const end = text.indexOf("offsetting") + "offsetting".length;
    assert.equal((nodePathAt(file, end)[3] as Statement).keyword, "proc");
  });
});
