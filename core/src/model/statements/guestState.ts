/**
 * Guest-visible state (docs/language.md "CPUID", "Single-step"):
 * - `tsc offset N scale R` (vmcs): TSC_OFFSET (signed ticks) and TSC_MULTIPLIER (R in 16.48);
 * - `cpuid hide F…`, `cpuid leaf N [subleaf S] REG mask M` (vmcs): the CPU features the guest's CPUID does not show (vmx/cpuid.ts);
 * - `pool P…` (target): the CPUs a guest may migrate between, checked against every vmcs's CPUID;
 * - `uses F` (guest op): an instruction of CPU feature F;
 * - `single_step { OPS }` (guest op): OPS run with RFLAGS.TF = 1, lowered to `repeat 1` marked
 *   `singleStep` so every walker of the operations handles it unchanged.
 */
import type { BlockEntry, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords } from "../../lang/grammar";
import {
  CPU_FEATURES,
  CPUID_REGISTER_MAX,
  type CpuidRegister,
  cpuFeatureByName,
  cpuFeatureNames,
} from "../../vmx/cpuid";
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

const CPUID_REGISTERS = argumentWords("vmcs", "cpuid").flags! as readonly CpuidRegister[];
/** A CPUID leaf, sub-leaf or register mask: 32 bits. */
const MAX_LEAF = CPUID_REGISTER_MAX;

/**
 * `cpuid hide F…` | `cpuid leaf N [subleaf S] REGISTER mask M`: statements accumulate. A name
 * not in the table is TL114 with a did-you-mean; a mask keeps the bits set in M (what KVM's
 * `kvm_cpu_cap_mask` does with its masks) and hides the table's features of that leaf, sub-leaf
 * and register whose bit is 0 (bits outside the table are not modelled).
 */
export const cpuidStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["cpuid"],
  lower(ctx, vmcs, statement) {
    const [first, ...rest] = statement.items;
    if (first === undefined) {
      ctx.error(
        "TL201",
        "expected `hide` and CPU feature names, or `leaf N … mask M`, after `cpuid`",
        keywordSpanOf(statement),
      );
      return;
    }
    if (first.kind === "Ident" && first.name === "leaf") {
      cpuidMask(ctx, vmcs, statement);
      return;
    }
    if (first.kind !== "Ident" || first.name !== "hide") {
      ctx.wrongItem(first, "`hide` (`cpuid hide avx512f`) or `leaf`", "cpuid");
      return;
    }
    if (rest.length === 0) ctx.error("TL201", "expected CPU feature names after `cpuid hide`", first);
    const cpuid = cpuidOf(vmcs, statement);
    cpuid.hideSpan ??= spanOf(statement);
    for (const item of rest) {
      if (item.kind !== "Ident") {
        ctx.wrongItem(item, "a CPU feature name", "cpuid hide");
        continue;
      }
      const feature = cpuFeatureByName(item.name);
      if (feature === undefined) {
        ctx.unknown("TL114", "CPU feature", item, cpuFeatureNames());
        continue;
      }
      if (!cpuid.hidden.has(feature.name) || cpuid.masked.has(feature.name)) {
        cpuid.hidden.set(feature.name, spanOf(item));
        cpuid.masked.delete(feature.name);
      }
    }
  },
};

function cpuidOf(vmcs: VmcsIR, statement: Statement): NonNullable<VmcsIR["cpuid"]> {
  vmcs.cpuid ??= { hidden: new Map(), masked: new Set(), span: spanOf(statement) };
  return vmcs.cpuid;
}

/** `cpuid leaf N [subleaf S] REGISTER mask M`. */
function cpuidMask(ctx: LowerContext, vmcs: VmcsIR, statement: Statement): void {
  const items = statement.items;
  const at = keywordSpanOf(statement);
  const leaf = integer(ctx, items[1], "a CPUID leaf number", "leaf", items[0]!, 0, MAX_LEAF);
  if (leaf === undefined) return;
  let i = 2;
  let subleaf = 0;
  const next = items[i];
  if (next?.kind === "Ident" && next.name === "subleaf") {
    const s = integer(ctx, items[i + 1], "a CPUID sub-leaf number", "subleaf", next, 0, MAX_LEAF);
    if (s === undefined) return;
    subleaf = s;
    i += 2;
  }
  const register = items[i];
  if (register?.kind !== "Ident" || !(CPUID_REGISTERS as readonly string[]).includes(register.name)) {
    if (register === undefined)
      ctx.error(
        "TL201",
        "expected a register (`eax`, `ebx`, `ecx` or `edx`) and `mask M`",
        items[i - 1] ?? at,
      );
    else ctx.wrongItem(register, "`eax`, `ebx`, `ecx` or `edx`", `cpuid leaf ${leaf}`);
    return;
  }
  const maskWord = items[i + 1];
  if (maskWord?.kind !== "Ident" || maskWord.name !== "mask") {
    if (maskWord === undefined)
      ctx.error("TL201", `expected \`mask M\` after \`${register.name}\``, register);
    else ctx.wrongItem(maskWord, "`mask M`", register.name);
    return;
  }
  const mask = integer(ctx, items[i + 2], "a 32-bit mask (the bits kept)", "mask", maskWord, 0, MAX_LEAF);
  if (mask === undefined) return;
  if (items.length > i + 3) ctx.error("TL011", "unexpected item after the mask", items[i + 3]!);
  const cpuid = cpuidOf(vmcs, statement);
  const span = spanOf(items[i + 2]!);
  for (const f of CPU_FEATURES) {
    if (f.leaf !== leaf || f.subleaf !== subleaf || f.register !== register.name) continue;
    if (((mask >>> f.bit) & 1) === 1 || cpuid.hidden.has(f.name)) continue;
    cpuid.hidden.set(f.name, span);
    cpuid.masked.add(f.name);
  }
}

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
