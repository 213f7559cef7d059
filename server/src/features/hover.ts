/**
 * Hovers: answered from the cached analysis of the current version through the model's position
 * index (a binary search), never by re-analysing. Words the index does not cover (a keyword, a
 * name in a statement the core could not resolve) fall back to the VT-x tables by name.
 *
 * The hovers themselves are by subject: hoverGuest.ts (guest operations, guests), hoverHandler.ts
 * (handlers, their operations, fns), hoverVmx.ts (controls, vmcs, profiles, VT-x tables).
 */
import type { Hover } from "vscode-languageserver";
import {
  exceptionByMnemonic,
  exceptionByVector,
  exitReasonByName,
  findControls,
  msrByIndex,
  msrByName,
  profileByName,
  vmcsFieldByName,
} from "../../../core/src/index";
import { formatHex } from "../../../core/src/util/format";
import { spanToRange } from "../convert";
import type { DocumentModel, IndexEntry } from "../model";
import { sourceNameHover } from "./guestTimeHover";
import { guestHover, guestOpHover } from "./hoverGuest";
import { fnHover, handlerHover, handlerOpHover } from "./hoverHandler";
import { hypervisorHover, l1HandlerHover, l1OperationLines } from "./hoverHypervisor";
import { pathHoverAt } from "./hoverPath";
import { wordAt } from "./hoverText";
import { controlHover, exitReasonHover, fieldHover, msrHover, profileHover, vmcsHover } from "./hoverVmx";
import { KEYWORD_DOCS } from "./keywordDocs";
import { handlerMeasuredLines, type MeasuredView, measuredHover } from "./measured";

export function hoverAt(model: DocumentModel, offset: number, measured?: MeasuredView): Hover | null {
  for (const m of measured?.values() ?? []) {
    if (offset < m.ir.span.start || offset > m.ir.span.end) continue;
    return {
      contents: { kind: "markdown", value: measuredHover(m) },
      range: spanToRange(model.analysis.lines, m.ir.span),
    };
  }
  const entry = model.elementAt(offset);
  let markdown = entry ? hoverForEntry(model, entry, offset) : undefined;
  const path = pathHoverAt(model, offset);
  if (path) {
    const word = markdown ? undefined : wordAt(model.analysis.text, offset);
    const rest = markdown ?? (word ? hoverForWord(model, word.text) : undefined);
    // On the source's name, the guest-observed time (guestTimeHover.ts) follows the figures.
    const observed = sourceNameHover(model, offset)?.markdown;
    const value = [path.markdown, observed, rest].filter((x) => x !== undefined).join("\n\n---\n\n");
    const range = spanToRange(model.analysis.lines, entry?.span ?? word?.span ?? path.span);
    return { contents: { kind: "markdown", value }, range };
  }

  if (markdown && entry?.kind === "handlerReason") {
    const lines = handlerMeasuredLines(measured, entry.handler.reason.code);
    if (lines.length) markdown = `${markdown}\n\n---\n\n${lines.join("\n\n")}`;
  }
  if (markdown)
    return {
      contents: { kind: "markdown", value: markdown },
      range: spanToRange(model.analysis.lines, entry!.span),
    };
  const source = sourceNameHover(model, offset);
  if (source)
    return {
      contents: { kind: "markdown", value: source.markdown },
      range: spanToRange(model.analysis.lines, source.span),
    };
  const word = wordAt(model.analysis.text, offset);
  if (!word) return null;
  const fallback = hoverForWord(model, word.text);
  if (!fallback) return null;
  return {
    contents: { kind: "markdown", value: fallback },
    range: spanToRange(model.analysis.lines, word.span),
  };
}

function hoverForEntry(model: DocumentModel, entry: IndexEntry, offset: number): string | undefined {
  const program = model.analysis.program;
  switch (entry.kind) {
    case "guestOp": {
      const estimate = model.operationAt(entry.guest, entry.op.span.start);
      // On the operand of an MSR access, the MSR itself is the more useful answer.
      const word = wordAt(model.analysis.text, offset);
      if (word && (entry.op.op === "rdmsr" || entry.op.op === "wrmsr") && word.text !== entry.op.op) {
        const msr = msrByIndex(entry.op.msr);
        if (msr) return `${guestOpHover(model, entry.op, estimate, entry.guest)}\n\n---\n\n${msrHover(msr)}`;
      }
      return guestOpHover(model, entry.op, estimate, entry.guest);
    }
    case "control":
      return controlHover(model, entry.vmcs, entry.setting.control);
    case "handlerReason":
      return handlerHover(model, entry.handler);
    case "l1HandlerReason":
      return l1HandlerHover(model, entry.handler, entry.hypervisor);
    case "hypervisorName":
      return hypervisorHover(model, entry.hypervisor);
    case "hypervisorRef": {
      const hypervisor = program.hypervisors.get(entry.name);
      return hypervisor ? hypervisorHover(model, hypervisor) : undefined;
    }
    case "handlerOp": {
      const text = handlerOpHover(program, entry.op, entry.owner);
      if (!entry.hypervisor || !("reason" in entry.owner)) return text;
      const l1 = l1OperationLines(model, entry.op, entry.owner, entry.hypervisor);
      return l1 ? `${l1}${text ? `\n\n---\n\n${text}` : ""}` : text;
    }
    case "target":
      return profileHover(entry.target.profile, program);
    case "vmcsField": {
      const field = entry.vmcs.fields.get(entry.name);
      return field ? `${fieldHover(field.field)}\n\nValue here: \`${formatHex(field.value)}\`` : undefined;
    }
    case "msrTrap": {
      const msr = msrByIndex(entry.trap.msr);
      const access = [entry.trap.read ? "reads" : "", entry.trap.write ? "writes" : ""]
        .filter(Boolean)
        .join(" and ");
      const head = `**MSR bitmap**: ${access} of ${msr ? `\`${msr.name}\`` : formatHex(entry.trap.msr)} (${formatHex(entry.trap.msr)}) exit`;
      const note = entry.vmcs.settings.some((s) => s.control.name === "use_msr_bitmaps")
        ? ""
        : "\n\n⚠ `use_msr_bitmaps` is not set in this vmcs: every RDMSR/WRMSR exits regardless of the bitmap (SDM Vol. 3C §26.1.3).";
      return `${head}${note}${msr ? `\n\n---\n\n${msrHover(msr)}` : ""}`;
    }
    case "ioTrap": {
      const { first, last } = entry.ports;
      const count = last - first + 1;
      return `**I/O bitmap**: ports ${formatHex(first)}..${formatHex(last)} (${count} port${count === 1 ? "" : "s"}) exit with IO_INSTRUCTION (30) when \`use_io_bitmaps\` is set; ports 0x0000–0x7fff are in bitmap A, 0x8000–0xffff in bitmap B (SDM Vol. 3C §26.1.3).`;
    }
    case "exceptionBit": {
      const exception = exceptionByVector(entry.vector);
      return `**Exception bitmap bit ${entry.vector}**${exception ? `: ${exception.mnemonic} ${exception.name}` : ""} — the exception exits with EXCEPTION_NMI (0) instead of being delivered through the guest IDT${entry.vector === 14 ? ", subject to the page-fault error-code mask/match" : ""} (SDM Vol. 3C §26.2).`;
    }
    case "vmcsName":
      return vmcsHover(model, entry.vmcs);
    case "vmcsRef": {
      const vmcs = program.vmcs.get(entry.name);
      return vmcs ? vmcsHover(model, vmcs) : undefined;
    }
    case "guestName":
      return guestHover(model, entry.guest.name);
    case "guestRef":
      return guestHover(model, entry.name);
    case "fnName":
      return fnHover(program, entry.fn);
    case "fnRef": {
      const fn = program.fns.get(entry.name);
      return fn ? fnHover(program, fn) : undefined;
    }
  }
}

/** A hover for a bare word from the VT-x tables. */
function hoverForWord(model: DocumentModel, word: string): string | undefined {
  const program = model.analysis.program;
  const controls = findControls(word);
  if (controls.length) {
    // The word keyword before it on the line decides which word's control is meant.
    const vmcs = [...program.vmcs.values()][0];
    return controls
      .map((control) => controlHover(model, controls.length === 1 ? vmcs : undefined, control))
      .join("\n\n---\n\n");
  }
  const reason = exitReasonByName(word);
  if (reason) {
    const handler = program.handlers.get(reason.code);
    return handler ? handlerHover(model, handler) : exitReasonHover(reason);
  }
  const field = vmcsFieldByName(word);
  if (field) return fieldHover(field);
  const msr = msrByName(word);
  if (msr) return msrHover(msr);
  const exception = exceptionByMnemonic(word);
  if (exception)
    return `**${exception.mnemonic}** vector ${exception.vector}: ${exception.name}${exception.hasErrorCode ? " (pushes an error code)" : ""}\n\nSource: ${exception.source}`;
  const profile = profileByName(word);
  if (profile) return profileHover(profile, program);
  return KEYWORD_DOCS[word];
}
