/**
 * `nodePathAt`: the nodes whose spans cover an offset, outermost first, innermost last. Spans are
 * treated as closed at the end (`start <= offset <= end`) so a cursor just after `hlt_exiting`
 * still counts as inside the `proc` statement, which is what completion and hover want.
 */
import type { Block, BlockEntry, Decl, Item, Node, SourceFile } from "./ast";

function covers(node: Node, offset: number): boolean {
  return node.start <= offset && offset <= node.end;
}

function childrenOf(node: Node): readonly Node[] {
  switch (node.kind) {
    case "File":
      return node.decls;
    case "Target":
      return compact([node.profile, node.frequency, node.body]);
    case "Vmcs":
      return compact([node.name, node.body]);
    case "Handler":
      return compact([node.reason, node.body]);
    case "Fn":
      return compact([node.name, node.body]);
    case "Guest":
      return compact([node.name, node.vmcs, node.body]);
    case "Expect":
      return compact([node.guest, node.body]);
    case "Simulate":
      return compact([node.guest, node.duration, node.seed]);
    case "Hypervisor":
      return compact([node.name, node.vmcs, node.body]);
    case "Block":
      return node.entries;
    case "Statement":
      return node.body === undefined ? node.items : [...node.items, node.body];
    case "Arm":
      return compact<Node>([node.probability, node.label, ...node.statements]);
    case "EptEntry":
      return [node.range, ...node.perms];
    case "Budget":
      return compact<Node>([...node.metric, node.comparator, node.value]);
    case "Range":
      return [node.from, node.to];
    default:
      return [];
  }
}

function compact<T>(nodes: (T | undefined)[]): T[] {
  return nodes.filter((n): n is T => n !== undefined);
}

export function nodePathAt(file: SourceFile, offset: number): Node[] {
  const path: Node[] = [file];
  let current: Node = file;
  // Iterative descent: the depth is bounded by the parser's block cap, but no recursion is needed.
  while (true) {
    const children = childrenOf(current);
    let found: Node | undefined;
    // Children are in source order; prefer the last one covering the offset (so at `a|b`
    // boundaries the token that starts at the offset wins).
    for (const child of children) {
      if (child.start > offset) break;
      if (covers(child, offset)) found = child;
    }
    if (found === undefined) return path;
    path.push(found);
    current = found;
  }
}

export type { Block, BlockEntry, Decl, Item };
