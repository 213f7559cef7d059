/**
 * The bitmap pages a control makes VM entry check: I/O bitmaps (E6), MSR bitmap (E7) and the
 * VMREAD/VMWRITE bitmaps of VMCS shadowing (E21).
 */
import { pageAddressRule } from "./addresses";
import { REF } from "./context";
import { NESTED, SDM_EXEC } from "./references";

export const IO_BITMAPS = pageAddressRule(
  "E6",
  REF.proc_use_io_bitmaps,
  ["IO_BITMAP_A", "IO_BITMAP_B"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_io_bitmap_controls`,
);

export const MSR_BITMAP = pageAddressRule(
  "E7",
  REF.proc_use_msr_bitmaps,
  ["MSR_BITMAP"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_msr_bitmap_controls`,
);

export const VMCS_SHADOWING_BITMAPS = pageAddressRule(
  "E21",
  REF.proc2_vmcs_shadowing,
  ["VMREAD_BITMAP", "VMWRITE_BITMAP"],
  `${SDM_EXEC}; ${NESTED} nested_vmx_check_shadow_vmcs_controls`,
);
