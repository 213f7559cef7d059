/**
 * The timeline panel in real VS Code (code-server + Chromium via playwright) with the packaged
 * .vsix: "Trapline: Run Simulation" from the command palette simulates examples/kvm-default.vmcs
 * in the panel's blob: worker under the panel's CSP and draws its lanes; "Trapline: Compare
 * Configurations" runs examples/posted-interrupts.vmcs under its two vmcs blocks and shows both
 * runs with the per-reason differences, then the guest as written against the guest on another
 * CPU picked from the second quick pick. Screenshots go to test-artifacts/vscode-timeline/.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { FrameLocator, Page } from "playwright-core";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { E2E_WAIT, openFileInWorkbench, runCommand } from "./support/codeServer";
import {
  openFromExplorer,
  visiblePanelFrame,
  waitForLanguageStatus,
  workbenchSuite,
} from "./support/workbenchSuite";

const ARTIFACTS = "vscode-timeline";
const KVM_TEXT = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");

/** Clicks the quick-pick row whose text matches `label`. */
async function pick(page: Page, label: RegExp): Promise<void> {
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: label }).first();
  await row.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
  await row.click();
}

/**
 * Pixels of the timeline canvas that have one of the lane state colours. Plain source text: tsx
 * would wrap named helpers of a function in a `__name` call the page does not have.
 */
const COUNT_STATE_PIXELS = new Function(
  "canvas",
  `
  const style = getComputedStyle(document.body);
  const probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const colours = new Map();
  for (const name of ["guest", "exit", "handler", "userspace", "halted", "polling", "descheduled"]) {
    probe.fillStyle = "#000";
    probe.fillStyle = style.getPropertyValue("--tl-state-" + name).trim();
    probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data;
    colours.set(d[0] + "," + d[1] + "," + d[2], name);
  }
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const byState = {};
  let total = 0;
  for (let i = 0; i < data.length; i += 4) {
    const name = colours.get(data[i] + "," + data[i + 1] + "," + data[i + 2]);
    if (name) {
      byState[name] = (byState[name] || 0) + 1;
      total++;
    }
  }
  return { total, byState };`,
) as (canvas: HTMLCanvasElement) => { total: number; byState: Record<string, number> };

async function statePixels(frame: FrameLocator): Promise<{ total: number; byState: Record<string, number> }> {
  return frame.locator("canvas.timeline").first().evaluate(COUNT_STATE_PIXELS);
}

/** Waits until the visible panel page has drawn a result; returns the number of exits drawn. */
async function waitForDrawing(frame: FrameLocator): Promise<number> {
  const drawn = frame.locator(".panel[data-exits]");
  await drawn.waitFor({ state: "attached", timeout: E2E_WAIT.drawing }).catch(async (error: Error) => {
    const status = await frame
      .locator(".status")
      .textContent({ timeout: E2E_WAIT.ui / 10 })
      .catch(() => "?");
    throw new Error(`${error.message}\npanel status: ${status}`);
  });
  return Number(await drawn.getAttribute("data-exits"));
}

/** Per test: several waits for a drawing, each bounded by E2E_WAIT. */
const TEST_TIMEOUT_MS = 10 * 60_000;

describe("VS Code: the timeline panel", { timeout: 8 * TEST_TIMEOUT_MS }, () => {
  const suite = workbenchSuite({
    artifacts: ARTIFACTS,
    folderPrefix: "trapline-timeline-",
    prepare(folder) {
      for (const name of ["kvm-default.vmcs", "posted-interrupts.vmcs"])
        copyFileSync(join(REPO_ROOT, "examples", name), join(folder, name));
      // No `simulate` line: the settings' default duration (a minute of simulated time) applies.
      writeFileSync(join(folder, "long.vmcs"), KVM_TEXT.replace(/^simulate .*$/m, ""));
      writeFileSync(join(folder, "broken.vmcs"), KVM_TEXT.replace("use_msr_bitmaps", "use_msr_bitmap"));
    },
    settings: { "trapline.simulation.defaultDurationMs": 60_000 },
  });

  it(
    "Run Simulation from the command palette draws the lanes of kvm-default.vmcs",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "run", async (page) => {
        await openFileInWorkbench(page, "kvm-default.vmcs");
        // The extension is active once the language status shows the file's numbers.
        await waitForLanguageStatus(page);

        const started = Date.now();
        await runCommand(page, "Trapline: Run Simulation", { fileName: "kvm-default.vmcs" });
        await page
          .locator(".tab", { hasText: "Trapline Timeline: kvm-default.vmcs" })
          .waitFor({ timeout: E2E_WAIT.ui });
        const frame = visiblePanelFrame(page);
        const exits = await waitForDrawing(frame);
        const simulateMs = Date.now() - started;
        assert.ok(exits > 100, `the panel drew ${exits} exits`);
        assert.match(String(await frame.locator(".status").textContent()), /exits drawn in \d+ ms/);
        const pixels = await statePixels(frame);
        // Both lanes are painted in the state colours (the guest is mostly halted at this zoom, its
        // EPT_MISCONFIG exits spend most of their time in user space).
        assert.ok(pixels.total > 5000, `state pixels: ${JSON.stringify(pixels)}`);
        assert.ok(Object.keys(pixels.byState).length >= 2, `state colours: ${JSON.stringify(pixels)}`);
        // The per-reason table with the simulator's numbers; the file's `simulate` line's seed.
        await frame.locator("table", { hasText: "EPT_MISCONFIG" }).first().waitFor({ timeout: E2E_WAIT.ui });
        assert.match(String(await frame.locator(".subtitle").textContent()), /2 vCPUs · seed 1/);
        await page.screenshot({ path: artifactPath(ARTIFACTS, "run-simulation.png") });
        t.diagnostic(
          `Run Simulation → lanes drawn in ${simulateMs} ms; ${exits} exits; ${JSON.stringify(pixels)}`,
        );

        // The ▶ button in the editor's title bar runs it again in the same panel.
        const panelRoot = frame.locator(".panel");
        await panelRoot.evaluate((root: HTMLElement) => delete root.dataset.exits);
        await page.locator('.editor-actions [aria-label*="Run Simulation"]').first().click();
        await waitForDrawing(frame);
        assert.equal(
          await page.locator(".tab", { hasText: "Trapline Timeline: kvm-default.vmcs" }).count(),
          1,
        );
        // The progress notification ends with the run, however short the run.
        await page
          .locator(".notification-toast", { hasText: "Trapline: simulating kvm-default.vmcs" })
          .waitFor({ state: "detached", timeout: E2E_WAIT.ui });

        // A click on the longest exit of vCPU 0 reveals its source in the editor: a line of the
        // EPT_MISCONFIG handler (its user-space doorbell or handler work) or the guest's MMIO write.
        const at = await frame.locator("canvas.timeline").evaluate((canvas: HTMLCanvasElement) => {
          const app = window.traplineTimelineApp!;
          const spot = app.locateExit(0, app.longestExit(0))!;
          const rect = canvas.getBoundingClientRect();
          return { x: spot.clientX - rect.left, y: spot.clientY - rect.top, reason: spot.reason };
        });
        assert.equal(at.reason, "EPT_MISCONFIG");
        await frame.locator("canvas.timeline").click({ position: { x: at.x, y: at.y } });
        // The status bar shows the selection once the editor has revealed it; it may first show
        // the cursor of an earlier step, so wait until it names a line of the exit's source.
        const selection = page.locator('[id="status.editor.selection"]');
        const exitSource = /handler EPT_MISCONFIG|doorbell: userspace|work 900|mmio write/;
        let revealed = 0;
        let lineText = "";
        const deadline = Date.now() + E2E_WAIT.ui;
        do {
          await selection.filter({ hasNotText: /Ln 1, Col 1$/ }).waitFor({ timeout: E2E_WAIT.ui });
          revealed = Number(/Ln (\d+)/.exec(String(await selection.textContent()))?.[1]);
          lineText = KVM_TEXT.split("\n")[revealed - 1] ?? "";
          if (exitSource.test(lineText)) break;
          await page
            .waitForFunction(
              (previous) =>
                !document.getElementById("status.editor.selection")?.textContent?.includes(previous),
              `Ln ${revealed},`,
              { timeout: Math.max(1, deadline - Date.now()) },
            )
            .catch(() => undefined);
        } while (Date.now() < deadline);
        assert.match(lineText, exitSource, `revealed line ${revealed}: ${lineText}`);
        await page.screenshot({ path: artifactPath(ARTIFACTS, "reveal.png") });

        // Saving the file re-runs the panel (trapline.simulation.rerunOnSave).
        await panelRoot.evaluate((root: HTMLElement) => delete root.dataset.exits);
        await page.locator(".monaco-editor .view-lines").first().click();
        await page.keyboard.press("Control+End");
        await page.keyboard.type("\n// saved\n");
        await page.keyboard.press("Control+S");
        await waitForDrawing(frame);
      }),
  );

  it(
    "Compare Configurations runs with_pi on apicv and on legacy side by side",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "compare", async (page) => {
        await openFromExplorer(page, "posted-interrupts.vmcs");
        await waitForLanguageStatus(page);
        const started = Date.now();
        await runCommand(page, "Trapline: Compare Configurations", { fileName: "posted-interrupts.vmcs" });
        await pick(page, /^with_pi/);
        await pick(page, /apicv ↔ legacy|legacy ↔ apicv/);
        await page
          .locator(".tab", { hasText: "Trapline Compare: posted-interrupts.vmcs" })
          .waitFor({ timeout: E2E_WAIT.ui });
        const frame = visiblePanelFrame(page);
        await waitForDrawing(frame);
        const compareMs = Date.now() - started;
        const runs = await frame.locator(".compare-run h3").allTextContents();
        assert.equal(runs.length, 2, JSON.stringify(runs));
        const onApicv = runs.findIndex((r) => /with_pi on apicv/.test(r));
        const onLegacy = runs.findIndex((r) => /with_pi on legacy/.test(r));
        assert.ok(onApicv >= 0 && onLegacy >= 0, JSON.stringify(runs));
        // The differences per exit reason: without posted interrupts every device interrupt is an
        // EXTERNAL_INTERRUPT exit and every EOI an MSR_WRITE exit (x2APIC EOI trapped).
        const table = frame.locator("table", { hasText: "Differences" }).first();
        await table.waitFor({ timeout: E2E_WAIT.ui });
        const rows = await table.locator("tr").allTextContents();
        const rateOf = async (reason: string): Promise<[string, string]> => {
          const cells = await table
            .locator("tr", { hasText: reason })
            .first()
            .locator("td, th")
            .allTextContents();
          return [cells[1 + onApicv]!, cells[1 + onLegacy]!];
        };
        const [externalApicv, externalLegacy] = await rateOf("EXTERNAL_INTERRUPT");
        const [, eoiLegacy] = await rateOf("MSR_WRITE");
        assert.ok(
          parseRate(externalLegacy) > 50_000,
          `legacy EXTERNAL_INTERRUPT ${externalLegacy}\n${rows.join("\n")}`,
        );
        assert.ok(
          parseRate(externalApicv) < 1_000,
          `apicv EXTERNAL_INTERRUPT ${externalApicv}\n${rows.join("\n")}`,
        );
        assert.ok(parseRate(eoiLegacy) > 50_000, `legacy MSR_WRITE ${eoiLegacy}\n${rows.join("\n")}`);
        // Both runs' lanes are drawn on one axis: 4 vCPUs each.
        assert.equal(await frame.locator(".panel").getAttribute("data-lanes"), "8");
        await page.screenshot({ path: artifactPath(ARTIFACTS, "compare.png") });
        await table.scrollIntoViewIfNeeded();
        await page.screenshot({ path: artifactPath(ARTIFACTS, "compare-differences.png") });
        t.diagnostic(`Compare Configurations → both runs drawn in ${compareMs} ms`);

        // On another CPU: with_pi as written (icelake_server) against with_pi on Haswell-EP, picked
        // from the second quick pick (every profile but the file's, by display name).
        await page
          .locator(".explorer-folders-view .monaco-list-row", { hasText: "posted-interrupts.vmcs" })
          .click();
        await runCommand(page, "Trapline: Compare Configurations", { fileName: "posted-interrupts.vmcs" });
        await pick(page, /^with_pi/);
        await pick(page, /icelake_server ↔ another CPU/);
        await pick(page, /Haswell-EP/);
        await page
          .locator(".tab", {
            hasText: "Trapline Compare: posted-interrupts.vmcs: with_pi ↔ with_pi (haswell)",
          })
          .waitFor({ timeout: E2E_WAIT.ui });
        const cpuFrame = visiblePanelFrame(page);
        await waitForDrawing(cpuFrame);
        const cpuRuns = await cpuFrame.locator(".compare-run h3").allTextContents();
        assert.ok(
          cpuRuns.some((r) => /with_pi \(haswell\)/.test(r)) &&
            cpuRuns.some((r) => /with_pi$/.test(r.trim())),
          JSON.stringify(cpuRuns),
        );
        assert.equal(await cpuFrame.locator(".panel").getAttribute("data-lanes"), "8");
        await page.screenshot({ path: artifactPath(ARTIFACTS, "compare-cpu.png") });
      }),
  );

  it(
    "a long run shows a cancellable progress notification; Cancel stops the worker",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "cancel", async (page) => {
        await openFromExplorer(page, "long.vmcs");
        await runCommand(page, "Trapline: Run Simulation", { fileName: "long.vmcs" });
        const toast = page.locator(".notification-toast", { hasText: "Trapline: simulating long.vmcs" });
        await toast.waitFor({ timeout: E2E_WAIT.ui });
        const frame = visiblePanelFrame(page);
        await frame.locator(".status", { hasText: "Simulating long.vmcs" }).waitFor({ timeout: E2E_WAIT.ui });
        await page.screenshot({ path: artifactPath(ARTIFACTS, "progress.png") });
        await toast.locator(".monaco-button", { hasText: "Cancel" }).click();
        await frame
          .locator(".status", { hasText: "Simulation cancelled." })
          .waitFor({ timeout: E2E_WAIT.ui });
        await toast.waitFor({ state: "detached", timeout: E2E_WAIT.ui });
        assert.equal(await frame.locator(".panel[data-exits]").count(), 0);
      }),
  );

  it("a file with errors is not simulated: the error is shown instead", { timeout: TEST_TIMEOUT_MS }, (t) =>
    suite.run(t, "errors", async (page) => {
      await openFromExplorer(page, "broken.vmcs");
      await page
        .locator(".monaco-editor .squiggly-error")
        .first()
        .waitFor({ state: "visible", timeout: E2E_WAIT.server });
      await runCommand(page, "Trapline: Run Simulation", { fileName: "broken.vmcs" });
      const toast = page.locator(".notification-toast", { hasText: "broken.vmcs has an error (line 13" });
      await toast.waitFor({ timeout: E2E_WAIT.ui });
      assert.match(String(await toast.textContent()), /use_msr_bitmap/);
      assert.equal(await page.locator(".tab", { hasText: "Trapline Timeline: broken.vmcs" }).count(), 0);
      await page.screenshot({ path: artifactPath(ARTIFACTS, "errors.png") });
      await toast.locator(".monaco-button", { hasText: "Show Problems" }).click();
      await page
        .locator(".markers-panel .monaco-list-row", { hasText: "use_msr_bitmap" })
        .first()
        .waitFor({ timeout: E2E_WAIT.ui });
    }),
  );

  it(
    "Export Trace saves the per-reason CSV next to the file (simulating it first)",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "export", async (page) => {
        // posted-interrupts.vmcs has no single-run panel yet: the export opens one, simulates the
        // file's `simulate with_pi` line, then saves.
        await openFromExplorer(page, "posted-interrupts.vmcs");
        await runCommand(page, "Trapline: Export Trace", { fileName: "posted-interrupts.vmcs" });
        await pick(page, /^CSV/);
        // VS Code for the Web's save dialog is a quick input holding the suggested path.
        const input = page.locator(".quick-input-widget input");
        await page.waitForFunction(
          () =>
            (document.querySelector(".quick-input-widget input") as HTMLInputElement | null)?.value.endsWith(
              ".csv",
            ),
          undefined,
          { timeout: E2E_WAIT.drawing },
        );
        const suggested = await input.inputValue();
        assert.match(suggested, /posted-interrupts\.vmcs-with_pi\.csv$/);
        await page.keyboard.press("Enter");
        await page
          .locator(".notification-toast", { hasText: "saved posted-interrupts.vmcs-with_pi.csv" })
          .waitFor({ timeout: E2E_WAIT.ui });
        const csv = readFileSync(join(suite.folder, "posted-interrupts.vmcs-with_pi.csv"), "utf8");
        const lines = csv.trimEnd().split("\r\n");
        assert.match(lines[0]!, /^reason,code,exits,exits_per_second,cycles_per_exit,/);
        assert.ok(
          lines.some((l) => l.startsWith("HLT,12,")),
          csv,
        );
        assert.match(lines.at(-1)!, /^total,,\d+,/);
        await page.screenshot({ path: artifactPath(ARTIFACTS, "export.png") });
      }),
  );

  it(
    "restores the panels after Developer: Reload Window and re-runs them",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "reload", async (page) => {
        // Its own panels (each test starts without any): a run, a comparison of the two vmcs
        // blocks and one on another CPU.
        await openFromExplorer(page, "kvm-default.vmcs");
        await runCommand(page, "Trapline: Run Simulation", { fileName: "kvm-default.vmcs" });
        await waitForDrawing(visiblePanelFrame(page));
        await openFromExplorer(page, "posted-interrupts.vmcs");
        await runCommand(page, "Trapline: Compare Configurations", { fileName: "posted-interrupts.vmcs" });
        await pick(page, /^with_pi/);
        await pick(page, /apicv ↔ legacy|legacy ↔ apicv/);
        await waitForDrawing(visiblePanelFrame(page));
        await runCommand(page, "Trapline: Compare Configurations", { fileName: "posted-interrupts.vmcs" });
        await pick(page, /^with_pi/);
        await pick(page, /icelake_server ↔ another CPU/);
        await pick(page, /Haswell-EP/);
        await waitForDrawing(visiblePanelFrame(page));

        const started = Date.now();
        await runCommand(page, "Developer: Reload Window");
        await page
          .locator(".monaco-workbench .part.statusbar")
          .waitFor({ state: "visible", timeout: E2E_WAIT.server });
        // The serializer re-creates the panel; its page posts `ready` with its saved request and
        // the host simulates the file's current text again.
        const frame = visiblePanelFrame(page);
        const exits = await waitForDrawing(frame);
        assert.ok(exits > 100, `restored panel drew ${exits} exits`);
        const tabs = await page.locator(".tab").allTextContents();
        assert.ok(
          tabs.some((tab) => tab.includes("Trapline")),
          `tabs after reload: ${JSON.stringify(tabs)}`,
        );
        await page.screenshot({ path: artifactPath(ARTIFACTS, "restored.png") });
        t.diagnostic(
          `reload → restored panel drawn in ${Date.now() - started} ms; tabs ${JSON.stringify(tabs)}`,
        );

        // The compare panel comes back too, with both runs on their vmcs blocks, when shown.
        await page.locator(".tab", { hasText: "with_pi on apicv ↔ with_pi on legacy" }).click();
        const compare = visiblePanelFrame(page);
        await waitForDrawing(compare);
        assert.equal(await compare.locator(".panel").getAttribute("data-lanes"), "8");
        const runs = await compare.locator(".compare-run h3").allTextContents();
        assert.ok(
          runs.some((r) => /with_pi on legacy/.test(r)) && runs.some((r) => /with_pi on apicv/.test(r)),
          JSON.stringify(runs),
        );
        await page.screenshot({ path: artifactPath(ARTIFACTS, "restored-compare.png") });

        // The comparison on another CPU comes back with its CPU (the request's `target`).
        await page.locator(".tab", { hasText: "with_pi ↔ with_pi (haswell)" }).click();
        const onCpu = visiblePanelFrame(page);
        await waitForDrawing(onCpu);
        const cpuRuns = await onCpu.locator(".compare-run h3").allTextContents();
        assert.ok(
          cpuRuns.some((r) => /with_pi \(haswell\)/.test(r)),
          JSON.stringify(cpuRuns),
        );
      }),
  );
});

/** "137.1k/s" → 137100, "0/s" → 0. */
function parseRate(text: string): number {
  const match = /([\d.,]+)\s*([kM]?)\/s/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]!.replace(/,/g, ""));
  return value * (match[2] === "k" ? 1e3 : match[2] === "M" ? 1e6 : 1);
}
