/**
 * The importer's fast path (Pairer.quick: kvm_exit/kvm_entry of a known thread) must give what
 * the general path gives. The general path alone reads lines carrying trace-cmd's multi-file
 * `name.dat:` prefix (the fast path declines them), so the same events with and without that
 * prefix must give the same tables, down to the last bit of every statistic.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { importTrace, Sfc32, type TraceResult } from "../core/src/index";

/** Reason texts that probe the in-place match: prefixes of each other, flags, odd blanks, no rip. */
const REASONS = [
  "HLT rip 0xffffffff81000010",
  "HLT FAILED_VMENTRY rip 0xffffffff81000010",
  "EPT_VIOLATION rip 0x1000",
  "EPT_MISCONFIG rip 0xffffffff81001000",
  "EPT rip 0x2000",
  "MSR_WRITE  rip 0xffffffff81002000",
  "MSR_WRITE rip 0xffffffff81002000",
  "MSR_WRITE",
  "MSR_WRITE   ",
  "UNKNOWN (77) rip 0x3",
  "EXTERNAL_INTERRUPT rip 0xffffffff81003000 info 0 800000ec",
  "0x45 rip 0x4",
  "npf rip 0x5",
];

const DETAILS = [
  "kvm_msr: msr_write 6e0 = 0x1234",
  "kvm_msr: msr_read 10 = 0x99 (#GP)",
  "kvm_mmio: mmio write len 4 gpa 0xfee000b0 val 0x0",
  "kvm_mmio: mmio read len 4 gpa 0xfebf0000 val 0x1",
  "kvm_pio: pio_write at 0xcf8 size 4 count 1 val 0x80000000 ",
  "kvm_inj_virq: IRQ 0xec",
  "kvm_inj_virq: irq 236",
  "kvm_apic: apic_write APIC_EOI = 0x0",
  "kvm_cr: cr_write 4 = 0x3406f0",
  "kvm_page_fault: vcpu 0 rip 0x1 address 0x0000000000001050 error_code 0x181",
];

function generate(seed: number, lines: number, prefix: string): string {
  const rng = new Sfc32(seed);
  const out: string[] = [];
  let us = 1_000_000;
  const stamp = () => `${Math.floor(us / 1e6)}.${(us % 1e6).toString().padStart(6, "0")}`;
  while (out.length < lines) {
    const vcpu = Math.floor(rng.next() * 4);
    const task = `${prefix}     CPU ${vcpu}/KVM-${900 + vcpu}  [00${vcpu}]`;
    const pick = rng.next();
    us += 1 + Math.floor(rng.next() * 20);
    if (pick < 0.45) {
      const reason = REASONS[Math.floor(rng.next() * REASONS.length)]!;
      out.push(`${task}  ${stamp()}: kvm_exit:             vcpu ${vcpu} reason ${reason}`);
    } else if (pick < 0.8) {
      out.push(`${task}  ${stamp()}: kvm_entry:            vcpu ${vcpu} rip 0xffffffff81000000`);
    } else {
      out.push(`${task}  ${stamp()}: ${DETAILS[Math.floor(rng.next() * DETAILS.length)]!}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** The tables without what the file prefix changes (thread files). */
function tables(r: TraceResult) {
  return {
    exits: r.exits,
    mmio: r.mmio,
    ioport: r.ioport,
    vcpus: r.vcpus.map((v) => ({ ...v, timeline: v.timeline && { ...v.timeline } })),
    eventCounts: r.eventCounts,
    pairing: r.pairing,
    window: r.window,
    bad: r.badLineCount,
  };
}

describe("fast path = general path", () => {
  for (const seed of [1, 2, 3]) {
    test(`generated trace-cmd report, seed ${seed}`, () => {
      const fast = importTrace(generate(seed, 20_000, ""), { format: "trace-cmd" });
      const general = importTrace(generate(seed, 20_000, "trace.dat:"), { format: "trace-cmd" });
      assert.equal(fast.badLineCount, 0, JSON.stringify(fast.badLines));
      assert.ok(fast.exits.totalCount > 2000, `${fast.exits.totalCount} exits`);
      assert.ok(fast.exits.rows.length >= 10, fast.exits.rows.map((r) => r.key).join(", "));
      assert.deepEqual(tables(fast), tables(general));
    });
  }

  test("an exit without a reason is still a bad line on a known thread", () => {
    const text = [
      "  CPU 0/KVM-7  [000]  1.000001: kvm_entry:            vcpu 0 rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000002: kvm_exit:             vcpu 0 rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000003: kvm_exit:             vcpu 0 reason HLT rip 0x1",
      "  CPU 0/KVM-7  [000]  1.000004: kvm_entry:            vcpu 0 rip 0x1",
      "",
    ].join("\n");
    const r = importTrace(text);
    assert.equal(r.badLineCount, 1);
    assert.equal(r.badLines[0]?.line, 2);
    assert.equal(r.badLines[0]?.reason, "kvm_exit without a reason");
    assert.deepEqual(
      r.exits.rows.map((x) => [x.key, x.count, x.meanNs]),
      [["HLT", 1, 1000]],
    );
  });
});
