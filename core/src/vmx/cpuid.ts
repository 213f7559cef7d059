/**
 * CPUID as a guest is shown it: a small table of the feature bits a migration pool usually
 * differs in, and which of them each CPU profile has (docs/language.md "CPUID").
 *
 * Bits: Intel SDM Vol. 2A, CPUID — "Feature Information Returned in the ECX Register" (leaf 01H)
 * and "Structured Extended Feature Flags Enumeration Leaf" (leaf 07H, sub-leaf 0 and 1). Names:
 * Linux arch/x86/include/asm/cpufeatures.h (the `X86_FEATURE_*` names in lower case, as
 * /proc/cpuinfo prints them: `avx512f`, `avx512_vbmi`, `sha_ni`).
 *
 * What a hidden feature does to a guest that uses it anyway (`whenHidden`):
 * - `ud`: the instruction raises #UD. For the features that own an XSAVE state component (AVX:
 *   YMM_Hi128, AVX-512: opmask/ZMM_Hi256/Hi16_ZMM, AMX: XTILECFG/XTILEDATA) the guest cannot set
 *   the XCR0 bits (KVM's __kvm_set_xcr rejects bits outside `guest_supported_xcr0`, which
 *   follows the guest's CPUID leaf 0DH; a VMM that hides the feature hides its component, as
 *   QEMU does), and SDM Vol. 1 §13.3 / §15.2 make VEX/EVEX instructions #UD then. PKU: the guest
 *   cannot set CR4.PKE (KVM `__cr4_reserved_bits` follows guest CPUID), so RDPKRU/WRPKRU #UD.
 *   INVPCID: KVM clears "enable INVPCID" when the guest's CPUID lacks it (vmx.c
 *   `vmx_secondary_exec_control`), and INVPCID #UDs (SDM Vol. 3C §26.3 / §25.3 pre-2023).
 * - `runs`: nothing in VT-x or KVM stops the instruction: CPUID only advertises it. The guest
 *   runs it on this host and takes #UD only after migrating to a host that lacks it.
 * - Features whose state owner is another feature (`owner`: AVX2 → AVX, AVX-512 sub-features →
 *   AVX-512F, AMX-BF16 → AMX-TILE): they run when the owner is shown and #UD when it is hidden.
 */

export type CpuidRegister = "eax" | "ebx" | "ecx" | "edx";

export interface CpuFeatureDef {
  /** Linux cpufeatures.h name, lower case. */
  name: string;
  leaf: number;
  subleaf: number;
  register: CpuidRegister;
  bit: number;
  /** What a guest gets when it uses the feature although CPUID hides it (see the file comment). */
  whenHidden: "ud" | "runs";
  /** The feature whose XSAVE state this one's instructions need: hidden owner → #UD. */
  owner?: string;
  description: string;
}

const L1 = 0x1;
const L7 = 0x7;

/** The table (SDM Vol. 2A CPUID; Linux cpufeatures.h word and bit in each description). */
export const CPU_FEATURES: readonly CpuFeatureDef[] = [
  {
    name: "sse4_2",
    leaf: L1,
    subleaf: 0,
    register: "ecx",
    bit: 20,
    whenHidden: "runs",
    description: "SSE4.2 (X86_FEATURE_XMM4_2, word 4)",
  },
  {
    name: "popcnt",
    leaf: L1,
    subleaf: 0,
    register: "ecx",
    bit: 23,
    whenHidden: "runs",
    description: "POPCNT (X86_FEATURE_POPCNT, word 4)",
  },
  {
    name: "aes",
    leaf: L1,
    subleaf: 0,
    register: "ecx",
    bit: 25,
    whenHidden: "runs",
    description: "AES-NI (X86_FEATURE_AES, word 4)",
  },
  {
    name: "avx",
    leaf: L1,
    subleaf: 0,
    register: "ecx",
    bit: 28,
    whenHidden: "ud",
    description: "AVX: owns XCR0[2] (YMM) (X86_FEATURE_AVX, word 4)",
  },
  {
    name: "f16c",
    leaf: L1,
    subleaf: 0,
    register: "ecx",
    bit: 29,
    whenHidden: "runs",
    owner: "avx",
    description: "F16C half-precision conversions (X86_FEATURE_F16C, word 4)",
  },
  {
    name: "bmi1",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 3,
    whenHidden: "runs",
    description: "BMI1 (X86_FEATURE_BMI1, word 9)",
  },
  {
    name: "avx2",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 5,
    whenHidden: "runs",
    owner: "avx",
    description: "AVX2 (X86_FEATURE_AVX2, word 9)",
  },
  {
    name: "bmi2",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 8,
    whenHidden: "runs",
    description: "BMI2 (X86_FEATURE_BMI2, word 9)",
  },
  {
    name: "invpcid",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 10,
    whenHidden: "ud",
    description: "INVPCID (X86_FEATURE_INVPCID, word 9)",
  },
  {
    name: "avx512f",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 16,
    whenHidden: "ud",
    description: "AVX-512 Foundation: owns XCR0[7:5] (X86_FEATURE_AVX512F, word 9)",
  },
  {
    name: "avx512dq",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 17,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 DQ (X86_FEATURE_AVX512DQ, word 9)",
  },
  {
    name: "adx",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 19,
    whenHidden: "runs",
    description: "ADCX/ADOX (X86_FEATURE_ADX, word 9)",
  },
  {
    name: "clflushopt",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 23,
    whenHidden: "runs",
    description: "CLFLUSHOPT (X86_FEATURE_CLFLUSHOPT, word 9)",
  },
  {
    name: "clwb",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 24,
    whenHidden: "runs",
    description: "CLWB (X86_FEATURE_CLWB, word 9)",
  },
  {
    name: "avx512cd",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 28,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 CD (X86_FEATURE_AVX512CD, word 9)",
  },
  {
    name: "sha_ni",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 29,
    whenHidden: "runs",
    description: "SHA extensions (X86_FEATURE_SHA_NI, word 9)",
  },
  {
    name: "avx512bw",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 30,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 BW (X86_FEATURE_AVX512BW, word 9)",
  },
  {
    name: "avx512vl",
    leaf: L7,
    subleaf: 0,
    register: "ebx",
    bit: 31,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 VL (X86_FEATURE_AVX512VL, word 9)",
  },
  {
    name: "avx512_vbmi",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 1,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 VBMI (X86_FEATURE_AVX512VBMI, word 16)",
  },
  {
    name: "pku",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 3,
    whenHidden: "ud",
    description: "protection keys: CR4.PKE, RDPKRU/WRPKRU (X86_FEATURE_PKU, word 16)",
  },
  {
    name: "avx512_vbmi2",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 6,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 VBMI2 (X86_FEATURE_AVX512_VBMI2, word 16)",
  },
  {
    name: "gfni",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 8,
    whenHidden: "runs",
    description: "Galois-field instructions (X86_FEATURE_GFNI, word 16)",
  },
  {
    name: "vaes",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 9,
    whenHidden: "runs",
    owner: "avx",
    description: "vector AES (X86_FEATURE_VAES, word 16)",
  },
  {
    name: "vpclmulqdq",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 10,
    whenHidden: "runs",
    owner: "avx",
    description: "vector carry-less multiply (X86_FEATURE_VPCLMULQDQ, word 16)",
  },
  {
    name: "avx512_vnni",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 11,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 VNNI (X86_FEATURE_AVX512_VNNI, word 16)",
  },
  {
    name: "avx512_bitalg",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 12,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 BITALG (X86_FEATURE_AVX512_BITALG, word 16)",
  },
  {
    name: "avx512_vpopcntdq",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 14,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 VPOPCNTDQ (X86_FEATURE_AVX512_VPOPCNTDQ, word 16)",
  },
  {
    name: "movdiri",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 27,
    whenHidden: "runs",
    description: "MOVDIRI (X86_FEATURE_MOVDIRI, word 16)",
  },
  {
    name: "movdir64b",
    leaf: L7,
    subleaf: 0,
    register: "ecx",
    bit: 28,
    whenHidden: "runs",
    description: "MOVDIR64B (X86_FEATURE_MOVDIR64B, word 16)",
  },
  {
    name: "serialize",
    leaf: L7,
    subleaf: 0,
    register: "edx",
    bit: 14,
    whenHidden: "runs",
    description: "SERIALIZE (X86_FEATURE_SERIALIZE, word 18)",
  },
  {
    name: "amx_bf16",
    leaf: L7,
    subleaf: 0,
    register: "edx",
    bit: 22,
    whenHidden: "runs",
    owner: "amx_tile",
    description: "AMX BF16 (X86_FEATURE_AMX_BF16, word 18)",
  },
  {
    name: "avx512_fp16",
    leaf: L7,
    subleaf: 0,
    register: "edx",
    bit: 23,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 FP16 (X86_FEATURE_AVX512_FP16, word 18)",
  },
  {
    name: "amx_tile",
    leaf: L7,
    subleaf: 0,
    register: "edx",
    bit: 24,
    whenHidden: "ud",
    description: "AMX tiles: owns XCR0[18:17] (X86_FEATURE_AMX_TILE, word 18)",
  },
  {
    name: "amx_int8",
    leaf: L7,
    subleaf: 0,
    register: "edx",
    bit: 25,
    whenHidden: "runs",
    owner: "amx_tile",
    description: "AMX INT8 (X86_FEATURE_AMX_INT8, word 18)",
  },
  {
    name: "avx_vnni",
    leaf: L7,
    subleaf: 1,
    register: "eax",
    bit: 4,
    whenHidden: "runs",
    owner: "avx",
    description: "AVX-VNNI (X86_FEATURE_AVX_VNNI, word 12)",
  },
  {
    name: "avx512_bf16",
    leaf: L7,
    subleaf: 1,
    register: "eax",
    bit: 5,
    whenHidden: "runs",
    owner: "avx512f",
    description: "AVX-512 BF16 (X86_FEATURE_AVX512_BF16, word 12)",
  },
];

const BY_NAME: ReadonlyMap<string, CpuFeatureDef> = new Map(CPU_FEATURES.map((f) => [f.name, f]));

/** A feature by its cpufeatures.h name (case-insensitive; `-` accepted for `_`, as QEMU writes them). */
export function cpuFeatureByName(name: string): CpuFeatureDef | undefined {
  return BY_NAME.get(name.toLowerCase().replaceAll("-", "_"));
}

export function cpuFeatureNames(): string[] {
  return CPU_FEATURES.map((f) => f.name);
}

/** "CPUID.(EAX=07H,ECX=0):EBX[16]", the SDM's notation. */
export function cpuidBitText(f: CpuFeatureDef): string {
  const leaf = `${f.leaf.toString(16).toUpperCase().padStart(2, "0")}H`;
  return `CPUID.(EAX=${leaf},ECX=${f.subleaf}):${f.register.toUpperCase()}[${f.bit}]`;
}

/**
 * The features of each CPU profile (core/src/vmx/profiles.ts names), as additions per
 * generation (each has the previous one's). Generation-level: what the server line of that
 * generation offers per Intel's product specifications (ark.intel.com, "Instruction Set
 * Extensions") and the SDM's per-feature introductions; QEMU's named CPU models
 * (target/i386/cpu.c) carry the same sets. Uncertain, labelled: a given SKU may lack a
 * feature its generation has (Intel fuses features per SKU), and TSX, not in this table, is
 * disabled by microcode on many parts.
 */
const GENERATION_FEATURES: readonly { profile: string; add: readonly string[]; source: string }[] = [
  {
    profile: "nehalem",
    add: ["sse4_2", "popcnt"],
    source: "SSE4.2 and POPCNT from Nehalem (SDM Vol. 1 §5.11)",
  },
  { profile: "westmere", add: ["aes"], source: "AES-NI from Westmere (Intel AES-NI white paper, 2010)" },
  { profile: "sandy_bridge", add: ["avx"], source: "AVX from Sandy Bridge (SDM Vol. 1 §5.13)" },
  { profile: "ivy_bridge", add: ["f16c"], source: "F16C from Ivy Bridge" },
  {
    profile: "haswell",
    add: ["avx2", "bmi1", "bmi2", "invpcid"],
    source: "AVX2, BMI1/2, INVPCID from Haswell (SDM Vol. 1 §5.21–5.22)",
  },
  { profile: "broadwell", add: ["adx"], source: "ADX from Broadwell" },
  {
    profile: "skylake_server",
    add: ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "clflushopt", "clwb", "pku"],
    source: "AVX-512 F/CD/BW/DQ/VL, CLFLUSHOPT, CLWB, PKU on Skylake-SP (Xeon Scalable, 2017)",
  },
  { profile: "cascade_lake", add: ["avx512_vnni"], source: "AVX-512 VNNI (DL Boost) on Cascade Lake-SP" },
  {
    profile: "icelake_server",
    add: [
      "avx512_vbmi",
      "avx512_vbmi2",
      "gfni",
      "vaes",
      "vpclmulqdq",
      "avx512_bitalg",
      "avx512_vpopcntdq",
      "sha_ni",
    ],
    source:
      "Ice Lake-SP: VBMI/VBMI2, GFNI, VAES, VPCLMULQDQ, BITALG, VPOPCNTDQ, SHA (uncertain for every SKU: SHA per ARK)",
  },
  {
    profile: "sapphire_rapids",
    add: [
      "movdiri",
      "movdir64b",
      "serialize",
      "amx_tile",
      "amx_bf16",
      "amx_int8",
      "avx512_fp16",
      "avx_vnni",
      "avx512_bf16",
    ],
    source: "Sapphire Rapids: AMX, AVX512-FP16, AVX-VNNI, AVX512-BF16, SERIALIZE, MOVDIRI/MOVDIR64B",
  },
];

const PROFILE_FEATURES: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const out = new Map<string, ReadonlySet<string>>();
  const acc = new Set<string>();
  for (const g of GENERATION_FEATURES) {
    for (const f of g.add) acc.add(f);
    out.set(g.profile, new Set(acc));
  }
  return out;
})();

/** The features a profile's CPU has (empty for a profile this table does not know). */
export function profileFeatures(profile: string): ReadonlySet<string> {
  return PROFILE_FEATURES.get(profile) ?? new Set();
}

/** Where a profile's feature list comes from: its generation's additions and sources, oldest first. */
export function profileFeatureSource(profile: string): string {
  const out: string[] = [];
  for (const g of GENERATION_FEATURES) {
    out.push(g.source);
    if (g.profile === profile) break;
  }
  return out.join("; ");
}

export const CPUID_REFERENCE = "SDM Vol. 2A CPUID; Linux arch/x86/include/asm/cpufeatures.h";
