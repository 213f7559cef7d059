/**
 * Simulation commands: Run Simulation (also the "▶ Simulate" code lens and the editor-title
 * button) and Export Trace. Both open the timeline panel (client/src/timelinePanel.ts), which
 * runs the simulation in its own worker.
 */
import * as vscode from "vscode";
import type { FileStatusParams } from "../../server/src/protocol";
import { registerTimelinePanels } from "./timelinePanel";

export interface SimulationHost {
  output: vscode.OutputChannel;
  activeVmcsUri: (given?: unknown) => string | undefined;
  pickGuest: (uri: string, given?: unknown) => Promise<string | undefined>;
  statusOf: (uri: string) => FileStatusParams | undefined;
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

  context.subscriptions.push(
    vscode.commands.registerCommand(
      "trapline.runSimulation",
      guarded("Run Simulation", async (uriArg?: unknown, guestArg?: unknown) => {
        const uri = host.activeVmcsUri(uriArg);
        if (!uri) return;
        const guest = await host.pickGuest(uri, guestArg);
        if (!guest) {
          void vscode.window.showInformationMessage("Trapline: the file has no guest to simulate.");
          return;
        }
        // The file's `simulate GUEST for … seed …` line gives the defaults.
        const defaults = host.statusOf(uri)?.guests.find((g) => g.name === guest)?.simulate;
        await panels.show(await documentOf(uri), {
          guest,
          durationSec: defaults?.durationSec,
          seed: defaults?.seed,
        });
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
              description: "opens in Perfetto and chrome://tracing",
              format: "chrome-json" as const,
            },
            { label: "CSV", description: "one interval per line", format: "csv" as const },
          ],
          { placeHolder: "Export the simulated timeline as" },
        );
        if (!format) return;
        await panels.exportFrom(await documentOf(uri), format.format);
      }),
    ),
  );
}
