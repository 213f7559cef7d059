/**
 * Simulation commands (Run Simulation, Export Trace) open the timeline panel. They are registered
 * only when the panel module is present, so no dead command is ever offered.
 */
import type * as vscode from "vscode";
import type { FileStatusParams } from "../../server/src/protocol";

export interface SimulationHost {
  output: vscode.OutputChannel;
  activeVmcsUri: (given?: unknown) => string | undefined;
  pickGuest: (uri: string, given?: unknown) => Promise<string | undefined>;
  statusOf: (uri: string) => FileStatusParams | undefined;
}

export function simulationAvailable(): boolean {
  return false;
}

export function registerSimulationCommands(_context: vscode.ExtensionContext, _host: SimulationHost): void {}
