import { isX2apicMsr, X2APIC_MSR } from "../vmx/apic";
import { EXIT } from "../vmx/exitReasons";
import { msrBitmapRangesText } from "../vmx/msrs";
import { decideTprWrite, decideVirtualEoi } from "./exitApicVirtualization";
import { msrBitmapBit, msrInBitmapRange, vmcsLookup } from "./exitLookup";
import {
  ctl,
  type ExitContext,
  exitsWith,
  hex,
  noExit,
  on,
  SDM_APIC_MSR,
  SDM_COND,
  state,
} from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// MSRs and x2APIC virtualization

export function decideMsr(msr: number, write: boolean, ctx: ExitContext, msrName?: string): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const insn = write ? "WRMSR" : "RDMSR";
  const code = write ? EXIT.MSR_WRITE : EXIT.MSR_READ;
  const label = msrName ? `${msrName} (${hex(msr)})` : hex(msr);
  const controls = state(ctx, c.msrBitmaps);
  if (!on(ctx, c.msrBitmaps))
    return exitsWith(
      code,
      `${insn} ${label} exits: use MSR bitmaps is 0, so every ${insn} exits.`,
      controls,
      SDM_COND,
    );
  if (!msrInBitmapRange(msr))
    return exitsWith(
      code,
      `${insn} ${label} exits: the MSR is outside ${msrBitmapRangesText(" and ")}, which always exit.`,
      controls,
      SDM_COND,
    );
  if (msrBitmapBit(lookup, msr, write))
    return exitsWith(
      code,
      `${insn} ${label} exits: its ${write ? "write" : "read"} bit is set in the MSR bitmap.`,
      controls,
      SDM_COND,
    );
  if (isX2apicMsr(msr)) return decideX2apicPassThrough(msr, write, ctx, label);
  return noExit(
    `${insn} ${label} does not exit: its ${write ? "write" : "read"} bit is clear in the MSR bitmap.`,
    controls,
    SDM_COND,
  );
}

/** An x2APIC MSR access the MSR bitmap lets through (SDM §30.5). */
export function decideX2apicPassThrough(
  msr: number,
  write: boolean,
  ctx: ExitContext,
  label: string,
): ExitDecision {
  const c = ctl();
  const insn = write ? "WRMSR" : "RDMSR";
  const controls = state(ctx, c.msrBitmaps, c.x2apic, c.apicRegs, c.vid);
  const kvm =
    "KVM clears these bitmap bits only with APICv on (vmx_update_msr_bitmap_x2apic: reads of 0x800–0x8ff except TMCCT, writes of TPR, EOI and SELF_IPI).";
  if (!on(ctx, c.x2apic))
    return noExit(
      `${insn} ${label} does not exit: the MSR bitmap lets it through and virtualize x2APIC mode is 0, so it reaches the physical local APIC.`,
      controls,
      SDM_APIC_MSR,
      `The guest touches the host's APIC: trap the MSR (\`msr trap\`) or virtualize it. ${kvm}`,
    );
  if (!write) {
    const virtualized = on(ctx, c.apicRegs) || msr === X2APIC_MSR.TPR;
    return noExit(
      `RDMSR ${label} does not exit: the MSR bitmap lets it through and virtualize x2APIC mode is 1.`,
      controls,
      SDM_APIC_MSR,
      virtualized
        ? "The read is served from the virtual-APIC page (TPR always; other registers with APIC-register virtualization)."
        : "Without APIC-register virtualization only TPR reads are virtualized; this read executes normally on the physical APIC.",
    );
  }
  if (msr === X2APIC_MSR.TPR) return decideTprWrite(ctx, `WRMSR ${label}`, controls, SDM_APIC_MSR);
  if (msr === X2APIC_MSR.EOI && on(ctx, c.vid))
    return decideVirtualEoi(ctx, `WRMSR ${label}`, controls, SDM_APIC_MSR);
  if (msr === X2APIC_MSR.SELF_IPI && on(ctx, c.vid))
    return noExit(
      `WRMSR ${label} does not exit: with virtual-interrupt delivery the self-IPI is virtualized (the vector is set in the virtual IRR).`,
      controls,
      SDM_APIC_MSR,
    );
  if (msr === X2APIC_MSR.ICR && on(ctx, c.ipiVirt))
    return noExit(
      `WRMSR ${label} does not exit: IPI virtualization (tertiary control) sends the IPI through the PID-pointer table.`,
      [...controls, ...state(ctx, c.ipiVirt)],
      SDM_APIC_MSR,
    );
  return noExit(
    `WRMSR ${label} does not exit: the MSR bitmap lets it through and the write is not one virtualize x2APIC mode virtualizes, so it reaches the physical local APIC.`,
    controls,
    SDM_APIC_MSR,
    `Only TPR, and EOI and SELF_IPI with virtual-interrupt delivery, are virtualized. ${kvm}`,
  );
}
