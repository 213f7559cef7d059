/**
 * Simulator throughput and memory: `node --import tsx bench/sim.bench.ts`.
 *
 * Workload: 16 vCPUs, each with Poisson arrivals of a CPUID path at 625k/s (10M exits per
 * simulated second in all, each vCPU about half busy), one simulated second. Reports simulated
 * exits per wall-clock second and the ratio to a floor loop run in the same process: the least
 * code that draws the same random numbers (one exponential per arrival) and writes the same
 * records (the timeline's intervals up to its capacity, one histogram sample per exit).
 */
import { analyze } from "../core/src/index";
import { DEFAULT_TIMELINE_INTERVALS, LogHistogram, Sfc32, simulate } from "../core/src/sim/index";

const TEXT = `
target skylake_server @ 2GHz
vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls
  field VIRTUAL_PROCESSOR_ID = 1
  ept { 0x0 .. 0x3_ffff_ffff rwx }
}
handler CPUID { work 100 advance_rip }
guest bench on v {
  vcpus 16
  path p rate 625k/s { cpuid }
  idle poll
}
`;

function floorLoop(exits: number, meanGapCycles: number, vcpus: number): number {
  // Same random draws (one exponential per arrival), same records: per exit a guest interval,
  // the exit and its handler, until the timeline is full, plus one histogram sample.
  const rng = new Sfc32(1);
  const cap = DEFAULT_TIMELINE_INTERVALS;
  const start = new Float64Array(cap);
  const duration = new Float64Array(cap);
  const vcpu = new Uint16Array(cap);
  const state = new Uint8Array(cap);
  const reason = new Int16Array(cap);
  const source = new Int32Array(cap);
  const hist = new LogHistogram();
  let count = 0;
  let t = 0;
  for (let i = 0; i < exits; i++) {
    t += rng.exponential(meanGapCycles);
    const v = i % vcpus;
    for (let k = 0; k < 3 && count < cap; k++) {
      start[count] = t;
      duration[count] = 100;
      vcpu[count] = v;
      state[count] = k;
      reason[count] = 10;
      source[count] = -1;
      count++;
    }
    hist.add(1800);
  }
  return count + hist.count + t * 0;
}

function main(): void {
  const analysis = analyze(TEXT);
  const errors = analysis.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join("; "));
  // Warm up the JIT.
  simulate(analysis.program, "bench", { durationSec: 0.02, seed: 1 });
  floorLoop(200_000, 3200, 16);

  const heapBefore = process.memoryUsage();
  const t0 = performance.now();
  const result = simulate(analysis.program, "bench", { durationSec: 1, seed: 1 });
  const simMs = performance.now() - t0;
  const heapAfter = process.memoryUsage();

  const t1 = performance.now();
  floorLoop(result.exits, 2e9 / (625e3 * 16), 16);
  const floorMs = performance.now() - t1;

  const simRate = result.exits / (simMs / 1000);
  const floorRate = result.exits / (floorMs / 1000);
  const mb = (n: number) => (n / 1048576).toFixed(0);
  console.log(
    `simulated exits:        ${result.exits} in 1 simulated second (${result.counters.events} events)`,
  );
  console.log(
    `simulator:              ${simMs.toFixed(0)} ms wall → ${(simRate / 1e6).toFixed(2)} M exits/s`,
  );
  console.log(
    `floor loop:             ${floorMs.toFixed(0)} ms wall → ${(floorRate / 1e6).toFixed(2)} M exits/s`,
  );
  console.log(`ratio simulator/floor:  ${(simRate / floorRate).toFixed(3)} (target ≥ 0.25)`);
  console.log(`target ≥ 10 M exits/s:  ${simRate >= 10e6 ? "met" : "NOT met"}`);
  console.log(
    `memory: rss ${mb(heapAfter.rss)} MB (before the run ${mb(heapBefore.rss)} MB), heap used ${mb(heapAfter.heapUsed)} MB, array buffers ${mb(heapAfter.arrayBuffers)} MB (target < 400 MB)`,
  );
  console.log(`timeline: ${result.timeline.count} intervals kept, decimated ${result.timeline.decimated}`);
}

main();
