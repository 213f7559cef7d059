/**
 * Lowering: syntax tree → Program IR. Resolves the target first (it may appear anywhere; times
 * convert to cycles at its frequency), then names (controls, exit reasons, VMCS fields, MSRs,
 * exception vectors, vmcs/fn/guest references), converts units and checks values. Every problem
 * is a located diagnostic (codes TL1xx names, TL2xx values; docs/language.md); lowering never
 * throws on any tree the parser produces.
 *
 * This file is the driver (declaration order, waiting for the target and the fns, references,
 * the recursion check). Each declaration and statement is lowered by its module in
 * `statements/`, from a keyword table built against lang/grammar.ts; statement arguments are
 * read by `args.ts`; the shared state and the diagnostics sink are `context.ts`.
 */

import type { Decl, TargetDecl } from "../lang/ast";
import { keywordSpanOf } from "../lang/ast";
import type { ParseResult } from "../lang/parser";
import type { Diagnostic, Span } from "../source";
import { exitReasonByCode, exitReasonByName } from "../vmx/exitReasons";
import type { VmcsFieldDef } from "../vmx/types";
import { LowerContext, type LowerOptions, spanOf, spanUnion, tokenDeletionSpan } from "./context";
import type { Program } from "./ir";
import { lowerExpect, lowerSimulate } from "./statements/expect";
import { lowerGuest } from "./statements/guest";
import { checkRecursion, lowerFn, lowerHandler } from "./statements/handler";
import { checkGuestLevels, lowerHypervisor } from "./statements/nested";
import { lowerTarget } from "./statements/target";
import { lowerVmcs } from "./statements/vmcs";
import type { SymbolDef, SymbolIndex, SymbolKind } from "./symbols";

export type { LowerOptions };

export interface LowerResult {
  program: Program;
  symbols: SymbolIndex;
  diagnostics: Diagnostic[];
}

export function lower(parse: ParseResult, options: LowerOptions = {}): LowerResult {
  const lowerer = new Lowerer(parse.text, options);
  for (const decl of parse.file.decls) lowerer.add(decl);
  return lowerer.finish();
}

/**
 * Lowers declarations as they are parsed (`add`, in source order), then `finish`. Each
 * declaration is lowered as soon as what it needs is known, so its syntax tree can go before
 * the next one is parsed: the target (times become cycles at its frequency) and, for handlers
 * and fns, every fn (a `call` of an unknown fn is dropped). Declarations before the `target`
 * line wait for it, or for the end of the file (the default target); handlers and fns wait for
 * the end. References to vmcs, guests and handlers are resolved at the end, when every name is
 * defined, so the order of declarations never matters. The result is the same as lowering the
 * whole tree at once.
 */
export class Lowerer {
  private readonly ctx: LowerContext;
  /** Whether the target is known (its declaration lowered, or the end reached without one). */
  private targetKnown = false;
  /** The first `target` declaration (later ones are reported against it). */
  private firstTarget: TargetDecl | undefined;
  /** Declarations waiting for the target. */
  private readonly waitingForTarget: { decl: Decl; def: SymbolDef | undefined }[] = [];
  /** Handlers and fns, lowered at the end (they may call fns defined further down). */
  private readonly waitingForFns: { decl: Decl; def: SymbolDef | undefined }[] = [];

  constructor(text: string, options: LowerOptions) {
    this.ctx = new LowerContext(text, options);
  }

  /** The next top-level declaration, in source order. */
  add(decl: Decl): void {
    const ctx = this.ctx;
    const def = this.defineDecl(decl);
    if (def !== undefined && (def.kind === "vmcs" || def.kind === "guest" || def.kind === "fn")) {
      // Duplicate handlers are checked by reason code in lowerHandler.
      const first = ctx.symbols.lookup(def.kind, def.name);
      if (first !== undefined && first !== def) {
        ctx.error("TL101", `duplicate ${def.kind} \`${def.name}\`: names are unique per kind`, def.nameSpan, {
          related: [{ span: first.nameSpan, message: `\`${def.name}\` is first defined here` }],
        });
      }
    }
    if (decl.kind === "Target") {
      if (this.firstTarget === undefined) {
        this.firstTarget = decl;
        this.lowerTarget(decl);
        for (const waiting of this.waitingForTarget.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
      } else {
        ctx.error("TL101", "only one `target` per file", keywordSpanOf(decl), {
          related: [{ span: keywordSpanOf(this.firstTarget), message: "the target is declared here" }],
        });
      }
      return;
    }
    if (decl.kind === "Handler" || decl.kind === "Fn" || decl.kind === "Hypervisor")
      this.waitingForFns.push({ decl, def });
    else if (!this.targetKnown) this.waitingForTarget.push({ decl, def });
    else this.lowerDecl(decl, def);
  }

  /** After the last declaration: what waited, the references, the recursion check. */
  finish(): LowerResult {
    const ctx = this.ctx;
    if (!this.targetKnown) {
      this.lowerTarget(undefined);
      for (const waiting of this.waitingForTarget.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
    }
    for (const waiting of this.waitingForFns.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
    // In source order, as they would have been found in one pass.
    const pending = ctx.pendingReferences.sort((a, b) => a.ident.start - b.ident.start);
    for (const { kind, ident, code, lookupName } of pending)
      ctx.resolveReference(kind, ident, code, lookupName);
    checkGuestLevels(ctx);
    checkRecursion(ctx);
    return { program: ctx.program, symbols: ctx.symbols, diagnostics: ctx.diagnostics };
  }

  private lowerTarget(decl: TargetDecl | undefined): void {
    this.targetKnown = true;
    lowerTarget(this.ctx, decl);
  }

  private lowerDecl(decl: Decl, def: SymbolDef | undefined): void {
    switch (decl.kind) {
      case "Vmcs":
        lowerVmcs(this.ctx, decl);
        break;
      case "Handler":
        lowerHandler(this.ctx, decl);
        break;
      case "Fn":
        lowerFn(this.ctx, decl);
        break;
      case "Guest":
        lowerGuest(this.ctx, decl, def);
        break;
      case "Expect":
        lowerExpect(this.ctx, decl);
        break;
      case "Simulate":
        lowerSimulate(this.ctx, decl);
        break;
      case "Hypervisor":
        lowerHypervisor(this.ctx, decl);
        break;
      case "Target":
        break;
    }
  }

  private defineDecl(decl: Decl): SymbolDef | undefined {
    switch (decl.kind) {
      case "Target":
        return decl.profile ? this.define(decl, "target", decl.profile.name, decl.profile) : undefined;
      case "Vmcs":
        return decl.name ? this.define(decl, "vmcs", decl.name.name, decl.name) : undefined;
      case "Fn":
        return decl.name ? this.define(decl, "fn", decl.name.name, decl.name) : undefined;
      case "Guest":
        return decl.name
          ? this.define(
              decl,
              "guest",
              decl.name.name,
              decl.name,
              decl.vmcs ? `on ${decl.vmcs.name}` : undefined,
            )
          : undefined;
      case "Handler": {
        if (decl.reason === undefined) return undefined;
        const reason =
          decl.reason.kind === "Ident"
            ? exitReasonByName(decl.reason.name)
            : exitReasonByCode(decl.reason.value);
        const name = reason?.name ?? (decl.reason.kind === "Ident" ? decl.reason.name : decl.reason.text);
        return this.define(
          decl,
          "handler",
          name,
          decl.reason,
          reason ? `exit reason ${reason.code}` : undefined,
        );
      }
      case "Expect":
        return decl.guest ? this.define(decl, "expect", decl.guest.name, decl.guest) : undefined;
      case "Simulate":
        return decl.guest ? this.define(decl, "simulate", decl.guest.name, decl.guest) : undefined;
      case "Hypervisor":
        return decl.name
          ? this.define(
              decl,
              "hypervisor",
              decl.name.name,
              decl.name,
              decl.vmcs ? `on ${decl.vmcs.name}` : undefined,
            )
          : undefined;
    }
  }

  private define(decl: Decl, kind: SymbolKind, name: string, nameSpan: Span, detail?: string): SymbolDef {
    return this.ctx.symbols.define({ kind, name, span: spanOf(decl), nameSpan, detail, children: [] });
  }
}

export type { VmcsFieldDef };
export { spanUnion, tokenDeletionSpan };
