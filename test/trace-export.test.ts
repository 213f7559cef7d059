/** Simulation → `trace-cmd report` text (core/src/trace/export.ts) → importer: the round trip. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type CliIO, runCli } from "../cli/src/main";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { importTrace, TraceExportError, timelineToTraceCmd } from "../core/src/trace/index";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const HLT = 12;

function run(text: string, durationSec: number, options: { timelineIntervals?: number } = {}) {
  const analysis = analyze(text);
  const guest = [...analysis.program.guests.keys()][0]!;
  return simulate(analysis.program, guest, {
    durationSec,
    seed: 3,
    positionAt: (o) => analysis.lines.positionAt(o),
    ...options,
  });
}

describe("timelineToTraceCmd", () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith(".vmcs"))) {
    test(`${file}: counts exact, mean latency within the 1 ns timestamp resolution`, () => {
      const result = run(readFileSync(`${EXAMPLES}${file}`, "utf8"), 0.01);
      const trace = importTrace(timelineToTraceCmd(result.timeline));
      assert.equal(trace.format, "trace-cmd");
      assert.equal(trace.badLineCount, 0);
      assert.equal(trace.vcpus.length, result.vcpus);
      // The only unpaired entries are each thread's first.
      assert.equal(trace.pairing.unpairedEntries, result.vcpus);
      // A nested run is traced per level (test/trace-export-nested.test.ts checks its counts).
      if (result.nested) return;
      assert.equal(trace.exits.totalCount, result.exits);
      for (const sim of result.byReason) {
        const row = trace.exits.rows.find((r) => r.code === sim.code);
        assert.ok(row, `${sim.reason} missing from the trace`);
        assert.equal(row.count, sim.exits, sim.reason);
        if (sim.code === HLT) {
          // KVM's HLT exit holds the halted time: never shorter than the handling.
          assert.ok(row.meanNs >= sim.duration.mean * 1e9 - 1);
          continue;
        }
        // Each latency is a difference of two timestamps rounded to 1 ns: ±1 ns.
        const simMeanNs = (sim.cyclesPerExit / result.target.hz) * 1e9;
        assert.ok(Math.abs(row.meanNs - simMeanNs) <= 1, `${sim.reason}: ${row.meanNs} vs ${simMeanNs}`);
      }
    });
  }

  test("lines: plugin_kvm fields, QEMU's thread names, nanosecond timestamps, kvm_msr of a wrmsr", () => {
    const text = readFileSync(
      fileURLToPath(new URL("./fixtures/measured/tsc-deadline.vmcs", import.meta.url)),
      "utf8",
    );
    const out = timelineToTraceCmd(run(text, 0.002).timeline, { pid: 7000, baseSec: 50 });
    const lines = out.split("\n");
    assert.equal(lines[0], "version = 6");
    assert.match(
      lines[2]!,
      /^ {2}CPU 0\/KVM-7001 \[000\] 50\.000000000: kvm_entry: +vcpu 0 rip 0x[0-9a-f]+$/,
    );
    assert.ok(
      lines.some((l) =>
        /CPU 0\/KVM-7001 \[000\] 50\.\d{9}: kvm_exit: +vcpu 0 reason MSR_WRITE rip 0x[0-9a-f]+ info 0 0 intr_info 0x0 error_code 0x0$/.test(
          l,
        ),
      ),
    );
    // IA32_TSC_DEADLINE is MSR 6E0H (SDM Vol. 4 Table 2-2).
    assert.ok(lines.some((l) => l.endsWith("kvm_msr:              msr_write 6e0 = 0x0")));
    const trace = importTrace(out);
    const msr = trace.exits.rows.find((r) => r.reason === "MSR_WRITE")!;
    assert.deepEqual(
      msr.details?.map((d) => d.key),
      ["msr_write 0x6e0"],
    );
  });

  test("a decimated timeline is refused", () => {
    const text = readFileSync(`${EXAMPLES}kvm-default.vmcs`, "utf8");
    assert.throws(
      () => timelineToTraceCmd(run(text, 0.01, { timelineIntervals: 16 }).timeline),
      TraceExportError,
    );
  });

  test("trapline simulate --trace-cmd writes the file", async () => {
    const written: Record<string, string> = {};
    const io: CliIO = {
      stdout: () => {},
      stderr: () => {},
      readFile: () => readFileSync(`${EXAMPLES}kvm-default.vmcs`, "utf8"),
      writeFile: (path, data) => {
        written[path] = data;
      },
    };
    assert.equal(await runCli(["simulate", "k.vmcs", "--duration", "2ms", "--trace-cmd", "out.txt"], io), 0);
    assert.match(
      written["out.txt"]!,
      /^# trapline simulate k\.vmcs --guest netperf --duration 0\.002s --seed 1\n/,
    );
    assert.equal(importTrace(written["out.txt"]!).badLineCount, 0);
  });
});
