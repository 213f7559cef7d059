/**
 * The `trapline` command line, the entry of the CLI bundle (dist/cli/trapline.js):
 * `runCli(argv, io)` (run.ts) is the whole program, free of process globals so tests run it
 * in-process; `runNode()` (node.ts) binds it to the real process (bin/trapline.js). This module
 * only re-exports them, so the import graph has no cycle: main → run, main → node → run.
 */
export type { CliIO, Command } from "./command";

import { runNode } from "./node";

export { COMMANDS, runCli, usageText, VERSION } from "./run";
export { runNode };

// Executed directly (`node dist/cli/trapline.js …`, as the VS Code client starts the language
// server) rather than required by bin/trapline.js: run. `require`/`module` exist only in the
// CommonJS bundle, hence the typeof guards.
declare const module: { id?: string } | undefined;
if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) {
  runNode();
}
