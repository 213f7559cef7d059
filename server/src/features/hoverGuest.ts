/**
 * Hovers on a guest: one of its operations (exits or not, the rule, the controls and reference
 * that decide it, cycles per exit, its rates; for an L2, which level handles each exit) and its
 * name (the estimate's totals, the top reasons, the host settings in force).
 */
import {
  exitCost,
  type GuestIR,
  type GuestOp,
  handlerOf,
  handlerTitle,
  nestedOperationHover,
  type OperationEstimate,
  type Program,
  transitionBreakdown,
  type VmcsIR,
  vcpuMayMigrate,
} from "../../../core/src/index";
import {
  formatCompact,
  formatCores,
  formatCyclesAt,
  formatHz,
  formatInteger,
  formatNanoseconds,
  formatPercent,
  formatRate,
} from "../../../core/src/util/format";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";
import { guestTimeLines } from "./guestTimeHover";
import { opTitle, transitionRows } from "./hoverText";

export function guestOpHover(
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
      const breakdown = reasonBreakdown(
        program,
        effect.reason.code,
        program.vmcs.get(guest.vmcs),
        guest,
        effect.handler,
      );
      if (decision.exits.length > 1) lines.push(`| **${effect.reason.name}** | |`);
      const runs = handlerOf(program, effect.reason.code, effect.handler);
      if (runs)
        lines.push(
          `| _runs the ${escapeMarkdown(handlerTitle(runs))} handler, line ${model.analysis.lines.positionAt(runs.reasonSpan.start).line + 1}_ | |`,
        );
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
  /** The specialised handler that takes the exit (ExitEffect.handler). */
  variant?: number,
): {
  transition: number;
  transitionRows: { label: string; cycles: number }[];
  handler: number;
  userspace: number;
  total: number;
  handled: boolean;
} {
  const cost = exitCost(program, vmcs, code, vcpuMayMigrate(guest), variant);
  return {
    transition: cost.transition,
    transitionRows: transitionBreakdown(cost.transitionDetail),
    handler: cost.handler,
    userspace: cost.userspace,
    total: cost.total,
    handled: cost.handled,
  };
}

export function guestHover(model: DocumentModel, name: string): string | undefined {
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
  lines.push(...guestTimeLines(model, name));
  lines.push("", "_Static estimate from the target's cost parameters._");
  return lines.join("\n");
}
