/**
 * Cases for the host-state (H1–H6) and guest-state (G1–G14) units: a field the file sets with a
 * value VM entry rejects, and the value corrected. The base vmcs (support.ts) runs on
 * skylake_server: CR0_FIXED0 = PE|NE|PG, CR4_FIXED0 = VMXE, MAXPHYADDR 46, 48-bit linear
 * addresses (no 5-level paging; icelake_server has it), activity states HLT/shutdown/SIPI.
 */
import { type RuleCase, vmcs } from "./support";

const EXIT = "host_address_space_size acknowledge_interrupt_on_exit";
/** A case whose failing and passing files differ in one statement. */
const pair = (
  rule: string,
  failing: string,
  passing: string,
  spec: Parameters<typeof vmcs>[0] = {},
  before: readonly string[] = [],
): RuleCase => ({
  rule,
  code: `VMX-${rule}`,
  failing: vmcs({ ...spec, extra: [...before, `«${failing}»`] }),
  passing: vmcs({ ...spec, extra: [...before, passing] }),
});

export const HOST_STATE_CASES: readonly RuleCase[] = [
  // CR0.NE (bit 5) is in IA32_VMX_CR0_FIXED0; CR4.VMXE (bit 13) in CR4_FIXED0.
  pair("H1", "field HOST_CR0 = 0x8000_0001", "field HOST_CR0 = 0x8000_0031"),
  pair("H1", "field HOST_CR4 = 0x20", "field HOST_CR4 = 0x2020"),
  // CR4.LA57 (bit 12) is not in skylake_server's CR4_FIXED1.
  pair("H1", "field HOST_CR4 = 0x3020", "field HOST_CR4 = 0x2020"),
  pair("H2", "field HOST_CR3 = 0x4000_0000_0000", "field HOST_CR3 = 0x3fff_ffff_f000"),
  pair("H3", "field HOST_GS_BASE = 0x8000_0000_0000", "field HOST_GS_BASE = 0xffff_8000_0000_0000"),
  pair("H3", "field HOST_IA32_SYSENTER_EIP = 0x1_0000_0000_0000", "field HOST_IA32_SYSENTER_EIP = 0"),
  pair("H3", "field HOST_RIP = 0x1_0000_0000_0000", "field HOST_RIP = 0xffff_ffff_8100_0000"),
  // 57-bit linear addresses on icelake_server: the same base is canonical there.
  {
    rule: "H3",
    code: "VMX-H3",
    failing: vmcs({ extra: ["«field HOST_FS_BASE = 0x0100_0000_0000_0000»"] }),
    passing: vmcs({ target: "icelake_server", extra: ["field HOST_FS_BASE = 0x0080_0000_0000_0000"] }),
  },
  pair("H4", "field HOST_CS_SELECTOR = 0x13", "field HOST_CS_SELECTOR = 0x10"),
  pair("H4", "field HOST_TR_SELECTOR = 0", "field HOST_TR_SELECTOR = 0x40"),
  pair("H4", "field HOST_DS_SELECTOR = 0x1c", "field HOST_DS_SELECTOR = 0"),
  // SS may be 0 only for a 64-bit host.
  pair("H4", "field HOST_SS_SELECTOR = 0", "field HOST_SS_SELECTOR = 0x18", {
    exit: "acknowledge_interrupt_on_exit",
    entry: "",
  }),
  // PAT entry 0 = 2 (reserved memory type).
  pair("H5", "field HOST_IA32_PAT = 0x0007_0406_0007_0402", "field HOST_IA32_PAT = 0x0007_0406_0007_0406", {
    exit: `${EXIT} load_ia32_pat`,
  }),
  // The same through the raw VM-exit control word (load IA32_PAT is bit 19).
  pair(
    "H5",
    "field HOST_IA32_PAT = 0x0007_0406_0007_0408",
    "field HOST_IA32_PAT = 0x0007_0406_0007_0406",
    {},
    ["field VM_EXIT_CONTROLS = 0x8_8200"],
  ),
  // EFER bit 12 (AMD's SVME) is reserved on Intel.
  pair("H6", "field HOST_IA32_EFER = 0x1d01", "field HOST_IA32_EFER = 0xd01", {
    exit: `${EXIT} load_ia32_efer`,
  }),
  // Fixed counter 3 (bit 35) exists from Ice Lake on; skylake_server has 8 GP and 3 fixed counters.
  pair(
    "H7",
    "field HOST_IA32_PERF_GLOBAL_CTRL = 0xf_0000_00ff",
    "field HOST_IA32_PERF_GLOBAL_CTRL = 0x7_0000_00ff",
    {
      exit: `${EXIT} load_ia32_perf_global_ctrl`,
    },
  ),
];

/** A case of a unit whose id is not its rule (several units of one rule). */
const unitCase = (
  id: string,
  rule: string,
  failing: string,
  passing: string,
  spec: Parameters<typeof vmcs>[0] = {},
  before: readonly string[] = [],
): RuleCase => ({ ...pair(rule, failing, passing, spec, before), rule: id });

const INJECT_EXTERNAL = "field VM_ENTRY_INTR_INFO_FIELD = 0x8000_0020";
const INJECT_NMI = "field VM_ENTRY_INTR_INFO_FIELD = 0x8000_0202";

export const GUEST_STATE_CASES: readonly RuleCase[] = [
  pair("G1", "field GUEST_CR0 = 0x8000_0011", "field GUEST_CR0 = 0x8000_0031"),
  // Without unrestricted guest PE and PG are fixed to 1.
  pair("G1", "field GUEST_CR0 = 0x20", "field GUEST_CR0 = 0x8000_0021", { entry: "" }),
  // With it they are free, but PG still needs PE.
  pair("G1", "field GUEST_CR0 = 0x8000_0020", "field GUEST_CR0 = 0x20", {
    proc2: "enable_ept unrestricted_guest",
    entry: "",
  }),
  pair("G1", "field GUEST_CR4 = 0x20", "field GUEST_CR4 = 0x2020"),
  pair("G2", "field GUEST_CR4 = 0x2000", "field GUEST_CR4 = 0x2020"),
  pair("G2", "field GUEST_CR0 = 0x21", "field GUEST_CR0 = 0x8000_0021", {
    proc2: "enable_ept unrestricted_guest",
  }),
  pair("G2", "field GUEST_CR4 = 0x2_2020", "field GUEST_CR4 = 0x2020", { entry: "" }),
  pair("G3", "field GUEST_CR3 = 0x4000_0000_0000", "field GUEST_CR3 = 0x1000"),
  pair("G3", "field GUEST_FS_BASE = 0x8000_0000_0000", "field GUEST_FS_BASE = 0x7fff_ffff_f000"),
  pair("G3", "field GUEST_SYSENTER_ESP = 0xff00_0000_0000_0000", "field GUEST_SYSENTER_ESP = 0"),
  pair("G3", "field GUEST_IDTR_LIMIT = 0x1_0000", "field GUEST_IDTR_LIMIT = 0xffff"),
  pair("G4", "field GUEST_DR7 = 0x1_0000_0400", "field GUEST_DR7 = 0x400", {
    entry: "ia32e_mode_guest load_debug_controls",
  }),
  pair("G4", "field GUEST_IA32_DEBUGCTL = 0x1_0000", "field GUEST_IA32_DEBUGCTL = 0x1", {
    entry: "ia32e_mode_guest load_debug_controls",
  }),
  // Through the raw VM-entry control word: IA-32e mode guest (bit 9) and load debug controls (bit 2).
  pair("G4", "field GUEST_DR7 = 0x1_0000_0400", "field GUEST_DR7 = 0x400", { entry: "" }, [
    "field VM_ENTRY_CONTROLS = 0x204",
  ]),
  pair("G5", "field GUEST_IA32_EFER = 0x100", "field GUEST_IA32_EFER = 0x500", {
    entry: "ia32e_mode_guest load_ia32_efer",
  }),
  pair("G5", "field GUEST_IA32_EFER = 0x2500", "field GUEST_IA32_EFER = 0x500", {
    entry: "ia32e_mode_guest load_ia32_efer",
  }),
  pair(
    "G5",
    "field GUEST_IA32_EFER = 0x400",
    "field GUEST_IA32_EFER = 0x500",
    { entry: "ia32e_mode_guest load_ia32_efer" },
    ["field GUEST_CR0 = 0x8000_0031"],
  ),
  pair("G6", "field GUEST_IA32_PAT = 0x0007_0406_0007_0403", "field GUEST_IA32_PAT = 0x0007_0406_0007_0406", {
    entry: "ia32e_mode_guest load_ia32_pat",
  }),
  // Load IA32_PAT (entry) is bit 14 of the raw word, IA-32e mode guest bit 9.
  pair(
    "G6",
    "field GUEST_IA32_PAT = 0x0007_0406_0007_0403",
    "field GUEST_IA32_PAT = 0x0007_0406_0007_0406",
    { entry: "" },
    ["field VM_ENTRY_CONTROLS = 0x4200"],
  ),
  pair("G7", "field GUEST_RFLAGS = 0", "field GUEST_RFLAGS = 0x2"),
  pair("G7", "field GUEST_RFLAGS = 0x8002", "field GUEST_RFLAGS = 0x2"),
  pair("G7", "field GUEST_RFLAGS = 0x2_0002", "field GUEST_RFLAGS = 0x2"),
  pair("G7", "field GUEST_RFLAGS = 0x2", "field GUEST_RFLAGS = 0x202", {}, [INJECT_EXTERNAL]),
  pair("G7", "field GUEST_RIP = 0x1_0000_0000", "field GUEST_RIP = 0xffff_f000", { entry: "" }),
  pair("G7", "field GUEST_RIP = 0x8000_0000_0000", "field GUEST_RIP = 0xffff_8000_0000_1000"),
  // CS.L = 0 (a 32-bit code segment, AR 0xc09b) in IA-32e mode: compatibility mode, 32-bit RIP.
  pair("G7", "field GUEST_RIP = 0xffff_8000_0000_1000", "field GUEST_RIP = 0x1000", {}, [
    "field GUEST_CS_AR_BYTES = 0xc09b",
  ]),
  pair("G8", "field GUEST_ACTIVITY_STATE = 4", "field GUEST_ACTIVITY_STATE = 1"),
  // HLT with SS.DPL = 3 (AR 0xc0f3).
  pair("G8", "field GUEST_ACTIVITY_STATE = 1", "field GUEST_ACTIVITY_STATE = 0", {}, [
    "field GUEST_SS_AR_BYTES = 0xc0f3",
  ]),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 0x20", "field GUEST_INTERRUPTIBILITY_INFO = 0"),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 3", "field GUEST_INTERRUPTIBILITY_INFO = 1"),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 1", "field GUEST_INTERRUPTIBILITY_INFO = 0", {}, [
    "field GUEST_RFLAGS = 0x2",
  ]),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 2", "field GUEST_INTERRUPTIBILITY_INFO = 0", {}, [
    INJECT_EXTERNAL,
  ]),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 2", "field GUEST_INTERRUPTIBILITY_INFO = 1", {}, [
    INJECT_NMI,
  ]),
  pair("G9", "field GUEST_INTERRUPTIBILITY_INFO = 4", "field GUEST_INTERRUPTIBILITY_INFO = 8"),
  pair(
    "G9",
    "field GUEST_INTERRUPTIBILITY_INFO = 8",
    "field GUEST_INTERRUPTIBILITY_INFO = 0",
    { pin: "external_interrupt_exiting nmi_exiting virtual_nmis" },
    [INJECT_NMI],
  ),
  pair("G10", "field GUEST_PENDING_DBG_EXCEPTIONS = 0x10", "field GUEST_PENDING_DBG_EXCEPTIONS = 0x4001"),
  // STI blocking with TF = 1 and BTF = 0: a pending single-step trap, BS must be 1.
  pair("G10", "field GUEST_PENDING_DBG_EXCEPTIONS = 0", "field GUEST_PENDING_DBG_EXCEPTIONS = 0x4000", {}, [
    "field GUEST_INTERRUPTIBILITY_INFO = 1",
    "field GUEST_RFLAGS = 0x302",
    "field GUEST_IA32_DEBUGCTL = 0",
  ]),
  // HLT with TF = 0: BS must be 0.
  pair("G10", "field GUEST_PENDING_DBG_EXCEPTIONS = 0x4000", "field GUEST_PENDING_DBG_EXCEPTIONS = 0", {}, [
    "field GUEST_ACTIVITY_STATE = 1",
    "field GUEST_RFLAGS = 0x202",
  ]),
  pair("G11", "field VMCS_LINK_POINTER = 0x1008", "field VMCS_LINK_POINTER = 0xffff_ffff_ffff_ffff"),
  pair("G11", "field VMCS_LINK_POINTER = 0x4000_0000_0000", "field VMCS_LINK_POINTER = 0x1000"),
  pair("G13", "field GUEST_TR_SELECTOR = 0x44", "field GUEST_TR_SELECTOR = 0x40"),
  pair("G13", "field GUEST_LDTR_SELECTOR = 0x54", "field GUEST_LDTR_SELECTOR = 0x50", {}, [
    "field GUEST_LDTR_AR_BYTES = 0x82",
  ]),
  pair("G13", "field GUEST_SS_SELECTOR = 0x18", "field GUEST_SS_SELECTOR = 0x1b", {}, [
    "field GUEST_CS_SELECTOR = 0x23",
  ]),
  pair("G14", "field GUEST_BNDCFGS = 0x1004", "field GUEST_BNDCFGS = 0x1001", {
    entry: "ia32e_mode_guest load_ia32_bndcfgs",
  }),
  pair("G14", "field GUEST_BNDCFGS = 0x8000_0000_0001", "field GUEST_BNDCFGS = 0x1001", {
    entry: "ia32e_mode_guest load_ia32_bndcfgs",
  }),
  // PERF_METRICS (bit 48): Ice Lake and later only.
  {
    rule: "G12",
    code: "VMX-G12",
    failing: vmcs({
      entry: "ia32e_mode_guest load_ia32_perf_global_ctrl",
      extra: ["«field GUEST_IA32_PERF_GLOBAL_CTRL = 0x1_0000_0000_0001»"],
    }),
    passing: vmcs({
      target: "icelake_server",
      entry: "ia32e_mode_guest load_ia32_perf_global_ctrl",
      extra: ["field GUEST_IA32_PERF_GLOBAL_CTRL = 0x1_0000_0000_0001"],
    }),
  },
  pair("G12", "field GUEST_IA32_PERF_GLOBAL_CTRL = 0x100", "field GUEST_IA32_PERF_GLOBAL_CTRL = 0xff", {
    entry: "ia32e_mode_guest load_ia32_perf_global_ctrl",
  }),
  // TraceEn with bit 18 (reserved on every Intel PT implementation).
  unitCase(
    "G15 RTIT_CTL",
    "G15",
    "field GUEST_IA32_RTIT_CTL = 0x4_0001",
    "field GUEST_IA32_RTIT_CTL = 0x2001",
    {
      entry: "ia32e_mode_guest load_ia32_rtit_ctl",
    },
  ),
  // PAE paging (PG, PAE, no IA-32e mode) with EPT: PDPTE 0 present with bits 2:1 set.
  unitCase("G15 PDPTE", "G15", "field GUEST_PDPTR0 = 0x1007", "field GUEST_PDPTR0 = 0x1001", { entry: "" }, [
    "field GUEST_CR0 = 0x8000_0031",
    "field GUEST_CR4 = 0x2020",
  ]),
  unitCase(
    "G15 PDPTE",
    "G15",
    "field GUEST_PDPTR3 = 0x4000_0000_0001",
    "field GUEST_PDPTR3 = 0x4000_0000_0000",
    { entry: "" },
    ["field GUEST_CR0 = 0x8000_0031", "field GUEST_CR4 = 0x2020"],
  ),
  // CS of type 3 needs unrestricted guest.
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_CS_AR_BYTES = 0xa093",
    "field GUEST_CS_AR_BYTES = 0xa09b",
  ),
  // A 4 GiB limit needs G = 1.
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_DS_AR_BYTES = 0x93",
    "field GUEST_DS_AR_BYTES = 0xc093",
    {},
    ["field GUEST_DS_LIMIT = 0xffff_ffff"],
  ),
  // An available TSS (type 9) in TR; a busy one (11) is required.
  unitCase("G13 access rights", "G13", "field GUEST_TR_AR_BYTES = 0x89", "field GUEST_TR_AR_BYTES = 0x8b"),
  // A non-conforming CS with DPL 0 while SS.DPL is 3.
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_CS_AR_BYTES = 0xa09b",
    "field GUEST_CS_AR_BYTES = 0xa0fb",
    {},
    ["field GUEST_SS_AR_BYTES = 0xc0f3"],
  ),
  // Virtual-8086 mode: access rights F3H.
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_SS_AR_BYTES = 0x93",
    "field GUEST_SS_AR_BYTES = 0xf3",
    { entry: "" },
    ["field GUEST_RFLAGS = 0x2_0002"],
  ),
  // Virtual-8086 mode: limits FFFFH, bases selector × 16.
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_SS_LIMIT = 0xfff",
    "field GUEST_SS_LIMIT = 0xffff",
    { entry: "" },
    ["field GUEST_RFLAGS = 0x2_0002"],
  ),
  unitCase(
    "G13 access rights",
    "G13",
    "field GUEST_DS_BASE = 0x123",
    "field GUEST_DS_BASE = 0x1230",
    { entry: "" },
    ["field GUEST_RFLAGS = 0x2_0002", "field GUEST_DS_SELECTOR = 0x123"],
  ),
  unitCase("G13 access rights", "G13", "field GUEST_CS_BASE = 0x1_0000_0000", "field GUEST_CS_BASE = 0"),
];
