/**
 * The bitmap statements of a `vmcs` block: `exceptions` (the exception bitmap), `io trap`
 * (I/O bitmaps), `msr trap` (MSR bitmaps) and `cr3_targets` (the CR3-target values).
 */

import type { Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords } from "../../lang/grammar";
import { msrBitmapBit, msrBitmapRangesText } from "../../vmx/msrs";
import { choice, exceptionVector, msrIndex, portRange, u64 } from "../args";
import type { LowerContext } from "../context";
import type { VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

const IO_LEAD = [argumentWords("vmcs", "io").lead!];
const MSR_WORDS = argumentWords("vmcs", "msr");
const MSR_LEAD = [MSR_WORDS.lead!];
const MSR_ACCESS = MSR_WORDS.choice!;

/** `exceptions #PF, #UD, 13`: the exception bitmap (a vector's bit set makes it exit). */
export const exceptionsStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["exceptions"],
  lower(ctx, vmcs, statement) {
    if (statement.items.length === 0) ctx.missing(statement);
    for (const item of statement.items) {
      const vector = exceptionVector(ctx, item, "exceptions", 31);
      if (vector === undefined) continue;
      vmcs.exceptionBitmap = (vmcs.exceptionBitmap | (1 << vector)) >>> 0;
      vmcs.exceptionSpans.set(vector, item);
    }
    ctx.setField(vmcs, "EXCEPTION_BITMAP", BigInt(vmcs.exceptionBitmap), statement);
  },
};

/** The lead word (`["trap"]`) of `io trap …` / `msr trap …`: whether it is there (diagnosed if not). */
function leadWord(
  ctx: LowerContext,
  statement: Statement,
  lead: readonly string[],
  missing: string,
): boolean {
  return (
    choice(ctx, statement.items[0], lead, statement.keyword, keywordSpanOf(statement), { missing }) !==
    undefined
  );
}

/** `io trap 0x3f8..0x3ff, 0x60`: ports whose bits are set in the I/O bitmaps. */
export const ioStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["io"],
  lower(ctx, vmcs, statement) {
    if (!leadWord(ctx, statement, IO_LEAD, "`trap` and ports")) return;
    const items = statement.items;
    if (items.length === 1) ctx.missing(statement, "ports after `io trap`");
    for (let i = 1; i < items.length; i++) {
      const item = items[i]!;
      const range = portRange(ctx, item, "io trap");
      if (range !== undefined) vmcs.ioTraps.push({ first: range[0], last: range[1], span: item });
    }
  },
};

/** `msr trap read|write|rw MSR, …`: MSRs whose read and/or write bits are set in the MSR bitmaps. */
export const msrStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["msr"],
  lower(ctx, vmcs, statement) {
    if (!leadWord(ctx, statement, MSR_LEAD, "`trap read|write|rw` and MSRs")) return;
    const items = statement.items;
    const trap = items[0]!;
    const mode = choice(ctx, items[1], MSR_ACCESS, "msr trap", trap, { unknown: "MSR access" });
    if (mode === undefined) return;
    const modeItem = items[1]!;
    const read = mode !== "write";
    const write = mode !== "read";
    if (items.length === 2) ctx.error("TL201", `expected MSRs after \`msr trap ${mode}\``, modeItem);
    for (let i = 2; i < items.length; i++) {
      const item = items[i]!;
      const msr = msrIndex(ctx, item, `msr trap ${mode}`);
      if (msr === undefined) continue;
      if (msrBitmapBit(msr.index, "read") === undefined) {
        ctx.report(
          "warning",
          "TL210",
          `MSR 0x${msr.index.toString(16)} is outside the ranges the MSR bitmap covers (${msrBitmapRangesText(", ")}): RDMSR/WRMSR of it always exit`,
          item,
          { reference: "SDM Vol. 3C §25.6.9 (MSR-Bitmap Address); L-kvmvmx.h MSR bitmap layout" },
        );
      }
      vmcs.msrTraps.push({ msr: msr.index, read, write, span: item });
    }
  },
};

/** `cr3_targets V, …`: CR3-target values (the first four are VMCS fields) and their count. */
export const cr3TargetsStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["cr3_targets"],
  lower(ctx, vmcs, statement) {
    for (const item of statement.items) {
      const value = u64(ctx, item, "a CR3 value", "cr3_targets", keywordSpanOf(statement));
      if (value !== undefined) {
        const index = vmcs.cr3Targets.length;
        vmcs.cr3Targets.push({ value, span: item });
        if (index < 4) ctx.setField(vmcs, `CR3_TARGET_VALUE${index}`, value, item);
      }
    }
    ctx.setField(vmcs, "CR3_TARGET_COUNT", BigInt(vmcs.cr3Targets.length), statement);
  },
};
