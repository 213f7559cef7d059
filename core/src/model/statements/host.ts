/**
 * The host statements of the `target` block (docs/language.md, "Host"): what the host kernel
 * does around the guest's vCPU threads, each with KVM's default when the file does not set it.
 *
 *   target skylake_server @ 2.1GHz {
 *     pcpus 4                                   // physical CPUs the vCPU threads share
 *     halt_poll 200us grow 2 start 10us shrink 2 // kvm.halt_poll_ns, _grow, _grow_start, _shrink
 *     ple_window grow 2 shrink 0 max 4294967295  // kvm_intel.ple_window_grow, _shrink, _max
 *     preempt rate 200/s for 1ms                 // other host work preempting each vCPU thread
 *   }
 *
 * and the guest statement `pinned` (each vCPU thread on a physical CPU of its own choosing,
 * never migrated). The base PLE window and gap stay the vmcs's `ple gap N window N` (the VMCS
 * fields KVM writes from kvm_intel.ple_gap / ple_window).
 */

import type { Item, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords } from "../../lang/grammar";
import type { Span } from "../../source";
import { KVM_DEFAULTS } from "../../vmx/kvmDefaults";
import { base, dimensionOf, integer, keywordArgs, rate, seconds } from "../args";
import type { LowerContext } from "../context";
import { spanOf } from "../context";
import type { GuestIR, HaltPollIR, HostIR, HostValue, Program, TargetIR } from "../ir";
import type { StatementLowerer } from "./table";

/** The host's physical CPUs a file may name (a 4096-vCPU guest on up to 4096 pCPUs). */
const MAX_PCPUS = 4096;
/** KVM's module parameters are `uint`: factors and the PLE cap are at most UINT_MAX. */
const UINT_MAX = KVM_DEFAULTS.pleWindowMax.value;
/** A poll window longer than a second is not a tuning anyone runs (halt_poll_ns is a uint of ns). */
const MAX_HALT_POLL_SEC = 1;

/** Every host setting with its default; a file's statements replace some (with their span). */
export function defaultHost(): HostIR {
  const d = (value: number): HostValue => ({ value });
  return {
    pcpus: d(0),
    haltPollNs: d(KVM_DEFAULTS.haltPollNs.value),
    haltPollGrow: d(KVM_DEFAULTS.haltPollNsGrow.value),
    haltPollGrowStartNs: d(KVM_DEFAULTS.haltPollNsGrowStart.value),
    haltPollShrink: d(KVM_DEFAULTS.haltPollNsShrink.value),
    pleWindowGrow: d(KVM_DEFAULTS.pleWindowGrow.value),
    pleWindowShrink: d(KVM_DEFAULTS.pleWindowShrink.value),
    pleWindowMax: d(KVM_DEFAULTS.pleWindowMax.value),
    preemptRate: d(0),
    preemptSec: d(0),
  };
}

const DEFAULT_HOST = defaultHost();

/**
 * The host settings in force for a program (and a guest): the file's, KVM's defaults for the
 * rest, with a guest's own `halt_poll T` (the VM's max_halt_poll_ns, KVM_CAP_HALT_POLL) over
 * the host's.
 */
export function hostSettings(program: Program | { target: TargetIR }, guest?: GuestIR): HostIR {
  const host = program.target.host ?? DEFAULT_HOST;
  return guest?.haltPollNs ? { ...host, haltPollNs: guest.haltPollNs } : host;
}

export type HostParam = keyof HostIR;

/** Where each default comes from, for hovers and the estimate report. */
export const HOST_DEFAULT_SOURCE: Record<HostParam, string> = {
  pcpus: "the model's default: one physical CPU per vCPU (no overcommit)",
  haltPollNs: KVM_DEFAULTS.haltPollNs.source,
  haltPollGrow: KVM_DEFAULTS.haltPollNsGrow.source,
  haltPollGrowStartNs: KVM_DEFAULTS.haltPollNsGrowStart.source,
  haltPollShrink: KVM_DEFAULTS.haltPollNsShrink.source,
  pleWindowGrow: KVM_DEFAULTS.pleWindowGrow.source,
  pleWindowShrink: KVM_DEFAULTS.pleWindowShrink.source,
  pleWindowMax: KVM_DEFAULTS.pleWindowMax.source,
  preemptRate: "the model's default: no other host work preempts the vCPU threads",
  preemptSec: "the model's default: no other host work preempts the vCPU threads",
};

function hostOf(target: TargetIR): HostIR {
  target.host ??= defaultHost();
  return target.host;
}

const HALT_POLL_WORDS = argumentWords("target", "halt_poll").pairs!;
const PLE_WINDOW_WORDS = argumentWords("target", "ple_window").pairs!;
const PREEMPT_WORDS = argumentWords("target", "preempt").pairs!;

/** A time that may be 0 (`0`, `0us`: off), in seconds, at most `max`; undefined when diagnosed. */
function timeOrZero(ctx: LowerContext, item: Item | undefined, after: string, at: Span, max: number) {
  if (item?.kind === "Number" && item.value === 0) return 0;
  if (item?.kind === "Quantity" && dimensionOf(item) === "time" && base(item) === 0) return 0;
  const s = seconds(ctx, item, after, at);
  if (s === undefined) return undefined;
  if (s > max) {
    ctx.error("TL205", `\`${after}\` must be at most ${max} s`, item!);
    return undefined;
  }
  return s;
}

const set = (host: HostIR, param: HostParam, value: number | undefined, span: Span): void => {
  if (value !== undefined) host[param] = { value, span };
};

const pcpus: StatementLowerer<TargetIR, void> = {
  keywords: ["pcpus"],
  lower(ctx, target, statement) {
    const n = integer(
      ctx,
      statement.items[0],
      "a physical CPU count",
      "pcpus",
      keywordSpanOf(statement),
      1,
      MAX_PCPUS,
    );
    set(hostOf(target), "pcpus", n, spanOf(statement));
  },
};

/**
 * `halt_poll T grow N start T shrink N` into `into`: the target block's (L0's KVM) and a
 * hypervisor block's (L1's KVM, model/statements/nested.ts) share it.
 */
export function lowerHaltPollInto(ctx: LowerContext, statement: Statement, into: HaltPollIR): void {
  const span = spanOf(statement);
  const put = (param: keyof HaltPollIR, value: number | undefined) => {
    if (value !== undefined) into[param] = { value, span };
  };
  const max = timeOrZero(ctx, statement.items[0], "halt_poll", keywordSpanOf(statement), MAX_HALT_POLL_SEC);
  if (max === undefined) return;
  put("haltPollNs", Math.round(max * 1e9));
  const args = keywordArgs(ctx, statement, HALT_POLL_WORDS, [], 1);
  if (args === undefined) return;
  for (const [word, item] of args) {
    if (item === null) continue;
    if (word === "start") {
      const s = timeOrZero(ctx, item, "start", item, MAX_HALT_POLL_SEC);
      put("haltPollGrowStartNs", s === undefined ? undefined : Math.round(s * 1e9));
    } else {
      const n = integer(ctx, item, "a factor", word, item, 0, UINT_MAX);
      put(word === "grow" ? "haltPollGrow" : "haltPollShrink", n);
    }
  }
}

const haltPoll: StatementLowerer<TargetIR, void> = {
  keywords: ["halt_poll"],
  lower(ctx, target, statement) {
    lowerHaltPollInto(ctx, statement, hostOf(target));
  },
};

/**
 * L1's halt-poll settings: its hypervisor block's `halt_poll`, KVM's defaults for the rest — a
 * KVM L1 runs kvm_vcpu_halt for its L2's vCPUs with its own module parameters; nothing in KVM
 * turns polling off because KVM itself runs as a guest (kvm_arch_no_poll, arch/x86/kvm/x86.c,
 * reads only MSR_KVM_POLL_CONTROL, which L2 writes; docs/language.md "Nested virtualization").
 */
export function l1HaltPoll(hypervisor: { haltPoll?: HaltPollIR }): HaltPollIR {
  const d = DEFAULT_HOST;
  const own = hypervisor.haltPoll;
  return {
    haltPollNs: own?.haltPollNs ?? d.haltPollNs,
    haltPollGrow: own?.haltPollGrow ?? d.haltPollGrow,
    haltPollGrowStartNs: own?.haltPollGrowStartNs ?? d.haltPollGrowStartNs,
    haltPollShrink: own?.haltPollShrink ?? d.haltPollShrink,
  };
}

/** Whether L1's KVM halt-polls at all: a ceiling above 0 and a window that can grow from 0 (grow_halt_poll_ns). */
export function l1Polls(hypervisor: { haltPoll?: HaltPollIR }): boolean {
  const h = l1HaltPoll(hypervisor);
  return h.haltPollNs.value > 0 && h.haltPollGrow.value > 0;
}

const pleWindow: StatementLowerer<TargetIR, void> = {
  keywords: ["ple_window"],
  lower(ctx, target, statement) {
    const host = hostOf(target);
    const span = spanOf(statement);
    const args = keywordArgs(ctx, statement, PLE_WINDOW_WORDS);
    if (args === undefined) return;
    if (args.size === 0)
      ctx.error("TL201", "expected `grow N`, `shrink N` or `max N` after `ple_window`", span);
    for (const [word, item] of args) {
      if (item === null) continue;
      const n = integer(
        ctx,
        item,
        word === "max" ? "a window in TSC cycles" : "a modifier",
        word,
        item,
        0,
        UINT_MAX,
      );
      set(
        host,
        word === "grow" ? "pleWindowGrow" : word === "shrink" ? "pleWindowShrink" : "pleWindowMax",
        n,
        span,
      );
    }
  },
};

const preempt: StatementLowerer<TargetIR, void> = {
  keywords: ["preempt"],
  lower(ctx, target, statement) {
    const host = hostOf(target);
    const span = spanOf(statement);
    const args = keywordArgs(ctx, statement, PREEMPT_WORDS);
    if (args === undefined) return;
    const rateItem = args.get("rate");
    const forItem = args.get("for");
    if (rateItem == null || forItem == null) {
      ctx.error("TL201", "expected `preempt rate R for T` (e.g. `preempt rate 200/s for 1ms`)", span);
      return;
    }
    const r = rate(ctx, rateItem, "rate", rateItem);
    const d = seconds(ctx, forItem, "for", forItem);
    if (r === undefined || d === undefined) return;
    if (r * d >= 1) {
      ctx.error(
        "TL205",
        `preemption for ${d} s at ${r}/s keeps each vCPU thread off its CPU all the time (rate × time must stay below 1)`,
        span,
      );
      return;
    }
    set(host, "preemptRate", r, span);
    set(host, "preemptSec", d, span);
  },
};

/** The target block's host statements (the target's table includes them). */
export const HOST_LOWERERS: readonly StatementLowerer<TargetIR, void>[] = [
  pcpus,
  haltPoll,
  pleWindow,
  preempt,
];

/**
 * The guest statement `halt_poll T`: this VM's ceiling of the poll window, as a VMM sets it with
 * KVM_CAP_HALT_POLL (kvm->max_halt_poll_ns, read by kvm_vcpu_max_halt_poll_ns,
 * virt/kvm/kvm_main.c); the host's grow/start/shrink still apply.
 */
export const guestHaltPoll: StatementLowerer<GuestIR, undefined> = {
  keywords: ["halt_poll"],
  lower(ctx, guest, statement: Statement) {
    const max = timeOrZero(ctx, statement.items[0], "halt_poll", keywordSpanOf(statement), MAX_HALT_POLL_SEC);
    if (max !== undefined) guest.haltPollNs = { value: Math.round(max * 1e9), span: spanOf(statement) };
    return undefined;
  },
};

/** The guest statement `pinned`. */
export const pinned: StatementLowerer<GuestIR, undefined> = {
  keywords: ["pinned"],
  lower(_ctx, guest, statement: Statement) {
    guest.pinned = spanOf(statement);
    return undefined;
  },
};
