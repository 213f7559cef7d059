/**
 * Regression tests of issue 12's "wrong results to fix first", one `describe` per item: each
 * asserts the behaviour that was wrong (and the corrected file, where the fix is a diagnostic,
 * is asserted clean so a check that always fires is caught).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, applyEdits } from "../core/src/index";

/** A KVM-like vmcs on skylake_server with `extra` statements, a guest `body`, and handlers. */
function file(extra: string, body: string, handlers = ""): string {
  return `target skylake_server @ 2.1GHz

vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  field VIRTUAL_PROCESSOR_ID = 1
${extra}
}

handler EXTERNAL_INTERRUPT { work 350 }
handler HLT { halt }
handler EPT_MISCONFIG { work 2000 }
handler EPT_VIOLATION { work 3000 }
${handlers}
guest g on v {
${body}
  idle halt
}
`;
}

describe("issue 12.1: EPT write-without-read is a misconfiguration", () => {
  for (const perm of ["w", "wx"]) {
    test(`\`${perm}\` is a TL215 warning on the word, and accesses exit with EPT_MISCONFIG`, () => {
      const text = file(
        `  ept {\n    0x0 .. 0x7fff_ffff  rwx\n    0x8000_0000 .. 0x8000_ffff  ${perm}\n  }`,
        "  path p rate 10k/s { compute 1us  mmio read 0x8000_0010 }",
      );
      const analysis = analyze(text);
      const diagnostic = analysis.diagnostics.find((d) => d.code === "TL215");
      assert.ok(diagnostic, JSON.stringify(analysis.diagnostics));
      assert.equal(diagnostic.severity, "warning");
      assert.equal(text.slice(diagnostic.span.start, diagnostic.span.end), perm);
      const estimate = analysis.estimates.get("g")!;
      const reasons = estimate.byReason.map((r) => r.reason);
      assert.ok(reasons.includes("EPT_MISCONFIG"), reasons.join(","));
      assert.ok(!reasons.includes("EPT_VIOLATION"), reasons.join(","));
      const misconfig = estimate.byReason.find((r) => r.reason === "EPT_MISCONFIG")!;
      assert.ok(Math.abs(misconfig.exitsPerSecond - 10_000) < 1, String(misconfig.exitsPerSecond));
      // The preferred fix makes the region readable: no TL215, and the read no longer exits.
      const fix = diagnostic.fixes?.find((f) => f.preferred);
      assert.ok(fix);
      const fixed = applyEdits(text, fix.edits);
      const after = analyze(fixed);
      assert.ok(!after.diagnostics.some((d) => d.code === "TL215"));
      const afterReasons = after.estimates.get("g")!.byReason.map((r) => r.reason);
      assert.ok(!afterReasons.includes("EPT_MISCONFIG"), afterReasons.join(","));
    });
  }
  test("`rx`, `r`, `x` and `rw` stay valid permissions", () => {
    for (const perm of ["r", "rx", "x", "rw", "rwx"]) {
      const text = file(
        `  ept {\n    0x0 .. 0xffff_ffff  ${perm}\n  }`,
        "  path p rate 1k/s { compute 1us }",
      );
      assert.ok(!analyze(text).diagnostics.some((d) => d.code === "TL215"), perm);
    }
  });
});

describe("issue 12.10: one error in a path header is one located diagnostic", () => {
  const header = (path: string) =>
    file("", `  ${path}\n  path next rate 1k/s { compute 1us  cpuid }`, "handler CPUID { work 100 }");
  const lineOf = (text: string, offset: number) => text.slice(0, offset).split("\n").length;

  test("`rate 100 k/s`: one TL005 on `100 k/s` with a fix, nothing on the next line", () => {
    const text = header("path b rate 100 k/s { cpuid }");
    const diagnostics = analyze(text).diagnostics.filter((d) => d.severity === "error");
    assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
    const [only] = diagnostics;
    assert.equal(only!.code, "TL005");
    assert.equal(text.slice(only!.span.start, only!.span.end), "100 k/s");
    const fixed = applyEdits(text, only!.fixes![0]!.edits);
    assert.ok(fixed.includes("rate 100k/s {"));
    assert.deepEqual(
      analyze(fixed).diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    // The path is still read, with its rate and body: its CPUID exits are estimated.
    const cpuid = analyze(text)
      .estimates.get("g")
      ?.byReason.find((r) => r.reason === "CPUID");
    assert.ok(cpuid && Math.abs(cpuid.exitsPerSecond - 101_000) < 1, JSON.stringify(cpuid));
  });

  test("`rate 1k/s extra { … }`: one TL011 on `extra`, the body kept, nothing on the next line", () => {
    const text = header("path b rate 1k/s extra { cpuid }");
    const errors = analyze(text).diagnostics.filter((d) => d.severity === "error");
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(text.slice(errors[0]!.span.start, errors[0]!.span.end), "extra");
    const pathLine = lineOf(text, text.indexOf("path b"));
    assert.equal(lineOf(text, errors[0]!.span.start), pathLine);
  });
});

describe("issue 12.5: PML needs EPT accessed/dirty flags", () => {
  const pmlFile = (eptp: string) =>
    file(
      `  proc2 enable_pml\n  field PML_ADDRESS = 0x1_2345_6000\n  field GUEST_PML_INDEX = 511\n${eptp}  ept { 0x0 .. 0x1_ffff_ffff rwx }`,
      "  path flush rate 1k/s { compute 2us  dirty 16 pages }",
      "handler PML_FULL { work 20000 }",
    );
  const reasons = (text: string) =>
    Object.fromEntries(
      analyze(text)
        .estimates.get("g")!
        .byReason.map((r) => [r.reason, r.exitsPerSecond]),
    );

  for (const [what, eptp] of [
    ["no eptp", ""],
    ["eptp without accessed_dirty", "  eptp memtype WB levels 4\n"],
  ] as const) {
    test(`${what}: TL328 with a fix, and \`dirty\` write-protects (EPT_VIOLATION per page)`, () => {
      const text = pmlFile(eptp);
      const analysis = analyze(text);
      const diagnostic = analysis.diagnostics.find((d) => d.code === "TL328");
      assert.ok(diagnostic, JSON.stringify(analysis.diagnostics));
      assert.equal(text.slice(diagnostic.span.start, diagnostic.span.end), "enable_pml");
      const before = reasons(text);
      assert.ok(Math.abs((before.EPT_VIOLATION ?? 0) - 16_000) < 1, JSON.stringify(before));
      assert.equal(before.PML_FULL, undefined);
      const fixed = applyEdits(text, diagnostic.fixes![0]!.edits);
      const after = analyze(fixed);
      assert.ok(!after.diagnostics.some((d) => d.code === "TL328"), fixed);
      assert.deepEqual(
        after.diagnostics.filter((d) => d.severity === "error"),
        [],
      );
      const logged = reasons(fixed);
      assert.ok(Math.abs((logged.PML_FULL ?? 0) - 1000 * (16 / 512)) < 1e-6, JSON.stringify(logged));
      assert.equal(logged.EPT_VIOLATION, undefined);
    });
  }
});

describe("issue 12.4: monitor_trap_flag is not silently ignored", () => {
  test("TL329 warns on the control; without it there is no TL329", () => {
    const guest = "  path p rate 1k/s { compute 1us }";
    const withMtf = file("  proc monitor_trap_flag", guest, "handler MONITOR_TRAP_FLAG { work 500 }");
    const diagnostic = analyze(withMtf).diagnostics.find((d) => d.code === "TL329");
    assert.ok(diagnostic);
    assert.equal(diagnostic.severity, "warning");
    assert.equal(withMtf.slice(diagnostic.span.start, diagnostic.span.end), "monitor_trap_flag");
    assert.ok(!analyze(file("", guest)).diagnostics.some((d) => d.code === "TL329"));
  });
});
