/**
 * The sweep panel's plot model (webview/src/sweepPlot.ts) and page logic (sweepPage.ts
 * runSweepRequest) in Node: data → scales, ticks and points; one line per target; invalid points
 * break the line; the SVG escapes what the file names; the page's rows are the core's.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { analyze, parseSweepSpec, parseTargets, sweepEstimates } from "../core/src/index";
import { runSweepRequest } from "../webview/src/sweepPage";
import { logTicks, niceTicks, type PlotInput, plotModel, plotSvg } from "../webview/src/sweepPlot";
import { REPO_ROOT } from "./support/artifacts";

const fig = (overhead: number, exits = 1000) => ({
  exitsPerSecond: exits,
  cyclesPerExit: 2000,
  microsecondsPerExit: 1,
  hostCpu: 0.1,
  overhead,
  demand: 0.2,
});

const INPUT: PlotInput = {
  parameter: "path.send.rate",
  kind: "rate",
  log: false,
  rows: [
    { target: "haswell", point: 10_000, label: "10k/s", status: "ok", figures: fig(0.1) },
    { target: "haswell", point: 20_000, label: "20k/s", status: "ok", figures: fig(0.2) },
    { target: "haswell", point: 30_000, label: "30k/s", status: "violated", figures: fig(0.4) },
    { target: "icelake_server", point: 10_000, label: "10k/s", status: "ok", figures: fig(0.05) },
    { target: "icelake_server", point: 20_000, label: "20k/s", status: "error" },
    { target: "icelake_server", point: 30_000, label: "30k/s", status: "ok", figures: fig(0.15) },
  ],
};
const SIZE = { width: 600, height: 300 };

describe("plot model", () => {
  test("x is linear over the points, y from 0 to a 1-2-5 maximum above the largest value", () => {
    const m = plotModel(INPUT, "overhead", SIZE);
    const [a, b, c] = m.series[0]!.points;
    assert.equal(a!.x, m.area.left);
    assert.equal(c!.x, m.area.right);
    assert.equal(b!.x, (m.area.left + m.area.right) / 2);
    // 0.4 maximum → ticks 0, 0.1, …, 0.4: the largest point touches the top.
    assert.deepEqual(
      m.yTicks.map((t) => t.label),
      ["0%", "10%", "20%", "30%", "40%"],
    );
    assert.equal(c!.y, m.area.top);
    assert.equal(m.yTicks[0]!.y, m.area.bottom);
    assert.ok(Math.abs(a!.y - (m.area.bottom - (m.area.bottom - m.area.top) / 4)) < 1e-9);
    assert.equal(c!.status, "violated");
    assert.deepEqual(
      m.xTicks.map((t) => t.label),
      ["10k/s", "15k/s", "20k/s", "25k/s", "30k/s"],
    );
  });

  test("one line per target; an invalid point is marked on the axis and breaks its line", () => {
    const m = plotModel(INPUT, "overhead", SIZE);
    assert.deepEqual(
      m.series.map((s) => s.name),
      ["haswell", "icelake_server"],
    );
    assert.equal(m.series[0]!.path.match(/[ML]/g)!.join(""), "MLL");
    assert.equal(m.series[1]!.points.length, 2);
    assert.equal(m.series[1]!.path.match(/[ML]/g)!.join(""), "MM");
    assert.deepEqual(m.invalid, [
      { x: (m.area.left + m.area.right) / 2, label: "20k/s", target: "icelake_server" },
    ]);
  });

  test("the metric chooses the figure", () => {
    const input: PlotInput = {
      ...INPUT,
      rows: INPUT.rows.map((r, i) => (r.figures ? { ...r, figures: fig(0.1, 1000 * (i + 1)) } : r)),
    };
    const m = plotModel(input, "exitsPerSecond", SIZE);
    assert.equal(m.yLabel, "exits/s");
    assert.equal(m.yTicks.at(-1)!.label, "6k/s");
  });

  test("log steps: a log x axis with ticks at powers of ten", () => {
    const input: PlotInput = {
      parameter: "cost.round_trip",
      kind: "cost",
      log: true,
      rows: [100, 1000, 10000].map((p) => ({
        target: "t",
        point: p,
        label: String(p),
        status: "none" as const,
        figures: fig(p / 1e5),
      })),
    };
    const m = plotModel(input, "overhead", SIZE);
    assert.equal(m.logX, true);
    const xs = m.series[0]!.points.map((p) => p.x);
    assert.equal(xs[1]! - xs[0]!, xs[2]! - xs[1]!, "equal steps on a log axis");
    assert.deepEqual(
      m.xTicks.map((t) => t.label),
      ["100", "1k", "10k"],
    );
  });

  test("on/off and CPUs are categories; a sweep of the targets is one line across them", () => {
    const control = plotModel(
      {
        parameter: "control.hlt_exiting",
        kind: "control",
        log: false,
        rows: [
          { target: "a", point: false, label: "off", status: "none", figures: fig(0.1) },
          { target: "a", point: true, label: "on", status: "none", figures: fig(0.2) },
        ],
      },
      "overhead",
      SIZE,
    );
    assert.equal(control.categorical, true);
    assert.deepEqual(
      control.xTicks.map((t) => [t.label, t.x]),
      [
        ["off", control.area.left],
        ["on", control.area.right],
      ],
    );
    const targets = plotModel(
      {
        parameter: "target",
        kind: "target",
        log: false,
        rows: ["haswell", "skylake_server", "icelake_server"].map((t) => ({
          target: t,
          point: t,
          label: t,
          status: "none" as const,
          figures: fig(0.1),
        })),
      },
      "overhead",
      SIZE,
    );
    assert.equal(targets.series.length, 1);
    assert.equal(targets.series[0]!.points.length, 3);
    assert.equal(targets.xLabel, "target CPU");
  });

  test("ticks: 1-2-5 steps covering the range; log ticks fall back to the ends", () => {
    assert.deepEqual(niceTicks(0, 0.37, 5), [0, 0.1, 0.2, 0.3, 0.4]);
    assert.deepEqual(niceTicks(0, 1234, 5), [0, 500, 1000, 1500]);
    assert.deepEqual(logTicks(10, 1000), [10, 100, 1000]);
    assert.deepEqual(logTicks(20, 80), [20, 80]);
  });

  test("the SVG has a line per target and escapes the names it shows", () => {
    const input: PlotInput = {
      ...INPUT,
      rows: INPUT.rows.map((r) => ({ ...r, target: `${r.target}<x>` })),
    };
    const svg = plotSvg(plotModel(input, "overhead", SIZE));
    assert.equal(svg.match(/<path class="line"/g)?.length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 5);
    assert.doesNotMatch(svg, /<x>/);
    assert.match(svg, /haswell&#60;x&#62;/);
    assert.match(svg, /budget violated/);
  });
});

describe("sweep page", () => {
  const text = readFileSync(join(REPO_ROOT, "examples/kvm-default.vmcs"), "utf8");

  test("its rows are the core's sweep of the same request", () => {
    const result = runSweepRequest({
      text,
      fileName: "kvm-default.vmcs",
      sweep: "irq.nic.rate=5k/s..40k/s:4",
      targets: "haswell,icelake_server",
    });
    assert.ok(!("failed" in result), JSON.stringify(result));
    const analysis = analyze(text);
    const guest = [...analysis.program.guests.keys()][0]!;
    const spec = parseSweepSpec(analysis.program, guest, "irq.nic.rate=5k/s..40k/s:4");
    const expected = sweepEstimates(
      analysis.program,
      text,
      guest,
      spec,
      parseTargets("haswell,icelake_server"),
    );
    assert.equal(result.input.rows.length, 8);
    for (const [i, row] of result.input.rows.entries()) {
      assert.equal(row.target, expected[i]!.target);
      assert.equal(row.figures?.overhead, expected[i]!.estimate?.overhead);
      assert.equal(row.figures?.exitsPerSecond, expected[i]!.estimate?.exitsPerSecond);
    }
  });

  test("a bad request is one message, not a throw", () => {
    const bad = runSweepRequest({ text, fileName: "kvm-default.vmcs", sweep: "irq.nik.rate=1..2" });
    assert.ok("failed" in bad);
    assert.match(bad.failed, /did you mean 'irq\.nic\.rate'/);
    const broken = runSweepRequest({ text: "vmcs {", fileName: "x.vmcs", sweep: "vcpus=1,2" });
    assert.ok("failed" in broken);
    assert.match(broken.failed, /x\.vmcs has (an error|\d+ errors) \(line 1: /);
  });
});
