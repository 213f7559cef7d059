/**
 * Smoke test of the real-client harness (test/support): code-server starts with a .vsix
 * installed, the VS Code workbench loads in Debian's Chromium, the installed extension is
 * activated by the extension host, a workspace file opens in an editor; Neovim runs a scripted
 * headless session. Screenshots go to test-artifacts/harness/.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { launchChromium, requireChromiumOrSkip } from "./support/chromium";
import {
  type CodeServerDirs,
  installExtensions,
  listExtensions,
  openFileInWorkbench,
  openWorkbench,
  requireCodeServerOrSkip,
  startCodeServer,
} from "./support/codeServer";
import { requireNeovimOrSkip, runNeovimLua } from "./support/neovim";
import { ensureTraplineVsix, packageFixtureExtension, vsixEntries } from "./support/vsix";

const FIXTURE_STATUS_TEXT = "harness-fixture-active";

test("code-server loads the workbench in Chromium and runs an installed .vsix", {
  timeout: 300_000,
}, async (t) => {
  const chromium = requireChromiumOrSkip(t);
  const launcher = requireCodeServerOrSkip(t);
  if (!chromium || !launcher) return;

  const scratch = mkdtempSync(join(tmpdir(), "trapline-harness-"));
  const workspace = join(scratch, "workspace");
  const vsix = await packageFixtureExtension(
    join(scratch, "fixture-extension"),
    {
      name: "harness-fixture",
      publisher: "trapline-test",
      engines: { vscode: "^1.91.0" },
      main: "./extension.js",
      activationEvents: ["onStartupFinished"],
    },
    {
      "extension.js": [
        'const vscode = require("vscode");',
        "exports.activate = (context) => {",
        "  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 1000);",
        `  item.text = "${FIXTURE_STATUS_TEXT}";`,
        "  item.show();",
        "  context.subscriptions.push(item);",
        "};",
      ].join("\n"),
    },
  );
  mkdirSync(workspace, { recursive: true });
  writeFileSync(
    join(workspace, "sample.vmcs"),
    "target skylake_server @ 2.1GHz\n\nvmcs kvm {\n  pin nmi_exiting\n}\n",
  );

  const server = await startCodeServer({ folder: workspace, vsix });
  const browser = await launchChromium({ executablePath: chromium });
  try {
    assert.deepEqual(await listExtensions(server), ["trapline-test.harness-fixture@0.0.1"]);

    await openWorkbench(browser.page, server.url);
    // The extension host ran the installed extension: its status bar item is shown.
    await browser.page
      .locator(".part.statusbar", { hasText: FIXTURE_STATUS_TEXT })
      .waitFor({ state: "visible", timeout: 60_000 });

    await openFileInWorkbench(browser.page, "sample.vmcs");
    await browser.page.locator(".monaco-editor .view-lines", { hasText: "skylake_server" }).waitFor();
    await browser.page.screenshot({ path: artifactPath("harness", "workbench.png") });
  } catch (error) {
    await browser.page.screenshot({ path: artifactPath("harness", "failure.png") }).catch(() => undefined);
    throw new Error(
      `${(error as Error).message}\n--- code-server output ---\n${server.output()}\n--- browser console ---\n${browser.consoleLog.join("\n")}`,
    );
  } finally {
    await browser.close();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
});

test("Neovim runs a headless Lua session with the LSP client API", { timeout: 60_000 }, async (t) => {
  const nvim = requireNeovimOrSkip(t, [0, 7, 0]);
  if (!nvim) return;
  const lua = [
    "local has = {}",
    'for _, name in ipairs({ "start_client", "buf_attach_client", "buf_request_sync" }) do',
    "  has[#has + 1] = name .. '=' .. tostring(type(vim.lsp[name]) == 'function')",
    "end",
    "has[#has + 1] = 'diagnostic.get=' .. tostring(type(vim.diagnostic.get) == 'function')",
    'io.stdout:write(table.concat(has, " ") .. "\\n")',
    'vim.cmd("qa!")',
  ].join("\n");
  const result = await runNeovimLua(nvim.path, lua);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout.trim(),
    "start_client=true buf_attach_client=true buf_request_sync=true diagnostic.get=true",
    `nvim ${nvim.versionText}: ${result.stderr}`,
  );
});

test("the Trapline .vsix holds only run-time files and installs into code-server", {
  timeout: 300_000,
}, async (t) => {
  const vsix = await ensureTraplineVsix();
  const entries = vsixEntries(vsix).filter((name) => name.startsWith("extension/"));
  const allowed =
    /^extension\/(package\.json|readme\.md|LICENSE\.txt|changelog\.md|language-configuration\.json|syntaxes\/[^/]+\.json|snippets\/.+|dist\/.+|icon\.png|images\/icon\.png)$/;
  const unexpected = entries.filter((name) => !allowed.test(name) || name.endsWith(".map"));
  assert.deepEqual(unexpected, [], "files outside the run-time set (see .vscodeignore)");
  for (const required of ["extension/package.json", "extension/syntaxes/vmcs.tmLanguage.json"]) {
    assert.ok(entries.includes(required), `${required} missing from the .vsix`);
  }
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
  const main = String(manifest.main ?? "").replace(/^\.\//, "");
  if (main) assert.ok(entries.includes(`extension/${main}`), `the extension entry ${main} is not packaged`);

  const launcher = requireCodeServerOrSkip(t);
  if (!launcher) return;
  const scratch = mkdtempSync(join(tmpdir(), "trapline-install-"));
  try {
    const dirs: CodeServerDirs = {
      userDataDir: join(scratch, "user-data"),
      extensionsDir: join(scratch, "extensions"),
      configFile: join(scratch, "config.yaml"),
    };
    writeFileSync(dirs.configFile, "auth: none\n");
    await installExtensions(dirs, [vsix]);
    assert.deepEqual(await listExtensions(dirs), [
      `${manifest.publisher}.${manifest.name}@${manifest.version}`,
    ]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
