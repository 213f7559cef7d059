/**
 * Several L1 hypervisors in one file (issue #13): `guest NAME on VMCS12 in HYPERVISOR` chooses
 * the L1 that runs an L2 (docs/language.md "Nested virtualization"). The clause's diagnostics
 * (TL117 unknown name, TL217 several hypervisors and no `in`, TL218 `in` on a guest that is no
 * L2) with their fixes, and the model: in examples/nested-two-l1.vmcs the two L2s, the same
 * workload under two different L1s, get different per-level estimates and simulations, each
 * equal to that L2 alone in a file with only its L1.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { nestedSetup } from "../core/src/analysis/nested/reflect";
import { analyze, type Diagnostic, nestedEstimate, parse, simulate } from "../core/src/index";

const EXAMPLE = readFileSync(new URL("../examples/nested-two-l1.vmcs", import.meta.url), "utf8");

const codes = (text: string) => analyze(text).diagnostics.map((d) => d.code);
const only = (text: string, code: string): Diagnostic[] =>
  analyze(text).diagnostics.filter((d) => d.code === code);
const at = (text: string, d: Diagnostic) => text.slice(d.span.start, d.span.end);

/** Applies a fix's edits (right to left, so earlier offsets stay valid). */
function applyFix(text: string, d: Diagnostic, index = 0): string {
  const fix = d.fixes?.[index];
  assert.ok(fix, `a fix on ${d.code}`);
  let out = text;
  for (const e of [...fix.edits].sort((a, b) => b.span.start - a.span.start))
    out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  return out;
}

/** The text without the top-level block whose first line starts with `header` (through its `}` line). */
function withoutBlock(text: string, header: string): string {
  const start = text.indexOf(`\n${header}`);
  assert.ok(start >= 0, `the text has ${header}`);
  const end = text.indexOf("\n}\n", start);
  assert.ok(end > start, `${header} ends`);
  return text.slice(0, start + 1) + text.slice(end + 3);
}

/** Spans differ between the files being compared; every other figure must not. */
const withoutSpans = (value: unknown) =>
  JSON.parse(JSON.stringify(value, (key, v) => (key === "span" || key.endsWith("Span") ? undefined : v)));

/** The two-L1 example reduced to one L1 and its L2 (the other L1, its vmcs01 and its L2 removed). */
const ALONE_FAST = withoutBlock(
  withoutBlock(withoutBlock(EXAMPLE, "hypervisor kvm_old"), "vmcs vmcs01_old"),
  "guest l2_old",
).replace("guest l2_fast on vmcs12 in kvm_fast", "guest l2_fast on vmcs12");
const ALONE_OLD = withoutBlock(
  withoutBlock(withoutBlock(EXAMPLE, "hypervisor kvm_fast"), "vmcs vmcs01_fast"),
  "guest l2_fast",
);

describe("guest … in HYPERVISOR: syntax and diagnostics", () => {
  it("parses `in NAME` after `on VMCS` into the guest declaration", () => {
    const file = parse(EXAMPLE).file;
    const guests = file.decls.filter((d) => d.kind === "Guest");
    assert.deepEqual(
      guests.map((g) => [g.name?.name, g.vmcs?.name, g.hypervisor?.name]),
      [
        ["l2_fast", "vmcs12", "kvm_fast"],
        ["l2_old", "vmcs12", "kvm_old"],
      ],
    );
    const first = guests[0]!;
    assert.equal(EXAMPLE.slice(first.inSpan!.start, first.inSpan!.end), "in");
  });

  it("the example checks clean, and each L2 runs in the L1 it names", () => {
    const a = analyze(EXAMPLE);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity !== "info").map((d) => `${d.code} ${d.message}`),
      [],
    );
    for (const [guest, l1] of [
      ["l2_fast", "kvm_fast"],
      ["l2_old", "kvm_old"],
    ] as const) {
      const setup = nestedSetup(a.program, a.program.guests.get(guest)!);
      assert.equal(setup?.hypervisor.name, l1, `${guest} runs in ${l1}`);
      assert.equal(setup?.vmcs01.name, l1 === "kvm_fast" ? "vmcs01_fast" : "vmcs01_old");
    }
  });

  it("a misspelt `in` is one TL011 with its did-you-mean fix", () => {
    const text = EXAMPLE.replace("on vmcs12 in kvm_old", "on vmcs12 inn kvm_old");
    const [d] = only(text, "TL011");
    assert.ok(d, `TL011 in ${codes(text)}`);
    assert.equal(at(text, d), "inn");
    assert.match(d.message, /did you mean `in`\?/);
    assert.deepEqual(codes(applyFix(text, d)), codes(EXAMPLE));
  });

  it("TL217: an L2 without `in` in a file with two hypervisors; each fix names one and clears it", () => {
    const text = EXAMPLE.replace("guest l2_old on vmcs12 in kvm_old", "guest l2_old on vmcs12");
    const found = only(text, "TL217");
    assert.equal(found.length, 1);
    const d = found[0]!;
    assert.equal(d.severity, "error");
    assert.equal(at(text, d), "vmcs12");
    assert.match(d.message, /guest `l2_old` is an L2 .* 2 hypervisors \(`kvm_fast`, `kvm_old`\)/);
    assert.deepEqual(
      d.related?.map((r) => at(text, { ...d, span: r.span })),
      ["kvm_fast", "kvm_old"],
    );
    assert.deepEqual(
      d.fixes?.map((f) => f.title),
      ["Run it in `kvm_fast` (add `in kvm_fast`)", "Run it in `kvm_old` (add `in kvm_old`)"],
    );
    assert.ok(!d.fixes?.some((f) => f.preferred), "no fix is preferred: the choice is the user's");
    assert.equal(applyFix(text, d, 1), EXAMPLE);
    const other = applyFix(text, d, 0);
    assert.deepEqual(only(other, "TL217"), []);
    // Until it is fixed, the first hypervisor runs the L2.
    const a = analyze(text);
    assert.equal(nestedSetup(a.program, a.program.guests.get("l2_old")!)?.hypervisor.name, "kvm_fast");
  });

  it("a second hypervisor alone is no longer a diagnostic (its L2s name it)", () => {
    assert.ok(!codes(EXAMPLE).includes("TL217"));
    // One hypervisor and a guest without `in`: today's meaning, no diagnostic.
    assert.deepEqual(
      analyze(ALONE_FAST).diagnostics.filter((d) => d.severity !== "info"),
      [],
      "one L1, no `in`",
    );
  });

  it("TL117: `in` naming no hypervisor, with did-you-mean", () => {
    const text = EXAMPLE.replace("in kvm_old {", "in kvm_odl {");
    const [d] = only(text, "TL117");
    assert.ok(d, `TL117 in ${codes(text)}`);
    assert.equal(d.severity, "error");
    assert.equal(at(text, d), "kvm_odl");
    assert.equal(d.message, "unknown hypervisor `kvm_odl`; did you mean `kvm_old`?");
    assert.equal(applyFix(text, d), EXAMPLE);
    const far = EXAMPLE.replace("in kvm_old {", "in zzz {");
    assert.equal(only(far, "TL117")[0]?.message, "unknown hypervisor `zzz`");
  });

  it("TL218: `in` on a guest whose vmcs is not nested; the fix removes the clause", () => {
    const text = EXAMPLE.replace(
      "guest l2_old on vmcs12 in kvm_old",
      "guest l2_old on vmcs01_old in kvm_old",
    );
    const [d] = only(text, "TL218");
    assert.ok(d, `TL218 in ${codes(text)}`);
    assert.equal(d.severity, "error");
    assert.equal(at(text, d), "kvm_old");
    assert.match(d.message, /not `nested`/);
    const fixed = applyFix(text, d);
    assert.ok(fixed.includes("guest l2_old on vmcs01_old {"), "the clause is gone");
    assert.deepEqual(only(fixed, "TL218"), []);
    const a = analyze(text);
    assert.equal(nestedSetup(a.program, a.program.guests.get("l2_old")!), undefined, "not an L2");
  });
});

describe("two L1s, two L2s: each L2 as it is alone with its L1", () => {
  const both = analyze(EXAMPLE);
  const alone = { l2_fast: analyze(ALONE_FAST), l2_old: analyze(ALONE_OLD) };

  it("the reduced files check clean", () => {
    for (const [name, a] of Object.entries(alone))
      assert.deepEqual(
        a.diagnostics.filter((d) => d.severity !== "info").map((d) => `${d.code} ${d.message}`),
        [],
        name,
      );
  });

  it("per-level estimates: the two L2s differ, each equals its L2 alone", () => {
    const fast = nestedEstimate(both.program, "l2_fast");
    const old = nestedEstimate(both.program, "l2_old");
    assert.ok(fast && old);
    assert.equal(fast.hypervisor, "kvm_fast");
    assert.equal(old.hypervisor, "kvm_old");
    assert.equal(fast.shadowing, true);
    assert.equal(old.shadowing, false);
    // Without shadowing every VMREAD/VMWRITE of L1's handlers is one more exit into L0.
    assert.ok(
      old.l1ExitsPerSecond > 2 * fast.l1ExitsPerSecond,
      `${old.l1ExitsPerSecond} vs ${fast.l1ExitsPerSecond}`,
    );
    assert.ok(old.hostCpu.l0 > fast.hostCpu.l0);
    const cpuid = (e: typeof fast) => e.chains.find((c) => c.reasonCode === 10)!;
    assert.notEqual(cpuid(fast).l1Cycles, cpuid(old).l1Cycles, "different L1 CPUID handlers");
    assert.deepEqual(withoutSpans(fast), withoutSpans(nestedEstimate(alone.l2_fast.program, "l2_fast")));
    assert.deepEqual(withoutSpans(old), withoutSpans(nestedEstimate(alone.l2_old.program, "l2_old")));
  });

  it("simulations: the two L2s differ, each equals its L2 alone (same seed)", () => {
    const options = { durationSec: 0.2, seed: 7 };
    const run = (a: typeof both, guest: string) => simulate(a.program, guest, options);
    const fast = run(both, "l2_fast");
    const old = run(both, "l2_old");
    assert.ok(fast.nested && old.nested);
    assert.equal(fast.nested.hypervisor, "kvm_fast");
    assert.equal(old.nested.hypervisor, "kvm_old");
    assert.ok(old.nested.l1ExitsPerSecond > 2 * fast.nested.l1ExitsPerSecond);
    assert.ok(old.nested.hostCpu.l0 > fast.nested.hostCpu.l0);
    assert.deepEqual(withoutSpans(fast.nested), withoutSpans(run(alone.l2_fast, "l2_fast").nested));
    assert.deepEqual(withoutSpans(old.nested), withoutSpans(run(alone.l2_old, "l2_old").nested));
    assert.deepEqual(fast.counters, run(alone.l2_fast, "l2_fast").counters);
  });
});
