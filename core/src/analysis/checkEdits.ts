/**
 * Text edits for the quick fixes of the VM-entry checks: adding controls to a vmcs block (appended
 * to the word's existing statement, or on a new statement line inside the block) and dropping one.
 * Without the file text (checkProgram called on a bare Program) edits still apply, only the
 * indentation of a new line is guessed.
 */
import type { ControlSetting, VmcsIR } from "../model/ir";
import { tokenDeletionSpan } from "../model/lower";
import type { Span, TextEdit } from "../source";
import type { ControlDef, ControlWord } from "../vmx/types";

const WORD_ORDER: readonly ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];

/** Column-0 offset of the line holding `offset`. */
function lineStartOf(text: string, offset: number): number {
  let i = offset;
  while (i > 0) {
    const c = text.charCodeAt(i - 1);
    if (c === 10 || c === 13) break;
    i--;
  }
  return i;
}

/** Offset of the line break ending the line that holds `offset` (or text.length). */
function lineEndOf(text: string, offset: number): number {
  let i = offset;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) break;
    i++;
  }
  return i;
}

function indentationAt(text: string | undefined, offset: number): string {
  if (text === undefined) return "  ";
  const start = lineStartOf(text, offset);
  let end = start;
  while (end < text.length && (text[end] === " " || text[end] === "\t")) end++;
  return text.slice(start, end);
}

function lastSettingOfWord(vmcs: VmcsIR, word: ControlWord): ControlSetting | undefined {
  let last: ControlSetting | undefined;
  for (const setting of vmcs.settings) {
    if (setting.control.word === word && (!last || setting.span.end > last.span.end)) last = setting;
  }
  return last;
}

/**
 * Edits that add `controls` to the vmcs block: per word, appended after the word's last listed
 * control, or (for a word with no statement yet) as new statement lines after the last control
 * statement of the block, indented like it.
 */
export function addControlsEdits(vmcs: VmcsIR, controls: readonly ControlDef[], text?: string): TextEdit[] {
  const byWord = new Map<ControlWord, string[]>();
  for (const control of controls) {
    const names = byWord.get(control.word) ?? [];
    if (!names.includes(control.name)) names.push(control.name);
    byWord.set(control.word, names);
  }
  const edits: TextEdit[] = [];
  const newLines: string[] = [];
  for (const word of WORD_ORDER) {
    const names = byWord.get(word);
    if (!names) continue;
    const anchor = lastSettingOfWord(vmcs, word)?.span ?? vmcs.wordLines[word];
    if (anchor) edits.push({ span: { start: anchor.end, end: anchor.end }, newText: ` ${names.join(" ")}` });
    else newLines.push(`${word} ${names.join(" ")}`);
  }
  if (newLines.length > 0) edits.push(newLinesEdit(vmcs, newLines, text));
  return edits;
}

function newLinesEdit(vmcs: VmcsIR, lines: string[], text: string | undefined): TextEdit {
  // The closing brace of the block is its last character.
  const closeBrace = vmcs.span.end - 1;
  let lastSetting: ControlSetting | undefined;
  for (const setting of vmcs.settings) {
    if (!lastSetting || setting.span.end > lastSetting.span.end) lastSetting = setting;
  }
  // An unclosed block (TL012) ends at its last token: new lines go after it, on lines of their own.
  if (text !== undefined && text[closeBrace] !== "}")
    return {
      span: { start: vmcs.span.end, end: vmcs.span.end },
      newText: lines.map((l) => `\n  ${l}`).join(""),
    };
  if (text !== undefined) {
    const anchor = lastSetting ? lastSetting.span.end : text.indexOf("{", vmcs.nameSpan.end);
    if (anchor >= 0) {
      const lineEnd = lineEndOf(text, anchor);
      if (lineEnd < closeBrace) {
        const indent = lastSetting ? indentationAt(text, lastSetting.span.start) : "  ";
        const body = lines.map((line) => `\n${indent}${line}`).join("");
        return { span: { start: lineEnd, end: lineEnd }, newText: body };
      }
    }
    // A one-line block (`vmcs a { proc hlt_exiting }`): insert before the closing brace.
    return { span: { start: closeBrace, end: closeBrace }, newText: `${lines.join(" ")} ` };
  }
  return { span: { start: closeBrace, end: closeBrace }, newText: `  ${lines.join("\n  ")}\n` };
}

/** Edits adding a statement line to the vmcs block (after its last statement, like a control line). */
export function addStatementEdits(vmcs: VmcsIR, statement: string, text?: string): TextEdit[] {
  const closeBrace = text?.[vmcs.span.end - 1] === "}" ? vmcs.span.end - 1 : vmcs.span.end;
  if (text !== undefined) {
    // After the last non-blank line before the closing brace, indented like the first statement.
    let end = closeBrace;
    while (end > vmcs.nameSpan.end && /\s/.test(text[end - 1]!)) end--;
    const first = vmcs.settings[0]?.span.start;
    let indent = "  ";
    if (first !== undefined) {
      let s = first;
      while (s > 0 && text[s - 1] !== "\n" && text[s - 1] !== "\r") s--;
      let e = s;
      while (text[e] === " " || text[e] === "\t") e++;
      if (e < first) indent = text.slice(s, e);
    }
    // An unclosed block (TL012) ends at its last token: the statement goes on a line of its own.
    const closeLineIsOwn =
      text[closeBrace] !== "}" ||
      text.lastIndexOf("\n", closeBrace) > end ||
      text.lastIndexOf("\r", closeBrace) > end;
    if (closeLineIsOwn && text[end - 1] !== "{")
      return [{ span: { start: end, end }, newText: `\n${indent}${statement}` }];
    return [{ span: { start: closeBrace, end: closeBrace }, newText: `${statement} ` }];
  }
  return [{ span: { start: closeBrace, end: closeBrace }, newText: `  ${statement}\n` }];
}

/**
 * Edit that removes one listed control. If it is the only name of its statement, the statement
 * goes with it.
 */
export function dropControlEdit(vmcs: VmcsIR, setting: ControlSetting, text?: string): TextEdit {
  return dropControlsEdits(vmcs, [setting], text)[0]!;
}

/**
 * Edits that remove several listed controls: each token with its blanks and comma (as lowering's
 * wrong-word fix deletes one), or the whole statement of a word (its `wordLines` or
 * `moreWordLines` span) when every name on it goes. The edits do not overlap.
 */
export function dropControlsEdits(
  vmcs: VmcsIR,
  settings: readonly ControlSetting[],
  text?: string,
): TextEdit[] {
  const dropping = new Set(settings);
  const inside = (span: Span, line: Span) => line.start <= span.start && span.end <= line.end;
  const statementOf = (setting: ControlSetting): Span | undefined => {
    const word = setting.control.word;
    const first = vmcs.wordLines[word];
    if (first && inside(setting.span, first)) return first;
    return vmcs.moreWordLines?.find((line) => line.word === word && inside(setting.span, line.span))?.span;
  };
  const wholeStatements = new Set<Span>();
  const edits: TextEdit[] = [];
  for (const setting of dropping) {
    const line = statementOf(setting);
    if (line) {
      if (wholeStatements.has(line)) continue;
      const kept = vmcs.settings.some((s) => !dropping.has(s) && inside(s.span, line));
      if (!kept) {
        wholeStatements.add(line);
        edits.push({ span: wholeLine(line, text), newText: "" });
        continue;
      }
    }
    const { start, end } = setting.span;
    edits.push({
      span: text === undefined ? { start, end } : tokenDeletionSpan(text, setting.span),
      newText: "",
    });
  }
  return edits;
}

/** The statement span widened to its whole line(s) when nothing else shares them. */
function wholeLine(span: Span, text: string | undefined): Span {
  if (text === undefined) return span;
  const start = lineStartOf(text, span.start);
  const end = lineEndOf(text, span.end);
  const before = text.slice(start, span.start);
  const after = text.slice(span.end, end);
  if (before.trim() === "" && (after.trim() === "" || after.trim().startsWith("//"))) {
    const next = end < text.length ? end + (text[end] === "\r" && text[end + 1] === "\n" ? 2 : 1) : end;
    return { start, end: next };
  }
  return span;
}

/** Apply edits to a text (used by tests and the CLI's future --fix). Edits must not overlap. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.span.start - a.span.start || b.span.end - a.span.end);
  let out = text;
  for (const edit of sorted) out = out.slice(0, edit.span.start) + edit.newText + out.slice(edit.span.end);
  return out;
}
