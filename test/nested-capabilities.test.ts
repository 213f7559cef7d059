/**
 * L1's VMX capability MSRs as KVM computes them (core/src/vmx/nestedCapabilities.ts, after
 * nested.c `nested_vmx_setup_ctls_msrs`): each assertion is a line of that function or of vmx.c,
 * checked on the profiles where it makes L1's MSRs differ from the host's.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  controlWordCapability,
  cr3TargetLimit,
  decodeVmxBasic,
  decodeVmxMisc,
  EPT_VPID_CAP,
  hasEptVpidCap,
  supportsActivityState,
} from "../core/src/vmx/capabilities";
import { controlInWord } from "../core/src/vmx/controls";
import {
  effectiveL0,
  KVM_DEFAULT_L0,
  nestedCapabilityMsrs,
  VMCS12_REVISION,
} from "../core/src/vmx/nestedCapabilities";
import { profileByName } from "../core/src/vmx/profiles";
import type { CapabilityMsrs, ControlWord } from "../core/src/vmx/types";

const host = (name: string): CapabilityMsrs => {
  const profile = profileByName(name);
  assert.ok(profile, name);
  return profile.msrs;
};

function mayBeOne(msrs: CapabilityMsrs, word: ControlWord, name: string): boolean {
  const control = controlInWord(word, name);
  assert.ok(control, `${word} ${name}`);
  return ((controlWordCapability(msrs, word).mayBeOne >> BigInt(control.bit)) & 1n) === 1n;
}

function mustBeOne(msrs: CapabilityMsrs, word: ControlWord, name: string): boolean {
  const control = controlInWord(word, name);
  assert.ok(control, `${word} ${name}`);
  return ((controlWordCapability(msrs, word).mustBeOne >> BigInt(control.bit)) & 1n) === 1n;
}

describe("nested_vmx_setup_ctls_msrs: what L0 exposes to L1", () => {
  const skl = host("skylake_server");
  const l1 = nestedCapabilityMsrs(skl);

  test("controls the host has and KVM does not emulate are hidden from L1", () => {
    for (const [word, name] of [
      ["proc2", "use_tsc_scaling"],
      ["proc2", "mode_based_execute_control"],
      ["proc2", "pause_loop_exiting"],
      ["proc2", "ept_violation_ve"],
      ["entry", "entry_to_smm"],
      ["entry", "load_ia32_rtit_ctl"],
      ["exit", "clear_ia32_rtit_ctl"],
    ] as const) {
      assert.equal(mayBeOne(skl, word, name), true, `the host has ${name}`);
      assert.equal(mayBeOne(l1, word, name), false, `L1 does not get ${name}`);
    }
    // Tertiary controls: Sapphire Rapids has them, L1 does not.
    const spr = host("sapphire_rapids");
    assert.equal(mayBeOne(spr, "proc", "activate_tertiary_controls"), true);
    assert.equal(mayBeOne(nestedCapabilityMsrs(spr), "proc", "activate_tertiary_controls"), false);
    assert.equal(nestedCapabilityMsrs(spr).IA32_VMX_PROCBASED_CTLS3, 0n);
  });

  test("controls KVM emulates are offered whatever the host has", () => {
    // Nehalem has no VMCS shadowing; "We can emulate VMCS shadowing, even if the hardware doesn't".
    const nhm = host("nehalem");
    assert.equal(mayBeOne(nhm, "proc2", "vmcs_shadowing"), false);
    assert.equal(mayBeOne(nestedCapabilityMsrs(nhm), "proc2", "vmcs_shadowing"), true);
    // Haswell has EPT A/D bits but no PML: KVM emulates PML for L1 when eptad is on.
    const hsw = host("haswell");
    assert.equal(mayBeOne(hsw, "proc2", "enable_pml"), false);
    assert.equal(mayBeOne(nestedCapabilityMsrs(hsw), "proc2", "enable_pml"), true);
    assert.equal(
      mayBeOne(nestedCapabilityMsrs(hsw, { ...KVM_DEFAULT_L0, eptAdBits: false }), "proc2", "enable_pml"),
      false,
    );
    for (const [word, name] of [
      ["pin", "activate_vmx_preemption_timer"],
      ["proc", "use_msr_bitmaps"],
      ["exit", "acknowledge_interrupt_on_exit"],
      ["exit", "save_vmx_preemption_timer_value"],
      ["entry", "load_ia32_efer"],
    ] as const)
      assert.equal(mayBeOne(l1, word, name), true, name);
  });

  test("default1 controls L1 may clear: CR3 exiting, debug-control save/load", () => {
    for (const [word, name] of [
      ["proc", "cr3_load_exiting"],
      ["proc", "cr3_store_exiting"],
      ["exit", "save_debug_controls"],
      ["entry", "load_debug_controls"],
    ] as const)
      assert.equal(mustBeOne(l1, word, name), false, name);
    // The non-TRUE MSRs keep them as must-be-1 (vmx_get_vmx_msr ORs *_ALWAYSON_WITHOUT_TRUE_MSR).
    assert.equal((l1.IA32_VMX_PROCBASED_CTLS >> 15n) & 1n, 1n);
    assert.equal(decodeVmxBasic(l1.IA32_VMX_BASIC).trueControls, true);
  });

  test("posted interrupts only with enable_apicv on an APICv host", () => {
    assert.equal(mayBeOne(l1, "pin", "process_posted_interrupts"), true);
    assert.equal(
      mayBeOne(
        nestedCapabilityMsrs(skl, { ...KVM_DEFAULT_L0, apicv: false }),
        "pin",
        "process_posted_interrupts",
      ),
      false,
    );
    // Sandy Bridge has no APICv: enable_apicv is cleared by hardware_setup.
    assert.equal(effectiveL0(host("sandy_bridge")).apicv, false);
  });

  test("the features L0 uses: ept=0 removes EPT, unrestricted guest, PML and EPTP switching", () => {
    const noEpt = nestedCapabilityMsrs(skl, { ...KVM_DEFAULT_L0, ept: false });
    for (const name of ["enable_ept", "unrestricted_guest", "enable_pml"])
      assert.equal(mayBeOne(noEpt, "proc2", name), false, name);
    assert.equal(noEpt.IA32_VMX_VMFUNC, 0n);
    assert.equal(l1.IA32_VMX_VMFUNC, 1n);
    assert.equal(
      mayBeOne(nestedCapabilityMsrs(skl, { ...KVM_DEFAULT_L0, vpid: false }), "proc2", "enable_vpid"),
      false,
    );
  });

  test("EPT/VPID capabilities: no UC EPTP, all INVVPID types", () => {
    assert.equal(hasEptVpidCap(skl, EPT_VPID_CAP.EPTP_UC), true);
    assert.equal(hasEptVpidCap(l1, EPT_VPID_CAP.EPTP_UC), false);
    assert.equal(hasEptVpidCap(l1, EPT_VPID_CAP.EPTP_WB), true);
    assert.equal(hasEptVpidCap(l1, EPT_VPID_CAP.ACCESSED_DIRTY), true);
    assert.equal(hasEptVpidCap(l1, EPT_VPID_CAP.PAGE_WALK_5), false, "Skylake has no 5-level EPT");
    assert.equal(hasEptVpidCap(nestedCapabilityMsrs(host("icelake_server")), EPT_VPID_CAP.PAGE_WALK_5), true);
    assert.equal(hasEptVpidCap(l1, EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS), true);
  });

  test("MISC: no CR3 targets, HLT the only activity state, timer rate 5, no zero-length injection", () => {
    assert.equal(cr3TargetLimit(skl), 4);
    assert.equal(cr3TargetLimit(l1), 0);
    assert.equal(supportsActivityState(l1, 1), true);
    assert.equal(supportsActivityState(l1, 2), false);
    assert.equal(supportsActivityState(l1, 3), false);
    const misc = decodeVmxMisc(l1.IA32_VMX_MISC);
    assert.equal(misc.preemptionTimerRate, 5);
    assert.equal(misc.zeroLengthInjection, false);
    assert.equal(misc.vmwriteReadOnlyFields, true, "VMWRITE to exit-information fields, even on Nehalem");
    assert.equal(decodeVmxMisc(nestedCapabilityMsrs(host("nehalem")).IA32_VMX_MISC).saveEferLma, false);
    assert.equal(misc.intelPtInVmx, false);
  });

  test("BASIC and CR fixed bits", () => {
    const basic = decodeVmxBasic(l1.IA32_VMX_BASIC);
    assert.equal(BigInt(basic.revisionId), VMCS12_REVISION);
    assert.equal(basic.vmcsSize, 4096);
    assert.equal(basic.memoryType, 6);
    assert.equal(l1.IA32_VMX_CR0_FIXED0, (1n << 0n) | (1n << 5n) | (1n << 31n));
    assert.equal(l1.IA32_VMX_CR4_FIXED0, 1n << 13n);
    // Sapphire Rapids: CR4.CET (23) and PKS (24) may be 1 on the host, not in vmcs12 (v5.10-era KVM).
    const spr = host("sapphire_rapids");
    const l1spr = nestedCapabilityMsrs(spr);
    for (const bit of [23n, 24n]) {
      assert.equal((spr.IA32_VMX_CR4_FIXED1 >> bit) & 1n, 1n);
      assert.equal((l1spr.IA32_VMX_CR4_FIXED1 >> bit) & 1n, 0n);
    }
    // LA57 follows the host (Ice Lake has it, Skylake not).
    assert.equal((l1spr.IA32_VMX_CR4_FIXED1 >> 12n) & 1n, 1n);
    assert.equal((l1.IA32_VMX_CR4_FIXED1 >> 12n) & 1n, 0n);
  });
});
