/**
 * docs/diagnostics.md's generated tables are those of the rule registry now (run
 * `npm run docs:diagnostics` after changing a rule), and the registry and the rule numbering
 * agree: every numbered rule is checked by a unit or says why not, every unit cites numbered rules.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { RULE_NUMBERING } from "../core/src/analysis/rules/numbering";
import { ENTRY_RULES } from "../core/src/analysis/rules/registry";
import { DOC_PATH, renderDiagnosticsDoc } from "../scripts/diagnostics-doc";

describe("docs/diagnostics.md from the rule registry", () => {
  test("the committed file is what `npm run docs:diagnostics` writes", () => {
    const committed = readFileSync(DOC_PATH, "utf8");
    assert.equal(
      renderDiagnosticsDoc(committed),
      committed,
      "docs/diagnostics.md is stale: run npm run docs:diagnostics",
    );
  });

  test("a stale table is detected", () => {
    const committed = readFileSync(DOC_PATH, "utf8");
    const stale = committed.replace("| VMX-E22 |", "| VMX-E22 (old) |");
    assert.notEqual(stale, committed);
    assert.notEqual(renderDiagnosticsDoc(stale), stale);
  });

  test("the numbering is E1–E28, X1–X7, N1–N10, H1–H7, G1–G15, each once", () => {
    const expected = [
      ...Array.from({ length: 28 }, (_, i) => `E${i + 1}`),
      ...Array.from({ length: 7 }, (_, i) => `X${i + 1}`),
      ...Array.from({ length: 10 }, (_, i) => `N${i + 1}`),
      ...Array.from({ length: 7 }, (_, i) => `H${i + 1}`),
      ...Array.from({ length: 15 }, (_, i) => `G${i + 1}`),
    ];
    assert.deepEqual(
      RULE_NUMBERING.map((row) => row.id),
      expected,
    );
  });

  test("every numbered rule is checked by a unit, or says why not (and then none checks it)", () => {
    for (const row of RULE_NUMBERING) {
      const units = ENTRY_RULES.filter((rule) => rule.rules.includes(row.id));
      if (row.notChecked) assert.equal(units.length, 0, `${row.id} says it is not checked`);
      else assert.ok(units.length > 0, `${row.id}: no unit of the registry checks it`);
    }
  });

  test("every unit has a unique id, cites numbered rules, reports VMX-/TL3 codes and a source", () => {
    const ids = new Set(RULE_NUMBERING.map((row) => row.id));
    const seen = new Set<string>();
    for (const rule of ENTRY_RULES) {
      assert.ok(!seen.has(rule.id), `duplicate unit id ${rule.id}`);
      seen.add(rule.id);
      for (const id of rule.rules) assert.ok(ids.has(id), `${rule.id} cites ${id}, which is not numbered`);
      assert.ok(rule.codes.length > 0);
      for (const code of rule.codes) assert.match(code, /^(VMX-(CAP[01]|[EXNHG]\d+)|TL30[12])$/);
      assert.match(rule.reference, /SDM|Linux|Bochs/, `${rule.id} cites its source`);
      assert.ok(rule.title.length > 20, `${rule.id} says what it checks`);
    }
  });
});
