import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import * as vmx from "../core/src/vmx";
import {
  CONTROL_WORDS,
  CONTROLS,
  controlInWord,
  controlsOfWord,
  DEFAULT1_BITS,
  decodeFieldEncoding,
  EXCEPTIONS,
  EXIT_REASONS,
  exceptionByMnemonic,
  exceptionByVector,
  exitReasonByCode,
  exitReasonByName,
  findControls,
  growPleWindow,
  KVM_DEFAULTS,
  MSRS,
  msrBitmapBit,
  msrByIndex,
  msrByName,
  shrinkPleWindow,
  VMCS_FIELDS,
  vmcsFieldByEncoding,
  vmcsFieldByName,
} from "../core/src/vmx";

function mask(word: Parameters<typeof controlInWord>[0], name: string): number {
  const control = controlInWord(word, name);
  assert.ok(control, `${word} ${name} exists`);
  return 2 ** control.bit;
}

describe("controls", () => {
  it("match the Linux masks of vmx-facts.md §2", () => {
    assert.equal(mask("pin", "external_interrupt_exiting"), 0x1);
    assert.equal(mask("pin", "process_posted_interrupts"), 0x80);
    assert.equal(mask("proc", "hlt_exiting"), 0x80);
    assert.equal(mask("proc", "use_tpr_shadow"), 0x200000);
    assert.equal(mask("proc", "activate_tertiary_controls"), 0x20000);
    assert.equal(mask("proc", "activate_secondary_controls"), 0x80000000);
    assert.equal(mask("proc2", "enable_ept"), 0x2);
    assert.equal(mask("proc2", "enable_pml"), 0x20000);
    assert.equal(mask("proc2", "use_tsc_scaling"), 0x2000000);
    assert.equal(mask("proc2", "notify_vm_exiting"), 0x80000000);
    assert.equal(mask("proc3", "ipi_virtualization"), 0x10);
    assert.equal(mask("exit", "acknowledge_interrupt_on_exit"), 0x8000);
    assert.equal(mask("exit", "host_address_space_size"), 0x200);
    assert.equal(mask("exit", "clear_ia32_rtit_ctl"), 0x02000000);
    assert.equal(mask("entry", "ia32e_mode_guest"), 0x200);
    assert.equal(mask("entry", "load_ia32_rtit_ctl"), 0x40000);
  });

  it("have no duplicate (word, bit) and no duplicate name within a word", () => {
    for (const word of CONTROL_WORDS) {
      const bits = new Set<number>();
      const names = new Set<string>();
      for (const control of controlsOfWord(word)) {
        assert.ok(!bits.has(control.bit), `${word} bit ${control.bit} twice`);
        assert.ok(!names.has(control.name), `${word} ${control.name} twice`);
        assert.ok(control.bit >= 0 && control.bit < (word === "proc3" ? 64 : 32));
        assert.match(control.name, /^[a-z][a-z0-9_]*$/);
        assert.ok(control.source.length > 0 && control.meaning.length > 0);
        bits.add(control.bit);
        names.add(control.name);
      }
    }
  });

  it("cover every control of the language spec", () => {
    const counts = Object.fromEntries(CONTROL_WORDS.map((word) => [word, controlsOfWord(word).length]));
    assert.deepEqual(counts, { pin: 5, proc: 22, proc2: 30, proc3: 5, exit: 12, entry: 10 });
    assert.equal(CONTROLS.length, 84);
  });

  it("resolve names shared by several words", () => {
    assert.deepEqual(
      findControls("conceal_vmx_from_pt").map((control) => [control.word, control.bit]),
      [
        ["proc2", 19],
        ["exit", 24],
        ["entry", 17],
      ],
    );
    assert.deepEqual(
      findControls("load_ia32_efer").map((control) => [control.word, control.bit]),
      [
        ["exit", 21],
        ["entry", 15],
      ],
    );
    assert.equal(findControls("load_ia32_pat").length, 2);
    assert.equal(findControls("load_ia32_perf_global_ctrl").length, 2);
    assert.deepEqual(findControls("no_such_control"), []);
  });

  it("default1 bits equal L-vmx.h *_ALWAYSON_WITHOUT_TRUE_MSR", () => {
    assert.equal(DEFAULT1_BITS.pin, 0x16);
    assert.equal(DEFAULT1_BITS.proc, 0x0401e172);
    assert.equal(DEFAULT1_BITS.exit, 0x00036dff);
    assert.equal(DEFAULT1_BITS.entry, 0x000011ff);
    // SDM: primary default1 = bits 1, 4–6, 8, 13–16, 26.
    const procBits = [1, 4, 5, 6, 8, 13, 14, 15, 16, 26].reduce((sum, bit) => sum + 2 ** bit, 0);
    assert.equal(DEFAULT1_BITS.proc, procBits);
  });
});

describe("exit reasons", () => {
  it("match the L-uapi numbers of vmx-facts.md §1", () => {
    const expected: Record<string, number> = {
      EXCEPTION_NMI: 0,
      EXTERNAL_INTERRUPT: 1,
      TRIPLE_FAULT: 2,
      INTERRUPT_WINDOW: 7,
      CPUID: 10,
      HLT: 12,
      VMCALL: 18,
      CR_ACCESS: 28,
      IO_INSTRUCTION: 30,
      MSR_READ: 31,
      MSR_WRITE: 32,
      INVALID_STATE: 33,
      MWAIT_INSTRUCTION: 36,
      MONITOR_TRAP_FLAG: 37,
      PAUSE_INSTRUCTION: 40,
      TPR_BELOW_THRESHOLD: 43,
      APIC_ACCESS: 44,
      EOI_INDUCED: 45,
      EPT_VIOLATION: 48,
      EPT_MISCONFIG: 49,
      PREEMPTION_TIMER: 52,
      XSETBV: 55,
      APIC_WRITE: 56,
      PML_FULL: 62,
      XRSTORS: 64,
      UMWAIT: 67,
      TPAUSE: 68,
      BUS_LOCK: 74,
      NOTIFY: 75,
      TDCALL: 77,
    };
    for (const [name, code] of Object.entries(expected))
      assert.equal(exitReasonByName(name)?.code, code, name);
  });

  it("take Bochs names where Linux has none, and are absent where reserved", () => {
    assert.equal(exitReasonByCode(5)?.name, "IO_SMI");
    assert.equal(exitReasonByCode(11)?.name, "GETSEC");
    assert.equal(exitReasonByCode(17)?.name, "RSM");
    assert.equal(exitReasonByCode(65)?.name, "PCONFIG");
    assert.equal(exitReasonByCode(69)?.name, "LOADIWKEY");
    for (const reserved of [35, 38, 42, 71, 82, 83, 86]) assert.equal(exitReasonByCode(reserved), undefined);
    const codes = EXIT_REASONS.map((reason) => reason.code);
    assert.equal(new Set(codes).size, codes.length);
    assert.equal(Math.max(...codes), 85);
  });

  it("accept aliases, EXIT_REASON_ prefix and any case", () => {
    assert.equal(exitReasonByName("PENDING_INTERRUPT")?.code, 7);
    assert.equal(exitReasonByName("INSTRUCTION_TIMEOUT")?.code, 75);
    assert.equal(exitReasonByName("EXIT_REASON_EPT_VIOLATION")?.code, 48);
    assert.equal(exitReasonByName("ept_misconfig")?.code, 49);
    assert.equal(exitReasonByName("WRMSRNS")?.code, 85);
    assert.equal(exitReasonByName("NOPE"), undefined);
    // Flags in bits 31:16 (entry failure, enclave) do not change the basic reason.
    assert.equal(exitReasonByCode(0x80000021)?.name, "INVALID_STATE");
  });

  it("give no name or alias to two reasons", () => {
    const seen = new Map<string, number>();
    for (const reason of EXIT_REASONS)
      for (const name of [reason.name, ...(reason.aliases ?? [])]) {
        assert.ok(!seen.has(name) || seen.get(name) === reason.code, `${name} used twice`);
        seen.set(name, reason.code);
      }
  });
});

describe("VMCS fields", () => {
  it("derive width and type from the encoding (SDM §25.11.2)", () => {
    assert.deepEqual(
      [
        decodeFieldEncoding(0x4402).width,
        decodeFieldEncoding(0x4402).type,
        decodeFieldEncoding(0x4402).readOnly,
      ],
      ["32", "exit-information", true],
    );
    assert.equal(decodeFieldEncoding(0x681e).width, "natural");
    assert.equal(decodeFieldEncoding(0x681e).type, "guest-state");
    assert.equal(decodeFieldEncoding(0x0c00).type, "host-state");
    assert.equal(decodeFieldEncoding(0x0c00).width, "16");
    assert.equal(decodeFieldEncoding(0x201a).width, "64");
    assert.equal(decodeFieldEncoding(0x201b).high, true);
    assert.equal(decodeFieldEncoding(0x201b).valid, true);
    assert.equal(decodeFieldEncoding(0x4403).valid, false, "high access on a 32-bit field");
    assert.equal(decodeFieldEncoding(0x1000).valid, false, "reserved bit 12");
  });

  it("hold Linux's enum vmcs_field with the _HIGH aliases", () => {
    assert.equal(vmcsFieldByName("GUEST_RIP")?.encoding, 0x681e);
    assert.equal(vmcsFieldByName("VM_EXIT_REASON")?.encoding, 0x4402);
    assert.equal(vmcsFieldByName("guest_physical_address")?.readOnly, true);
    assert.equal(vmcsFieldByName("GUEST_PHYSICAL_ADDRESS")?.width, "64");
    assert.equal(vmcsFieldByName("EPT_POINTER_HIGH")?.encoding, 0x201b);
    assert.equal(vmcsFieldByName("EPT_POINTER_HIGH")?.high, true);
    assert.equal(vmcsFieldByName("SHARED_EPT_POINTER_HIGH"), undefined, "Linux names no high alias for it");
    assert.equal(vmcsFieldByEncoding(0x2032)?.name, "TSC_MULTIPLIER");
    assert.equal(vmcsFieldByName("PLE_WINDOW")?.type, "control");
    assert.equal(vmcsFieldByName("GUEST_RIP")?.readOnly, false);
    const encodings = VMCS_FIELDS.map((field) => field.encoding);
    assert.equal(new Set(encodings).size, encodings.length);
    for (const field of VMCS_FIELDS) {
      const decoded = decodeFieldEncoding(field.encoding);
      assert.ok(decoded.valid, field.name);
      assert.equal(field.high === true, field.name.endsWith("_HIGH"), field.name);
    }
    // 154 enum members without _HIGH; 64-bit ones except SHARED_EPT_POINTER have an alias.
    const full = VMCS_FIELDS.filter((field) => !field.high);
    assert.equal(full.length, 154);
    assert.equal(VMCS_FIELDS.length - full.length, full.filter((field) => field.width === "64").length - 1);
  });
});

describe("MSRs", () => {
  it("have the spec's well-known indices", () => {
    const expected: Record<string, number> = {
      IA32_APIC_BASE: 0x1b,
      IA32_TSC_DEADLINE: 0x6e0,
      IA32_TSC_ADJUST: 0x3b,
      IA32_SPEC_CTRL: 0x48,
      IA32_PRED_CMD: 0x49,
      IA32_EFER: 0xc0000080,
      IA32_KERNEL_GS_BASE: 0xc0000102,
      IA32_PAT: 0x277,
      IA32_MISC_ENABLE: 0x1a0,
      X2APIC_TPR: 0x808,
      X2APIC_EOI: 0x80b,
      X2APIC_ICR: 0x830,
      X2APIC_SELF_IPI: 0x83f,
      IA32_VMX_BASIC: 0x480,
      IA32_VMX_PROCBASED_CTLS3: 0x492,
      IA32_TSC: 0x10,
      IA32_LSTAR: 0xc0000082,
    };
    for (const [name, index] of Object.entries(expected)) assert.equal(msrByName(name)?.index, index, name);
  });

  it("resolve Linux spellings and any case, and look up by index", () => {
    assert.equal(msrByName("MSR_IA32_TSC_DEADLINE")?.name, "IA32_TSC_DEADLINE");
    assert.equal(msrByName("msr_efer")?.name, "IA32_EFER");
    assert.equal(msrByName("MSR_IA32_TSX_CTRL")?.index, 0x122);
    assert.equal(msrByName("x2apic_eoi")?.index, 0x80b);
    assert.equal(msrByIndex(0x80b)?.name, "X2APIC_EOI");
    assert.equal(msrByIndex(0x821)?.name, "X2APIC_IRR1");
    assert.equal(msrByName("NOT_AN_MSR"), undefined);
    const indices = MSRS.map((msr) => msr.index);
    assert.equal(new Set(indices).size, indices.length);
    for (const msr of MSRS)
      if (msr.name.startsWith("X2APIC_")) assert.ok(msr.index >= 0x800 && msr.index <= 0x8ff, msr.name);
  });

  it("place MSRs in the bitmap as L-kvmvmx.h describes", () => {
    assert.equal(msrBitmapBit(0x6e0, "read"), 0x6e0);
    assert.equal(msrBitmapBit(0x6e0, "write"), 0x800 * 8 + 0x6e0);
    assert.equal(msrBitmapBit(0xc0000102, "read"), 0x400 * 8 + 0x102);
    assert.equal(msrBitmapBit(0xc0000102, "write"), 0xc00 * 8 + 0x102);
    assert.equal(msrBitmapBit(0x2000, "read"), undefined);
    assert.equal(msrBitmapBit(0x4b564d00, "write"), undefined);
  });
});

describe("exceptions", () => {
  it("map mnemonics to vectors with error codes per x86_exception_has_error_code", () => {
    const withErrorCode = EXCEPTIONS.filter((exception) => exception.hasErrorCode).map((e) => e.vector);
    assert.deepEqual(withErrorCode, [8, 10, 11, 12, 13, 14, 17, 21]);
    assert.equal(exceptionByVector(21)?.errorCodeNeedsCet, true);
    assert.equal(exceptionByMnemonic("#PF")?.vector, 14);
    assert.equal(exceptionByMnemonic("#NMI")?.vector, 2);
    assert.equal(exceptionByMnemonic("gp")?.vector, 13);
    assert.equal(exceptionByMnemonic("#CP")?.vector, 21);
    assert.equal(exceptionByMnemonic("#9"), undefined);
    assert.equal(exceptionByVector(9)?.reserved, true);
    assert.equal(exceptionByVector(15)?.reserved, true);
    assert.equal(exceptionByVector(32), undefined);
    assert.equal(EXCEPTIONS.length, 32);
  });
});

describe("KVM defaults", () => {
  it("carry §8's values and grow/shrink the PLE window like KVM", () => {
    assert.equal(KVM_DEFAULTS.pleGap.value, 128);
    assert.equal(KVM_DEFAULTS.pleWindow.value, 4096);
    assert.equal(KVM_DEFAULTS.haltPollNs.value, 200_000);
    assert.equal(KVM_DEFAULTS.pmlEntries.value, 512);
    assert.equal(growPleWindow(4096, 4096, 2, 0xffffffff), 8192);
    assert.equal(growPleWindow(4096, 4096, 5000, 6000), 6000);
    assert.equal(shrinkPleWindow(8192, 4096, 0, 4096), 4096);
    assert.equal(shrinkPleWindow(8192, 4096, 2, 4096), 4096);
  });
});

describe("one home per fact", () => {
  it("names exit reasons once: EXIT.* and the cause columns read the rows", () => {
    assert.equal(vmx.EXIT.EPT_MISCONFIG, 49);
    assert.equal(vmx.exitReason("PAUSE_INSTRUCTION").code, vmx.EXIT.PAUSE_INSTRUCTION);
    const memory = vmx.EXIT_REASONS.filter((r) => r.memoryAccess).map((r) => r.name);
    assert.deepEqual(memory, [
      "APIC_ACCESS",
      "EOI_INDUCED",
      "EPT_VIOLATION",
      "EPT_MISCONFIG",
      "APIC_WRITE",
      "PML_FULL",
      "SPP",
    ]);
    for (const r of vmx.EXIT_REASONS) assert.equal(r.instructionCaused, r.cause === "instruction", r.name);
    // Every instruction row's reason is instruction-caused; every gated event is not.
    for (const row of vmx.INSTRUCTION_EXITS)
      assert.ok(vmx.exitReason(row.reason).instructionCaused, row.mnemonic);
    for (const row of vmx.CONTROLLED_EXITS)
      assert.ok(!vmx.exitReason(row.reason).instructionCaused, row.reason);
  });

  it("resolves controls by typed name to the table's bit", () => {
    const hlt = vmx.CONTROL.proc.hlt_exiting;
    assert.equal(hlt.mask, 1n << BigInt(vmx.controlInWord("proc", "hlt_exiting")!.bit));
    const words = { pin: 0n, proc: hlt.mask, proc2: 0n, proc3: 0n, exit: 0n, entry: 0n };
    assert.ok(vmx.isControlSet(words, hlt));
    assert.ok(!vmx.isControlSet(words, vmx.CONTROL.proc2.enable_ept));
    for (const word of vmx.CONTROL_WORDS)
      assert.deepEqual(
        Object.keys(vmx.CONTROL[word]).sort(),
        vmx
          .controlsOfWord(word)
          .map((c) => c.name)
          .sort(),
      );
  });

  it("lists every capability MSR once, as each profile carries them", () => {
    for (const profile of vmx.PROFILES)
      assert.deepEqual(Object.keys(profile.msrs).sort(), [...vmx.CAPABILITY_MSR_NAMES].sort());
  });

  it("takes the PAUSE iteration per generation: about 10 cycles before Skylake, 140 from Skylake on", () => {
    const cycles = Object.fromEntries(vmx.PROFILES.map((p) => [p.name, p.pauseIteration.cycles]));
    assert.equal(cycles.haswell, 10);
    assert.equal(cycles.broadwell, 10);
    assert.equal(cycles.skylake_server, 140);
    assert.equal(cycles.sapphire_rapids, 140);
    for (const p of vmx.PROFILES) assert.equal(p.pauseIteration.provenance, "estimate");
  });
});

/**
 * The tables against Linux's own headers (test/fixtures/linux, extracted `#define` lines with the
 * commit they come from): names, numbers and bit positions must agree, both ways.
 */
describe("the tables match Linux's vmx.h, uapi vmx.h and vmxfeatures.h", () => {
  const fixture = (name: string) =>
    readFileSync(new URL(`./fixtures/linux/${name}`, import.meta.url), "utf8");
  const defines = (name: string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const line of fixture(name).split("\n")) {
      const m = /^#define (\w+(?:\(\w+\))?) (.+)$/.exec(line);
      if (m) out.set(m[1]!, m[2]!);
    }
    return out;
  };
  const uapi = defines("uapi-asm-vmx.h.defines");
  const features = defines("asm-vmxfeatures.h.defines");
  const asm = defines("asm-vmx.h.defines");
  const number = (text: string) => Number(text);
  const FEATURE_WORDS: vmx.ControlWord[] = ["pin", "proc", "proc2", "proc3"];
  /** `( 2*32+ 10)` → word 2, bit 10, as the C preprocessor evaluates it. */
  const feature = (name: string): { word: vmx.ControlWord; bit: number } => {
    const text = features.get(name);
    assert.ok(text, `${name} in vmxfeatures.h`);
    const m = /^\( *(\d+)\*32\+ *(\d+)\)$/.exec(text);
    assert.ok(m, text);
    return { word: FEATURE_WORDS[Number(m[1])]!, bit: Number(m[2]) };
  };
  /** A control macro of asm/vmx.h: VMCS_CONTROL_BIT(X) (BIT(VMX_FEATURE_X & 0x1f)) or a one-bit mask. */
  const macroBit = (macro: string): { word?: vmx.ControlWord; bit: number } => {
    const value = asm.get(macro);
    assert.ok(value, `${macro} in asm/vmx.h`);
    const viaFeature = /^VMCS_CONTROL_BIT\((\w+)\)$/.exec(value);
    if (viaFeature) return feature(`VMX_FEATURE_${viaFeature[1]}`);
    const mask = number(value);
    assert.equal(mask & (mask - 1), 0, `${macro} is one bit`);
    return { bit: Math.log2(mask) };
  };

  it("every EXIT_REASON_* of Linux is a row with that number and name, and every L-uapi row is in Linux", () => {
    const linux = [...uapi].filter(([name]) => name.startsWith("EXIT_REASON_"));
    assert.ok(linux.length > 60);
    for (const [name, value] of linux)
      assert.equal(vmx.exitReasonByCode(number(value))?.name, name.slice("EXIT_REASON_".length), name);
    const names = new Set(linux.map(([name]) => name.slice("EXIT_REASON_".length)));
    for (const reason of vmx.EXIT_REASONS)
      if (reason.source.startsWith("L-uapi"))
        assert.ok(names.has(reason.name), `${reason.name} cites L-uapi`);
      else assert.ok(!names.has(reason.name), `${reason.name} is in Linux: cite it`);
    assert.equal(vmx.EXIT_REASON_FAILED_VMENTRY, number(uapi.get("VMX_EXIT_REASONS_FAILED_VMENTRY")!));
    assert.equal(vmx.EXIT_REASON_SGX_ENCLAVE_MODE, number(uapi.get("VMX_EXIT_REASONS_SGX_ENCLAVE_MODE")!));
  });

  it("every control that cites a Linux macro sits at the macro's word and bit", () => {
    let checked = 0;
    for (const control of vmx.CONTROLS) {
      const cited = control.linuxMacro ?? /VMX_FEATURE_\w+/.exec(control.source)?.[0];
      if (cited === undefined) continue;
      const at = cited.startsWith("VMX_FEATURE_") ? feature(cited) : macroBit(cited);
      assert.equal(control.bit, at.bit, `${control.word}.${control.name} (${cited})`);
      if (at.word) assert.equal(control.word, at.word, `${control.name} (${cited})`);
      checked++;
    }
    assert.ok(checked > 60, `${checked} controls checked`);
  });

  it("every control macro of asm/vmx.h names a control of the table", () => {
    const prefixes: [string, vmx.ControlWord][] = [
      ["PIN_BASED_", "pin"],
      ["CPU_BASED_", "proc"],
      ["SECONDARY_EXEC_", "proc2"],
      ["TERTIARY_EXEC_", "proc3"],
      ["VM_EXIT_", "exit"],
      ["VM_ENTRY_", "entry"],
    ];
    for (const macro of asm.keys()) {
      const word = prefixes.find(([prefix]) => macro.startsWith(prefix))?.[1];
      if (!word || macro.endsWith("_ALWAYSON_WITHOUT_TRUE_MSR")) continue;
      const { bit } = macroBit(macro);
      assert.ok(vmx.controlAtBit(word, bit), `${macro}: no ${word} control at bit ${bit}`);
    }
  });

  it("default1 bits are Linux's *_ALWAYSON_WITHOUT_TRUE_MSR and the MISC bits are VMX_MISC_*", () => {
    assert.equal(vmx.DEFAULT1_BITS.pin, number(asm.get("PIN_BASED_ALWAYSON_WITHOUT_TRUE_MSR")!));
    assert.equal(vmx.DEFAULT1_BITS.proc, number(asm.get("CPU_BASED_ALWAYSON_WITHOUT_TRUE_MSR")!));
    assert.equal(vmx.DEFAULT1_BITS.exit, number(asm.get("VM_EXIT_ALWAYSON_WITHOUT_TRUE_MSR")!));
    assert.equal(vmx.DEFAULT1_BITS.entry, number(asm.get("VM_ENTRY_ALWAYSON_WITHOUT_TRUE_MSR")!));
    // Our names for Linux's VMX_MISC_* (Linux abbreviates three of them).
    const ours: Record<string, keyof typeof vmx.VMX_MISC> = {
      SAVE_EFER_LMA: "SAVE_EFER_LMA",
      ACTIVITY_HLT: "ACTIVITY_HLT",
      ACTIVITY_SHUTDOWN: "ACTIVITY_SHUTDOWN",
      ACTIVITY_WAIT_SIPI: "ACTIVITY_WAIT_SIPI",
      INTEL_PT: "INTEL_PT",
      RDMSR_IN_SMM: "RDMSR_IN_SMM",
      VMXOFF_BLOCK_SMI: "VMXOFF_BLOCKS_SMI",
      VMWRITE_SHADOW_RO_FIELDS: "VMWRITE_READ_ONLY_FIELDS",
      ZERO_LEN_INS: "ZERO_LENGTH_INJECTION",
    };
    for (const [macro, value] of asm) {
      const bit = /^VMX_MISC_(\w+)$/.exec(macro) && /^BIT_ULL\((\d+)\)$/.exec(value);
      if (!bit) continue;
      const name = ours[macro.slice("VMX_MISC_".length)];
      assert.ok(name, `${macro} has a VMX_MISC entry`);
      assert.equal(vmx.VMX_MISC[name], Number(bit[1]), macro);
    }
  });
});
