/**
 * Traces in the timeline panel page in headless Chromium (docs/timeline.md "Traces"): the page's
 * worker imports a trace file's bytes with the core's TraceImporter and draws one lane per vCPU
 * with the measured per-reason statistics; a dropped file opens the same way; a simulation and a
 * trace share one compare view with the same reason colours. Same page, CSP and worker as in
 * VS Code and the playground (test/support/panelPage.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { importTrace } from "../core/src/index";
import { formatSeconds } from "../core/src/util/format";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { panelInChromium } from "./support/panelBrowser";
import { missingTool } from "./support/skip";

const TRACE_NAME = "trace-cmd-generated-pairing.txt";
const TRACE = readFileSync(join(REPO_ROOT, "test/fixtures/traces", TRACE_NAME), "utf8");
const REAL_NAME = "ftrace-nested-repro.txt";
const REAL = readFileSync(join(REPO_ROOT, "test/fixtures/traces", REAL_NAME), "utf8");
const EXAMPLE = readFileSync(join(REPO_ROOT, "examples/kvm-default.vmcs"), "utf8");
const IMPORT_TIMEOUT_MS = 90_000;

describe("traces in the timeline panel (Chromium)", () => {
  const panel = panelInChromium();
  const { executable, posted } = panel;

  /** Waits until the panel shows a run whose header names `title`, with the status on failure. */
  async function waitForTitle(title: string): Promise<void> {
    const p = panel.browser!.page;
    await p
      .waitForFunction(
        (t) => document.querySelector(".header h2, .header h3")?.textContent?.includes(t),
        title,
        {
          timeout: IMPORT_TIMEOUT_MS,
        },
      )
      .catch(async (error: Error) => {
        const status = await p.locator(".status").textContent();
        throw new Error(`${error.message}\nstatus: ${status}\n${panel.browser!.consoleLog.join("\n")}`);
      });
  }

  it("imports a trace's bytes in the worker: a lane per vCPU and the measured rows", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    const before = (await posted()).length;
    await p.evaluate(
      ([text, fileName]) =>
        window.traplinePanel!.receive({
          type: "openTrace",
          trace: { fileName, bytes: new TextEncoder().encode(text) },
        }),
      [TRACE, TRACE_NAME],
    );
    await waitForTitle(`${TRACE_NAME} (measured)`);
    const statuses = (await posted()).slice(before).filter((m) => m.type === "status");
    assert.deepEqual(
      statuses.map((m) => (m as { status: string }).status),
      ["running", "done"],
    );
    const expected = importTrace(TRACE);
    assert.equal(await p.locator(".panel").getAttribute("data-lanes"), String(expected.vcpus.length));
    assert.equal(Number(await p.locator(".panel").getAttribute("data-exits")), expected.exits.totalCount);
    const rows = await p.locator("table.stats tbody tr").allTextContents();
    assert.equal(rows.length, expected.exits.rows.length, rows.join("\n"));
    for (const row of expected.exits.rows) {
      const shown = rows.find((r) => r.startsWith(row.key));
      assert.ok(shown, `row for ${row.key} in ${rows.join(" | ")}`);
      // The count, then mean, p50, p99 and max as measured.
      const cells = await p.locator(`table.stats tbody tr[data-reason="${row.key}"] td`).allTextContents();
      assert.deepEqual(
        cells.slice(0, 1).concat(cells.slice(2, 6)),
        [
          String(row.count),
          formatSeconds(row.meanNs / 1e9),
          formatSeconds(row.p50Ns! / 1e9),
          formatSeconds(row.p99Ns! / 1e9),
          formatSeconds(row.maxNs / 1e9),
        ],
        shown,
      );
    }
    const subtitle = await p.locator(".subtitle").textContent();
    assert.match(subtitle ?? "", /measured trace \(trace-cmd\) · 2 vCPUs/);
    assert.match(subtitle ?? "", /every exit drawn/);
    await p.screenshot({ path: artifactPath("webview", "panel-trace.png"), fullPage: true });
  });

  it("opens a trace file dropped on the panel", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    await p.evaluate(
      ([text, fileName]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], fileName, { type: "text/plain" }));
        const target = document.querySelector(".panel")!;
        target.dispatchEvent(
          new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
        target.dispatchEvent(
          new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
      },
      [REAL, REAL_NAME],
    );
    await waitForTitle(`${REAL_NAME} (measured)`);
    const rows = await p.locator("table.stats tbody tr").allTextContents();
    assert.equal(rows.length, 1, rows.join("\n"));
    assert.ok(rows[0]!.startsWith("EPT_VIOLATION"), rows[0]);
    assert.match((await p.locator(".subtitle").textContent()) ?? "", /measured trace \(ftrace\) · 1 vCPU/);
  });

  it("compares a simulation (A) with a trace (B) on aligned lanes with shared colours", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const p = panel.browser!.page;
    await p.evaluate(
      ([text, fileName, example]) =>
        window.traplinePanel!.receive({
          type: "openTrace",
          trace: { fileName, bytes: new TextEncoder().encode(text) },
          request: { text: example, fileName: "kvm-default.vmcs" },
        }),
      [TRACE, TRACE_NAME, EXAMPLE],
    );
    await waitForTitle("Simulation beside the trace");
    const headings = await p.locator(".compare-run h3").allTextContents();
    assert.equal(headings.length, 2);
    assert.match(headings[0]!, /^A: kvm-default\.vmcs/);
    assert.equal(headings[1], `B: ${TRACE_NAME} (measured)`);
    // Both share time 0; the differences table lists the trace's reasons beside the model's.
    const diff = await p.locator("table.stats tbody tr").allTextContents();
    assert.ok(
      diff.some((r) => r.startsWith("EPT_MISCONFIG (49)")),
      diff.join("\n"),
    );
    // One legend entry per reason: EPT_MISCONFIG of the model and of the trace share a colour.
    const legend = await p.locator(".legend-item").allTextContents();
    assert.equal(legend.filter((l) => l === "EPT_MISCONFIG").length, 1, legend.join(", "));
    const lanes = Number(await p.locator(".panel").getAttribute("data-lanes"));
    assert.ok(lanes >= 3, `A's lanes and B's two lanes (${lanes})`);
    await p.screenshot({ path: artifactPath("webview", "panel-trace-compare.png"), fullPage: true });
    assert.deepEqual(
      panel.browser!.consoleLog.filter((l) => l.startsWith("[error]") || l.startsWith("[pageerror]")),
      [],
      "no console errors (CSP violations would show here)",
    );
  });
});
