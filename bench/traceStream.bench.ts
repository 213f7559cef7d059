/**
 * Bounded memory of the streaming trace importer: `node --import tsx bench/traceStream.bench.ts`.
 *
 * Streams a `trace-cmd report` of TRACE_STREAM_MB megabytes (default 128, to fit the 5-minute
 * budget of `npm run bench` on a loaded machine; TRACE_STREAM_MB=1024 for the 1 GB of issue 11)
 * through TraceImporter, generated on the fly in 1 MiB strings that are dropped once fed (the
 * input is never held). The content is varied so that every bounded structure is
 * driven past its bound: 16 vCPU threads, 24 exit reasons (VT-x names and, for a few, unknown
 * numeric codes), 65,536 distinct guest RIPs (RIPS_PER_REASON is 1,024 per reason), 4,096 MMIO
 * gpas and 512 ports (DETAIL_KEYS_PER_REASON is 64), MSR, CR, APIC, CPUID, page-fault and
 * injected-IRQ detail lines, and the per-vCPU timeline sample filled and halved many times.
 *
 * Reported: heapUsed after a full GC at each eighth of the input (flat = bounded), peak RSS and
 * peak heapUsed over the run, and the import's throughput (informative: generation shares the
 * CPU). Exit status 1 if the retained heap grows by more than 16 MB between the first eighth and
 * the end (it would grow with the input), or if the generated statistics are not exact.
 */
import { fileURLToPath } from "node:url";
import { TraceImporter } from "../core/src/trace/index";
import { runAsBundle } from "./bundle";

const CHUNK_CHARS = 1 << 20;
const THREADS = 16;
const RIP_COUNT = 65_536;
const GROWTH_LIMIT_BYTES = 16 * 1024 * 1024;

interface Reason {
  text: string;
  detail?: (i: number) => string;
}

const REASONS: Reason[] = [
  {
    text: "MSR_WRITE",
    detail: (i) => `kvm_msr:              msr_write ${(0x6e0 + (i & 15)).toString(16)} = 0x${i.toString(16)}`,
  },
  {
    text: "MSR_READ",
    detail: (i) => `kvm_msr:              msr_read ${(0x10 + (i & 7)).toString(16)} = 0x${i.toString(16)}`,
  },
  {
    text: "EPT_MISCONFIG",
    detail: (i) =>
      `kvm_mmio:             mmio write len 4 gpa 0xfe${(i & 4095).toString(16).padStart(6, "0")} val 0x1`,
  },
  {
    text: "EPT_VIOLATION",
    detail: (i) =>
      `kvm_page_fault:       vcpu 0 rip 0xffffffff81000000 address ${(0x100000 + (i & 0xfffff) * 4096).toString(16)} error_code 0x181`,
  },
  { text: "HLT" },
  {
    text: "EXTERNAL_INTERRUPT",
    detail: (i) => `kvm_inj_virq:         IRQ 0x${(0x20 + (i & 127)).toString(16)}`,
  },
  {
    text: "IO_INSTRUCTION",
    detail: (i) =>
      `kvm_pio:              pio_write at 0x${(0x400 + (i & 511)).toString(16)} size 4 count 1 val 0x0 `,
  },
  { text: "PREEMPTION_TIMER" },
  {
    text: "CPUID",
    detail: (i) => `kvm_cpuid:            func ${(i & 31).toString(16)} idx 0 rax 1 rbx 2 rcx 3 rdx 4`,
  },
  {
    text: "CR_ACCESS",
    detail: (i) => `kvm_cr:               cr_write ${i & 1 ? 0 : 4} = 0x${i.toString(16)}`,
  },
  { text: "APIC_WRITE", detail: (i) => `kvm_apic:             apic_write APIC_ICR = 0x${i.toString(16)}` },
  { text: "EOI_INDUCED" },
  { text: "PAUSE_INSTRUCTION" },
  { text: "VMCALL" },
  { text: "EXCEPTION_NMI" },
  { text: "INTERRUPT_WINDOW" },
  { text: "XSETBV" },
  { text: "INVLPG" },
  { text: "TPR_BELOW_THRESHOLD" },
  { text: "APIC_ACCESS" },
  { text: "WBINVD" },
  { text: "0x45" },
  { text: "0x4f" },
  { text: "RDTSCP" },
];

/** Lines of the report, a chunk at a time; exits and their latencies are tallied to check. */
class Generator {
  private ns = 0;
  private i = 0;
  /** Exits generated per reason: the detail of the k-th exit of a reason uses k. */
  private readonly perReason = new Array<number>(REASONS.length).fill(0);
  exits = 0;
  totalLatencyNs = 0;
  lines = 0;
  chars = 0;

  chunk(): string {
    const parts: string[] = [];
    let size = 0;
    while (size < CHUNK_CHARS) {
      const i = this.i++;
      const thread = i % THREADS;
      const task = `     CPU ${thread}/KVM-${52000 + thread}  [${(thread % 2).toString().padStart(3, "0")}]`;
      const reasonIndex = (i * 7 + (i >>> 5)) % REASONS.length;
      const reason = REASONS[reasonIndex]!;
      const k = this.perReason[reasonIndex]!++;
      const rip = `ffffffff8${(0x1000000 + ((i * 40503) % RIP_COUNT) * 16).toString(16)}`;
      const exitNs = this.ns;
      const lines = [
        `${task}  ${stamp(exitNs)}: kvm_exit:             vcpu ${thread} reason ${reason.text} rip 0x${rip} info 0 0`,
      ];
      this.ns += 300 + (i % 17) * 50;
      if (reason.detail) lines.push(`${task}  ${stamp(this.ns)}: ${reason.detail(k)}`);
      this.ns += 200 + (i % 11) * 100;
      lines.push(`${task}  ${stamp(this.ns)}: kvm_entry:            vcpu ${thread} rip 0x${rip}`);
      // The first exit of each thread comes before its first kvm_entry: perf ignores it.
      if (i >= THREADS) {
        this.exits++;
        // Timestamps are printed in µs: the importer sees the rounded times.
        this.totalLatencyNs += (Math.floor(this.ns / 1000) - Math.floor(exitNs / 1000)) * 1000;
      }
      this.ns += 100;
      for (const line of lines) {
        parts.push(line, "\n");
        size += line.length + 1;
      }
      this.lines += lines.length;
    }
    this.chars += size;
    return parts.join("");
  }
}

/** `<sec>.<µs>` as trace-cmd prints it. */
function stamp(ns: number): string {
  const us = Math.floor(ns / 1000);
  return `${7000 + Math.floor(us / 1e6)}.${(us % 1e6).toString().padStart(6, "0")}`;
}

const gc = (globalThis as { gc?: () => void }).gc;

function main(): void {
  const megabytes = Number(process.env.TRACE_STREAM_MB ?? 128);
  const targetChars = megabytes * 1e6;
  const generator = new Generator();
  const importer = new TraceImporter();
  const retained: number[] = [];
  /** Typed arrays (histograms, RIP tables, timelines) live outside the JS heap. */
  const retainedOffHeap: number[] = [];
  let peakRss = 0;
  let peakHeap = 0;
  let importCpuUs = 0;
  const t0 = performance.now();
  let nextCheckpoint = targetChars / 8;
  while (generator.chars < targetChars) {
    const chunk = generator.chunk();
    const c0 = process.cpuUsage();
    importer.feed(chunk);
    const c = process.cpuUsage(c0);
    importCpuUs += c.user + c.system;
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    if (generator.chars >= nextCheckpoint) {
      nextCheckpoint += targetChars / 8;
      gc?.();
      const after = process.memoryUsage();
      retained.push(after.heapUsed);
      retainedOffHeap.push(after.arrayBuffers);
    }
  }
  const result = importer.end();
  const wallMs = performance.now() - t0;
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
  console.log(
    `trace stream: ${(generator.chars / 1e6).toFixed(0)} MB of generated trace-cmd report, ${generator.lines.toLocaleString("en-US")} lines, fed in 1 MiB strings (${(wallMs / 1000).toFixed(1)} s wall with generation)`,
  );
  console.log(
    `  import: ${(importCpuUs / 1000).toFixed(0)} ms CPU → ${(generator.lines / (importCpuUs / 1e6) / 1e6).toFixed(2)} M lines/s (informative; generation shares the CPU)`,
  );
  console.log(
    `  heapUsed after GC at each eighth: ${retained.map(mb).join(", ")}${gc ? "" : " (no --expose-gc: not collected first)"}`,
  );
  console.log(
    `  arrayBuffers (histograms, RIP tables, timelines) at each eighth: ${retainedOffHeap.map(mb).join(", ")}`,
  );
  console.log(`  peak rss ${mb(peakRss)}, peak heapUsed ${mb(peakHeap)}`);
  const table = result.exits;
  const listedRips = table.rows.reduce((n, r) => n + (r.rips?.length ?? 0), 0);
  const ripsOverflow = table.rows.reduce((n, r) => n + (r.ripsOverflow ?? 0), 0);
  const detailsOverflow = table.rows.reduce((n, r) => n + (r.detailsOverflow ?? 0), 0);
  const timeline = result.vcpus[0]?.timeline;
  console.log(
    `  ${table.rows.length} reasons, ${result.vcpus.length} vCPUs, ${result.mmio.rows.length} MMIO keys, ${result.ioport.rows.length} ports; rips listed ${listedRips} (overflow ${ripsOverflow.toLocaleString("en-US")}), details overflow ${detailsOverflow.toLocaleString("en-US")}; vCPU 0 timeline ${timeline?.startNs.length ?? 0} exits, stride ${timeline?.stride ?? 0}`,
  );
  let failed = false;
  if (result.badLineCount !== 0) {
    console.log(`  bad lines in the generated trace: ${JSON.stringify(result.badLines.slice(0, 3))}`);
    failed = true;
  }
  if (table.totalCount !== generator.exits || table.totalNs !== generator.totalLatencyNs) {
    console.log(
      `  statistics not exact: ${table.totalCount} exits / ${table.totalNs} ns, generated ${generator.exits} / ${generator.totalLatencyNs}`,
    );
    failed = true;
  }
  const growth =
    retained.length > 1
      ? retained[retained.length - 1]! +
        retainedOffHeap[retainedOffHeap.length - 1]! -
        retained[0]! -
        retainedOffHeap[0]!
      : 0;
  console.log(
    `  retained heap + arrayBuffers growth from the first eighth to the end: ${(growth / 1048576).toFixed(1)} MB (limit ${mb(GROWTH_LIMIT_BYTES)})`,
  );
  if (growth > GROWTH_LIMIT_BYTES) failed = true;
  if (failed) {
    console.log("trace stream bench: a target was missed");
    process.exitCode = 1;
  }
}

if (process.env.TRACE_STREAM_BUNDLED === "1") main();
else {
  runAsBundle(fileURLToPath(import.meta.url), [
    { execArgv: ["--expose-gc"], env: { TRACE_STREAM_BUNDLED: "1" } },
  ])
    .then(([status]) => {
      if (status !== 0) process.exitCode = status ?? 1;
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
