import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CapabilityMsrs,
  CONTROL_WORDS,
  type ControlWord,
  checkCapabilityMsrs,
  controlInWord,
  controlsOfWord,
  controlWordCapability,
  cr3TargetLimit,
  DEFAULT_PROFILE_NAME,
  DEFAULT1_BITS,
  decodeVmxMisc,
  EPT_VPID_CAP,
  hasEptVpidCap,
  maxMsrListEntries,
  PROFILES,
  preemptionTimerRate,
  profileByName,
} from "../core/src/vmx";

const LINE = [
  "nehalem",
  "westmere",
  "sandy_bridge",
  "ivy_bridge",
  "haswell",
  "broadwell",
  "skylake_server",
  "cascade_lake",
  "icelake_server",
  "sapphire_rapids",
];

function mayBeOne(msrs: CapabilityMsrs, word: ControlWord, name: string): boolean {
  const control = controlInWord(word, name);
  assert.ok(control, `${word} ${name}`);
  return ((controlWordCapability(msrs, word).mayBeOne >> BigInt(control.bit)) & 1n) === 1n;
}

function profile(name: string) {
  const found = profileByName(name);
  assert.ok(found, name);
  return found;
}

describe("profiles", () => {
  it("exist in generation order with the default among them", () => {
    assert.deepEqual(
      PROFILES.map((p) => p.name),
      LINE,
    );
    assert.equal(DEFAULT_PROFILE_NAME, "skylake_server");
    assert.ok(profileByName(DEFAULT_PROFILE_NAME));
    const years = PROFILES.map((p) => p.year);
    assert.deepEqual(
      years,
      [...years].sort((a, b) => a - b),
    );
  });

  it("have internally consistent capability MSRs", () => {
    for (const p of PROFILES) assert.deepEqual(checkCapabilityMsrs(p.msrs), [], p.name);
  });

  it("report must-be-one ⊆ may-be-one for every word", () => {
    for (const p of PROFILES)
      for (const word of CONTROL_WORDS) {
        const capability = controlWordCapability(p.msrs, word);
        assert.equal(capability.mustBeOne & ~capability.mayBeOne, 0n, `${p.name} ${word}`);
      }
  });

  it("force the default1 bits in the non-TRUE MSRs and relax only default1 bits in TRUE ones", () => {
    for (const p of PROFILES) {
      const pairs = [
        ["pin", p.msrs.IA32_VMX_PINBASED_CTLS, p.msrs.IA32_VMX_TRUE_PINBASED_CTLS],
        ["proc", p.msrs.IA32_VMX_PROCBASED_CTLS, p.msrs.IA32_VMX_TRUE_PROCBASED_CTLS],
        ["exit", p.msrs.IA32_VMX_EXIT_CTLS, p.msrs.IA32_VMX_TRUE_EXIT_CTLS],
        ["entry", p.msrs.IA32_VMX_ENTRY_CTLS, p.msrs.IA32_VMX_TRUE_ENTRY_CTLS],
      ] as const;
      for (const [word, plain, truth] of pairs) {
        const default1 = BigInt(DEFAULT1_BITS[word]);
        assert.equal(plain & 0xffffffffn, default1, `${p.name} ${word} allowed-0 = default1`);
        assert.equal(truth >> 32n, plain >> 32n, `${p.name} ${word} same allowed-1`);
        const difference = (plain ^ truth) & 0xffffffffn;
        assert.equal(difference & ~default1, 0n, `${p.name} ${word} TRUE differs only in default1 bits`);
      }
      // Bochs TRUE values (vmx-facts.md §5): CR3-load/store and the debug-control bits may be 0.
      assert.equal(p.msrs.IA32_VMX_TRUE_PROCBASED_CTLS & 0xffffffffn, 0x04006172n);
      assert.equal(p.msrs.IA32_VMX_TRUE_EXIT_CTLS & 0xffffffffn, 0x00036dfbn);
      assert.equal(p.msrs.IA32_VMX_TRUE_ENTRY_CTLS & 0xffffffffn, 0x000011fbn);
    }
  });

  it("use the TRUE MSRs only when IA32_VMX_BASIC[55] is set", () => {
    const skylake = profile("skylake_server");
    assert.equal(controlWordCapability(skylake.msrs, "proc").msrName, "IA32_VMX_TRUE_PROCBASED_CTLS");
    assert.equal(controlWordCapability(skylake.msrs, "proc").mustBeOne & (1n << 15n), 0n);
    const withoutTrue = { ...skylake.msrs, IA32_VMX_BASIC: skylake.msrs.IA32_VMX_BASIC & ~(1n << 55n) };
    const capability = controlWordCapability(withoutTrue, "proc");
    assert.equal(capability.msrName, "IA32_VMX_PROCBASED_CTLS");
    assert.equal(capability.mustBeOne & (1n << 15n), 1n << 15n, "cr3_load_exiting forced to 1");
  });

  it("report no secondary or tertiary controls unless the primary word can activate them", () => {
    const skylake = profile("skylake_server");
    assert.deepEqual(controlWordCapability(skylake.msrs, "proc3"), {
      mustBeOne: 0n,
      mayBeOne: 0n,
      msrName: "IA32_VMX_PROCBASED_CTLS3",
    });
    const noSecondary = {
      ...skylake.msrs,
      IA32_VMX_TRUE_PROCBASED_CTLS: skylake.msrs.IA32_VMX_TRUE_PROCBASED_CTLS & ~(1n << 63n),
    };
    assert.equal(controlWordCapability(noSecondary, "proc2").mayBeOne, 0n);
    assert.equal(controlWordCapability(profile("sapphire_rapids").msrs, "proc3").mayBeOne, 0x10n);
  });

  it("decode MISC: CR3-target count 4, timer rate, 512-entry MSR lists, activity states", () => {
    for (const p of PROFILES) {
      assert.equal(cr3TargetLimit(p.msrs), 4, p.name);
      assert.equal(maxMsrListEntries(p.msrs), 512);
      assert.ok(preemptionTimerRate(p.msrs) >= 0 && preemptionTimerRate(p.msrs) < 32);
      const misc = decodeVmxMisc(p.msrs.IA32_VMX_MISC);
      assert.ok(misc.activityHlt && misc.activityShutdown && misc.activityWaitForSipi, p.name);
    }
    assert.equal(decodeVmxMisc(profile("nehalem").msrs.IA32_VMX_MISC).saveEferLma, false);
    assert.equal(decodeVmxMisc(profile("westmere").msrs.IA32_VMX_MISC).saveEferLma, true);
    assert.equal(decodeVmxMisc(profile("haswell").msrs.IA32_VMX_MISC).vmwriteReadOnlyFields, true);
  });

  it("add features in the generation they arrived and keep them in later ones", () => {
    const firstIndex = (word: ControlWord, name: string) =>
      PROFILES.findIndex((p) => mayBeOne(p.msrs, word, name));
    const arrivals: [ControlWord, string, string][] = [
      ["proc2", "enable_ept", "nehalem"],
      ["proc2", "enable_vpid", "nehalem"],
      ["proc", "activate_secondary_controls", "nehalem"],
      ["proc2", "unrestricted_guest", "westmere"],
      ["proc2", "pause_loop_exiting", "westmere"],
      ["proc2", "apic_register_virtualization", "ivy_bridge"],
      ["proc2", "virtual_interrupt_delivery", "ivy_bridge"],
      ["pin", "process_posted_interrupts", "ivy_bridge"],
      ["proc2", "vmcs_shadowing", "haswell"],
      ["proc2", "enable_vm_functions", "haswell"],
      ["proc2", "enable_pml", "broadwell"],
      ["proc2", "use_tsc_scaling", "skylake_server"],
      ["proc2", "enable_xsaves_xrstors", "skylake_server"],
      ["proc2", "mode_based_execute_control", "skylake_server"],
      ["proc2", "sub_page_write_permissions", "icelake_server"],
      ["proc", "activate_tertiary_controls", "sapphire_rapids"],
      ["proc3", "ipi_virtualization", "sapphire_rapids"],
      ["proc2", "bus_lock_detection", "sapphire_rapids"],
      ["proc2", "notify_vm_exiting", "sapphire_rapids"],
    ];
    for (const [word, name, generation] of arrivals)
      assert.equal(PROFILES[firstIndex(word, name)]?.name, generation, `${word} ${name}`);
    // Monotonic: once offered, offered by every later generation (MPX's BNDCFGS controls excepted).
    const removed = new Set(["clear_ia32_bndcfgs", "load_ia32_bndcfgs"]);
    for (const word of CONTROL_WORDS)
      for (const control of controlsOfWord(word)) {
        if (removed.has(control.name)) continue;
        const first = firstIndex(word, control.name);
        if (first < 0) continue;
        for (const p of PROFILES.slice(first))
          assert.ok(mayBeOne(p.msrs, word, control.name), `${p.name} ${control.name}`);
      }
    assert.equal(mayBeOne(profile("haswell").msrs, "proc2", "enable_pml"), false);
    assert.equal(mayBeOne(profile("icelake_server").msrs, "proc3", "ipi_virtualization"), false);
  });

  it("add EPT capabilities in order: A/D with Haswell, 5-level walks with Ice Lake", () => {
    assert.equal(hasEptVpidCap(profile("ivy_bridge").msrs, EPT_VPID_CAP.ACCESSED_DIRTY), false);
    assert.equal(hasEptVpidCap(profile("haswell").msrs, EPT_VPID_CAP.ACCESSED_DIRTY), true);
    assert.equal(hasEptVpidCap(profile("cascade_lake").msrs, EPT_VPID_CAP.PAGE_WALK_5), false);
    assert.equal(hasEptVpidCap(profile("icelake_server").msrs, EPT_VPID_CAP.PAGE_WALK_5), true);
    for (const p of PROFILES) {
      assert.ok(hasEptVpidCap(p.msrs, EPT_VPID_CAP.PAGE_WALK_4), p.name);
      assert.ok(hasEptVpidCap(p.msrs, EPT_VPID_CAP.EPTP_WB), p.name);
    }
    assert.equal(profile("broadwell").msrs.IA32_VMX_VMFUNC, 1n);
    assert.equal(profile("ivy_bridge").msrs.IA32_VMX_VMFUNC, 0n);
  });

  it("label costs: only Sandy Bridge's round trip is measured", () => {
    for (const p of PROFILES) {
      for (const [name, cost] of Object.entries(p.costs)) {
        assert.ok(cost.cycles > 0, `${p.name} ${name}`);
        assert.ok(cost.source.length > 20, `${p.name} ${name} has its reasoning`);
        const measured = p.name === "sandy_bridge" && name === "round_trip";
        assert.equal(cost.provenance, measured ? "measured" : "estimate", `${p.name} ${name}`);
      }
      assert.ok(p.defaultHz >= 1e9 && p.defaultHz <= 4e9);
    }
    const roundTrip = profile("sandy_bridge").costs.round_trip.cycles;
    assert.ok(roundTrip >= 1600 && roundTrip <= 1700);
    // Later generations do not get slower transitions.
    const trips = PROFILES.map((p) => p.costs.round_trip.cycles);
    for (let i = 1; i < trips.length; i++) assert.ok(trips[i]! <= trips[i - 1]!, PROFILES[i]!.name);
  });

  it("detect inconsistent user-supplied MSRs", () => {
    const skylake = profile("skylake_server").msrs;
    const contradictory = { ...skylake, IA32_VMX_TRUE_PINBASED_CTLS: 0x0000_0016_0000_0017n };
    assert.ok(
      checkCapabilityMsrs(contradictory).some((issue) => issue.msr === "IA32_VMX_TRUE_PINBASED_CTLS"),
    );
    const missingDefault1 = { ...skylake, IA32_VMX_ENTRY_CTLS: skylake.IA32_VMX_ENTRY_CTLS & ~1n };
    assert.ok(checkCapabilityMsrs(missingDefault1).some((issue) => issue.msr === "IA32_VMX_ENTRY_CTLS"));
  });
});
