/**
 * The symbol index: definitions (with children, for the outline) and references, each reference
 * linked to its definition. The language server answers definition, references, rename, document
 * symbols and highlights from this alone.
 */
import type { Span } from "../source";

export type SymbolKind =
  | "target"
  | "vmcs"
  | "handler"
  | "fn"
  | "guest"
  | "path"
  | "irq"
  | "timer"
  | "ipi"
  | "nmi"
  | "expect"
  | "simulate"
  | "hypervisor";

export interface SymbolDef {
  kind: SymbolKind;
  /** The declared name; for a handler the exit reason's canonical name. */
  name: string;
  /** The whole declaration. */
  span: Span;
  /** The name token (for a handler the reason token; for target the profile). */
  nameSpan: Span;
  /** One-line description for the outline ("on kvm", "rate 100k/s", "49"). */
  detail?: string;
  children: SymbolDef[];
}

/** The kinds a reference can point at. */
export type ReferenceKind = "vmcs" | "guest" | "fn" | "handler" | "hypervisor";

export interface SymbolRef {
  kind: ReferenceKind;
  /** As written. */
  name: string;
  span: Span;
  /** The definition it resolves to; undefined when unresolved (diagnosed). */
  definition?: SymbolDef;
}

function within(span: Span, offset: number): boolean {
  return span.start <= offset && offset <= span.end;
}

export class SymbolIndex {
  /** Top-level definitions in source order, children nested. */
  readonly definitions: SymbolDef[] = [];
  readonly references: SymbolRef[] = [];
  private readonly byKind = new Map<SymbolKind, Map<string, SymbolDef>>();

  /** Registers a top-level definition (the first of a name wins lookups; duplicates are diagnosed). */
  define(def: SymbolDef): SymbolDef {
    this.definitions.push(def);
    let names = this.byKind.get(def.kind);
    if (names === undefined) {
      names = new Map();
      this.byKind.set(def.kind, names);
    }
    if (!names.has(def.name)) names.set(def.name, def);
    return def;
  }

  lookup(kind: SymbolKind, name: string): SymbolDef | undefined {
    return this.byKind.get(kind)?.get(name);
  }

  reference(ref: SymbolRef): void {
    this.references.push(ref);
  }

  /** The definition whose name token covers the offset (children included). */
  definitionAt(offset: number): SymbolDef | undefined {
    const stack = [...this.definitions];
    while (stack.length > 0) {
      const def = stack.pop()!;
      if (within(def.nameSpan, offset)) return def;
      if (within(def.span, offset)) stack.push(...def.children);
    }
    return undefined;
  }

  referenceAt(offset: number): SymbolRef | undefined {
    for (const ref of this.references) if (within(ref.span, offset)) return ref;
    return undefined;
  }

  /** The definition named at the offset, whether the offset is on the definition or a reference. */
  resolveAt(offset: number): SymbolDef | undefined {
    return this.referenceAt(offset)?.definition ?? this.definitionAt(offset);
  }

  referencesTo(def: SymbolDef): SymbolRef[] {
    return this.references.filter((ref) => ref.definition === def);
  }
}
