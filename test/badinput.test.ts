import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_BLOCK_DEPTH, parse } from "../core/src/lang/parser";
import { lower } from "../core/src/model/lower";
import type { Diagnostic } from "../core/src/source";

/** Parse and lower; never throws; every diagnostic is located inside the text. */
function run(text: string): Diagnostic[] {
  const parsed = parse(text);
  const lowered = lower(parsed);
  const all = [...parsed.diagnostics, ...lowered.diagnostics];
  for (const d of all) {
    assert.ok(
      d.span.start >= 0 && d.span.end <= text.length && d.span.start <= d.span.end,
      JSON.stringify(d),
    );
    assert.ok(d.message.length > 0 && /^TL\d{3}$/.test(d.code), JSON.stringify(d));
  }
  return all;
}

function block(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines / 10; i++) {
    out.push(
      `vmcs v${i} {`,
      "  proc hlt_exiting use_tsc_offsetting activate_secondary_controls",
      "  proc2 enable_ept enable_vpid",
      "  exceptions #AC #MC",
      "}",
      `handler ${i === 0 ? "HLT" : `${i + 100}`} { work 3us advance_rip }`,
      `guest g${i} on v${i} {`,
      `  path p rate 100k/s { compute 3us mmio write 0xfebf_0018 }`,
      "}",
      `simulate g${i} for 10ms`,
    );
  }
  return out.join("\n");
}

describe("bad input", () => {
  it("an empty file has no diagnostics and a default target", () => {
    assert.deepEqual(run(""), []);
    const { program } = lower(parse(""));
    assert.ok(program.target.profile.name.length > 0);
  });

  it("binary bytes give a few located diagnostics", () => {
    let text = "";
    for (let i = 0; i < 1 << 16; i++) text += String.fromCharCode((i * 2654435761) >>> 24);
    const diagnostics = run(text);
    assert.ok(diagnostics.length > 0 && diagnostics.length <= 130, `${diagnostics.length} diagnostics`);
  });

  // Measured alone (esbuild bundle, Node 20): see docs/language.md "Performance". The bound here
  // is loose because the test machine is shared; it still catches quadratic behaviour.
  it("a 10 MB file parses in bounded time", () => {
    let text = block(1000);
    while (text.length < 10 * 1024 * 1024) text += `\n${text}`;
    const start = performance.now();
    const parsed = parse(text);
    const elapsed = performance.now() - start;
    assert.ok(parsed.file.decls.length > 100_000);
    assert.ok(elapsed < 15_000, `parse took ${elapsed.toFixed(0)} ms`);
  });

  it("10,000 nested braces: a capped depth and a diagnostic, no stack overflow", () => {
    const nested = `handler HLT { ${"repeat 2 { ".repeat(10_000)}work 1${" }".repeat(10_000)} }\nhandler CPUID { work 2 }`;
    const diagnostics = run(nested);
    assert.ok(diagnostics.some((d) => d.code === "TL013" && d.message.includes(`${MAX_BLOCK_DEPTH}`)));
    // The declaration after the deep nest is intact.
    const { program } = lower(parse(nested));
    assert.ok(program.handlers.has(10), "CPUID handler still parsed");
    const bare = run(`${"{".repeat(10_000)}${"}".repeat(10_000)}`);
    assert.ok(bare.length >= 1 && bare.length < 5);
    const unclosed = run(`vmcs a ${"{".repeat(10_000)}`);
    assert.ok(unclosed.length >= 1 && unclosed.length < 5);
  });

  it("numbers past 2^64 are located errors", () => {
    const text = "vmcs v { field TSC_OFFSET = 0x1_0000_0000_0000_0000 }";
    const diagnostics = run(text);
    const d = diagnostics.find((x) => x.code === "TL003");
    assert.ok(d);
    assert.equal(text.slice(d.span.start, d.span.end), "0x1_0000_0000_0000_0000");
  });

  it("unknown units are located errors", () => {
    const text = "handler HLT { work 3fortnights }";
    const d = run(text).find((x) => x.code === "TL004");
    assert.ok(d);
    assert.equal(text.slice(d.span.start, d.span.end), "fortnights");
  });

  it("negative and absurd values are located errors", () => {
    const cases: [string, string, string][] = [
      ["vmcs k { }\nguest g on k { path p rate -1k/s { cpuid } }", "TL206", "-1k/s"],
      ["vmcs k { }\nguest g on k { path p rate 0/s { cpuid } }", "TL206", "0/s"],
      ["vmcs k { }\nguest g on k { path p rate 5M/s { cpuid } }", "", ""],
      ["vmcs k { }\nguest g on k { path p rate 1001M/s { cpuid } }", "TL206", "1001M/s"],
      ["vmcs k { }\nguest g on k { vcpus 0 }", "TL205", "0"],
      ["vmcs k { }\nguest g on k { vcpus 5000 }", "TL205", "5000"],
      ["handler HLT { work -5 }", "TL205", "-5"],
      ["handler HLT { work 2000000s }", "", ""],
      ["handler HLT { work 40000000s }", "TL207", "40000000s"],
      ["handler HLT { work 100k/s }", "TL202", "100k/s"],
      ["target skylake_server @ 3Hz", "TL212", "3Hz"],
    ];
    for (const [text, code, token] of cases) {
      const diagnostics = run(text);
      if (code === "") {
        assert.deepEqual(diagnostics, [], text);
        continue;
      }
      const d = diagnostics.find((x) => x.code === code);
      assert.ok(d, `${text}: ${JSON.stringify(diagnostics)}`);
      assert.equal(text.slice(d.span.start, d.span.end), token, text);
    }
  });

  it("truncated declarations at every prefix of a valid file never throw", () => {
    const text = block(10);
    for (let i = 0; i <= text.length; i += 7) run(text.slice(0, i));
  });
});
