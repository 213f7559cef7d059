/**
 * Guest-visible state (docs/language.md "CPUID", "Single-step"):
 * - `cpuid hide F…` (vmcs): the CPU features the guest's CPUID does not show (vmx/cpuid.ts);
 * - `pool P…` (target): the CPUs a guest may migrate between, checked against every vmcs's CPUID;
 * - `uses F` (guest op): an instruction of CPU feature F;
 * - `single_step { OPS }` (guest op): OPS run with RFLAGS.TF = 1, lowered to `repeat 1` marked
 *   `singleStep` so every walker of the operations handles it unchanged.
 */
import type { BlockEntry, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { cpuFeatureByName, cpuFeatureNames } from "../../vmx/cpuid";
import { PROFILES, profileByName } from "../../vmx/profiles";
import { type LowerContext, spanOf } from "../context";
import type { GuestIR, GuestOp, TargetIR, VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

/** `cpuid hide F…`: statements accumulate; an unknown feature is TL114 with a did-you-mean. */
export const cpuidStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["cpuid"],
  lower(ctx, vmcs, statement) {
    const [first, ...names] = statement.items;
    if (first === undefined) {
      ctx.error("TL201", "expected `hide` and CPU feature names after `cpuid`", keywordSpanOf(statement));
      return;
    }
    if (first.kind !== "Ident" || first.name !== "hide") {
      ctx.wrongItem(first, "`hide` (`cpuid hide avx512f`)", "cpuid");
      return;
    }
    if (names.length === 0) ctx.error("TL201", "expected CPU feature names after `cpuid hide`", first);
    vmcs.cpuid ??= { hidden: new Map(), span: spanOf(statement) };
    for (const item of names) {
      if (item.kind !== "Ident") {
        ctx.wrongItem(item, "a CPU feature name", "cpuid hide");
        continue;
      }
      const feature = cpuFeatureByName(item.name);
      if (feature === undefined) {
        ctx.unknown("TL114", "CPU feature", item, cpuFeatureNames());
        continue;
      }
      if (!vmcs.cpuid.hidden.has(feature.name)) vmcs.cpuid.hidden.set(feature.name, spanOf(item));
    }
  },
};

/** `pool P…`: CPU profile names (TL102 for an unknown one); statements accumulate. */
export const poolStatement: StatementLowerer<TargetIR, void> = {
  keywords: ["pool"],
  lower(ctx, target, statement) {
    if (statement.items.length === 0) {
      ctx.error("TL201", "expected CPU profile names after `pool`", keywordSpanOf(statement));
      return;
    }
    target.pool ??= { members: [], span: spanOf(statement) };
    for (const item of statement.items) {
      if (item.kind !== "Ident") {
        ctx.wrongItem(item, "a CPU profile name", "pool");
        continue;
      }
      const profile = profileByName(item.name);
      if (profile === undefined) {
        ctx.unknown(
          "TL102",
          "CPU profile",
          item,
          PROFILES.map((p) => p.name),
        );
        continue;
      }
      if (!target.pool.members.some((m) => m.profile === profile.name))
        target.pool.members.push({ profile: profile.name, span: spanOf(item) });
    }
  },
};

type GuestOpsOf = (ctx: LowerContext, entries: readonly BlockEntry[], guest: GuestIR) => GuestOp[];

/** `uses F` and `single_step { OPS }`; `lowerOps` lowers a body (guestOps.ts). */
export function guestStateOps(lowerOps: GuestOpsOf): StatementLowerer<GuestIR, GuestOp | undefined>[] {
  return [
    {
      keywords: ["uses"],
      lower(ctx, _guest, statement: Statement) {
        const item = statement.items[0];
        if (item === undefined) {
          ctx.error("TL201", "expected a CPU feature name after `uses`", keywordSpanOf(statement));
          return undefined;
        }
        if (item.kind !== "Ident") {
          ctx.wrongItem(item, "a CPU feature name", "uses");
          return undefined;
        }
        const feature = cpuFeatureByName(item.name);
        if (feature === undefined) {
          ctx.unknown("TL114", "CPU feature", item, cpuFeatureNames());
          return undefined;
        }
        return { op: "uses", feature: feature.name, span: spanOf(statement) };
      },
    },
    {
      keywords: ["single_step"],
      lower: (ctx, guest, statement) => ({
        op: "repeat",
        count: 1,
        ops: lowerOps(ctx, statement.body?.entries ?? [], guest),
        span: spanOf(statement),
        singleStep: true,
      }),
    },
  ];
}
