/**
 * Hovers: answered from the cached analysis of the current version through the model's position
 * index (a binary search), never by re-analysing. Words the index does not cover (a keyword, a
 * name in a statement the core could not resolve) fall back to the VT-x tables by name.
 */
import type { Hover } from "vscode-languageserver";
import {
  CONTROL_WORD_FIELD,
  type ControlDef,
  type CpuProfile,
  controlWordCapability,
  EXCEPTIONS,
  type ExitReasonDef,
  exceptionByMnemonic,
  exceptionByVector,
  exitCost,
  exitReasonByCode,
  exitReasonByName,
  type FnIR,
  findControls,
  type GuestIR,
  type GuestOp,
  type HandlerIR,
  type HandlerOp,
  type MsrDef,
  msrByIndex,
  msrByName,
  NESTED_EMULATED,
  nestedCapabilityMsrs,
  nestedOperationHover,
  type OperationEstimate,
  type Program,
  primaryGuest,
  primaryVmcs,
  profileByName,
  type Span,
  transitionBreakdown,
  unsetStateNote,
  type VmcsFieldDef,
  type VmcsIR,
  vcpuMayMigrate,
  vmcsFieldByName,
} from "../../../core/src/index";
import {
  formatCompact,
  formatCores,
  formatCyclesAt,
  formatHex,
  formatHz,
  formatInteger,
  formatNanoseconds,
  formatPercent,
  formatRate,
} from "../../../core/src/util/format";
import { spanToRange } from "../convert";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel, IndexEntry } from "../model";
import { pathHoverAt } from "./hoverPath";
import { handlerMeasuredLines, type MeasuredView, measuredHover } from "./measured";

export function hoverAt(model: DocumentModel, offset: number, measured?: MeasuredView): Hover | null {
  for (const m of measured?.values() ?? []) {
    if (offset < m.ir.span.start || offset > m.ir.span.end) continue;
    return {
      contents: { kind: "markdown", value: measuredHover(m) },
      range: spanToRange(model.analysis.lines, m.ir.span),
    };
  }
  const entry = model.elementAt(offset);
  let markdown = entry ? hoverForEntry(model, entry, offset) : undefined;
  const path = pathHoverAt(model, offset);
  if (path) {
    const word = markdown ? undefined : wordAt(model.analysis.text, offset);
    const rest = markdown ?? (word ? hoverForWord(model, word.text) : undefined);
    const value = rest ? `${path.markdown}\n\n---\n\n${rest}` : path.markdown;
    const range = spanToRange(model.analysis.lines, entry?.span ?? word?.span ?? path.span);
    return { contents: { kind: "markdown", value }, range };
  }

  if (markdown && entry?.kind === "handlerReason") {
    const lines = handlerMeasuredLines(measured, entry.handler.reason.code);
    if (lines.length) markdown = `${markdown}\n\n---\n\n${lines.join("\n\n")}`;
  }
  if (markdown)
    return {
      contents: { kind: "markdown", value: markdown },
      range: spanToRange(model.analysis.lines, entry!.span),
    };
  const word = wordAt(model.analysis.text, offset);
  if (!word) return null;
  const fallback = hoverForWord(model, word.text);
  if (!fallback) return null;
  return {
    contents: { kind: "markdown", value: fallback },
    range: spanToRange(model.analysis.lines, word.span),
  };
}

function hoverForEntry(model: DocumentModel, entry: IndexEntry, offset: number): string | undefined {
  const program = model.analysis.program;
  switch (entry.kind) {
    case "guestOp": {
      const estimate = model.operationAt(entry.guest, entry.op.span.start);
      // On the operand of an MSR access, the MSR itself is the more useful answer.
      const word = wordAt(model.analysis.text, offset);
      if (word && (entry.op.op === "rdmsr" || entry.op.op === "wrmsr") && word.text !== entry.op.op) {
        const msr = msrByIndex(entry.op.msr);
        if (msr) return `${guestOpHover(model, entry.op, estimate, entry.guest)}\n\n---\n\n${msrHover(msr)}`;
      }
      return guestOpHover(model, entry.op, estimate, entry.guest);
    }
    case "control":
      return controlHover(model, entry.vmcs, entry.setting.control);
    case "handlerReason":
      return handlerHover(model, entry.handler);
    case "handlerOp":
      return handlerOpHover(program, entry.op, entry.owner);
    case "target":
      return profileHover(entry.target.profile, program);
    case "vmcsField": {
      const field = entry.vmcs.fields.get(entry.name);
      return field ? `${fieldHover(field.field)}\n\nValue here: \`${formatHex(field.value)}\`` : undefined;
    }
    case "msrTrap": {
      const msr = msrByIndex(entry.trap.msr);
      const access = [entry.trap.read ? "reads" : "", entry.trap.write ? "writes" : ""]
        .filter(Boolean)
        .join(" and ");
      const head = `**MSR bitmap**: ${access} of ${msr ? `\`${msr.name}\`` : formatHex(entry.trap.msr)} (${formatHex(entry.trap.msr)}) exit`;
      const note = entry.vmcs.settings.some((s) => s.control.name === "use_msr_bitmaps")
        ? ""
        : "\n\n⚠ `use_msr_bitmaps` is not set in this vmcs: every RDMSR/WRMSR exits regardless of the bitmap (SDM Vol. 3C §26.1.3).";
      return `${head}${note}${msr ? `\n\n---\n\n${msrHover(msr)}` : ""}`;
    }
    case "ioTrap": {
      const { first, last } = entry.ports;
      const count = last - first + 1;
      return `**I/O bitmap**: ports ${formatHex(first)}..${formatHex(last)} (${count} port${count === 1 ? "" : "s"}) exit with IO_INSTRUCTION (30) when \`use_io_bitmaps\` is set; ports 0x0000–0x7fff are in bitmap A, 0x8000–0xffff in bitmap B (SDM Vol. 3C §26.1.3).`;
    }
    case "exceptionBit": {
      const exception = exceptionByVector(entry.vector);
      return `**Exception bitmap bit ${entry.vector}**${exception ? `: ${exception.mnemonic} ${exception.name}` : ""} — the exception exits with EXCEPTION_NMI (0) instead of being delivered through the guest IDT${entry.vector === 14 ? ", subject to the page-fault error-code mask/match" : ""} (SDM Vol. 3C §26.2).`;
    }
    case "vmcsName":
      return vmcsHover(model, entry.vmcs);
    case "vmcsRef": {
      const vmcs = program.vmcs.get(entry.name);
      return vmcs ? vmcsHover(model, vmcs) : undefined;
    }
    case "guestName":
      return guestHover(model, entry.guest.name);
    case "guestRef":
      return guestHover(model, entry.name);
    case "fnName":
      return fnHover(program, entry.fn);
    case "fnRef": {
      const fn = program.fns.get(entry.name);
      return fn ? fnHover(program, fn) : undefined;
    }
  }
}

function guestOpHover(
  model: DocumentModel,
  op: GuestOp,
  estimate: OperationEstimate | undefined,
  guest: GuestIR,
): string {
  const lines: string[] = [];
  const name = opTitle(model.analysis.text, op.span);
  if (!estimate) {
    lines.push(codeSpan(name), "", "No estimate: the guest or its vmcs has errors.");
    return lines.join("\n");
  }
  const { decision } = estimate;
  const hz = model.analysis.program.target.hz;
  if (decision.exits.length === 0) {
    lines.push(`${codeSpan(name)} — **does not exit**`);
  } else {
    const reasons = decision.exits
      .map(
        (effect) =>
          `${effect.reason.name} (${effect.reason.code})${effect.perExecution === 1 ? "" : ` × ${formatCompact(effect.perExecution)} per execution`}`,
      )
      .join(", ");
    lines.push(`${codeSpan(name)} — **exits**: ${reasons}`);
  }
  lines.push("", `${decision.rule}${decision.detail ? ` ${decision.detail}` : ""}`);
  if (decision.controls.length)
    lines.push("", `Controls: ${decision.controls.map((c) => `\`${c}\``).join(", ")}`);
  lines.push("", `Source: ${decision.reference}`);
  if (decision.exits.length) {
    lines.push("", "| per exit | cycles |", "|---|---:|");
    for (const effect of decision.exits) {
      const program = model.analysis.program;
      const breakdown = reasonBreakdown(program, effect.reason.code, program.vmcs.get(guest.vmcs), guest);
      if (decision.exits.length > 1) lines.push(`| **${effect.reason.name}** | |`);
      if (!breakdown.handled) lines.push(`| _no handler for ${effect.reason.name}: default estimate_ | |`);
      lines.push(
        `| transition (VM exit + entry) | ${formatInteger(breakdown.transition)} |`,
        ...transitionRows(breakdown.transitionRows),
        `| handler | ${formatInteger(breakdown.handler)} |`,
        `| user space | ${formatInteger(breakdown.userspace)} |`,
        `| **total** | **${formatCyclesAt(breakdown.total, hz)}** |`,
      );
    }
    lines.push(
      "",
      `**${formatRate(estimate.exitsPerSecond)}** per vCPU · ${formatPercent(estimate.vcpuShare)} of a vCPU · ${formatPercent(estimate.hostShare)} of a host core`,
    );
  }
  // An L2 guest's operation: which level handles each exit (nested virtualization).
  lines.push(...(nestedOperationHover(model.analysis.program, op.span) ?? []));
  return lines.join("\n");
}

/** Cycles of one exit of a reason under a vmcs: the core's exit cost (branches weighted). */
function reasonBreakdown(
  program: Program,
  code: number,
  vmcs: VmcsIR | undefined,
  guest: GuestIR | undefined,
): {
  transition: number;
  transitionRows: { label: string; cycles: number }[];
  handler: number;
  userspace: number;
  total: number;
  handled: boolean;
} {
  const cost = exitCost(program, vmcs, code, vcpuMayMigrate(guest));
  return {
    transition: cost.transition,
    transitionRows: transitionBreakdown(cost.transitionDetail),
    handler: cost.handler,
    userspace: cost.userspace,
    total: cost.total,
    handled: cost.handled,
  };
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

/** The transition's terms as indented table rows (only when there is more than the round trip). */
function transitionRows(rows: { label: string; cycles: number }[]): string[] {
  if (rows.length <= 1) return [];
  return rows.map((r) => `| &nbsp;&nbsp;${escapeMarkdown(r.label)} | ${formatInteger(r.cycles)} |`);
}

function controlHover(model: DocumentModel, vmcs: VmcsIR | undefined, control: ControlDef): string {
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

function handlerHover(model: DocumentModel, handler: HandlerIR): string {
  const program = model.analysis.program;
  const reason = handler.reason;
  const vmcs = primaryVmcs(program);
  const cost = exitCost(program, vmcs, reason.code, vcpuMayMigrate(primaryGuest(program)));
  const hz = program.target.hz;
  const lines = [
    `**handler ${reason.name}** (exit reason ${reason.code})`,
    "",
    reason.meaning,
    "",
    "| per exit | cycles |",
    "|---|---:|",
    `| transition (VM exit + entry${vmcs && program.vmcs.size > 1 ? `, vmcs ${escapeMarkdown(vmcs.name)}` : ""}) | ${formatInteger(cost.transition)} |`,
    ...transitionRows(transitionBreakdown(cost.transitionDetail)),
    `| handler | ${formatInteger(cost.handler)} |`,
    `| user space | ${formatInteger(cost.userspace)} |`,
    `| **total** | **${formatCyclesAt(cost.total, hz)}** |`,
  ];
  if (cost.arms.length) {
    lines.push("", "Branches (cycles when taken):");
    for (const arm of cost.arms) {
      lines.push(
        `- ${formatPercent(arm.probability)}${arm.label ? ` ${codeSpan(arm.label)}` : ""}: ${formatInteger(arm.cycles)} cycles${arm.userspace ? ` (${formatInteger(arm.userspace)} in user space)` : ""}`,
      );
    }
  } else if (cost.ops.length) {
    lines.push("", "Operations:");
    for (const op of cost.ops) lines.push(`- ${codeSpan(op.label)}: ${formatInteger(op.cycles)} cycles`);
  }
  if (cost.estimate)
    lines.push("", "_Part of this cost is the documented default handler estimate, not a measurement._");
  const served = model.reasonTotals.get(reason.code);
  if (served && served.exitsPerSecond > 0) {
    lines.push(
      "",
      `Serves **${formatRate(served.exitsPerSecond)}** (${served.perGuest.map((g) => `${escapeMarkdown(g.guest)}: ${formatRate(g.estimate.exitsPerSecond)}`).join(", ")}) — ${formatPercent((served.exitsPerSecond * cost.total) / hz)} of a host core`,
    );
  } else lines.push("", "No guest in this file exits with this reason.");
  lines.push("", `Source: ${reason.source}`);
  return lines.join("\n");
}

function handlerOpHover(program: Program, op: HandlerOp, owner: HandlerIR | FnIR): string | undefined {
  const costs = program.target.costs;
  const hz = program.target.hz;
  const where = "reason" in owner ? `handler ${owner.reason.name}` : `fn ${escapeMarkdown(owner.name)}`;
  // A source that already says what it is ("estimate: …", "estimate from …") is not prefixed again.
  const costLine = (name: keyof typeof costs) => {
    const { cycles, provenance, source } = costs[name];
    return `${formatCyclesAt(cycles, hz)} — ${source.startsWith(provenance) ? source : `${provenance}: ${source}`}`;
  };
  switch (op.op) {
    case "vmread":
    case "vmwrite": {
      const head = `**${op.op.toUpperCase()}** \`${op.field.name}\` in ${where}: ${costLine(op.op)}`;
      return `${head}\n\n---\n\n${fieldHover(op.field)}`;
    }
    case "work":
      return `**work**: ${formatCyclesAt(op.cycles, hz)} of hypervisor work (as written)`;
    case "userspace":
      return `**userspace**: exit to the user-space VMM and back, ${costLine("userspace_round_trip")}; plus ${formatCyclesAt(op.cycles, hz)} there`;
    case "decode":
      return `**decode**: fetch and decode the guest instruction (KVM's emulator front end), ${costLine("decode")}`;
    case "advance_rip":
      return `**advance_rip**: read VM_EXIT_INSTRUCTION_LEN, write GUEST_RIP (KVM skip_emulated_instruction), ${costLine("advance_rip")}`;
    case "invept":
    case "invvpid":
      return `**${op.op.toUpperCase()}**: ${costLine(op.op)}`;
    case "halt":
      return `**halt**: block the vCPU until its next event (KVM kvm_emulate_halt → kvm_vcpu_halt); waking costs ${costLine("halt_wake")}`;
    case "kick":
      return `**kick**: IPI to another vCPU (kvm_vcpu_kick), ${costLine("ipi")}`;
    case "vmptrld":
    case "vmclear":
      return `**${op.op.toUpperCase()}** in ${where}: ${costLine("vmptrld")} (in a \`hypervisor\` handler: L1's instruction, an exit to L0)`;
    case "vmresume":
    case "vmlaunch":
      return `**${op.op.toUpperCase()}** in ${where}: the VM entry (in a \`hypervisor\` handler: L1's nested VM entry, emulated by L0's nested_vmx_run)`;
    case "inject": {
      const exception = exceptionByVector(op.vector);
      return `**inject** vector ${op.vector}${exception ? ` (${exception.mnemonic})` : ""}: VM-entry interruption information (VM_ENTRY_INTR_INFO_FIELD 0x4016), ${costLine("inject")}`;
    }
    case "call": {
      const fn = program.fns.get(op.fn);
      return fn ? fnHover(program, fn) : `**call ${escapeMarkdown(op.fn)}**: no such fn`;
    }
    case "branch":
      return `**branch**: ${op.arms.map((arm) => `${formatPercent(arm.probability)}${arm.label ? ` ${escapeMarkdown(arm.label)}` : ""}`).join(", ")}`;
    case "repeat":
      return `**repeat** ${op.count} times`;
  }
}

function fnHover(program: Program, fn: FnIR): string {
  const costs = program.target.costs;
  let cycles = 0;
  let known = true;
  const sum = (ops: HandlerOp[], weight: number) => {
    for (const op of ops) {
      switch (op.op) {
        case "vmread":
        case "vmwrite":
        case "decode":
        case "advance_rip":
        case "invept":
        case "invvpid":
        case "inject":
          cycles += weight * costs[op.op].cycles;
          break;
        case "kick":
          cycles += weight * costs.ipi.cycles;
          break;
        case "work":
          cycles += weight * op.cycles;
          break;
        case "userspace":
          cycles += weight * (op.cycles + costs.userspace_round_trip.cycles);
          break;
        case "branch":
          for (const arm of op.arms) sum(arm.ops, weight * arm.probability);
          break;
        case "repeat":
          sum(op.ops, weight * op.count);
          break;
        default:
          known = false;
      }
    }
  };
  sum(fn.ops, 1);
  return `**fn ${escapeMarkdown(fn.name)}**: ${fn.ops.length} operation${fn.ops.length === 1 ? "" : "s"}${known ? `, ≈ ${formatCyclesAt(cycles, program.target.hz)} per call (branches weighted)` : ""}`;
}

function vmcsHover(model: DocumentModel, vmcs: VmcsIR): string {
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

function guestHover(model: DocumentModel, name: string): string | undefined {
  const estimate = model.analysis.estimates.get(name);
  const guest = model.analysis.program.guests.get(name);
  if (!estimate || !guest)
    return guest ? `**guest ${escapeMarkdown(name)}** on ${codeSpan(guest.vmcs)}` : undefined;
  const lines = [
    `**guest ${escapeMarkdown(name)}** on ${codeSpan(guest.vmcs)} · ${guest.vcpus} vCPU${guest.vcpus === 1 ? "" : "s"} · ${estimate.target.profile} @ ${formatHz(estimate.target.hz)}`,
    "",
    `Exits: **${formatRate(estimate.exitsPerSecond)}** (all vCPUs) · overhead **${formatPercent(estimate.overhead)}** · host CPU ${formatCores(estimate.hostCpu)} · demand ${formatPercent(estimate.demand)} of a vCPU${estimate.demand > 1 ? " ⚠ saturated" : ""}`,
  ];
  if (estimate.byReason.length) {
    lines.push("", "| reason | exits/s | cycles/exit | share |", "|---|---:|---:|---:|");
    for (const reason of [...estimate.byReason]
      .sort((a, b) => b.exitsPerSecond - a.exitsPerSecond)
      .slice(0, 8)) {
      lines.push(
        `| ${reason.reason} (${reason.code}) | ${formatRate(reason.exitsPerSecond)} | ${formatInteger(reason.cyclesPerExit)} | ${formatPercent(reason.share)} |`,
      );
    }
  }
  // The host settings in force and their source (the file's `target` block or KVM's default).
  const host = estimate.host;
  if (host) {
    const s = host.settings;
    const from = (x: { source: string }) => (x.source === "file" ? "file" : "KVM default");
    const poll =
      s.haltPollNs.value > 0
        ? `halt_poll ${formatNanoseconds(s.haltPollNs.value)} grow ${s.haltPollGrow.value} shrink ${s.haltPollShrink.value} (${from(s.haltPollNs)}): ${formatPercent(host.haltPollSuccess)} of blocks polled, ${formatCores(host.pollCpu)} polling`
        : `halt_poll off (${from(s.haltPollNs)})`;
    const ple = `ple_window grow ${s.pleWindowGrow.value} shrink ${s.pleWindowShrink.value} (${from(s.pleWindowGrow)})`;
    const cpus = `${s.pcpus.value > 0 ? `pcpus ${s.pcpus.value}` : "a pCPU per vCPU"}${s.pinned ? ", pinned" : ""} (${s.pcpus.source === "file" ? "file" : "model default"})`;
    lines.push("", `Host: ${poll} · ${ple} · ${cpus}`);
    if (host.saturation)
      lines.push(
        "",
        `⚠ Delivered, not offered: ${host.saturation.note} (offered ${formatRate(host.saturation.offeredExitsPerSecond)} exits, ${formatCores(host.saturation.offeredHostCpu)}).`,
      );
  }
  lines.push("", "_Static estimate from the target's cost parameters._");
  return lines.join("\n");
}

function profileHover(profile: CpuProfile, program: Program): string {
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

/** A hover for a bare word from the VT-x tables. */
function hoverForWord(model: DocumentModel, word: string): string | undefined {
  const program = model.analysis.program;
  const controls = findControls(word);
  if (controls.length) {
    // The word keyword before it on the line decides which word's control is meant.
    const vmcs = [...program.vmcs.values()][0];
    return controls
      .map((control) => controlHover(model, controls.length === 1 ? vmcs : undefined, control))
      .join("\n\n---\n\n");
  }
  const reason = exitReasonByName(word);
  if (reason) {
    const handler = program.handlers.get(reason.code);
    return handler ? handlerHover(model, handler) : exitReasonHover(reason);
  }
  const field = vmcsFieldByName(word);
  if (field) return fieldHover(field);
  const msr = msrByName(word);
  if (msr) return msrHover(msr);
  const exception = exceptionByMnemonic(word);
  if (exception)
    return `**${exception.mnemonic}** vector ${exception.vector}: ${exception.name}${exception.hasErrorCode ? " (pushes an error code)" : ""}\n\nSource: ${exception.source}`;
  const profile = profileByName(word);
  if (profile) return profileHover(profile, program);
  return KEYWORD_DOCS[word];
}

/** One-line documentation of the language's keywords (also used by completion). */
export const KEYWORD_DOCS: Record<string, string> = {
  target: "`target PROFILE [@ FREQ]` — the CPU model: its VMX capability MSRs and costs.",
  vmcs: "`vmcs NAME [nested] { … }` — a VMCS configuration; `nested`: the VMCS an L1 hypervisor writes for its L2 (vmcs12), checked as KVM's nested VM entry checks it, against the capabilities L0 exposes to L1.",
  nested:
    "`vmcs NAME nested { … }` — this VMCS is a vmcs12, the one L1 writes for its L2: checked as KVM checks it on nested VM entry (arch/x86/kvm/vmx/nested.c `nested_vmx_check_controls`, `nested_vmx_check_host_state`, `nested_vmx_check_guest_state`) against L1's VMX capability MSRs as KVM computes them (`nested_vmx_setup_ctls_msrs`), not the hardware's. Unset state fields are assumed valid, as for every vmcs.",
  handler: "`handler REASON { … }` — the hypervisor's handler for one exit reason.",
  fn: "`fn NAME { … }` — reusable handler operations, used with `call NAME`.",
  guest: "`guest NAME on VMCS { … }` — a guest workload under one VMCS configuration.",
  expect: "`expect GUEST { METRIC < VALUE … }` — budgets; a violated budget is a diagnostic.",
  simulate: "`simulate GUEST for TIME [seed N]` — default simulation parameters.",
  pin: "Pin-based VM-execution controls (PIN_BASED_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.1).",
  proc: "Primary processor-based VM-execution controls (CPU_BASED_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2).",
  proc2:
    "Secondary processor-based VM-execution controls (SECONDARY_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2); active only with `activate_secondary_controls`.",
  proc3:
    "Tertiary processor-based VM-execution controls (TERTIARY_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2); active only with `activate_tertiary_controls`.",
  exit: "VM-exit controls (VM_EXIT_CONTROLS, SDM Vol. 3C §25.7.1).",
  entry: "VM-entry controls (VM_ENTRY_CONTROLS, SDM Vol. 3C §25.8.1).",
  exceptions: "Bits set in the exception bitmap (SDM Vol. 3C §25.6.3).",
  io: "`io trap PORTS` — ports set in I/O bitmaps A/B (with `use_io_bitmaps`, SDM Vol. 3C §25.6.4).",
  msr: "`msr trap read|write|rw MSRS` — MSRs set in the MSR bitmap (with `use_msr_bitmaps`, SDM Vol. 3C §25.6.9).",
  ple: "`ple gap N window N` — PAUSE-loop exiting gap and window in TSC cycles (SDM Vol. 3C §25.6.13).",
  ept: "`ept { RANGE PERMS … }` — the guest-physical memory map under EPT.",
  field: "`field NAME = VALUE` — sets any VMCS field by its Linux name.",
  eptp: "`eptp memtype WB|UC levels 4|5 [accessed_dirty]` — EPT pointer properties VM entry checks.",
  preemption_timer:
    "`preemption_timer N` — VMX-preemption timer value in ticks (2^X TSC cycles, X = IA32_VMX_MISC[4:0]).",
  cr3_targets: "`cr3_targets V…` — CR3-target values (count checked against IA32_VMX_MISC[24:16]).",
  tpr_threshold:
    "`tpr_threshold N` — TPR threshold (TPR_THRESHOLD): with `use_tpr_shadow`, lowering VTPR[7:4] below bits 3:0 exits TPR_BELOW_THRESHOLD (SDM Vol. 3C §30.1.2).",
  vtpr: "`vtpr V` — VTPR, byte 80H of the virtual-APIC page, at VM entry (memory, not a VMCS field): rule E10 compares it with the TPR threshold (SDM Vol. 3C §27.2.1.1).",
  posted_interrupt_vector:
    "`posted_interrupt_vector V` — posted-interrupt notification vector (POSTED_INTR_NV, with `process_posted_interrupts`, SDM Vol. 3C §30.6).",
  vcpus: "`vcpus N` — number of vCPUs; rates are per vCPU unless written `per guest`.",
  path: "`path NAME rate R [per vcpu|guest] { OPS }` or `path NAME every T { OPS }` — a guest code path.",
  irq: "`irq NAME vector V rate R [per vcpu|guest] [posted] { OPS }` — a device interrupt source.",
  timer: "`timer periodic F { OPS }` or `timer tickless { OPS }` — the guest's timer tick.",
  idle: "`idle halt|poll|mwait` — what a vCPU does with no work.",
  apic: "`apic x2apic|xapic` — the guest's local-APIC mode.",
  work: "`work COST` — hypervisor work of the given cycles or time.",
  decode: "`decode` — fetch and decode the guest instruction.",
  advance_rip: "`advance_rip` — skip the exiting instruction.",
  userspace: "`userspace COST` — round trip to the user-space VMM plus COST there.",
  halt: "`halt` — block the vCPU until its next event.",
  kick: "`kick` — send an IPI to another vCPU.",
  inject: "`inject VECTOR` — queue an event for the next VM entry.",
  branch: "`branch { P% [LABEL:] OPS … }` — probabilistic paths.",
  repeat: "`repeat N { OPS }` — a bounded loop.",
  call: "`call NAME` — run a `fn`.",
  tsx: "`tsx { OPS }` — a transactional region: an exit inside aborts and re-executes it.",
  coalesce:
    "`coalesce N or T { OPS }` — notification coalescing: OPS run once per N executions on a vCPU, or T after the first still pending, whichever comes first.",
  compute: "`compute COST` — guest work that does not exit.",
};

export function wordAt(text: string, offset: number): { text: string; span: Span } | undefined {
  const isWord = (c: number) =>
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 35; /* # */
  let start = offset;
  while (start > 0 && isWord(text.charCodeAt(start - 1))) start--;
  let end = offset;
  while (end < text.length && isWord(text.charCodeAt(end))) end++;
  if (start === end) return undefined;
  return { text: text.slice(start, end), span: { start, end } };
}

/** The first line of an operation's source text, for labels ("mmio write 0xfebf_0018"). */
export function opTitle(text: string, span: Span): string {
  const source = text.slice(span.start, Math.min(span.end, span.start + 60));
  const line = source.split(/[\r\n{]/, 1)[0]!.trim();
  return line.length ? line : source.trim();
}

/** For code that wants all exceptions (completion). */
export { EXCEPTIONS, exitReasonByCode };
