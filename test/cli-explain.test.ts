/**
 * Issue #12 "Also": `trapline estimate --explain` (why each exit reason exits, in text and JSON),
 * the simulate report's text showing what only its JSON had (TSX aborts, mean latency, paths), and
 * CLI messages the issue found confusing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CliIO, runCli } from "../cli/src/main";
import { formatRate, formatSeconds } from "../core/src/util/format";

const FILE = `target skylake_server @ 2GHz
vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting
  proc  hlt_exiting use_tpr_shadow use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  io trap 0x3f8..0x3ff
  ept { 0x0 .. 0x7fff_ffff rwx }
}
handler IO_INSTRUCTION { work 600 advance_rip }
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
guest first on kvm {
  vcpus 2
  path serial rate 10k/s { compute 2us  out 0x3f8 }
  path quiet rate 1k/s { compute 1us  out 0x3f9 }
  idle halt
}
`;

// Interrupts beside a pure-compute transaction abort it (issue #12, wrong result 2).
const TSX = `target skylake_server @ 2GHz
vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting
  proc  hlt_exiting use_tpr_shadow use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  ept { 0x0 .. 0x7fff_ffff rwx }
}
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
guest g on kvm {
  vcpus 1
  path t rate 50k/s { tsx { compute 5us } }
  irq nic vector 0x41 rate 50k/s { compute 1us }
  idle halt
}
`;

// A keyword where a name goes: \`ipi\` is the guest statement of inter-processor interrupts.
const KEYWORD_NAME = FILE.replace("path quiet rate 1k/s", "path ipi rate 1k/s");

const FILES: Record<string, string> = { "a.vmcs": FILE, "tsx.vmcs": TSX, "ipi.vmcs": KEYWORD_NAME };

async function run(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    readFile: (path) => {
      const text = FILES[path];
      if (text === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return text;
    },
    writeFile: () => {},
  };
  const status = await runCli(argv, io);
  return { status, stdout, stderr };
}

interface Explained {
  reason: string;
  code: number;
  exitsPerSecond: number;
  decisions: {
    rule: string;
    detail?: string;
    controls: string[];
    source: string;
    operations: { line: number; text: string; exitsPerSecond: number }[];
  }[];
}

describe("estimate --explain", () => {
  test("text: the normal report, then per exit reason the rule, controls and source", async () => {
    const plain = await run(["estimate", "a.vmcs"]);
    const r = await run(["estimate", "a.vmcs", "--explain"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(plain.stdout), "the report without --explain comes first, unchanged");
    const section = r.stdout.slice(plain.stdout.length);
    assert.match(section, /^\nWhy it exits \(per exit reason\):\n/);
    // The I/O exits: both ports, their lines, the I/O-bitmap rule and its controls and section.
    assert.match(section, / {2}IO_INSTRUCTION \(30\), 22k\/s \(all vCPUs\)\n/);
    assert.match(section, /at line 16 `out 0x3f8` \(20k\/s\)/);
    assert.match(section, /line 17 `out 0x3f9` \(2k\/s\)/);
    assert.match(section, /rule: OUT 0x3f8 exits: use I\/O bitmaps is 1/);
    assert.match(section, /controls: use_io_bitmaps=1, unconditional_io_exiting=0/);
    assert.match(section, /source: SDM Vol\. 3C §26\.1\.3/);
    // The idle loop's HLT, decided by hlt_exiting.
    assert.match(
      section,
      / {2}HLT \(12\), [^\n]+\n {4}at line 18 `idle halt`[^\n]*\n {6}rule: idle halt[^\n]*\n {6}controls: hlt_exiting=1\n/,
    );
  });

  test("JSON: an explain array only with --explain; the contract's fields unchanged", async () => {
    const plain = JSON.parse((await run(["estimate", "a.vmcs", "--json"])).stdout) as Record<string, unknown>;
    assert.equal("explain" in plain, false);
    const r = await run(["estimate", "a.vmcs", "--json", "--explain"]);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, unknown> & { explain: Explained[] };
    const { explain, ...rest } = json;
    assert.deepEqual(rest, plain);
    const byReason = plain.byReason as { reason: string; exitsPerSecond: number }[];
    assert.deepEqual(
      explain.map((e) => e.reason),
      byReason.filter((b) => b.exitsPerSecond > 0).map((b) => b.reason),
    );
    for (const e of explain) {
      const reason = byReason.find((b) => b.reason === e.reason)!;
      assert.equal(e.exitsPerSecond, reason.exitsPerSecond);
      assert.ok(e.decisions.length > 0, `${e.reason} is explained`);
      // The operations' rates add up to the reason's (no enclosing operation counted twice).
      const sum = e.decisions.flatMap((d) => d.operations).reduce((s, o) => s + o.exitsPerSecond, 0);
      assert.ok(Math.abs(sum - e.exitsPerSecond) <= 1e-6 * e.exitsPerSecond, `${e.reason}: ${sum}`);
      for (const d of e.decisions) {
        assert.ok(d.rule.length > 0 && d.source.length > 0);
        assert.ok(d.controls.length > 0, `${e.reason}: the deciding controls`);
      }
    }
    const io = explain.find((e) => e.reason === "IO_INSTRUCTION")!;
    assert.deepEqual(
      io.decisions.flatMap((d) => d.operations.map((o) => [o.line, o.text])),
      [
        [16, "out 0x3f8"],
        [17, "out 0x3f9"],
      ],
    );
  });

  test("help names the flag", async () => {
    const r = await run(["estimate", "--help"]);
    assert.match(r.stdout, /--explain/);
  });
});

describe("simulate text: what only --json had", () => {
  test("TSX aborts, mean irq latency (total and per source), paths, the counters", async () => {
    const args = ["simulate", "tsx.vmcs", "--duration", "20ms", "--seed", "3"];
    const text = await run(args);
    const r = await run([...args, "--json"]);
    assert.equal(text.status, 0, text.stderr);
    const json = JSON.parse(r.stdout) as {
      counters: Record<string, number>;
      latency: { irq: { mean: number }; bySource: Record<string, { mean: number; count: number }> };
      paths: {
        name: string;
        kind: string;
        arrivals: number;
        executions: number;
        executionsPerSecond: number;
        dropped: number;
      }[];
    };
    const c = json.counters;
    assert.ok(c.tsxAborts! > 0, "interrupts abort the transactions");
    assert.ok(
      text.stdout.includes(
        `  events ${c.events}, TSX aborts ${c.tsxAborts}, halts ended by polling ${c.haltPollSuccesses}, after sleeping ${c.haltWakeups}, injections ${c.injections}, kicks ${c.kicks}, directed yields ${c.directedYields}, halt-poll window grown ${c.haltPollGrows}, shrunk ${c.haltPollShrinks}\n`,
      ),
      text.stdout,
    );
    assert.match(
      text.stdout,
      new RegExp(`irq latency .* mean ${formatSeconds(json.latency.irq.mean)}  p99 `),
    );
    const nic = json.latency.bySource.nic!;
    assert.match(text.stdout, / {2}latency {2}count +min +mean +p50 +p99 +max\n/);
    assert.match(text.stdout, new RegExp(`  nic +${nic.count} +\\S+ \\S+ +${formatSeconds(nic.mean)} `));
    assert.match(
      text.stdout,
      / {2}by path +arrivals +executions +per vCPU +guest +dropped +exits\/execution +host cycles +added µs mean +p50 +p99\n/,
    );
    for (const p of json.paths) {
      assert.match(
        text.stdout,
        new RegExp(
          `  ${p.kind} ${p.name} +${p.arrivals} +${p.executions} +\\S+ +${formatRate(p.executionsPerSecond).replace("/", "\\/")} +${p.dropped} +`,
        ),
      );
    }
  });
});

describe("messages seen to confuse (issue #12)", () => {
  test("`--duration -1s`: says how to pass a value starting with '-', not 'ambiguous'", async () => {
    const r = await run(["simulate", "tsx.vmcs", "--duration", "-1s"]);
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /ambiguous/);
    assert.match(
      r.stderr,
      /^trapline simulate: --duration -1s: the value starts with '-', so it reads as an option; write --duration=-1s to pass it \(usage: /,
    );
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  });

  test("`--duration=-1s`: must be positive (not 'not a time')", async () => {
    const r = await run(["simulate", "tsx.vmcs", "--duration=-1s"]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "trapline simulate: --duration: '-1s' must be a positive time\n");
  });

  test("`path ipi …`: one message saying `ipi` is a keyword, on the name, nothing after", async () => {
    const r = await run(["check", "ipi.vmcs"]);
    assert.equal(r.status, 1);
    assert.equal(
      r.stdout,
      "ipi.vmcs:17:8: error TL011: `ipi` is a keyword and cannot name a `path`; choose another name (e.g. `ipi_path`)\n",
    );
  });
});
