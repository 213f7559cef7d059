/**
 * Real KVM traces in real VS Code (code-server + Chromium via playwright, the packaged .vsix):
 * "Trapline: Open Trace" from the command palette, its file picked in VS Code's own open dialog,
 * opens the trace in the timeline panel (a lane per vCPU, every measured exit drawn); a guest's
 * `measured "TRACE"` puts the measured figure in the code lens above it. Screenshots go to
 * test-artifacts/vscode-trace/.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { importTrace } from "../core/src/index";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { E2E_WAIT, openFileInWorkbench, runCommand } from "./support/codeServer";
import { visiblePanelFrame, waitForLanguageStatus, workbenchSuite } from "./support/workbenchSuite";

const ARTIFACTS = "vscode-trace";
const TRACE_NAME = "trace-cmd-generated-pairing.txt";
const TRACE_TEXT = readFileSync(join(REPO_ROOT, "test", "fixtures", "traces", TRACE_NAME), "utf8");
const REPORT_NAME = "perf-kvm-stat-report-compute-go.txt";

const TEST_TIMEOUT_MS = 10 * 60_000;

describe("VS Code: real KVM traces", { timeout: 3 * TEST_TIMEOUT_MS }, () => {
  const suite = workbenchSuite({
    artifacts: ARTIFACTS,
    folderPrefix: "trapline-trace-",
    prepare(folder) {
      copyFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), join(folder, "kvm-default.vmcs"));
      copyFileSync(join(REPO_ROOT, "test", "fixtures", "traces", TRACE_NAME), join(folder, TRACE_NAME));
      copyFileSync(join(REPO_ROOT, "test", "fixtures", "traces", REPORT_NAME), join(folder, REPORT_NAME));
      const measured = readFileSync(
        join(REPO_ROOT, "test", "fixtures", "measured", "tsc-deadline.vmcs"),
        "utf8",
      );
      writeFileSync(
        join(folder, "measured.vmcs"),
        measured.replace("  idle halt\n", `  idle halt\n  measured "${REPORT_NAME}"\n`),
      );
    },
  });

  it(
    "Open Trace from the command palette draws the trace's vCPU lanes and measured exits",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "open-trace", async (page) => {
        await openFileInWorkbench(page, "kvm-default.vmcs");
        // The extension is active once the language status shows the file's numbers.
        await waitForLanguageStatus(page);
        await runCommand(page, "Trapline: Open Trace", { fileName: "kvm-default.vmcs" });
        // VS Code's own open dialog (the simple file dialog in the browser): a quick input that
        // holds a path; the trace's full path, then Enter.
        const input = page.locator(".quick-input-widget input");
        await page
          .locator(".quick-input-widget", { hasText: "Open Trace" })
          .first()
          .waitFor({ state: "visible", timeout: E2E_WAIT.ui });
        await input.fill(join(suite.folder, TRACE_NAME));
        // The dialog lists the file once it has read the folder: Enter then accepts that file.
        await page
          .locator(".quick-input-widget .monaco-list-row", { hasText: TRACE_NAME })
          .first()
          .waitFor({ state: "visible", timeout: E2E_WAIT.ui });
        await page.keyboard.press("Enter");

        await page
          .locator(".tab", { hasText: `Trapline Trace: ${TRACE_NAME}` })
          .waitFor({ timeout: E2E_WAIT.ui });
        const frame = visiblePanelFrame(page);
        const drawn = frame.locator(".panel[data-exits]");
        await drawn.waitFor({ state: "attached", timeout: E2E_WAIT.drawing });
        const expected = importTrace(TRACE_TEXT);
        assert.equal(Number(await drawn.getAttribute("data-exits")), expected.exits.totalCount);
        assert.equal(await drawn.getAttribute("data-lanes"), String(expected.vcpus.length));
        assert.match(
          String(await frame.locator(".subtitle").textContent()),
          new RegExp(`measured trace \\(trace-cmd\\) · ${expected.vcpus.length} vCPUs`),
        );
        // The measured per-reason table: one row per reason of the trace.
        const rows = frame.locator("table.stats tbody tr");
        await rows.first().waitFor({ timeout: E2E_WAIT.ui });
        assert.equal(await rows.count(), expected.exits.rows.length);
        await page.screenshot({ path: artifactPath(ARTIFACTS, "open-trace.png") });
        t.diagnostic(`Open Trace → ${expected.exits.totalCount} exits on ${expected.vcpus.length} lanes`);
      }),
  );

  it(
    "a guest's `measured` trace: the code lens above it shows the measured figure",
    { timeout: TEST_TIMEOUT_MS },
    (t) =>
      suite.run(t, "measured-lens", async (page) => {
        await openFileInWorkbench(page, "measured.vmcs");
        const lens = page.locator(".monaco-editor .codelens-decoration", { hasText: /^measured / }).first();
        await lens.waitFor({ state: "visible", timeout: E2E_WAIT.server });
        assert.match(
          String(await lens.textContent()),
          /measured 0\.816 µs\/exit \(model 2 µs, 0\.408× ⚠\) · 2 figures beyond ±25%/,
        );
        await page.screenshot({ path: artifactPath(ARTIFACTS, "measured-lens.png") });
      }),
  );
});
