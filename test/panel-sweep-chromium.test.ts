/**
 * The sweep panel page (webview/src/sweepPage.ts) in headless Chromium under the same strict
 * Content-Security-Policy as the VS Code panel: fed examples/kvm-default.vmcs and a sweep over
 * two CPUs, it draws one line per CPU with a point per value, its table shows the core's
 * figures, the metric buttons switch the plotted figure, a bad sweep is one message, and
 * nothing violates the CSP. A screenshot goes to test-artifacts/webview/sweep.png.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";
import * as esbuild from "esbuild";
import { analyze, parseSweepSpec, parseTargets, sweepEstimates } from "../core/src/index";
import { formatPercent, formatRate } from "../core/src/util/format";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { chromiumPath, type LaunchedBrowser, launchChromium } from "./support/chromium";
import { missingTool } from "./support/skip";

const TEXT = readFileSync(join(REPO_ROOT, "examples/kvm-default.vmcs"), "utf8");
const SWEEP = "path.send.rate=5k/s..80k/s:5:log";
const TARGETS = "haswell,icelake_server";
const CSP = "default-src 'none'; style-src 'self'; script-src 'self'";
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

describe("sweep panel in Chromium", () => {
  const executable = chromiumPath();
  let dir = "";
  let server: Server | undefined;
  let browser: LaunchedBrowser | undefined;

  before(async () => {
    if (!executable) return;
    dir = mkdtempSync(join(tmpdir(), "trapline-sweep-"));
    await esbuild.build({
      absWorkingDir: REPO_ROOT,
      entryPoints: { sweep: "webview/src/sweepPage.ts", "sweep-css": "webview/src/sweep.css" },
      bundle: true,
      format: "iife",
      platform: "browser",
      target: ["chrome110"],
      outdir: dir,
      logLevel: "error",
    });
    const page = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="stylesheet" href="sweep-css.css"><title>Trapline sweep</title></head>
<body><main id="trapline-sweep"></main><script src="sweep.js"></script></body></html>`;
    server = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://localhost").pathname;
      if (path === "/") {
        response.writeHead(200, { "content-type": TYPES[".html"]! }).end(page);
        return;
      }
      const file = normalize(join(dir, path));
      try {
        if (!file.startsWith(dir)) throw new Error("outside");
        response
          .writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" })
          .end(readFileSync(file));
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    browser = await launchChromium({ executablePath: executable, viewport: { width: 1000, height: 900 } });
    await browser.page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await browser.page.waitForFunction(() => window.traplineSweep !== undefined);
  });

  after(async () => {
    await browser?.close();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("draws one line per CPU, the core's figures in the table, and switches the figure", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = browser!.page;
    await p.evaluate(
      ([text, sweep, targets]) =>
        window.traplineSweep!.receive({
          type: "sweep",
          request: { text, fileName: "kvm-default.vmcs", sweep, targets },
        }),
      [TEXT, SWEEP, TARGETS],
    );
    await p.waitForSelector("svg.sweep-plot");
    const posted = await p.evaluate(() => window.traplineSweep!.posted);
    assert.deepEqual(
      posted.map((m) => m.type),
      ["ready", "done"],
    );
    assert.equal(await p.locator("svg.sweep-plot path.line").count(), 2);
    assert.equal(await p.locator("svg.sweep-plot g.series").nth(0).getAttribute("data-target"), "haswell");
    assert.equal(await p.locator("svg.sweep-plot circle.point").count(), 10);

    const analysis = analyze(TEXT);
    const guest = [...analysis.program.guests.keys()][0]!;
    const rows = sweepEstimates(
      analysis.program,
      TEXT,
      guest,
      parseSweepSpec(analysis.program, guest, SWEEP),
      parseTargets(TARGETS),
    );
    const cells = await p
      .locator("table.sweep tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );
    assert.equal(cells.length, rows.length);
    for (const [i, row] of rows.entries()) {
      assert.equal(cells[i]![0], row.label);
      assert.equal(cells[i]![1], row.target);
      assert.equal(cells[i]![2], formatRate(row.estimate!.exitsPerSecond));
      assert.equal(cells[i]![5], formatPercent(row.estimate!.overhead));
    }
    // The line really is drawn in a colour (the stylesheet loaded under the CSP).
    const stroke = await p
      .locator("svg.sweep-plot path.line")
      .first()
      .evaluate((el) => getComputedStyle(el).stroke);
    assert.notEqual(stroke, "none");
    await p.screenshot({ path: artifactPath("webview", "sweep.png") });

    assert.match((await p.locator("svg .axis-label.y").textContent()) ?? "", /overhead/);
    await p.locator('button[data-metric="exitsPerSecond"]').click();
    assert.match((await p.locator("svg .axis-label.y").textContent()) ?? "", /exits\/s/);
    assert.equal(
      await p.locator('button[data-metric="exitsPerSecond"]').getAttribute("aria-pressed"),
      "true",
    );
    assert.deepEqual(
      browser!.consoleLog.filter((line) => /Content Security Policy|pageerror|\[error\]/.test(line)),
      [],
    );
  });

  it("a bad sweep is one message on the page and to the host", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = browser!.page;
    await p.evaluate(
      (text) =>
        window.traplineSweep!.receive({
          type: "sweep",
          request: { text, fileName: "kvm-default.vmcs", sweep: "path.sned.rate=1..2" },
        }),
      TEXT,
    );
    assert.match((await p.locator(".status.error").textContent()) ?? "", /did you mean 'path\.send\.rate'/);
    const last = await p.evaluate(() => window.traplineSweep!.posted.at(-1));
    assert.equal(last?.type, "failed");
  });
});
