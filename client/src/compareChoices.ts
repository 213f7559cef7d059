/**
 * The choices of "Compare Configurations" (pure: no `vscode` at run time, so tests import it in
 * Node). Running a guest on another vmcs block is a request option (`vmcs`); the panel's page
 * substitutes the guest's `on X` reference in a copy of the text (webview/src/runRequest.ts).
 */
import type * as vscode from "vscode";
import type { TimelineRunOptions } from "./timelinePanel";

/** One choice of the Compare Configurations quick pick. */
export interface CompareChoice extends vscode.QuickPickItem {
  a?: TimelineRunOptions;
  b?: TimelineRunOptions;
  staticReport?: boolean;
}

/**
 * The comparisons offered for `guest`: its own vmcs block (A) against each other block (B)
 * first, then the other pairs, the last saved version against the editor's text, and the
 * static report. Pure, so the ordering is tested without VS Code.
 */
export function compareChoices(
  guest: string,
  ownVmcs: string | undefined,
  vmcsBlocks: readonly string[],
  dirty: boolean,
): CompareChoice[] {
  const choices: CompareChoice[] = [];
  const pair = (x: string, y: string, own: boolean): CompareChoice => ({
    label: `${x} ↔ ${y}`,
    description: own
      ? `${guest} on its own ${x} (A) and on ${y} (B), simulated`
      : `${guest} on ${x} (A) and on ${y} (B), simulated`,
    a: { guest, vmcs: x },
    b: { guest, vmcs: y },
  });
  if (ownVmcs !== undefined) {
    for (const other of vmcsBlocks) if (other !== ownVmcs) choices.push(pair(ownVmcs, other, true));
  }
  for (let i = 0; i < vmcsBlocks.length; i++) {
    for (let j = i + 1; j < vmcsBlocks.length; j++) {
      const x = vmcsBlocks[i]!;
      const y = vmcsBlocks[j]!;
      if (x !== ownVmcs && y !== ownVmcs) choices.push(pair(x, y, false));
    }
  }
  choices.push({
    label: "$(history) Last saved version ↔ current text",
    description: dirty
      ? `${guest}: the saved file (A) against your unsaved changes (B), simulated`
      : `${guest}: the file has no unsaved changes, both runs will be the same`,
    a: { guest, savedVersion: true },
    b: { guest },
  });
  choices.push({
    label: "$(graph) Static estimate: every vmcs block, other CPUs…",
    description: "a report from the estimator, without simulating",
    staticReport: true,
  });
  return choices;
}
