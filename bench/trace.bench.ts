/**
 * Trace import throughput: `node --import tsx bench/trace.bench.ts`.
 *
 * Workload: a `trace-cmd report` of TRACE_BENCH_MB (default 128) MB generated in this process
 * (8 vCPU threads "CPU n/KVM-pid"; per exit a kvm_exit in plugin_kvm's rendering and a
 * kvm_entry, and for about half the exits a detail line: kvm_msr, kvm_mmio, kvm_pio or
 * kvm_inj_virq), held as 1 MiB UTF-8 buffers as a file read would deliver them (an 8 MiB block
 * repeated, see generate()).
 *
 * Floor: decoding the same buffers (StringDecoder, as the CLI's stream does) and splitting them
 * into lines (indexOf per line, the partial last line carried to the next chunk) — the least
 * any line-oriented importer does. Import: the same decoding, then TraceImporter.feed and end().
 * Best of TRACE_BENCH_ROUNDS (default 2) alternating rounds, CPU time (user + system).
 * Targets: import ≥ 0.3 of the floor's throughput and ≥ 1 M lines/s. Runs as the esbuild
 * bundle (bench/bundle.ts), the code the CLI ships. Exit status 1 if a target is missed.
 */
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { TraceImporter } from "../core/src/trace/index";
import { runAsBundle } from "./bundle";

const RATIO_TARGET = 0.3;
const LINES_TARGET = 1e6;
const CHUNK = 1 << 20;

const REASONS = [
  {
    name: "MSR_WRITE",
    detail: (i: number) => `kvm_msr:              msr_write 6e0 = 0x${(0x81cba98c958c9 + i).toString(16)}`,
  },
  {
    name: "EPT_MISCONFIG",
    detail: (i: number) =>
      `kvm_mmio:             mmio write len 4 gpa 0xfebf${(i & 0xff).toString(16).padStart(4, "0")} val 0x1`,
  },
  { name: "HLT", detail: undefined },
  { name: "EXTERNAL_INTERRUPT", detail: () => "kvm_inj_virq:         IRQ 0xec" },
  {
    name: "IO_INSTRUCTION",
    detail: () => "kvm_pio:              pio_write at 0xcf8 size 4 count 1 val 0x80000000 ",
  },
  { name: "PREEMPTION_TIMER", detail: undefined },
];

/**
 * The generated report as UTF-8 chunks, and its line count. One 8 MiB block of distinct lines
 * is built and repeated (its 1 MiB chunks reused) up to the size: the block's timestamps
 * restart with each repetition, which the pairing never sees (an exit and its entry are in the
 * same block), and the input costs 8 MiB of memory whatever its size.
 */
function generate(megabytes: number): { chunks: Buffer[]; lines: number; bytes: number } {
  const parts: string[] = [];
  let size = 0;
  let blockLines = 0;
  let ns = 0;
  const push = (line: string) => {
    parts.push(line, "\n");
    size += line.length + 1;
    blockLines++;
  };
  for (let i = 0; size < 8 * CHUNK - 4096 * 4; i++) {
    const vcpu = i & 7;
    const task = `     CPU ${vcpu}/KVM-${41000 + vcpu}  [${(vcpu * 3).toString().padStart(3, "0")}]`;
    const ts = () =>
      `${(5000 + Math.floor(ns / 1e9)).toString()}.${Math.floor((ns % 1e9) / 1e3)
        .toString()
        .padStart(6, "0")}`;
    const reason = REASONS[(i * 7) % REASONS.length]!;
    const rip = `0xffffffff8${(0x1000000 + ((i * 2654435761) % 0xfffff)).toString(16)}`;
    push(
      `${task}  ${ts()}: kvm_exit:             vcpu ${vcpu} reason ${reason.name} rip ${rip} info 0 0 intr_info 0x0 error_code 0x0`,
    );
    ns += 700 + (i % 13) * 100;
    if (reason.detail) push(`${task}  ${ts()}: ${reason.detail(i)}`);
    ns += 300 + (i % 7) * 200;
    push(`${task}  ${ts()}: kvm_entry:            vcpu ${vcpu} rip ${rip}`);
    ns += 900;
  }
  // Pad to exactly 8 MiB with comment lines so every repetition starts at a chunk boundary.
  const block = Buffer.from(parts.join(""), "utf8");
  const padLength = 8 * CHUNK - block.length;
  const pad = Buffer.from(`#${" ".repeat(padLength - 2)}\n`, "utf8");
  const whole = Buffer.concat([block, pad]);
  const blockChunks: Buffer[] = [];
  for (let i = 0; i < whole.length; i += CHUNK) blockChunks.push(whole.subarray(i, i + CHUNK));
  const repeats = Math.max(1, Math.round((megabytes * 1e6) / whole.length));
  const chunks: Buffer[] = [];
  for (let r = 0; r < repeats; r++) chunks.push(...blockChunks);
  return { chunks, lines: (blockLines + 1) * repeats, bytes: whole.length * repeats };
}

function floor(chunks: Buffer[]): number {
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let lines = 0;
  let sum = 0;
  for (const buffer of chunks) {
    const text = decoder.write(buffer);
    let start = 0;
    if (carry.length > 0) {
      const nl = text.indexOf("\n");
      const line = carry + text.slice(0, nl);
      sum += line.length;
      lines++;
      start = nl + 1;
    }
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      sum += nl - start;
      lines++;
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  return lines + sum * 0;
}

function importChunks(chunks: Buffer[]): ReturnType<TraceImporter["end"]> {
  const decoder = new StringDecoder("utf8");
  const importer = new TraceImporter();
  for (const buffer of chunks) importer.feed(decoder.write(buffer));
  return importer.end();
}

function measure<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

function main(): void {
  const megabytes = Number(process.env.TRACE_BENCH_MB ?? 128);
  const rounds = Number(process.env.TRACE_BENCH_ROUNDS ?? 2);
  const g = measure(() => generate(megabytes));
  const { chunks, lines, bytes } = g.value;
  console.log(
    `trace: generated trace-cmd report, ${(bytes / 1e6).toFixed(0)} MB, ${lines.toLocaleString("en-US")} lines, ${chunks.length} chunks (${g.wallMs.toFixed(0)} ms, not measured)`,
  );
  // Warm up both paths on a slice.
  floor(chunks.slice(0, 8));
  importChunks(chunks.slice(0, 8));
  let best = {
    floor: Number.POSITIVE_INFINITY,
    floorWall: Number.POSITIVE_INFINITY,
    imp: Number.POSITIVE_INFINITY,
    impWall: Number.POSITIVE_INFINITY,
  };
  let result: ReturnType<TraceImporter["end"]> | undefined;
  let floorLines = 0;
  let peakRss = 0;
  for (let round = 0; round < rounds; round++) {
    const f = measure(() => floor(chunks));
    floorLines = f.value;
    result = undefined;
    const i = measure(() => importChunks(chunks));
    result = i.value;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    best = {
      floor: Math.min(best.floor, f.cpuMs),
      floorWall: Math.min(best.floorWall, f.wallMs),
      imp: Math.min(best.imp, i.cpuMs),
      impWall: Math.min(best.impWall, i.wallMs),
    };
  }
  if (!result) return;
  if (floorLines !== lines || result.lines !== lines)
    throw new Error(`line counts differ: ${floorLines}, ${result.lines}, ${lines}`);
  if (result.badLineCount !== 0)
    throw new Error(`bad lines in the generated trace: ${JSON.stringify(result.badLines)}`);
  const mbps = (ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
  const lps = (ms: number) => lines / (ms / 1000);
  console.log(
    `  floor (decode + split, best of ${rounds}):  ${best.floor.toFixed(0)} ms CPU (${best.floorWall.toFixed(0)} ms wall) → ${mbps(best.floor)}, ${(lps(best.floor) / 1e6).toFixed(2)} M lines/s`,
  );
  console.log(
    `  import (decode + TraceImporter):      ${best.imp.toFixed(0)} ms CPU (${best.impWall.toFixed(0)} ms wall) → ${mbps(best.imp)}, ${(lps(best.imp) / 1e6).toFixed(2)} M lines/s`,
  );
  const ratio = best.floor / best.imp;
  console.log(
    `  ratio import/floor: ${ratio.toFixed(3)} by CPU time, ${(best.floorWall / best.impWall).toFixed(3)} by wall time (target ≥ ${RATIO_TARGET})`,
  );
  console.log(
    `  lines/s: ${(lps(best.imp) / 1e6).toFixed(2)} M by CPU time (target ≥ ${LINES_TARGET / 1e6} M)`,
  );
  console.log(
    `  paired exits: ${result.exits.totalCount.toLocaleString("en-US")} over ${result.vcpus.length} vCPUs; peak rss ${(peakRss / 1048576).toFixed(0)} MB for ${(bytes / 1e6).toFixed(0)} MB of input (an 8 MiB block repeated)`,
  );
  if (ratio < RATIO_TARGET || lps(best.imp) < LINES_TARGET) {
    console.log("trace bench: a target was missed");
    process.exitCode = 1;
  }
}

if (process.env.TRACE_BENCH_BUNDLED === "1") main();
else {
  runAsBundle(fileURLToPath(import.meta.url), [{ env: { TRACE_BENCH_BUNDLED: "1" } }])
    .then(([status]) => {
      if (status !== 0) process.exitCode = status ?? 1;
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
