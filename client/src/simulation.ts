/**
 * Simulation commands: Run Simulation (also the "▶ Simulate" code lens and the editor-title
 * button), Compare Configurations, Export Trace and Open Trace (a measured KVM trace in the same
 * panel, alone or beside the simulation shown). All of them open the timeline panel
 * (client/src/timelinePanel.ts), which runs the simulations and trace imports in its own worker.
 */
import * as vscode from "vscode";
import type { FileInfoResult, FileStatusParams } from "../../protocol/lsp";
import { BUDGET_CODE } from "../../protocol/panel";
import { type CompareChoice, compareChoices, otherCpuChoices } from "./compareChoices";
import { registerTimelinePanels } from "./timelinePanel";

export interface SimulationHost {
  output: vscode.OutputChannel;
  activeVmcsUri: (given?: unknown) => string | undefined;
  pickGuest: (uri: string, given?: unknown) => Promise<string | undefined>;
  statusOf: (uri: string) => FileStatusParams | undefined;
  fileInfo: (uri: string) => Promise<FileInfoResult>;
  /** The language server's static comparison (every vmcs block, other CPUs) as a report. */
  staticCompare: (uri: string, guest: string) => Promise<void>;
}

/** The panel module is bundled with the extension: the simulate lens can be offered. */
export function simulationAvailable(): boolean {
  return true;
}

export function registerSimulationCommands(context: vscode.ExtensionContext, host: SimulationHost): void {
  // Registered at activation so panels restore after a window reload.
  const panels = registerTimelinePanels(context);
  const documentOf = (uri: string) =>
    vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri) ??
    vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
  const guarded =
    <A extends unknown[]>(name: string, command: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await command(...args);
      } catch (error) {
        host.output.appendLine(
          `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        void vscode.window.showErrorMessage(
          `Trapline ${name}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    };

  /**
   * Errors in the file are shown, not simulated: when the language server's diagnostics of the
   * file have errors (other than violated budgets, which the simulation is there to show, as in
   * `trapline simulate`), say so and offer the Problems view. The panel's worker refuses such
   * text too, with the first error's location, in case the diagnostics lag behind an edit.
   */
  const refuseErrors = (document: vscode.TextDocument): boolean => {
    const errors = vscode.languages
      .getDiagnostics(document.uri)
      .filter(
        (d) =>
          d.severity === vscode.DiagnosticSeverity.Error &&
          (typeof d.code === "object" ? d.code.value : d.code) !== BUDGET_CODE,
      );
    if (errors.length === 0) return false;
    const name = document.uri.path.slice(document.uri.path.lastIndexOf("/") + 1);
    const first = errors[0]!;
    void vscode.window
      .showErrorMessage(
        `Trapline: ${name} has ${errors.length === 1 ? "an error" : `${errors.length} errors`} (line ${first.range.start.line + 1}: ${first.message}); fix ${errors.length === 1 ? "it" : "them"} to simulate.`,
        "Show Problems",
      )
      .then((choice) => {
        if (choice === "Show Problems")
          void vscode.commands.executeCommand("workbench.actions.view.problems");
      });
    return true;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(
      "trapline.runSimulation",
      guarded("Run Simulation", async (uriArg?: unknown, guestArg?: unknown) => {
        const uri = host.activeVmcsUri(uriArg);
        if (!uri) return;
        const document = await documentOf(uri);
        if (refuseErrors(document)) return;
        const guest = await host.pickGuest(uri, guestArg);
        if (!guest) {
          void vscode.window.showInformationMessage("Trapline: the file has no guest to simulate.");
          return;
        }
        // Duration and seed: the page reads the file's `simulate GUEST for … seed …` line of the
        // text it simulates, else the settings (see TimelinePanels.request).
        await panels.show(document, { guest });
      }),
    ),
    vscode.commands.registerCommand(
      "trapline.compareConfigurations",
      guarded("Compare Configurations", async (uriArg?: unknown, guestArg?: unknown) => {
        const uri = host.activeVmcsUri(uriArg);
        if (!uri) return;
        const document = await documentOf(uri);
        const guest = await host.pickGuest(uri, guestArg);
        if (!guest) {
          void vscode.window.showInformationMessage("Trapline: the file has no guest to compare.");
          return;
        }
        const info = await host.fileInfo(uri);
        const ownVmcs = host.statusOf(uri)?.guests.find((g) => g.name === guest)?.vmcs;
        // "" when the server has not analysed the file (it then lists no guest either).
        const fileCpu = info.target.profile || undefined;
        let choice: CompareChoice | undefined = await vscode.window.showQuickPick(
          compareChoices(guest, ownVmcs, info.vmcs, document.isDirty && !document.isUntitled, fileCpu).filter(
            (c) => !(c.a?.savedVersion && document.isUntitled),
          ),
          { placeHolder: `Compare ${guest}: A ↔ B`, matchOnDescription: true },
        );
        if (!choice) return;
        if (choice.staticReport) {
          await host.staticCompare(uri, guest);
          return;
        }
        if (choice.otherCpu) {
          choice = await vscode.window.showQuickPick(otherCpuChoices(guest, info.profiles, fileCpu), {
            placeHolder: `Compare ${guest}: as written${fileCpu ? ` on ${fileCpu}` : ""} (A) ↔ on this CPU (B)`,
            matchOnDescription: true,
          });
          if (!choice) return;
        }
        if (!choice.a || !choice.b) return;
        if (!choice.a.savedVersion && refuseErrors(document)) return;
        await panels.compare({ document, options: choice.a }, { document, options: choice.b });
      }),
    ),
    vscode.commands.registerCommand(
      "trapline.openTrace",
      guarded("Open Trace", async (uriArg?: unknown) => {
        // A URI (or its string) argument skips the picker: keybindings, tasks and tests.
        const given =
          uriArg instanceof vscode.Uri
            ? uriArg
            : typeof uriArg === "string"
              ? vscode.Uri.parse(uriArg)
              : undefined;
        const picked =
          given ??
          (
            await vscode.window.showOpenDialog({
              canSelectMany: false,
              openLabel: "Open Trace",
              title: "Open a KVM trace (trace-cmd report, ftrace, perf script, perf kvm stat, kvm_stat)",
              filters: { "Trace text": ["txt", "log", "trace", "report", "out"], "All files": ["*"] },
            })
          )?.[0];
        if (!picked) return;
        // While a simulation panel is shown, offer to set the trace beside it (docs/timeline.md).
        const shown = panels.shownSimulation();
        if (shown) {
          const alone = { label: "Open the trace alone", compare: false };
          const beside = {
            label: `Compare with the simulation shown: ${shown.label}`,
            description: "aligned lanes, A = simulation, B = trace",
            compare: true,
          };
          const choice = await vscode.window.showQuickPick([beside, alone], {
            placeHolder: `Open ${picked.path.slice(picked.path.lastIndexOf("/") + 1)}`,
          });
          if (!choice) return;
          if (choice.compare) {
            await panels.openTrace(picked, { uri: shown.uri, options: shown.options });
            return;
          }
        }
        await panels.openTrace(picked);
      }),
    ),
    vscode.commands.registerCommand(
      "trapline.exportTrace",
      guarded("Export Trace", async (uriArg?: unknown) => {
        const uri = host.activeVmcsUri(uriArg);
        if (!uri) return;
        const format = await vscode.window.showQuickPick(
          [
            {
              label: "Chrome trace JSON",
              description: "the timeline; opens in Perfetto and chrome://tracing",
              format: "chrome-json" as const,
            },
            {
              label: "CSV",
              description: "statistics, one line per exit reason",
              format: "csv" as const,
            },
          ],
          { placeHolder: "Export the simulated run as" },
        );
        if (!format) return;
        const document = await documentOf(uri);
        if (refuseErrors(document)) return;
        await panels.exportFrom(document, format.format);
      }),
    ),
  );
}
