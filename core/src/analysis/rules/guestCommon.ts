/**
 * What the guest-state units (G1–G15: guestRegisters.ts, guestSegments.ts, guestStateArea.ts)
 * share: the SDM sections and sources they cite, the controls they read, the injected event.
 */
import { bitOf, ENTRY_EVENT } from "../../vmx/stateChecks";
import type { ControlRef, VmcsView } from "./context";
import { NESTED } from "./references";

export const SDM_GUEST_CR =
  "SDM Vol. 3C §27.3.1.1, checks on guest control registers, debug registers and MSRs (§26.3.1.1 in pre-2023 editions)";
export const SDM_GUEST_SEG =
  "SDM Vol. 3C §27.3.1.2–27.3.1.3, checks on guest segment and descriptor-table registers (§26.3.1.2–26.3.1.3 in pre-2023 editions)";
export const SDM_GUEST_RIP =
  "SDM Vol. 3C §27.3.1.4, checks on guest RIP, RFLAGS and SSP (§26.3.1.4 in pre-2023 editions)";
export const SDM_GUEST_NONREG =
  "SDM Vol. 3C §27.3.1.5, checks on guest non-register state (§26.3.1.5 in pre-2023 editions)";
export const SDM_GUEST_PDPTE =
  "SDM Vol. 3C §27.3.1.6, checks on guest page-directory-pointer-table entries (§26.3.1.6 in pre-2023 editions)";
export const KVM_GUEST = `${NESTED} nested_vmx_check_guest_state`;
export const KUT = "kvm-unit-tests x86/vmx_tests.c";

export const PROC2_UNRESTRICTED_GUEST = ["proc2", "unrestricted_guest"] as const satisfies ControlRef;
export const PROC2_ENABLE_EPT = ["proc2", "enable_ept"] as const satisfies ControlRef;
export const ENTRY_IA32E_MODE_GUEST = ["entry", "ia32e_mode_guest"] as const satisfies ControlRef;
export const ENTRY_LOAD_DEBUG_CONTROLS = ["entry", "load_debug_controls"] as const satisfies ControlRef;
export const ENTRY_LOAD_IA32_EFER = ["entry", "load_ia32_efer"] as const satisfies ControlRef;
export const ENTRY_LOAD_IA32_PAT = ["entry", "load_ia32_pat"] as const satisfies ControlRef;
export const ENTRY_LOAD_IA32_BNDCFGS = ["entry", "load_ia32_bndcfgs"] as const satisfies ControlRef;
export const ENTRY_LOAD_PERF_GLOBAL_CTRL = [
  "entry",
  "load_ia32_perf_global_ctrl",
] as const satisfies ControlRef;
export const ENTRY_LOAD_IA32_RTIT_CTL = ["entry", "load_ia32_rtit_ctl"] as const satisfies ControlRef;
export const PIN_VIRTUAL_NMIS = ["pin", "virtual_nmis"] as const satisfies ControlRef;

/** The injected event's type when the file sets VM_ENTRY_INTR_INFO_FIELD with the valid bit. */
export function injectedType(view: VmcsView): number | undefined {
  const info = view.field("VM_ENTRY_INTR_INFO_FIELD");
  if (!info || !bitOf(info.value, ENTRY_EVENT.VALID)) return undefined;
  return Number((info.value >> BigInt(ENTRY_EVENT.TYPE_SHIFT)) & ENTRY_EVENT.TYPE_BITS);
}

/** Whether the guest enters virtual-8086 mode: the file sets GUEST_RFLAGS with VM (bit 17). */
export function enteringV86(view: VmcsView, vmBit: number): boolean {
  const rflags = view.field("GUEST_RFLAGS");
  return rflags !== undefined && bitOf(rflags.value, vmBit);
}
