/**
 * The statement shapes of each block context: which keywords start statements, how many items
 * each takes, whether it continues on following lines, whether it has a body. The parser uses
 * this for statement extent and for "expected …" messages; completion uses it for keyword lists.
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
]);

export const VMCS_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["pin", controlList],
  ["proc", controlList],
  ["proc2", controlList],
  ["proc3", controlList],
  ["exit", controlList],
  ["entry", controlList],
  ["exceptions", { expects: "exception vectors (`#PF` or 0–31)", maxItems: Infinity, list: true }],
  ["pf_error_code", { expects: "`mask M match V`", maxItems: 4 }],
  ["io", { expects: "`trap` and ports (`0x3f8..0x3ff`)", maxItems: Infinity, list: true }],
  ["msr", { expects: "`trap read|write|rw` and MSRs", maxItems: Infinity, list: true }],
  ["cr0", { expects: "`mask M [shadow S]`", maxItems: 4 }],
  ["cr4", { expects: "`mask M [shadow S]`", maxItems: 4 }],
  ["cr3_targets", { expects: "CR3-target values", maxItems: Infinity, list: true }],
  ["ple", { expects: "`gap N window N`", maxItems: 4 }],
  ["preemption_timer", one("a timer value in ticks")],
  ["posted_interrupt_vector", one("a vector number")],
  ["tpr_threshold", one("a TPR threshold (0–15)")],
  ["vtpr", one("the VTPR byte at VM entry (offset 80H of the virtual-APIC page, 0–255)")],
  ["eptp", { expects: "`memtype WB|UC levels 4|5 [accessed_dirty]`", maxItems: 5 }],
  ["field", { expects: "`NAME = VALUE`", maxItems: 3 }],
  ["ept", { expects: "`{` and the guest-physical memory map", maxItems: 0, body: "ept" }],
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
  ["userspace", one("a cost in cycles or a time")],
  ["halt", none],
  ["kick", none],
  ["call", one("a fn name")],
  ["branch", { expects: "`{` and probability arms", maxItems: 0, body: "handlerArms" }],
  ["repeat", { expects: "a count and `{`", maxItems: 1, body: "handler" }],
]);

export const GUEST_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["vcpus", one("a vCPU count")],
  ["path", { expects: "a name and `rate R` or `every T`", maxItems: 3, body: "guestOps" }],
  ["irq", { expects: "a name, `vector V` and `rate R`", maxItems: 6, body: "guestOps" }],
  ["timer", { expects: "`periodic F` or `tickless`", maxItems: 2, body: "guestOps" }],
  ["ipi", { expects: "`rate R`", maxItems: 2, body: "guestOps" }],
  ["nmi", { expects: "`rate R`", maxItems: 2, body: "guestOps" }],
  ["idle", one("`halt`, `poll` or `mwait`")],
  ["apic", one("`x2apic` or `xapic`")],
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
  ["rdmsr", one("an MSR name or number")],
  ["wrmsr", one("an MSR name or number")],
  ["in", one("a port number")],
  ["out", one("a port number")],
  [
    "mmio",
    { expects: "`read` or `write` and a guest-physical address", maxItems: 2, subwords: ["read", "write"] },
  ],
  ["read", one("a guest-physical address, `cr3` or `cr8`")],
  ["write", one("a guest-physical address")],
  ["exec", one("a guest-physical address")],
  ["mov", { expects: "`cr0`, `cr3`, `cr4`, `cr8` (and a value) or `dr`", maxItems: 2 }],
  ["pause_loop", one("a time")],
  ["exception", { expects: "an exception vector (`#PF` or 0–31)", maxItems: 2 }],
  ["dirty", { expects: "a page count and `pages`", maxItems: 2 }],
  ["tsx", { expects: "`{` and operations", maxItems: 0, body: "guestOps" }],
  ["branch", { expects: "`{` and probability arms", maxItems: 0, body: "guestArms" }],
  ["repeat", { expects: "a count and `{`", maxItems: 1, body: "guestOps" }],
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

export const TARGET_STATEMENTS: ReadonlyMap<string, StatementShape> = new Map([
  ["msr", { expects: "`NAME = VALUE`", maxItems: 3 }],
  ["cost", { expects: "`NAME = CYCLES`", maxItems: 3 }],
]);

/** Statement tables of the keyword-led contexts. */
export const STATEMENTS: Partial<Record<BlockContext, ReadonlyMap<string, StatementShape>>> = {
  vmcs: VMCS_STATEMENTS,
  handler: HANDLER_STATEMENTS,
  guest: GUEST_STATEMENTS,
  guestOps: GUEST_OP_STATEMENTS,
  target: TARGET_STATEMENTS,
};

/** What a block context holds, for "expected …" messages. */
export const CONTEXT_NOUN: Record<BlockContext, string> = {
  vmcs: "a vmcs statement",
  handler: "a handler operation",
  guest: "a guest statement (vcpus, path, irq, timer, ipi, nmi, idle, apic)",
  guestOps: "a guest operation",
  target: "`msr NAME = VALUE` or `cost NAME = CYCLES`",
  ept: "a guest-physical range and permissions",
  expect: "a budget such as `overhead < 20%`",
  handlerArms: "a probability arm such as `50% label: …`",
  guestArms: "a probability arm such as `50% label: …`",
};

/** The operation context inside arms of a `branch`. */
export const ARM_OPS: Partial<Record<BlockContext, BlockContext>> = {
  handlerArms: "handler",
  guestArms: "guestOps",
};
