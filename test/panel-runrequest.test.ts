/**
 * What the timeline panel's worker runs for a request (webview/src/runRequest.ts), in Node: a
 * guest on another vmcs block (Compare Configurations) is the same simulation as the text with
 * the guest's `on X` rewritten by hand; budgets do not block a run but other errors do, with
 * their location; duration and seed come from the request, then the `simulate` line, then the
 * settings. Also the order of the Compare Configurations choices (client/src/compareChoices.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compareChoices } from "../client/src/compareChoices";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { RunError, runRequest } from "../webview/src/runRequest";
import { REPO_ROOT } from "./support/artifacts";

const FILE = "posted-interrupts.vmcs";
const TEXT = readFileSync(join(REPO_ROOT, "examples", FILE), "utf8");
const SHORT = 0.01;

function rate(stats: { byReason: { reason: string; exitsPerSecond: number }[] }, reason: string): number {
  return stats.byReason.find((r) => r.reason === reason)?.exitsPerSecond ?? 0;
}

describe("panel run requests", () => {
  it("runs a guest on another vmcs block exactly as the text with its `on` rewritten", async () => {
    const onLegacy = await runRequest({
      text: TEXT,
      fileName: FILE,
      guest: "with_pi",
      vmcs: "legacy",
      durationSec: SHORT,
    });
    assert.equal(onLegacy.title, `${FILE} — with_pi on legacy`);
    const rewritten = TEXT.replace("guest with_pi on apicv", "guest with_pi on legacy");
    assert.notEqual(rewritten, TEXT);
    const analysis = analyze(rewritten);
    const expected = simulate(analysis.program, "with_pi", { durationSec: SHORT, seed: 3 });
    assert.equal(onLegacy.stats.exits, expected.exits);
    assert.deepEqual(
      onLegacy.stats.byReason.map((r) => [r.reason, r.exits]),
      expected.byReason.map((r) => [r.reason, r.exits]),
    );
    // Without posted interrupts every device interrupt exits; the estimate is the new pairing's.
    assert.ok(rate(onLegacy.stats, "EXTERNAL_INTERRUPT") > 50_000, JSON.stringify(onLegacy.stats.byReason));
    assert.equal(onLegacy.estimate?.exitsPerSecond, analysis.estimates.get("with_pi")?.exitsPerSecond);
    // The pairing violates the file's budget `exits EXTERNAL_INTERRUPT < 1k/s` (TL401), which is
    // what the comparison shows, not a reason to refuse it.
    assert.ok(analysis.diagnostics.some((d) => d.code === "TL401"));

    const own = await runRequest({
      text: TEXT,
      fileName: FILE,
      guest: "with_pi",
      vmcs: "apicv",
      durationSec: SHORT,
    });
    assert.equal(own.title, `${FILE} — with_pi on apicv`);
    assert.ok(rate(own.stats, "EXTERNAL_INTERRUPT") < 1_000, JSON.stringify(own.stats.byReason));
  });

  it("keeps line numbers of the timeline's sources after the rewrite", async () => {
    const run = await runRequest({
      text: TEXT,
      fileName: FILE,
      guest: "with_pi",
      vmcs: "legacy",
      durationSec: SHORT,
    });
    const lines = TEXT.split("\n");
    const eoi = run.timeline.sources.find((s) => s.label.includes("eoi"));
    assert.ok(eoi, JSON.stringify(run.timeline.sources.map((s) => s.label)));
    assert.match(lines[eoi.line]!, /\beoi\b/);
  });

  it("refuses an unknown vmcs block and errors in the file, with their location", async () => {
    await assert.rejects(
      runRequest({ text: TEXT, fileName: FILE, guest: "with_pi", vmcs: "nope" }),
      (error: Error) =>
        error instanceof RunError && /no vmcs block named nope \(blocks: legacy, apicv\)/.test(error.message),
    );
    const broken = TEXT.replace("use_msr_bitmaps", "use_msr_bitmap");
    await assert.rejects(
      runRequest({ text: broken, fileName: FILE, guest: "with_pi", vmcs: "legacy" }),
      (error: Error) =>
        error instanceof RunError && /^posted-interrupts\.vmcs:14:\d+: TL\d+: /.test(error.message),
    );
  });

  it("takes duration and seed from the request, then the simulate line, then the settings", async () => {
    // with_pi has `simulate with_pi for 100ms seed 3`; the settings' defaults do not override it.
    const fromLine = await runRequest({
      text: TEXT.replace("for 100ms", "for 5ms"),
      fileName: FILE,
      guest: "with_pi",
      defaultDurationSec: 1,
      defaultSeed: 9,
    });
    assert.equal(fromLine.stats.duration, 0.005);
    assert.equal(fromLine.stats.seed, 3);
    // without_pi has no simulate line: the settings apply.
    const fromSettings = await runRequest({
      text: TEXT,
      fileName: FILE,
      guest: "without_pi",
      defaultDurationSec: 0.004,
      defaultSeed: 9,
    });
    assert.equal(fromSettings.stats.duration, 0.004);
    assert.equal(fromSettings.stats.seed, 9);
    const fromRequest = await runRequest({
      text: TEXT,
      fileName: FILE,
      guest: "without_pi",
      durationSec: 0.002,
      seed: 4,
      defaultDurationSec: 0.004,
      defaultSeed: 9,
    });
    assert.equal(fromRequest.stats.duration, 0.002);
    assert.equal(fromRequest.stats.seed, 4);
  });
});

describe("Compare Configurations choices", () => {
  it("offers the guest's own block against each other first, then other pairs, saved ↔ current, the report", () => {
    const choices = compareChoices("g", "b", ["a", "b", "c"], true);
    assert.deepEqual(
      choices.map((c) => c.label),
      [
        "b ↔ a",
        "b ↔ c",
        "a ↔ c",
        "$(history) Last saved version ↔ current text",
        "$(graph) Static estimate: every vmcs block, other CPUs…",
      ],
    );
    assert.deepEqual(choices[0]!.a, { guest: "g", vmcs: "b" });
    assert.deepEqual(choices[0]!.b, { guest: "g", vmcs: "a" });
    assert.deepEqual(choices[3]!.a, { guest: "g", savedVersion: true });
    assert.deepEqual(choices[3]!.b, { guest: "g" });
    assert.equal(choices[4]!.staticReport, true);
    assert.match(
      String(compareChoices("g", "b", ["a", "b"], false).at(-2)!.description),
      /no unsaved changes/,
    );
  });

  it("lists every pair when the guest's own block is not known yet", () => {
    assert.deepEqual(
      compareChoices("g", undefined, ["a", "b"], false)
        .filter((c) => c.a?.vmcs)
        .map((c) => c.label),
      ["a ↔ b"],
    );
  });
});
