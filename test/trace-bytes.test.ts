/**
 * TraceImporter.feedBytes (the CLI's and the language server's way in: UTF-8 as read) must give
 * exactly what feed() gives on the decoded text: every table, statistic, detail, timeline sample,
 * bad line and line number, down to the last bit (deepStrictEqual compares doubles with
 * Object.is). Checked on every fixture and on generated traces in the three event renderings,
 * with what the byte path must hand over to the text path or read carefully: non-ASCII task names
 * and fields, CRLF, comments, bad lines, multi-file prefixes, lines without a tid, first entries,
 * reason texts that are prefixes of each other, details past their bound, a truncated last line —
 * fed in chunks that end mid-line and mid-character.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { describe, test } from "node:test";
import { Sfc32, TraceImporter, type TraceResult } from "../core/src/index";

const FIXTURES = join(import.meta.dirname, "fixtures", "traces");

function viaText(bytes: Uint8Array): TraceResult {
  const importer = new TraceImporter();
  importer.feed(new StringDecoder("utf8").write(Buffer.from(bytes)));
  return importer.end();
}

/** feedBytes in chunks of the given sizes (cycled), each copied into one reused buffer. */
function viaBytes(bytes: Uint8Array, sizes: number[]): { result: TraceResult; decoded: number } {
  const importer = new TraceImporter();
  const scratch = Buffer.alloc(Math.max(...sizes));
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, bytes.length - at);
    scratch.set(bytes.subarray(at, at + n));
    importer.feedBytes(scratch.subarray(0, n));
    // The importer must not keep the chunk: the caller's buffer is overwritten at once.
    scratch.fill(0x41);
    at += n;
  }
  return { result: importer.end(), decoded: importer.decodedLines };
}

describe("feedBytes = feed on every fixture", () => {
  for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith(".txt"))) {
    test(name, () => {
      const bytes = readFileSync(join(FIXTURES, name));
      const expected = viaText(bytes);
      assert.ok(expected.lines > 0);
      for (const sizes of [[bytes.length], [1], [3, 7, 2], [64], [4093]])
        assert.deepStrictEqual(viaBytes(bytes, sizes).result, expected, `chunks of ${sizes.join(",")}`);
    });
  }
});

type Rendering = "trace-cmd" | "ftrace" | "perf-script";

const REASONS = [
  "HLT rip 0xffffffff81000010 info 0 0",
  "HLT FAILED_VMENTRY rip 0xffffffff81000010",
  "EPT_VIOLATION rip 0x1000 info 0 0",
  "EPT_MISCONFIG rip 0xffffffff81001000 info 0 0 intr_info 0x0 error_code 0x0",
  "EPT rip 0x2000",
  "MSR_WRITE  rip 0xffffffff81002000",
  "MSR_WRITE rip 0xffffffff81002000 info 0 0",
  "MSR_WRITE",
  "MSR_WRITE   ",
  "UNKNOWN (77) rip 0x3",
  "EXTERNAL_INTERRUPT rip 0xffffffff81003000 info 0 800000ec",
  "EXTERNAL_INTERRUPT rip 0xffffffff81003000 info 0 0 intr_info 0x800000fd error_code 0x0",
  "EXTERNAL_INTERRUPT rip 0xffffffff81003000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x0",
  "0x45 rip 0x4",
  "npf rip 0x5",
  "IO_INSTRUCTION rip 0xffffffffffffffffff12",
  "MSR_READ rip\t0x10",
  "CPUID rip 0x10 rip 0x20",
  // Same words as another text, another tail; a prefix's neighbour; non-ASCII after the first byte.
  "EPT_MISCONFIH rip 0x1",
  "HLU rip 0x2",
  "VM_ÉCHEC rip 0x3",
];

/** Detail events; `${n}` varies the key so that some reasons pass DETAIL_KEYS_PER_REASON. */
function detail(rng: Sfc32): string {
  const n = Math.floor(rng.next() * 200);
  const pick = [
    `kvm_msr: msr_write ${(0x6e0 + n).toString(16)} = 0x1234`,
    "kvm_msr: msr_read 10 = 0x99 (#GP)",
    "kvm_msr: msr_read 10 = 0x98",
    "kvm_msr: msr_read zz = 0x1",
    "kvm_msr: msr_write 1ffffffffffffff = 0x1",
    `kvm_mmio: mmio write len 4 gpa 0xfee${n.toString(16).padStart(5, "0")} val 0x0`,
    "kvm_mmio: mmio read len 4 gpa 0xfebf0000 val 0x1",
    "kvm_mmio: mmio unsatisfied-read len 4 gpa 0xfebf0004 val 0x0",
    "kvm_mmio: mmio write len 4 gpa 0xfffffffffffffff0 val 0x0",
    "kvm_mmio: mmio sideways len 4 gpa 0x1 val 0x0",
    "kvm_mmio: mmio write len 4 val 0x0",
    `kvm_pio: pio_write at 0x${(0xcf8 + n).toString(16)} size 4 count 1 val 0x80000000 `,
    "kvm_pio: pio_read at 0x60 size 1 count 1 val 0x0",
    "kvm_pio: pio_write  at 0x70 size 1 count 1 val 0x0",
    "kvm_pio: pio_sideways at 0x70",
    "kvm_pio: pio_read size 1",
    "kvm_inj_virq: IRQ 0xec",
    `kvm_inj_virq: irq ${200 + n}`,
    "kvm_inj_virq: IRQ 0xec   ",
    "kvm_inj_virq: Vektor ü 0x20",
    "kvm_inj_virq:    ",
    "kvm_apic: apic_write APIC_EOI = 0x0",
    "kvm_cr: cr_write 4 = 0x3406f0",
    "kvm_cpuid: func 1 idx 0 rax 1 rbx 2 rcx 3 rdx 4",
    "kvm_page_fault: vcpu 0 rip 0x1 address 0x0000000000001050 error_code 0x181",
    "sched_switch: prev_comm=CPU 0/KVM next_comm=swapper",
  ];
  return pick[Math.floor(rng.next() * pick.length)]!;
}

/** Task names; the last two are one long name (threads that differ only past their first 24 bytes). */
const TASKS = [
  "CPU 0/KVM",
  "CPU 1/KVM",
  "vCPU ü/KVM",
  "qemu-system-x86",
  "crosvm_vcpu3",
  "CPU 10/KVM",
  "worker thread pool vcpu",
  "worker thread pool vcpu",
];

function line(r: Rendering, rng: Sfc32, vcpu: number, stamp: string, body: string): string {
  const task = TASKS[vcpu]!;
  const tid = 4100 + vcpu;
  const [event, ...rest] = body.split(": ");
  const fields = rest.join(": ");
  const roll = rng.next();
  // A thread moves to another CPU now and then.
  const cpu = (vcpu * 3 + (roll > 0.9 ? 1 : 0)).toString().padStart(3, "0");
  switch (r) {
    case "trace-cmd": {
      const file = roll < 0.03 ? "trace.dat: " : "";
      return `${file}${task.padStart(16)}-${tid}  [${cpu}]  ${stamp}: ${`${event}:`.padEnd(21)} ${fields}`;
    }
    case "ftrace":
      return `${task.padStart(16)}-${tid}   [${cpu}] ${roll < 0.5 ? "d...." : "...1."} ${stamp}: ${event}: ${fields}`;
    case "perf-script":
      // Some lines without comm/tid (perf script -F-comm,-tid): keyed by vCPU, the text path's.
      return roll < 0.03
        ? `[${cpu}] ${stamp}: ${`kvm:${event}:`.padStart(30)} ${fields}`
        : `${task.padStart(16)} ${tid} [${cpu}] ${stamp}: ${`kvm:${event}:`.padStart(30)} ${fields}`;
  }
}

function generate(r: Rendering, seed: number, count: number, crlf: boolean): string {
  const rng = new Sfc32(seed);
  const out: string[] = ["# a comment", ""];
  let us = 7_000_000;
  const stamp = () => `${Math.floor(us / 1e6)}.${(us % 1e6).toString().padStart(6, "0")}`;
  while (out.length < count) {
    const vcpu = Math.floor(rng.next() * TASKS.length);
    us += 1 + Math.floor(rng.next() * 30);
    const pick = rng.next();
    let body: string;
    if (pick < 0.4) {
      const reason = REASONS[Math.floor(rng.next() * REASONS.length)]!;
      body = `kvm_exit: vcpu ${vcpu} reason ${reason}`;
    } else if (pick < 0.72) {
      body =
        r === "trace-cmd"
          ? `kvm_entry: vcpu ${vcpu} rip 0xffffffff81000000`
          : `kvm_entry: vcpu ${vcpu}, rip 0x1`;
    } else if (pick < 0.96) body = detail(rng);
    else if (pick < 0.97) body = `kvm_exit: vcpu ${vcpu} rip 0x1`;
    else if (pick < 0.98) {
      out.push(pick < 0.975 ? "  # an indented comment" : "garbage ü line without anything");
      continue;
    } else if (pick < 0.99) body = "kvm_entry: rip 0x1";
    else body = "kvm_exit:";
    out.push(line(r, rng, vcpu, stamp(), body));
  }
  // One exit with more distinct details than a reason keeps (DETAIL_KEYS_PER_REASON), twice: the
  // second time the ones past the bound are known as such.
  for (let round = 0; round < 2; round++) {
    out.push(line(r, rng, 0, stamp(), "kvm_exit: vcpu 0 reason CR_ACCESS rip 0x1"));
    for (let k = 0; k < 100; k++) {
      us++;
      out.push(
        line(
          r,
          rng,
          0,
          stamp(),
          k % 2 ? `kvm_msr: msr_read ${k.toString(16)} = 0x0` : `kvm_inj_virq: IRQ ${k}`,
        ),
      );
    }
    out.push(line(r, rng, 0, stamp(), "kvm_entry: vcpu 0 rip 0x1"));
  }
  // A truncated last line (no newline, cut mid-field).
  return `${out.join(crlf ? "\r\n" : "\n")}${crlf ? "\r\n" : "\n"}${line(r, rng, 1, stamp(), "kvm_exit: vcpu 1 reas")}`;
}

function randomSizes(seed: number): number[] {
  const rng = new Sfc32(seed);
  return Array.from({ length: 40 }, () => 1 + Math.floor(rng.next() ** 3 * 5000));
}

describe("feedBytes = feed on generated traces", () => {
  for (const r of ["trace-cmd", "ftrace", "perf-script"] as const) {
    for (const crlf of [false, true]) {
      test(`${r}${crlf ? ", CRLF" : ""}`, () => {
        const bytes = Buffer.from(generate(r, r.length * 31 + (crlf ? 1 : 0), 16_000, crlf), "utf8");
        const expected = viaText(bytes);
        assert.equal(expected.format, r);
        assert.ok(expected.exits.totalCount > 1000, `${expected.exits.totalCount} exits`);
        assert.ok(expected.badLineCount > 50, `${expected.badLineCount} bad lines`);
        assert.ok(expected.truncated);
        assert.ok(
          expected.exits.rows.some((row) => (row.detailsOverflow ?? 0) > 0),
          "some reason passes its detail bound",
        );
        assert.ok(
          expected.exits.rows.some((row) => row.details?.some((d) => d.key.startsWith("vector 0x"))),
          "an external interrupt's vector",
        );
        for (const seed of [1, 2, 3]) {
          const { result, decoded } = viaBytes(bytes, randomSizes(seed));
          assert.deepStrictEqual(result, expected, `random chunks, seed ${seed}`);
          // The hot events were read as bytes: few lines went to the text path.
          assert.ok(decoded < expected.lines * 0.2, `${decoded} of ${expected.lines} lines decoded`);
        }
      });
    }
  }

  test("a two-chunk split at every byte of a trace with multi-byte characters", () => {
    const text = [
      "  vCPU ü/KVM-7  [000]  1.000001: kvm_entry:            vcpu 0 rip 0x1",
      "  vCPU ü/KVM-7  [000]  1.000002: kvm_exit:             vcpu 0 reason HLT rip 0x1",
      "  vCPU ü/KVM-7  [000]  1.000003: kvm_inj_virq:         Vektor ü 0x20",
      "  vCPU ü/KVM-7  [000]  1.000004: kvm_entry:            vcpu 0 rip 0x1",
      "  vCPU ü/KVM-7  [000]  1.000005: kvm_exit:             vcpu 0 reason ÉCHEC rip 0x1",
      "  vCPU ü/KVM-7  [000]  1.000006: kvm_entry:            vcpu 0 rip 0x1",
      "",
    ].join("\n");
    const bytes = Buffer.from(text, "utf8");
    const expected = viaText(bytes);
    assert.equal(expected.exits.totalCount, 2);
    for (let cut = 1; cut < bytes.length; cut++)
      assert.deepStrictEqual(viaBytes(bytes, [cut, bytes.length]).result, expected, `cut at ${cut}`);
  });

  test("bad lines keep their numbers and texts", () => {
    const text = [
      "  CPU 0/KVM-7  [000]  1.000001: kvm_entry:            vcpu 0 rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000002: kvm_exit:             vcpu 0 rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000003: kvm_exit:             vcpu 0 reason HLT rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000004: kvm_mmio:             mmio sideways len 4 gpa 0x1",
      "  CPU 0/KVM-7  [000]  1.000005: kvm_entry:            vcpu 0 rip 0x1",
      "",
    ].join("\r\n");
    const bytes = Buffer.from(text, "utf8");
    const { result } = viaBytes(bytes, [50]);
    assert.deepStrictEqual(result, viaText(bytes));
    assert.deepStrictEqual(
      result.badLines.map((b) => [b.line, b.reason]),
      [
        [2, "kvm_exit without a reason"],
        [4, "kvm_mmio with an unknown type"],
      ],
    );
    assert.equal(result.exits.rows[0]?.meanNs, 2000);
  });
});

describe("feeding", () => {
  test("progress counts bytes; text fed after bytes is encoded, bytes after text decoded", () => {
    const text = `${"  CPU 0/KVM-7  [000]  1.000001: kvm_entry:            vcpu 0 rip 0x1\n".repeat(3)}`;
    const bytes = Buffer.from(text, "utf8");
    const importer = new TraceImporter();
    importer.feedBytes(bytes.subarray(0, 10));
    importer.feed(text.slice(10));
    assert.equal(importer.progress.chars, bytes.length);
    assert.deepStrictEqual(importer.end(), viaText(bytes));
    const other = new TraceImporter();
    other.feed(text.slice(0, 10));
    other.feedBytes(bytes.subarray(10));
    assert.deepStrictEqual(other.end(), viaText(bytes));
  });
});
