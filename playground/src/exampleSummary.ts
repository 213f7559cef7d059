// Kept apart from examples.ts, which imports .vmcs files and so only loads in the bundle.

/**
 * The example's description: its leading comment block, without the `// name.vmcs — ` prefix,
 * as one line (for the picker's tooltip and the page's caption).
 */
export function exampleSummary(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*\/\/\s?(.*)$/.exec(line);
    if (!match) break;
    const content = match[1]!.trim();
    if (content === "") break;
    lines.push(content);
  }
  return lines.join(" ").replace(/^[\w.-]+\.vmcs\s+—\s+/, "");
}
