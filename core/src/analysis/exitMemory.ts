import {
  APIC_READ_VIRTUALIZED,
  APIC_WRITE_VIRTUALIZED,
  apicRegisterOffset,
  X2APIC_MSR,
  XAPIC_BASE,
  XAPIC_OFFSET,
} from "../vmx/apic";
import { EXIT } from "../vmx/exitReasons";
import { decideTprWrite, decideVirtualEoi } from "./exitApicVirtualization";
import { eptRegionAt, vmcsLookup } from "./exitLookup";
import { decideMsr } from "./exitMsr";
import {
  ctl,
  type ExitContext,
  exitsWith,
  hex,
  noExit,
  on,
  SDM_APIC_MMIO,
  SDM_EPT,
  state,
} from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// Memory: EPT and the APIC-access page

export function decideMemory(
  gpa: bigint,
  access: "read" | "write" | "exec",
  ctx: ExitContext,
  isMmio: boolean,
): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  const what = `${isMmio ? "MMIO " : ""}${access} of ${hex(gpa)}`;
  const region = eptRegionAt(lookup, gpa);
  if (region?.perms.kind === "apic") return decideApicPage(gpa, access, ctx, what, on(ctx, c.ept));
  if (!on(ctx, c.ept))
    return noExit(
      `The ${what} does not exit through EPT: enable EPT is 0.`,
      state(ctx, c.ept),
      SDM_EPT,
      "Without EPT the hypervisor uses shadow paging, whose page-fault exits are out of this model's scope.",
    );
  const controls = state(ctx, c.ept);
  if (!region)
    return exitsWith(
      EXIT.EPT_VIOLATION,
      `The ${what} exits with EPT_VIOLATION: no EPT mapping covers the address.`,
      controls,
      SDM_EPT,
    );
  const perms = region.perms;
  switch (perms.kind) {
    case "misconfig":
      return exitsWith(
        EXIT.EPT_MISCONFIG,
        `The ${what} exits with EPT_MISCONFIG: the EPT entry is misconfigured (KVM's emulated-MMIO marker).`,
        controls,
        `${SDM_EPT}; KVM handle_ept_misconfig (arch/x86/kvm/vmx/vmx.c)`,
      );
    case "none":
      return exitsWith(
        EXIT.EPT_VIOLATION,
        `The ${what} exits with EPT_VIOLATION: the EPT entry grants no access.`,
        controls,
        SDM_EPT,
      );
    case "rwx": {
      const allowed = access === "read" ? perms.read : access === "write" ? perms.write : perms.execute;
      return allowed
        ? noExit(`The ${what} does not exit: the EPT entry allows ${access}.`, controls, SDM_EPT)
        : exitsWith(
            EXIT.EPT_VIOLATION,
            `The ${what} exits with EPT_VIOLATION: the EPT entry does not allow ${access}.`,
            controls,
            SDM_EPT,
          );
    }
  }
  return noExit(`The ${what} does not exit.`, controls, SDM_EPT);
}

/** An access to the APIC-access page (the `apic` EPT region). */
export function decideApicPage(
  gpa: bigint,
  access: "read" | "write" | "exec",
  ctx: ExitContext,
  what: string,
  eptOn: boolean,
): ExitDecision {
  const c = ctl();
  const offset = apicRegisterOffset(gpa);
  const controls = state(ctx, c.apicAccesses, c.tprShadow, c.apicRegs, c.vid);
  const reg = `APIC register ${hex(offset)}`;
  if (!on(ctx, c.apicAccesses)) {
    if (!eptOn)
      return noExit(
        `The ${what} does not exit: virtualize APIC accesses and enable EPT are both 0.`,
        controls,
        SDM_APIC_MMIO,
        "Without EPT the hypervisor uses shadow paging, whose page-fault exits are out of this model's scope.",
      );
    return exitsWith(
      EXIT.EPT_VIOLATION,
      `The ${what} exits with EPT_VIOLATION: virtualize APIC accesses is 0, so the APIC page has no mapping of its own.`,
      controls,
      `${SDM_EPT}; ${SDM_APIC_MMIO}`,
    );
  }
  if (access === "exec")
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The ${what} exits with APIC_ACCESS: instruction fetches from the APIC-access page are never virtualized.`,
      controls,
      SDM_APIC_MMIO,
    );
  if (!on(ctx, c.tprShadow))
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The ${what} exits with APIC_ACCESS: use TPR shadow is 0, so no access is virtualized.`,
      controls,
      SDM_APIC_MMIO,
    );
  const regs = on(ctx, c.apicRegs);
  const vid = on(ctx, c.vid);
  if (access === "read") {
    const virtualized = regs ? APIC_READ_VIRTUALIZED.has(offset) : offset === XAPIC_OFFSET.TPR;
    return virtualized
      ? noExit(
          `The read of ${reg} does not exit: it is virtualized from the virtual-APIC page.`,
          controls,
          SDM_APIC_MMIO,
        )
      : exitsWith(
          EXIT.APIC_ACCESS,
          `The read of ${reg} exits with APIC_ACCESS: it is not a register the CPU virtualizes${regs ? "" : " (only TPR without APIC-register virtualization)"}.`,
          controls,
          SDM_APIC_MMIO,
        );
  }
  const virtualized = regs
    ? APIC_WRITE_VIRTUALIZED.has(offset)
    : offset === XAPIC_OFFSET.TPR ||
      (vid && (offset === XAPIC_OFFSET.EOI || offset === XAPIC_OFFSET.ICR_LOW));
  if (!virtualized)
    return exitsWith(
      EXIT.APIC_ACCESS,
      `The write of ${reg} exits with APIC_ACCESS: the write is not virtualized under these controls.`,
      controls,
      SDM_APIC_MMIO,
    );
  if (offset === XAPIC_OFFSET.TPR)
    return decideTprWrite(ctx, `The write of ${reg} (TPR)`, controls, SDM_APIC_MMIO);
  if (offset === XAPIC_OFFSET.EOI && vid)
    return decideVirtualEoi(ctx, `The write of ${reg} (EOI)`, controls, SDM_APIC_MMIO);
  if (offset === XAPIC_OFFSET.ICR_LOW && vid && !regs)
    // Self-IPIs are virtualized; the ICR value is unknown to the model, so a general IPI
    // (APIC-write VM exit) is assumed.
    return exitsWith(
      EXIT.APIC_WRITE,
      `The write of ${reg} (ICR low) exits with APIC_WRITE after the write (only a self-IPI would be virtualized).`,
      controls,
      SDM_APIC_MMIO,
    );
  return exitsWith(
    EXIT.APIC_WRITE,
    `The write of ${reg} is virtualized into the virtual-APIC page, then exits with APIC_WRITE (APIC-write emulation, trap-like).`,
    controls,
    SDM_APIC_MMIO,
  );
}

// ---------------------------------------------------------------------------------------------
// EOI

export function decideEoi(ctx: ExitContext): ExitDecision {
  if (ctx.guest.apic === "x2apic") {
    const d = decideMsr(X2APIC_MSR.EOI, true, ctx, "X2APIC_EOI");
    return { ...d, rule: `EOI in x2APIC mode is WRMSR X2APIC_EOI: ${d.rule}` };
  }
  const d = decideMemory(XAPIC_BASE + BigInt(XAPIC_OFFSET.EOI), "write", ctx, true);
  return { ...d, rule: `EOI in xAPIC mode is an MMIO write to 0xfee000b0: ${d.rule}` };
}
