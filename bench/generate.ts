/**
 * Generates large, realistic .vmcs files for the benchmarks: repeated vmcs blocks with their
 * guests (distinct names), one handler per exit reason, budgets and simulate lines. Every unit
 * checks clean, so the analysis runs its full path (checks, exit decisions, estimates, lints).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const HEADER = `target skylake_server @ 2.1GHz

handler EPT_MISCONFIG {
  vmread GUEST_PHYSICAL_ADDRESS
  decode
  branch {
    95% doorbell: userspace 9us
     5% other:    work 900
  }
}
handler IO_INSTRUCTION     { vmread EXIT_QUALIFICATION  work 600  advance_rip }
handler EXTERNAL_INTERRUPT { work 350 }
handler MSR_WRITE          { work 250  advance_rip }
handler HLT                { halt }
handler PAUSE_INSTRUCTION  { work 700 }
handler CPUID              { work 180  advance_rip }
`;

function unit(i: number): string {
  return `
// unit ${i}
vmcs kvm_${i} {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_io_bitmaps
        use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest pause_loop_exiting
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls
  exceptions #AC #MC
  io  trap 0x3f8..0x3ff, 0xcf8..0xcff
  msr trap write IA32_TSC_DEADLINE, X2APIC_EOI
  ple gap 128 window 4096
  field VIRTUAL_PROCESSOR_ID = ${(i % 65535) + 1}
  ept {
    0x0000_0000 .. 0x7fff_ffff  rwx
    0xfebf_0000 .. 0xfebf_ffff  misconfig
  }
}

guest net_${i} on kvm_${i} {
  vcpus 2
  path send rate 10k/s {
    compute 3us
    mmio write 0xfebf_0018
    branch {
      10% probe: cpuid
      90% fast:  compute 200ns
    }
  }
  path serial rate 100/s { out 0x3f8 }
  irq nic vector 0x41 rate 10k/s {
    compute 1us
    eoi
  }
  timer periodic 250Hz { wrmsr IA32_TSC_DEADLINE  eoi }
  idle halt
}

expect net_${i} { overhead < 90%  exits < 200k/s }
simulate net_${i} for 100ms seed ${i}
`;
}

/** A file of at least `lines` lines. */
export function generateVmcs(lines: number): string {
  const parts = [HEADER];
  let count = HEADER.split("\n").length;
  for (let i = 0; count < lines; i++) {
    const u = unit(i);
    parts.push(u);
    count += u.split("\n").length - 1;
  }
  return parts.join("");
}

/** The bundled examples, for benchmarks that want real files. */
export function readExample(name: string): string {
  return readFileSync(join(import.meta.dirname ?? __dirname, "..", "examples", name), "utf8");
}
