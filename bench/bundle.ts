/**
 * Runs a benchmark as the esbuild bundle the product ships (the CLI, the language server and
 * the web workers are bundles), in a child Node: the figures that count. tsx transpiles per
 * module and adds helpers such as `__name` wrappers, which the shipped bundles do not have.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Bundles `entryFile` and runs it once per entry of `runs` (extra Node flags and environment),
 * returning each child's exit status.
 */
export async function runAsBundle(
  entryFile: string,
  runs: { execArgv?: string[]; env: Record<string, string> }[],
): Promise<number[]> {
  const esbuild = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "trapline-bench-"));
  try {
    const outfile = join(dir, "bench.js");
    await esbuild.build({
      entryPoints: [entryFile],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      outfile,
      // The children read their mode from the environment; `import.meta` is unused there.
      logLevel: "error",
      external: ["esbuild"],
    });
    return runs.map(
      (run) =>
        spawnSync(process.execPath, [...(run.execArgv ?? []), outfile], {
          stdio: "inherit",
          env: { ...process.env, ...run.env },
        }).status ?? 1,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
