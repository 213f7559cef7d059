/**
 * The resolved program: what the parser's syntax tree means once names are resolved, units
 * converted and defaults applied. Analysis (VM-entry checks, exit determination, estimation) and
 * the simulator read only this, never the syntax tree. Every element keeps the span of the text
 * it came from, so diagnostics and hovers land on the right token.
 */
import type { Span } from "../source";
import type { MitigationName } from "../vmx/transitionTerms";
import type {
  CapabilityMsrs,
  ControlDef,
  ControlWord,
  CostName,
  CostParam,
  CpuProfile,
  ExitReasonDef,
  VmcsFieldDef,
} from "../vmx/types";

export interface Program {
  target: TargetIR;
  vmcs: Map<string, VmcsIR>;
  /** Keyed by basic exit reason number: the general handlers (the fallback of specialised ones). */
  handlers: Map<number, HandlerIR>;
  /**
   * `handler REASON OPERAND { … }` (docs/language.md "Handlers by operand"): the handlers
   * specialised by operand, keyed by basic exit reason, in source order. An exit whose operand
   * one of them matches runs it (model/handlers.ts); any other runs the general handler.
   * Absent or empty: none (a program built through the API may leave it out).
   */
  operandHandlers?: Map<number, HandlerIR[]>;
  fns: Map<string, FnIR>;
  guests: Map<string, GuestIR>;
  /**
   * `hypervisor NAME on VMCS { handler … }` (nested virtualization, docs/language.md "Nested
   * virtualization"): L1, the VMCS L0 runs it with (vmcs01) and its handlers for the exits of
   * its L2 guests that L0 reflects to it. Empty in a file without nesting.
   */
  hypervisors: Map<string, HypervisorIR>;
  expects: ExpectIR[];
  simulates: SimulateIR[];
}

export interface TargetIR {
  profile: CpuProfile;
  /** Core clock in Hz (the `@ FREQ` or the profile's default); times convert to cycles with it. */
  hz: number;
  /** The profile's capability MSRs with the file's `msr NAME = VALUE` overrides applied. */
  msrs: CapabilityMsrs;
  /** The profile's costs with the file's `cost NAME = CYCLES` overrides (provenance "user"). */
  costs: Record<CostName, CostParam>;
  /**
   * The speculative-execution mitigations KVM runs around each transition, from
   * `mitigations …` (none by default, or when absent — a program built through the API;
   * vmx/transitionTerms.ts MITIGATIONS).
   */
  mitigations?: MitigationName[];
  /** Absent when the file has no `target` line (the documented default profile applies). */
  span?: Span;
  profileSpan?: Span;
  /**
   * The host's settings (physical CPUs, halt polling, PLE window growth, host preemption) as
   * the `target` block's host statements set them; absent or partly absent: KVM's defaults
   * (`hostSettings` in model/statements/host.ts fills them in, docs/language.md "Host").
   */
  host?: HostIR;
  /**
   * `pool P…` (docs/language.md "CPUID"): the CPUs a guest may be migrated between; every
   * vmcs's CPUID must show only features all of them (and the target) have.
   */
  pool?: { members: { profile: string; span: Span }[]; span: Span };
}

/** One host setting: its value and, when a statement of the file set it, that statement's span. */
export interface HostValue {
  value: number;
  /** Present when the file set it; absent: the default (KVM's, or the model's), see `source`. */
  span?: Span;
}

/**
 * What the host does around the guest's vCPUs. Every value has a default — KVM's module
 * parameter (virt/kvm/kvm_main.c, arch/x86/kvm/vmx/vmx.c) or the model's own, each cited in
 * core/src/vmx/kvmDefaults.ts — and the span of the statement that overrode it.
 */
export interface HostIR {
  /** Physical CPUs the guest's vCPU threads run on; 0: one each (no overcommit). */
  pcpus: HostValue;
  /** KVM's halt_poll_ns (the per-vCPU poll window's ceiling), nanoseconds; 0 disables polling. */
  haltPollNs: HostValue;
  /** halt_poll_ns_grow: the factor grow_halt_poll_ns multiplies the window by (0: never grows). */
  haltPollGrow: HostValue;
  /** halt_poll_ns_grow_start: the first window after 0, nanoseconds. */
  haltPollGrowStartNs: HostValue;
  /** halt_poll_ns_shrink: the divisor of shrink_halt_poll_ns (0: back to 0 at once). */
  haltPollShrink: HostValue;
  /** ple_window_grow (kvm_intel): __grow_ple_window's modifier (< 1: the window never grows). */
  pleWindowGrow: HostValue;
  /** ple_window_shrink: __shrink_ple_window's modifier on sched-in (< 1: back to the base). */
  pleWindowShrink: HostValue;
  /** ple_window_max: the grown window's cap, TSC cycles. */
  pleWindowMax: HostValue;
  /** Host preemption of each vCPU thread (other host work), per second; 0: none. */
  preemptRate: HostValue;
  /** How long each host preemption keeps the vCPU thread off its CPU, seconds. */
  preemptSec: HostValue;
}

/** One control as written in a vmcs block. */
export interface ControlSetting {
  control: ControlDef;
  /** Span of the control's name token. */
  span: Span;
}

export type EptPermissions =
  | { kind: "rwx"; read: boolean; write: boolean; execute: boolean }
  | { kind: "none" }
  /** An EPT misconfiguration: every access exits with EPT_MISCONFIG (KVM's emulated MMIO). */
  | { kind: "misconfig" }
  /** The APIC-access page (with "virtualize APIC accesses"). */
  | { kind: "apic" };

export interface EptRegion {
  /** Inclusive guest-physical range. */
  start: bigint;
  end: bigint;
  perms: EptPermissions;
  span: Span;
}

export interface PortRange {
  first: number;
  last: number;
  span: Span;
}

export interface MsrTrap {
  msr: number;
  read: boolean;
  write: boolean;
  span: Span;
}

export interface VmcsIR {
  name: string;
  span: Span;
  nameSpan: Span;
  /**
   * `vmcs NAME nested { … }`: the VMCS an L1 hypervisor writes for its L2 (vmcs12), with the
   * span of the `nested` keyword. Checked as KVM checks it on nested VM entry, against the
   * capabilities L0 exposes to L1 (core/src/vmx/nestedCapabilities.ts), not the hardware's.
   */
  nested?: { span: Span };
  /**
   * Controls exactly as written, per word (no default1 bits added). `controlsIn(vmcs, target)`
   * in analysis gives the effective words the CPU sees.
   */
  written: Record<ControlWord, bigint>;
  /** Every control statement item, in order, for diagnostics and quick fixes. */
  settings: ControlSetting[];
  /** Span of each control-word keyword line (`pin`, `proc`, …), where quick fixes append. */
  wordLines: Partial<Record<ControlWord, Span>>;
  /**
   * Later statements of a word already written (`proc a` … `proc b`), when there are any: a
   * fix that removes every name of such a statement removes the statement.
   */
  moreWordLines?: { word: ControlWord; span: Span }[];
  exceptionBitmap: number;
  exceptionSpans: Map<number, Span>;
  pfErrorCode?: { mask: number; match: number; span: Span };
  ioTraps: PortRange[];
  msrTraps: MsrTrap[];
  cr0?: { mask: bigint; shadow: bigint; span: Span };
  cr4?: { mask: bigint; shadow: bigint; span: Span };
  cr3Targets: { value: bigint; span: Span }[];
  ple?: { gap: number; window: number; span: Span };
  /** VMX-preemption timer value in timer ticks. */
  preemptionTimer?: { ticks: number; span: Span };
  postedInterruptVector?: { vector: number; span: Span };
  tprThreshold?: { value: number; span: Span };
  /**
   * VTPR, byte 80H of the virtual-APIC page, as the hypervisor leaves it for VM entry (`vtpr V`;
   * memory, not a VMCS field): what rule E10 compares the TPR threshold with.
   */
  vtpr?: { value: number; span: Span };
  eptp?: { memtype: "WB" | "UC"; levels: 4 | 5; accessedDirty: boolean; span: Span };
  /** `field NAME = VALUE` statements and the sugar above, by field name. */
  fields: Map<string, { field: VmcsFieldDef; value: bigint; span: Span }>;
  ept: EptRegion[];
  eptSpan?: Span;
  /**
   * `shadow { read F… write F… }` (vmcs01 with `proc2 vmcs_shadowing`): the fields whose bit is
   * 0 in the VMREAD / VMWRITE bitmap, i.e. L1 accesses them without an exit. `kvm: true` for
   * `shadow kvm`: KVM's list (vmx/nested.ts). Absent with vmcs_shadowing: KVM's list too.
   */
  shadow?: { read: Set<string>; write: Set<string>; kvm: boolean; span: Span };
  /**
   * `cpuid hide F…` (docs/language.md "CPUID"): the features (vmx/cpuid.ts names) the guest's
   * CPUID does not show, each with the span of its name; `span` is the first statement's. Absent:
   * the guest sees every feature of the target CPU (KVM with `-cpu host`).
   */
  cpuid?: {
    hidden: Map<string, Span>;
    /** Hidden by `cpuid leaf … mask M` (their span is the mask's), not by name. */
    masked: Set<string>;
    span: Span;
    /** The first `cpuid hide` statement, where a fix appends names. */
    hideSpan?: Span;
  };
}

export type HandlerOp =
  | { op: "vmread" | "vmwrite"; field: VmcsFieldDef; span: Span }
  | { op: "work"; cycles: number; span: Span }
  | { op: "decode" | "advance_rip" | "invept" | "invvpid" | "halt" | "kick"; span: Span }
  /**
   * L1's VMX instructions in a `hypervisor` handler (docs/language.md "Nested virtualization"):
   * each exits to L0 unconditionally (SDM §26.1.2). In an L0 `handler` they are L0's own
   * instructions (VMPTRLD/VMCLEAR: `vmptrld` cost; VMRESUME/VMLAUNCH: part of the round trip).
   */
  | { op: "vmresume" | "vmlaunch" | "vmptrld" | "vmclear"; span: Span }
  | { op: "inject"; vector: number; span: Span }
  | { op: "userspace"; cycles: number; span: Span }
  | { op: "call"; fn: string; span: Span }
  | { op: "branch"; arms: HandlerArm[]; span: Span }
  | { op: "repeat"; count: number; ops: HandlerOp[]; span: Span };

export interface HandlerArm {
  /** 0..1 */
  probability: number;
  label?: string;
  ops: HandlerOp[];
  span: Span;
}

export interface HandlerIR {
  reason: ExitReasonDef;
  ops: HandlerOp[];
  span: Span;
  reasonSpan: Span;
  /** Present on a handler specialised by operand. */
  operand?: HandlerOperand;
}

/**
 * What a specialised handler matches (inclusive ranges; vmx/exitOperands.ts says where the
 * hardware puts each operand). `label` is how hovers and reports name it (`IA32_TSC_DEADLINE`,
 * `port 0x3f8..0x3ff out`).
 */
export type HandlerOperand =
  | { kind: "msr"; msr: number; name?: string; label: string; span: Span }
  | { kind: "port"; from: number; to: number; direction?: "in" | "out"; label: string; span: Span }
  | { kind: "gpa"; from: bigint; to: bigint; label: string; span: Span }
  | { kind: "nr"; from: number; to: number; label: string; span: Span };

/** L1 (docs/language.md "Nested virtualization"). */
export interface HypervisorIR {
  name: string;
  span: Span;
  nameSpan: Span;
  /** vmcs01: the VMCS L0 runs L1 with (its VMCS shadowing decides L1's VMREAD/VMWRITE exits). */
  vmcs: string;
  vmcsSpan: Span;
  /** L1's handlers, keyed by basic exit reason: what L1 does with each exit L0 reflects to it. */
  handlers: Map<number, HandlerIR>;
  /** L1's handlers specialised by operand (as Program.operandHandlers). */
  operandHandlers?: Map<number, HandlerIR[]>;
  /**
   * `halt_poll T grow N start T shrink N` in the hypervisor block: L1's KVM's halt polling of its
   * L2's vCPUs (kvm_vcpu_halt in L1); absent or partly absent: KVM's defaults
   * (model/statements/host.ts l1HaltPoll, docs/language.md "Nested virtualization").
   */
  haltPoll?: HaltPollIR;
}

/** KVM's four halt-poll module parameters (virt/kvm/kvm_main.c), as HostIR holds L0's. */
export type HaltPollIR = Pick<
  HostIR,
  "haltPollNs" | "haltPollGrow" | "haltPollGrowStartNs" | "haltPollShrink"
>;

export interface FnIR {
  name: string;
  ops: HandlerOp[];
  span: Span;
  nameSpan: Span;
}

export type GuestOp =
  | { op: "compute"; cycles: number; span: Span }
  | {
      op:
        | "cpuid"
        | "hlt"
        | "rdtsc"
        | "rdtscp"
        | "rdpmc"
        | "rdrand"
        | "rdseed"
        | "invlpg"
        | "invpcid"
        | "wbinvd"
        | "xsetbv"
        | "eoi"
        | "mov_dr";
      span: Span;
    }
  /** `vmcall [NR]`: `nr` the hypercall number in RAX (absent: unknown, only a general handler takes it). */
  | { op: "vmcall"; nr?: number; span: Span }
  | { op: "rdmsr" | "wrmsr"; msr: number; msrName?: string; span: Span }
  | { op: "in" | "out"; port: number; span: Span }
  | { op: "mmio"; access: "read" | "write"; gpa: bigint; span: Span }
  | { op: "mem"; access: "read" | "write" | "exec"; gpa: bigint; span: Span }
  /** MOV to CRn; `value` absent means "a value that differs from the shadow in the masked bits". */
  | { op: "mov_cr"; cr: 0 | 3 | 4 | 8; value?: bigint; span: Span }
  | { op: "read_cr"; cr: 3 | 8; span: Span }
  | { op: "pause_loop"; cycles: number; span: Span }
  | { op: "exception"; vector: number; errorCode?: number; span: Span }
  | { op: "dirty"; pages: number; span: Span }
  | { op: "tsx"; ops: GuestOp[]; span: Span }
  | { op: "branch"; arms: GuestArm[]; span: Span }
  /**
   * `single_step { OPS }` lowers to a `repeat 1` with `singleStep` set: OPS run with RFLAGS.TF = 1
   * (docs/language.md "Single-step"); every walker treats it as the repeat it is.
   */
  | { op: "repeat"; count: number; ops: GuestOp[]; span: Span; singleStep?: true }
  /** `uses F`: the guest executes an instruction of CPU feature F (vmx/cpuid.ts). */
  | { op: "uses"; feature: string; span: Span }
  /**
   * `coalesce N or T { OPS }` (extension, docs/language.md): OPS run once per `count` executions
   * of this operation on a vCPU, or `timeoutSec` after the first execution still pending,
   * whichever comes first — virtio's event-index notification suppression and NIC interrupt
   * moderation (`ethtool -C tx-frames N tx-usecs T`). Never inside `tsx` or another `coalesce`.
   */
  | { op: "coalesce"; count: number; timeoutSec: number; ops: GuestOp[]; span: Span };

export interface GuestArm {
  probability: number;
  label?: string;
  ops: GuestOp[];
  span: Span;
}

export type Arrival =
  /**
   * Poisson arrivals, per vCPU. `per` is how the file wrote the rate: absent or "vcpu", each
   * vCPU's; "guest", the guest's total, split evenly (ratePerSec is then that total / vcpus:
   * a Poisson stream split at random over n vCPUs is n Poisson streams of rate R/n).
   */
  | { kind: "poisson"; ratePerSec: number; per?: "vcpu" | "guest" }
  | { kind: "periodic"; periodSec: number }
  /**
   * Tickless timer (CONFIG_NO_HZ_IDLE): ticks at `hz` while the vCPU is busy and stops while it
   * is idle, reprogramming its one-shot timer each time it goes idle (docs/language.md).
   */
  | { kind: "tickless"; hz: number };

export type GuestSource =
  | { kind: "path"; name: string; arrival: Arrival; ops: GuestOp[]; span: Span; nameSpan: Span }
  | {
      kind: "irq";
      name: string;
      vector: number;
      arrival: Arrival;
      posted: boolean;
      ops: GuestOp[];
      span: Span;
      nameSpan: Span;
    }
  | { kind: "timer"; name: "timer"; arrival: Arrival; ops: GuestOp[]; span: Span; nameSpan: Span }
  | { kind: "ipi" | "nmi"; name: string; arrival: Arrival; ops: GuestOp[]; span: Span; nameSpan: Span };

export interface GuestIR {
  name: string;
  span: Span;
  nameSpan: Span;
  vmcs: string;
  vmcsSpan: Span;
  /**
   * `guest NAME on VMCS12 in HYPERVISOR`: the L1 that runs this L2 guest (a key of
   * `Program.hypervisors`) and the name's span; absent: the file's only hypervisor runs it
   * (analysis/nested/reflect.ts computeSetup; several without `in` is TL217).
   */
  hypervisor?: string;
  hypervisorSpan?: Span;
  vcpus: number;
  apic: "x2apic" | "xapic";
  idle: "halt" | "poll" | "mwait";
  idleSpan?: Span;
  /** `pinned`: each vCPU thread is pinned to one physical CPU (no migration); its span. */
  pinned?: Span;
  /** `halt_poll T`: this VM's halt_poll_ns ceiling (KVM_CAP_HALT_POLL), over the host's. */
  haltPollNs?: HostValue;
  sources: GuestSource[];
  /** `measured "PATH" [tolerance P%]`: the KVM trace this guest is compared with (docs/traces.md). */
  measured?: MeasuredIR;
}

/** The trace a guest names; reading it is the adapter's job (the core reads no files). */
export interface MeasuredIR {
  /** As written, relative to the .vmcs file unless absolute. */
  path: string;
  /** The string literal (quotes included). */
  pathSpan: Span;
  /** Fraction (0.25 = 25 %); undefined: the default of compareWithTrace. */
  tolerance?: number;
  /** The whole statement. */
  span: Span;
}

export type ExpectMetric =
  | { metric: "overhead" }
  | { metric: "exits"; reason?: ExitReasonDef }
  | { metric: "host_cpu" }
  /** Simulated metrics: "p99 irq_latency" and the like. */
  | { metric: "latency"; percentile: number; of: string };

export interface ExpectIR {
  guest: string;
  guestSpan: Span;
  budgets: {
    metric: ExpectMetric;
    comparator: "<" | "<=";
    /** Normalised: fractions for percentages, per second for rates, seconds for times. */
    value: number;
    span: Span;
  }[];
  span: Span;
}

export interface SimulateIR {
  guest: string;
  guestSpan: Span;
  durationSec: number;
  seed: number;
  span: Span;
}
