/**
 * Neovim as a second, independent LSP client. Debian bookworm ships 0.7.2: it has
 * vim.lsp.start_client, vim.lsp.buf_attach_client, vim.diagnostic.get and
 * vim.lsp.buf_request_sync (vim.lsp.start needs 0.8+).
 *
 *   const nvim = requireNeovimOrSkip(t); if (!nvim) return;
 *   const { stdout } = await runNeovimLua(nvim.path, luaSource, { cwd });
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { missingTool } from "./skip";

export interface NeovimInfo {
  path: string;
  /** [major, minor, patch] */
  version: [number, number, number];
  versionText: string;
}

export function findNeovim(): NeovimInfo | undefined {
  try {
    const path = execFileSync("which", ["nvim"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (!path) return undefined;
    const firstLine = execFileSync(path, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
    const match = /NVIM v(\d+)\.(\d+)\.(\d+)/.exec(firstLine);
    if (!match) return undefined;
    return {
      path,
      version: [Number(match[1]), Number(match[2]), Number(match[3])],
      versionText: firstLine.trim(),
    };
  } catch {
    return undefined;
  }
}

/** Neovim of at least `minimum` (default 0.7.0), or undefined after skipping (failing under CI). */
export function requireNeovimOrSkip(
  t: TestContext,
  minimum: [number, number, number] = [0, 7, 0],
): NeovimInfo | undefined {
  const info = findNeovim();
  if (!info) {
    missingTool(t, "nvim", "run scripts/install-system-deps.sh (Debian package `neovim`)");
    return undefined;
  }
  const [a, b, c] = info.version;
  const [x, y, z] = minimum;
  if (a < x || (a === x && (b < y || (b === y && c < z)))) {
    missingTool(t, `nvim >= ${minimum.join(".")}`, `found ${info.versionText}`);
    return undefined;
  }
  return info;
}

/**
 * Runs a Lua script in headless Neovim with no user configuration
 * (`nvim --headless -u NONE -c "luafile SCRIPT"`). The script should end with `vim.cmd("qa!")`
 * (or `os.exit(code)`); it is killed after `timeoutMs`. Output written with io.stdout:write
 * arrives in `stdout`.
 */
export function runNeovimLua(
  nvimPath: string,
  lua: string,
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), "trapline-nvim-"));
  const script = join(dir, "test.lua");
  writeFileSync(script, lua);
  return new Promise((resolve) => {
    execFile(
      nvimPath,
      ["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", `luafile ${script}`],
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 30_000,
        env: { ...process.env, XDG_STATE_HOME: dir, XDG_DATA_HOME: dir, ...options.env },
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        const code = error ? ((error as { code?: number }).code ?? null) : 0;
        resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
      },
    );
  });
}
