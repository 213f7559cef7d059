/**
 * Traces in the browser playground (docs/playground.md "Open trace…"), end to end in headless
 * Chromium on the production build: a trace pasted into the Open trace… dialog, and a trace file
 * dropped on the page, open in the timeline panel's frame with a lane per vCPU and the measured
 * per-reason rows (the panel's worker imports them, as in the extension); and the opened trace
 * stands in for the file's `measured "…"` statement in the language server's worker (TL409).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Frame, Page } from "playwright-core";
import { importTrace } from "../core/src/index";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { playgroundInChromium } from "./support/playgroundBrowser";
import { missingTool } from "./support/skip";

const PASTED = readFileSync(join(REPO_ROOT, "test/fixtures/traces/trace-cmd-generated-pairing.txt"), "utf8");
const DROPPED_NAME = "ftrace-generated-flags.txt";
const DROPPED = readFileSync(join(REPO_ROOT, "test/fixtures/traces", DROPPED_NAME), "utf8");
const OPEN_TIMEOUT_MS = 90_000;
/** A real perf kvm stat report and a file whose guest names a trace (test/trace-provided.test.ts has the same). */
const MEASURED_REPORT = readFileSync(
  join(REPO_ROOT, "test/fixtures/traces/perf-kvm-stat-report-compute-go.txt"),
  "utf8",
);
const MEASURED_VMCS = readFileSync(
  join(REPO_ROOT, "test/fixtures/measured/tsc-deadline.vmcs"),
  "utf8",
).replace("  idle halt\n", '  idle halt\n  measured "run1.txt" tolerance 25%\n');

describe("traces in the browser playground", { timeout: 300_000 }, () => {
  const playground = playgroundInChromium();

  async function playgroundPage(): Promise<{ page: Page; frame: Frame }> {
    const page = await playground.page();
    await page.waitForSelector("#open-trace", { timeout: OPEN_TIMEOUT_MS });
    const frame = page.frame({ url: /timeline\/index\.html$/ });
    assert.ok(frame, "the timeline iframe");
    return { page, frame };
  }

  async function waitForPanelTitle(page: Page, frame: Frame, title: string): Promise<void> {
    await frame
      .waitForFunction((t) => document.querySelector(".header h2")?.textContent === t, title, {
        timeout: OPEN_TIMEOUT_MS,
      })
      .catch(async (error: Error) => {
        const status = await frame.locator(".status").textContent();
        throw new Error(
          `${error.message}\npanel status: ${status}\npage: ${await page.textContent("#run-status")}`,
        );
      });
  }

  it("a trace pasted into the Open trace… dialog opens in the panel", async (t) => {
    if (!playground.browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const { page, frame } = await playgroundPage();
    await page.click("#open-trace");
    await page.locator("#trace-dialog").waitFor({ state: "visible" });
    await page.fill("#trace-text", PASTED);
    await page.click("#trace-open");
    await waitForPanelTitle(page, frame, "pasted-trace.txt (measured)");
    await page.waitForSelector('#run-status[data-status="done"]', { timeout: OPEN_TIMEOUT_MS });
    assert.match((await page.textContent("#run-status")) ?? "", /Trace opened: 5 exits/);
    const expected = importTrace(PASTED);
    assert.equal(await frame.locator(".panel").getAttribute("data-lanes"), String(expected.vcpus.length));
    const reasons = await frame
      .locator("table.stats tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-reason")));
    assert.deepEqual(
      reasons,
      expected.exits.rows.map((r) => r.key),
    );
    await page.screenshot({ path: artifactPath("playground", "playground-trace.png") });
  });

  it("a trace file dropped on the page opens in the panel", async (t) => {
    if (!playground.browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const { page, frame } = await playgroundPage();
    await page.evaluate(
      ([text, fileName]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], fileName, { type: "text/plain" }));
        const target = document.querySelector(".editor-pane")!;
        target.dispatchEvent(
          new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
        target.dispatchEvent(
          new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
      },
      [DROPPED, DROPPED_NAME],
    );
    await waitForPanelTitle(page, frame, `${DROPPED_NAME} (measured)`);
    const reasons = await frame
      .locator("table.stats tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-reason")));
    assert.deepEqual(
      reasons,
      importTrace(DROPPED).exits.rows.map((r) => r.key),
    );
  });

  it("a pasted trace stands in for the file's `measured` statement: TL409 on the handler", async (t) => {
    if (!playground.browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const { page } = await playgroundPage();
    await page.waitForFunction(() => window.traplinePlayground !== undefined, undefined, {
      timeout: OPEN_TIMEOUT_MS,
    });
    // The page's one model (markers of every owner: `{}`).
    await page.evaluate((text) => window.traplinePlayground!.model.setValue(text), MEASURED_VMCS);
    const markerCodes = () =>
      page.evaluate(() => {
        const pg = window.traplinePlayground!;
        return pg.monaco.editor
          .getModelMarkers({})
          .map((m) => `${typeof m.code === "object" ? m.code.value : m.code} ${m.message}`);
      });
    const waitForCode = (code: string) =>
      page
        .waitForFunction(
          (c) => {
            const pg = window.traplinePlayground!;
            return pg.monaco.editor
              .getModelMarkers({})
              .some((m) => (typeof m.code === "object" ? m.code.value : m.code) === c);
          },
          code,
          { timeout: OPEN_TIMEOUT_MS },
        )
        .catch(async (error: Error) => {
          throw new Error(`${error.message}
markers: ${JSON.stringify(await markerCodes())}`);
        });
    // (The page is the suite's: the traces opened by the tests before already stand in for
    // `measured`, so TL410 before any trace is test/trace-provided.test.ts's to check.)
    await page.click("#open-trace");
    await page.locator("#trace-dialog").waitFor({ state: "visible" });
    await page.fill("#trace-text", MEASURED_REPORT);
    await page.click("#trace-open");
    await waitForCode("TL409");
    const codes = await markerCodes();
    assert.ok(
      codes.some((m) => /^TL409 MSR_WRITE: measured 0\.78 µs per exit, the model 2 µs/.test(m)),
      JSON.stringify(codes),
    );
    assert.ok(!codes.some((m) => m.startsWith("TL410")), JSON.stringify(codes));
  });
});
