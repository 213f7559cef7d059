/**
 * Context-aware completion. The text being typed rarely parses, so the context comes from a small
 * lexical scan (comments, braces and the words before the cursor) rather than from the syntax
 * tree; declared names and the target's capabilities come from the cached analysis.
 */
import {
  type CompletionItem,
  CompletionItemKind,
  CompletionItemTag,
  InsertTextFormat,
  type MarkupContent,
} from "vscode-languageserver";
import {
  type Analysis,
  argumentWordList,
  argumentWords,
  BUDGET_METRICS,
  CONTROLS,
  type ControlDef,
  type ControlWord,
  CPU_FEATURES,
  cpuidBitText,
  EPT_PERMISSIONS,
  EXCEPTIONS,
  EXIT_REASONS,
  exitOperandOf,
  exitReasonByName,
  GUEST_OP_STATEMENTS as GUEST_OP_STATEMENT_SHAPES,
  GUEST_STATEMENTS as GUEST_STATEMENT_SHAPES,
  HANDLER_STATEMENTS as HANDLER_STATEMENT_SHAPES,
  HYPERVISOR_STATEMENTS as HYPERVISOR_STATEMENT_SHAPES,
  MSRS,
  PROFILES,
  type Program,
  VMCS_FIELDS,
  VMCS_STATEMENTS as VMCS_STATEMENT_SHAPES,
} from "../../../core/src/index";
import { upperBound } from "../../../core/src/util/search";
import { controlSupport, exitReasonHover, fieldHover, isControlSupported, msrHover } from "./hoverVmx";
import { KEYWORD_DOCS } from "./keywordDocs";

const CONTROL_WORDS: readonly ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];

// biome-ignore-start lint/suspicious/noTemplateCurlyInString: LSP snippet placeholders, not templates
const TOP_LEVEL: [string, string][] = [
  ["target", "target ${1:skylake_server} @ ${2:2.1GHz}"],
  ["vmcs", "vmcs ${1:name} {\n\t$0\n}"],
  ["handler", "handler ${1:REASON} {\n\t$0\n}"],
  ["fn", "fn ${1:name} {\n\t$0\n}"],
  ["guest", "guest ${1:name} on ${2:vmcs} {\n\tvcpus ${3:1}\n\t$0\n}"],
  ["expect", "expect ${1:guest} { overhead < ${2:10}% }"],
  ["simulate", "simulate ${1:guest} for ${2:100ms} seed ${3:1}"],
  ["hypervisor", "hypervisor ${1:l1} on ${2:vmcs01} {\n\thandler ${3:CPUID} { $0 vmresume }\n}"],
];
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: LSP snippet placeholders, not templates

// Keyword lists come from the parser's statement tables (core/src/lang/grammar.ts), so
// completion offers exactly what the parser accepts.
const VMCS_STATEMENTS = [...VMCS_STATEMENT_SHAPES.keys()];

const HANDLER_OPS = [...HANDLER_STATEMENT_SHAPES.keys()];

const HYPERVISOR_STATEMENTS = [...HYPERVISOR_STATEMENT_SHAPES.keys()];

const GUEST_STATEMENTS = [...GUEST_STATEMENT_SHAPES.keys()];

const GUEST_OPS = [...GUEST_OP_STATEMENT_SHAPES.keys()];

// The argument words are the statement shapes' too: lowering accepts and diagnoses the same.
const IO_WORDS = argumentWords("vmcs", "io");
const MSR_TRAP_WORDS = argumentWords("vmcs", "msr");
const EPTP_WORD_LIST = argumentWordList(argumentWords("vmcs", "eptp"));
const MEASURED_WORDS = argumentWordList(argumentWords("guest", "measured"));
const MOV_REGISTERS = argumentWords("guestOps", "mov").choice!;
const MMIO_ACCESS = argumentWords("guestOps", "mmio").choice!;
const IDLE_MODES = argumentWords("guest", "idle").choice!;
const APIC_MODES = argumentWords("guest", "apic").choice!;
const TIMER_MODES = argumentWords("guest", "timer").choice!;
/** Budget metrics, and the latency a percentile measures. */
const EXPECT_WORDS = [...BUDGET_METRICS, "irq_latency"];

const GUEST_OP_DOCS: Record<string, string> = {
  cpuid: "CPUID: exits unconditionally (SDM Vol. 3C §26.1.2).",
  hlt: "HLT: exits with `hlt_exiting` (SDM Vol. 3C §26.1.3).",
  rdtsc: "RDTSC: exits with `rdtsc_exiting`.",
  rdtscp: "RDTSCP: exits with `rdtsc_exiting` when `enable_rdtscp` is set; #UD without it.",
  rdpmc: "RDPMC: exits with `rdpmc_exiting`.",
  rdrand: "RDRAND: exits with `rdrand_exiting`.",
  rdseed: "RDSEED: exits with `rdseed_exiting`.",
  rdmsr: "`rdmsr MSR`: exits unless `use_msr_bitmaps` is set and the MSR's read bit is clear.",
  wrmsr: "`wrmsr MSR`: exits unless `use_msr_bitmaps` is set and the MSR's write bit is clear.",
  in: "`in PORT`: exits with `unconditional_io_exiting`, or with `use_io_bitmaps` when the port's bit is set.",
  out: "`out PORT`: as `in`.",
  mmio: "`mmio read|write GPA`: an access to emulated MMIO (EPT misconfiguration or violation).",
  mov: "`mov cr0|cr3|cr4|cr8 [VALUE]`, `mov dr`: control-register and debug-register moves.",
  invlpg: "INVLPG: exits with `invlpg_exiting`.",
  invpcid: "INVPCID: exits with `invlpg_exiting` when `enable_invpcid` is set.",
  wbinvd: "WBINVD: exits with `wbinvd_exiting`.",
  xsetbv: "XSETBV: exits unconditionally.",
  vmcall: "VMCALL: exits unconditionally (a hypercall).",
  pause_loop: "`pause_loop TIME`: a PAUSE spin loop, subject to PAUSE-loop exiting.",
  exception: "`exception VECTOR`: exits when the vector's bit is set in the exception bitmap.",
  eoi: "End of interrupt: an x2APIC MSR write or an xAPIC MMIO write, virtualized or not by the controls.",
  dirty: "`dirty N pages`: first writes to clean pages (PML fills its 512-entry buffer).",
  read: "`read GPA` or `read cr3|cr8`.",
  write: "`write GPA`: a guest memory write.",
  exec: "`exec GPA`: an instruction fetch.",
  coalesce:
    "`coalesce N or T { OPS }`: OPS run once per N executions on a vCPU, or T after the first pending one (virtio event-index suppression, NIC moderation).",
  uses: "`uses FEATURE`: an instruction of a CPU feature (`avx512f`); #UD when the vmcs's CPUID hides it (`cpuid hide`) and it cannot be enabled.",
  single_step:
    "`single_step { OPS }`: OPS run with RFLAGS.TF = 1; a handler that emulates one must queue #DB (TL353).",
};

interface LexicalContext {
  /** Header words of the enclosing blocks, outermost first: ["vmcs", "ept"], ["guest", "path"]. */
  blocks: string[][];
  /** Words of the innermost block before the cursor, since its `{` (control lists span lines). */
  blockWords: string[];
  /** Words of the cursor's line before it (after any `{` or `}` on that line). */
  words: string[];
  /** The word being typed (may be empty). */
  prefix: string;
  /** True when the cursor follows `#` (an exception mnemonic). */
  hash: boolean;
  /** True inside a comment: nothing to complete. */
  inComment: boolean;
}

/**
 * Scan from `from` (the start of the text, or a line start at brace depth 0: see
 * {@link scanStart}) to `offset`, skipping comments, tracking `{`/`}` and the words that opened
 * each block. Linear in `offset - from`.
 */
export function lexicalContext(text: string, offset: number, from = 0): LexicalContext {
  const blocks: string[][] = [];
  let statement: string[] = [];
  let line: string[] = [];
  let i = from;
  while (i < offset) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      line = [];
      i++;
      continue;
    }
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      const end = text.indexOf("\n", i);
      if (end < 0 || end >= offset)
        return { blocks, blockWords: statement, words: line, prefix: "", hash: false, inComment: true };
      i = end + 1;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0 || end + 2 > offset)
        return { blocks, blockWords: statement, words: line, prefix: "", hash: false, inComment: true };
      i = end + 2;
      continue;
    }
    if (c === 123 /* { */) {
      // The header is the words on the line of the `{`: `guest netperf on kvm {`.
      blocks.push(line);
      statement = [];
      line = [];
      i++;
      continue;
    }
    if (c === 125 /* } */) {
      blocks.pop();
      statement = [];
      line = [];
      i++;
      continue;
    }
    if (c === 34 /* " */) {
      // A string (`measured "trace.txt"`): one word; inside it nothing is offered (as in a comment).
      let end = i + 1;
      while (end < text.length) {
        const d = text.charCodeAt(end);
        if (d === 34 || d === 10 || d === 13) break;
        end++;
      }
      if (offset > i && offset <= end)
        return { blocks, blockWords: statement, words: line, prefix: "", hash: false, inComment: true };
      const word = text.slice(i, end + 1);
      statement.push(word);
      line.push(word);
      i = text.charCodeAt(end) === 34 ? end + 1 : end;
      continue;
    }
    if (isWordChar(c) || c === 35 /* # */) {
      let end = i + 1;
      while (end < text.length && isWordChar(text.charCodeAt(end))) end++;
      if (end >= offset) {
        const prefix = text.slice(i, offset);
        const hash = prefix.startsWith("#");
        return {
          blocks,
          blockWords: statement,
          words: line,
          prefix: hash ? prefix.slice(1) : prefix,
          hash,
          inComment: false,
        };
      }
      const word = text.slice(i, end);
      statement.push(word);
      line.push(word);
      i = end;
      continue;
    }
    i++;
  }
  return { blocks, blockWords: statement, words: line, prefix: "", hash: false, inComment: false };
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function markdown(value: string): MarkupContent {
  return { kind: "markdown", value };
}

function keywordItems(
  words: readonly string[],
  kind: CompletionItemKind = CompletionItemKind.Keyword,
): CompletionItem[] {
  return words.map((word) => ({
    label: word,
    kind,
    documentation: KEYWORD_DOCS[word] ? markdown(KEYWORD_DOCS[word]!) : undefined,
  }));
}

function controlItems(
  program: Program | undefined,
  word: ControlWord,
  already: Set<string>,
): CompletionItem[] {
  const items: CompletionItem[] = [];
  for (const control of CONTROLS as readonly ControlDef[]) {
    if (control.word !== word || already.has(control.name)) continue;
    const supported = program ? isControlSupported(program, control) : true;
    const item: CompletionItem = {
      label: control.name,
      kind: CompletionItemKind.EnumMember,
      detail: `${word} bit ${control.bit}${supported ? "" : " — not supported on " + program!.target.profile.name}`,
      documentation: markdown(
        `**${control.sdmName}**\n\n${control.meaning}\n\nSource: ${control.source}${program ? `\n\nOn ${program.target.profile.name}: ${controlSupport(program, control)}` : ""}`,
      ),
      // Unsupported controls sort last and render struck through.
      sortText: `${supported ? "0" : "1"}${String(control.bit).padStart(2, "0")}`,
    };
    if (!supported) item.tags = [CompletionItemTag.Deprecated];
    items.push(item);
  }
  return items;
}

let fieldItemsCache: CompletionItem[] | undefined;
function fieldItems(writing: boolean): CompletionItem[] {
  fieldItemsCache ??= VMCS_FIELDS.filter((field) => !field.high).map((field) => ({
    label: field.name,
    kind: CompletionItemKind.Field,
    detail: `${field.type} ${field.width === "natural" ? "natural" : field.width + "-bit"} 0x${field.encoding.toString(16).padStart(4, "0")}${field.readOnly ? " read-only" : ""}`,
    documentation: markdown(fieldHover(field)),
  }));
  if (!writing) return fieldItemsCache;
  // VMWRITE to a read-only field fails (VMfailValid 13): offer them last, struck through.
  return fieldItemsCache.map((item) =>
    item.detail?.endsWith("read-only")
      ? { ...item, tags: [CompletionItemTag.Deprecated], sortText: `1${item.label}` }
      : item,
  );
}

let msrItemsCache: CompletionItem[] | undefined;
function msrItems(): CompletionItem[] {
  msrItemsCache ??= MSRS.map((msr) => ({
    label: msr.name,
    kind: CompletionItemKind.Constant,
    detail: `MSR 0x${msr.index.toString(16)}`,
    documentation: markdown(msrHover(msr)),
  }));
  return msrItemsCache;
}

function exitReasonItems(program: Program | undefined, forHandler: boolean): CompletionItem[] {
  return EXIT_REASONS.map((reason) => {
    const handled = program?.handlers.has(reason.code) ?? false;
    return {
      label: reason.name,
      kind: CompletionItemKind.Event,
      detail: `exit reason ${reason.code}${forHandler && handled ? " — already handled" : ""}`,
      documentation: markdown(exitReasonHover(reason)),
      sortText: `${forHandler && handled ? "1" : "0"}${String(reason.code).padStart(3, "0")}`,
    };
  });
}

/** After `handler REASON`: MSR names for an MSR reason, else the operand's word (`port`, `gpa`, `nr`), then `in`/`out`. */
function handlerOperandItems(words: readonly string[]): CompletionItem[] {
  const reason = exitReasonByName(words[1]!);
  const operand = reason ? exitOperandOf(reason.code) : undefined;
  if (!operand) return [];
  if (words.length === 2) return operand.kind === "msr" ? msrItems() : keywordItems([operand.keyword]);
  if (operand.kind === "port" && words.length === 4) return keywordItems(["in", "out"]);
  return [];
}

function exceptionItems(hash: boolean): CompletionItem[] {
  return EXCEPTIONS.map((exception) => ({
    label: exception.mnemonic,
    insertText: hash ? exception.mnemonic.slice(1) : exception.mnemonic,
    filterText: hash ? exception.mnemonic.slice(1) : exception.mnemonic,
    kind: CompletionItemKind.Constant,
    detail: `vector ${exception.vector}`,
    documentation: markdown(
      `${exception.name}${exception.hasErrorCode ? " (pushes an error code)" : ""}\n\nSource: ${exception.source}`,
    ),
  }));
}

/** CPU feature names (`cpuid hide`, `uses`), with their CPUID bit. */
function featureItems(): CompletionItem[] {
  return CPU_FEATURES.map((f) => ({
    label: f.name,
    kind: CompletionItemKind.Constant,
    detail: cpuidBitText(f),
    documentation: markdown(f.description),
  }));
}

function profileItems(): CompletionItem[] {
  return PROFILES.map((profile) => ({
    label: profile.name,
    kind: CompletionItemKind.Value,
    detail: `${profile.displayName} (${profile.year})`,
    documentation: markdown(profile.notes),
  }));
}

function nameItems(names: Iterable<string>, kind: CompletionItemKind, detail: string): CompletionItem[] {
  return [...names].map((name) => ({ label: name, kind, detail }));
}

/**
 * Where the lexical scan for `offset` may start: the start of the line of the last top-level
 * declaration that begins at or before `offset` on a line of its own. There the scan from the
 * start of the file would be at brace depth 0 with no words on the line, and the words of earlier
 * statements only matter inside a block, whose `{` resets them: the context is the same, and a
 * completion at the end of a 10,000-line file scans one block instead of the file (2.2 ms →
 * microseconds). Only when the file parsed without syntax errors (balanced braces, every
 * declaration where the parser says); otherwise from the start. Reads the declaration starts only
 * (no syntax tree, no position index).
 */
export function scanStart(analysis: Analysis | undefined, text: string, offset: number): number {
  if (!analysis || analysis.parse.diagnostics.some((d) => d.severity === "error")) return 0;
  const starts = analysis.declarationStarts;
  // From the last declaration starting at or before the offset, backwards.
  for (let index = upperBound(starts, offset) - 1; index >= 0; index--) {
    const start = starts[index]!;
    let lineStart = start;
    while (lineStart > 0) {
      const c = text.charCodeAt(lineStart - 1);
      if (c !== 32 && c !== 9) break;
      lineStart--;
    }
    const before = lineStart > 0 ? text.charCodeAt(lineStart - 1) : 10;
    if (before === 10 || before === 13) return lineStart;
  }
  return 0;
}

/**
 * Completion items at `offset` of `text`. `analysis` supplies names and the target (declared
 * vmcs, guests, fns, handled reasons, supported controls) and must be the analysis of `text`
 * (the server runs it when the debounce has not). It may be passed as a function that analyses
 * on first call: only the contexts that offer names or target-dependent items call it, so a
 * keyword completion right after a keystroke does not wait for the analysis. With a function
 * (or `analysisIsCurrent` false) none of its offsets is used: the lexical scan starts at the
 * beginning of the text.
 */
export function completeAt(
  analysis: Analysis | undefined | (() => Analysis | undefined),
  text: string,
  offset: number,
  analysisIsCurrent = true,
): CompletionItem[] {
  const eager = typeof analysis === "function" ? undefined : analysis;
  const from = eager && analysisIsCurrent ? scanStart(eager, text, offset) : 0;
  const context = lexicalContext(text, offset, from);
  if (context.inComment) return [];
  let loaded: { program: Program | undefined } | undefined;
  const programOf = (): Program | undefined => {
    loaded ??= { program: (typeof analysis === "function" ? analysis() : analysis)?.program };
    return loaded.program;
  };
  const words = context.words;
  const last = words[words.length - 1];
  const first = words[0];
  const block = context.blocks[0]?.[0];
  const inner = context.blocks[context.blocks.length - 1]?.[0];

  if (context.hash) return exceptionItems(true);

  // Top level.
  if (context.blocks.length === 0) {
    if (words.length === 0) {
      return TOP_LEVEL.map(([label, snippet]) => ({
        label,
        kind: CompletionItemKind.Keyword,
        insertText: snippet,
        insertTextFormat: InsertTextFormat.Snippet,
        documentation: markdown(KEYWORD_DOCS[label] ?? ""),
      }));
    }
    if (first === "target" && words.length === 1) {
      return PROFILES.map((profile) => ({
        label: profile.name,
        kind: CompletionItemKind.Value,
        detail: `${profile.displayName} (${profile.year})`,
        documentation: markdown(profile.notes),
      }));
    }
    if (first === "handler" && words.length === 1) return exitReasonItems(programOf(), true);
    // `handler REASON ` : the operand it may be specialised by (docs/language.md "Handlers by operand").
    if (first === "handler" && words.length >= 2) return handlerOperandItems(words);
    if ((first === "guest" || first === "hypervisor") && last === "on")
      return nameItems(programOf()?.vmcs.keys() ?? [], CompletionItemKind.Class, "vmcs");
    if ((first === "guest" || first === "hypervisor") && words.length === 2) return keywordItems(["on"]);
    // `guest NAME on VMCS in ` : the L1 that runs this L2 (nested virtualization).
    if (first === "guest" && words.length === 5 && last === "in")
      return nameItems(programOf()?.hypervisors.keys() ?? [], CompletionItemKind.Module, "hypervisor");
    if (first === "guest" && words.length === 4 && words[2] === "on") {
      const program = programOf();
      return program && program.hypervisors.size > 0 ? keywordItems(["in"]) : [];
    }
    if ((first === "expect" || first === "simulate") && words.length === 1)
      return nameItems(programOf()?.guests.keys() ?? [], CompletionItemKind.Module, "guest");
    if (first === "simulate" && words.length === 2) return keywordItems(["for"]);
    if (first === "target" && words.length >= 1) return [];
    return [];
  }

  if (block === "vmcs") {
    if (inner === "ept") return keywordItems(EPT_PERMISSIONS, CompletionItemKind.Value);
    // The statement keyword is the last vmcs statement word before the cursor (control lists may
    // continue on following lines).
    const blockWords = context.blockWords;
    let keyword: string | undefined;
    for (let i = blockWords.length - 1; i >= 0; i--) {
      if (VMCS_STATEMENTS.includes(blockWords[i]!)) {
        keyword = blockWords[i];
        break;
      }
    }
    const vmcsName = context.blocks[0]?.[1];
    const vmcs = vmcsName ? programOf()?.vmcs.get(vmcsName) : undefined;
    if (keyword && (CONTROL_WORDS as readonly string[]).includes(keyword)) {
      const already = new Set(
        vmcs?.settings.filter((s) => s.control.word === keyword).map((s) => s.control.name) ?? [],
      );
      // The statement's own words as typed (the model may predate the last keystrokes).
      for (let i = blockWords.lastIndexOf(keyword) + 1; i < blockWords.length; i++)
        already.add(blockWords[i]!);
      // A new line may start another statement: offer the statement keywords too.
      return [
        ...controlItems(programOf(), keyword as ControlWord, already),
        ...keywordItems(VMCS_STATEMENTS),
      ];
    }
    if (last === "field") return fieldItems(true);
    if (keyword === "exceptions") return exceptionItems(false);
    if (keyword === "msr") {
      if (last === "msr") return keywordItems([MSR_TRAP_WORDS.lead!]);
      if (last === "trap") return keywordItems(MSR_TRAP_WORDS.choice!);
      return msrItems();
    }
    if (last === "io") return keywordItems([IO_WORDS.lead!]);
    if (keyword === "eptp") return keywordItems(EPTP_WORD_LIST);
    if (keyword === "cpuid") return last === "cpuid" ? keywordItems(["hide", "leaf"]) : featureItems();
    return keywordItems(VMCS_STATEMENTS);
  }

  // In an L1 handler (inside a `hypervisor` block) as in L0's: the handler operations, L1's VMX ones included.
  if (block === "handler" || block === "fn" || (block === "hypervisor" && inner === "handler")) {
    if (last === "vmread") return fieldItems(false);
    if (last === "vmwrite") return fieldItems(true);
    if (last === "call") return nameItems(programOf()?.fns.keys() ?? [], CompletionItemKind.Function, "fn");
    if (last === "inject") return exceptionItems(false);
    return keywordItems(HANDLER_OPS, CompletionItemKind.Function);
  }

  // Inside `hypervisor NAME on VMCS { … }` (nested virtualization): its `handler REASON` lines
  // (any reason: L0's handlers do not count as L1's) and `halt_poll`.
  if (block === "hypervisor") {
    if (first === "handler" && words.length === 1) return exitReasonItems(undefined, true);
    if (first === "handler" && words.length >= 2) return handlerOperandItems(words);
    return words.length === 0 ? keywordItems(HYPERVISOR_STATEMENTS) : [];
  }

  if (block === "guest") {
    if (last === "rdmsr" || last === "wrmsr") return msrItems();
    if (last === "uses") return featureItems();
    if (last === "exception") return exceptionItems(false);
    if (last === "mov") return keywordItems(MOV_REGISTERS, CompletionItemKind.Value);
    if (last === "mmio") return keywordItems(MMIO_ACCESS);
    if (last === "idle") return keywordItems(IDLE_MODES, CompletionItemKind.Value);
    if (last === "apic") return keywordItems(APIC_MODES, CompletionItemKind.Value);
    if (last === "timer") return keywordItems(TIMER_MODES);
    if (first === "measured") return words.length === 2 ? keywordItems(MEASURED_WORDS) : [];
    if (context.blocks.length === 1) return keywordItems(GUEST_STATEMENTS);
    return GUEST_OPS.map((op) => ({
      label: op,
      kind: CompletionItemKind.Function,
      documentation:
        GUEST_OP_DOCS[op] || KEYWORD_DOCS[op] ? markdown(GUEST_OP_DOCS[op] ?? KEYWORD_DOCS[op]!) : undefined,
    }));
  }

  if (block === "expect") {
    if (last === "exits") return exitReasonItems(programOf(), false);
    return keywordItems(EXPECT_WORDS);
  }
  if (block === "target") {
    if (last === "msr")
      return keywordItems(Object.keys(programOf()?.target.msrs ?? {}), CompletionItemKind.Constant);
    if (last === "cost")
      return keywordItems(Object.keys(programOf()?.target.costs ?? {}), CompletionItemKind.Property);
    if (first === "pool") return profileItems();
    return keywordItems(["msr", "cost"]);
  }
  return [];
}
