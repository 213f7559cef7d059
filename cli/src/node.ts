/** Binds runCli to the real process: files through node:fs, exit status through process.exitCode. */
import { readFileSync, writeFileSync } from "node:fs";
import type { CliIO } from "./command";
import { runCli } from "./run";

export const nodeIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFileSync(path, "utf8"),
  writeFile: (path, data) => writeFileSync(path, data),
};

/** Entry point of bin/trapline.js. Sets the exit status once output is flushed. */
export function runNode(argv: string[] = process.argv.slice(2)): void {
  runCli(argv, nodeIO).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(
        `trapline: internal error: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
