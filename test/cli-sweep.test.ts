/**
 * `estimate`/`simulate` with `--target CPU[,CPU…]` and `--sweep NAME=…` (cli/src/sweep.ts,
 * core/src/analysis/sweep.ts): every row equals the estimate of the file edited by hand to that
 * value and analysed on its own, the JSON shapes, and the usage errors (exit 2).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, parseSweepSpec, SweepError } from "../core/src/index";
import { runCliCaptured } from "./support/cliIO";

// Guest work in cycles, not times: a time converts at the file's clock and another CPU runs at
// its own default clock, so only cycles make the hand-edited file equal to the CPU override.
const FILE = (rate = "10k/s", target = "target skylake_server", proc = "hlt_exiting ") => `${target}
vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting
  proc  ${proc}use_tpr_shadow use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  io trap 0x3f8..0x3ff
  ept { 0x0 .. 0x7fff_ffff rwx }
}
handler IO_INSTRUCTION { work 600 advance_rip }
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
guest web on kvm {
  vcpus 2
  path serial rate ${rate} { compute 4000  out 0x3f8 }
  irq nic vector 0x41 rate 2k/s { compute 1000 }
  idle halt
}
`;

const FIGURES = ["exitsPerSecond", "overhead", "hostCpu", "demand"] as const;

function estimateOf(text: string, guest = "web") {
  const analysis = analyze(text);
  const errors = analysis.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], "the hand-edited file is valid");
  return analysis.estimates.get(guest)!;
}

async function json(argv: string[], files: Record<string, string>) {
  const r = await runCliCaptured(argv, files);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe("estimate --sweep", () => {
  test("a path rate: each row is the estimate of the file with that rate written", async () => {
    const out = await json(["estimate", "a.vmcs", "--sweep", "path.serial.rate=5k/s,20k/s,40k/s", "--json"], {
      "a.vmcs": FILE(),
    });
    assert.equal(out.parameter, "path.serial.rate");
    assert.deepEqual(
      out.rows.map((r: { label: string }) => r.label),
      ["5k/s", "20k/s", "40k/s"],
    );
    for (const [i, rate] of ["5k/s", "20k/s", "40k/s"].entries()) {
      const expected = estimateOf(FILE(rate));
      for (const key of FIGURES) assert.equal(out.rows[i][key], expected[key], `${rate} ${key}`);
      assert.equal(out.rows[i].status, "none");
    }
    // The rows differ: the override reached the estimate.
    assert.ok(out.rows[2].exitsPerSecond > out.rows[0].exitsPerSecond);
  });

  test("a range with :STEPS and :log spaces the points linearly and geometrically", () => {
    const { program } = analyze(FILE());
    assert.deepEqual(
      parseSweepSpec(program, "web", "path.serial.rate=10k/s..30k/s:3").points,
      [10e3, 20e3, 30e3],
    );
    const log = parseSweepSpec(program, "web", "cost.round_trip=100..10k:3:log");
    assert.equal(log.log, true);
    assert.deepEqual(
      log.points.map((p) => Math.round(Number(p))),
      [100, 1000, 10000],
    );
    assert.equal(parseSweepSpec(program, "web", "vcpus=1..4").points.length, 4);
  });

  test("a cost: rows equal the file with `cost round_trip = N` in its target block", async () => {
    const out = await json(["estimate", "a.vmcs", "--sweep", "cost.round_trip=800..2400:3", "--json"], {
      "a.vmcs": FILE(),
    });
    for (const [i, cycles] of [800, 1600, 2400].entries()) {
      const expected = estimateOf(FILE("10k/s", `target skylake_server { cost round_trip = ${cycles} }`));
      for (const key of FIGURES) assert.equal(out.rows[i][key], expected[key], `${cycles} ${key}`);
    }
  });

  test("a control off/on: rows equal the file without and with it", async () => {
    const out = await json(["estimate", "a.vmcs", "--sweep", "control.hlt_exiting=off,on", "--json"], {
      "a.vmcs": FILE(),
    });
    assert.deepEqual(
      out.rows.map((r: { label: string }) => r.label),
      ["off", "on"],
    );
    const off = estimateOf(FILE("10k/s", "target skylake_server", ""));
    const on = estimateOf(FILE());
    for (const key of FIGURES) {
      assert.equal(out.rows[0][key], off[key], `off ${key}`);
      assert.equal(out.rows[1][key], on[key], `on ${key}`);
    }
    assert.notEqual(off.exitsPerSecond, on.exitsPerSecond);
  });

  test("the text table: a header, one row per point, the budget column; a violated point exits 1", async () => {
    const text = `${FILE()}expect web { exits < 30k/s }\n`;
    const r = await runCliCaptured(["estimate", "a.vmcs", "--sweep", "path.serial.rate=5k/s,40k/s"], {
      "a.vmcs": text,
    });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /sweep of path\.serial\.rate for guest web/);
    assert.match(
      lines[1]!,
      /path\.serial\.rate\s+exits\/s\s+µs\/exit\s+host CPU\s+overhead\s+demand\s+budget/,
    );
    assert.match(lines[2]!, /^\s+5k\/s .* ok$/);
    assert.match(lines[3]!, /^\s+40k\/s .* VIOLATED$/);
    assert.equal(lines.length, 4);
    assert.match(
      r.stderr,
      /a\.vmcs:20:\d+: error TL401: exits .* \(static estimate\) violates the budget < 30k\/s .*\[at skylake_server, 40k\/s\]/,
    );
  });

  test("a point the VM-entry checks reject is an invalid row, not a crash", async () => {
    // VIRTUALIZE_X2APIC... simpler: switching off activate_secondary_controls leaves proc2's
    // enable_ept unused while the EPT regions stay; switching off an exit control the guest's
    // 64-bit entry needs (host_address_space_size) is an entry-check error.
    const r = await runCliCaptured(
      ["estimate", "a.vmcs", "--sweep", "control.host_address_space_size=on,off", "--json"],
      { "a.vmcs": FILE() },
    );
    const out = JSON.parse(r.stdout);
    assert.equal(out.rows[0].status, "none");
    assert.equal(out.rows[1].status, "error");
    assert.ok(out.rows[1].messages.length > 0);
    assert.equal(out.rows[1].exitsPerSecond, undefined);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error .*\[at skylake_server, off\]/);
  });
});

describe("--target", () => {
  test("one CPU: the single-target JSON shape, the estimate of the file on that CPU", async () => {
    const out = await json(["estimate", "a.vmcs", "--target", "icelake_server", "--json"], {
      "a.vmcs": FILE(),
    });
    assert.ok(!Array.isArray(out));
    const expected = estimateOf(FILE("10k/s", "target icelake_server"));
    assert.equal(out.target.profile, "icelake_server");
    assert.equal(out.target.hz, expected.target.hz);
    for (const key of FIGURES) assert.equal(out[key], expected[key], key);
    // Same keys as the plain estimate's JSON.
    const plain = await json(["estimate", "a.vmcs", "--json"], { "a.vmcs": FILE() });
    assert.deepEqual(Object.keys(out), Object.keys(plain));
  });

  test("several CPUs: a JSON array, one estimate per CPU in the order given", async () => {
    const out = await json(
      ["estimate", "a.vmcs", "--target", "haswell,skylake_server,icelake_server", "--json"],
      {
        "a.vmcs": FILE(),
      },
    );
    assert.ok(Array.isArray(out));
    assert.deepEqual(
      out.map((e: { target: { profile: string } }) => e.target.profile),
      ["haswell", "skylake_server", "icelake_server"],
    );
    for (const e of out) {
      const expected = estimateOf(FILE("10k/s", `target ${e.target.profile}`));
      for (const key of FIGURES) assert.equal(e[key], expected[key], `${e.target.profile} ${key}`);
    }
  });

  test("several CPUs in text: one section per CPU", async () => {
    const r = await runCliCaptured(["estimate", "a.vmcs", "--target", "haswell,icelake_server"], {
      "a.vmcs": FILE(),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/^guest web on kvm: target /gm)?.length, 2);
    assert.match(r.stdout, /target haswell @/);
    assert.match(r.stdout, /target icelake_server @/);
  });

  test("--target with --sweep: one row per CPU and point, a target column", async () => {
    const out = await json(
      [
        "estimate",
        "a.vmcs",
        "--target",
        "haswell,icelake_server",
        "--sweep",
        "irq.nic.rate=1k/s,4k/s",
        "--json",
      ],
      { "a.vmcs": FILE() },
    );
    assert.deepEqual(
      out.rows.map((r: { target: string; label: string }) => `${r.target} ${r.label}`),
      ["haswell 1k/s", "haswell 4k/s", "icelake_server 1k/s", "icelake_server 4k/s"],
    );
    const r = await runCliCaptured(
      ["estimate", "a.vmcs", "--target", "haswell,icelake_server", "--sweep", "irq.nic.rate=1k/s,4k/s"],
      {
        "a.vmcs": FILE(),
      },
    );
    assert.match(r.stdout.split("\n")[1]!, /irq\.nic\.rate\s+target\s+exits\/s/);
  });

  test("simulate --target: the same run as the file written for that CPU (same seed)", async () => {
    const out = await json(
      ["simulate", "a.vmcs", "--target", "icelake_server", "--duration", "5ms", "--json"],
      {
        "a.vmcs": FILE(),
      },
    );
    const edited = await json(["simulate", "b.vmcs", "--duration", "5ms", "--json"], {
      "b.vmcs": FILE("10k/s", "target icelake_server"),
    });
    assert.deepEqual(out, edited);
  });

  test("simulate --sweep: one row per point, with the simulated p99 interrupt latency", async () => {
    const out = await json(
      ["simulate", "a.vmcs", "--sweep", "path.serial.rate=5k/s,20k/s", "--duration", "5ms", "--json"],
      { "a.vmcs": FILE() },
    );
    assert.equal(out.rows.length, 2);
    assert.equal(out.duration, 0.005);
    for (const [i, rate] of ["5k/s", "20k/s"].entries()) {
      const edited = await json(["simulate", "b.vmcs", "--duration", "5ms", "--json"], {
        "b.vmcs": FILE(rate),
      });
      assert.equal(out.rows[i].exitsPerSecond, edited.exitsPerSecond, rate);
      assert.equal(out.rows[i].hostCpu, edited.hostCpu, rate);
      assert.equal(out.rows[i].irqLatencyP99, edited.latency.irq.p99, rate);
    }
  });
});

describe("--sweep and --target errors: exit 2, one line naming the fix", () => {
  const cases: [string[], RegExp][] = [
    [
      ["--sweep", "path.serail.rate=1..2"],
      /unknown sweep parameter 'path\.serail\.rate' \(did you mean 'path\.serial\.rate'\?\)/,
    ],
    [
      ["--sweep", "control.hlt_exitting=off,on"],
      /unknown control 'hlt_exitting' \(did you mean 'control\.hlt_exiting'\?\)/,
    ],
    [["--sweep", "control.hlt_exiting=0..1"], /takes a list, not a range: control\.hlt_exiting=off,on/],
    [["--sweep", "path.serial.rate=fast,slow"], /'fast' is not a rate such as 50k\/s/],
    [["--sweep", "path.serial.rate=1k/s..2k/s:1"], /STEPS must be between 2/],
    [["--sweep", "cost.round_trip=0..100:3:log"], /a :log sweep needs FROM and TO above 0/],
    [["--sweep", "round_trip"], /is not NAME=FROM\.\.TO/],
    [["--target", "skylake,haswel"], /--target: unknown CPU 'skylake' \(did you mean 'skylake_server'\?\)/],
    [["--target", "haswell", "--sweep", "target=icelake_server"], /name the CPUs/],
    [["--sweep", "vcpus=1,2", "--explain"], /--explain and --measured take one estimate/],
  ];
  for (const [args, message] of cases) {
    test(args.join(" "), async () => {
      const r = await runCliCaptured(["estimate", "a.vmcs", ...args], { "a.vmcs": FILE() });
      assert.equal(r.status, 2, r.stdout);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    });
  }

  test("the core throws SweepError (the CLI's exit 2), never a plain Error", () => {
    const { program } = analyze(FILE());
    assert.throws(() => parseSweepSpec(program, "web", "nope=1"), SweepError);
  });
});
