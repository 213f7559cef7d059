/**
 * Real VS Code (web) for end-to-end tests: code-server 4.139.1 (VS Code 1.139) installed by
 * scripts/setup-code-server.sh into .tools/code-server, started on a free loopback port with
 * its own user-data, extensions and config folders, a .vsix installed and a folder opened.
 *
 *   const launcher = requireCodeServerOrSkip(t); if (!launcher) return;
 *   const server = await startCodeServer({ folder, vsix: await ensureTraplineVsix() });
 *   const browser = await launchChromium();
 *   try {
 *     await openWorkbench(browser.page, server.url);
 *     await openFileInWorkbench(browser.page, "a.vmcs");
 *   } finally { await browser.close(); await server.stop(); }
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import type { Locator, Page } from "playwright-core";
import { REPO_ROOT } from "./artifacts";
import { missingTool } from "./skip";

const execFileAsync = promisify(execFile);

/**
 * How long an end-to-end test waits for each kind of condition. Generous, because the suite
 * runs on loaded 2-core machines (CI, helpers in parallel) where code-server, the extension
 * host, the language server and Chromium share two cores; a wait returns as soon as its
 * condition holds, so a generous bound costs nothing when the machine is fast. No test sleeps
 * for a fixed time: each waits on a condition with one of these.
 */
export const E2E_WAIT = {
  /** A workbench element a key press or click shows: quick input, a row, a tab, a hover. */
  ui: 60_000,
  /** The language server's answer for a newly opened file: squiggles, the status item. */
  server: 120_000,
  /** A simulation drawn in a panel: the webview, its worker, the run and the drawing. */
  drawing: 180_000,
  /** code-server up (/healthz) and the workbench loaded. */
  startup: 180_000,
  /** Between two polls of a condition that has no event to wait on (/healthz). */
  poll: 200,
} as const;

/** The launcher written by scripts/setup-code-server.sh (runs code-server under its Node 24). */
export const CODE_SERVER_LAUNCHER = join(REPO_ROOT, ".tools", "code-server", "code-server");

export function codeServerPath(): string | undefined {
  return existsSync(CODE_SERVER_LAUNCHER) ? CODE_SERVER_LAUNCHER : undefined;
}

/** The launcher path, or undefined after skipping the test (failing it under CI). */
export function requireCodeServerOrSkip(t: TestContext): string | undefined {
  const path = codeServerPath();
  if (!path)
    missingTool(t, "code-server", "run scripts/setup-code-server.sh (installs into .tools/code-server)");
  return path;
}

/** Settings that keep the workbench quiet and deterministic for tests. */
export const TEST_SETTINGS: Record<string, unknown> = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "git.enabled": false,
  // Keep the chat view (secondary side bar) closed so screenshots show the editor.
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
};

export interface CodeServerDirs {
  userDataDir: string;
  extensionsDir: string;
  configFile: string;
}

function baseArgs(dirs: CodeServerDirs): string[] {
  return [
    "--user-data-dir",
    dirs.userDataDir,
    "--extensions-dir",
    dirs.extensionsDir,
    "--config",
    dirs.configFile,
  ];
}

/** Installs .vsix files into the extensions folder (`code-server --install-extension`). */
export async function installExtensions(dirs: CodeServerDirs, vsixFiles: readonly string[]): Promise<void> {
  for (const vsix of vsixFiles) {
    try {
      await execFileAsync(CODE_SERVER_LAUNCHER, [...baseArgs(dirs), "--install-extension", vsix, "--force"], {
        timeout: 120_000,
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`code-server --install-extension ${vsix} failed:\n${stdout ?? ""}${stderr ?? ""}`);
    }
  }
}

/** `publisher.name@version` of every installed extension. */
export async function listExtensions(dirs: CodeServerDirs): Promise<string[]> {
  const { stdout } = await execFileAsync(
    CODE_SERVER_LAUNCHER,
    [...baseArgs(dirs), "--list-extensions", "--show-versions"],
    { timeout: 60_000 },
  );
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^[\w.-]+\.[\w.-]+@/.test(line));
}

/** A free TCP port on 127.0.0.1 (the OS picks it; released before code-server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface CodeServer extends CodeServerDirs {
  url: string;
  port: number;
  folder: string;
  /** Everything code-server printed so far (for assertion messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The folder to open as the workspace. */
  folder: string;
  /** .vsix files to install before starting. */
  vsix?: string | readonly string[];
  /** User settings merged over TEST_SETTINGS. */
  settings?: Record<string, unknown>;
  /** How long to wait for /healthz (default E2E_WAIT.startup). */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) killGroup(child, "SIGKILL");
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the whole process group: code-server forks workers
  } catch {
    child.kill(signal);
  }
}

export async function startCodeServer(options: StartOptions): Promise<CodeServer> {
  if (!codeServerPath()) throw new Error("code-server is not installed: run scripts/setup-code-server.sh");
  const root = mkdtempSync(join(tmpdir(), "trapline-code-server-"));
  const dirs: CodeServerDirs = {
    userDataDir: join(root, "user-data"),
    extensionsDir: join(root, "extensions"),
    configFile: join(root, "config.yaml"),
  };
  mkdirSync(join(dirs.userDataDir, "User"), { recursive: true });
  mkdirSync(dirs.extensionsDir, { recursive: true });
  writeFileSync(dirs.configFile, "auth: none\ncert: false\n");
  writeFileSync(
    join(dirs.userDataDir, "User", "settings.json"),
    JSON.stringify({ ...TEST_SETTINGS, ...options.settings }, null, 2),
  );
  const vsixFiles =
    options.vsix === undefined ? [] : typeof options.vsix === "string" ? [options.vsix] : options.vsix;
  await installExtensions(dirs, vsixFiles);

  const port = await freePort();
  const child = spawn(
    CODE_SERVER_LAUNCHER,
    [
      ...baseArgs(dirs),
      "--auth",
      "none",
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--disable-workspace-trust",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-getting-started-override",
      options.folder,
    ],
    {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CS_DISABLE_FILE_DOWNLOADS: "0" },
    },
  );
  running.add(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    killGroup(child, "SIGTERM");
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    running.delete(child);
    rmSync(root, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + (options.timeoutMs ?? E2E_WAIT.startup);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`code-server exited before it was ready:\n${output}`);
    }
    try {
      const response = await fetch(`${url}healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer ${url}healthz in time:\n${output}`);
    }
    // /healthz has no event to wait on: poll it until the deadline.
    await new Promise((resolve) => setTimeout(resolve, E2E_WAIT.poll));
  }
  return { ...dirs, url, port, folder: options.folder, output: () => output, stop };
}

/**
 * Loads the workbench and waits until it is usable: the workbench shell, the activity bar,
 * the status bar and the explorer showing the opened folder.
 */
export async function openWorkbench(
  page: Page,
  url: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const timeout = options.timeoutMs ?? E2E_WAIT.startup;
  await page.goto(url, { timeout });
  await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout });
  await page.locator(".monaco-workbench .part.activitybar").waitFor({ state: "visible", timeout });
  await page.locator(".monaco-workbench .part.statusbar").waitFor({ state: "visible", timeout });
  await page.locator(".monaco-workbench .explorer-folders-view").waitFor({ state: "visible", timeout });
}

/**
 * The active editor tab of a file, by its exact resource name (`data-resource-name`, the
 * basename VS Code puts on a file's tab): `.tab.active[aria-label*="a.vmcs"]` also matched a
 * webview tab whose title contains the file name ("Trapline Compare: a.vmcs").
 */
export function activeFileTab(page: Page, fileName: string): Locator {
  return page.locator(`.tab.active[data-resource-name=${JSON.stringify(fileName)}]`);
}

/** The editor tab of a file, active or not. */
export function fileTab(page: Page, fileName: string): Locator {
  return page.locator(`.tab[data-resource-name=${JSON.stringify(fileName)}]`);
}

/** Opens a workspace file through Quick Open and waits for its editor tab to be active. */
export async function openFileInWorkbench(
  page: Page,
  fileName: string,
  options: { timeoutMs?: number } = {},
) {
  const timeout = options.timeoutMs ?? E2E_WAIT.ui;
  await page
    .locator(".monaco-workbench .part.editor")
    .click({ position: { x: 5, y: 5 } })
    .catch(() => undefined);
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout });
  await input.fill(fileName);
  // Wait for the row of this file, not the first row: until the search for the typed name
  // answers, the list still shows recently opened files, and Enter would open one of those.
  const row = page
    .locator(".quick-input-widget .monaco-list-row")
    .filter({ has: page.locator(".label-name", { hasText: fileName }) })
    .first();
  await row.waitFor({ state: "visible", timeout });
  await row.click();
  await activeFileTab(page, fileName).waitFor({ state: "visible", timeout });
  await page.locator(".monaco-editor .view-lines").first().waitFor({ state: "visible", timeout });
}

/**
 * Runs a command from the palette: F1, type its title, Enter on the row. Trapline's commands
 * are offered only while a `.vmcs` editor has focus (`editorLangId == vmcs`): with `fileName`
 * its tab and editor are focused first (after a panel took the focus, the row never showed).
 * The row is looked for once more after reopening the palette: a palette opened while the
 * extension host was still registering commands lists them only when asked again.
 */
export async function runCommand(
  page: Page,
  title: string,
  options: { fileName?: string } = {},
): Promise<void> {
  const input = page.locator(".quick-input-widget input");
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
  for (let attempt = 1; ; attempt++) {
    if (await input.isVisible()) await page.keyboard.press("Escape");
    if (options.fileName !== undefined) {
      await fileTab(page, options.fileName).first().click();
      await activeFileTab(page, options.fileName).waitFor({ state: "visible", timeout: E2E_WAIT.ui });
      await page.locator(".editor-group-container.active .monaco-editor .view-lines").first().click();
    }
    await page.keyboard.press("F1");
    await input.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: "visible", timeout: attempt === 1 ? E2E_WAIT.ui / 2 : E2E_WAIT.ui });
      break;
    } catch (error) {
      if (attempt >= 2) throw error;
    }
  }
  await page.keyboard.press("Enter");
}

/**
 * Leaves the workbench as the next test expects it: no quick input, no editors or panels
 * (webview panels included), no notifications, the bottom panel closed.
 */
export async function resetWorkbench(page: Page): Promise<void> {
  for (const command of [
    "View: Close All Editor Groups",
    "Notifications: Clear All Notifications",
    "View: Close Panel",
  ]) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: E2E_WAIT.ui });
    await input.fill(`>${command}`);
    const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: command }).first();
    // A command that has nothing to do (no panel open) may be absent from the palette.
    if (
      await row.waitFor({ state: "visible", timeout: E2E_WAIT.ui / 4 }).then(
        () => true,
        () => false,
      )
    )
      await page.keyboard.press("Enter");
    else await page.keyboard.press("Escape");
    await input.waitFor({ state: "hidden", timeout: E2E_WAIT.ui });
  }
  await page
    .locator(".editor-group-container .tab")
    .first()
    .waitFor({ state: "detached", timeout: E2E_WAIT.ui });
}
