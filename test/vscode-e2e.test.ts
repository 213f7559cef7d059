/**
 * The packaged extension in real VS Code (code-server + Chromium via playwright): opening an
 * example starts `trapline lsp`, its error shows in the Problems panel, a hover on a guest
 * operation shows cycles, and the language status item shows the file's overhead. Screenshots
 * go to test-artifacts/vscode-e2e/.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { launchChromium, requireChromiumOrSkip } from "./support/chromium";
import {
  E2E_WAIT,
  openFileInWorkbench,
  openWorkbench,
  requireCodeServerOrSkip,
  startCodeServer,
} from "./support/codeServer";
import { ensureTraplineVsix } from "./support/vsix";

/** One hover attempt: VS Code does not ask again while the mouse stays put, so the test moves it and retries. */
const HOVER_ATTEMPT_MS = 10_000;

test("VS Code: diagnostics in Problems, a hover with cycles, the language status item", {
  timeout: 15 * 60_000,
}, async (t) => {
  const chromium = requireChromiumOrSkip(t);
  const launcher = requireCodeServerOrSkip(t);
  if (!chromium || !launcher) return;
  const folder = mkdtempSync(join(tmpdir(), "trapline-e2e-"));
  const text = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8").replace(
    "use_msr_bitmaps",
    "use_msr_bitmap",
  );
  writeFileSync(join(folder, "sample.vmcs"), text);
  const server = await startCodeServer({ folder, vsix: await ensureTraplineVsix() });
  const browser = await launchChromium({ executablePath: chromium });
  const { page } = browser;
  try {
    await openWorkbench(page, server.url);
    await openFileInWorkbench(page, "sample.vmcs");

    // The server's diagnostic: a squiggle, then the Problems panel row.
    await page
      .locator(".monaco-editor .squiggly-error")
      .first()
      .waitFor({ state: "visible", timeout: E2E_WAIT.server });
    await page.keyboard.press("Control+Shift+M");
    const problem = page.locator(".markers-panel .monaco-list-row", { hasText: "use_msr_bitmap" }).first();
    await problem.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    await page.screenshot({ path: artifactPath("vscode-e2e", "problems.png") });

    // Hover on the trapped MMIO write.
    // Go to its line (the editor renders only visible lines), then hover the token.
    const mmioLine = text.slice(0, text.indexOf("mmio write 0xfebf_0018")).split("\n").length;
    await page.locator(".monaco-editor .view-lines").first().click();
    // Quick Open's `:LINE` (Ctrl+G is taken by the browser in code-server).
    await page.keyboard.press("Control+P");
    const goTo = page.locator(".quick-input-widget input");
    await goTo.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    await goTo.fill(`:${mmioLine}`);
    await page.keyboard.press("Enter");
    const mmio = page.locator(".monaco-editor .view-line span", { hasText: /^mmio$/ }).first();
    await mmio.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    // A hover requested before the server's first analysis has landed comes back empty, and
    // VS Code does not ask again while the mouse stays put: move away and hover again.
    const hover = page.locator(".monaco-hover", { hasText: "cycles" }).first();
    for (let attempt = 1; ; attempt++) {
      await mmio.hover();
      try {
        await hover.waitFor({ state: "visible", timeout: HOVER_ATTEMPT_MS });
        break;
      } catch (error) {
        if (attempt * HOVER_ATTEMPT_MS >= E2E_WAIT.server) throw error;
        await page.mouse.move(5, 5);
      }
    }
    assert.match(String(await hover.textContent()), /EPT_MISCONFIG \(49\)/);
    await page.screenshot({ path: artifactPath("vscode-e2e", "hover.png") });
    await page.mouse.move(5, 5);

    // The language status item lives in the hover of the status bar's `{ }` entry.
    const languageStatus = page.locator('[id="status.languageStatus"]');
    await languageStatus.waitFor({ state: "visible", timeout: E2E_WAIT.server });
    await languageStatus.hover();
    const statusHover = page.locator(".monaco-hover", { hasText: "overhead" }).first();
    await statusHover.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    assert.match(String(await statusHover.textContent()), /\d+(\.\d+)?% overhead/);
    await page.screenshot({ path: artifactPath("vscode-e2e", "status.png") });
  } catch (error) {
    await page.screenshot({ path: artifactPath("vscode-e2e", "failure.png") }).catch(() => undefined);
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\ncode-server output:\n${server.output().slice(-3000)}`,
    );
  } finally {
    await browser.close();
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
});
