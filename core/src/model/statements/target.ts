/**
 * `target PROFILE @ FREQ { msr NAME = VALUE; cost NAME = CYCLES; mitigations NAME… }`: the CPU
 * profile (core/src/vmx/profiles.ts), the core frequency times are converted at, the file's
 * overrides of capability MSRs and costs, and the speculative-execution mitigations KVM runs
 * around each transition (core/src/vmx/transitionTerms.ts). Without a `target` line, the
 * default profile, no mitigations.
 */

import type { TargetDecl } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { CAPABILITY_MSR_NAMES } from "../../vmx/capabilities";
import { DEFAULT_PROFILE_NAME, PROFILES, profileByName } from "../../vmx/profiles";
import { MITIGATIONS, mitigationByName } from "../../vmx/transitionTerms";
import type { CostName, CostParam, CpuProfile } from "../../vmx/types";
import { assignment, base, cycles, dimensionOf, u64 } from "../args";
import type { LowerContext } from "../context";
import { spanOf } from "../context";
import type { TargetIR } from "../ir";
import { poolStatement } from "./guestState";
import { HOST_LOWERERS } from "./host";
import { type StatementLowerer, statementTable } from "./table";

const msrOverride: StatementLowerer<TargetIR, void> = {
  keywords: ["msr"],
  lower(ctx, target, statement) {
    const assigned = assignment(ctx, statement, statement.keyword === "msr" ? "VALUE" : "CYCLES");
    if (assigned === undefined) return;
    const { name, value } = assigned;
    const msrName = CAPABILITY_MSR_NAMES.find((n) => n === name.name.toUpperCase());
    if (msrName === undefined) {
      ctx.unknown("TL113", "VMX capability MSR", name, CAPABILITY_MSR_NAMES);
      return;
    }
    const v = u64(ctx, value, "a 64-bit MSR value", name.name, keywordSpanOf(statement));
    if (v !== undefined) target.msrs[msrName] = v;
  },
};

const costOverride: StatementLowerer<TargetIR, void> = {
  keywords: ["cost"],
  lower(ctx, target, statement) {
    const assigned = assignment(ctx, statement, statement.keyword === "msr" ? "VALUE" : "CYCLES");
    if (assigned === undefined) return;
    const { name, value } = assigned;
    if (!(name.name in target.profile.costs)) {
      ctx.unknown("TL113", "cost parameter", name, Object.keys(target.profile.costs));
      return;
    }
    const n = cycles(ctx, value, statement);
    if (n !== undefined) {
      target.costs[name.name as CostName] = {
        cycles: n,
        provenance: "user",
        source: "`target` override in this file",
      };
    }
  },
};

/**
 * `mitigations l1d_flush verw rsb …` (or `none`): the mitigations KVM runs on entry or exit.
 * `l1d_flush` and `l1d_flush_always` are KVM's two flushing modes (vmentry_l1d_flush=cond /
 * always): naming both is TL101. Repeated statements add up.
 */
const mitigationsStatement: StatementLowerer<TargetIR, void> = {
  keywords: ["mitigations"],
  lower(ctx, target, statement) {
    if (statement.items.length === 0) {
      ctx.error("TL201", "expected mitigation names or `none` after `mitigations`", keywordSpanOf(statement));
      return;
    }
    for (const item of statement.items) {
      if (item.kind !== "Ident") {
        ctx.wrongItem(item, "a mitigation name", "mitigations");
        continue;
      }
      if (item.name === "none") continue;
      const def = mitigationByName(item.name);
      if (def === undefined) {
        ctx.unknown(
          "TL114",
          "mitigation",
          item,
          MITIGATIONS.map((m) => m.name),
        );
        continue;
      }
      const flush = (n: string) => n === "l1d_flush" || n === "l1d_flush_always";
      target.mitigations ??= [];
      const chosen = target.mitigations;
      const clash = chosen.find((m) => m !== def.name && flush(m) && flush(def.name));
      if (clash !== undefined) {
        ctx.error(
          "TL101",
          `\`${def.name}\` and \`${clash}\` are two modes of KVM's L1D flush (vmentry_l1d_flush); name one`,
          item,
        );
        continue;
      }
      if (!chosen.includes(def.name)) chosen.push(def.name);
    }
  },
};

const TARGET_LOWERERS = statementTable("target", [
  msrOverride,
  costOverride,
  mitigationsStatement,
  ...HOST_LOWERERS,
  poolStatement,
]);

export function lowerTarget(ctx: LowerContext, decl: TargetDecl | undefined): void {
  const defaultName = ctx.options.defaultTarget ?? DEFAULT_PROFILE_NAME;
  let profile: CpuProfile | undefined;
  if (decl?.profile) {
    profile = profileByName(decl.profile.name);
    if (profile === undefined) {
      ctx.unknown(
        "TL102",
        "CPU profile",
        decl.profile,
        PROFILES.map((p) => p.name),
      );
    }
  }
  profile ??= profileByName(defaultName) ?? profileByName(DEFAULT_PROFILE_NAME) ?? PROFILES[0]!;

  let hz = profile.defaultHz;
  if (decl?.frequency) {
    const f = decl.frequency;
    if (f.kind === "Quantity" && dimensionOf(f) === "frequency") {
      const value = base(f)!;
      if (value < 1e8 || value > 1e10) {
        ctx.error("TL212", `core frequency \`${f.text}\` is outside 100MHz–10GHz`, f);
      } else hz = value;
    } else if (!(f.kind === "Quantity" && dimensionOf(f) === undefined)) {
      ctx.error("TL202", `expected a frequency such as \`2.1GHz\` after \`@\`, found \`${f.text}\``, f);
    }
  }

  const msrs = { ...profile.msrs };
  const costs = { ...profile.costs } as Record<CostName, CostParam>;
  const target: TargetIR = { profile, hz, msrs, costs, mitigations: [] };
  ctx.target = target;
  ctx.program.target = target;
  if (decl !== undefined) {
    target.span = spanOf(decl);
    if (decl.profile) target.profileSpan = decl.profile;
  }

  for (const entry of decl?.body?.entries ?? []) {
    if (entry.kind !== "Statement" || !entry.known) continue;
    TARGET_LOWERERS.get(entry.keyword)?.(ctx, target, entry);
  }
}
