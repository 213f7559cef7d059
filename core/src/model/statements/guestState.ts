/**
 * Guest-visible state (docs/language.md "CPUID", "Single-step"):
 * - `tsc offset N scale R` (vmcs): TSC_OFFSET (signed ticks) and TSC_MULTIPLIER (R in 16.48);
 * - `cpuid hide F…` (vmcs): the CPU features the guest's CPUID does not show (vmx/cpuid.ts);
 * - `pool P…` (target): the CPUs a guest may migrate between, checked against every vmcs's CPUID;
 * - `uses F` (guest op): an instruction of CPU feature F;
 * - `single_step { OPS }` (guest op): OPS run with RFLAGS.TF = 1, lowered to `repeat 1` marked
 *   `singleStep` so every walker of the operations handles it unchanged.
 */
import type { BlockEntry, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords } from "../../lang/grammar";
import { cpuFeatureByName, cpuFeatureNames } from "../../vmx/cpuid";
import { PROFILES, profileByName } from "../../vmx/profiles";
import { TSC_MULTIPLIER_ONE, TSC_REFERENCE } from "../../vmx/tsc";
import { integer, keywordArgs } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { GuestIR, GuestOp, TargetIR, VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

const TSC_WORDS = argumentWords("vmcs", "tsc");
/** Largest ratio the 16.48 multiplier holds (16 integer bits). */
const MAX_SCALE = 65_535;
/** ±2^53 ticks (52 days at 2 GHz): offsets past it do not round-trip through a number. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/**
 * `tsc offset N scale R`: sugar for `field TSC_OFFSET` (N may be negative: the field is two's
 * complement, SDM Vol. 3C §25.6.5) and `field TSC_MULTIPLIER` (R × 2^48 rounded). The controls stay
 * the `proc`/`proc2` lines' (`use_tsc_offsetting`, `use_tsc_scaling`); TL354/TL355 say when they are 0.
 */
export const tscStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["tsc"],
  lower(ctx, vmcs, statement) {
    const args = keywordArgs(ctx, statement, TSC_WORDS.pairs!);
    if (args === undefined) return;
    if (args.size === 0) {
      ctx.error("TL201", "expected `offset N` or `scale R` after `tsc`", keywordSpanOf(statement));
      return;
    }
    const at = keywordSpanOf(statement);
    const offsetItem = args.get("offset");
    if (offsetItem) {
      const offset = integer(ctx, offsetItem, "a TSC offset in ticks", "offset", at, -MAX_OFFSET, MAX_OFFSET);
      if (offset !== undefined)
        ctx.setField(vmcs, "TSC_OFFSET", BigInt.asUintN(64, BigInt(offset)), statement);
    }
    const scaleItem = args.get("scale");
    if (scaleItem) {
      if (scaleItem.kind !== "Number" || !(scaleItem.value > 0) || scaleItem.value > MAX_SCALE) {
        ctx.error(
          scaleItem.kind === "Number" ? "TL205" : "TL201",
          `expected a TSC scale ratio above 0 and at most ${MAX_SCALE} after \`scale\` (the multiplier has 16 integer and 48 fraction bits)`,
          scaleItem,
          { reference: TSC_REFERENCE },
        );
        return;
      }
      const multiplier = BigInt(Math.round(scaleItem.value * Number(TSC_MULTIPLIER_ONE)));
      ctx.setField(vmcs, "TSC_MULTIPLIER", multiplier, statement);
    }
  },
};

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
