/** The CLI contract (spec "Command line"), in-process through runCli, plus one spawn of the bundle. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type CliRun, runCliCaptured } from "./support/cliIO";

const LEGAL = `target skylake_server @ 2GHz
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
  idle halt
}
guest second on kvm {
  vcpus 1
  path quiet rate 1k/s { compute 1us }
  idle halt
}
`;

const ILLEGAL = `target haswell
vmcs v {
  pin external_interrupt_exiting virtual_nmis
  proc hlt_exiting activate_secondary_controls
  proc2 enable_ept
  exit host_address_space_size acknowledge_interrupt_on_exit
}
`;

const OVER_BUDGET = `${LEGAL}expect first { exits < 1k/s }\n`;

async function run(argv: string[], files: Record<string, string> = {}): Promise<CliRun> {
  return runCliCaptured(argv, files);
}

function assertOneLine(text: string): void {
  assert.equal(text.trimEnd().split("\n").length, 1, `one line: ${text}`);
  assert.doesNotMatch(text, /\n\s+at /, "no stack trace");
}

describe("check", () => {
  test("a legal file: no output, exit 0", async () => {
    const r = await run(["check", "a.vmcs"], { "a.vmcs": LEGAL });
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0, r.stdout);
  });

  test("errors: FILE:LINE:COL: SEVERITY CODE: MESSAGE (1-based), exit 1", async () => {
    const r = await run(["check", "bad.vmcs"], { "bad.vmcs": ILLEGAL });
    assert.equal(r.status, 1);
    const lines = r.stdout.trimEnd().split("\n");
    const e16 = lines.find((l) => l.includes("VMX-E16"));
    // "  pin external_interrupt_exiting virtual_nmis" — virtual_nmis starts at column 34 of line 3.
    assert.equal(e16?.slice(0, e16.indexOf(" requires")), "bad.vmcs:3:34: error VMX-E16: virtual_nmis (pin)");
    for (const line of lines)
      assert.match(line, /^bad\.vmcs:\d+:\d+: (error|warning|info|hint) [A-Z0-9-]+: \S/);
  });

  test("--json: the contract's shape with 0-based ranges", async () => {
    const r = await run(["check", "--json", "bad.vmcs", "a.vmcs"], { "bad.vmcs": ILLEGAL, "a.vmcs": LEGAL });
    assert.equal(r.status, 1);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(
      json.files.map((f: { file: string }) => f.file),
      ["bad.vmcs", "a.vmcs"],
    );
    const e16 = json.files[0].diagnostics.find((d: { code: string }) => d.code === "VMX-E16");
    assert.equal(e16.severity, "error");
    assert.deepEqual(e16.range, { start: { line: 2, character: 33 }, end: { line: 2, character: 45 } });
    assert.equal(typeof e16.message, "string");
    assert.ok(e16.reference.includes("nested_vmx_check_nmi_controls"));
    assert.ok(Array.isArray(e16.fixes) && e16.fixes[0].edits[0].range.start.line >= 0);
    assert.deepEqual(json.files[1].diagnostics, []);
  });

  test("exit 0 when only warnings", async () => {
    const warningOnly = LEGAL.replace("use_io_bitmaps ", "");
    const r = await run(["check", "w.vmcs"], { "w.vmcs": warningOnly });
    assert.match(r.stdout, /warning TL320/);
    assert.equal(r.status, 0);
  });

  test("unreadable file: one line on stderr, exit 2, nothing on stdout", async () => {
    const r = await run(["check", "a.vmcs", "missing.vmcs"], { "a.vmcs": LEGAL });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assertOneLine(r.stderr);
    assert.match(r.stderr, /cannot read missing\.vmcs: no such file/);
  });

  test("no file: exit 2", async () => {
    const r = await run(["check"]);
    assert.equal(r.status, 2);
    assertOneLine(r.stderr);
  });
});

describe("estimate", () => {
  test("JSON: the contract's fields", async () => {
    const r = await run(["estimate", "a.vmcs", "--json"], { "a.vmcs": LEGAL });
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.guest, "first");
    assert.deepEqual(json.target, { profile: "skylake_server", hz: 2e9 });
    for (const key of ["exitsPerSecond", "overhead", "hostCpu"])
      assert.equal(typeof json[key], "number", key);
    const io = json.byReason.find((r: { reason: string }) => r.reason === "IO_INSTRUCTION");
    assert.equal(io.code, 30);
    // 10k/s per vCPU × 2 vCPUs.
    assert.ok(Math.abs(io.exitsPerSecond - 20_000) < 1, String(io.exitsPerSecond));
    assert.ok(io.cyclesPerExit > 600);
    const serial = json.paths.find((p: { name: string }) => p.name === "serial");
    assert.deepEqual(serial.exits, [{ reason: "IO_INSTRUCTION", code: 30, perExecution: 1 }]);
    assert.equal(typeof serial.cyclesPerExecution, "number");
  });

  test("--guest picks the guest; an unknown guest is exit 2", async () => {
    const r = await run(["estimate", "a.vmcs", "--guest", "second", "--json"], { "a.vmcs": LEGAL });
    assert.equal(r.status, 0);
    assert.equal(JSON.parse(r.stdout).guest, "second");
    const bad = await run(["estimate", "a.vmcs", "--guest", "nope"], { "a.vmcs": LEGAL });
    assert.equal(bad.status, 2);
    assertOneLine(bad.stderr);
    assert.match(bad.stderr, /no guest nope \(guests: first, second\)/);
  });

  test("text table: totals, per reason, per path, with units", async () => {
    const r = await run(["estimate", "a.vmcs"], { "a.vmcs": LEGAL });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /guest first on kvm: target skylake_server @ 2 GHz, 2 vCPUs/);
    assert.match(r.stdout, /IO_INSTRUCTION \(30\)\s+20k\/s/);
    assert.match(r.stdout, /cycles\/exit/);
    assert.match(r.stdout, /µs\/exit/);
    assert.match(r.stdout, /path serial\s+10k\/s\s+IO_INSTRUCTION×1/);
    assert.match(r.stdout, /overhead\s+\d+(\.\d+)?%/);
  });

  test("a file with errors: diagnostics on stderr, no estimate, exit 1", async () => {
    const r = await run(["estimate", "bad.vmcs"], { "bad.vmcs": ILLEGAL });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /bad\.vmcs:3:34: error VMX-E16/);
  });

  test("a violated budget: estimate printed, violation on stderr, exit 1", async () => {
    const r = await run(["estimate", "o.vmcs", "--json"], { "o.vmcs": OVER_BUDGET });
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.stdout).guest, "first");
    assert.match(r.stderr, /error TL401/);
  });

  test("too many files: exit 2", async () => {
    const r = await run(["estimate", "a.vmcs", "b.vmcs"], { "a.vmcs": LEGAL, "b.vmcs": LEGAL });
    assert.equal(r.status, 2);
  });
});

describe("usage", () => {
  test("--help and --version exit 0", async () => {
    const help = await run(["--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /check FILE… \[--json\]/);
    assert.match(help.stdout, /estimate FILE \[--guest NAME\] \[--json\]/);
    const version = await run(["--version"]);
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^trapline \d+\.\d+\.\d+/);
    const commandHelp = await run(["check", "--help"]);
    assert.equal(commandHelp.status, 0);
    assert.match(commandHelp.stdout, /Usage: trapline check/);
  });

  test("bad flag, unknown command, no command: one line (or usage) on stderr, exit 2", async () => {
    const flag = await run(["check", "--frobnicate", "a.vmcs"], { "a.vmcs": LEGAL });
    assert.equal(flag.status, 2);
    assertOneLine(flag.stderr);
    assert.match(flag.stderr, /frobnicate/);
    const missingValue = await run(["estimate", "a.vmcs", "--guest"], { "a.vmcs": LEGAL });
    assert.equal(missingValue.status, 2);
    assertOneLine(missingValue.stderr);
    const unknown = await run(["frobnicate"]);
    assert.equal(unknown.status, 2);
    assertOneLine(unknown.stderr);
    const none = await run([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /Usage: trapline/);
  });
});

describe("built bin", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const bundle = `${root}dist/cli/trapline.js`;
  test("bin/trapline.js check on an example, and on a missing file", {
    skip: !existsSync(bundle) && "dist not built",
  }, () => {
    const ok = spawnSync(
      process.execPath,
      ["bin/trapline.js", "check", "--json", "examples/posted-interrupts.vmcs"],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(ok.stderr, "");
    const json = JSON.parse(ok.stdout);
    assert.equal(json.files[0].file, "examples/posted-interrupts.vmcs");
    assert.equal(
      ok.status,
      json.files[0].diagnostics.some((d: { severity: string }) => d.severity === "error") ? 1 : 0,
    );
    const missing = spawnSync(process.execPath, ["bin/trapline.js", "check", "no/such.vmcs"], {
      cwd: root,
      encoding: "utf8",
    });
    assert.equal(missing.status, 2);
    assertOneLine(missing.stderr);
  });
});
