/** `trapline trace`: text and JSON output, --vcpu, exit statuses 0/1/2, in memory and streamed from disk. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { nodeIO } from "../cli/src/node";
import { runCliCaptured } from "./support/cliIO";

const FIXTURES = fileURLToPath(new URL("./fixtures/traces/", import.meta.url));
const PAIRING = readFileSync(`${FIXTURES}trace-cmd-generated-pairing.txt`, "utf8");

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], files: Record<string, string> = {}): Promise<Run> {
  return runCliCaptured(argv, files);
}

/** The real process binding (streamFile), with stdout/stderr captured. */
async function runOnDisk(argv: string[]): Promise<Run> {
  return runCliCaptured(argv, {}, { base: nodeIO, override: { stderrIsTTY: false } });
}

describe("trapline trace", () => {
  test("text: the table per reason, per vCPU, the window", async () => {
    const r = await run(["trace", "t.txt"], { "t.txt": PAIRING });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^trace t\.txt: trace-cmd \(detected, VMX reasons\), 24 lines$/m);
    assert.match(r.stdout, /window 1000\.000000 … 1000\.000102 s/);
    assert.match(r.stdout, /^ {2}MSR_WRITE \(32\) +2 +19\.61k\/s +25% +5\.00 /m);
    assert.match(r.stdout, /^ {2}vCPU 1 +5002 +2 /m);
    assert.match(r.stdout, /0xfebf0000:W/);
  });

  test("--json: the documented shape", async () => {
    const r = await run(["trace", "t.txt", "--json"], { "t.txt": PAIRING });
    assert.equal(r.status, 0);
    const json = JSON.parse(r.stdout);
    assert.equal(json.format, "trace-cmd");
    assert.equal(json.kind, "events");
    assert.deepEqual(json.window, {
      startSec: 1000,
      endSec: 1000.000102,
      durationSec: json.window.durationSec,
    });
    assert.equal(json.exits.totalCount, 5);
    const msr = json.exits.rows[0];
    assert.equal(msr.key, "MSR_WRITE");
    assert.equal(msr.code, 32);
    assert.equal(msr.meanNs, 5000);
    assert.equal(msr.relStddevPercent, 20);
    assert.ok(msr.p50Ns > 0 && msr.p99Ns > 0);
    assert.deepEqual(json.pairing, { unpairedEntries: 3, endBeforeBegin: 1, ignoredBeforeFirstEntry: 2 });
    assert.deepEqual(
      json.vcpus.map((v: { vcpu: number; timelineSample: unknown }) => [v.vcpu, v.timelineSample]),
      [
        [0, { exits: 3, stride: 1 }],
        [1, { exits: 2, stride: 1 }],
      ],
    );
  });

  test("--vcpu N: that vCPU's rows; a vCPU the trace lacks is a usage error", async () => {
    const r = await run(["trace", "t.txt", "--vcpu", "1", "--json"], { "t.txt": PAIRING });
    assert.equal(r.status, 0);
    const json = JSON.parse(r.stdout);
    assert.equal(json.vcpu, 1);
    assert.deepEqual(
      json.exits.rows.map((x: { key: string; count: number }) => [x.key, x.count]),
      [
        ["EPT_MISCONFIG", 1],
        ["IO_INSTRUCTION", 1],
      ],
    );
    const missing = await run(["trace", "t.txt", "--vcpu", "9"], { "t.txt": PAIRING });
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, "trapline trace: t.txt has no vCPU 9 (vCPUs: 0, 1)\n");
  });

  test("exit 1 with the bad lines listed when some lines did not parse", async () => {
    const r = await run(["trace", "t.txt"], { "t.txt": `${PAIRING}not a line\n` });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "t.txt:25: not a trace event line: not a line\n");
    assert.match(r.stdout, /MSR_WRITE/);
  });

  test("exit 2: unreadable file, unknown format, bad --format — one line each", async () => {
    const missing = await run(["trace", "nope.txt"]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, "trapline trace: cannot read nope.txt: no such file\n");
    const foreign = await run(["trace", "f.txt"], { "f.txt": "hello\nworld\n" });
    assert.equal(foreign.status, 2);
    assert.equal(foreign.stderr.trimEnd().split("\n").length, 1);
    assert.match(foreign.stderr, /^trapline trace: f\.txt: not a trace format Trapline reads/);
    const badFormat = await run(["trace", "t.txt", "--format", "xml"], { "t.txt": PAIRING });
    assert.equal(badFormat.status, 2);
    assert.match(badFormat.stderr, /unknown --format xml/);
  });

  test("streamed from disk through nodeIO.streamFile, 1 MiB chunks, same answer as in memory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trapline-trace-"));
    // Several MiB so the file spans chunks; multi-byte UTF-8 in comments crosses chunk edges.
    const body = PAIRING.split("\n").slice(3).join("\n");
    const parts = [PAIRING];
    for (let i = 0; i < 60_000; i++) parts.push(`# é→ comment ${i}\n`);
    const text = parts.join("") + body;
    const path = join(dir, "big.txt");
    writeFileSync(path, text);
    const disk = await runOnDisk(["trace", path, "--json"]);
    const memory = await run(["trace", path, "--json"], { [path]: text });
    assert.equal(disk.status, 0, disk.stderr);
    assert.equal(disk.stdout, memory.stdout);
    assert.ok(JSON.parse(disk.stdout).exits.totalCount > 5);
    const dirRun = await runOnDisk(["trace", dir]);
    assert.equal(dirRun.status, 2);
    assert.equal(dirRun.stderr, `trapline trace: cannot read ${dir}: is a directory\n`);
  });
  test("--progress writes progress lines to a stderr that is not a terminal; without it nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trapline-trace-"));
    const path = join(dir, "t.txt");
    writeFileSync(path, PAIRING);
    const quiet = await runOnDisk(["trace", path, "--json"]);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stderr, "");
    const loud = await runOnDisk(["trace", path, "--json", "--progress"]);
    assert.equal(loud.status, 0, loud.stderr);
    assert.equal(loud.stdout, quiet.stdout);
    assert.match(loud.stderr, /^trapline trace: [\d.]+ MB of [\d.]+ MB \(100%\), [\d,]+ lines\n$/);
  });
});
