/**
 * `npm run bench`: every benchmark in bench/, one after another, each printing its figures and
 * its ratio to a baseline measured in the same run. A benchmark that needs something absent
 * (Chromium) says so and is skipped; a failing one makes the run fail.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const benchDir = import.meta.dirname ?? __dirname;
const files = readdirSync(benchDir)
  .filter((name) => name.endsWith(".bench.ts"))
  .sort();

let failed = 0;
for (const file of files) {
  const path = join(benchDir, file);
  if (!existsSync(path)) continue;
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", path], {
    stdio: "inherit",
    env: process.env,
  });
  if (result.status !== 0) {
    failed++;
    console.log(`bench: ${file} exited with status ${result.status}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
