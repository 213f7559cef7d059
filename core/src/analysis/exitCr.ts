import { cr8PriorityClass } from "../vmx/apic";
import { EXIT } from "../vmx/exitReasons";
import { decideTprWrite } from "./exitApicVirtualization";
import { vmcsLookup } from "./exitLookup";
import { ctl, type ExitContext, exitsWith, hex, noExit, on, SDM_COND, SDM_CR8, state } from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// Control registers

export function decideMovToCr(cr: 0 | 3 | 4 | 8, value: bigint | undefined, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const lookup = vmcsLookup(ctx.vmcs);
  if (cr === 0 || cr === 4) {
    const mask = cr === 0 ? lookup.cr0Mask : lookup.cr4Mask;
    const shadow = cr === 0 ? lookup.cr0Shadow : lookup.cr4Shadow;
    const controls = [`CR${cr}_GUEST_HOST_MASK=${hex(mask)}`, `CR${cr}_READ_SHADOW=${hex(shadow)}`];
    if (mask === 0n)
      return noExit(
        `MOV to CR${cr} does not exit: the CR${cr} guest/host mask is 0 (the guest owns every bit).`,
        controls,
        SDM_COND,
      );
    if (value === undefined)
      return exitsWith(
        EXIT.CR_ACCESS,
        `MOV to CR${cr} exits: the value is taken to differ from the read shadow in a bit set in the guest/host mask ${hex(mask)}.`,
        controls,
        SDM_COND,
        "Give the value (`mov cr" + cr + " VALUE`) to decide exactly.",
      );
    const differing = (value ^ shadow) & mask;
    return differing !== 0n
      ? exitsWith(
          EXIT.CR_ACCESS,
          `MOV to CR${cr} of ${hex(value)} exits: it differs from the read shadow in host-owned bits ${hex(differing)}.`,
          controls,
          SDM_COND,
        )
      : noExit(
          `MOV to CR${cr} of ${hex(value)} does not exit: it matches the read shadow in every bit of the guest/host mask.`,
          controls,
          SDM_COND,
        );
  }
  if (cr === 3) {
    const controls = [...state(ctx, c.cr3Load), `CR3_TARGET_COUNT=${lookup.cr3TargetCount}`];
    if (!on(ctx, c.cr3Load))
      return noExit("MOV to CR3 does not exit (CR3-load exiting is 0).", controls, SDM_COND);
    const n = Math.min(lookup.cr3TargetCount, lookup.cr3TargetValues.length);
    if (n === 0)
      return exitsWith(
        EXIT.CR_ACCESS,
        "MOV to CR3 exits: CR3-load exiting is 1 and the CR3-target count is 0.",
        controls,
        SDM_COND,
      );
    if (value === undefined)
      return exitsWith(
        EXIT.CR_ACCESS,
        `MOV to CR3 exits: CR3-load exiting is 1 and the value is taken to be none of the ${n} CR3-target values.`,
        controls,
        SDM_COND,
        "Give the value (`mov cr3 VALUE`) to decide exactly.",
      );
    for (let i = 0; i < n; i++)
      if (lookup.cr3TargetValues[i] === value)
        return noExit(
          `MOV to CR3 of ${hex(value)} does not exit: it equals CR3-target value ${i}.`,
          controls,
          SDM_COND,
        );
    return exitsWith(
      EXIT.CR_ACCESS,
      `MOV to CR3 of ${hex(value)} exits: CR3-load exiting is 1 and it is none of the first ${n} CR3-target values.`,
      controls,
      SDM_COND,
    );
  }
  // CR8 (64-bit mode only).
  const controls = state(ctx, c.cr8Load, c.tprShadow, c.vid);
  if (on(ctx, c.cr8Load))
    return exitsWith(EXIT.CR_ACCESS, "MOV to CR8 exits because CR8-load exiting is 1.", controls, SDM_COND);
  if (!on(ctx, c.tprShadow))
    return noExit(
      "MOV to CR8 does not exit: CR8-load exiting and use TPR shadow are 0, so the guest writes the physical TPR.",
      controls,
      SDM_COND,
    );
  const cls = value === undefined ? 0 : cr8PriorityClass(value);
  const d = decideTprWrite(
    ctx,
    `MOV to CR8${value === undefined ? "" : ` of ${hex(value)}`}`,
    controls,
    `${SDM_COND}; ${SDM_CR8}`,
    cls,
  );
  if (value === undefined && d.exits.length)
    d.detail = "The value is not given: a write of 0 (unmask every priority class) is assumed.";
  return d;
}

export function decideMovFromCr(cr: 3 | 8, ctx: ExitContext): ExitDecision {
  const c = ctl();
  if (cr === 3)
    return on(ctx, c.cr3Store)
      ? exitsWith(
          EXIT.CR_ACCESS,
          "MOV from CR3 exits because CR3-store exiting is 1.",
          state(ctx, c.cr3Store),
          SDM_COND,
        )
      : noExit("MOV from CR3 does not exit (CR3-store exiting is 0).", state(ctx, c.cr3Store), SDM_COND);
  const controls = state(ctx, c.cr8Store, c.tprShadow);
  return on(ctx, c.cr8Store)
    ? exitsWith(EXIT.CR_ACCESS, "MOV from CR8 exits because CR8-store exiting is 1.", controls, SDM_COND)
    : noExit(
        `MOV from CR8 does not exit (CR8-store exiting is 0)${on(ctx, c.tprShadow) ? "; it reads VTPR[7:4] from the virtual-APIC page" : "; it reads the physical TPR"}.`,
        controls,
        `${SDM_COND}; ${SDM_CR8}`,
      );
}
