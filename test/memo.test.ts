/**
 * The analysis memo (core/src/analysis/memo.ts) is owned by the analysis: carried by its
 * program, unseen by JSON and spreads, a copied program gets its own, and the decision store
 * the language server keeps per document is reused from one version to the next.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  analyze,
  DecisionStore,
  estimateGuest,
  handlerCost,
  otherCpuTarget,
  PROFILES,
} from "../core/src/index";
import { EXIT } from "../core/src/vmx/exitReasons";

const text = readFileSync(new URL("../examples/kvm-default.vmcs", import.meta.url), "utf8");

describe("analysis memo", () => {
  it("is not an enumerable part of the program", () => {
    const { program } = analyze(text);
    handlerCost(program, EXIT.CPUID);
    assert.deepEqual(Object.keys(program).sort(), [
      "expects",
      "fns",
      "guests",
      "handlers",
      "simulates",
      "target",
      "vmcs",
    ]);
  });

  it("gives a program copied onto another CPU costs of its own", () => {
    const { program } = analyze(text);
    const before = handlerCost(program, EXIT.CPUID).total;
    const other = PROFILES.find((p) => p.costs.round_trip.cycles !== program.target.costs.round_trip.cycles);
    assert.ok(other, "a profile with another round trip");
    const copy = { ...program, target: otherCpuTarget(other) };
    const copied = handlerCost(copy, EXIT.CPUID).total;
    assert.notEqual(copied, before);
    assert.equal(handlerCost(program, EXIT.CPUID).total, before);
    const guest = [...program.guests.keys()][0]!;
    assert.ok(estimateGuest(copy, guest).exitsPerSecond > 0);
  });

  it("reuses a decision store from one version to the next with the same results", () => {
    const decisions = new DecisionStore();
    const first = analyze(text, { decisions });
    const held = decisions.size;
    assert.ok(held > 0, "the first analysis filled the store");
    const edited = `${text}\n// an edit\n`;
    const second = analyze(edited, { decisions });
    assert.equal(decisions.size, held, "the second analysis found every signature in the store");
    const alone = analyze(edited);
    assert.deepEqual(JSON.stringify([...second.estimates]), JSON.stringify([...alone.estimates]));
    assert.deepEqual(second.diagnostics, alone.diagnostics);
    assert.ok(first.estimates.size > 0);
  });
});
