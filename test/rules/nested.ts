/**
 * Cases for the units that run only on a vmcs12 (`vmcs NAME nested`): a file with L1's vmcs01 and
 * the vmcs12 L1 writes for its L2.
 */
import type { RuleCase } from "./support";

const file = (l1Entry: string, exit: string, entry: string) =>
  `target skylake_server\n\nvmcs l1 {\n  pin   external_interrupt_exiting\n  exit  host_address_space_size\n  entry ${l1Entry}\n}\n\nvmcs v nested {\n  pin   external_interrupt_exiting nmi_exiting\n  exit  ${exit}\n${entry ? `  entry ${entry}\n` : ""}}\n`;

export const NESTED_CASES: readonly RuleCase[] = [
  // L1 in IA-32e mode (vmcs01 sets ia32e_mode_guest): its vmcs12 needs host_address_space_size.
  {
    rule: "N10 L1 mode",
    code: "VMX-N10",
    failing: file("ia32e_mode_guest", "acknowledge_interrupt_on_exit", "ia32e_mode_guest").replace(
      "vmcs v nested",
      "vmcs «v» nested",
    ),
    passing: file(
      "ia32e_mode_guest",
      "host_address_space_size acknowledge_interrupt_on_exit",
      "ia32e_mode_guest",
    ),
  },
  // A 32-bit L1 (no ia32e_mode_guest in vmcs01) cannot enter a 64-bit L2.
  {
    rule: "N10 L1 mode",
    code: "VMX-N10",
    failing: file("load_ia32_efer", "acknowledge_interrupt_on_exit", "«ia32e_mode_guest»"),
    passing: file("load_ia32_efer", "acknowledge_interrupt_on_exit", ""),
  },
];
