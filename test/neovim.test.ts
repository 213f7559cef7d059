/**
 * Neovim (Debian's 0.7, a push-diagnostics client) headless against `trapline lsp --stdio`:
 * diagnostics arrive, a hover answers, and a completion requested right after an edit (before the
 * server's debounce) is answered from the edited text. Without `nvim` the test fails with a clear message
 * under CI=true (scripts/install-system-deps.sh installs it) and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, serverCommand } from "./support/lspHarness";

const nvim = spawnSync("nvim", ["--version"], { encoding: "utf8" });
const available = nvim.status === 0;
const missing = "nvim is not installed (run scripts/install-system-deps.sh, which installs Debian's neovim)";

/** The whole headless Neovim session (start, attach the server, the requests): generous, for a loaded machine. */
const NVIM_RUN_MS = 180_000;

test("Neovim gets pushed diagnostics, a hover and a completion on the text just edited", {
  skip: !available && process.env.CI !== "true" ? missing : false,
}, () => {
  assert.ok(available, missing);
  const dir = mkdtempSync(join(tmpdir(), "trapline-nvim-"));
  try {
    const text = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8").replace(
      "use_msr_bitmaps",
      "use_msr_bitmap",
    );
    const file = join(dir, "kvm-default.vmcs");
    writeFileSync(file, text);
    const at = text.indexOf("mmio write 0xfebf_0018") + 1;
    const before = text.slice(0, at);
    // The case: `enable_ept` deleted from `proc2 enable_ept enable_vpid …` and `enab`
    // typed in its place must offer `enable_ept` at once.
    const editAt = text.indexOf("enable_ept enable_vpid");
    const editBefore = text.slice(0, editAt);
    const editColumn = editAt - (editBefore.lastIndexOf("\n") + 1);
    const { command, args } = serverCommand();
    const out = join(dir, "result.json");
    const run = spawnSync(
      "nvim",
      [
        "--headless",
        "-u",
        "NONE",
        "-i",
        "NONE",
        "-c",
        `luafile ${join(REPO_ROOT, "test", "fixtures", "neovim-lsp.lua")}`,
      ],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: NVIM_RUN_MS,
        env: {
          ...process.env,
          TRAPLINE_NVIM_OUT: out,
          TRAPLINE_NVIM_FILE: file,
          TRAPLINE_NVIM_CMD: JSON.stringify([command, ...args]),
          TRAPLINE_NVIM_LINE: String(before.split("\n").length - 1),
          TRAPLINE_NVIM_COL: String(at - (before.lastIndexOf("\n") + 1)),
          TRAPLINE_NVIM_EDIT_LINE: String(editBefore.split("\n").length - 1),
          TRAPLINE_NVIM_EDIT_FROM: String(editColumn),
          TRAPLINE_NVIM_EDIT_TO: String(editColumn + "enable_ept".length),
          TRAPLINE_NVIM_EDIT_TEXT: "enab",
        },
      },
    );
    let result: {
      diagnostics: { lnum: number; message: string; severity: number }[];
      hover: string | null;
      completion: string[];
      error: string | null;
    };
    try {
      result = JSON.parse(readFileSync(out, "utf8"));
    } catch {
      assert.fail(`nvim wrote no result (status ${run.status}): ${run.stderr}${run.stdout}`);
    }
    assert.equal(result.error, null);
    const typoLine = text.slice(0, text.indexOf("use_msr_bitmap")).split("\n").length - 1;
    assert.ok(
      result.diagnostics.some(
        (d) => d.lnum === typoLine && d.severity === 1 && /use_msr_bitmap/.test(d.message),
      ),
      JSON.stringify(result.diagnostics),
    );
    assert.match(String(result.hover), /EPT_MISCONFIG \(49\)[\s\S]*cycles/);
    assert.ok(
      result.completion.includes("enable_ept"),
      `deleted, so offered: ${result.completion.join(" ")}`,
    );
    assert.ok(!result.completion.includes("enable_vpid"), "still on the line");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
