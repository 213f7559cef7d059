/**
 * Everything the request handlers need about one analysed version of a document, built once per
 * analysis and then only read: a position → element index over the resolved program (so a hover
 * is a binary search, never a re-analysis), the estimate of each guest operation by span, and the
 * symbol table used by definition, references and rename.
 */

import type {
  Analysis,
  ControlSetting,
  FnIR,
  GuestIR,
  GuestOp,
  GuestSource,
  HandlerIR,
  HandlerOp,
  HypervisorIR,
  MsrTrap,
  NestedEstimate,
  NestedOperationEstimate,
  OperationEstimate,
  PortRange,
  ReasonEstimate,
  Span,
  TargetIR,
  VmcsIR,
} from "../../core/src/index";
import { handlerOf, handlerTitle, nestedEstimate } from "../../core/src/index";
import { partitionPoint } from "../../core/src/util/search";

export type IndexEntry =
  | { kind: "control"; span: Span; vmcs: VmcsIR; setting: ControlSetting }
  | { kind: "vmcsName"; span: Span; vmcs: VmcsIR }
  | { kind: "vmcsRef"; span: Span; name: string }
  | { kind: "guestName"; span: Span; guest: GuestIR }
  | { kind: "guestRef"; span: Span; name: string }
  | { kind: "fnName"; span: Span; fn: FnIR }
  | { kind: "fnRef"; span: Span; name: string }
  | { kind: "handlerReason"; span: Span; handler: HandlerIR }
  /** The reason token of a handler inside a `hypervisor` block: L1's handler (nested virtualization). */
  | { kind: "l1HandlerReason"; span: Span; handler: HandlerIR; hypervisor: HypervisorIR }
  | { kind: "hypervisorName"; span: Span; hypervisor: HypervisorIR }
  /** NAME in `guest … in NAME`. */
  | { kind: "hypervisorRef"; span: Span; name: string }
  /** `hypervisor`: the op is written in that hypervisor's handler (L1's operation). */
  | { kind: "handlerOp"; span: Span; op: HandlerOp; owner: HandlerIR | FnIR; hypervisor?: HypervisorIR }
  | { kind: "guestOp"; span: Span; op: GuestOp; guest: GuestIR; source: GuestSource }
  | { kind: "target"; span: Span; target: TargetIR }
  | { kind: "vmcsField"; span: Span; vmcs: VmcsIR; name: string }
  | { kind: "msrTrap"; span: Span; vmcs: VmcsIR; trap: MsrTrap }
  | { kind: "ioTrap"; span: Span; vmcs: VmcsIR; ports: PortRange }
  | { kind: "exceptionBit"; span: Span; vmcs: VmcsIR; vector: number };

export type SymbolKindName = "vmcs" | "guest" | "fn" | "hypervisor";

export interface SymbolInfo {
  kind: SymbolKindName;
  name: string;
  definition: Span;
  references: Span[];
}

/** Top-level blocks, for outline and folding. */
export interface BlockInfo {
  kind: "target" | "vmcs" | "handler" | "fn" | "guest" | "expect" | "simulate" | "hypervisor";
  name: string;
  span: Span;
  selection: Span;
  children: { name: string; detail: string; span: Span; selection: Span }[];
}

/** One exit reason's rate across every guest of the file. */
export interface ReasonTotal {
  exitsPerSecond: number;
  perGuest: { guest: string; estimate: ReasonEstimate }[];
}

/** An L2 operation whose exits (some of them) L0 reflects to an L1 handler. */
export interface L1Reach {
  guest: GuestIR;
  operation: NestedOperationEstimate;
  /** Exits of the handler's reason per execution that reach it. */
  perExecution: number;
  /** Those exits per second, all the guest's vCPUs. */
  exitsPerSecond: number;
}

export class DocumentModel {
  /** Leaf entries sorted by start (ties: larger first, so the innermost comes last). */
  private readonly entries: IndexEntry[] = [];
  /**
   * Estimates of each guest's operations by span start, built per guest on first use: the
   * core derives a guest's per-operation figures only when they are read, so a hover or the
   * inlay hints of the visible lines cost only the guests they touch.
   */
  private readonly operationsByGuest = new Map<string, Map<number, OperationEstimate>>();
  readonly symbols = new Map<string, SymbolInfo>();
  readonly blocks: BlockInfo[] = [];
  #reasonTotals: Map<number, ReasonTotal> | undefined;
  /** Each guest's nested estimate, on first use (undefined: not an L2). */
  private readonly nestedByGuest = new Map<string, NestedEstimate | undefined>();

  constructor(readonly analysis: Analysis) {
    const { program, text } = analysis;
    const entries = this.entries;

    if (program.target.span && program.target.profileSpan) {
      entries.push({ kind: "target", span: program.target.profileSpan, target: program.target });
      this.blocks.push({
        kind: "target",
        name: program.target.profile.name,
        span: program.target.span,
        selection: program.target.profileSpan,
        children: [],
      });
    }

    for (const vmcs of program.vmcs.values()) {
      entries.push({ kind: "vmcsName", span: vmcs.nameSpan, vmcs });
      this.define("vmcs", vmcs.name, vmcs.nameSpan);
      for (const setting of vmcs.settings)
        entries.push({ kind: "control", span: setting.span, vmcs, setting });
      for (const [name, field] of vmcs.fields)
        entries.push({ kind: "vmcsField", span: field.span, vmcs, name });
      for (const trap of vmcs.msrTraps) entries.push({ kind: "msrTrap", span: trap.span, vmcs, trap });
      for (const ports of vmcs.ioTraps) entries.push({ kind: "ioTrap", span: ports.span, vmcs, ports });
      for (const [vector, span] of vmcs.exceptionSpans)
        entries.push({ kind: "exceptionBit", span, vmcs, vector });
      const children: BlockInfo["children"] = [];
      for (const [word, span] of Object.entries(vmcs.wordLines)) {
        if (span) children.push({ name: word, detail: "controls", span, selection: span });
      }
      if (vmcs.eptSpan)
        children.push({
          name: "ept",
          detail: `${vmcs.ept.length} regions`,
          span: vmcs.eptSpan,
          selection: vmcs.eptSpan,
        });
      this.blocks.push({
        kind: "vmcs",
        name: vmcs.name,
        span: vmcs.span,
        selection: vmcs.nameSpan,
        children,
      });
    }

    for (const fn of program.fns.values()) {
      entries.push({ kind: "fnName", span: fn.nameSpan, fn });
      this.define("fn", fn.name, fn.nameSpan);
      this.indexHandlerOps(fn.ops, fn);
      this.blocks.push({ kind: "fn", name: fn.name, span: fn.span, selection: fn.nameSpan, children: [] });
    }

    // The general handlers, then those specialised by operand (sorted by position below).
    const specialised = [...(program.operandHandlers?.values() ?? [])].flat();
    for (const handler of [...program.handlers.values(), ...specialised]) {
      entries.push({ kind: "handlerReason", span: handler.reasonSpan, handler });
      this.indexHandlerOps(handler.ops, handler);
      this.blocks.push({
        kind: "handler",
        name: handlerTitle(handler),
        span: handler.span,
        selection: handler.reasonSpan,
        children: [],
      });
    }

    // L1 hypervisors: the name, its vmcs01, its handlers (general and specialised) as children.
    for (const hypervisor of program.hypervisors.values()) {
      entries.push({ kind: "hypervisorName", span: hypervisor.nameSpan, hypervisor });
      this.define("hypervisor", hypervisor.name, hypervisor.nameSpan);
      if (hypervisor.vmcs !== "")
        entries.push({ kind: "vmcsRef", span: hypervisor.vmcsSpan, name: hypervisor.vmcs });
      const l1Specialised = [...(hypervisor.operandHandlers?.values() ?? [])].flat();
      const handlers = [...hypervisor.handlers.values(), ...l1Specialised].sort(
        (a, b) => a.span.start - b.span.start,
      );
      for (const handler of handlers) {
        entries.push({ kind: "l1HandlerReason", span: handler.reasonSpan, handler, hypervisor });
        this.indexHandlerOps(handler.ops, handler, hypervisor);
      }
      this.blocks.push({
        kind: "hypervisor",
        name: hypervisor.name,
        span: hypervisor.span,
        selection: hypervisor.nameSpan,
        children: handlers.map((handler) => ({
          name: `handler ${handlerTitle(handler)}`,
          detail: "L1",
          span: handler.span,
          selection: handler.reasonSpan,
        })),
      });
    }

    for (const guest of program.guests.values()) {
      entries.push({ kind: "guestName", span: guest.nameSpan, guest });
      this.define("guest", guest.name, guest.nameSpan);
      entries.push({ kind: "vmcsRef", span: guest.vmcsSpan, name: guest.vmcs });
      if (guest.hypervisor !== undefined && guest.hypervisorSpan !== undefined)
        entries.push({ kind: "hypervisorRef", span: guest.hypervisorSpan, name: guest.hypervisor });
      const children: BlockInfo["children"] = [];
      for (const source of guest.sources) {
        this.indexGuestOps(source.ops, guest, source);
        children.push({
          name: source.name,
          detail: source.kind,
          span: source.span,
          selection: source.nameSpan,
        });
      }
      this.blocks.push({
        kind: "guest",
        name: guest.name,
        span: guest.span,
        selection: guest.nameSpan,
        children,
      });
    }

    for (const expect of program.expects) {
      entries.push({ kind: "guestRef", span: expect.guestSpan, name: expect.guest });
      this.blocks.push({
        kind: "expect",
        name: expect.guest,
        span: expect.span,
        selection: expect.guestSpan,
        children: [],
      });
    }
    for (const simulate of program.simulates) {
      entries.push({ kind: "guestRef", span: simulate.guestSpan, name: simulate.guest });
      this.blocks.push({
        kind: "simulate",
        name: simulate.guest,
        span: simulate.span,
        selection: simulate.guestSpan,
        children: [],
      });
    }

    // References, now that every definition is known. A reference to an undefined name still
    // counts (rename keeps it consistent), it just has no definition to jump to.
    for (const entry of entries) {
      if (entry.kind === "vmcsRef") this.reference("vmcs", entry.name, entry.span);
      else if (entry.kind === "guestRef") this.reference("guest", entry.name, entry.span);
      else if (entry.kind === "fnRef") this.reference("fn", entry.name, entry.span);
      else if (entry.kind === "hypervisorRef") this.reference("hypervisor", entry.name, entry.span);
    }

    entries.sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end);
    this.blocks.sort((a, b) => a.span.start - b.span.start);
    void text;
  }

  /** The innermost indexed element covering `offset` (an offset at a token's end counts). */
  elementAt(offset: number): IndexEntry | undefined {
    const entries = this.entries;
    // The last entry starting at or before the offset.
    const last = partitionPoint(0, entries.length, (i) => entries[i]!.span.start <= offset) - 1;
    // Entries nest only inside compound operations (and `call NAME` holds its name): a covering
    // entry that starts earlier contains every later-starting covering one, so walking back the
    // first covering entry is the innermost. The bound keeps a hover on blank space cheap.
    let best: IndexEntry | undefined;
    for (let i = last, seen = 0; i >= 0 && seen < 256; i--, seen++) {
      const entry = entries[i]!;
      if (entry.span.end >= offset) {
        best = entry;
        break;
      }
    }
    return best;
  }

  /** The index of the first entry (in {@link allEntries}) that starts at or after `offset`. */
  firstEntryFrom(offset: number): number {
    const entries = this.entries;
    return partitionPoint(0, entries.length, (i) => entries[i]!.span.start < offset);
  }

  /** The top-level block covering `offset`. */
  blockAt(offset: number): BlockInfo | undefined {
    for (const block of this.blocks) {
      if (block.span.start <= offset && offset <= block.span.end) return block;
      if (block.span.start > offset) break;
    }
    return undefined;
  }

  /** The symbol whose definition or one of whose references covers `offset`. */
  symbolAt(offset: number): SymbolInfo | undefined {
    const entry = this.elementAt(offset);
    if (!entry) return undefined;
    switch (entry.kind) {
      case "vmcsName":
        return this.symbols.get(`vmcs:${entry.vmcs.name}`);
      case "vmcsRef":
        return this.symbols.get(`vmcs:${entry.name}`);
      case "guestName":
        return this.symbols.get(`guest:${entry.guest.name}`);
      case "guestRef":
        return this.symbols.get(`guest:${entry.name}`);
      case "fnName":
        return this.symbols.get(`fn:${entry.fn.name}`);
      case "fnRef":
        return this.symbols.get(`fn:${entry.name}`);
      case "hypervisorName":
        return this.symbols.get(`hypervisor:${entry.hypervisor.name}`);
      case "hypervisorRef":
        return this.symbols.get(`hypervisor:${entry.name}`);
      default:
        return undefined;
    }
  }

  /**
   * Exits/s across every guest by basic reason, with the ReasonEstimate of each guest; built on
   * first use (it solves every guest's per-reason breakdown: see estimateGuest).
   */
  get reasonTotals(): ReadonlyMap<number, ReasonTotal> {
    if (this.#reasonTotals === undefined) {
      const totals = new Map<number, ReasonTotal>();
      for (const estimate of this.analysis.estimates.values()) {
        for (const reason of estimate.byReason) {
          let total = totals.get(reason.code);
          if (!total) {
            total = { exitsPerSecond: 0, perGuest: [] };
            totals.set(reason.code, total);
          }
          total.exitsPerSecond += reason.exitsPerSecond;
          total.perGuest.push({ guest: estimate.guest, estimate: reason });
        }
      }
      this.#reasonTotals = totals;
    }
    return this.#reasonTotals;
  }

  /** The estimate of a guest operation (or of a source's interrupt delivery) starting at `start`. */
  operationAt(guest: GuestIR, start: number): OperationEstimate | undefined {
    return this.operationsOf(guest.name).get(start);
  }

  private operationsOf(guestName: string): Map<number, OperationEstimate> {
    let byStart = this.operationsByGuest.get(guestName);
    if (byStart === undefined) {
      byStart = new Map();
      const estimate = this.analysis.estimates.get(guestName);
      if (estimate) for (const operation of estimate.operations) byStart.set(operation.span.start, operation);
      this.operationsByGuest.set(guestName, byStart);
    }
    return byStart;
  }

  /** Guest operations in the file that exit with a basic reason, for references of a handler. */
  /**
   * The operations whose exits of reason `code` `handler` takes (every handler of the reason
   * without it): a specialised handler's own operands, the general one's the rest.
   */
  operationsExitingWith(code: number, handler?: HandlerIR): OperationEstimate[] {
    const result: OperationEstimate[] = [];
    const program = this.analysis.program;
    for (const guestName of this.analysis.estimates.keys()) {
      for (const operation of this.operationsOf(guestName).values()) {
        const takes = operation.decision.exits.some(
          (effect) =>
            effect.reason.code === code &&
            (handler === undefined || handlerOf(program, code, effect.handler) === handler),
        );
        if (takes) result.push(operation);
      }
    }
    return result.sort((a, b) => a.span.start - b.span.start);
  }

  /** The per-level estimate of an L2 guest (undefined for a guest that is not one), computed once. */
  nestedEstimateOf(guestName: string): NestedEstimate | undefined {
    if (!this.nestedByGuest.has(guestName))
      this.nestedByGuest.set(guestName, nestedEstimate(this.analysis.program, guestName));
    return this.nestedByGuest.get(guestName);
  }

  /**
   * The L2 operations whose exits L0 reflects to `handler` of `hypervisor`: the exits of its
   * reason handled at L1 by that handler (a specialised one takes its operands, the general one
   * the rest), in the L2 guests `hypervisor` runs; in source order.
   */
  l1Reach(hypervisor: HypervisorIR, handler: HandlerIR): L1Reach[] {
    const code = handler.reason.code;
    const index = hypervisor.operandHandlers?.get(code)?.indexOf(handler) ?? -1;
    const variant = index >= 0 ? index : undefined;
    const result: L1Reach[] = [];
    for (const guest of this.analysis.program.guests.values()) {
      const nested = this.nestedEstimateOf(guest.name);
      if (nested?.hypervisor !== hypervisor.name) continue;
      for (const operation of nested.operations) {
        let perExecution = 0;
        let all = 0;
        for (const x of operation.exits) {
          all += x.perExecution;
          if (x.level === "L1" && x.code === code && x.handlerVariant === variant)
            perExecution += x.perExecution;
        }
        if (perExecution <= 0) continue;
        // operation.exitsPerSecond is every exit of the operation, per vCPU.
        const exitsPerSecond = (operation.exitsPerSecond * perExecution * Math.max(0, guest.vcpus)) / all;
        result.push({ guest, operation, perExecution, exitsPerSecond });
      }
    }
    return result.sort((a, b) => a.operation.span.start - b.operation.span.start);
  }

  /**
   * L2 exits per second (all vCPUs) that L0 reflects to `handler` of `hypervisor`: the L1 rows of
   * its reason in the nested estimates of the guests it runs (idle HLTs and interrupts for L1
   * included) when no L1 handler of the reason is specialised by operand; otherwise its share,
   * from the operations it takes ({@link l1Reach}).
   */
  l1ReachedPerSecond(hypervisor: HypervisorIR, handler: HandlerIR): number {
    const code = handler.reason.code;
    let sum = 0;
    if ((hypervisor.operandHandlers?.get(code)?.length ?? 0) > 0) {
      for (const r of this.l1Reach(hypervisor, handler)) sum += r.exitsPerSecond;
      return sum;
    }
    for (const guest of this.analysis.program.guests.values()) {
      const nested = this.nestedEstimateOf(guest.name);
      if (nested?.hypervisor !== hypervisor.name) continue;
      for (const r of nested.byReason) if (r.level === "L1" && r.code === code) sum += r.exitsPerSecond;
    }
    return sum;
  }

  /** Every index entry, in source order (semantic tokens walk them). */
  allEntries(): readonly IndexEntry[] {
    return this.entries;
  }

  private define(kind: SymbolKindName, name: string, span: Span): void {
    const key = `${kind}:${name}`;
    const existing = this.symbols.get(key);
    if (existing) existing.definition = span;
    else this.symbols.set(key, { kind, name, definition: span, references: [] });
  }

  private reference(kind: SymbolKindName, name: string, span: Span): void {
    const key = `${kind}:${name}`;
    let symbol = this.symbols.get(key);
    if (!symbol) {
      // Referenced but never defined: no definition span; rename still updates the references.
      symbol = { kind, name, definition: { start: -1, end: -1 }, references: [] };
      this.symbols.set(key, symbol);
    }
    symbol.references.push(span);
  }

  private indexHandlerOps(ops: HandlerOp[], owner: HandlerIR | FnIR, hypervisor?: HypervisorIR): void {
    for (const op of ops) {
      this.entries.push(
        hypervisor
          ? { kind: "handlerOp", span: op.span, op, owner, hypervisor }
          : { kind: "handlerOp", span: op.span, op, owner },
      );
      if (op.op === "call") {
        const nameSpan = nameSpanAtEnd(this.analysis.text, op.span, op.fn);
        this.entries.push({ kind: "fnRef", span: nameSpan, name: op.fn });
      } else if (op.op === "branch") {
        for (const arm of op.arms) this.indexHandlerOps(arm.ops, owner, hypervisor);
      } else if (op.op === "repeat") this.indexHandlerOps(op.ops, owner, hypervisor);
    }
  }

  private indexGuestOps(ops: GuestOp[], guest: GuestIR, source: GuestSource): void {
    for (const op of ops) {
      this.entries.push({ kind: "guestOp", span: op.span, op, guest, source });
      if (op.op === "tsx" || op.op === "repeat" || op.op === "coalesce")
        this.indexGuestOps(op.ops, guest, source);
      else if (op.op === "branch") for (const arm of op.arms) this.indexGuestOps(arm.ops, guest, source);
    }
  }
}

/** The span of `name` inside `span` (the last occurrence: `call NAME` ends with the name). */
export function nameSpanAtEnd(text: string, span: Span, name: string): Span {
  // Searched inside the span only: an unbounded lastIndexOf walks back through the whole file
  // when the name is not there.
  for (let at = span.end - name.length; at >= span.start; at--) {
    if (text.startsWith(name, at)) return { start: at, end: at + name.length };
  }
  return span;
}

/** The first occurrence of `name` inside `span`, or -1 (bounded by the span, unlike indexOf). */
export function indexInSpan(text: string, span: Span, name: string): number {
  for (let at = span.start, last = span.end - name.length; at <= last; at++) {
    if (text.startsWith(name, at)) return at;
  }
  return -1;
}
