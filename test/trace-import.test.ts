/**
 * The trace importer (core/src/trace): detection of every format, perf kvm stat's pairing
 * rules, statistics against hand-computed values and against the numbers perf printed, bad
 * lines, truncation, and streaming in arbitrary chunks.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  detectFormat,
  importTrace,
  resolveReasonText,
  Sfc32,
  TraceImporter,
  type TraceResult,
} from "../core/src/index";

const FIXTURES = fileURLToPath(new URL("./fixtures/traces/", import.meta.url));
const read = (name: string): string => readFileSync(FIXTURES + name, "utf8");
const rowOf = (r: TraceResult, key: string) => {
  const row = r.exits.rows.find((x) => x.key === key);
  assert.ok(row, `row ${key} in ${r.exits.rows.map((x) => x.key).join(", ")}`);
  return row;
};
const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected} (±${tolerance})`);

describe("fixtures: every file cites its source and is read without bad lines", () => {
  const files = [
    ["perf-kvm-stat-report-0xba1a.txt", "perf-kvm-stat"],
    ["perf-kvm-stat-report-compute-go.txt", "perf-kvm-stat"],
    ["perf-kvm-stat-hist-riscv.txt", "perf-kvm-stat"],
    ["perf-kvm-stat-live-generated.txt", "perf-kvm-stat"],
    ["perf-kvm-stat-svm-ioport-generated.txt", "perf-kvm-stat"],
    ["ftrace-nested-repro.txt", "ftrace"],
    ["ftrace-msr-compute-go.txt", "ftrace"],
    ["ftrace-old-firecracker.txt", "ftrace"],
    ["perf-script-5.13.txt", "perf-script"],
    ["libtraceevent-kvm-plugin.txt", "trace-cmd"],
    ["trace-cmd-generated-pairing.txt", "trace-cmd"],
    ["trace-cmd-generated-multifile.txt", "trace-cmd"],
    ["kvm-stat-display-compute-go.txt", "kvm-stat"],
    ["kvm-stat-batch-generated.txt", "kvm-stat"],
    ["kvm-stat-log-generated.txt", "kvm-stat-log"],
  ] as const;
  for (const [file, format] of files) {
    test(`${file} → ${format}`, () => {
      const text = read(file);
      assert.match(text.split("\n")[0]!, /^# source: \S/);
      const r = importTrace(text);
      assert.equal(r.format, format);
      assert.equal(r.detectedBy, "content");
      assert.equal(r.badLineCount, 0, JSON.stringify(r.badLines));
      assert.ok(r.recognized > 0);
      // Detection from the first lines alone, without the source comment.
      assert.equal(detectFormat(text.split("\n").slice(1, 40)), format);
    });
  }
});

describe("perf kvm stat report: parsed rows equal the printed numbers", () => {
  test("0xba1a blog report (classic header)", () => {
    const r = importTrace(read("perf-kvm-stat-report-0xba1a.txt"));
    assert.equal(r.kind, "report");
    assert.equal(r.report?.header, "classic");
    assert.equal(r.isa, "vmx");
    const printed: [string, number, number, number, number, number, number, number, number][] = [
      // name, code, samples, samples%, time%, min, max, avg (µs), rel stddev %
      ["MSR_WRITE", 32, 9167, 35.4, 0.04, 0.45, 9554.94, 3.0, 41.94],
      ["EXTERNAL_INTERRUPT", 1, 5877, 22.69, 0.02, 0.37, 1175.48, 2.43, 17.9],
      ["PREEMPTION_TIMER", 52, 5728, 22.12, 0.01, 0.51, 21.14, 0.62, 0.87],
      ["HLT", 12, 2232, 8.62, 99.92, 0.56, 1001118.99, 30567.94, 9.88],
      ["CPUID", 10, 2160, 8.34, 0.0, 0.4, 12.82, 0.65, 1.29],
      ["PAUSE_INSTRUCTION", 40, 390, 1.51, 0.0, 0.38, 1490.19, 8.27, 62.22],
      ["EPT_MISCONFIG", 49, 303, 1.17, 0.01, 1.04, 167.13, 13.33, 8.61],
      ["EOI_INDUCED", 45, 37, 0.14, 0.0, 0.62, 3.0, 1.24, 6.58],
      ["EXCEPTION_NMI", 0, 4, 0.02, 0.0, 0.42, 0.56, 0.47, 6.81],
    ];
    assert.deepEqual(
      r.exits.rows.map((x) => x.key),
      printed.map((p) => p[0]),
    );
    for (const [name, code, samples, samplePct, timePct, min, max, avg, rel] of printed) {
      const row = rowOf(r, name);
      assert.equal(row.code, code, name);
      assert.equal(row.count, samples, name);
      close(row.minNs, min * 1000, 1e-6, `${name} min`);
      close(row.maxNs, max * 1000, 1e-6, `${name} max`);
      close(row.meanNs, avg * 1000, 1e-6, `${name} mean`);
      close(row.relStddevPercent, rel, 1e-9, `${name} ±`);
      // Shares recomputed from the rows agree with perf's rounded percentages.
      close(row.sampleShare * 100, samplePct, 0.005 + 1e-9, `${name} Samples%`);
      // Time% from mean×count (perf prints means to 10 ns): within rounding of the printed value.
      close(row.timeShare * 100, timePct, 0.02, `${name} Time%`);
    }
    assert.equal(r.exits.totalCount, 25898);
    assert.equal(r.report?.totalSamples, 25898);
    close(r.report!.totalTimeNs!, 68281638.61 * 1000, 1e-3, "footer time");
    // The footer's total agrees with Σ mean×count to the rounding of the printed means.
    close(r.exits.totalNs / 1000, 68281638.61, 2232 * 0.005 + 9167 * 0.005 + 100, "Σ mean×count");
  });

  test("compute-go report: the overflowing HLT row splits on whitespace", () => {
    const r = importTrace(read("perf-kvm-stat-report-compute-go.txt"));
    const hlt = rowOf(r, "HLT");
    assert.equal(hlt.count, 71);
    close(hlt.minNs, 88_900, 1e-6, "min");
    close(hlt.maxNs, 3_315_419_600, 1e-3, "max");
    close(hlt.meanNs, 602_567_950, 1e-3, "mean");
    close(hlt.relStddevPercent, 14.17, 1e-9, "±");
    assert.equal(rowOf(r, "PREEMPTION_TIMER").relStddevPercent, 0);
    assert.equal(r.exits.totalCount, 309);
  });

  test("hists header (RISC-V names keep their text, no code)", () => {
    const r = importTrace(read("perf-kvm-stat-hist-riscv.txt"));
    assert.equal(r.report?.header, "hist");
    const store = rowOf(r, "STORE_GUEST_PAGE_FAULT");
    assert.equal(store.code, undefined);
    assert.equal(store.count, 26968);
    assert.equal(store.totalNs, 2003031800);
    assert.equal(store.maxNs, 3361400);
    assert.equal(store.minNs, 27600);
    assert.equal(Math.trunc(store.meanNs), 74274);
    // perf's hists percentages are integer (ev_percent_* return int): the floor of ours.
    assert.equal(Math.floor(store.sampleShare * 100), 54);
    assert.equal(Math.floor(rowOf(r, "LOAD_ACCESS").timeShare * 100), 13);
    assert.equal(rowOf(r, "HYPERVISOR_SYSCALL").count, 21);
  });

  test("live snapshots are summed (perf resets after each display); lost events kept", () => {
    const r = importTrace(read("perf-kvm-stat-live-generated.txt"));
    assert.equal(r.report?.snapshots, 2);
    const hlt = rowOf(r, "HLT");
    assert.equal(hlt.count, 400);
    close(hlt.meanNs, (100 * 90_000 + 300 * 110_000) / 400, 1e-6, "pooled mean");
    assert.equal(hlt.minNs, 8000);
    assert.equal(hlt.maxNs, 400_000);
    // Pooled M2 from both snapshots' relative standard errors (hand computation):
    // snapshot s_mean = rel·mean/100 → variance = n·s_mean² → M2 = variance·(n−1).
    const m2a = (0.1 * 90_000) ** 2 * 100 * 99;
    const m2b = (0.1 * 110_000) ** 2 * 300 * 299;
    const m2 = m2a + m2b + ((110_000 - 90_000) ** 2 * 100 * 300) / 400;
    close(hlt.stddevNs, Math.sqrt(m2 / 399), 1e-6, "pooled stddev");
    assert.equal(r.lostEvents, 3);
    assert.equal(r.window?.durationSec, 2);
    assert.equal(hlt.ratePerSecond, 200);
  });

  test("SVM names and the IO Port Access table", () => {
    const r = importTrace(read("perf-kvm-stat-svm-ioport-generated.txt"));
    assert.equal(r.isa, "svm");
    assert.equal(rowOf(r, "npf").code, 0x400);
    assert.equal(rowOf(r, "io").code, 0x7b);
    assert.equal(rowOf(r, "DE excp").code, 0x40);
    assert.deepEqual(
      r.ioport.rows.map((x) => [x.key, x.code, x.count]),
      [
        ["0xcf8:POUT", 0xcf8, 200],
        ["0xcfc:PIN", 0xcfc, 100],
      ],
    );
  });
});

describe("pairing as perf kvm stat does it (generated trace-cmd report, answers by hand)", () => {
  const r = importTrace(read("trace-cmd-generated-pairing.txt"));

  test("vCPU learned from the first kvm_entry; events before it ignored; ends without begin dropped; end before begin skipped", () => {
    // 5001's HLT exit at .000000 precedes its first entry; 5003 never enters.
    assert.equal(r.pairing.ignoredBeforeFirstEntry, 2);
    // 5001's and 5002's first entries, and 5002's second entry in a row at .000070.
    assert.equal(r.pairing.unpairedEntries, 3);
    // 5001: exit .000080, entry .000075.
    assert.equal(r.pairing.endBeforeBegin, 1);
    assert.equal(
      r.exits.rows.find((x) => x.key === "HLT"),
      undefined,
    );
    assert.deepEqual(
      r.threads.map((t) => [t.tid, t.comm, t.vcpu, t.exits]),
      [
        [5001, "CPU 0/KVM", 0, 3],
        [5002, "CPU 1/KVM", 1, 2],
      ],
    );
  });

  test("per-reason statistics", () => {
    // MSR_WRITE 4 µs and 6 µs: mean 5, sample variance 2e6 ns², perf ± = sqrt(2e6/2)/5000 = 20 %.
    const msr = rowOf(r, "MSR_WRITE");
    assert.deepEqual(
      [msr.count, msr.totalNs, msr.minNs, msr.maxNs, msr.meanNs],
      [2, 10_000, 4000, 6000, 5000],
    );
    close(msr.stddevNs, Math.sqrt(2e6), 1e-9, "stddev");
    close(msr.relStddevPercent, 20, 1e-9, "±");
    // EPT_MISCONFIG 8 µs (vCPU 1) and 12 µs (vCPU 0).
    const ept = rowOf(r, "EPT_MISCONFIG");
    assert.deepEqual([ept.count, ept.minNs, ept.maxNs, ept.meanNs], [2, 8000, 12_000, 10_000]);
    close(ept.relStddevPercent, 20, 1e-9, "±");
    const io = rowOf(r, "IO_INSTRUCTION");
    assert.deepEqual([io.count, io.meanNs, io.code], [1, 10_000, 30]);
    assert.equal(r.exits.totalCount, 5);
    assert.equal(r.exits.totalNs, 40_000);
    assert.deepEqual(
      r.exits.rows.map((x) => x.timeShare),
      [0.25, 0.5, 0.25],
    );
    // Percentiles within the histogram's ±1.09 %, clamped to the exact min and max.
    close(ept.p50Ns!, 8000, 8000 * 0.011, "p50");
    close(ept.p99Ns!, 12_000, 12_000 * 0.011, "p99");
    // Window .000000 … .000102.
    close(r.window!.durationSec, 102e-6, 1e-12, "window");
    close(msr.ratePerSecond!, 2 / 102e-6, 1e-6, "rate");
  });

  test("mmio and ioport pairing", () => {
    // write: kvm_mmio WRITE .000023 → kvm_entry .000030; read: kvm_exit .000090 → kvm_mmio READ .000091.
    assert.deepEqual(
      r.mmio.rows.map((x) => [x.key, x.count, x.meanNs]),
      [
        ["0xfebf0000:W", 1, 7000],
        ["0xfebf0004:R", 1, 1000],
      ],
    );
    // kvm_pio .000051 → kvm_entry .000060.
    assert.deepEqual(
      r.ioport.rows.map((x) => [x.key, x.count, x.meanNs]),
      [["0xcf8:POUT", 1, 9000]],
    );
  });

  test("details and guest RIPs attached to their exit", () => {
    assert.deepEqual(rowOf(r, "MSR_WRITE").details, [{ key: "msr_write 0x6e0", count: 1, totalNs: 4000 }]);
    assert.deepEqual(rowOf(r, "EPT_MISCONFIG").details, [
      { key: "mmio read 0xfebf0004", count: 1, totalNs: 12_000 },
      { key: "mmio write 0xfebf0000", count: 1, totalNs: 8000 },
    ]);
    assert.deepEqual(rowOf(r, "IO_INSTRUCTION").details, [
      { key: "pio_write 0xcf8", count: 1, totalNs: 10_000 },
    ]);
    assert.deepEqual(rowOf(r, "MSR_WRITE").rips, [{ rip: "0xffffffff81000030", count: 2 }]);
  });

  test("per-vCPU statistics and timeline", () => {
    assert.deepEqual(
      r.vcpus.map((v) => [v.vcpu, v.threads, v.exits.count, v.exits.totalNs]),
      [
        [0, [5001], 3, 22_000],
        [1, [5002], 2, 18_000],
      ],
    );
    const v0 = r.vcpus[0]!;
    assert.deepEqual(
      v0.rows.map((x) => [x.key, x.count]),
      [
        ["MSR_WRITE", 2],
        ["EPT_MISCONFIG", 1],
      ],
    );
    const tl = v0.timeline!;
    assert.equal(tl.stride, 1);
    assert.deepEqual([...tl.startNs], [20_000, 40_000, 90_000]);
    assert.deepEqual([...tl.durationNs], [4000, 6000, 12_000]);
    assert.deepEqual(
      [...tl.reason].map((i) => r.exits.rows[i]!.key),
      ["MSR_WRITE", "MSR_WRITE", "EPT_MISCONFIG"],
    );
  });

  test("multi-file trace-cmd report: the same pid in two files is two threads", () => {
    const m = importTrace(read("trace-cmd-generated-multifile.txt"));
    assert.deepEqual(
      m.threads.map((t) => [t.file, t.tid, t.vcpu, t.exits]),
      [
        ["trace.dat", 7000, 0, 1],
        ["trace-guest.dat", 7000, 0, 0],
      ],
    );
    assert.equal(rowOf(m, "CPUID").meanNs, 3000);
    assert.deepEqual(rowOf(m, "CPUID").details, [{ key: "cpuid 0x1", count: 1, totalNs: 3000 }]);
    assert.equal(m.eventCounts.sched_switch, 1);
  });
});

describe("real event fixtures", () => {
  test("nested repro: EXCEPTION_NMI before the first entry is ignored, the paired EPT_VIOLATION is 5 µs", () => {
    const r = importTrace(read("ftrace-nested-repro.txt"));
    assert.deepEqual(
      r.exits.rows.map((x) => [x.key, x.count, x.meanNs]),
      [["EPT_VIOLATION", 1, 5000]],
    );
    assert.deepEqual(rowOf(r, "EPT_VIOLATION").details, [
      // error_code 0x181 is the EPT-violation exit qualification: bit 0, a data read.
      { key: "page_fault 0x1050 read", count: 1, totalNs: 5000 },
    ]);
    assert.equal(r.pairing.ignoredBeforeFirstEntry, 1);
    assert.equal(r.eventCounts.kvm_nested_vmexit, 3);
    assert.equal(r.threads[0]?.comm, "repro");
  });

  test("task names with spaces and slashes; a trace with only kvm_msr pairs nothing", () => {
    const r = importTrace(read("ftrace-msr-compute-go.txt"));
    assert.equal(r.eventCounts.kvm_msr, 9);
    assert.equal(r.exits.totalCount, 0);
    assert.equal(r.ignored, 13);
  });

  test("perf script without comm/pid: the vCPU number stands in for the thread", () => {
    const r = importTrace(read("perf-script-5.13.txt"));
    assert.equal(r.eventCounts.kvm_userspace_exit, 1);
    assert.equal(r.eventCounts.kvm_fpu, 1);
    assert.deepEqual(
      r.vcpus.map((v) => v.vcpu),
      [0],
    );
    assert.equal(r.pairing.unpairedEntries, 1);
  });

  test("libtraceevent example layout (timestamp before the CPU) and the old Firecracker lines", () => {
    const lib = importTrace(read("libtraceevent-kvm-plugin.txt"));
    assert.equal(lib.threads[0]?.comm, "CPU 0/KVM");
    assert.equal(lib.threads[0]?.tid, 20407);
    const fc = importTrace(read("ftrace-old-firecracker.txt"));
    assert.equal(fc.threads[0]?.comm, "fc_vcpu 0");
    assert.equal(fc.eventCounts.kvm_vcpu_wakeup, 1);
  });

  test("kvm_stat display, batch and log", () => {
    const d = importTrace(read("kvm-stat-display-compute-go.txt"));
    assert.equal(d.kind, "counters");
    assert.equal(d.exits.latency, false);
    assert.equal(d.exits.totalCount, 1133);
    assert.deepEqual(
      d.counters.find((c) => c.name === "kvm_msr"),
      { name: "kvm_msr", total: 816, ratePerSecond: 58 },
    );
    const b = importTrace(read("kvm-stat-batch-generated.txt"));
    assert.deepEqual(
      b.exits.rows.map((x) => [x.key, x.code, x.count, x.ratePerSecond]),
      [
        ["HLT", 12, 90000, 3000],
        ["EPT_MISCONFIG", 49, 20000, 700],
        ["MSR_WRITE", 32, 13456, 400],
      ],
    );
    const l = importTrace(read("kvm-stat-log-generated.txt"));
    assert.deepEqual(
      l.exits.rows.map((x) => [x.key, x.count, x.ratePerSecond]),
      [
        ["HLT", 1800, 600],
        ["MSR_WRITE", 1200, 400],
      ],
    );
    assert.equal(l.window?.durationSec, 3);
  });
});

describe("exit reasons, flags, unknown codes, bad lines, truncation", () => {
  test("flags, [immediate exit], __print_symbolic's hex fallback, RHEL7 forms, bad lines with line numbers", () => {
    const r = importTrace(read("ftrace-generated-flags.txt"));
    const failed = rowOf(r, "INVALID_STATE FAILED_VMENTRY");
    assert.equal(failed.code, (33 | 0x80000000) >>> 0);
    assert.deepEqual(failed.flags, ["FAILED_VMENTRY"]);
    assert.equal(failed.meanNs, 3000);
    assert.equal(rowOf(r, "0x20000").code, 0x20000);
    assert.equal(rowOf(r, "EXTERNAL_INTERRUPT").meanNs, 2000);
    assert.deepEqual(rowOf(r, "EXTERNAL_INTERRUPT").details, [
      { key: "inj_virq irq 236", count: 1, totalNs: 2000 },
      // The old `info A B`: B is the interruption information, valid, vector 0xec.
      { key: "vector 0xec", count: 1, totalNs: 2000 },
    ]);
    assert.equal(r.badLineCount, 1);
    assert.deepEqual(r.badLines[0], {
      line: 11,
      text: "this line is not a trace line",
      reason: "not a trace event line",
    });
    assert.equal(r.truncated, false);
  });

  test("details are bounded per reason; the overflow is counted, repeats included", () => {
    const lines = [" q-1 [000] 1.000000: kvm_entry: vcpu 0, rip 0x0"];
    for (let i = 0; i < 70 * 2; i++) {
      const us = (10 + i * 3).toString().padStart(6, "0");
      lines.push(` q-1 [000] 1.${us}: kvm_exit: vcpu 0 reason MSR_WRITE rip 0x10 info1 0x0 info2 0x0`);
      lines.push(` q-1 [000] 1.${us}: kvm_msr: msr_write ${(0x800 + (i % 70)).toString(16)} = 0x1`);
      lines.push(` q-1 [000] 1.${us}: kvm_entry: vcpu 0, rip 0x12`);
    }
    const row = rowOf(importTrace(lines.join("\n")), "MSR_WRITE");
    assert.equal(row.details?.length, 64);
    assert.ok(row.details!.every((d) => d.count === 2));
    assert.equal(row.detailsOverflow, 12);
  });

  test("reason text resolution", () => {
    assert.equal(resolveReasonText("UNKNOWN (131072)").code, 131072);
    assert.equal(resolveReasonText("PENDING_INTERRUPT").code, 7);
    assert.equal(resolveReasonText("hlt").code, 0x78);
    assert.equal(resolveReasonText("HLT").code, 12);
    assert.equal(resolveReasonText("EXIT_NPF").code, 0x400);
    assert.equal(resolveReasonText("NO_SUCH_REASON").code, undefined);
    assert.equal(resolveReasonText("NO_SUCH_REASON").display, "NO_SUCH_REASON");
  });

  test("a truncated file gives what it holds; the cut line is counted, not fatal", () => {
    const text = read("trace-cmd-generated-pairing.txt");
    const cut = text.lastIndexOf("kvm_entry:") + 8; // mid-word in the last line
    const r = importTrace(text.slice(0, cut));
    assert.equal(r.truncated, true);
    assert.equal(r.badLineCount, 1);
    assert.equal(r.badLines[0]!.line, 24);
    // Everything before the last line is there: the last EPT_MISCONFIG exit never ended.
    assert.equal(rowOf(r, "EPT_MISCONFIG").count, 1);
    assert.equal(rowOf(r, "MSR_WRITE").count, 2);
    // A cut inside the fields still parses what it needs.
    const r2 = importTrace(text.slice(0, text.length - 12));
    assert.equal(rowOf(r2, "EPT_MISCONFIG").count, 2);
    assert.equal(r2.truncated, false);
  });

  test("foreign text: no format, every line bad, only the first few kept", () => {
    const text = Array.from({ length: 50 }, (_, i) => `hello ${i} world`).join("\n");
    const r = importTrace(text);
    assert.equal(r.format, undefined);
    assert.equal(r.badLineCount, 50);
    assert.equal(r.badLines.length, 10);
    assert.equal(r.badLines[9]!.line, 10);
  });

  test("--format override reads foreign-looking lines as events, counting the rest bad", () => {
    const text = "garbage\n     qemu-1 [000] 1.000000: kvm_entry: vcpu 3, rip 0x0\n";
    const r = importTrace(text, { format: "ftrace" });
    assert.equal(r.detectedBy, "override");
    assert.equal(r.badLineCount, 1);
    assert.deepEqual(
      r.vcpus.map((v) => v.vcpu),
      [3],
    );
  });
});

describe("streaming", () => {
  const same = (a: TraceResult, b: TraceResult) => {
    const strip = (r: TraceResult) =>
      JSON.stringify(r, (_k, v) => (ArrayBuffer.isView(v) ? [...(v as Float64Array)] : v));
    assert.equal(strip(a), strip(b));
  };

  test("small random chunk sizes give the result of one chunk, for every fixture", () => {
    const rng = new Sfc32(7);
    for (const file of [
      "trace-cmd-generated-pairing.txt",
      "ftrace-generated-flags.txt",
      "perf-kvm-stat-report-0xba1a.txt",
      "perf-kvm-stat-live-generated.txt",
      "kvm-stat-log-generated.txt",
      "trace-cmd-generated-multifile.txt",
    ]) {
      const text = read(file);
      const whole = importTrace(text);
      for (let round = 0; round < 5; round++) {
        const importer = new TraceImporter();
        for (let i = 0; i < text.length; ) {
          const n = 1 + Math.floor(rng.next() * 17);
          importer.feed(text.slice(i, i + n));
          i += n;
        }
        same(importer.end(), whole);
      }
    }
  });

  test("a long generated trace: bounded timeline sample, exact statistics, progress and cancellation", () => {
    const lines: string[] = [];
    let t = 0;
    const exits = 20_000;
    for (let i = 0; i < exits; i++) {
      const ts = (sec: number) =>
        `${(100 + Math.floor(sec / 1e6)).toString()}.${(sec % 1e6).toString().padStart(6, "0")}`;
      lines.push(
        ` CPU 0/KVM-42  [001] ${ts(t)}: kvm_exit: vcpu 0 reason ${i % 3 === 0 ? "HLT" : "MSR_WRITE"} rip 0x10 info 0 0`,
      );
      t += 1 + (i % 5);
      lines.push(` CPU 0/KVM-42  [001] ${ts(t)}: kvm_entry: vcpu 0 rip 0x10`);
      t += 2;
    }
    const text = `${lines.join("\n")}\n`;
    const progress: number[] = [];
    const importer = new TraceImporter({
      timelineCapacity: 1000,
      progressEveryLines: 10_000,
      onProgress: (p) => progress.push(p.lines),
    });
    for (let i = 0; i < text.length; i += 65_536) importer.feed(text.slice(i, i + 65_536));
    const r = importer.end();
    // The first kvm_exit precedes the thread's first kvm_entry: ignored, as perf does.
    assert.equal(r.exits.totalCount, exits - 1);
    const hlt = rowOf(r, "HLT");
    let expected = 0;
    for (let i = 3; i < exits; i += 3) expected += 1 + (i % 5);
    assert.equal(hlt.totalNs, expected * 1000);
    const tl = r.vcpus[0]!.timeline!;
    assert.ok(tl.startNs.length <= 1000 && tl.startNs.length > 500, String(tl.startNs.length));
    assert.equal(tl.stride, 32);
    // Evenly decimated: every 32nd paired exit.
    assert.equal(
      tl.startNs[1]! - tl.startNs[0]!,
      32 * 3000 + [...Array(32).keys()].reduce((s, k) => s + ((k + 1) % 5), 0) * 1000,
    );
    assert.deepEqual(progress, [10_000, 20_000, 30_000, 40_000]);

    const cancelled = new TraceImporter();
    cancelled.feed(text.slice(0, 300_000));
    cancelled.cancel();
    cancelled.feed(text.slice(300_000));
    const c = cancelled.end();
    assert.equal(c.cancelled, true);
    assert.ok(c.exits.totalCount > 0 && c.exits.totalCount < exits - 1);
    const aborted = new TraceImporter({ signal: { aborted: true }, progressEveryLines: 100 });
    aborted.feed(text);
    assert.equal(aborted.end().lines, 100);
  });
});
