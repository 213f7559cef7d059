/**
 * The seeded long fuzz run: `npm run fuzz -- [COUNT] [SEED] [TIME_LIMIT_S] [WORKERS]`
 * (default 1,000,000 inputs, seed 1, no time limit, one worker thread).
 *
 * The same inputs and properties as test/fuzz.test.ts (test/support/fuzz.ts: generated and
 * mutated `.vmcs` text through parse, lowering, checks, estimate, lints, quick fixes and a short
 * simulation), in worker threads so that an input that hangs is caught: a worker whose input
 * runs longer than HANG_MS is terminated, the input recorded as a hang and the run goes on.
 * Input N of the run is input N % BATCH of `fc.sample(anyInput, { seed: SEED + ⌊N / BATCH⌋ })`,
 * so any input the report names can be regenerated.
 *
 * Prints: inputs run, inputs per second, inputs with a broken property (grouped by the first
 * words of the problem, each with its smallest input), hangs, the slowest input and the peak
 * resident memory of the process.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import fc from "fast-check";
import { anyInput, checkPipeline } from "../test/support/fuzz";

const BATCH = 1000;
const HANG_MS = 20_000;

interface BatchResult {
  batch: number;
  ran: number;
  simulated: number;
  failures: { index: number; problems: string[]; text: string }[];
  slowest: { ms: number; index: number; text: string };
}

function inputsOf(seed: number, batch: number): string[] {
  return fc.sample(anyInput, { seed: seed + batch, numRuns: BATCH });
}

if (!isMainThread) {
  const { seed, progress } = workerData as { seed: number; progress: SharedArrayBuffer };
  /** [batch, index within the batch, start time (ms, performance.timeOrigin-relative)]. */
  const where = new Float64Array(progress);
  parentPort!.on("message", ({ batch, count }: { batch: number; count: number }) => {
    const inputs = inputsOf(seed, batch).slice(0, count);
    const result: BatchResult = {
      batch,
      ran: 0,
      simulated: 0,
      failures: [],
      slowest: { ms: -1, index: 0, text: "" },
    };
    inputs.forEach((text, index) => {
      where[0] = batch;
      where[1] = index;
      where[2] = performance.timeOrigin + performance.now();
      const start = performance.now();
      const report = checkPipeline(text);
      const ms = performance.now() - start;
      result.ran++;
      result.simulated += report.simulated;
      if (ms > result.slowest.ms) result.slowest = { ms, index, text };
      if (report.problems.length > 0) result.failures.push({ index, problems: report.problems, text });
    });
    where[2] = 0;
    parentPort!.postMessage(result);
  });
} else {
  void main();
}

async function main(): Promise<void> {
  const [countArg, seedArg, limitArg, workersArg] = process.argv.slice(2);
  const count = Number(countArg ?? 1_000_000);
  const seed = Number(seedArg ?? 1);
  const limitMs = limitArg !== undefined ? Number(limitArg) * 1000 : Number.POSITIVE_INFINITY;
  const workers = Math.max(1, Number(workersArg ?? 1));
  if (![count, seed, limitMs, workers].every((n) => !Number.isNaN(n))) {
    console.error("usage: npm run fuzz -- [COUNT] [SEED] [TIME_LIMIT_S] [WORKERS]");
    process.exit(2);
  }
  const started = performance.now();
  const batches = Math.ceil(count / BATCH);
  let nextBatch = 0;
  let ran = 0;
  let simulated = 0;
  let peakRss = process.memoryUsage().rss;
  const groups = new Map<
    string,
    { count: number; smallest: { length: number; where: string; text: string; problem: string } }
  >();
  const hangs: { where: string; text: string }[] = [];
  let slowest = { ms: -1, where: "", text: "" };
  const record = (problem: string, where: string, text: string) => {
    const key = problem.replace(/\d+/g, "N").slice(0, 90);
    const group = groups.get(key);
    if (!group) groups.set(key, { count: 1, smallest: { length: text.length, where, text, problem } });
    else {
      group.count++;
      if (text.length < group.smallest.length) group.smallest = { length: text.length, where, text, problem };
    }
  };

  const timeUp = () => performance.now() - started > limitMs;
  const takeBatch = (): number | undefined => (nextBatch < batches && !timeUp() ? nextBatch++ : undefined);

  async function runWorker(): Promise<void> {
    for (;;) {
      const progress = new SharedArrayBuffer(3 * 8);
      const where = new Float64Array(progress);
      // The worker runs this file through tsx's require hook (execArgv's --import does not
      // reach a worker's entry module).
      const worker = new Worker(
        `require("tsx/cjs/api").register(); require(${JSON.stringify(__filename)});`,
        { eval: true, workerData: { seed, progress } },
      );
      const outcome = await new Promise<"hang" | "done">((resolve) => {
        let current: number | undefined;
        const send = () => {
          current = takeBatch();
          if (current === undefined) {
            clearInterval(watch);
            void worker.terminate().then(() => resolve("done"));
            return;
          }
          worker.postMessage({ batch: current, count: Math.min(BATCH, count - current * BATCH) });
        };
        const watch = setInterval(() => {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          const since = where[2]!;
          if (since > 0 && performance.timeOrigin + performance.now() - since > HANG_MS) {
            clearInterval(watch);
            const batch = where[0]!;
            const index = where[1]!;
            const text = inputsOf(seed, batch)[index]!;
            hangs.push({ where: `batch ${batch} input ${index}`, text });
            ran += index + 1;
            void worker.terminate().then(() => resolve("hang"));
          }
        }, 250);
        worker.on("message", (result: BatchResult) => {
          ran += result.ran;
          simulated += result.simulated;
          for (const f of result.failures)
            for (const p of f.problems) record(p, `batch ${result.batch} input ${f.index}`, f.text);
          if (result.slowest.ms > slowest.ms)
            slowest = {
              ms: result.slowest.ms,
              where: `batch ${result.batch} input ${result.slowest.index}`,
              text: result.slowest.text,
            };
          if (result.batch % 10 === 0)
            console.error(
              `… ${ran} inputs, ${((ran * 1000) / (performance.now() - started)).toFixed(0)}/s, ${groups.size} kinds of failure, ${hangs.length} hangs`,
            );
          send();
        });
        worker.on("error", (error) => {
          record(`worker error: ${String(error)}`, `batch ${current}`, "");
          clearInterval(watch);
          resolve("hang");
        });
        send();
      });
      if (outcome === "done") return;
    }
  }

  await Promise.all(Array.from({ length: workers }, () => runWorker()));
  const seconds = (performance.now() - started) / 1000;
  const failures = [...groups.values()].reduce((n, g) => n + g.count, 0);
  console.log(
    `fuzz: seed ${seed}, ${ran.toLocaleString("en-US")} inputs in ${seconds.toFixed(0)} s (${(ran / seconds).toFixed(0)}/s, ${workers} worker${workers === 1 ? "" : "s"}), ${simulated.toLocaleString("en-US")} simulations`,
  );
  console.log(
    `broken properties: ${failures} (${groups.size} kinds); hangs (> ${HANG_MS / 1000} s): ${hangs.length}`,
  );
  for (const [key, g] of groups) {
    console.log(
      `\n${g.count} × ${key}\n  smallest (${g.smallest.length} chars, ${g.smallest.where}): ${g.smallest.problem.slice(0, 300)}`,
    );
    console.log(`  ${JSON.stringify(g.smallest.text.slice(0, 2000))}`);
  }
  for (const h of hangs) console.log(`\nhang at ${h.where}: ${JSON.stringify(h.text.slice(0, 2000))}`);
  console.log(
    `\nslowest input: ${slowest.ms.toFixed(0)} ms (${slowest.where}, ${slowest.text.length} chars): ${JSON.stringify(slowest.text.slice(0, 300))}`,
  );
  console.log(`peak resident memory: ${(peakRss / 2 ** 20).toFixed(0)} MB`);
  process.exitCode = failures + hangs.length > 0 ? 1 : 0;
}
