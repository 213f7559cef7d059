/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser downloads cannot work
 * on these machines). Every launch gets a fresh user-data-dir, removed on close.
 *
 *   const chromium = requireChromiumOrSkip(t); if (!chromium) return;
 *   const browser = await launchChromium({ executablePath: chromium });
 *   try { await browser.page.goto(url); … } finally { await browser.close(); }
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { missingTool } from "./skip";

/** Flags from the editor-practice notes: no sandbox (root in containers), no GPU, no network noise. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Path of Debian's chromium binary (`which chromium`), or undefined. */
export function chromiumPath(): string | undefined {
  try {
    const path = execFileSync("which", ["chromium"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return path || undefined;
  } catch {
    return undefined;
  }
}

/** The chromium path, or undefined after skipping the test (failing it under CI). */
export function requireChromiumOrSkip(t: TestContext): string | undefined {
  const path = chromiumPath();
  if (!path) missingTool(t, "chromium", "run scripts/install-system-deps.sh (Debian package `chromium`)");
  return path;
}

export interface LaunchedBrowser {
  context: BrowserContext;
  /** The first page of the context. */
  page: Page;
  /** Browser console messages and page errors, for assertion messages. */
  consoleLog: string[];
  close(): Promise<void>;
}

export async function launchChromium(
  options: { executablePath?: string; viewport?: { width: number; height: number } } = {},
): Promise<LaunchedBrowser> {
  const executablePath = options.executablePath ?? chromiumPath();
  if (!executablePath) throw new Error("chromium not found: run scripts/install-system-deps.sh");
  const userDataDir = mkdtempSync(join(tmpdir(), "trapline-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLog: string[] = [];
  const record = (target: Page) => {
    target.on("console", (message) => consoleLog.push(`[${message.type()}] ${message.text()}`));
    target.on("pageerror", (error) => consoleLog.push(`[pageerror] ${error.message}`));
  };
  record(page);
  context.on("page", record);
  return {
    context,
    page,
    consoleLog,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
