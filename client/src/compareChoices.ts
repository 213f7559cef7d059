/**
 * The choices of "Compare Configurations" (pure: no `vscode` at run time, so tests import it in
 * Node). Running a guest on another vmcs block is a request option (`vmcs`); the panel's page
 * substitutes the guest's `on X` reference in a copy of the text (webview/src/runRequest.ts).
 * Running it on another CPU is the request option `target` (a profile name); the page takes the
 * lowered program with that CPU as its target, as the language server's `trapline/compare` rows
 * for other CPUs do.
 */
import type * as vscode from "vscode";
import type { FileInfoResult } from "../../protocol/lsp";
import type { TimelineRunOptions } from "./timelinePanel";

/** One choice of the Compare Configurations quick pick. */
export interface CompareChoice extends vscode.QuickPickItem {
  a?: TimelineRunOptions;
  b?: TimelineRunOptions;
  staticReport?: boolean;
  /** Ask for the CPU next (otherCpuChoices): A as written, B on that CPU. */
  otherCpu?: boolean;
}

/** A CPU profile as `trapline/fileInfo` lists it. */
export type CpuProfileInfo = FileInfoResult["profiles"][number];

/**
 * The comparisons offered for `guest`: its own vmcs block (A) against each other block (B)
 * first, then the other pairs, the guest on another CPU (the CPU is asked next), the last saved
 * version against the editor's text, and the static report. `fileCpu` is the file's target
 * profile (for the descriptions). Pure, so the ordering is tested without VS Code.
 */
export function compareChoices(
  guest: string,
  ownVmcs: string | undefined,
  vmcsBlocks: readonly string[],
  dirty: boolean,
  fileCpu?: string,
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
    label: `$(chip) ${fileCpu ?? "This CPU"} ↔ another CPU…`,
    description: `${guest}${ownVmcs ? ` on its own ${ownVmcs}` : ""}, as written (A) and on a CPU you pick next (B), simulated`,
    otherCpu: true,
  });
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

/**
 * The second pick of "another CPU": every profile but the file's own (`fileCpu`), oldest first,
 * each running the guest as written (A) against the guest on its own vmcs block on that CPU (B,
 * the request's `target`). The description says how far the CPU is from the file's: the profiles
 * are successive generations, each adding features to the one before (docs/hardware.md), so an
 * older one may lack a control the guest's block uses (the run is then refused, VMX-CAP1).
 */
export function otherCpuChoices(
  guest: string,
  profiles: readonly CpuProfileInfo[],
  fileCpu: string | undefined,
): CompareChoice[] {
  const own = profiles.findIndex((p) => p.name === fileCpu);
  return profiles.flatMap((p, i) => {
    if (p.name === fileCpu) return [];
    const apart = Math.abs(i - own);
    const relation =
      own < 0
        ? ""
        : ` · ${apart} generation${apart === 1 ? "" : "s"} ${i < own ? "older" : "newer"} than ${fileCpu}`;
    return [
      {
        label: p.displayName,
        description: `${p.name} · ${p.year}${relation}`,
        a: { guest },
        b: { guest, target: p.name },
      },
    ];
  });
}
