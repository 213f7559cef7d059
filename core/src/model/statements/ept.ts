/**
 * `ept { RANGE PERMS … }` in a `vmcs` block: the guest-physical memory map, one region per
 * line (a single address is its 4 KiB page), checked for reversed and overlapping ranges and
 * for addresses past the target's MAXPHYADDR.
 */

import type { EptEntry, Ident } from "../../lang/ast";
import { EPT_PERMISSIONS } from "../../lang/grammar";
import { u64 } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { EptPermissions, VmcsIR } from "../ir";
import type { StatementLowerer } from "./table";

export const eptStatement: StatementLowerer<VmcsIR, void> = {
  keywords: ["ept"],
  lower(ctx, vmcs, statement) {
    vmcs.eptSpan = spanOf(statement);
    for (const entry of statement.body?.entries ?? []) {
      if (entry.kind !== "EptEntry") continue;
      const region = eptRegion(ctx, entry);
      if (region !== undefined) vmcs.ept.push(region);
    }
    // Overlaps: sort a copy by start (unless written in order, as usual), compare neighbours.
    let inOrder = true;
    for (let i = 1; i < vmcs.ept.length && inOrder; i++)
      inOrder = vmcs.ept[i - 1]!.start <= vmcs.ept[i]!.start;
    const sorted = inOrder
      ? vmcs.ept
      : [...vmcs.ept].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.start <= prev.end) {
        ctx.error("TL209", "this EPT region overlaps another", cur.span, {
          related: [{ span: prev.span, message: "the overlapping region" }],
        });
      }
    }
  },
};

function eptRegion(ctx: LowerContext, entry: EptEntry): VmcsIR["ept"][number] | undefined {
  let start: bigint | undefined;
  let end: bigint | undefined;
  if (entry.range.kind === "Range") {
    start = u64(ctx, entry.range.from, "a guest-physical address", "ept", entry.range);
    end = u64(ctx, entry.range.to, "a guest-physical address", "ept", entry.range);
    if (start !== undefined && end !== undefined && start > end) {
      ctx.error("TL209", "the range ends before it starts", entry.range);
      return undefined;
    }
  } else {
    // A single address: its 4 KiB page.
    const address = u64(ctx, entry.range, "a guest-physical address", "ept", entry.range);
    if (address !== undefined) {
      start = address & ~0xfffn;
      end = start + 0xfffn;
    }
  }
  if (start === undefined || end === undefined || entry.perms.length === 0) return undefined;
  const perms = eptPermissions(ctx, entry.perms);
  if (perms === undefined) return undefined;
  const maxPhys = 1n << BigInt(ctx.target.profile.maxPhysAddrBits);
  if (end >= maxPhys) {
    ctx.report(
      "warning",
      "TL209",
      `the range reaches past the target's ${ctx.target.profile.maxPhysAddrBits}-bit physical-address width`,
      entry.range,
      { reference: "CPUID.80000008H:EAX[7:0] (MAXPHYADDR)" },
    );
  }
  return { start, end, perms, span: spanOf(entry) };
}

function eptPermissions(ctx: LowerContext, perms: Ident[]): EptPermissions | undefined {
  if (perms.length > 1) {
    ctx.error("TL201", "expected one permission word per region (`rwx`, `r`, `none`, …)", perms[1]!);
    return undefined;
  }
  const word = perms[0]!;
  if (word.name === "none") return { kind: "none" };
  if (word.name === "misconfig") return { kind: "misconfig" };
  if (word.name === "apic") return { kind: "apic" };
  let read = false;
  let write = false;
  let execute = false;
  for (const ch of word.name) {
    const seen = ch === "r" ? read : ch === "w" ? write : ch === "x" ? execute : undefined;
    if (seen === undefined || seen) {
      ctx.unknown("TL114", "EPT permission", word, EPT_PERMISSIONS);
      return undefined;
    }
    if (ch === "r") read = true;
    else if (ch === "w") write = true;
    else execute = true;
  }
  if (write && !read) {
    // Bits 2:0 = 010b (`w`) or 110b (`wx`): write without read is an EPT misconfiguration,
    // whatever the access (SDM Vol. 3C §29.3.3.1 "EPT Misconfigurations", older editions
    // §28.2.3.1). The region is modelled as the hardware treats it: every access exits with
    // EPT_MISCONFIG, as with the `misconfig` word KVM's MMIO marker is written with.
    const readable = execute ? "rwx" : "rw";
    ctx.report(
      "warning",
      "TL215",
      `EPT permission \`${word.name}\` allows writes but not reads (bits 2:0 = ${execute ? "110b" : "010b"}): an EPT misconfiguration, so every access to this region exits with EPT_MISCONFIG`,
      word,
      {
        reference: "SDM Vol. 3C §29.3.3.1 EPT Misconfigurations (older editions §28.2.3.1)",
        fixes: [
          {
            title: `Change to \`${readable}\` (readable)`,
            edits: [{ span: { start: word.start, end: word.end }, newText: readable }],
            preferred: true,
          },
          {
            title: "Change to `misconfig` (a deliberate misconfiguration, as KVM marks MMIO)",
            edits: [{ span: { start: word.start, end: word.end }, newText: "misconfig" }],
          },
        ],
      },
    );
    return { kind: "misconfig" };
  }
  return { kind: "rwx", read, write, execute };
}
