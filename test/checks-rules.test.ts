/**
 * Every unit of the VM-entry rule registry (core/src/analysis/rules/registry.ts) with its failing
 * and passing cases (test/rules/*): the unit run alone on the vmcs reports the code on the marked
 * range and nothing on the corrected file, and the whole analysis agrees. A unit without a case
 * fails the last test.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type EntryRule, runEntryRules, VmcsView } from "../core/src/analysis/rules/context";
import { l1ModeOf, targetFor } from "../core/src/analysis/rules/nested";
import { ENTRY_RULES } from "../core/src/analysis/rules/registry";
import { analyze, type Diagnostic } from "../core/src/index";
import { ACTIVATION_CASES, CAPABILITY_CASES, PAIR_CASES } from "./rules/controls";
import { ENTRY_EVENT_CASES, FIELD_CASES } from "./rules/fields";
import { NESTED_CASES } from "./rules/nested";
import { GUEST_STATE_CASES, HOST_STATE_CASES } from "./rules/state";
import { marked, type RuleCase } from "./rules/support";

const CASES: readonly RuleCase[] = [
  ...ACTIVATION_CASES,
  ...CAPABILITY_CASES,
  ...PAIR_CASES,
  ...FIELD_CASES,
  ...ENTRY_EVENT_CASES,
  ...HOST_STATE_CASES,
  ...GUEST_STATE_CASES,
  ...NESTED_CASES,
];

function unitById(id: string): EntryRule {
  const unit = ENTRY_RULES.find((rule) => rule.id === id);
  assert.ok(unit, `no registry unit with id ${id}`);
  return unit;
}

/** The analysis of `text`, asserting the front end accepted it; and the unit's own diagnostics. */
function run(unit: EntryRule, text: string): { unitOut: Diagnostic[]; all: Diagnostic[] } {
  const analysis = analyze(text);
  const frontEnd = analysis.diagnostics.filter(
    (d) => d.code === "TL999" || (d.severity === "error" && /^TL[0-2]/.test(d.code)),
  );
  assert.deepEqual(
    frontEnd.map((d) => `${d.code} ${d.message}`),
    [],
    `front-end errors in:\n${text}`,
  );
  const program = analysis.program;
  const vmcs = program.vmcs.get("v");
  assert.ok(vmcs, "the case has a vmcs v");
  // Through the runner, so its gate (`when`) is exercised too; and the unit's check alone agrees.
  // A vmcs12 runs against L1's capability MSRs and knows L1's mode, as checkProgram sets them.
  const target = targetFor(vmcs, program.target);
  const view = () => {
    const v = new VmcsView(vmcs, target, text, new Map(), ENTRY_RULES);
    if (vmcs.nested) v.l1Mode = l1ModeOf(program);
    return v;
  };
  const unitOut: Diagnostic[] = [];
  runEntryRules([unit], view(), unitOut);
  const direct: Diagnostic[] = [];
  unit.check(view(), direct);
  assert.deepEqual(
    direct.map((d) => `${d.code} ${d.message}`),
    unitOut.map((d) => `${d.code} ${d.message}`),
    `${unit.id}: the runner's gate skipped a report`,
  );
  return { unitOut, all: analysis.diagnostics };
}

const show = (ds: readonly Diagnostic[], text: string) =>
  ds.map((d) => `${d.code} «${text.slice(d.span.start, d.span.end)}» ${d.message}`).join("\n");

describe("VM-entry rule units: failing and passing case of each", () => {
  for (const c of CASES) {
    test(`${c.rule}: ${c.code}`, () => {
      const unit = unitById(c.rule);
      assert.ok(unit.codes.includes(c.code), `${c.rule} does not report ${c.code}`);

      const failing = marked(c.failing);
      const { unitOut, all } = run(unit, failing.text);
      const at = (d: Diagnostic) =>
        d.code === c.code && d.span.start === failing.start && d.span.end === failing.end;
      assert.ok(
        unitOut.some(at),
        `${c.rule} reports ${c.code} on «${failing.text.slice(failing.start, failing.end)}» in:\n${failing.text}\nit reported:\n${show(unitOut, failing.text)}`,
      );
      for (const d of unitOut) {
        assert.ok(unit.codes.includes(d.code), `${c.rule} reported ${d.code}, not among its codes`);
        assert.ok(d.reference && d.reference.length > 10, "cites its source");
      }
      assert.ok(all.some(at), `the analysis reports it too:\n${show(all, failing.text)}`);

      const passing = run(unit, c.passing);
      assert.deepEqual(show(passing.unitOut, c.passing), "", `${c.rule} holds in:\n${c.passing}`);
      assert.deepEqual(
        show(
          passing.all.filter((d) => d.code === c.code),
          c.passing,
        ),
        "",
        `no ${c.code} in the corrected file:\n${c.passing}`,
      );
    });
  }

  test("every unit of the registry has a case", () => {
    const covered = new Set(CASES.map((c) => c.rule));
    assert.deepEqual(
      ENTRY_RULES.map((rule) => rule.id).filter((id) => !covered.has(id)),
      [],
    );
  });
});
