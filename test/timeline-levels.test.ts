/**
 * Timeline levels of a nested run (issue #13): the format (Timeline.level, present only for an
 * L2 guest), the Chrome-trace export (level in args, children named by level and part) and the
 * panel's per-column level and tooltip wording.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { analyze, simulate, timelineToTrace, VcpuState } from "../core/src/index";
import { levelPart } from "../webview/src/timelineCanvas";
import { aggregateLane, buildIndex, createColumnBuffer, NO_LEVEL } from "../webview/src/timelineIndex";

const text = readFileSync(new URL("../examples/nested-kvm-on-kvm-noshadow.vmcs", import.meta.url), "utf8");

function run(guest: string) {
  const a = analyze(text);
  return simulate(a.program, guest, { durationSec: 0.002, seed: 1 });
}

describe("timeline levels", () => {
  it("a nested run has one level per interval; guest time is L2, L1's handler and halt poll L1, the rest L0", () => {
    const tl = run("l2").timeline;
    assert.ok(tl.level, "levels present");
    assert.ok(tl.level.length >= tl.count);
    const seen = new Set<number>();
    for (let i = 0; i < tl.count; i++) {
      const level: number = tl.level[i]!;
      assert.ok(level <= 2, `interval ${i} has a level (${level})`);
      seen.add(level);
      if (tl.state[i] === VcpuState.Guest) assert.equal(level, 2);
      // L1 runs its handlers, and polls in its own kvm_vcpu_halt for an idle L2 (sim/l1Poll.ts).
      if (level === 1) assert.ok(tl.state[i] === VcpuState.Handler || tl.state[i] === VcpuState.Polling);
      if (tl.state[i] === VcpuState.Exit) assert.equal(level, 0);
    }
    assert.deepEqual([...seen].sort(), [0, 1, 2]);
    // Without shadowing L1's VMREADs trap: L0 emulation segments carry their instruction.
    const labels = new Set<string>();
    for (let i = 0; i < tl.count; i++) {
      const p = levelPart(tl, i);
      if (p) labels.add(p);
    }
    assert.ok(labels.has("L1 handler"));
    assert.ok(labels.has("L2 guest"));
    assert.ok(
      [...labels].some((l) => /^L0 emulating VMREAD VM_EXIT_REASON/.test(l)),
      [...labels].join(", "),
    );
    assert.ok(labels.has("L0 transition"));
  });

  it("a single-level guest's timeline has no levels", () => {
    const tl = singleLevel().timeline;
    assert.equal(tl.level, undefined);
    assert.equal(levelPart(tl, 0), undefined);
  });

  it("Chrome-trace export: the level in args, chain children named by level, the VMRESUME inside the exit", () => {
    const tl = run("l2").timeline;
    const trace = JSON.parse(timelineToTrace(tl, { guest: "l2" })) as {
      traceEvents: {
        ph: string;
        name: string;
        cat?: string;
        ts: number;
        dur?: number;
        tid?: number;
        args?: Record<string, unknown>;
      }[];
    };
    const exits = trace.traceEvents.filter((e) => e.ph === "X" && e.cat === "vmexit");
    const cpuid = exits.find((e) => e.name === "CPUID" && e.args?.reason === 10);
    assert.ok(cpuid, "a CPUID exit slice");
    assert.equal(cpuid.args?.level, "L0");
    const children = exits.filter(
      (e) =>
        e.tid === cpuid.tid &&
        e !== cpuid &&
        e.ts >= cpuid.ts &&
        e.ts + (e.dur ?? 0) <= cpuid.ts + (cpuid.dur ?? 0) + 1e-3,
    );
    const names = children.map((c) => c.name);
    assert.ok(names.includes("L1 handler"), names.join(", "));
    assert.ok(names.includes("L0 transition"), "the VMRESUME round trip is inside the exit slice");
    assert.ok(
      names.some((n) => n.startsWith("L0 emulating VMREAD")),
      names.join(", "),
    );
    for (const c of children)
      assert.ok(c.args?.level === "L0" || c.args?.level === "L1", `${c.name}: ${String(c.args?.level)}`);
  });

  it("the panel's columns take the level with the most time; none for a single-level run", () => {
    const tl = run("l2").timeline;
    const index = buildIndex(tl);
    const lane = index.lanes[0]!;
    // A window around the first CPUID chain on vCPU 0, drawn interval by interval.
    let i = 0;
    while (i < tl.count && !(tl.vcpu[i] === 0 && tl.state[i] === VcpuState.Exit && tl.reason[i] === 10)) i++;
    assert.ok(i < tl.count);
    const start = tl.start[i]! - 2000;
    const end = tl.start[i]! + 12000;
    const cols = createColumnBuffer(200);
    assert.equal(aggregateLane(index, lane, start, end, cols), "intervals");
    const levels = new Set(cols.level);
    assert.ok(levels.has(0) && levels.has(1) && levels.has(2), [...levels].join(","));
    const single = buildIndex(singleLevel().timeline);
    const c2 = createColumnBuffer(50);
    aggregateLane(single, single.lanes[0]!, 0, 1e5, c2);
    assert.ok(c2.level.every((l) => l === NO_LEVEL));
  });
});

/** The same machine's L1 run as a guest of its own (a single level). */
function singleLevel() {
  const a = analyze(
    readFileSync(new URL("../examples/nested-cpuid-reflected.vmcs", import.meta.url), "utf8"),
  );
  return simulate(a.program, "l1_self", { durationSec: 0.002, seed: 1 });
}
