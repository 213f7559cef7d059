/**
 * Control-word statements of a `vmcs` block: `pin`, `proc`, `proc2`, `proc3`, `exit`, `entry`,
 * each a list of control names of that word (SDM Vol. 3C §25.6.1–25.6.2, §25.7.1, §25.8.1; the
 * names and bits are core/src/vmx/controls.ts). A name of another word gets a fix that moves it.
 */

import type { Ident, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { closestMatch } from "../../lang/suggest";
import { CONTROL_WORDS, controlInWord, controlNames, controlsOfWord, findControls } from "../../vmx/controls";
import type { ControlWord } from "../../vmx/types";
import { type LowerContext, tokenDeletionSpan } from "../context";
import type { VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

const WORD_DESCRIPTION: Record<ControlWord, string> = {
  pin: "a pin-based VM-execution control",
  proc: "a primary processor-based VM-execution control",
  proc2: "a secondary processor-based VM-execution control",
  proc3: "a tertiary processor-based VM-execution control",
  exit: "a VM-exit control",
  entry: "a VM-entry control",
};

function lowerControls(ctx: LowerContext, vmcs: VmcsIR, statement: Statement): void {
  const word = statement.keyword as ControlWord;
  if (statement.items.length === 0) {
    ctx.error("TL201", `expected a control name after \`${word}\``, keywordSpanOf(statement));
    return;
  }
  for (const item of statement.items) {
    if (item.kind !== "Ident") {
      ctx.wrongItem(item, "a control name", word);
      continue;
    }
    const control = controlInWord(word, item.name);
    if (control !== undefined) {
      const slot = 2 * CONTROL_WORDS.indexOf(word) + (control.bit >= 32 ? 1 : 0);
      ctx.writtenWords[slot]! |= 1 << (control.bit & 31);
      vmcs.settings.push({ control, span: item });
      continue;
    }
    const elsewhere = findControls(item.name);
    if (elsewhere.length > 0) {
      wrongWord(ctx, vmcs, statement, item, elsewhere[0]!.word);
      continue;
    }
    const inWord = closestMatch(
      item.name,
      controlsOfWord(word).map((c) => c.name),
    );
    if (inWord !== undefined) {
      ctx.unknown("TL104", `${word} control`, item, [inWord]);
    } else {
      const anywhere = closestMatch(item.name, controlNames());
      const otherWord = anywhere ? findControls(anywhere)[0]?.word : undefined;
      if (anywhere !== undefined && otherWord !== undefined) {
        ctx.error(
          "TL104",
          `unknown control \`${item.name}\`; did you mean \`${anywhere}\` (${WORD_DESCRIPTION[otherWord]}, written on the \`${otherWord}\` line)?`,
          item,
        );
      } else {
        ctx.error("TL104", `unknown ${word} control \`${item.name}\``, item);
      }
    }
  }
}

/** A control written on the wrong word: the message names the right one; the fix moves it. */
function wrongWord(
  ctx: LowerContext,
  vmcs: VmcsIR,
  statement: Statement,
  item: Ident,
  right: ControlWord,
): void {
  const text = ctx.text;
  const edits = [{ span: tokenDeletionSpan(text, item), newText: "" }];
  const line = vmcs.wordLines[right];
  if (line !== undefined) {
    edits.push({ span: { start: line.end, end: line.end }, newText: ` ${item.name}` });
  } else {
    // No line for that word yet: add one after this statement, with this line's indentation.
    let lineStart = statement.start;
    while (lineStart > 0 && text.charCodeAt(lineStart - 1) !== 10 && text.charCodeAt(lineStart - 1) !== 13)
      lineStart--;
    const indent = text.slice(lineStart, statement.start).replace(/[^ \t]/g, " ");
    edits.push({
      span: { start: statement.end, end: statement.end },
      newText: `\n${indent}${right} ${item.name}`,
    });
  }
  ctx.error(
    "TL103",
    `\`${item.name}\` is ${WORD_DESCRIPTION[right]}; write it on the \`${right}\` line`,
    item,
    {
      fixes: [{ title: `Move \`${item.name}\` to the \`${right}\` line`, edits, preferred: true }],
    },
  );
}

export const controlWordStatements: StatementLowerer<VmcsIR, void> = {
  keywords: CONTROL_WORDS,
  lower: lowerControls,
};
