/**
 * `field NAME = VALUE` in a `vmcs` block: a VMCS field by its name (core/src/vmx/vmcsFields.ts),
 * checked for writability and width. A field that a sugar statement also sets is in force like
 * that statement.
 */

import { keywordSpanOf } from "../../lang/ast";
import { VMCS_READ_ONLY_REFERENCE, vmcsFieldByName, vmcsFieldNames } from "../../vmx/vmcsFields";
import { assignment, u64 } from "../args";
import { itemText, spanOf } from "../context";
import type { VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

export const fieldStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["field"],
  lower(ctx, vmcs, statement) {
    const assigned = assignment(ctx, statement, "VALUE");
    if (assigned === undefined) return;
    const { name, value } = assigned;
    const field = vmcsFieldByName(name.name);
    if (field === undefined) {
      ctx.unknown("TL106", "VMCS field", name, vmcsFieldNames());
      return;
    }
    if (field.readOnly) {
      ctx.error(
        "TL203",
        `\`${field.name}\` is a read-only VM-exit information field; a hypervisor cannot set it`,
        name,
        { reference: VMCS_READ_ONLY_REFERENCE },
      );
      return;
    }
    const v = u64(ctx, value, "a value", "=", keywordSpanOf(statement));
    if (v === undefined) return;
    const bits = field.width === "16" ? 16n : field.width === "32" ? 32n : 64n;
    if (v >> bits !== 0n) {
      ctx.error(
        "TL205",
        `\`${field.name}\` is a ${field.width}-bit field; ${itemText(value)} does not fit`,
        value,
      );
      return;
    }
    vmcs.fields.set(field.name, { field, value: v, span: spanOf(statement) });
    // Raw fields a sugar statement also sets are in force like it. The exception bitmap is ORed
    // with the `exceptions` statement (as raw control words are with their named controls);
    // the scalar ones take the value of the last statement that sets them.
    switch (field.name) {
      case "EXCEPTION_BITMAP":
        vmcs.exceptionBitmap = (vmcs.exceptionBitmap | Number(v)) >>> 0;
        vmcs.fields.set(field.name, { field, value: BigInt(vmcs.exceptionBitmap), span: spanOf(statement) });
        break;
      case "VMX_PREEMPTION_TIMER_VALUE":
        vmcs.preemptionTimer = { ticks: Number(v), span: spanOf(statement) };
        break;
      case "POSTED_INTR_NV":
        vmcs.postedInterruptVector = { vector: Number(v), span: spanOf(statement) };
        break;
      case "TPR_THRESHOLD":
        vmcs.tprThreshold = { value: Number(v), span: spanOf(statement) };
        break;
    }
  },
};
