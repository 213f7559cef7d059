/**
 * CPUID as presented (docs/language.md "CPUID"): the features a vmcs's guest is shown (the
 * target CPU's, less `cpuid hide`), and the decision for `uses F`, an instruction of feature F.
 */
import type { Program, VmcsIR } from "../model/ir";
import { CPUID_REFERENCE, cpuFeatureByName, cpuidBitText, profileFeatures } from "../vmx/cpuid";
import { withUd } from "./exitInstructions";
import { type ExitContext, noExit } from "./exitRules";
import type { ExitDecision } from "./types";

/** The features the target CPU has and this vmcs's CPUID shows. */
export function advertisedFeatures(program: Program, vmcs: VmcsIR): Set<string> {
  const out = new Set<string>();
  for (const f of profileFeatures(program.target.profile.name)) if (!vmcs.cpuid?.hidden.has(f)) out.add(f);
  return out;
}

/** Why feature `name` is not usable under this vmcs, or undefined when it is shown. */
export function hiddenBecause(program: Program, vmcs: VmcsIR, name: string): string | undefined {
  const cpu = program.target.profile.name;
  if (!profileFeatures(cpu).has(name)) return `the target CPU (${cpu}) lacks ${name}`;
  if (vmcs.cpuid?.hidden.has(name)) return `vmcs ${vmcs.name} hides ${name} (\`cpuid hide\`)`;
  return undefined;
}

/**
 * `uses F`: shown → runs natively; hidden and F (or the feature owning its XSAVE state) is one a
 * hidden CPUID bit disables → #UD, which exits only through bit 6 of the exception bitmap;
 * hidden but nothing disables it → runs (it #UDs only on a CPU that lacks it).
 */
export function decideUses(name: string, ctx: ExitContext): ExitDecision {
  const feature = cpuFeatureByName(name);
  if (feature === undefined) return noExit(`No CPU feature \`${name}\` is known.`, [], CPUID_REFERENCE);
  const bit = cpuidBitText(feature);
  const why = hiddenBecause(ctx.program, ctx.vmcs, feature.name);
  const ownerWhy = feature.owner ? hiddenBecause(ctx.program, ctx.vmcs, feature.owner) : undefined;
  const lacks = !profileFeatures(ctx.program.target.profile.name).has(feature.name);
  if (lacks || (why !== undefined && feature.whenHidden === "ud") || ownerWhy !== undefined) {
    const cause = lacks
      ? `${why}: the instruction is undefined on it`
      : why !== undefined && feature.whenHidden === "ud"
        ? `${why} (${bit}), and a hidden ${feature.name} cannot be enabled by the guest`
        : `${ownerWhy}, whose XSAVE state ${feature.name}'s instructions need`;
    return withUd(ctx, `The guest's ${feature.name} instruction raises #UD: ${cause}.`, [`cpuid ${bit}`]);
  }
  if (why !== undefined)
    return noExit(
      `The ${feature.name} instruction runs although ${why}: CPUID only advertises it, nothing in VT-x or KVM stops it.`,
      [`cpuid ${bit}`],
      CPUID_REFERENCE,
      "On a CPU that lacks it (a migration target) it raises #UD.",
    );
  return noExit(
    `The ${feature.name} instruction runs natively: vmcs ${ctx.vmcs.name}'s CPUID shows it (${bit}).`,
    [`cpuid ${bit}`],
    CPUID_REFERENCE,
  );
}
