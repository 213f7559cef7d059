/**
 * The analysis memo (core/src/analysis/memo.ts) is owned by the analysis: carried by its
 * program, unseen by JSON and spreads, a copied program gets its own, and the decision store
 * the language server keeps per document is reused from one version to the next.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { generateVmcs } from "../bench/generate";
import { memoOf } from "../core/src/analysis/memo";
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
      "hypervisors",
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

  it("solves the host terms once for guests alike, apart for guests that differ", () => {
    // 20 units alike but for their names: one halt-poll chain per fixed-point pass, not per guest.
    const alike = analyze(generateVmcs(20 * 41));
    const guests = [...alike.estimates.values()];
    assert.equal(guests.length, 20);
    const solved = memoOf(alike.program).haltPoll.size;
    assert.ok(solved > 0 && solved <= 4, `${solved} halt-poll chains solved for 20 guests alike`);
    const first = JSON.stringify(guests[0]!.host);
    for (const g of guests) assert.equal(JSON.stringify(g.host), first);
    // A guest with another timer rate has other arrivals: its own chain, its own figures.
    const differ = analyze(generateVmcs(2 * 41).replace("timer periodic 250Hz", "timer periodic 1000Hz"));
    const [a, b] = [...differ.estimates.values()];
    assert.ok(memoOf(differ.program).haltPoll.size > 1);
    assert.ok(a?.host && b?.host);
    assert.notEqual(a.host.haltPollSuccess, b.host.haltPollSuccess);
    assert.deepEqual(b.host, analyze(generateVmcs(2 * 41)).estimates.get(b.guest)!.host);
  });
});

describe("no memo table at module level", () => {
  // A module-level Map or WeakMap in the engine is a memo that outlives its analysis (the
  // parallel work of one session added six after they had been moved out: this keeps them out).
  // Read-only tables built once from data are listed with their reason.
  const READ_ONLY: Record<string, string> = {
    "analysis/exitLeaf.ts UNSET_MAP": "the placeholder map of an unset context memo, never read",
    "analysis/rules/nested.ts KVM_BY_RULE": "rule numbering by id, built once from a data table",
  };
  const MODULE_MAP = /^(?:export )?(?:const|let) (\w+)\b[^=]*= new (?:Weak)?Map\b/;
  const root = new URL("../core/src/", import.meta.url);
  const files = ["analysis", "sim", "model", "trace"].flatMap((dir) =>
    readdirSync(new URL(dir, root), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `${dir}/${f}`),
  );

  it("core/src/{analysis,sim,model,trace} declare no Map or WeakMap outside a function", () => {
    const found: string[] = [];
    for (const file of files) {
      const lines = readFileSync(new URL(file, root), "utf8").split("\n");
      for (const line of lines) {
        const m = MODULE_MAP.exec(line);
        if (m && READ_ONLY[`${file} ${m[1]}`] === undefined) found.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(found, []);
  });

  it("the pattern finds a module-level memo (the check can fail)", () => {
    assert.equal(MODULE_MAP.exec("const cache = new WeakMap<Program, Map<string, number>>();")?.[1], "cache");
    assert.equal(MODULE_MAP.exec("  const local = new Map();"), null);
  });
});
