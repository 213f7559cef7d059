#!/usr/bin/env node
// The `trapline` command. The CLI is bundled by `npm run build` (scripts/build.mjs) into
// dist/cli/trapline.js, which exports runNode().

// The language server re-analyses the file on every edit, and one analysis of a large file
// allocates more than V8's default young generation (16 MB semi-spaces), so nearly every
// analysis would end in a scavenge that copies the live part of its result. A 64 MB young
// generation takes the 10,000-line benchmark's median from about 35 to 25 ms
// (bench/analyze.bench.ts prints both). The size is fixed when the heap is created
// (v8.setFlagsFromString has no effect on it afterwards), so `trapline lsp` over stdio or a
// socket re-starts itself once with the flag; the Node IPC transport stays in this process
// (its channel belongs to it; VS Code starts the server with the flag in execArgv instead).
const SEMI_SPACE_FLAG = "--max-semi-space-size=64";
const args = process.argv.slice(2);
const reexec =
  args[0] === "lsp" &&
  !args.includes("--node-ipc") &&
  !process.execArgv.some((arg) => arg.startsWith("--max-semi-space-size")) &&
  process.env.TRAPLINE_NO_REEXEC === undefined;

if (reexec) {
  const { spawn } = require("node:child_process");
  const child = spawn(process.execPath, [...process.execArgv, SEMI_SPACE_FLAG, __filename, ...args], {
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("error", (error) => {
    process.stderr.write(`trapline: cannot start the language server: ${error.message}\n`);
    process.exitCode = 2;
  });
  child.on("exit", (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
} else {
  require("../dist/cli/trapline.js").runNode();
}
