/**
 * The vmcs block the estimator and simulator tests start from: the controls KVM sets for a
 * 64-bit guest on a host with EPT, VPID and unrestricted guest (examples/kvm-default.vmcs and
 * bench/generate.ts write the same), VPID 1, and an EPT map. Each test changes only what it is
 * about: more primary controls, other secondary, exit or entry controls than the defaults, the
 * EPT map, or more statements.
 */
export interface KvmVmcsOptions {
  /** The block's name (default `v`). */
  name?: string;
  /** Primary controls added to KVM's. */
  proc?: string;
  /** The secondary controls (default `enable_ept enable_vpid unrestricted_guest`). */
  proc2?: string;
  /** The exit control after host_address_space_size acknowledge_interrupt_on_exit (default `save_debug_controls`). */
  exit?: string;
  /** The entry control after ia32e_mode_guest (default `load_debug_controls`). */
  entry?: string;
  /** The EPT map inside `ept { … }` (default `0x0 .. 0x7fff_ffff rwx`). */
  ept?: string;
  /** More statements, one a line, at the end of the block. */
  lines?: readonly string[];
}

export function kvmVmcs(o: KvmVmcsOptions = {}): string {
  return [
    `vmcs ${o.name ?? "v"} {`,
    "  pin   external_interrupt_exiting nmi_exiting virtual_nmis",
    `  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls${o.proc ? ` ${o.proc}` : ""}`,
    `  proc2 ${o.proc2 ?? "enable_ept enable_vpid unrestricted_guest"}`,
    `  exit  host_address_space_size acknowledge_interrupt_on_exit ${o.exit ?? "save_debug_controls"}`,
    `  entry ia32e_mode_guest ${o.entry ?? "load_debug_controls"}`,
    "  field VIRTUAL_PROCESSOR_ID = 1",
    `  ept { ${o.ept ?? "0x0 .. 0x7fff_ffff rwx"} }`,
    ...(o.lines ?? []).map((line) => `  ${line}`),
    "}",
  ].join("\n");
}

/** The EPT map with the MMIO doorbell page of the examples (EPT_MISCONFIG at 0xfebf_0000). */
export const EPT_WITH_DOORBELL = "0x0 .. 0x7fff_ffff rwx  0xfebf_0000 .. 0xfebf_ffff misconfig";
