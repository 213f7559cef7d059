/**
 * The host settings a run uses and the per-vCPU host state they drive: the halt-poll window
 * (kvm_vcpu_halt's grow/shrink, virt/kvm/kvm_main.c) and the PLE window's modifiers
 * (grow_ple_window / shrink_ple_window, arch/x86/kvm/vmx/vmx.c). The settings come from the
 * file's `target` block (KVM's defaults where it says nothing, model/statements/host.ts), and
 * the API's options override them one by one (types.ts).
 */
import type { HostIR, Program } from "../model/ir";
import { defaultHost, hostSettings } from "../model/statements/host";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import type { SimulationOptions } from "./types";

/** The host settings in force for one run, after the file and the options. */
export interface ResolvedHost {
  haltPollNs: number;
  haltPollGrow: number;
  haltPollGrowStartNs: number;
  haltPollShrink: number;
  pleWindowGrowth: boolean;
  pleWindowGrow: number;
  pleWindowShrink: number;
  pleWindowMax: number;
  /** 0: one physical CPU per vCPU. */
  pcpus: number;
  pinned: boolean;
  preemptRate: number;
  preemptSec: number;
}

/** The engine's options: the API's, with the host settings resolved against the file. */
export type EngineOptions = SimulationOptions & { resolvedHost?: ResolvedHost };

/** The file's host settings (KVM's defaults where absent) with the options' overrides. */
export function resolveHost(program: Program, guestName: string, options: SimulationOptions): ResolvedHost {
  const guest = program.guests.get(guestName);
  return resolve(hostSettings(program, guest), guest?.pinned !== undefined, options);
}

/** KVM's defaults with the options' overrides (an engine built without a program's settings). */
export function resolveDefaults(options: SimulationOptions): ResolvedHost {
  return resolve(defaultHost(), false, options);
}

function resolve(h: HostIR, pinned: boolean, options: SimulationOptions): ResolvedHost {
  const growth = options.pleWindowGrowth ?? h.pleWindowGrow.value >= 1;
  return {
    haltPollNs: options.haltPollNs ?? h.haltPollNs.value,
    haltPollGrow: options.haltPollGrow ?? h.haltPollGrow.value,
    haltPollGrowStartNs: options.haltPollGrowStartNs ?? h.haltPollGrowStartNs.value,
    haltPollShrink: options.haltPollShrink ?? h.haltPollShrink.value,
    pleWindowGrowth: growth,
    pleWindowGrow: growth ? (options.pleWindowGrow ?? Math.max(1, h.pleWindowGrow.value)) : 0,
    pleWindowShrink: options.pleWindowShrink ?? h.pleWindowShrink.value,
    pleWindowMax: options.pleWindowMax ?? h.pleWindowMax.value,
    pcpus: options.pcpus ?? h.pcpus.value,
    pinned: options.pinned ?? pinned,
    preemptRate: options.hostPreemption?.ratePerSec ?? h.preemptRate.value,
    preemptSec: options.hostPreemption?.durationSec ?? h.preemptSec.value,
  };
}

/** Per-vCPU host state: the halt-poll window and when the current halt began. */
export class HostRuntime {
  /** halt_poll_ns in cycles: the window's ceiling (0: no polling). */
  readonly pollMax: number;
  readonly pollGrow: number;
  readonly pollGrowStart: number;
  readonly pollShrink: number;
  readonly pleGrow: number;
  readonly pleShrink: number;
  readonly pleMax: number;
  /** vcpu->halt_poll_ns in cycles; KVM starts every vCPU at 0 (kvm_vcpu_init). */
  readonly pollWindow: Float64Array;
  /** Start of the current halt (poll included): kvm_vcpu_halt's `start`. */
  readonly haltBegin: Float64Array;
  pollGrows = 0;
  pollShrinks = 0;
  /**
   * Over-committed physical CPUs (`pcpus` below the vCPU count): vCPU v belongs to pCPU group
   * group[v] (pinned: pCPU v mod pcpus, one CPU each; else one group of all the pCPUs), and
   * holds one of its CPUs while in guest or root mode or polling. A vCPU that becomes runnable
   * with none free waits in the group's FIFO (Descheduled); while anyone waits, the running
   * ones are preempted at the end of a slice (EEVDF's base slice, kvmDefaults). Off when
   * every vCPU has a CPU of its own.
   */
  readonly pool: boolean;
  readonly group: Int32Array;
  readonly capacity: Int32Array;
  readonly running: Int32Array;
  readonly holds: Uint8Array;
  /** Per group, a FIFO of waiting vCPUs (as a ring of nV slots). */
  readonly queue: Int32Array;
  readonly queueHead: Int32Array;
  readonly queueLen: Int32Array;
  readonly sliceCycles: number;
  readonly sliceEnd: Float64Array;
  /** Next Poisson host preemption (`preempt`), kept apart from the slice ends. */
  readonly poissonNext: Float64Array;
  /** The pending deschedule is a slice's end (to the run queue), not a `preempt`. */
  readonly sliceDeschedule: Uint8Array;
  readonly groups: number;

  constructor(nV: number, hz: number, host: ResolvedHost) {
    const cycles = (ns: number) => (ns * hz) / 1e9;
    this.pollMax = cycles(host.haltPollNs);
    this.pollGrow = host.haltPollGrow;
    this.pollGrowStart = cycles(host.haltPollGrowStartNs);
    this.pollShrink = host.haltPollShrink;
    this.pleGrow = host.pleWindowGrowth ? host.pleWindowGrow : 0;
    this.pleShrink = host.pleWindowShrink;
    this.pleMax = host.pleWindowMax;
    this.pollWindow = new Float64Array(nV);
    this.haltBegin = new Float64Array(nV);
    const p = Math.floor(host.pcpus);
    this.pool = p > 0 && p < nV;
    this.groups = this.pool ? (host.pinned ? p : 1) : 0;
    this.group = new Int32Array(nV);
    this.capacity = new Int32Array(Math.max(1, this.groups));
    this.running = new Int32Array(Math.max(1, this.groups));
    for (let v = 0; v < nV; v++) this.group[v] = this.pool && host.pinned ? v % p : 0;
    this.capacity.fill(this.pool && host.pinned ? 1 : p);
    this.holds = new Uint8Array(nV);
    this.queue = new Int32Array(Math.max(1, this.groups) * nV);
    this.queueHead = new Int32Array(Math.max(1, this.groups));
    this.queueLen = new Int32Array(Math.max(1, this.groups));
    const cpus = host.pinned ? 1 : Math.max(1, p);
    const factor = 1 + Math.floor(Math.log2(Math.min(cpus, 8)));
    this.sliceCycles = cycles(KVM_DEFAULTS.schedBaseSliceNs.value * factor);
    this.sliceEnd = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.poissonNext = new Float64Array(nV).fill(Number.POSITIVE_INFINITY);
    this.sliceDeschedule = new Uint8Array(nV);
  }

  /**
   * kvm_vcpu_halt's update once a halt of `haltCycles` (poll included) ended: nothing when the
   * poll window covered it; shrink_halt_poll_ns after a block longer than halt_poll_ns;
   * grow_halt_poll_ns after a shorter one the window missed (val × grow, at least grow_start,
   * then capped at halt_poll_ns when the next halt begins).
   */
  haltEnded(v: number, haltCycles: number): void {
    const max = this.pollMax;
    const w = this.pollWindow[v];
    if (max <= 0) {
      this.pollWindow[v] = 0;
      return;
    }
    if (haltCycles <= w) return;
    if (w > 0 && haltCycles > max) {
      let val = this.pollShrink === 0 ? 0 : w / this.pollShrink;
      if (val < this.pollGrowStart) val = 0;
      this.pollWindow[v] = val;
      this.pollShrinks++;
    } else if (w < max && haltCycles < max) {
      if (this.pollGrow === 0) return;
      let val = w * this.pollGrow;
      if (val < this.pollGrowStart) val = this.pollGrowStart;
      this.pollWindow[v] = Math.min(val, max);
      this.pollGrows++;
    }
  }
}
