/**
 * A `vmcs NAME { … }` declaration: its statements lowered through the vmcs statement table, then
 * the written control words gathered (named controls, and raw words written as fields).
 */

import type { Statement, VmcsDecl } from "../../lang/ast";
import { CONTROL_WORD_FIELD, CONTROL_WORDS } from "../../vmx/controls";
import type { ControlWord } from "../../vmx/types";
import { type LowerContext, spanOf } from "../context";
import type { VmcsIR } from "../ir";
import { cr3TargetsStatement, exceptionsStatement, ioStatement, msrStatement } from "./bitmaps";
import { controlWordStatements } from "./controls";
import { eptStatement } from "./ept";
import { fieldStatement } from "./field";
import { cpuidStatement, tscStatement } from "./guestState";
import { shadowStatement } from "./nested";
import { statementTable } from "./table";
import {
  crMaskStatement,
  eptpStatement,
  pfErrorCodeStatement,
  pleStatement,
  postedInterruptVectorStatement,
  preemptionTimerStatement,
  tprThresholdStatement,
  vtprStatement,
} from "./vmcsValues";

const VMCS_LOWERERS = statementTable<VmcsIR, void>("vmcs", [
  controlWordStatements,
  exceptionsStatement,
  pfErrorCodeStatement,
  ioStatement,
  msrStatement,
  crMaskStatement,
  cr3TargetsStatement,
  pleStatement,
  preemptionTimerStatement,
  postedInterruptVectorStatement,
  tprThresholdStatement,
  vtprStatement,
  eptpStatement,
  fieldStatement,
  eptStatement,
  shadowStatement,
  cpuidStatement,
  tscStatement,
]);

export function lowerVmcs(ctx: LowerContext, decl: VmcsDecl): void {
  if (decl.name === undefined) return;
  const vmcs: VmcsIR = {
    name: decl.name.name,
    span: spanOf(decl),
    nameSpan: decl.name,
    ...(decl.nested ? { nested: { span: decl.nested } } : {}),
    written: { pin: 0n, proc: 0n, proc2: 0n, proc3: 0n, exit: 0n, entry: 0n },
    settings: [],
    wordLines: {},
    exceptionBitmap: 0,
    exceptionSpans: new Map(),
    ioTraps: [],
    msrTraps: [],
    cr3Targets: [],
    fields: new Map(),
    ept: [],
  };
  if (!ctx.program.vmcs.has(vmcs.name)) ctx.program.vmcs.set(vmcs.name, vmcs);
  const statements = (decl.body?.entries ?? []).filter(
    (e): e is Statement => e.kind === "Statement" && e.known,
  );
  // Where each word's first line is, so a wrong-word fix can append there.
  for (const statement of statements) {
    const word = statement.keyword as ControlWord;
    if (!(CONTROL_WORDS as readonly string[]).includes(word)) continue;
    if (vmcs.wordLines[word] === undefined) vmcs.wordLines[word] = spanOf(statement);
    else if (vmcs.moreWordLines === undefined) vmcs.moreWordLines = [{ word, span: spanOf(statement) }];
    else vmcs.moreWordLines.push({ word, span: spanOf(statement) });
  }
  const words = ctx.writtenWords;
  words.fill(0);
  for (const statement of statements) VMCS_LOWERERS.get(statement.keyword)?.(ctx, vmcs, statement);
  // The written control words, gathered as 32-bit halves in numbers (a bigint `|=` per
  // control allocates); the tertiary word is 64 bits wide.
  for (let w = 0; w < CONTROL_WORDS.length; w++) {
    const low = words[2 * w]!;
    const high = words[2 * w + 1]!;
    if (low === 0 && high === 0) continue;
    vmcs.written[CONTROL_WORDS[w]!] = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  // A raw control word (`field CPU_BASED_VM_EXEC_CONTROL = V`) is the word as a hypervisor
  // writes it (KVM's vmcs_write32 of the whole word): its bits are in force as if each were
  // named on the word's line (docs/language.md, "VMCS fields").
  for (const word of CONTROL_WORDS) {
    const raw = vmcs.fields.get(CONTROL_WORD_FIELD[word]);
    if (raw !== undefined) vmcs.written[word] |= raw.value;
  }
}
