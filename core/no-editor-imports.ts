/**
 * What `vscode`, `vscode-*` and `monaco-editor` resolve to when core/tsconfig.json type-checks
 * the core (its `paths`). @types/vscode declares an ambient `declare module "vscode"` that
 * TypeScript finds through node_modules/@types for any import of that name, whatever `types`
 * says, so without this an editor import in core/src would type-check. An import of one of
 * those names pulls this file into the program, and the line below fails with the rule.
 */
export const rule: "core/src is editor-free: no vscode or monaco imports (docs/ARCHITECTURE.md)" = "violated";
