/**
 * Lints of the guest-visible state (docs/language.md "CPUID", "Single-step"):
 * - TL350 (error): a vmcs's CPUID shows a feature a member of the target's migration `pool`
 *   lacks — a guest that uses it takes #UD after migrating there (QEMU/libvirt compute a pool's
 *   CPU model as the intersection for this reason). Fix: hide the features.
 * - TL351 (warning): `uses F` where the guest takes #UD (F hidden and not enableable, its state
 *   owner hidden, or the CPU lacks it): delivered through the guest's IDT, or an EXCEPTION_NMI
 *   exit when bit 6 of the exception bitmap is set. Fix: show F again.
 * - TL352 (warning): `uses F` of a hidden F that runs anyway (nothing disables it): it works
 *   here and #UDs on a CPU that lacks it.
 * - TL353 (warning): an operation run with RFLAGS.TF = 1 (`single_step`) exits to a handler that
 *   emulates it (`advance_rip`) but queues no #DB (neither `inject #DB` nor a VMWRITE of
 *   GUEST_PENDING_DBG_EXCEPTIONS): the single-step trap the instruction owes is lost. SDM Vol. 3B
 *   §18.3.1.4 "Single-Step Exception Condition" (the trap follows the instruction); KVM's
 *   kvm_skip_emulated_instruction → kvm_vcpu_do_singlestep queues it. Fix: add `inject #DB`.
 */
import type { GuestOp, HandlerOp, Program, VmcsIR } from "../model/ir";
import type { CodeFix, Diagnostic, Span } from "../source";
import { CPUID_REFERENCE, cpuFeatureByName, profileFeatureSource, profileFeatures } from "../vmx/cpuid";
import { exceptionByMnemonic } from "../vmx/exceptions";
import { addStatementEdits } from "./checkEdits";
import { advertisedFeatures, hiddenBecause } from "./exitCpuid";
import { sourceContext } from "./exitRules";
import { decideLeaf, type ExitContext, guestContext } from "./exits";

const DB_VECTOR = exceptionByMnemonic("#DB")!.vector;
const UD_VECTOR = exceptionByMnemonic("#UD")!.vector;
const PENDING_DBG = "GUEST_PENDING_DBG_EXCEPTIONS";
const SINGLE_STEP_REFERENCE =
  'SDM Vol. 3B §18.3.1.4 "Single-Step Exception Condition"; Linux arch/x86/kvm/x86.c kvm_skip_emulated_instruction → kvm_vcpu_do_singlestep';

export function lintGuestState(program: Program, text: string | undefined, out: Diagnostic[]): void {
  lintPool(program, text, out);
  for (const guest of program.guests.values()) {
    const ctx = guestContext(program, guest);
    if (!ctx) continue;
    const reported = new Set<string>();
    for (const source of guest.sources)
      visit(source.ops, sourceContext(ctx, source), false, reported, text, out);
  }
}

function lintPool(program: Program, text: string | undefined, out: Diagnostic[]): void {
  const pool = program.target.pool;
  if (!pool) return;
  for (const vmcs of program.vmcs.values()) {
    if (vmcs.nested) continue;
    const shown = advertisedFeatures(program, vmcs);
    for (const member of pool.members) {
      const has = profileFeatures(member.profile);
      const missing = [...shown].filter((f) => !has.has(f));
      if (missing.length === 0) continue;
      const list = missing.map((f) => `\`${f}\``).join(", ");
      out.push({
        severity: "error",
        code: "TL350",
        message: `vmcs ${vmcs.name}'s CPUID shows ${list}, which pool member ${member.profile} lacks: a guest that uses ${missing.length === 1 ? "it" : "them"} takes #UD after migrating there (the pool's CPU is the intersection of its members)`,
        span: vmcs.cpuid?.span ?? vmcs.nameSpan,
        related: [
          { span: member.span, message: `${member.profile}: ${profileFeatureSource(member.profile)}` },
        ],
        reference: CPUID_REFERENCE,
        fixes: [
          {
            title: `Hide ${missing.join(", ")} (cpuid hide)`,
            edits: hideEdits(vmcs, missing, text),
            preferred: true,
          },
        ],
      });
    }
  }
}

/** Appends to the first `cpuid hide` statement, or adds one to the vmcs. */
function hideEdits(vmcs: VmcsIR, names: readonly string[], text: string | undefined) {
  if (vmcs.cpuid)
    return [
      { span: { start: vmcs.cpuid.span.end, end: vmcs.cpuid.span.end }, newText: ` ${names.join(" ")}` },
    ];
  return addStatementEdits(vmcs, `cpuid hide ${names.join(" ")}`, text);
}

function visit(
  ops: readonly GuestOp[],
  ctx: ExitContext,
  singleStep: boolean,
  reported: Set<string>,
  text: string | undefined,
  out: Diagnostic[],
): void {
  for (const op of ops) {
    if (op.op === "tsx" || op.op === "coalesce") visit(op.ops, ctx, singleStep, reported, text, out);
    else if (op.op === "repeat")
      visit(op.ops, ctx, singleStep || op.singleStep === true, reported, text, out);
    else if (op.op === "branch")
      for (const arm of op.arms) visit(arm.ops, ctx, singleStep, reported, text, out);
    else {
      if (op.op === "uses") lintUses(op.feature, op.span, ctx, out);
      if (singleStep) lintSingleStep(op, ctx, reported, text, out);
    }
  }
}

function lintUses(name: string, span: Span, ctx: ExitContext, out: Diagnostic[]): void {
  const feature = cpuFeatureByName(name);
  if (!feature) return;
  const decision = decideLeaf({ op: "uses", feature: name, span }, ctx);
  const ud = decision.rule.includes("#UD");
  const why = hiddenBecause(ctx.program, ctx.vmcs, name);
  if (!ud && why === undefined) return;
  const fixes: CodeFix[] = [];
  const hiddenHere = (f: string | undefined) => (f === undefined ? undefined : ctx.vmcs.cpuid?.hidden.get(f));
  const hideSpan = hiddenHere(name) ?? hiddenHere(feature.owner);
  if (hideSpan) {
    const shown = hiddenHere(name) ? name : feature.owner!;
    fixes.push({
      title: `Show ${shown} (remove it from \`cpuid hide\`)`,
      edits: [{ span: hideSpan, newText: "" }],
      preferred: true,
    });
  }
  if (ud) {
    const exits = decision.exits.length > 0;
    out.push({
      severity: "warning",
      code: "TL351",
      message: `guest ${ctx.guest.name} takes #UD here: ${decision.rule.replace(/^The guest's /, "its ")}${exits ? "" : " The guest's #UD handler runs (no VM exit)."}`,
      span,
      related: [
        { span: ctx.vmcs.cpuid?.span ?? ctx.vmcs.nameSpan, message: `CPUID of vmcs ${ctx.vmcs.name}` },
      ],
      reference: CPUID_REFERENCE,
      ...(fixes.length ? { fixes } : {}),
    });
    return;
  }
  out.push({
    severity: "warning",
    code: "TL352",
    message: `\`uses ${name}\`: ${why}, but the instruction still runs here (CPUID only advertises it); on a CPU that lacks ${name} it takes #UD (vector ${UD_VECTOR})`,
    span,
    reference: CPUID_REFERENCE,
    ...(fixes.length ? { fixes } : {}),
  });
}

/** What a handler's body does, calls expanded (each fn once). */
interface HandlerEffects {
  advanceRip?: Span;
  queuesDb: boolean;
}

function handlerEffects(
  program: Program,
  ops: readonly HandlerOp[],
  acc: HandlerEffects,
  seen: Set<string>,
): HandlerEffects {
  for (const op of ops) {
    if (op.op === "advance_rip") acc.advanceRip ??= op.span;
    else if (op.op === "inject" && op.vector === DB_VECTOR) acc.queuesDb = true;
    else if (op.op === "vmwrite" && op.field.name === PENDING_DBG) acc.queuesDb = true;
    else if (op.op === "repeat") handlerEffects(program, op.ops, acc, seen);
    else if (op.op === "branch") for (const arm of op.arms) handlerEffects(program, arm.ops, acc, seen);
    else if (op.op === "call" && !seen.has(op.fn)) {
      seen.add(op.fn);
      const fn = program.fns.get(op.fn);
      if (fn) handlerEffects(program, fn.ops, acc, seen);
    }
  }
  return acc;
}

function lintSingleStep(
  op: GuestOp,
  ctx: ExitContext,
  reported: Set<string>,
  text: string | undefined,
  out: Diagnostic[],
): void {
  const decision = decideLeaf(op, ctx);
  for (const effect of decision.exits) {
    if (effect.perExecution <= 0) continue;
    const handler = ctx.program.handlers.get(effect.reason.code);
    if (!handler) continue;
    const effects = handlerEffects(ctx.program, handler.ops, { queuesDb: false }, new Set());
    if (effects.advanceRip === undefined || effects.queuesDb) continue;
    const key = `${handler.reason.code}:${op.span.start}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const at = effects.advanceRip;
    out.push({
      severity: "warning",
      code: "TL353",
      message: `handler ${handler.reason.name} emulates an instruction the guest runs with RFLAGS.TF = 1 (\`single_step\`) and skips it (advance_rip) without queuing #DB: the single-step trap the instruction owes is lost; inject #DB (as KVM's kvm_vcpu_do_singlestep does) or set BS in ${PENDING_DBG}`,
      span: at,
      related: [{ span: op.span, message: `exits with ${effect.reason.name} while single-stepping` }],
      reference: SINGLE_STEP_REFERENCE,
      fixes: [
        {
          title: "Add `inject #DB` after `advance_rip`",
          edits: [{ span: { start: at.end, end: at.end }, newText: injectText(text, at) }],
          preferred: true,
        },
      ],
    });
  }
}

/** `inject #DB` on the line after `advance_rip`, at its indentation (same line without the text). */
function injectText(text: string | undefined, at: Span): string {
  if (text === undefined) return "  inject #DB";
  let s = at.start;
  while (s > 0 && text[s - 1] !== "\n") s--;
  const indent = /^[ \t]*/.exec(text.slice(s, at.start))![0];
  // `advance_rip` shares its line with other operations ({ … advance_rip }): stay on it.
  if (text.slice(s, at.start).trim().length > 0) return "  inject #DB";
  return `\n${indent}inject #DB`;
}
