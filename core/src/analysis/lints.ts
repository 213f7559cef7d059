/**
 * Whole-program lints: guest operations that exit with no handler for the reason (TL310),
 * handlers that no vmcs in the file can ever trigger (TL311), vmcs settings that the controls make
 * meaningless (TL320–TL326), budgets the static estimate violates (TL401) and saturated vCPUs
 * (TL402). docs/diagnostics.md lists every code.
 */
import type { GuestIR, GuestOp, HandlerIR, Program, VmcsIR } from "../model/ir";
import type { CodeFix, Diagnostic, RelatedInfo, Span } from "../source";
import { formatCycles, formatPercent, formatRate } from "../util/format";
import { controlInWord } from "../vmx/controls";
import { exitReasonByCode } from "../vmx/exitReasons";
import type { ControlWord, ExitReasonDef } from "../vmx/types";
import { effectiveControls } from "./effective";
import { decideLeaf, type ExitContext, guestContext } from "./exits";
import type { GuestEstimate } from "./types";

export interface LintOptions {
  /** The file text: needed for fixes that insert at the end of the file or remove whole lines. */
  text?: string;
}

type Words = Record<ControlWord, bigint>;

function on(words: Words, word: ControlWord, name: string): boolean {
  const control = controlInWord(word, name);
  return control !== undefined && (words[word] & (1n << BigInt(control.bit))) !== 0n;
}

/**
 * When an exit reason can occur under one vmcs, by the SDM's conditions (vmx-facts §6; SDM Vol. 3C
 * §26.1–26.2 "Instructions that cause VM exits", pre-2023 §25.1–25.2). Reasons absent from this
 * table are treated as always possible: unconditional exits (CPUID, GETSEC, INVD, XSETBV,
 * VMCALL and the VMX instructions, INVEPT/INVVPID, task switches, triple fault, INIT/SIPI, SMIs,
 * failed entries), exits every hypervisor must handle (EXCEPTION_NMI: KVM requires NMI exiting and
 * changes the exception bitmap at run time; EXTERNAL_INTERRUPT: KVM requires external-interrupt
 * exiting; MSR_READ/MSR_WRITE: MSRs outside the bitmap ranges always exit), and the window/MTF
 * exits that a hypervisor enables at run time when it has an event to inject or is single-stepping
 * (INTERRUPT_WINDOW, NMI_WINDOW, MONITOR_TRAP_FLAG), which the language does not model statically.
 */
const REASON_CONDITIONS: Record<string, (w: Words, vmcs: VmcsIR) => boolean> = {
  HLT: (w) => on(w, "proc", "hlt_exiting"),
  INVLPG: (w) => on(w, "proc", "invlpg_exiting"),
  RDPMC: (w) => on(w, "proc", "rdpmc_exiting"),
  RDTSC: (w) => on(w, "proc", "rdtsc_exiting"),
  CR_ACCESS: (w, vmcs) =>
    on(w, "proc", "cr3_load_exiting") ||
    on(w, "proc", "cr3_store_exiting") ||
    on(w, "proc", "cr8_load_exiting") ||
    on(w, "proc", "cr8_store_exiting") ||
    (vmcs.cr0 !== undefined && vmcs.cr0.mask !== 0n) ||
    (vmcs.cr4 !== undefined && vmcs.cr4.mask !== 0n),
  DR_ACCESS: (w) => on(w, "proc", "mov_dr_exiting"),
  IO_INSTRUCTION: (w, vmcs) =>
    on(w, "proc", "use_io_bitmaps") ? vmcs.ioTraps.length > 0 : on(w, "proc", "unconditional_io_exiting"),
  MWAIT_INSTRUCTION: (w) => on(w, "proc", "mwait_exiting"),
  MONITOR_INSTRUCTION: (w) => on(w, "proc", "monitor_exiting"),
  PAUSE_INSTRUCTION: (w) => on(w, "proc", "pause_exiting") || on(w, "proc2", "pause_loop_exiting"),
  // TPR-below-threshold exits happen only with the TPR shadow and without virtual-interrupt delivery.
  TPR_BELOW_THRESHOLD: (w) =>
    on(w, "proc", "use_tpr_shadow") && !on(w, "proc2", "virtual_interrupt_delivery"),
  APIC_ACCESS: (w) => on(w, "proc2", "virtualize_apic_accesses"),
  EOI_INDUCED: (w) => on(w, "proc2", "virtual_interrupt_delivery"),
  APIC_WRITE: (w) =>
    on(w, "proc2", "apic_register_virtualization") || on(w, "proc2", "virtual_interrupt_delivery"),
  GDTR_IDTR: (w) => on(w, "proc2", "descriptor_table_exiting"),
  LDTR_TR: (w) => on(w, "proc2", "descriptor_table_exiting"),
  EPT_VIOLATION: (w) => on(w, "proc2", "enable_ept"),
  EPT_MISCONFIG: (w) => on(w, "proc2", "enable_ept"),
  // RDTSCP: needs "enable RDTSCP" (else #UD) and "RDTSC exiting" (SDM App. C reason 51).
  RDTSCP: (w) => on(w, "proc2", "enable_rdtscp") && on(w, "proc", "rdtsc_exiting"),
  PREEMPTION_TIMER: (w) => on(w, "pin", "activate_vmx_preemption_timer"),
  WBINVD: (w) => on(w, "proc2", "wbinvd_exiting"),
  RDRAND: (w) => on(w, "proc2", "rdrand_exiting"),
  RDSEED: (w) => on(w, "proc2", "rdseed_exiting"),
  // INVPCID: "enable INVPCID" and "INVLPG exiting" both 1 (SDM App. C reason 58).
  INVPCID: (w) => on(w, "proc2", "enable_invpcid") && on(w, "proc", "invlpg_exiting"),
  VMFUNC: (w) => on(w, "proc2", "enable_vm_functions"),
  ENCLS: (w) => on(w, "proc2", "enable_encls_exiting"),
  PML_FULL: (w) => on(w, "proc2", "enable_pml"),
  XSAVES: (w) => on(w, "proc2", "enable_xsaves_xrstors"),
  XRSTORS: (w) => on(w, "proc2", "enable_xsaves_xrstors"),
  // Bochs: UMWAIT/TPAUSE exit with "enable user wait and pause" and "RDTSC exiting".
  UMWAIT: (w) => on(w, "proc2", "enable_user_wait_and_pause") && on(w, "proc", "rdtsc_exiting"),
  TPAUSE: (w) => on(w, "proc2", "enable_user_wait_and_pause") && on(w, "proc", "rdtsc_exiting"),
  BUS_LOCK: (w) => on(w, "proc2", "bus_lock_detection"),
  NOTIFY: (w) => on(w, "proc2", "notify_vm_exiting"),
  PCONFIG: (w) => on(w, "proc2", "enable_pconfig"),
  SPP: (w) => on(w, "proc2", "sub_page_write_permissions"),
  LOADIWKEY: (w) => on(w, "proc3", "loadiwkey_exiting"),
  ENCLV: (w) => on(w, "proc2", "enable_enclv_exiting"),
};

/** Exits caused by executing an instruction, whose handler normally skips it (advance_rip). */
const INSTRUCTION_EXITS = new Set([
  "CPUID",
  "HLT",
  "INVLPG",
  "RDPMC",
  "RDTSC",
  "VMCALL",
  "CR_ACCESS",
  "DR_ACCESS",
  "IO_INSTRUCTION",
  "MSR_READ",
  "MSR_WRITE",
  "MWAIT_INSTRUCTION",
  "MONITOR_INSTRUCTION",
  "PAUSE_INSTRUCTION",
  "RDTSCP",
  "WBINVD",
  "XSETBV",
  "RDRAND",
  "RDSEED",
  "INVPCID",
]);

export function lintProgram(
  program: Program,
  estimates: ReadonlyMap<string, GuestEstimate>,
  options: LintOptions = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  lintUnhandledExits(program, estimates, options, out);
  lintDeadHandlers(program, options, out);
  lintIgnoredSettings(program, out);
  lintBudgets(program, estimates, out);
  return out;
}

function handlerSkeleton(reason: ExitReasonDef): string {
  const lines = [`handler ${reason.name} {`];
  if (reason.name === "EPT_MISCONFIG" || reason.name === "EPT_VIOLATION")
    lines.push("  vmread GUEST_PHYSICAL_ADDRESS");
  lines.push("  work 1000  // placeholder estimate: replace with the measured cost of your handler");
  if (INSTRUCTION_EXITS.has(reason.name)) lines.push("  advance_rip");
  if (reason.name === "HLT") lines.push("  halt");
  lines.push("}");
  return lines.join("\n");
}

function addHandlerFix(reason: ExitReasonDef, text: string | undefined): CodeFix[] | undefined {
  if (text === undefined) return undefined;
  const end = text.length;
  const separator = text.length === 0 || text.endsWith("\n") ? "\n" : "\n\n";
  return [
    {
      title: `Add a handler for ${reason.name}`,
      edits: [{ span: { start: end, end }, newText: `${separator}${handlerSkeleton(reason)}\n` }],
      preferred: true,
    },
  ];
}

/** TL310 for every leaf operation (compound ones are walked into) that exits without a handler. */
function lintOps(
  ops: readonly GuestOp[],
  context: ExitContext,
  guest: GuestIR,
  reported: Set<number>,
  options: LintOptions,
  out: Diagnostic[],
): void {
  const handlers = context.program.handlers;
  for (const op of ops) {
    if (op.op === "tsx" || op.op === "repeat" || op.op === "coalesce") {
      lintOps(op.ops, context, guest, reported, options, out);
      continue;
    }
    if (op.op === "branch") {
      for (const arm of op.arms) lintOps(arm.ops, context, guest, reported, options, out);
      continue;
    }
    const decision = decideLeaf(op, context);
    for (const effect of decision.exits) {
      const code = effect.reason.code;
      if (handlers.has(code) || effect.perExecution <= 0) continue;
      reported.add(code);
      out.push(
        unhandled(
          effect.reason,
          op.span,
          controlRelated(context.vmcs, decision.controls, decision.rule),
          guest,
          options,
        ),
      );
    }
  }
}

/** The controls that decided an exit, as spans in the vmcs block, for related information. */
function controlRelated(vmcs: VmcsIR, controls: readonly string[], rule: string): RelatedInfo[] {
  const related: RelatedInfo[] = [];
  for (const entry of controls) {
    // decideExit lists controls as "name=1" / "name=0"; only the set ones make the op exit.
    const [name, value] = entry.split("=");
    if (value !== undefined && value.trim() !== "1") continue;
    const setting = vmcs.settings.find((s) => s.control.name === name);
    if (setting)
      related.push({
        span: setting.span,
        message: `${name} (${setting.control.word}) makes it exit: ${rule}`,
      });
  }
  if (related.length === 0)
    related.push({ span: vmcs.nameSpan, message: `exits under vmcs ${vmcs.name}: ${rule}` });
  return related;
}

function lintUnhandledExits(
  program: Program,
  estimates: ReadonlyMap<string, GuestEstimate>,
  options: LintOptions,
  out: Diagnostic[],
): void {
  for (const guest of program.guests.values()) {
    // The estimator's context object: the leaf decisions it made are found again, not rebuilt.
    const context = guestContext(program, guest);
    if (!context) continue;
    const vmcs = context.vmcs;
    const reported = new Set<number>();
    for (const source of guest.sources) lintOps(source.ops, context, guest, reported, options, out);
    // Exits not caused by one operation (interrupt delivery, idle HLT, PML-full, timer …).
    const estimate = estimates.get(guest.name);
    if (!estimate) continue;
    for (const code of estimate.exitingReasonCodes) {
      if (program.handlers.has(code) || reported.has(code)) continue;
      const def = exitReasonByCode(code);
      if (!def) continue;
      reported.add(code);
      // Reported: now the breakdown of this guest is worth solving, to point at the path.
      const path = estimate.paths.find((p) => p.exits.some((e) => e.code === code && e.perExecution > 0));
      const source = path ? guest.sources.find((s) => s.span.start === path.span.start) : undefined;
      const span =
        source?.nameSpan ??
        (def.name === "HLT" || def.name === "MWAIT_INSTRUCTION" ? guest.idleSpan : undefined) ??
        guest.nameSpan;
      out.push(
        unhandled(
          def,
          span,
          [{ span: vmcs.nameSpan, message: `exits under vmcs ${vmcs.name}` }],
          guest,
          options,
        ),
      );
    }
  }
}

function unhandled(
  reason: ExitReasonDef,
  span: Span,
  related: RelatedInfo[],
  guest: GuestIR,
  options: LintOptions,
): Diagnostic {
  const diagnostic: Diagnostic = {
    severity: "error",
    code: "TL310",
    message: `exits with ${reason.name} (${reason.code}) in guest ${guest.name}, but the file has no handler ${reason.name}`,
    span,
    related,
    reference: reason.source,
  };
  const fix = addHandlerFix(reason, options.text);
  if (fix) diagnostic.fixes = fix;
  return diagnostic;
}

/** Line-wise removal of a handler block when it stands on its own lines. */
function removeBlockFix(handler: HandlerIR, text: string | undefined): CodeFix[] | undefined {
  if (text === undefined) return undefined;
  let start = handler.span.start;
  while (start > 0 && (text[start - 1] === " " || text[start - 1] === "\t")) start--;
  let end = handler.span.end;
  while (end < text.length && (text[end] === " " || text[end] === "\t")) end++;
  const ownLine =
    (start === 0 || text[start - 1] === "\n") &&
    (end === text.length || text[end] === "\n" || text[end] === "\r");
  if (ownLine) end = Math.min(text.length, end + (text[end] === "\r" && text[end + 1] === "\n" ? 2 : 1));
  else {
    start = handler.span.start;
    end = handler.span.end;
  }
  return [{ title: `Remove handler ${handler.reason.name}`, edits: [{ span: { start, end }, newText: "" }] }];
}

function lintDeadHandlers(program: Program, options: LintOptions, out: Diagnostic[]): void {
  if (program.vmcs.size === 0) return;
  const vmcsList = [...program.vmcs.values()].map((vmcs) => ({
    vmcs,
    words: effectiveControls(vmcs, program.target),
  }));
  for (const handler of program.handlers.values()) {
    const condition = REASON_CONDITIONS[handler.reason.name];
    if (!condition) continue;
    if (vmcsList.some(({ vmcs, words }) => condition(words, vmcs))) continue;
    const names = [...program.vmcs.keys()].join(", ");
    const diagnostic: Diagnostic = {
      severity: "warning",
      code: "TL311",
      message: `handler ${handler.reason.name} never runs: no vmcs in this file (${names}) enables the exit`,
      span: handler.reasonSpan,
      tags: ["unnecessary"],
      reference: "SDM Vol. 3C §26.1–26.2 (instructions that cause VM exits; §25.1–25.2 in pre-2023 editions)",
    };
    const fix = removeBlockFix(handler, options.text);
    if (fix) diagnostic.fixes = fix;
    out.push(diagnostic);
  }
}

interface IgnoredRule {
  code: string;
  /** The setting's span if the vmcs has it. */
  span: (vmcs: VmcsIR) => Span | undefined;
  what: string;
  needs: readonly [ControlWord, string];
  consequence: string;
}

const IGNORED_SETTINGS: readonly IgnoredRule[] = [
  {
    code: "TL320",
    span: (v) => v.ioTraps[0]?.span,
    what: "io trap",
    needs: ["proc", "use_io_bitmaps"],
    consequence:
      "the I/O bitmaps are not used (every port exits with unconditional_io_exiting, none without it)",
  },
  {
    code: "TL321",
    span: (v) => v.msrTraps[0]?.span,
    what: "msr trap",
    needs: ["proc", "use_msr_bitmaps"],
    consequence: "the MSR bitmap is not used: every RDMSR and WRMSR exits",
  },
  {
    code: "TL322",
    span: (v) => v.ple?.span,
    what: "ple",
    needs: ["proc2", "pause_loop_exiting"],
    consequence: "PLE_GAP and PLE_WINDOW are not used",
  },
  {
    code: "TL323",
    span: (v) => v.preemptionTimer?.span,
    what: "preemption_timer",
    needs: ["pin", "activate_vmx_preemption_timer"],
    consequence: "the VMX-preemption timer does not count down",
  },
  {
    code: "TL324",
    span: (v) => v.eptSpan ?? v.eptp?.span,
    what: "ept",
    needs: ["proc2", "enable_ept"],
    consequence:
      "guest-physical addresses are not translated through EPT, so no EPT violation or misconfiguration occurs",
  },
  {
    code: "TL325",
    span: (v) => v.cr3Targets[0]?.span,
    what: "cr3_targets",
    needs: ["proc", "cr3_load_exiting"],
    consequence: "MOV to CR3 does not exit anyway",
  },
  {
    code: "TL326",
    span: (v) => v.postedInterruptVector?.span,
    what: "posted_interrupt_vector",
    needs: ["pin", "process_posted_interrupts"],
    consequence: "interrupts are not posted",
  },
  {
    code: "TL327",
    span: (v) => v.vtpr?.span,
    what: "vtpr",
    needs: ["proc", "use_tpr_shadow"],
    consequence: "there is no virtual-APIC page and VTPR is not compared with the TPR threshold",
  },
];

function lintIgnoredSettings(program: Program, out: Diagnostic[]): void {
  for (const vmcs of program.vmcs.values()) {
    const words = effectiveControls(vmcs, program.target);
    for (const rule of IGNORED_SETTINGS) {
      const span = rule.span(vmcs);
      if (!span || on(words, rule.needs[0], rule.needs[1])) continue;
      out.push({
        severity: "warning",
        code: rule.code,
        message: `${rule.what} has no effect: ${rule.needs[1]} (${rule.needs[0]}) is 0, so ${rule.consequence}`,
        span,
        related: [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name}` }],
        reference:
          "SDM Vol. 3C §26.1.3 / §25.6 (how the controls use these fields; pre-2023 §25.1.3 / §24.6)",
      });
    }
  }
}

function lintBudgets(
  program: Program,
  estimates: ReadonlyMap<string, GuestEstimate>,
  out: Diagnostic[],
): void {
  for (const expect of program.expects) {
    const estimate = estimates.get(expect.guest);
    if (!estimate) continue;
    for (const budget of expect.budgets) {
      let actual: number;
      let label: string;
      let format: (v: number) => string;
      const metric = budget.metric;
      if (metric.metric === "overhead") {
        actual = estimate.overhead;
        label = "overhead";
        format = formatPercent;
      } else if (metric.metric === "exits") {
        if (metric.reason) {
          const code = metric.reason.code;
          actual = estimate.byReason.find((r) => r.code === code)?.exitsPerSecond ?? 0;
          label = `${metric.reason.name} exits`;
        } else {
          actual = estimate.exitsPerSecond;
          label = "exits";
        }
        format = formatRate;
      } else if (metric.metric === "host_cpu") {
        actual = estimate.hostCpu;
        label = "host CPU";
        format = (v) => `${formatPercent(v)} of a core`;
      } else {
        // Latency percentiles need a simulation; `trapline simulate` checks them.
        continue;
      }
      const violated = budget.comparator === "<" ? !(actual < budget.value) : !(actual <= budget.value);
      if (!violated) continue;
      out.push({
        severity: "error",
        code: "TL401",
        message: `${label} ${format(actual)} (static estimate) violates the budget ${budget.comparator} ${format(budget.value)} of guest ${expect.guest}`,
        span: budget.span,
        related: topContributors(program, estimate),
      });
    }
  }
  for (const estimate of estimates.values()) {
    if (!(estimate.demand > 1)) continue;
    const guest = program.guests.get(estimate.guest);
    if (!guest) continue;
    out.push({
      severity: "warning",
      code: "TL402",
      message: `guest ${guest.name} demands ${formatPercent(estimate.demand)} of each vCPU (guest work plus exit handling): the vCPUs are saturated and cannot sustain these rates`,
      span: guest.nameSpan,
      related: topContributors(program, estimate),
    });
  }
}

/** The two costliest exit reasons, pointing at their handlers. */
function topContributors(program: Program, estimate: GuestEstimate): RelatedInfo[] {
  const related: RelatedInfo[] = [];
  const sorted = [...estimate.byReason].sort((a, b) => b.share - a.share).slice(0, 2);
  for (const reason of sorted) {
    const handler = program.handlers.get(reason.code);
    if (!handler) continue;
    related.push({
      span: handler.reasonSpan,
      message: `${reason.reason}: ${formatRate(reason.exitsPerSecond)}, ${formatCycles(reason.cyclesPerExit)} per exit, ${formatPercent(reason.share)} of exit time`,
    });
  }
  return related;
}
