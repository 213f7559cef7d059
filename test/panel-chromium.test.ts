/**
 * The timeline panel page in headless Chromium (Debian's chromium via playwright-core), fed a
 * real simulation: the page runs examples/kvm-default.vmcs in its simulation worker exactly as
 * in VS Code and the playground, under the panel's strict Content-Security-Policy. Checks that
 * lanes render (screenshots in test-artifacts/webview/), the statistics table shows the
 * simulator's numbers, zoom changes the visible range, hovering an exit shows its reason,
 * clicking posts a reveal message, keyboard navigation works, and Compare shows differences.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import type { PanelToHost } from "../protocol/panel";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { panelInChromium } from "./support/panelBrowser";
import { missingTool } from "./support/skip";

const EXAMPLE = "examples/kvm-default.vmcs";
const TEXT = readFileSync(join(REPO_ROOT, EXAMPLE), "utf8");

/** A simulation run in the panel's worker and drawn: generous, for a loaded 2-core machine. */
const RUN_DRAWN_MS = 180_000;

describe("timeline panel in Chromium", () => {
  const panel = panelInChromium();
  const { executable, posted } = panel;

  it("runs a real simulation in the worker and draws every vCPU lane", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    await p.evaluate(
      ([text, fileName]) => window.traplinePanel!.receive({ type: "simulate", request: { text, fileName } }),
      [TEXT, "kvm-default.vmcs"],
    );
    await p.waitForSelector(".panel[data-exits]", { timeout: RUN_DRAWN_MS }).catch(async (error: Error) => {
      const status = await p.locator(".status").textContent();
      throw new Error(`${error.message}\nstatus: ${status}\n${panel.browser!.consoleLog.join("\n")}`);
    });
    const messages = await posted();
    assert.deepEqual(
      messages.map((m) => m.type),
      ["ready", "status", "status"],
      JSON.stringify(messages),
    );
    assert.equal((messages[2] as { status: string }).status, "done");

    // The same file simulated in Node with the same defaults gives the same statistics.
    const analysis = analyze(TEXT);
    const line = analysis.program.simulates[0]!;
    const expected = simulate(analysis.program, line.guest, {
      durationSec: line.durationSec,
      seed: line.seed,
    });
    const drawnExits = Number(await p.locator(".panel").getAttribute("data-exits"));
    assert.ok(drawnExits > 0);
    const rows = await p.locator("table.stats tbody tr").allTextContents();
    assert.equal(rows.length, expected.byReason.length, rows.join("\n"));
    for (const reason of expected.byReason) {
      const row = rows.find((r) => r.startsWith(`${reason.reason} (${reason.code})`));
      assert.ok(row, `row for ${reason.reason}`);
      assert.ok(row.includes(reason.exits.toLocaleString("en-US")), `${row} shows ${reason.exits} exits`);
    }

    // Every lane drawn, with more than one state colour in it.
    const lanes = await p.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>("canvas.timeline")!;
      const ctx = canvas.getContext("2d")!;
      const ratio = window.devicePixelRatio || 1;
      const result: number[] = [];
      for (const top of [28, 62]) {
        const y = Math.round((top + 9) * ratio);
        const data = ctx.getImageData(
          Math.round(80 * ratio),
          y,
          canvas.width - Math.round(80 * ratio),
          1,
        ).data;
        const colours = new Set<string>();
        for (let i = 0; i < data.length; i += 4) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
        result.push(colours.size);
      }
      return result;
    });
    assert.equal(lanes.length, expected.vcpus);
    for (const colours of lanes) assert.ok(colours >= 2, `lane shows several states (${colours} colours)`);
    await p.screenshot({ path: artifactPath("webview", "panel-whole-run.png"), fullPage: true });
    assert.deepEqual(
      panel.browser!.consoleLog.filter((l) => l.startsWith("[error]") || l.startsWith("[pageerror]")),
      [],
      "no console errors (CSP violations would show here)",
    );
  });

  it("exports the statistics as CSV and the trace as Chrome JSON", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    const before = (await posted()).length;
    await p.getByRole("button", { name: "Export CSV…" }).click();
    await p.getByRole("button", { name: "Export trace…" }).click();
    const exports = (await posted()).slice(before).filter((m) => m.type === "export");
    assert.equal(exports.length, 2);
    const [csv, trace] = exports as Extract<PanelToHost, { type: "export" }>[];
    assert.equal(csv!.format, "csv");
    assert.match(csv!.fileName, /\.csv$/);
    const lines = csv!.content.trim().split("\r\n");
    assert.ok(lines[0]!.startsWith("reason,code,exits,exits_per_second"));
    const statsRows = await p.locator("table.stats tbody tr").count();
    assert.equal(lines.length, 1 + statsRows + 1, "header, one line per reason, total");
    assert.equal(trace!.format, "chrome-json");
    const parsed = JSON.parse(trace!.content) as { traceEvents: { ph: string; name: string }[] };
    assert.ok(parsed.traceEvents.some((e) => e.ph === "X" && e.name === "EPT_MISCONFIG"));
  });

  it("zooms with the wheel and the keyboard", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    const span = () => p.evaluate(() => window.traplineTimelineApp!.getView());
    const whole = await span();
    const box = (await p.locator("canvas.timeline").boundingBox())!;
    await p.mouse.move(box.x + box.width / 2, box.y + 40);
    await p.mouse.wheel(0, -400);
    await p.waitForFunction((w) => {
      const v = window.traplineTimelineApp!.getView();
      return v.endNs - v.startNs < w;
    }, whole.endNs - whole.startNs);
    const zoomed = await span();
    assert.ok(zoomed.endNs - zoomed.startNs < (whole.endNs - whole.startNs) / 2, JSON.stringify(zoomed));
    await p.locator("canvas.timeline").focus();
    await p.keyboard.press("-");
    const out = await span();
    assert.ok(out.endNs - out.startNs > zoomed.endNs - zoomed.startNs);
    await p.keyboard.press("Home");
    const reset = await span();
    assert.equal(reset.endNs - reset.startNs, whole.endNs - whole.startNs);
  });

  it("shows an exit's reason on hover and posts a reveal message on click", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    const spot = await p.evaluate(() => {
      const app = window.traplineTimelineApp!;
      return app.locateExit(0, app.longestExit(0));
    });
    assert.ok(spot, "lane 0 has an exit");
    await p.mouse.move(spot.clientX, spot.clientY);
    const tooltip = p.locator(".tooltip");
    await tooltip.waitFor({ state: "visible" });
    const text = await tooltip.textContent();
    assert.ok(text?.includes(spot.reason), `tooltip "${text}" names ${spot.reason}`);
    assert.match(text!, /ns = [\d,]+ cycles/);
    assert.match(text!, /line \d+/);
    await p.screenshot({ path: artifactPath("webview", "panel-exit-tooltip.png") });
    const before = (await posted()).length;
    await p.mouse.click(spot.clientX, spot.clientY);
    const messages = await posted();
    const reveal = messages.slice(before).find((m) => m.type === "reveal");
    assert.ok(reveal && reveal.type === "reveal", JSON.stringify(messages.slice(before)));
    const lineText = TEXT.split("\n")[reveal.target.line] ?? "";
    assert.ok(lineText.length > 0, "reveal points at a line of the file");
    if (reveal.target.start !== undefined && reveal.target.end !== undefined) {
      assert.ok(reveal.target.end > reveal.target.start);
    }
  });

  it("steps through exits with the keyboard and selects a range", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    await p.locator("canvas.timeline").focus();
    await p.keyboard.press("Home");
    await p.keyboard.press("n");
    const live = await p.locator("[aria-live]").textContent();
    assert.match(live ?? "", /exit reason \d+/);
    const box = (await p.locator("canvas.timeline").boundingBox())!;
    await p.mouse.move(box.x + 200, box.y + 40);
    await p.mouse.down();
    await p.mouse.move(box.x + 500, box.y + 60, { steps: 5 });
    await p.mouse.up();
    const heading = await p.locator(".selection h3").textContent();
    assert.match(heading ?? "", /^Selection .* exits$/);
    await p.keyboard.press("z");
    const view = await p.evaluate(() => window.traplineTimelineApp!.getView());
    const whole = await p.evaluate(() => {
      const app = window.traplineTimelineApp!;
      app.setView(0, Number.MAX_SAFE_INTEGER);
      return app.getView();
    });
    assert.ok(view.endNs - view.startNs < (whole.endNs - whole.startNs) * 0.5, "zoomed to the selection");
  });

  it("compares two configurations", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    // B: the same file with the packet path sent at a rate of 1k/s, far below A's, so
    // EPT_MISCONFIG (the doorbell) drops while the reasons stay the same.
    const sendRate = /path send rate [^ ]+/;
    assert.match(TEXT, sendRate);
    const textB = TEXT.replace(sendRate, "path send rate 1k/s");
    await p.evaluate(
      ([text, textB]) =>
        window.traplinePanel!.receive({
          type: "compareSimulate",
          a: { text, fileName: "A.vmcs", seed: 1 },
          b: { text: textB, fileName: "B.vmcs", seed: 1 },
        }),
      [TEXT, textB],
    );
    await p.waitForFunction(() =>
      document.querySelector("table.stats caption")?.textContent?.startsWith("Differences"),
    );
    const rows = await p.locator("table.stats tbody tr").allTextContents();
    assert.ok(rows[0]!.startsWith("all exits"));
    assert.ok(
      rows.some((r) => r.startsWith("EPT_MISCONFIG") && /-\d/.test(r)),
      rows.join("\n"),
    );
    await p.screenshot({ path: artifactPath("webview", "panel-compare.png"), fullPage: true });
  });
});
