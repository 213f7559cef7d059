/**
 * Messages issue #12 found confusing, each as the user meets it: a misspelt operation after a
 * complete one on the same line is reported as itself (it was blamed on the operation before it),
 * and a budget violated by the simulation is worded and printed in the units of the static check.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze } from "../core/src/index";
import { runCliCaptured } from "./support/cliIO";

const VMCS = `target skylake_server
vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting
  proc  hlt_exiting use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  io trap 0x3f8..0x3ff
  ept { 0x0 .. 0x7fff_ffff rwx }
}
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
`;

function tl(text: string) {
  return analyze(text).diagnostics.filter((d) => d.code.startsWith("TL0"));
}

describe("an unknown operation after a complete one", () => {
  test("guest: the unknown word is reported, with a suggestion, not the operation before it", () => {
    const text = `${VMCS}handler IO_INSTRUCTION { work 600 advance_rip }
guest g on kvm { path p rate 1k/s { compute 3us  outt 0x3f8 } }
`;
    const found = tl(text);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.code, "TL014");
    assert.match(found[0]!.message, /unknown guest operation `outt`; did you mean `out`\?/);
    assert.equal(text.slice(found[0]!.span.start, found[0]!.span.end), "outt");
    assert.doesNotMatch(found[0]!.message, /compute/);
  });

  test("in a branch arm and in a handler the same", () => {
    const text = `${VMCS}handler IO_INSTRUCTION { work 600 advance_ripp }
guest g on kvm { path p rate 1k/s { branch { 50% a: compute 3us cpuidd  50% b: compute 1us } } }
`;
    const messages = tl(text).map((d) => d.message);
    assert.deepEqual(messages, [
      "unknown handler operation `advance_ripp`; did you mean `advance_rip`?",
      "unknown guest operation `cpuidd`; did you mean `cpuid`?",
    ]);
  });

  test("a second value for an operation is still `takes …` (only a word starts the next operation)", () => {
    const text = `${VMCS}guest g on kvm { path p rate 1k/s { compute 3us 5us } }\n`;
    const found = tl(text);
    assert.equal(found.length, 1);
    assert.match(found[0]!.message, /unexpected .*5us.*: `compute` takes/);
  });
});

describe("budget messages: static and simulated in the same words and units", () => {
  const text = `${VMCS}handler IO_INSTRUCTION { work 6000 advance_rip }
guest g on kvm { vcpus 1  path p rate 100k/s { compute 1us  out 0x3f8 }  idle halt }
expect g { host_cpu < 5% }
`;
  test("host CPU as a share of a core in both", async () => {
    const estimate = await runCliCaptured(["estimate", "a.vmcs"], { "a.vmcs": text });
    const simulate = await runCliCaptured(["simulate", "a.vmcs", "--duration", "5ms"], { "a.vmcs": text });
    assert.equal(estimate.status, 1);
    assert.equal(simulate.status, 1);
    const shape = (how: string) =>
      new RegExp(
        `a\\.vmcs:15:\\d+: error TL401: host CPU [0-9.]+% of a core \\(${how}\\) violates the budget < 5% of a core of guest g`,
      );
    assert.match(estimate.stderr, shape("static estimate"));
    assert.match(simulate.stderr, shape("simulated"));
    assert.doesNotMatch(simulate.stderr, /cores/);
  });
});

describe("simulate: what --json has, the text says", () => {
  test("every counter and the host settings appear in the text report", async () => {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(new URL("../examples/halt-polling.vmcs", import.meta.url), "utf8");
    const argv = ["simulate", "a.vmcs", "--duration", "20ms"];
    const json = JSON.parse((await runCliCaptured([...argv, "--json"], { "a.vmcs": text })).stdout);
    const report = (await runCliCaptured(argv, { "a.vmcs": text })).stdout;
    const words: Record<string, string> = {
      events: "events",
      tsxAborts: "TSX aborts",
      haltPollSuccesses: "halts ended by polling",
      haltWakeups: "after sleeping",
      injections: "injections",
      kicks: "kicks",
      directedYields: "directed yields",
      haltPollGrows: "halt-poll window grown",
      haltPollShrinks: "shrunk",
    };
    assert.deepEqual(
      Object.keys(json.counters).sort(),
      Object.keys(words).sort(),
      "a new counter needs its words",
    );
    for (const [key, value] of Object.entries(json.counters))
      assert.ok(report.includes(`${words[key]} ${value}`), `${words[key]} ${value} in\n${report}`);
    assert.match(report, /mean [0-9.]+ [µnm]?s {2}p99/, "mean interrupt latency");
    assert.ok(json.host, "the example sets host settings");
    assert.match(report, /host: halt_poll .+ grow \d+ start .+ shrink \d+; ple_window /);
  });
});
