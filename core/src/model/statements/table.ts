/**
 * Statement lowerers keyed by keyword. Each statement module exports lowerers for the keywords
 * of one family; a block's table is built from them and checked against the block's statement
 * shapes in lang/grammar.ts (the declaration the parser and completion read), so a statement
 * the parser accepts always has a lowerer and a lowerer never waits for a keyword the parser
 * rejects. Dispatch is one `Map.get` by keyword and a call: no per-statement class hierarchy.
 */

import type { BlockContext, Statement } from "../../lang/ast";
import { STATEMENTS } from "../../lang/grammar";
import type { LowerContext } from "../context";

/** Lowers the statements of `keywords` in a block whose lowering state is `Scope`. */
export interface StatementLowerer<Scope, Result> {
  readonly keywords: readonly string[];
  lower(ctx: LowerContext, scope: Scope, statement: Statement): Result;
}

export type LowerFn<Scope, Result> = StatementLowerer<Scope, Result>["lower"];

/**
 * The keyword → lower table of a block context. Throws at module load (a programming error,
 * caught by every test) when the lowerers and the grammar's statements of `context` differ.
 */
export function statementTable<Scope, Result>(
  context: BlockContext,
  lowerers: readonly StatementLowerer<Scope, Result>[],
  /** Grammar keywords lowered elsewhere (before the table is used). */
  loweredElsewhere: readonly string[] = [],
): ReadonlyMap<string, LowerFn<Scope, Result>> {
  const table = new Map<string, LowerFn<Scope, Result>>();
  for (const lowerer of lowerers)
    for (const keyword of lowerer.keywords) {
      if (table.has(keyword)) throw new Error(`two lowerers for \`${keyword}\` in ${context}`);
      table.set(keyword, lowerer.lower);
    }
  const grammar = STATEMENTS[context];
  const declared = [...(grammar?.keys() ?? [])];
  const missing = declared.filter((k) => !table.has(k) && !loweredElsewhere.includes(k));
  const extra = [...table.keys()].filter((k) => !grammar?.has(k));
  if (missing.length > 0 || extra.length > 0)
    throw new Error(
      `${context} statements: no lowerer for ${missing.join(", ") || "none"}; not in the grammar: ${extra.join(", ") || "none"}`,
    );
  return table;
}
