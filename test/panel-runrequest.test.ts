/**
 * What the timeline panel's worker runs for a request (webview/src/runRequest.ts), in Node: a
 * guest on another vmcs block (Compare Configurations) is the same simulation as the text with
 * the guest's `on X` rewritten by hand; budgets do not block a run but other errors do, with
 * their location; duration and seed come from the request, then the `simulate` line, then the
 * settings. A run on another CPU (`target`) is the program the file lowers to with the target
 * replaced by that CPU's profile, the same program whose estimate the language server's
 * `trapline/compare` row shows. Also the order of the Compare Configurations choices and the
 * CPUs its "another CPU" choice offers (client/src/compareChoices.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compareChoices, otherCpuChoices } from "../client/src/compareChoices";
import { analyze, type Program } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { PROFILES, profileByName } from "../core/src/vmx/profiles";
import { compareConfigurations } from "../server/src/features/reports";
import { DocumentModel } from "../server/src/model";
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

describe("panel run requests on another CPU", () => {
  // `target broadwell @ 2.2GHz`; `pml` uses enable_pml, which Haswell lacks (Broadwell and later).
  const PML_FILE = "pml-vs-write-protect.vmcs";
  const PML_TEXT = readFileSync(join(REPO_ROOT, "examples", PML_FILE), "utf8");
  const ENABLE_PML_LINE = PML_TEXT.split("\n").findIndex((l) => /^\s*proc2 .*\benable_pml\b/.test(l)) + 1;

  /** The estimate the server's Compare Configurations row shows for (vmcs, profile). */
  function compareRow(text: string, guest: string, vmcs: string, profile: string, defaultTarget?: string) {
    const model = new DocumentModel(analyze(text, defaultTarget ? { defaultTarget } : {}));
    const row = compareConfigurations(model, guest, [profile]).rows.find(
      (r) => r.vmcs === vmcs && r.profile === profile,
    );
    assert.ok(row, `no compare row ${vmcs}@${profile}`);
    return row;
  }

  /** The file's program with its target replaced by `name`'s profile at its default clock, by hand. */
  function onProfile(program: Program, name: string): Program {
    const profile = profileByName(name)!;
    return {
      ...program,
      target: { profile, hz: profile.defaultHz, msrs: profile.msrs, costs: profile.costs },
    };
  }

  function perExit(
    stats: { byReason: { reason: string; exits: number; transitionCycles: number }[] },
    reason: string,
  ) {
    const r = stats.byReason.find((x) => x.reason === reason);
    assert.ok(r && r.exits > 0, `no ${reason} exits: ${JSON.stringify(stats.byReason)}`);
    return r.transitionCycles / r.exits;
  }

  it("simulates the program with that CPU's profile, as the compare row estimates it", async () => {
    const asWritten = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      durationSec: SHORT,
    });
    assert.deepEqual(asWritten.stats.target, { profile: "broadwell", hz: 2.2e9 });
    const onHaswell = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      target: "haswell",
      durationSec: SHORT,
    });
    assert.equal(onHaswell.title, `${PML_FILE} — migrating_wp (haswell)`);
    // Haswell's profile at its default clock: the file's `@ 2.2GHz` describes the Broadwell.
    assert.deepEqual(onHaswell.stats.target, { profile: "haswell", hz: profileByName("haswell")!.defaultHz });
    assert.notEqual(onHaswell.stats.target.hz, 2.2e9);
    assert.equal(onHaswell.estimate?.target.profile, "haswell");

    // The same simulation as the file's program with the target replaced by hand.
    const expected = simulate(onProfile(analyze(PML_TEXT).program, "haswell"), "migrating_wp", {
      durationSec: SHORT,
      seed: asWritten.stats.seed,
    });
    assert.equal(onHaswell.stats.exits, expected.exits);
    assert.deepEqual(
      onHaswell.stats.byReason.map((r) => [r.reason, r.exits, r.cycles]),
      expected.byReason.map((r) => [r.reason, r.exits, r.cycles]),
    );
    // The CPU matters: a VM exit and entry cost Haswell other cycles than Broadwell.
    assert.notEqual(perExit(onHaswell.stats, "EPT_VIOLATION"), perExit(asWritten.stats, "EPT_VIOLATION"));

    // The estimate beside the run is the one the Compare Configurations row shows.
    const row = compareRow(PML_TEXT, "migrating_wp", "write_protect", "haswell");
    assert.equal(onHaswell.estimate?.exitsPerSecond, row.exitsPerSecond);
    assert.equal(onHaswell.estimate?.hostCpu, row.hostCpu);
    assert.notEqual(row.hostCpu, asWritten.estimate?.hostCpu);
  });

  it("runs another vmcs block on another CPU, in agreement with every compare row", async () => {
    const run = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      vmcs: "pml",
      target: "sapphire_rapids",
      durationSec: SHORT,
    });
    assert.equal(run.title, `${PML_FILE} — migrating_wp on pml (sapphire_rapids)`);
    assert.equal(run.stats.target.profile, "sapphire_rapids");
    assert.ok(
      run.stats.byReason.some((r) => r.reason === "PML_FULL"),
      JSON.stringify(run.stats.byReason),
    );
    assert.ok(
      !run.stats.byReason.some((r) => r.reason === "EPT_VIOLATION"),
      JSON.stringify(run.stats.byReason),
    );

    // Every row of every guest of every example that runs has the estimate of its row.
    const examples = ["posted-interrupts.vmcs", PML_FILE, "e1000-vs-virtio.vmcs"];
    let compared = 0;
    for (const file of examples) {
      const text = readFileSync(join(REPO_ROOT, "examples", file), "utf8");
      const model = new DocumentModel(analyze(text));
      for (const guest of model.analysis.program.guests.keys()) {
        const rows = compareConfigurations(
          model,
          guest,
          PROFILES.map((p) => p.name),
        ).rows;
        for (const row of rows) {
          let estimate: number | undefined;
          try {
            const r = await runRequest({
              text,
              fileName: file,
              guest,
              vmcs: row.vmcs,
              target: row.profile,
              durationSec: 0.001,
            });
            assert.equal(r.estimate?.target.profile, row.profile);
            estimate = r.estimate?.exitsPerSecond;
          } catch (error) {
            // A configuration the CPU cannot enter is refused (the row does not say so).
            assert.ok(error instanceof RunError && /VMX-CAP1/.test(error.message), String(error));
            continue;
          }
          assert.equal(estimate, row.exitsPerSecond, `${file} ${guest} ${row.vmcs}@${row.profile}`);
          compared++;
        }
      }
    }
    assert.ok(compared > 40, `only ${compared} rows compared`);
  });

  it("refuses a vmcs block the CPU cannot enter, but not for another block's sake", async () => {
    // The file retargeted to Haswell has a VMX-CAP1 error in the pml block …
    const retargeted = analyze(PML_TEXT.replace("target broadwell", "target haswell"));
    assert.ok(
      retargeted.diagnostics.some(
        (d) =>
          d.code === "VMX-CAP1" && retargeted.lines.positionAt(d.span.start).line + 1 === ENABLE_PML_LINE,
      ),
    );
    // … which stops the guest on pml, with its location and the CPU,
    await assert.rejects(
      runRequest({ text: PML_TEXT, fileName: PML_FILE, guest: "migrating_pml", target: "haswell" }),
      (error: Error) =>
        error instanceof RunError &&
        error.message.startsWith(`${PML_FILE} (target haswell):${ENABLE_PML_LINE}:`) &&
        /VMX-CAP1: enable_pml \(proc2\) cannot be 1 on target haswell/.test(error.message),
    );
    await assert.rejects(
      runRequest({
        text: PML_TEXT,
        fileName: PML_FILE,
        guest: "migrating_wp",
        vmcs: "pml",
        target: "haswell",
      }),
      (error: Error) =>
        error instanceof RunError &&
        error.message.startsWith(
          `${PML_FILE} (guest migrating_wp on pml, target haswell):${ENABLE_PML_LINE}:`,
        ),
    );
    // … and not the guest on write_protect (the first test runs it on Haswell).
    const wp = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      target: "haswell",
      durationSec: SHORT,
    });
    assert.ok(wp.stats.exits > 0);
  });

  it("runs the file as written on its own CPU", async () => {
    const asWritten = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      durationSec: SHORT,
    });
    const own = await runRequest({
      text: PML_TEXT,
      fileName: PML_FILE,
      guest: "migrating_wp",
      target: "broadwell",
      durationSec: SHORT,
    });
    assert.equal(own.title, `${PML_FILE} — migrating_wp (broadwell)`);
    // The file's clock and its figures, unchanged.
    assert.deepEqual(own.stats.target, { profile: "broadwell", hz: 2.2e9 });
    assert.equal(own.stats.exits, asWritten.stats.exits);
    assert.equal(own.estimate?.exitsPerSecond, asWritten.estimate?.exitsPerSecond);
  });

  it("retargets a file without a target line from its default CPU", async () => {
    const text = PML_TEXT.replace("target broadwell @ 2.2GHz", "// no target line");
    assert.notEqual(text, PML_TEXT);
    for (const defaultTarget of [undefined, "icelake_server"]) {
      const asWritten = await runRequest({
        text,
        fileName: PML_FILE,
        guest: "migrating_wp",
        durationSec: SHORT,
        ...(defaultTarget ? { defaultTarget } : {}),
      });
      assert.equal(asWritten.stats.target.profile, defaultTarget ?? "skylake_server");
      const run = await runRequest({
        text,
        fileName: PML_FILE,
        guest: "migrating_wp",
        target: "westmere",
        durationSec: SHORT,
        ...(defaultTarget ? { defaultTarget } : {}),
      });
      assert.equal(run.title, `${PML_FILE} — migrating_wp (westmere)`);
      assert.deepEqual(run.stats.target, { profile: "westmere", hz: profileByName("westmere")!.defaultHz });
      assert.notEqual(perExit(run.stats, "EPT_VIOLATION"), perExit(asWritten.stats, "EPT_VIOLATION"));
      const row = compareRow(text, "migrating_wp", "write_protect", "westmere", defaultTarget);
      assert.equal(run.estimate?.exitsPerSecond, row.exitsPerSecond);
    }
  });

  it("names the profiles when the CPU is unknown", async () => {
    await assert.rejects(
      runRequest({ text: PML_TEXT, fileName: PML_FILE, guest: "migrating_wp", target: "pentium" }),
      (error: Error) =>
        error instanceof RunError &&
        error.message ===
          `${PML_FILE}: there is no CPU profile named pentium (profiles: ${PROFILES.map((p) => p.name).join(", ")})` &&
        error.message.includes("sapphire_rapids"),
    );
  });
});

describe("Compare Configurations choices", () => {
  it("offers the guest's own block against each other first, then other pairs, another CPU, saved ↔ current, the report", () => {
    const choices = compareChoices("g", "b", ["a", "b", "c"], true, "haswell");
    assert.deepEqual(
      choices.map((c) => c.label),
      [
        "b ↔ a",
        "b ↔ c",
        "a ↔ c",
        "$(chip) haswell ↔ another CPU…",
        "$(history) Last saved version ↔ current text",
        "$(graph) Static estimate: every vmcs block, other CPUs…",
      ],
    );
    assert.deepEqual(choices[0]!.a, { guest: "g", vmcs: "b" });
    assert.deepEqual(choices[0]!.b, { guest: "g", vmcs: "a" });
    // The CPU is asked next (otherCpuChoices): this choice runs nothing itself.
    assert.equal(choices[3]!.otherCpu, true);
    assert.equal(choices[3]!.a, undefined);
    assert.equal(choices[3]!.b, undefined);
    assert.equal(
      choices[3]!.description,
      "g on its own b, as written (A) and on a CPU you pick next (B), simulated",
    );
    assert.deepEqual(choices[4]!.a, { guest: "g", savedVersion: true });
    assert.deepEqual(choices[4]!.b, { guest: "g" });
    assert.equal(choices[5]!.staticReport, true);
    assert.equal(choices.filter((c) => c.otherCpu).length, 1);
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
    const cpu = compareChoices("g", undefined, ["a", "b"], false).find((c) => c.otherCpu);
    assert.equal(cpu?.label, "$(chip) This CPU ↔ another CPU…");
    assert.equal(cpu?.description, "g, as written (A) and on a CPU you pick next (B), simulated");
  });

  // As the language server's trapline/fileInfo lists them.
  const profiles = PROFILES.map((p) => ({ name: p.name, displayName: p.displayName, year: p.year }));

  it("offers every CPU but the file's, oldest first: A as written, B on its own block on that CPU", () => {
    const choices = otherCpuChoices("with_pi", profiles, "icelake_server");
    assert.deepEqual(
      choices.map((c) => c.b?.target),
      PROFILES.map((p) => p.name).filter((name) => name !== "icelake_server"),
    );
    for (const choice of choices) {
      const profile = profileByName(choice.b!.target!)!;
      assert.equal(choice.label, profile.displayName);
      assert.deepEqual(choice.a, { guest: "with_pi" });
      assert.deepEqual(choice.b, { guest: "with_pi", target: profile.name });
    }
    const described = Object.fromEntries(choices.map((c) => [c.b!.target!, c.description]));
    assert.equal(described.haswell, "haswell · 2014 · 4 generations older than icelake_server");
    assert.equal(described.cascade_lake, "cascade_lake · 2019 · 1 generation older than icelake_server");
    assert.equal(
      described.sapphire_rapids,
      "sapphire_rapids · 2023 · 1 generation newer than icelake_server",
    );
    // Without the file's CPU (not analysed yet), every profile, with its name and year only.
    const all = otherCpuChoices("g", profiles, undefined);
    assert.equal(all.length, PROFILES.length);
    assert.equal(all[0]!.description, `${PROFILES[0]!.name} · ${PROFILES[0]!.year}`);
  });

  it("runs a CPU choice's B as the request field target, refused where the CPU lacks the block's controls", async () => {
    const choices = otherCpuChoices("with_pi", profiles, "icelake_server");
    const on = (name: string) => choices.find((c) => c.b?.target === name)!;
    // Haswell has APICv (since Ivy Bridge): the run names its CPU; A is the file as written.
    const a = await runRequest({ text: TEXT, fileName: FILE, ...on("haswell").a, durationSec: SHORT });
    const b = await runRequest({ text: TEXT, fileName: FILE, ...on("haswell").b, durationSec: SHORT });
    assert.equal(a.title, `${FILE} — with_pi`);
    assert.equal(a.stats.target.profile, "icelake_server");
    assert.equal(b.title, `${FILE} — with_pi (haswell)`);
    assert.equal(b.stats.target.profile, "haswell");
    // Westmere has no posted interrupts: apicv cannot be entered there.
    await assert.rejects(
      runRequest({ text: TEXT, fileName: FILE, ...on("westmere").b, durationSec: SHORT }),
      (error: Error) => error instanceof RunError && /VMX-CAP1/.test(error.message),
    );
  });
});
