/**
 * The statement shapes of each block context: which keywords start statements, how many items
 * each takes, whether it continues on following lines, whether it has a body, and the words its
 * arguments are made of. The parser uses this for statement extent and for "expected …"
 * messages; completion for keyword lists and the words it offers after a keyword; lowering
 * (core/src/model/statements/) builds its keyword tables against it and reads the argument
 * words from it, so a word is accepted, diagnosed and completed from this one declaration.
 */
import type { BlockContext } from "./ast";

export interface StatementShape {
  /** Words a user reads in "expected … after `kw`". */
  expects: string;
  /** Maximum items on the statement (Infinity for lists). */
  maxItems: number;
  /**
   * List statements continue on following lines whose first token cannot start a statement
   * (an identifier that is not a keyword of the block, a number, an exception mnemonic).
   */
  list?: boolean;
  /** Body: none, required (`path … { }`), with the block's context. */
  body?: BlockContext;
  /** Keywords of the block that are items here (`mmio write`: `write` is also an operation). */
  subwords?: readonly string[];
  /** The words of the arguments, when the statement has any. */
  words?: ArgumentWords;
}

/**
 * The fixed words of a statement's arguments, in the order completion offers them. Numbers,
 * times, rates and names of things (controls, MSRs, fields) are not words: lowering reads those
 * with the argument reader (core/src/model/args.ts).
 */
export interface ArgumentWords {
  /** The word the arguments start with (`io trap …`, `msr trap …`, `ipi rate R`). */
  lead?: string;
  /** One word of a set (`apic x2apic|xapic`; after `lead`: `msr trap read|write|rw`). */
  choice?: readonly string[];
  /** `WORD VALUE` pairs in any order (`ple gap N window N`). */
  pairs?: readonly string[];
  /** The words a pair's value may be (`eptp memtype WB|UC`). */
  pairValues?: Readonly<Record<string, readonly string[]>>;
  /** Words that stand alone among the pairs (`eptp … accessed_dirty`, `irq … posted`). */
  flags?: readonly string[];
}

/** The words completion offers for a statement's arguments: lead, choice, pairs (each with its values) and flags. */
export function argumentWordList(words: ArgumentWords): string[] {
  const out: string[] = [];
  if (words.lead !== undefined) out.push(words.lead);
  if (words.choice) out.push(...words.choice);
  for (const pair of words.pairs ?? []) out.push(pair, ...(words.pairValues?.[pair] ?? []));
  if (words.flags) out.push(...words.flags);
  return out;
}

const controlList: StatementShape = { expects: "a control name", maxItems: Infinity, list: true };
const none: StatementShape = { expects: "nothing", maxItems: 0 };
const one = (expects: string): StatementShape => ({ expects, maxItems: 1 });

export const TOP_LEVEL_KEYWORDS: ReadonlySet<string> = new Set([
  "target",
  "vmcs",
  "handler",
  "fn",
  "guest",
  "expect",
  "simulate",
  "hypervisor",
]);

export const VMCS_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["pin", controlList],
  ["proc", controlList],
  ["proc2", controlList],
  ["proc3", controlList],
  ["exit", controlList],
  ["entry", controlList],
  ["exceptions", { expects: "exception vectors (`#PF` or 0–31)", maxItems: Infinity, list: true }],
  ["pf_error_code", { expects: "`mask M match V`", maxItems: 4, words: { pairs: ["mask", "match"] } }],
  [
    "io",
    { expects: "`trap` and ports (`0x3f8..0x3ff`)", maxItems: Infinity, list: true, words: { lead: "trap" } },
  ],
  [
    "msr",
    {
      expects: "`trap read|write|rw` and MSRs",
      maxItems: Infinity,
      list: true,
      words: { lead: "trap", choice: ["read", "write", "rw"] },
    },
  ],
  // `shadow` is also a vmcs statement (VMCS shadowing): here it is the pair word.
  [
    "cr0",
    {
      expects: "`mask M [shadow S]`",
      maxItems: 4,
      subwords: ["shadow"],
      words: { pairs: ["mask", "shadow"] },
    },
  ],
  [
    "cr4",
    {
      expects: "`mask M [shadow S]`",
      maxItems: 4,
      subwords: ["shadow"],
      words: { pairs: ["mask", "shadow"] },
    },
  ],
  ["cr3_targets", { expects: "CR3-target values", maxItems: Infinity, list: true }],
  ["ple", { expects: "`gap N window N`", maxItems: 4, words: { pairs: ["gap", "window"] } }],
  ["preemption_timer", one("a timer value in ticks")],
  ["posted_interrupt_vector", one("a vector number")],
  ["tpr_threshold", one("a TPR threshold (0–15)")],
  ["vtpr", one("the VTPR byte at VM entry (offset 80H of the virtual-APIC page, 0–255)")],
  [
    "eptp",
    {
      expects: "`memtype WB|UC levels 4|5 [accessed_dirty]`",
      maxItems: 5,
      words: {
        pairs: ["memtype", "levels"],
        pairValues: { memtype: ["WB", "UC"] },
        flags: ["accessed_dirty"],
      },
    },
  ],
  ["field", { expects: "`NAME = VALUE`", maxItems: 3 }],
  // Nested virtualization: the VMREAD/VMWRITE bitmaps of a vmcs01 with vmcs_shadowing
  // (docs/language.md "Nested virtualization").
  [
    "shadow",
    {
      expects: "`kvm`, or `read` or `write` and VMCS field names",
      maxItems: Infinity,
      list: true,
      words: { choice: ["kvm", "read", "write"] },
    },
  ],
  ["ept", { expects: "`{` and the guest-physical memory map", maxItems: 0, body: "ept" }],
  // The TSC the guest reads (docs/language.md "TSC"): sugar for TSC_OFFSET and TSC_MULTIPLIER.
  [
    "tsc",
    {
      expects: "`offset N` (TSC ticks, may be negative) and/or `scale R` (the multiplier as a ratio, `1.5`)",
      maxItems: 4,
      words: { pairs: ["offset", "scale"] },
    },
  ],
  // CPUID as presented to the guest (docs/language.md "CPUID"; vmx/cpuid.ts).
  [
    "cpuid",
    {
      expects: "`hide` and CPU feature names (`avx512f`), or `leaf N [subleaf S] REGISTER mask M`",
      maxItems: Infinity,
      list: true,
      words: { choice: ["hide", "leaf"], pairs: ["subleaf", "mask"], flags: ["eax", "ebx", "ecx", "edx"] },
    },
  ],
]);

export const HANDLER_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["vmread", one("a VMCS field name")],
  ["vmwrite", one("a VMCS field name")],
  ["work", one("a cost in cycles or a time")],
  ["decode", none],
  ["advance_rip", none],
  ["inject", one("an exception vector (`#GP` or 0–255)")],
  ["invept", none],
  ["invvpid", none],
  // L1's VMX instructions (nested virtualization: a `hypervisor`'s handlers; docs/language.md)
  ["vmresume", none],
  ["vmlaunch", none],
  ["vmptrld", none],
  ["vmclear", none],
  ["userspace", one("a cost in cycles or a time")],
  ["halt", none],
  ["kick", none],
  ["call", one("a fn name")],
  ["branch", { expects: "`{` and probability arms", maxItems: 0, body: "handlerArms" }],
  ["repeat", { expects: "a count and `{`", maxItems: 1, body: "handler" }],
]);

/** What a source's `rate R per …` counts: each vCPU's arrivals (the default) or the guest's. */
export const RATE_SCOPES = ["vcpu", "guest"] as const;

export const GUEST_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["vcpus", one("a vCPU count")],
  [
    "path",
    {
      expects: "a name and `rate R [per vcpu|guest]` or `every T`",
      maxItems: 5,
      body: "guestOps",
      words: { choice: ["rate", "every"], pairs: ["per"], pairValues: { per: RATE_SCOPES } },
    },
  ],
  [
    "irq",
    {
      expects: "a name, `vector V` and `rate R [per vcpu|guest]`",
      maxItems: 8,
      body: "guestOps",
      words: { pairs: ["vector", "rate", "per"], pairValues: { per: RATE_SCOPES }, flags: ["posted"] },
    },
  ],
  [
    "timer",
    {
      expects: "`periodic F` or `tickless [HZ]`",
      maxItems: 2,
      body: "guestOps",
      words: { choice: ["periodic", "tickless"] },
    },
  ],
  [
    "ipi",
    {
      expects: "`rate R [per vcpu|guest]`",
      maxItems: 4,
      body: "guestOps",
      words: { lead: "rate", pairs: ["per"], pairValues: { per: RATE_SCOPES } },
    },
  ],
  [
    "nmi",
    {
      expects: "`rate R [per vcpu|guest]`",
      maxItems: 4,
      body: "guestOps",
      words: { lead: "rate", pairs: ["per"], pairValues: { per: RATE_SCOPES } },
    },
  ],
  ["idle", { ...one("`halt`, `poll` or `mwait`"), words: { choice: ["halt", "poll", "mwait"] } }],
  ["apic", { ...one("`x2apic` or `xapic`"), words: { choice: ["x2apic", "xapic"] } }],
  // Host: each vCPU thread pinned to one physical CPU (docs/language.md, "Host").
  ["pinned", none],
  // The measurement of this guest: a KVM trace file (docs/traces.md "In the editor").
  [
    "measured",
    {
      expects: 'a trace file in quotes (`"trace.txt"`), then optionally `tolerance P%`',
      maxItems: 3,
      words: { pairs: ["tolerance"] },
    },
  ],
  // This VM's halt-poll ceiling (KVM_CAP_HALT_POLL), over the target's `halt_poll`.
  ["halt_poll", one("a time (`50us`; `0` disables polling for this guest)")],
]);

/** Guest operations that take no operand. */
export const GUEST_SIMPLE_OPS = [
  "cpuid",
  "hlt",
  "rdtsc",
  "rdtscp",
  "rdpmc",
  "rdrand",
  "rdseed",
  "invlpg",
  "invpcid",
  "wbinvd",
  "xsetbv",
  "vmcall",
  "eoi",
  // Extension: an IPI from the guest (x2APIC ICR write or xAPIC ICR MMIO write).
  "send_ipi",
] as const;

export const GUEST_OP_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map<string, StatementShape>([
  ["compute", one("a cost in cycles or a time")],
  ...GUEST_SIMPLE_OPS.map((op): [string, StatementShape] => [op, none]),
  // `vmcall [NR]`: the hypercall number in RAX, which `handler VMCALL nr N` dispatches on.
  ["vmcall", { expects: "an optional hypercall number (RAX)", maxItems: 1 }],
  ["rdmsr", one("an MSR name or number")],
  ["wrmsr", one("an MSR name or number")],
  ["in", one("a port number")],
  ["out", one("a port number")],
  [
    "mmio",
    {
      expects: "`read` or `write` and a guest-physical address",
      maxItems: 2,
      subwords: ["read", "write"],
      words: { choice: ["read", "write"] },
    },
  ],
  ["read", one("a guest-physical address, `cr3` or `cr8`")],
  ["write", one("a guest-physical address")],
  ["exec", one("a guest-physical address")],
  [
    "mov",
    {
      expects: "`cr0`, `cr3`, `cr4`, `cr8` (and a value) or `dr`",
      maxItems: 2,
      words: { choice: ["cr0", "cr3", "cr4", "cr8", "dr"] },
    },
  ],
  ["pause_loop", one("a time")],
  ["exception", { expects: "an exception vector (`#PF` or 0–31)", maxItems: 2 }],
  ["dirty", { expects: "a page count and `pages`", maxItems: 2 }],
  ["tsx", { expects: "`{` and operations", maxItems: 0, body: "guestOps" }],
  ["branch", { expects: "`{` and probability arms", maxItems: 0, body: "guestArms" }],
  ["repeat", { expects: "a count and `{`", maxItems: 1, body: "guestOps" }],
  // Guest-visible state (docs/language.md "CPUID", "Single-step").
  ["uses", one("a CPU feature name (`avx512f`)")],
  [
    "single_step",
    { expects: "`{` and the operations run with RFLAGS.TF = 1", maxItems: 0, body: "guestOps" },
  ],
  // Extension: `coalesce N or T { OPS }` (notification coalescing, docs/language.md).
  [
    "coalesce",
    {
      expects: "a batch size, `or` and a timeout (`coalesce 16 or 50us`), then `{`",
      maxItems: 3,
      body: "guestOps",
    },
  ],
]);

/** `halt_poll T grow N start T shrink N`: KVM's halt-poll module parameters (the target's L0, a hypervisor's L1). */
const HALT_POLL_SHAPE: StatementShape = {
  expects: "a time (`200us`; `0` disables) and `grow N`, `start T`, `shrink N`",
  maxItems: 7,
  words: { pairs: ["grow", "start", "shrink"] },
};

/** Inside `hypervisor NAME on VMCS { … }`: L1's handlers (docs/language.md "Nested virtualization"). */
export const HYPERVISOR_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  // `handler REASON [OPERAND] { … }`: the operand as at the top level (docs/language.md "Handlers by operand").
  ["handler", { expects: "an exit reason (and an operand) and `{`", maxItems: 5, body: "handler" }],
  // L1's own KVM halt polling of its L2's vCPUs (model/statements/host.ts lowerHaltPollInto).
  ["halt_poll", HALT_POLL_SHAPE],
]);

export const TARGET_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["msr", { expects: "`NAME = VALUE`", maxItems: 3 }],
  ["cost", { expects: "`NAME = CYCLES`", maxItems: 3 }],
  // The host (docs/language.md, "Host"; model/statements/host.ts): KVM's defaults when absent.
  ["pcpus", one("a physical CPU count")],
  ["halt_poll", HALT_POLL_SHAPE],
  [
    "ple_window",
    { expects: "`grow N`, `shrink N`, `max N`", maxItems: 6, words: { pairs: ["grow", "shrink", "max"] } },
  ],
  ["preempt", { expects: "`rate R for T`", maxItems: 4, words: { pairs: ["rate", "for"] } }],
  [
    "mitigations",
    {
      expects: "mitigation names (`l1d_flush`, `l1d_flush_always`, `verw`, `rsb`, `ibpb`) or `none`",
      maxItems: Infinity,
      list: true,
      words: { choice: ["l1d_flush", "l1d_flush_always", "verw", "rsb", "ibpb", "none"] },
    },
  ],
  // The migration pool (docs/language.md "CPUID").
  [
    "pool",
    { expects: "CPU profile names (`skylake_server icelake_server`)", maxItems: Infinity, list: true },
  ],
]);

/** The permission words of an `ept { RANGE PERMS }` line (docs/language.md, "EPT"). */
export const EPT_PERMISSIONS = ["rwx", "rw", "r", "rx", "x", "none", "misconfig", "apic"] as const;

/** The metrics an `expect` budget can limit (a percentile is `pNN`; these two are examples). */
export const BUDGET_METRICS = ["overhead", "exits", "host_cpu", "p50", "p99"] as const;

/**
 * The argument words of `keyword` in `context`. Read once at module load by the lowerers: a
 * statement without words is a programming error, thrown then (every test would fail).
 */
export function argumentWords(context: BlockContext, keyword: string): ArgumentWords {
  const words = STATEMENTS[context]?.get(keyword)?.words;
  if (words === undefined) throw new Error(`\`${keyword}\` in ${context} declares no argument words`);
  return words;
}

/** Statement tables of the keyword-led contexts. */
export const STATEMENTS: Partial<Record<BlockContext, ReadonlyMap<string, StatementShape>>> = {
  vmcs: VMCS_STATEMENTS,
  handler: HANDLER_STATEMENTS,
  guest: GUEST_STATEMENTS,
  guestOps: GUEST_OP_STATEMENTS,
  target: TARGET_STATEMENTS,
  hypervisor: HYPERVISOR_STATEMENTS,
};

/** What a block context holds, for "expected …" messages. */
export const CONTEXT_NOUN: Record<BlockContext, string> = {
  vmcs: "a vmcs statement",
  handler: "a handler operation",
  guest: "a guest statement (vcpus, path, irq, timer, ipi, nmi, idle, apic, pinned, halt_poll, measured)",
  guestOps: "a guest operation",
  target:
    "`msr NAME = VALUE`, `cost NAME = CYCLES` or a host setting (pcpus, halt_poll, ple_window, preempt)",
  ept: "a guest-physical range and permissions",
  expect: "a budget such as `overhead < 20%`",
  handlerArms: "a probability arm such as `50% label: …`",
  guestArms: "a probability arm such as `50% label: …`",
  hypervisor: "an L1 handler such as `handler CPUID { … }`, or L1's `halt_poll`",
};

/** The operation context inside arms of a `branch`. */
export const ARM_OPS: Partial<Record<BlockContext, BlockContext>> = {
  handlerArms: "handler",
  guestArms: "guestOps",
};
