/**
 * The vmcs01 / vmcs12 pair the nested tests share (KVM-on-KVM, Skylake, EPT + VPID at both
 * levels): L0's vmcs01 for L1 and L1's vmcs12 for L2, as the text of a `.vmcs` file. The options
 * are the differences the tests exercise; each test still writes its own target costs,
 * handlers, hypervisor and guest next to what it checks.
 */

export interface Vmcs01Options {
  /** `use_tpr_shadow` in proc (default true). */
  tprShadow?: boolean;
  /** `vmcs_shadowing` in proc2: L1's VMREAD/VMWRITEs of shadowed fields stay in L1 (default false). */
  shadowing?: boolean;
}

/** L0's vmcs01 for L1 (`vmcs vmcs01 { … }`, with a trailing newline). */
export function vmcs01({ tprShadow = true, shadowing = false }: Vmcs01Options = {}): string {
  return `vmcs vmcs01 {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting ${tprShadow ? "use_tpr_shadow " : ""}use_io_bitmaps use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest${shadowing ? " vmcs_shadowing" : ""}
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  field VIRTUAL_PROCESSOR_ID = 1
}
`;
}

export interface Vmcs12Options {
  /** `use_tpr_shadow` in proc (default false). */
  tprShadow?: boolean;
  /** vmcs12's VIRTUAL_PROCESSOR_ID (default 1). */
  vpid?: number;
  /** Statements added at the end of the block (`msr trap …`, `ept { … }`), one a line. */
  extra?: readonly string[];
}

/** L1's vmcs12 for L2 (`vmcs vmcs12 nested { … }`, with a trailing newline). */
export function vmcs12({ tprShadow = false, vpid = 1, extra = [] }: Vmcs12Options = {}): string {
  return `vmcs vmcs12 nested {
  pin   external_interrupt_exiting nmi_exiting
  proc  hlt_exiting use_tsc_offsetting ${tprShadow ? "use_tpr_shadow " : ""}use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  field VIRTUAL_PROCESSOR_ID = ${vpid}
${extra.map((line) => `  ${line}\n`).join("")}}
`;
}
