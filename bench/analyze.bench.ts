/**
 * Parse + full analysis of generated files (issue: ≤ 20 ms median for 10,000 lines after
 * warm-up, and 100,000 lines ≤ 12× that). The baseline in the same run is the least work any
 * analysis must do: one pass over every character code of the text (what a lexer cannot avoid).
 * Figures are medians over repeated runs after warm-up; the ratios are what to compare across
 * machines.
 */
import { fileURLToPath } from "node:url";
import { analyze, parse } from "../core/src/index";
import { runAsBundle } from "./bundle";
import { generateVmcs } from "./generate";

/**
 * V8's young generation (semi-space) size for the second run. The analysis of the 10k-line
 * file allocates about 15 MB, most of it kept until the result is dropped; with the default
 * 16 MB semi-space nearly every analysis triggers a scavenge that copies what is live. The
 * language server and the bench's second run start Node with this flag (it cannot be changed
 * once the heap exists: v8.setFlagsFromString has no effect on the semi-space size then).
 */
export const SEMI_SPACE_FLAG = "--max-semi-space-size=64";
const CHILD_ENV = "TRAPLINE_ANALYZE_BENCH_CHILD";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Wall-clock and CPU (user + system, including the garbage collector's threads) samples. */
interface Samples {
  wall: number[];
  cpu: number[];
}

function timeInto(samples: Samples, run: () => void): void {
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  run();
  samples.wall.push(performance.now() - started);
  const used = process.cpuUsage(cpuStart);
  samples.cpu.push((used.user + used.system) / 1000);
}

/**
 * Times the two files in alternating blocks (ROUNDS × [SMALL_BLOCK small, LARGE_BLOCK large]),
 * so both sizes are measured in the same stretches of time: on a shared machine whose speed
 * drifts by 2× over minutes, two back-to-back series would compare a fast stretch with a slow
 * one and the growth ratio would measure the drift. The first run of each block is not timed:
 * it collects the other size's garbage, a cost of alternating, not of the analysis.
 */
const ROUNDS = 6;
const SMALL_BLOCK = 8;
const LARGE_BLOCK = 3;

function timeInterleaved(small: () => void, large: () => void): { small: Samples; large: Samples } {
  const out = { small: { wall: [], cpu: [] } as Samples, large: { wall: [], cpu: [] } as Samples };
  for (let i = 0; i < 10; i++) small();
  large();
  for (let round = 0; round < ROUNDS; round++) {
    small();
    for (let i = 1; i < SMALL_BLOCK; i++) timeInto(out.small, small);
    large();
    for (let i = 1; i < LARGE_BLOCK; i++) timeInto(out.large, large);
  }
  return out;
}

function time(run: () => void, repeats: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) run();
  const samples: Samples = { wall: [], cpu: [] };
  for (let i = 0; i < repeats; i++) timeInto(samples, run);
  return median(samples.wall);
}

let sink = 0;
function scanBaseline(text: string): void {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  sink ^= h;
}

/** V8 flags this process was started with that change the heap (shown with the figures). */
function heapFlags(): string {
  const flags = process.execArgv.filter((a) => a.startsWith("--max-semi-space-size"));
  return flags.length > 0 ? flags.join(" ") : "default V8 heap flags";
}

export function runAnalyzeBench(options: { huge?: boolean } = {}): {
  small: number;
  large: number;
  growth: number;
} {
  const small = generateVmcs(10_000);
  const large = generateVmcs(100_000);
  const smallLines = small.split("\n").length;
  const largeLines = large.split("\n").length;

  const check = analyze(small);
  const errors = check.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0)
    throw new Error(`generated file has errors: ${errors[0]!.code} ${errors[0]!.message}`);

  const timed = timeInterleaved(
    () => analyze(small),
    () => analyze(large),
  );
  const smallMs = median(timed.small.wall);
  const smallCpu = median(timed.small.cpu);
  const largeMs = median(timed.large.wall);
  const largeCpu = median(timed.large.cpu);
  const smallScan = time(() => scanBaseline(small), 30, 10);
  const largeScan = time(() => scanBaseline(large), 7, 2);

  const row = (label: string, lines: number, ms: number, scan: number) =>
    `  ${label.padEnd(34)} ${String(lines).padStart(7)} lines  ${ms.toFixed(2).padStart(8)} ms median   ` +
    `baseline scan ${scan.toFixed(3)} ms (×${(ms / scan).toFixed(0)})`;
  console.log(`analyze: parse + lower + checks + estimates + lints (esbuild bundle, node ${heapFlags()})`);
  console.log(row("10k-line file", smallLines, smallMs, smallScan));
  console.log(row("100k-line file", largeLines, largeMs, largeScan));
  const growth = largeMs / smallMs;
  console.log(
    `  growth 100k / 10k: ×${growth.toFixed(1)} (target ≤ 12, linear = 10; ${timed.small.wall.length} and ${timed.large.wall.length} runs in ${ROUNDS} alternating blocks)`,
  );
  console.log(`  10k-line median ${smallMs.toFixed(2)} ms (target ≤ 20 ms)`);
  const missed = [smallMs > 20 && "10k-line median", growth > 12 && "growth"].filter(Boolean);
  if (missed.length > 0) {
    console.log(`  target missed: ${missed.join(", ")}`);
    process.exitCode = 1;
  }
  // On a shared machine the wall clock includes time spent waiting for a core; CPU time does
  // not (it does include the garbage collector's helper threads).
  console.log(
    `  CPU time per analysis (median): 10k ${smallCpu.toFixed(2)} ms, 100k ${largeCpu.toFixed(2)} ms`,
  );

  if (options.huge === false) return { small: smallMs, large: largeMs, growth };
  // A 10 MB file of distinct units: parse alone, then the whole analysis (each run once, after
  // one warm-up analysis of the 10k file above).
  const huge = generateVmcs(375_000);
  let started = performance.now();
  parse(huge);
  const hugeParse = performance.now() - started;
  started = performance.now();
  analyze(huge);
  const hugeAnalyze = performance.now() - started;
  console.log(
    `  ${(huge.length / 1e6).toFixed(1)} MB file: parse ${hugeParse.toFixed(0)} ms (target well under 1 s), ` +
      `analyze ${hugeAnalyze.toFixed(0)} ms (target ≤ 1.5 s)`,
  );
  if (sink === 42) console.log("");
  return { small: smallMs, large: largeMs, growth };
}

/**
 * Runs the bench as the shipped esbuild bundle, twice: with Node's default heap flags (the CLI)
 * and with SEMI_SPACE_FLAG (the flag the language server is launched with).
 */
async function main(): Promise<void> {
  const statuses = await runAsBundle(fileURLToPath(import.meta.url), [
    { env: { [CHILD_ENV]: "default" } },
    { execArgv: [SEMI_SPACE_FLAG], env: { [CHILD_ENV]: "server" } },
  ]);
  if (statuses.some((status) => status !== 0)) process.exitCode = 1;
}

const mode = process.env[CHILD_ENV];
if (mode === "default" || mode === "server") {
  runAnalyzeBench({ huge: mode === "default" });
} else if (mode === undefined && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
