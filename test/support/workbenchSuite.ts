/**
 * One code-server workbench for a suite of tests in real VS Code: call `workbenchSuite()` inside
 * a `describe`, and it registers that suite's `before` (a temporary workspace folder filled by
 * `prepare`, code-server with the packaged .vsix, Chromium on the workbench), `afterEach`
 * (`resetWorkbench`: every test starts from an empty editor area) and `after` (close, stop,
 * remove the folder). Without Chromium or code-server nothing starts and each `test` skips
 * saying what is missing (under CI the suite fails instead).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, type TestContext } from "node:test";
import type { FrameLocator, Page } from "playwright-core";
import { artifactPath } from "./artifacts";
import { chromiumPath, type LaunchedBrowser, launchChromium } from "./chromium";
import {
  activeFileTab,
  type CodeServer,
  codeServerPath,
  E2E_WAIT,
  openWorkbench,
  resetWorkbench,
  startCodeServer,
} from "./codeServer";
import { isCi } from "./skip";
import { ensureTraplineVsix } from "./vsix";

export interface WorkbenchSuiteOptions {
  /** The test-artifacts/ folder for screenshots (a failure's is `NAME-failure.png`). */
  artifacts: string;
  /** Prefix of the temporary workspace folder. */
  folderPrefix: string;
  /** Writes the workspace's files into `folder` before code-server starts. */
  prepare(folder: string): void;
  /** User settings over the test settings. */
  settings?: Record<string, unknown>;
}

export interface WorkbenchSuite {
  /** The workspace folder (set by the suite's `before`). */
  readonly folder: string;
  /**
   * Runs one test's `body` on the workbench page: skipped when a tool is missing; on a failure a
   * screenshot `NAME-failure.png` and the end of code-server's output join the error.
   */
  run(t: TestContext, name: string, body: (page: Page) => Promise<void>): Promise<void>;
}

export function workbenchSuite(options: WorkbenchSuiteOptions): WorkbenchSuite {
  let server: CodeServer | undefined;
  let browser: LaunchedBrowser | undefined;
  let folder: string | undefined;
  let skipped: string | undefined;

  before(async () => {
    const chromium = chromiumPath();
    const launcher = codeServerPath();
    if (!chromium || !launcher) {
      skipped = !chromium
        ? "chromium (run scripts/install-system-deps.sh)"
        : "code-server (run scripts/setup-code-server.sh)";
      if (isCi()) throw new Error(`missing ${skipped}`);
      return;
    }
    folder = mkdtempSync(join(tmpdir(), options.folderPrefix));
    options.prepare(folder);
    server = await startCodeServer({
      folder,
      vsix: await ensureTraplineVsix(),
      ...(options.settings ? { settings: options.settings } : {}),
    });
    browser = await launchChromium({ executablePath: chromium, viewport: { width: 1600, height: 1000 } });
    await openWorkbench(browser.page, server.url);
  });

  afterEach(async () => {
    if (browser) await resetWorkbench(browser.page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  return {
    get folder() {
      return folder!;
    },
    async run(t, name, body) {
      if (skipped) {
        t.skip(`missing ${skipped}`);
        return;
      }
      const page = browser!.page;
      try {
        await body(page);
      } catch (error) {
        await page
          .screenshot({ path: artifactPath(options.artifacts, `${name}-failure.png`) })
          .catch(() => undefined);
        throw new Error(
          `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\ncode-server output:\n${server!.output().slice(-3000)}`,
        );
      }
    },
  };
}

/** The page inside the visible webview panel. */
export function visiblePanelFrame(page: Page): FrameLocator {
  return page.frameLocator("iframe.webview.ready >> visible=true").frameLocator("#active-frame");
}

/** Waits until the extension is active: the language status item shows the file's numbers. */
export async function waitForLanguageStatus(page: Page): Promise<void> {
  await page.locator('[id="status.languageStatus"]').waitFor({ state: "visible", timeout: E2E_WAIT.server });
}

/** Opens a file of the workspace from the explorer (Quick Open's shortcut can land in a webview). */
export async function openFromExplorer(page: Page, fileName: string): Promise<void> {
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: fileName }).first().click();
  await activeFileTab(page, fileName).waitFor({ timeout: E2E_WAIT.ui });
}
