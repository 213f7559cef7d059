/**
 * The value statements of a `vmcs` block, each sugar for VMCS fields it also records:
 * `pf_error_code mask M match V`, `cr0`/`cr4 mask M [shadow S]`, `ple gap N window N`,
 * `preemption_timer N`, `posted_interrupt_vector V`, `tpr_threshold N`, `vtpr V` (memory, not
 * a field) and `eptp memtype … levels … [accessed_dirty]`.
 */

import type { Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords } from "../../lang/grammar";
import { choice, integer, keywordArgs, u64 } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

const PF_ERROR_CODE_WORDS = argumentWords("vmcs", "pf_error_code");
const CR_WORDS = argumentWords("vmcs", "cr0");
const PLE_WORDS = argumentWords("vmcs", "ple");
const EPTP_WORDS = argumentWords("vmcs", "eptp");
const EPTP_MEMTYPES = EPTP_WORDS.pairValues!.memtype! as readonly ("WB" | "UC")[];

export const pfErrorCodeStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["pf_error_code"],
  lower(ctx, vmcs, statement) {
    const args = keywordArgs(ctx, statement, PF_ERROR_CODE_WORDS.pairs!);
    if (args === undefined) return;
    const at = keywordSpanOf(statement);
    const mask = u64(ctx, args.get("mask") ?? undefined, "a 32-bit mask", "mask", at);
    const match = u64(ctx, args.get("match") ?? undefined, "a 32-bit value", "match", at);
    if (mask === undefined || match === undefined) return;
    if (mask > 0xffffffffn || match > 0xffffffffn) {
      ctx.error("TL205", "the page-fault error-code mask and match are 32-bit fields", statement);
      return;
    }
    vmcs.pfErrorCode = { mask: Number(mask), match: Number(match), span: spanOf(statement) };
    ctx.setField(vmcs, "PAGE_FAULT_ERROR_CODE_MASK", mask, statement);
    ctx.setField(vmcs, "PAGE_FAULT_ERROR_CODE_MATCH", match, statement);
  },
};

/** `cr0 mask M [shadow S]`, `cr4 …`: guest/host mask and read shadow. */
export const crMaskStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["cr0", "cr4"],
  lower(ctx, vmcs, statement) {
    const keyword = statement.keyword as "cr0" | "cr4";
    const args = keywordArgs(ctx, statement, CR_WORDS.pairs!);
    if (args === undefined) return;
    const mask = u64(ctx, args.get("mask") ?? undefined, "a mask", "mask", keywordSpanOf(statement));
    if (mask === undefined) return;
    const shadowItem = args.get("shadow");
    const shadow = shadowItem
      ? u64(ctx, shadowItem, "a read shadow", "shadow", keywordSpanOf(statement))
      : 0n;
    if (shadow === undefined) return;
    vmcs[keyword] = { mask, shadow, span: spanOf(statement) };
    const upper = keyword.toUpperCase();
    ctx.setField(vmcs, `${upper}_GUEST_HOST_MASK`, mask, statement);
    ctx.setField(vmcs, `${upper}_READ_SHADOW`, shadow, statement);
  },
};

/** `ple gap N window N`: PAUSE-loop exiting's gap and window, in TSC cycles. */
export const pleStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["ple"],
  lower(ctx, vmcs, statement) {
    const args = keywordArgs(ctx, statement, PLE_WORDS.pairs!);
    if (args === undefined) return;
    const at = keywordSpanOf(statement);
    const gap = integer(
      ctx,
      args.get("gap") ?? undefined,
      "a PLE gap in TSC cycles",
      "gap",
      at,
      0,
      0xffffffff,
    );
    const window = integer(
      ctx,
      args.get("window") ?? undefined,
      "a PLE window in TSC cycles",
      "window",
      at,
      0,
      0xffffffff,
    );
    if (gap === undefined || window === undefined) return;
    vmcs.ple = { gap, window, span: spanOf(statement) };
    ctx.setField(vmcs, "PLE_GAP", BigInt(gap), statement);
    ctx.setField(vmcs, "PLE_WINDOW", BigInt(window), statement);
  },
};

/**
 * A one-value sugar statement (`preemption_timer N`, `posted_interrupt_vector V`,
 * `tpr_threshold N`): the value, range-checked and also recorded as the VMCS field it sets.
 */
function sugarField(
  ctx: LowerContext,
  vmcs: VmcsIR,
  statement: Statement,
  what: string,
  max: number,
  fieldName: string,
): number | undefined {
  const value = integer(ctx, statement.items[0], what, statement.keyword, keywordSpanOf(statement), 0, max);
  if (value !== undefined) ctx.setField(vmcs, fieldName, BigInt(value), statement);
  return value;
}

export const preemptionTimerStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["preemption_timer"],
  lower(ctx, vmcs, statement) {
    const ticks = sugarField(
      ctx,
      vmcs,
      statement,
      "a timer value in ticks",
      0xffffffff,
      "VMX_PREEMPTION_TIMER_VALUE",
    );
    if (ticks !== undefined) vmcs.preemptionTimer = { ticks, span: spanOf(statement) };
  },
};

export const postedInterruptVectorStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["posted_interrupt_vector"],
  lower(ctx, vmcs, statement) {
    const vector = sugarField(ctx, vmcs, statement, "a vector", 255, "POSTED_INTR_NV");
    if (vector !== undefined) vmcs.postedInterruptVector = { vector, span: spanOf(statement) };
  },
};

export const tprThresholdStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["tpr_threshold"],
  lower(ctx, vmcs, statement) {
    const value = sugarField(ctx, vmcs, statement, "a TPR threshold", 0xffffffff, "TPR_THRESHOLD");
    if (value !== undefined) vmcs.tprThreshold = { value, span: spanOf(statement) };
  },
};

/** `vtpr V`: byte 80H of the virtual-APIC page at VM entry (memory, so no field is recorded). */
export const vtprStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["vtpr"],
  lower(ctx, vmcs, statement) {
    const value = integer(ctx, statement.items[0], "a VTPR value", "vtpr", keywordSpanOf(statement), 0, 255);
    if (value !== undefined) vmcs.vtpr = { value, span: spanOf(statement) };
  },
};

/** `eptp memtype WB|UC levels 4|5 [accessed_dirty]`: the EPT pointer's memory type, depth and A/D flag. */
export const eptpStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["eptp"],
  lower(ctx, vmcs, statement) {
    const args = keywordArgs(ctx, statement, EPTP_WORDS.pairs!, EPTP_WORDS.flags!);
    if (args === undefined) return;
    const memtypeItem = args.get("memtype");
    const levelsItem = args.get("levels");
    let memtype: "WB" | "UC" = "WB";
    let levels: 4 | 5 = 4;
    if (memtypeItem) {
      const word = choice(ctx, memtypeItem, EPTP_MEMTYPES, "memtype", memtypeItem, {
        unknown: "EPT memory type",
      });
      if (word === undefined) return;
      memtype = word;
    }
    if (levelsItem) {
      if (levelsItem.kind === "Number" && (levelsItem.value === 4 || levelsItem.value === 5)) {
        levels = levelsItem.value;
      } else {
        ctx.wrongItem(levelsItem, "`4` or `5`", "levels");
        return;
      }
    }
    vmcs.eptp = { memtype, levels, accessedDirty: args.has("accessed_dirty"), span: spanOf(statement) };
  },
};
