/**
 * `npm run bench`: every benchmark in bench/, one after another, each printing its figures and
 * its ratio to a baseline measured in the same run. A benchmark exits non-zero when a figure
 * misses its target or when it cannot run; the summary lists which. Timings on a shared machine
 * are information, not a gate: the runner itself exits 0 unless asked otherwise with
 * `--strict` (then any miss fails the run).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const benchDir = import.meta.dirname ?? __dirname;
const strict = process.argv.includes("--strict");
const files = readdirSync(benchDir)
  .filter((name) => name.endsWith(".bench.ts"))
  .sort();

const missed: string[] = [];
for (const file of files) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", join(benchDir, file)], {
    stdio: "inherit",
    env: process.env,
  });
  if (result.status !== 0) missed.push(`${file} (exit status ${result.status ?? result.signal})`);
}
console.log(
  missed.length === 0
    ? `\nbench: all ${files.length} benchmarks met their targets`
    : `\nbench: ${files.length - missed.length} of ${files.length} met their targets; missed or failed: ${missed.join(", ")}`,
);
process.exitCode = strict && missed.length > 0 ? 1 : 0;
