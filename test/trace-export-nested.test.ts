/**
 * A nested simulation → `trace-cmd report` text (core/src/trace/exportNested.ts) → importer:
 * the text has what L0's KVM traces for each part of the nested chain (kvm_exit and
 * kvm_nested_vmexit per L2 exit, kvm_nested_vmexit_inject per exit reflected or synthesized into
 * L1, L1's trapped instructions and VMRESUME as kvm_exit, kvm_nested_vmenter per nested entry),
 * and the imported counts per reason equal the simulation's per-level figures.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { reflectedChainCost } from "../core/src/analysis/nested/chain";
import { nestedSetup } from "../core/src/analysis/nested/reflect";
import { analyze, nestedEptOf } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { importTrace, timelineToTraceCmd } from "../core/src/trace/index";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const EXTERNAL_INTERRUPT = 1;
const VMRESUME = 24;
/** L1's VMX instructions that exit to L0 (VMCLEAR, VMPTRLD, VMREAD, VMWRITE, INVEPT, INVVPID). */
const L1_INSTRUCTIONS = new Set([19, 21, 23, 25, 50, 53]);

function nestedRun(text: string, guest: string, durationSec: number) {
  const analysis = analyze(text);
  const result = simulate(analysis.program, guest, {
    durationSec,
    seed: 3,
    positionAt: (o) => analysis.lines.positionAt(o),
  });
  assert.ok(result.nested, `${guest} is an L2`);
  const exported = timelineToTraceCmd(result.timeline, {
    nestedEpt: nestedEptOf(analysis.program, result.nested.vmcs12),
  });
  return { analysis, result, nested: result.nested, exported, trace: importTrace(exported) };
}

/** The L2 guests of an example (the guests whose vmcs is `nested`, under a hypervisor). */
function l2Guests(text: string): string[] {
  const { program } = analyze(text);
  return [...program.guests.values()].filter((g) => nestedSetup(program, g)).map((g) => g.name);
}

const count = (perSecond: number, duration: number) => Math.round(perSecond * duration);
const HLT = 12;
const MSR_WRITE = 32;

/** Per thread, the `kvm_exit` lines of `reason` not followed by a kvm_nested_vmexit: L1's own exits. */
function l1Exits(exported: string, reason: string): number {
  const last = new Map<string, string>();
  let n = 0;
  const pattern = new RegExp(` kvm_exit: +vcpu \\d+ reason ${reason} `);
  for (const l of exported.split("\n")) {
    const thread = /CPU \d+\/KVM-\d+/.exec(l)?.[0];
    if (!thread) continue;
    const before = last.get(thread);
    if (before !== undefined && pattern.test(before) && !/ kvm_nested_vmexit: /.test(l)) n++;
    last.set(thread, l);
  }
  for (const before of last.values()) if (pattern.test(before)) n++;
  return n;
}

/**
 * The wake-up exits of an `idle halt` L2 that L1 blocks (sim/nestedIdle.ts): L1's own HLT
 * exits (kvm_exit HLT with no kvm_nested_vmexit: L1 is not in guest mode), the interrupts for L1
 * that exit from L1's own halt poll (kvm_exit EXTERNAL_INTERRUPT, no kvm_nested_vmexit) and the
 * trapped injection VMWRITEs are the run's wakeExitsPerSecond, with one L1 HLT per wake-up L1's
 * poll did not catch (vmcs01 has HLT exiting in every example; an idle exit that found an event
 * pending has none: L1 did not idle).
 */
function assertWakeExits(run: ReturnType<typeof nestedRun>, l1Hlts: number, injectionWrites: number): void {
  const { nested, result, exported } = run;
  const d = result.duration;
  assert.equal(l1Exits(exported, "HLT"), l1Hlts, "L1's HLT exits in the text");
  const l1Interrupts = l1Exits(exported, "EXTERNAL_INTERRUPT");
  assert.equal(l1Hlts + l1Interrupts + injectionWrites, count(nested.wakeExitsPerSecond, d), "wake-up exits");
  assert.equal(
    l1Hlts,
    count(nested.wakeUpsPerSecond, d) - count(nested.l1PolledWakeUpsPerSecond, d),
    "an L1 HLT before each wake-up L1's poll missed",
  );
}

describe("trace-cmd export of a nested run", () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.startsWith("nested-") && f.endsWith(".vmcs"))) {
    for (const idle of ["halt", "poll"]) {
      const text = readFileSync(`${EXAMPLES}${file}`, "utf8").replace(/idle halt/g, `idle ${idle}`);
      for (const guest of l2Guests(text)) {
        test(`${file} (${guest}, idle ${idle}): imported counts per reason equal the per-level figures`, () => {
          const run = nestedRun(text, guest, 0.02);
          const { result, nested, exported, trace } = run;
          const d = result.duration;
          assert.equal(trace.badLineCount, 0);
          // Every kvm_entry pairs with a kvm_exit but each thread's first.
          assert.equal(trace.pairing.unpairedEntries, result.vcpus);
          const synthesized = count(nested.synthesizedPerSecond, d);
          const vmresumes = count(nested.vmresumesPerSecond, d);
          const trapped = count(nested.trappedPerSecond, d);
          const reflected = count(nested.reflectedPerSecond, d);
          const rowCount = (code: number) => trace.exits.rows.find((r) => r.code === code)?.count ?? 0;
          // An idle L2 that L1 blocks: L1's own HLT exits and trapped injection VMWRITEs (the
          // wake-up chain's exits into L0, sim/nestedIdle.ts); none with `idle poll`.
          const wakeExits = count(nested.wakeExitsPerSecond, d);
          if (idle === "poll") assert.equal(wakeExits, 0);
          const simHlt = result.byReason.find((r) => r.code === HLT)?.exits ?? 0;
          const l1Hlts = rowCount(HLT) - simHlt;
          // Interrupts for L1 that exit from L1's own halt poll (L1's exits, no kvm_nested_vmexit).
          const l1Interrupts = l1Exits(exported, "EXTERNAL_INTERRUPT");
          // L1's notifications of the interrupts it sends (its ICR writes, on the sender's vCPU):
          // L1's own MSR_WRITE exits (at L1's RIPs), with a kvm_msr line and no
          // kvm_nested_vmexit; the run counts them among its MSR_WRITE exits.
          const notify = count(nested.notifyExitsPerSecond, d);
          assert.equal(
            (exported.match(/ kvm_exit: +vcpu \d+ reason MSR_WRITE rip 0xffffffffc/g) ?? []).length,
            notify,
            "L1's notification exits in the text (L1's RIPs)",
          );
          assert.equal(
            (exported.match(/ kvm_msr: +msr_write 830 /g) ?? []).length,
            notify,
            "one kvm_msr msr_write 830 (X2APIC_ICR) per notification",
          );
          // L2's exits into L0 by reason: every exit the run counts, but the synthesized ones
          // (no hardware exit: KVM traces no kvm_exit for them).
          let l2 = 0;
          for (const sim of result.byReason) {
            const physical = sim.exits - (sim.code === EXTERNAL_INTERRUPT ? synthesized : 0);
            const l1Own = sim.code === HLT ? l1Hlts : sim.code === EXTERNAL_INTERRUPT ? l1Interrupts : 0;
            assert.equal(rowCount(sim.code) - l1Own, physical, sim.reason);
            l2 += physical - (sim.code === MSR_WRITE ? notify : 0);
          }
          // L1's exits: its VMRESUMEs and trapped VMX instructions (the wake-ups' injection
          // VMWRITEs among them).
          assert.equal(rowCount(VMRESUME), vmresumes);
          let l1Instructions = 0;
          for (const r of trace.exits.rows)
            if (r.code !== undefined && L1_INSTRUCTIONS.has(r.code)) l1Instructions += r.count;
          const injectionWrites = l1Instructions - trapped;
          if (idle === "halt") assertWakeExits(run, l1Hlts, injectionWrites);
          else assert.equal(l1Instructions, trapped);
          assert.equal(trace.exits.totalCount, l2 + vmresumes + trapped + wakeExits + notify);
          // Each hardware exit into L0 is one kvm_exit: the simulation's exits into L0 exactly (an
          // interrupt for L1 delivered while L2 runs is one exit, not L0's plus the chain's; a
          // synthesized nested exit has none; L1's notifications are on the sender's timeline).
          assert.equal(trace.exits.totalCount, count(nested.l0ExitsPerSecond, d), "kvm_exit lines");
          assert.equal(count(nested.l2ExitsPerSecond, d), l2, "L2 exits");
          // The nested tracepoints: one kvm_nested_vmexit per L2 exit into L0, one inject per
          // exit reflected or synthesized into L1, one nested entry per VMRESUME.
          assert.equal(trace.eventCounts.kvm_nested_vmexit ?? 0, l2);
          assert.equal(trace.eventCounts.kvm_nested_vmexit_inject ?? 0, reflected);
          assert.equal(trace.eventCounts.kvm_nested_vmenter ?? 0, vmresumes);
          // The injects by reason are the simulation's L1 rows (the importer counts kvm_nested_*
          // by name: read here from the text).
          const injected = new Map<string, number>();
          for (const m of exported.matchAll(/kvm_nested_vmexit_inject: reason (\S+)/g))
            injected.set(m[1]!, (injected.get(m[1]!) ?? 0) + 1);
          for (const r of nested.byReason.filter((x) => x.level === "L1"))
            assert.equal(injected.get(r.reason) ?? 0, count(r.exitsPerSecond, d), `${r.reason} into L1`);
          // And L0's own (kvm_exit not followed by an inject): the L0 rows.
          for (const r of nested.byReason.filter((x) => x.level === "L0" && x.code !== EXTERNAL_INTERRUPT))
            assert.equal(
              rowCount(r.code) - (injected.get(r.reason) ?? 0) - (r.code === MSR_WRITE ? notify : 0),
              count(r.exitsPerSecond, d),
              `${r.reason} at L0`,
            );
        });
      }
    }
  }

  test("an idle L2's wake-up by an interrupt: L1's HLT, the wake, the trapped injection VMWRITE, the VMRESUME", () => {
    // nested-kvm-on-kvm-noshadow.vmcs's L2 woken by an interrupt only: without VMCS shadowing
    // L1's VMWRITE VM_ENTRY_INTR_INFO_FIELD traps (wake.ts wakeChain), once per wake-up.
    // L1's own halt polling off (`halt_poll 0`): every wake-up goes through L1's HLT.
    const base = readFileSync(`${EXAMPLES}nested-kvm-on-kvm-noshadow.vmcs`, "utf8").replace(
      "hypervisor l1 on vmcs01 {",
      "hypervisor l1 on vmcs01 {\n  halt_poll 0",
    );
    const text = `${base.slice(0, base.indexOf("guest l2 on vmcs12"))}guest l2 on vmcs12 {
  vcpus 2
  irq nic vector 0x41 rate 5k/s { compute 2us }
  idle halt
}
`;
    const run = nestedRun(text, "l2", 0.02);
    const { nested, result, trace, exported } = run;
    const d = result.duration;
    assert.equal(trace.pairing.unpairedEntries, result.vcpus);
    const wakeUps = count(nested.wakeUpsPerSecond, d);
    assert.ok(wakeUps > 20, `${wakeUps} wake-ups`);
    const l1Hlts = l1Exits(exported, "HLT");
    let l1Instructions = 0;
    for (const r of trace.exits.rows)
      if (r.code !== undefined && L1_INSTRUCTIONS.has(r.code)) l1Instructions += r.count;
    const writes = l1Instructions - count(nested.trappedPerSecond, d);
    assert.equal(writes, wakeUps, "one trapped injection VMWRITE per wake-up");
    assertWakeExits(run, l1Hlts, writes);
    // One wake-up's lines on its thread, from L1's HLT to the entry into L2.
    const lines = exported.split("\n").filter((l) => l.includes("CPU 0/KVM"));
    const events = (l: string) => {
      const m = /: (kvm_\w+): +(?:vcpu \d+ reason (\w+))?/.exec(l)!;
      return m[2] ? `${m[1]} ${m[2]}` : m[1]!;
    };
    const at = lines.findIndex(
      (l, i) =>
        / kvm_exit: +vcpu 0 reason HLT rip 0xffffffffc/.test(l) &&
        events(lines[i + 2] ?? "") === "kvm_exit VMWRITE",
    );
    assert.ok(at > 0, "a wake-up with its injection VMWRITE");
    assert.deepEqual(lines.slice(at, at + 7).map(events), [
      "kvm_exit HLT",
      "kvm_entry",
      "kvm_exit VMWRITE",
      "kvm_entry",
      "kvm_exit VMRESUME",
      "kvm_nested_vmenter",
      "kvm_entry",
    ]);
  });

  test("one chain's lines, in KVM's order (no VMCS shadowing: L1's VMREAD/VMWRITE trap)", () => {
    const text = readFileSync(`${EXAMPLES}nested-kvm-on-kvm-noshadow.vmcs`, "utf8");
    const { exported } = nestedRun(text, "l2", 0.002);
    const lines = exported.split("\n").filter((l) => l.includes("CPU 0/KVM"));
    const at = lines.findIndex((l) => / kvm_exit: +vcpu 0 reason CPUID /.test(l));
    assert.ok(at > 0);
    const events: string[] = [];
    for (const l of lines.slice(at)) {
      const m = /: (kvm_\w+): +(?:vcpu \d+ reason (\w+))?/.exec(l)!;
      events.push(m[2] ? `${m[1]} ${m[2]}` : m[1]!);
      if (events.length > 1 && m[1] === "kvm_entry" && events.at(-2)?.startsWith("kvm_nested_vmenter")) break;
    }
    // CPUID's L1 handler: l1_exit_path's two VMREADs, advance_rip's VMREAD + VMWRITE (all
    // outside a shadow VMCS), then VMRESUME.
    assert.deepEqual(events, [
      "kvm_exit CPUID",
      "kvm_nested_vmexit CPUID",
      "kvm_nested_vmexit_inject",
      "kvm_entry",
      ...["VMREAD", "VMREAD", "VMREAD", "VMWRITE"].flatMap((r) => [`kvm_exit ${r}`, "kvm_entry"]),
      "kvm_exit VMRESUME",
      "kvm_nested_vmenter",
      "kvm_entry",
    ]);
    assert.ok(
      lines.some((l) =>
        / kvm_nested_vmenter: +rip: 0x[0-9a-f]{16} vmcs: 0x[0-9a-f]{16} nested_rip: 0x[0-9a-f]{16} int_ctl: 0x00000000 event_inj: 0x00000000 nested_ept=y nested_eptp: 0x[0-9a-f]{16}$/.test(
          l,
        ),
      ),
    );
  });

  test("a nested exit L0 synthesizes at entry has an inject and no kvm_exit", () => {
    const text = readFileSync(`${EXAMPLES}nested-posted-interrupts.vmcs`, "utf8");
    const { exported, nested, result } = nestedRun(text, "l2_legacy", 0.02);
    assert.ok(nested.synthesizedPerSecond > 0, "the example synthesizes some");
    const lines = exported.split("\n");
    let synthesized = 0;
    const previous = new Map<string, string>();
    for (const l of lines) {
      const thread = /CPU \d+\/KVM-\d+/.exec(l)?.[0];
      if (!thread) continue;
      if (/kvm_nested_vmexit_inject: reason EXTERNAL_INTERRUPT/.test(l)) {
        // After an L2 exit (kvm_exit + kvm_nested_vmexit) or, synthesized, right after L0's
        // last event of the previous episode (never a kvm_entry into L2 in between).
        const before = previous.get(thread) ?? "";
        assert.doesNotMatch(before, /kvm_entry/);
        if (!/kvm_nested_vmexit: /.test(before)) synthesized++;
      }
      previous.set(thread, l);
    }
    assert.equal(synthesized, count(nested.synthesizedPerSecond, result.duration));
  });

  test("L1's notification on the sender's vCPU: kvm_exit MSR_WRITE, kvm_msr X2APIC_ICR, kvm_entry into L1", () => {
    const text = readFileSync(`${EXAMPLES}nested-posted-interrupts.vmcs`, "utf8");
    const { exported, nested, result } = nestedRun(text, "l2_posted", 0.02);
    const notify = count(nested.notifyExitsPerSecond, result.duration);
    assert.ok(notify > 100, `${notify} notifications`);
    let seen = 0;
    for (let v = 0; v < result.vcpus; v++) {
      const lines = exported.split("\n").filter((l) => l.includes(`CPU ${v}/KVM`));
      lines.forEach((l, i) => {
        if (!/ kvm_exit: +vcpu \d+ reason MSR_WRITE rip 0xffffffffc/.test(l)) return;
        seen++;
        // L1 is not in guest mode: no kvm_nested_vmexit; the ICR (0x830) write, then back into L1.
        assert.match(lines[i + 1] ?? "", / kvm_msr: +msr_write 830 = 0x0$/);
        assert.match(lines[i + 2] ?? "", / kvm_entry: +vcpu \d+ rip 0xffffffffc/);
      });
    }
    assert.equal(seen, notify);
  });

  test("latency: a VMRESUME's kvm_exit → kvm_entry is the chain's resume step (idle poll)", () => {
    const text = readFileSync(`${EXAMPLES}nested-kvm-on-kvm.vmcs`, "utf8").replace(/idle halt/g, "idle poll");
    const { analysis, trace, result } = nestedRun(text, "l2", 0.02);
    const chain = reflectedChainCost(analysis.program, analysis.program.hypervisors.get("l1")!, 10);
    const row = trace.exits.rows.find((r) => r.code === VMRESUME)!;
    const expectedNs = (chain.resumeCycles / result.target.hz) * 1e9;
    // Timestamps are rounded to 1 ns.
    assert.ok(Math.abs(row.meanNs - expectedNs) <= 1, `${row.meanNs} vs ${expectedNs}`);
  });
});
