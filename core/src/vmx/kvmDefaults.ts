/**
 * KVM's default tuning parameters that decide exit behaviour. Each carries the
 * Linux symbol and file it comes from; the simulator and the PLE/halt-polling models read these.
 */

export interface KvmDefault {
  value: number;
  /** Linux symbol and file. */
  source: string;
  /** What it means, quoting the kernel comment where there is one. */
  meaning: string;
}

export const KVM_DEFAULTS = {
  pleGap: {
    value: 128,
    source: "KVM_DEFAULT_PLE_GAP, arch/x86/kvm/x86.h; module param ple_gap in arch/x86/kvm/vmx/vmx.c",
    meaning:
      "PLE_Gap in TSC cycles: PAUSEs further apart start a new loop. Kernel comment: 'According to test, this time is usually smaller than 128 cycles'.",
  },
  pleWindow: {
    value: 4096,
    source: "KVM_VMX_DEFAULT_PLE_WINDOW, arch/x86/kvm/x86.h",
    meaning:
      "PLE_Window in TSC cycles a PAUSE loop may run before exiting. Kernel comment: 'Tests indicate that most spinlocks are held for less than 2^12 cycles'.",
  },
  pleWindowGrow: {
    value: 2,
    source: "KVM_DEFAULT_PLE_WINDOW_GROW, arch/x86/kvm/x86.h",
    meaning: "Default doubles per-vcpu window every exit (__grow_ple_window: multiply if < base, else add).",
  },
  pleWindowShrink: {
    value: 0,
    source: "KVM_DEFAULT_PLE_WINDOW_SHRINK, arch/x86/kvm/x86.h",
    meaning:
      "Default resets per-vcpu window every exit to ple_window (__shrink_ple_window: modifier < 1 resets).",
  },
  pleWindowMax: {
    value: 0xffff_ffff,
    source: "KVM_VMX_DEFAULT_PLE_WINDOW_MAX (UINT_MAX), arch/x86/kvm/x86.h",
    meaning: "Upper bound of the per-vCPU PLE window.",
  },
  haltPollNs: {
    value: 200_000,
    source: "KVM_HALT_POLL_NS_DEFAULT, arch/x86/include/asm/kvm_host.h; used in virt/kvm/kvm_main.c",
    meaning: "Maximum time a halted vCPU polls for a wake-up before scheduling out (x86 default).",
  },
  haltPollNsGrow: {
    value: 2,
    source: "halt_poll_ns_grow, virt/kvm/kvm_main.c",
    meaning: "Default doubles per-vcpu halt_poll_ns.",
  },
  haltPollNsGrowStart: {
    value: 10_000,
    source: "halt_poll_ns_grow_start, virt/kvm/kvm_main.c",
    meaning: "First polling interval after growing from 0 (10 us).",
  },
  haltPollNsShrink: {
    value: 2,
    source: "halt_poll_ns_shrink, virt/kvm/kvm_main.c",
    meaning: "Default halves per-vcpu halt_poll_ns.",
  },
  tickHz: {
    value: 250,
    source: "CONFIG_HZ default HZ_250 (the `Timer frequency` choice), kernel/Kconfig.hz",
    meaning:
      "The guest kernel's tick rate: a tickless (NO_HZ_IDLE) kernel ticks at HZ while a CPU is busy (tick_sched_timer, kernel/time/tick-sched.c) and stops the tick only on idle entry (tick_nohz_idle_stop_tick); tick_nohz_idle_exit restarts it on the tick grid (tick_nohz_restart: hrtimer_forward from last_tick).",
  },
  schedBaseSliceNs: {
    value: 750_000,
    source:
      "sysctl_sched_base_slice = 750000ULL, kernel/sched/fair.c (EEVDF; scaled by 1 + ilog2(min(ncpus, 8)), SCHED_TUNABLESCALING_LOG, get_update_sysctl_factor)",
    meaning:
      "The host scheduler's base time slice: an over-committed vCPU thread runs this long (× 1 + ilog2(min(pCPUs, 8))) before a waiting one gets its CPU.",
  },
  pmlEntries: {
    value: 512,
    source: "PML_LOG_NR_ENTRIES (older PML_ENTITY_NUM), arch/x86/kvm/vmx/vmx.h",
    meaning: "Entries in the page-modification log: one 4 KiB page of 8-byte guest-physical addresses.",
  },
  pmlHeadIndex: {
    value: 511,
    source: "PML_HEAD_INDEX (PML_LOG_NR_ENTRIES - 1), arch/x86/kvm/vmx/vmx.h",
    meaning:
      "'PML is written backwards: this is the first entry written by the CPU'; an index outside 0-511 makes the next log attempt exit with PML_FULL.",
  },
  vmfuncEptpEntries: {
    value: 512,
    source: "VMFUNC_EPTP_ENTRIES, arch/x86/include/asm/vmx.h",
    meaning: "Entries in the EPTP list used by VMFUNC leaf 0 (EPTP switching).",
  },
  postedInterruptVector: {
    value: 0xf2,
    source: "POSTED_INTR_VECTOR, arch/x86/include/asm/irq_vectors.h",
    meaning: "Host vector used as the posted-interrupt notification vector for running vCPUs.",
  },
  postedInterruptWakeupVector: {
    value: 0xf1,
    source: "POSTED_INTR_WAKEUP_VECTOR, arch/x86/include/asm/irq_vectors.h",
    meaning: "Host vector that wakes a blocked vCPU when a posted interrupt arrives.",
  },
  localTimerVector: {
    value: 0xec,
    source: "LOCAL_TIMER_VECTOR, arch/x86/include/asm/irq_vectors.h",
    meaning:
      "Host vector of the local APIC timer: a host hrtimer (a guest timer KVM emulates without the VMX-preemption timer) arrives on it.",
  },
} as const satisfies Record<string, KvmDefault>;

export type KvmDefaultName = keyof typeof KVM_DEFAULTS;

/**
 * KVM's PLE window update (arch/x86/kvm/x86.h __grow_ple_window): modifier < 1 resets to base;
 * a modifier smaller than base multiplies, otherwise it is added; the result is capped at max.
 */
export function growPleWindow(current: number, base: number, modifier: number, max: number): number {
  if (modifier < 1) return base;
  const grown = modifier < base ? current * modifier : current + modifier;
  return Math.min(grown, max);
}

/** KVM's __shrink_ple_window: modifier < 1 resets to base; divide if < base, else subtract; floor at min. */
export function shrinkPleWindow(current: number, base: number, modifier: number, min: number): number {
  if (modifier < 1) return base;
  const shrunk = modifier < base ? Math.floor(current / modifier) : current - modifier;
  return Math.max(shrunk, min);
}
