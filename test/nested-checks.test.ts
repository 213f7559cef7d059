/**
 * `vmcs NAME nested { … }` (a vmcs12): parsed and lowered with its span, and checked as KVM's
 * nested VM entry checks it — against the capability MSRs L0 exposes to L1
 * (core/src/vmx/nestedCapabilities.ts), not the hardware's — each diagnostic naming the nested.c
 * function. Every case fails as a vmcs12 and passes corrected (or as a plain vmcs where only
 * KVM's exposure differs).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, type Diagnostic } from "../core/src/index";

const FILE = (modifier: string, body: string, target = "skylake_server") =>
  `target ${target}\n\nvmcs v${modifier} {\n  pin   external_interrupt_exiting nmi_exiting\n  proc  hlt_exiting use_tpr_shadow activate_secondary_controls\n  proc2 enable_ept\n  exit  host_address_space_size acknowledge_interrupt_on_exit\n  entry ia32e_mode_guest\n${body}}\n`;

const errors = (text: string): Diagnostic[] =>
  analyze(text).diagnostics.filter((d) => d.severity === "error");

describe("vmcs NAME nested: the language", () => {
  test("parsed, lowered with the span of `nested`, and a plain vmcs has no flag", () => {
    const text = FILE(" nested", "");
    const analysis = analyze(text);
    assert.deepEqual(
      analysis.diagnostics.map((d) => `${d.code} ${d.message}`),
      [],
    );
    const vmcs = analysis.program.vmcs.get("v");
    assert.ok(vmcs?.nested, "nested flag");
    assert.equal(text.slice(vmcs.nested.span.start, vmcs.nested.span.end), "nested");
    assert.equal(analyze(FILE("", "")).program.vmcs.get("v")?.nested, undefined);
  });

  test("`nested` on the next line is not the modifier", () => {
    const text = "target skylake_server\n\nvmcs v\nnested {\n}\n";
    const analysis = analyze(text);
    assert.ok(
      analysis.diagnostics.some((d) => d.severity === "error"),
      "an error, not a silent modifier",
    );
    assert.equal(analysis.program.vmcs.get("v")?.nested, undefined);
  });
});
