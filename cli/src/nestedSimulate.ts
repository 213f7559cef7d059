/**
 * The per-level part of `trapline simulate` for an L2 guest (nested virtualization): exits into
 * L0 per second by cause, host CPU by level, per reason and level — the simulator's counterpart
 * of nestedEstimate.ts's section (the JSON object is the result's `nested`, same field names).
 */
import type { SimulationResult } from "../../core/src/index";
import { formatCores, formatPercent, formatRate } from "../../core/src/util/format";
import { table } from "./format";
import { nestedReasonTable } from "./nestedEstimate";

type Nested = NonNullable<SimulationResult["nested"]>;

export function nestedSimulationText(guest: string, n: Nested, hz: number): string {
  const lines: string[] = [];
  lines.push(
    `nested: L2 ${guest} on vmcs ${n.vmcs12}, L1 ${n.hypervisor} on vmcs ${n.vmcs01} (VMCS shadowing ${n.shadowing ? "on" : "off"})`,
  );
  lines.push(
    table([
      ["exits into L0", formatRate(n.l0ExitsPerSecond), "(all causes)"],
      ["  L2 kept by L0", formatRate(n.l0HandledPerSecond), ""],
      ["  L2 reflected to L1", formatRate(n.reflectedPerSecond - n.synthesizedPerSecond), ""],
      [
        "  L1 trapped instructions",
        formatRate(n.trappedPerSecond),
        "(VMREAD/VMWRITE outside the shadow, INVEPT, VMPTRLD…)",
      ],
      ["  L1 VMRESUMEs", formatRate(n.vmresumesPerSecond), ""],
      ...(n.synthesizedPerSecond > 0
        ? [
            [
              "nested exits at entry",
              formatRate(n.synthesizedPerSecond),
              "(not exits into L0: L0 synthesized them for interrupts that found the vCPU outside L2)",
            ],
          ]
        : []),
      ...(n.wakeExitsPerSecond > 0
        ? [["  L1 idle wake-ups", formatRate(n.wakeExitsPerSecond), "(L1's own HLT, its trapped injection)"]]
        : []),
      ...(n.notifyExitsPerSecond > 0
        ? [["  L1 notifications", formatRate(n.notifyExitsPerSecond), "(ICR writes of interrupts L1 sends)"]]
        : []),
      ["overhead", formatPercent(n.overhead), "(share of L2's busy time spent in L0 and L1)"],
      [
        "host CPU",
        formatCores(n.hostCpu.total),
        `(L2 guest ${formatCores(n.hostCpu.l2)}, L1 ${formatCores(n.hostCpu.l1)}, L0 ${formatCores(n.hostCpu.l0)})`,
      ],
    ]),
  );
  if (n.byReason.length > 0) lines.push("", nestedReasonTable(n.byReason, hz));
  return lines.join("\n");
}
