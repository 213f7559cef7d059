/**
 * Hovers on VT-x things: a control (its SDM entry, support on the target, its effect in the
 * file, for a vmcs12 whether KVM offers it to L1), a vmcs, the target's CPU profile, and the
 * VMCS-field, MSR and exit-reason tables (also shown by completion).
 */
import {
  CONTROL_WORD_FIELD,
  type ControlDef,
  type CpuProfile,
  controlWordCapability,
  type ExitReasonDef,
  type MsrDef,
  NESTED_EMULATED,
  nestedCapabilityMsrs,
  type Program,
  unsetStateNote,
  type VmcsFieldDef,
  type VmcsIR,
} from "../../../core/src/index";
import { formatHex, formatHz, formatInteger, formatRate } from "../../../core/src/util/format";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";
import { opTitle } from "./hoverText";

export function controlHover(model: DocumentModel, vmcs: VmcsIR | undefined, control: ControlDef): string {
  const program = model.analysis.program;
  const lines = [controlDoc(control, program)];
  if (vmcs?.nested) lines.push("", nestedControlNote(program, control));
  if (vmcs) {
    // Its effect here: the guest operations whose decision this control took part in.
    let causes = 0;
    let avoids = 0;
    const causing: string[] = [];
    const avoiding: string[] = [];
    for (const guest of program.guests.values()) {
      if (guest.vmcs !== vmcs.name) continue;
      const estimate = model.analysis.estimates.get(guest.name);
      if (!estimate) continue;
      for (const operation of estimate.operations) {
        if (!operation.decision.controls.includes(control.name)) continue;
        const label = `${codeSpan(opTitle(model.analysis.text, operation.span))} in ${escapeMarkdown(guest.name)}`;
        if (operation.decision.exits.length) {
          causes += operation.exitsPerSecond * guest.vcpus;
          causing.push(`${label} (${formatRate(operation.exitsPerSecond)} per vCPU)`);
        } else {
          avoids++;
          avoiding.push(label);
        }
      }
    }
    if (causing.length || avoiding.length) {
      lines.push("", `**In ${codeSpan(vmcs.name)}:**`);
      if (causing.length)
        lines.push(
          `- decides exits of ${causing.slice(0, 6).join(", ")}${causing.length > 6 ? ", …" : ""} — ${formatRate(causes)} in total`,
        );
      if (avoiding.length)
        lines.push(
          `- keeps ${avoids} operation${avoids === 1 ? "" : "s"} in the guest: ${avoiding.slice(0, 6).join(", ")}${avoiding.length > 6 ? ", …" : ""}`,
        );
    } else lines.push("", `No guest operation in this file depends on it under ${codeSpan(vmcs.name)}.`);
  }
  return lines.join("\n");
}

/** For a control of a vmcs12: whether KVM offers it to L1, and why (nested_vmx_setup_ctls_msrs). */
function nestedControlNote(program: Program, control: ControlDef): string {
  const bit = (msrs: Program["target"]["msrs"]) =>
    ((controlWordCapability(msrs, control.word).mayBeOne >> BigInt(control.bit)) & 1n) === 1n;
  const host = bit(program.target.msrs);
  const l1 = bit(nestedCapabilityMsrs(program.target.msrs));
  const emulated = (NESTED_EMULATED as Partial<Record<string, readonly string[]>>)[control.word]?.includes(
    control.name,
  );
  const why = l1
    ? emulated
      ? "KVM emulates it for L1 on any host"
      : host
        ? "KVM offers it where the host has it"
        : "KVM emulates it for L1 although the host lacks it"
    : host
      ? "the host has it, but KVM does not offer it to L1"
      : "neither the host nor KVM has it";
  return `**vmcs12:** L1 ${l1 ? "may" : "may not"} set it under KVM — ${why} (arch/x86/kvm/vmx/nested.c \`nested_vmx_setup_ctls_msrs\`).`;
}

function controlDoc(control: ControlDef, program: Program): string {
  const lines = [
    `**${control.sdmName}** — \`${control.word}\` bit ${control.bit}${control.linuxMacro ? ` (\`${control.linuxMacro}\`)` : ""}`,
    "",
    control.meaning,
    "",
    `Field: ${CONTROL_WORD_FIELD[control.word]}`,
    "",
    `Source: ${control.source}`,
  ];
  const support = controlSupport(program, control);
  lines.push("", `On **${program.target.profile.name}**: ${support}`);
  return lines.join("\n");
}

/** "supported", "not supported (allowed-1 bit clear in …)", or "fixed to 1". */
export function controlSupport(program: Program, control: ControlDef): string {
  try {
    const capability = controlWordCapability(program.target.msrs, control.word);
    const bit = 1n << BigInt(control.bit);
    if ((capability.mustBeOne & bit) !== 0n)
      return `fixed to 1 (default1; allowed-0 bit set in ${capability.msrName})`;
    if ((capability.mayBeOne & bit) === 0n)
      return `**not supported** (allowed-1 bit ${control.bit} clear in ${capability.msrName})`;
    return `supported (${capability.msrName})`;
  } catch {
    return "unknown";
  }
}

export function isControlSupported(program: Program, control: ControlDef): boolean {
  try {
    const capability = controlWordCapability(program.target.msrs, control.word);
    return (capability.mayBeOne & (1n << BigInt(control.bit))) !== 0n;
  } catch {
    return true;
  }
}

export function vmcsHover(model: DocumentModel, vmcs: VmcsIR): string {
  const words = Object.entries(vmcs.written)
    .map(([word, bits]) => `\`${word}\` ${formatHex(bits as bigint, 8)}`)
    .join(" · ");
  const guests = [...model.analysis.program.guests.values()]
    .filter((g) => g.vmcs === vmcs.name)
    .map((g) => g.name);
  const nested = vmcs.nested
    ? "\n\n**nested** (vmcs12): checked as KVM's nested VM entry checks it, against the VMX capability MSRs L0 exposes to L1 (`nested_vmx_setup_ctls_msrs`), not the hardware's."
    : "";
  return `**vmcs ${escapeMarkdown(vmcs.name)}**${nested}\n\nControls as written: ${words}\n\nGuests: ${guests.length ? guests.map(escapeMarkdown).join(", ") : "none"}`;
}

export function profileHover(profile: CpuProfile, program: Program): string {
  const lines = [
    `**${profile.displayName}** (\`${profile.name}\`, ${profile.year}) @ ${formatHz(program.target.profile === profile ? program.target.hz : profile.defaultHz)}`,
    "",
    profile.notes,
    "",
    `MAXPHYADDR ${profile.maxPhysAddrBits} bits`,
  ];
  const secondary = (profile.msrs.IA32_VMX_PROCBASED_CTLS >> 63n) & 1n;
  const tertiary = (profile.msrs.IA32_VMX_PROCBASED_CTLS >> 49n) & 1n;
  lines.push(
    `· secondary controls ${secondary ? "yes" : "no"} · tertiary controls ${tertiary ? "yes" : "no"} · true controls ${(profile.msrs.IA32_VMX_BASIC >> 55n) & 1n ? "yes" : "no"}`,
    "",
    "| cost | cycles | provenance |",
    "|---|---:|---|",
  );
  const costs = program.target.profile === profile ? program.target.costs : profile.costs;
  for (const [name, cost] of Object.entries(costs))
    lines.push(`| ${name} | ${formatInteger(cost.cycles)} | ${cost.provenance} |`);
  lines.push("", `Source: ${profile.source}`);
  return lines.join("\n");
}

export function fieldHover(field: VmcsFieldDef): string {
  return [
    `**${field.name}** — encoding \`${formatHex(field.encoding, 4)}\`, ${field.width === "natural" ? "natural-width" : `${field.width}-bit`} ${field.type} field${field.readOnly ? ", **read-only**" : ""}${field.high ? " (high 32 bits of a 64-bit field)" : ""}`,
    field.description ? `\n${field.description}` : "",
    unsetStateNote(field) ? `\n${unsetStateNote(field)}` : "",
    `\nSource: ${field.source}`,
  ].join("\n");
}

export function msrHover(msr: MsrDef): string {
  return `**${msr.name}** — MSR \`${formatHex(msr.index)}\`\n\n${msr.description}\n\nSource: ${msr.source}`;
}

export function exitReasonHover(reason: ExitReasonDef): string {
  return `**Exit reason ${reason.code}: ${reason.name}**${reason.aliases?.length ? ` (also ${reason.aliases.join(", ")})` : ""}\n\n${reason.meaning}\n\nSource: ${reason.source}`;
}
