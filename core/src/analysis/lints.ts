/**
 * Whole-program lints: guest operations that exit with no handler for the reason (TL310),
 * handlers that no vmcs in the file can ever trigger (TL311), vmcs settings that the controls make
 * meaningless (TL320–TL326), budgets the static estimate violates (TL401) and saturated vCPUs
 * (TL402); lintsKvm.ts adds configurations KVM never ships (TL340–TL343). docs/diagnostics.md
 * lists every code.
 */

import { handlerTitle, hasAnyHandler } from "../model/handlers";
import type { GuestIR, GuestOp, HandlerIR, Program, VmcsIR } from "../model/ir";
import type { CodeFix, Diagnostic, RelatedInfo, Span } from "../source";
import { formatCycles, formatPercent, formatRate } from "../util/format";
import { CONTROL, type ControlRef, isControlSet } from "../vmx/controls";
import { EXIT, exitReasonByCode } from "../vmx/exitReasons";
import {
  CONTROLLED_EXITS,
  type ControlledExitDef,
  INSTRUCTION_EXITS,
  type InstructionExitDef,
  type OperandSelector,
} from "../vmx/instructions";
import type { ControlWord, ExitReasonDef } from "../vmx/types";
import { budgetViolationMessage } from "./budgetText";
import { effectiveControls } from "./effective";
import { eptAccessedDirty } from "./exitDirty";
import { decideLeaf, type ExitContext, guestContext } from "./exits";
import { lintGuestState } from "./lintsGuestState";
import { lintKvmConfigurations } from "./lintsKvm";
import { lintNestedGuest } from "./nested/lint";
import type { GuestEstimate } from "./types";

export interface LintOptions {
  /** The file text: needed for fixes that insert at the end of the file or remove whole lines. */
  text?: string;
}

type Words = Record<ControlWord, bigint>;

/**
 * When an exit reason can occur under one vmcs, derived from the VT-x tables: the instruction
 * rows (vmx/instructions.ts, SDM Vol. 3C §26.1.2–26.1.3, pre-2023 §25.1.2–25.1.3) and the
 * control-gated event and memory exits (CONTROLLED_EXITS). A reason is possible if any of its
 * rows can fire. Reasons with no row are treated as always possible: exits every hypervisor must
 * handle (EXCEPTION_NMI: KVM requires NMI exiting and changes the exception bitmap at run time;
 * EXTERNAL_INTERRUPT: KVM requires external-interrupt exiting), task switches, triple fault,
 * INIT/SIPI, SMIs, failed entries, and the window/MTF exits that a hypervisor enables at run time
 * when it has an event to inject or is single-stepping (INTERRUPT_WINDOW, NMI_WINDOW,
 * MONITOR_TRAP_FLAG), which the language does not model statically.
 */
type ReasonCondition = (w: Words, vmcs: VmcsIR) => boolean;

/** Whether the operand selector can select some operand under this vmcs. */
function selectorMaySelect(selector: OperandSelector, vmcs: VmcsIR): boolean {
  switch (selector) {
    case "io-bitmap":
      return vmcs.ioTraps.length > 0;
    case "cr0-mask":
      return vmcs.cr0 !== undefined && vmcs.cr0.mask !== 0n;
    case "cr4-mask":
      return vmcs.cr4 !== undefined && vmcs.cr4.mask !== 0n;
    // MSRs outside the bitmap ranges always exit; the PLE window, the VMREAD/VMWRITE bitmaps and
    // the exiting bitmaps are not modelled per operand: any operand may be selected.
    default:
      return true;
  }
}

/** Selectors that, once their control is 1, decide alone (the row's exitsWhen no longer applies). */
const DECIDES_ALONE: ReadonlySet<OperandSelector> = new Set(["io-bitmap", "msr-bitmap", "vmcs-bitmap"]);

function instructionCondition(row: InstructionExitDef): ReasonCondition {
  const { enabledBy, exitsWhen, selector, selectorControl } = row;
  const byControls = (w: Words) =>
    exitsWhen === "always" || (exitsWhen.length > 0 && exitsWhen.every((c) => isControlSet(w, c)));
  return (w, vmcs) => {
    if (enabledBy && !isControlSet(w, enabledBy)) return false;
    if (selector === undefined) return byControls(w);
    // The exiting bitmaps refine the controls: the controls must be 1 (any leaf may be selected).
    if (selector === "exiting-bitmap")
      return exitsWhen === "always" || exitsWhen.every((c) => isControlSet(w, c));
    const selectorOn = selectorControl === undefined || isControlSet(w, selectorControl);
    if (DECIDES_ALONE.has(selector)) return selectorOn ? selectorMaySelect(selector, vmcs) : byControls(w);
    return byControls(w) || (selectorOn && selectorMaySelect(selector, vmcs));
  };
}

function controlledCondition(row: ControlledExitDef): ReasonCondition {
  return (w) => row.anyOf.some((c) => isControlSet(w, c)) && !(row.unless && isControlSet(w, row.unless));
}

const REASON_CONDITIONS: ReadonlyMap<string, ReasonCondition> = (() => {
  const byReason = new Map<string, ReasonCondition[]>();
  const add = (reason: string, condition: ReasonCondition) => {
    const list = byReason.get(reason);
    if (list) list.push(condition);
    else byReason.set(reason, [condition]);
  };
  for (const row of INSTRUCTION_EXITS) add(row.reason, instructionCondition(row));
  for (const row of CONTROLLED_EXITS) add(row.reason, controlledCondition(row));
  const out = new Map<string, ReasonCondition>();
  for (const [reason, conditions] of byReason)
    out.set(
      reason,
      conditions.length === 1 ? conditions[0]! : (w, vmcs) => conditions.some((c) => c(w, vmcs)),
    );
  return out;
})();

export function lintProgram(
  program: Program,
  estimates: ReadonlyMap<string, GuestEstimate>,
  options: LintOptions = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  lintUnhandledExits(program, estimates, options, out);
  lintDeadHandlers(program, options, out);
  lintIgnoredSettings(program, out);
  lintPmlWithoutAccessedDirty(program, options, out);
  lintMonitorTrapFlag(program, out);
  lintKvmConfigurations(program, options.text, out);
  lintGuestState(program, options.text, out);
  lintBudgets(program, estimates, out);
  return out;
}

function handlerSkeleton(reason: ExitReasonDef): string {
  const lines = [`handler ${reason.name} {`];
  if (reason.code === EXIT.EPT_MISCONFIG || reason.code === EXIT.EPT_VIOLATION)
    lines.push("  vmread GUEST_PHYSICAL_ADDRESS");
  lines.push("  work 1000  // placeholder estimate: replace with the measured cost of your handler");
  // An instruction-caused exit: the handler that emulates it skips the instruction.
  if (reason.instructionCaused) lines.push("  advance_rip");
  if (reason.code === EXIT.HLT) lines.push("  halt");
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
      // A handler specialised by the operation's operand takes it (model/handlers.ts).
      if (effect.handler !== undefined || handlers.has(code) || effect.perExecution <= 0) continue;
      reported.add(code);
      out.push(
        unhandled(
          context.program,
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
    // An L2: each exit needs a handler at the level that handles it (nested/lint.ts).
    if (lintNestedGuest(program, guest, options.text, out)) continue;
    const vmcs = context.vmcs;
    const reported = new Set<number>();
    for (const source of guest.sources) lintOps(source.ops, context, guest, reported, options, out);
    // Exits not caused by one operation (interrupt delivery, idle HLT, PML-full, timer …).
    const estimate = estimates.get(guest.name);
    if (!estimate) continue;
    for (const code of estimate.exitingReasonCodes) {
      if (hasAnyHandler(program, code) || reported.has(code)) continue;
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
          program,
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

/** ", and its specialised handlers (… IA32_TSC_DEADLINE) do not take this operand" where it has some. */
function specialisedNote(program: Program, reason: ExitReasonDef): string {
  const list = program.operandHandlers?.get(reason.code);
  if (!list || list.length === 0) return "";
  const labels = list.map((h) => h.operand?.label ?? "").join(", ");
  return ` for this operand (the specialised ${reason.name} handlers take ${labels} only)`;
}

function unhandled(
  program: Program,
  reason: ExitReasonDef,
  span: Span,
  related: RelatedInfo[],
  guest: GuestIR,
  options: LintOptions,
): Diagnostic {
  const diagnostic: Diagnostic = {
    severity: "error",
    code: "TL310",
    message: `exits with ${reason.name} (${reason.code}) in guest ${guest.name}, but the file has no handler ${reason.name}${specialisedNote(program, reason)}`,
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
  // Handlers specialised by operand too: they never run either when the exit is never enabled.
  const specialised = [...(program.operandHandlers?.values() ?? [])].flat();
  for (const handler of [...program.handlers.values(), ...specialised]) {
    const condition = REASON_CONDITIONS.get(handler.reason.name);
    if (!condition) continue;
    if (vmcsList.some(({ vmcs, words }) => condition(words, vmcs))) continue;
    const names = [...program.vmcs.keys()].join(", ");
    const diagnostic: Diagnostic = {
      severity: "warning",
      code: "TL311",
      message: `handler ${handlerTitle(handler)} never runs: no vmcs in this file (${names}) enables the exit`,
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
  needs: ControlRef;
  consequence: string;
}

const IGNORED_SETTINGS: readonly IgnoredRule[] = [
  {
    code: "TL320",
    span: (v) => v.ioTraps[0]?.span,
    what: "io trap",
    needs: CONTROL.proc.use_io_bitmaps,
    consequence:
      "the I/O bitmaps are not used (every port exits with unconditional_io_exiting, none without it)",
  },
  {
    code: "TL321",
    span: (v) => v.msrTraps[0]?.span,
    what: "msr trap",
    needs: CONTROL.proc.use_msr_bitmaps,
    consequence: "the MSR bitmap is not used: every RDMSR and WRMSR exits",
  },
  {
    code: "TL322",
    span: (v) => v.ple?.span,
    what: "ple",
    needs: CONTROL.proc2.pause_loop_exiting,
    consequence: "PLE_GAP and PLE_WINDOW are not used",
  },
  {
    code: "TL323",
    span: (v) => v.preemptionTimer?.span,
    what: "preemption_timer",
    needs: CONTROL.pin.activate_vmx_preemption_timer,
    consequence: "the VMX-preemption timer does not count down",
  },
  {
    code: "TL324",
    span: (v) => v.eptSpan ?? v.eptp?.span,
    what: "ept",
    needs: CONTROL.proc2.enable_ept,
    consequence:
      "guest-physical addresses are not translated through EPT, so no EPT violation or misconfiguration occurs",
  },
  {
    code: "TL325",
    span: (v) => v.cr3Targets[0]?.span,
    what: "cr3_targets",
    needs: CONTROL.proc.cr3_load_exiting,
    consequence: "MOV to CR3 does not exit anyway",
  },
  {
    code: "TL326",
    span: (v) => v.postedInterruptVector?.span,
    what: "posted_interrupt_vector",
    needs: CONTROL.pin.process_posted_interrupts,
    consequence: "interrupts are not posted",
  },
  {
    code: "TL327",
    span: (v) => v.vtpr?.span,
    what: "vtpr",
    needs: CONTROL.proc.use_tpr_shadow,
    consequence: "there is no virtual-APIC page and VTPR is not compared with the TPR threshold",
  },
  // Guest-visible TSC (vmx/tsc.ts; docs/language.md "TSC"): RDTSC reads the TSC unmodified.
  {
    code: "TL354",
    span: (v) => v.fields.get("TSC_OFFSET")?.span,
    what: "TSC_OFFSET",
    needs: CONTROL.proc.use_tsc_offsetting,
    consequence: "the guest reads the host's TSC unmodified",
  },
  {
    code: "TL355",
    span: (v) => v.fields.get("TSC_MULTIPLIER")?.span,
    what: "TSC_MULTIPLIER",
    needs: CONTROL.proc2.use_tsc_scaling,
    consequence: "the guest's TSC is not scaled",
  },
];

function lintIgnoredSettings(program: Program, out: Diagnostic[]): void {
  for (const vmcs of program.vmcs.values()) {
    const words = effectiveControls(vmcs, program.target);
    for (const rule of IGNORED_SETTINGS) {
      const span = rule.span(vmcs);
      if (!span || isControlSet(words, rule.needs)) continue;
      out.push({
        severity: "warning",
        code: rule.code,
        message: `${rule.what} has no effect: ${rule.needs.name} (${rule.needs.word}) is 0, so ${rule.consequence}`,
        span,
        related: [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name}` }],
        reference:
          "SDM Vol. 3C §26.1.3 / §25.6 (how the controls use these fields; pre-2023 §25.1.3 / §24.6)",
      });
    }
  }
}

/** The indentation of the line holding `offset`. */
function indentationAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/**
 * TL328: `enable_pml` without EPT accessed/dirty flags. The CPU logs a guest-physical address
 * only when a write sets an EPT dirty flag (SDM Vol. 3C §29.3.6, older editions §28.2.6), and
 * KVM turns PML off without them (arch/x86/kvm/vmx/vmx.c hardware_setup:
 * `if (!enable_ept || !enable_ept_ad_bits || !cpu_has_vmx_pml()) enable_pml = 0;`), so dirty
 * logging write-protects pages (exitDirty.ts decides `dirty` that way).
 */
function lintPmlWithoutAccessedDirty(program: Program, options: LintOptions, out: Diagnostic[]): void {
  for (const vmcs of program.vmcs.values()) {
    const words = effectiveControls(vmcs, program.target);
    if (!isControlSet(words, CONTROL.proc2.enable_pml) || !isControlSet(words, CONTROL.proc2.enable_ept))
      continue;
    if (eptAccessedDirty(vmcs)) continue;
    const setting = vmcs.settings.find((s) => s.control.name === "enable_pml");
    const span = setting?.span ?? vmcs.wordLines.proc2 ?? vmcs.nameSpan;
    let fix: CodeFix | undefined;
    if (vmcs.eptp !== undefined) {
      fix = {
        title: "Add `accessed_dirty` to `eptp`",
        edits: [{ span: { start: vmcs.eptp.span.end, end: vmcs.eptp.span.end }, newText: " accessed_dirty" }],
        preferred: true,
      };
    } else if (options.text !== undefined && !vmcs.fields.has("EPT_POINTER")) {
      const line = vmcs.wordLines.proc2 ?? span;
      const lineEnd = options.text.indexOf("\n", line.end);
      const at = lineEnd < 0 ? options.text.length : lineEnd;
      fix = {
        title: "Add `eptp memtype WB levels 4 accessed_dirty`",
        edits: [
          {
            span: { start: at, end: at },
            newText: `\n${indentationAt(options.text, line.start)}eptp memtype WB levels 4 accessed_dirty`,
          },
        ],
        preferred: true,
      };
    }
    const diagnostic: Diagnostic = {
      severity: "warning",
      code: "TL328",
      message:
        "enable_pml without EPT accessed/dirty flags (`eptp … accessed_dirty`): the CPU logs no dirty page and KVM disables PML, so dirty logging write-protects every page (an EPT_VIOLATION per first write)",
      span,
      related: [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name}` }],
      reference:
        "SDM Vol. 3C §29.3.6 Page-Modification Logging (older editions §28.2.6); Linux arch/x86/kvm/vmx/vmx.c hardware_setup",
    };
    if (fix) diagnostic.fixes = [fix];
    out.push(diagnostic);
  }
}

/**
 * TL329: `monitor_trap_flag` set in a vmcs. MTF (primary processor-based bit 27) makes the CPU
 * exit with MONITOR_TRAP_FLAG after every guest instruction (SDM Vol. 3C §26.5.2, older editions
 * §25.5.2): a debugging control. KVM runs L2 with it only on behalf of an L1 that sets it
 * (nested_cpu_has_mtf, arch/x86/kvm/vmx/nested.h); its own single-step uses RFLAGS.TF. The
 * estimate and the simulation count the per-instruction exits (analysis/exitMtf.ts), a compute's
 * at the target's `guest_instruction` cycles per instruction (an estimate).
 */
function lintMonitorTrapFlag(program: Program, out: Diagnostic[]): void {
  for (const vmcs of program.vmcs.values()) {
    const words = effectiveControls(vmcs, program.target);
    if (!isControlSet(words, CONTROL.proc.monitor_trap_flag)) continue;
    const setting = vmcs.settings.find((s) => s.control.name === "monitor_trap_flag");
    out.push({
      severity: "warning",
      code: "TL329",
      message:
        "monitor_trap_flag is a debugging control: the guest exits with MONITOR_TRAP_FLAG after every instruction it executes (counted in the estimate, a `compute`'s at `cost guest_instruction` cycles per instruction)",
      span: setting?.span ?? vmcs.wordLines.proc ?? vmcs.nameSpan,
      related: [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name}` }],
      reference: "SDM Vol. 3C §26.5.2 Monitor Trap Flag (older editions §25.5.2)",
    });
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
      const metric = budget.metric;
      let actual: number;
      if (metric.metric === "overhead") actual = estimate.overhead;
      else if (metric.metric === "exits") {
        const code = metric.reason?.code;
        actual =
          code === undefined
            ? estimate.exitsPerSecond
            : (estimate.byReason.find((r) => r.code === code)?.exitsPerSecond ?? 0);
      } else if (metric.metric === "host_cpu") actual = estimate.hostCpu;
      // Latency percentiles need a simulation; `trapline simulate` checks them.
      else continue;
      const violated = budget.comparator === "<" ? !(actual < budget.value) : !(actual <= budget.value);
      if (!violated) continue;
      out.push({
        severity: "error",
        code: "TL401",
        message: budgetViolationMessage(
          metric,
          actual,
          budget.comparator,
          budget.value,
          expect.guest,
          "static estimate",
        ),
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
