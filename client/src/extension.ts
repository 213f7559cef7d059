/**
 * The Trapline VS Code extension: starts the language server from the CLI bundle
 * (`dist/cli/trapline.js lsp --node-ipc`), shows the file's exit overhead in a language status
 * item, and registers the Trapline commands. All analysis happens in the server (or, for
 * simulations, in the timeline panel's worker); this file only wires VS Code to them.
 */
import { join } from "node:path";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import type {
  CompareParams,
  CompareResult,
  EstimateReportParams,
  EstimateReportResult,
  FileInfoParams,
  FileInfoResult,
  FileStatusParams,
} from "../../protocol/lsp";
import { registerSimulationCommands, simulationAvailable } from "./simulation";
import { formatStatus } from "./status";
import { registerSweepCommand } from "./sweepPanel";

const LANGUAGE_ID = "vmcs";
const REPORT_SCHEME = "trapline-report";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Trapline", { log: true });
  context.subscriptions.push(output);

  // The server is the CLI bundle's `trapline lsp --stdio` (as rust-analyzer ships it): the same
  // file runs as the command line and as the server. vscode-languageclient forks it with Node
  // (ELECTRON_RUN_AS_NODE in desktop VS Code) and appends `--stdio` for the stdio transport.
  const serverModule = context.asAbsolutePath(join("dist", "cli", "trapline.js"));
  // A larger young generation: one analysis of a large file allocates ~16 MB, and with V8's
  // default semi-space every keystroke pays several scavenges (bench/analyze.bench.ts measures
  // both; bin/trapline.js applies the same flag to `trapline lsp`).
  const options = { execArgv: ["--max-semi-space-size=64"] };
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.stdio, args: ["lsp"], options },
    debug: { module: serverModule, transport: TransportKind.stdio, args: ["lsp"], options },
  };
  const settings = vscode.workspace.getConfiguration("trapline");
  const clientOptions: LanguageClientOptions = {
    // Every scheme, so virtual workspaces (vscode-vfs, untitled) get the features too.
    documentSelector: [{ language: LANGUAGE_ID }],
    outputChannel: output,
    traceOutputChannel: output,
    synchronize: { configurationSection: "trapline" },
    initializationOptions: {
      settings: {
        defaultTarget: settings.get<string>("defaultTarget") || undefined,
        inlayHints: settings.get<boolean>("inlayHints", true),
        codeLens: settings.get<boolean>("codeLens", true),
      },
      simulateCommand: simulationAvailable(),
      estimateCommand: true,
      // The server reads the traces `measured` statements name only in a trusted workspace.
      workspaceTrusted: vscode.workspace.isTrusted,
    },
  };
  client = new LanguageClient("trapline", "Trapline Language Server", serverOptions, clientOptions);

  // Language status: the active file's headline numbers, pushed by the server after each analysis.
  const status = vscode.languages.createLanguageStatusItem("trapline.status", { language: LANGUAGE_ID });
  status.name = "Trapline";
  status.text = "$(loading~spin) Trapline";
  status.command = { title: "Show Estimate", command: "trapline.showEstimate" };
  context.subscriptions.push(status);
  const statusByUri = new Map<string, FileStatusParams>();
  const refreshStatus = () => {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const file = uri ? statusByUri.get(uri) : undefined;
    const formatted = formatStatus(file);
    status.text = formatted.text;
    status.detail = formatted.detail;
    status.severity =
      formatted.severity === "error"
        ? vscode.LanguageStatusSeverity.Error
        : formatted.severity === "warning"
          ? vscode.LanguageStatusSeverity.Warning
          : vscode.LanguageStatusSeverity.Information;
    status.busy = false;
  };
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(refreshStatus));
  context.subscriptions.push(
    vscode.workspace.onDidCloseTextDocument((document) => statusByUri.delete(document.uri.toString())),
  );

  // Reports open as read-only virtual Markdown documents.
  const reports = new Map<string, string>();
  const reportChanged = new vscode.EventEmitter<vscode.Uri>();
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, {
      onDidChange: reportChanged.event,
      provideTextDocumentContent: (uri) => reports.get(uri.toString()) ?? "",
    }),
  );
  const showReport = async (name: string, markdown: string) => {
    const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${name}.md` });
    reports.set(uri.toString(), markdown);
    reportChanged.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, {
      viewColumn: vscode.ViewColumn.Beside,
      preview: true,
      preserveFocus: true,
    });
  };

  const activeVmcsUri = (given?: unknown): string | undefined => {
    if (typeof given === "string") return given;
    if (given instanceof vscode.Uri) return given.toString();
    const document = vscode.window.activeTextEditor?.document;
    if (document?.languageId === LANGUAGE_ID) return document.uri.toString();
    void vscode.window.showWarningMessage("Trapline: open a .vmcs file first.");
    return undefined;
  };
  const request = <P, R>(method: string, params: P): Promise<R> => {
    if (!client || client.state !== State.Running)
      throw new Error("the Trapline language server is not running");
    return client.sendRequest<R>(method, params);
  };
  const pickGuest = async (uri: string, given?: unknown): Promise<string | undefined> => {
    if (typeof given === "string") return given;
    const info = await request<FileInfoParams, FileInfoResult>("trapline/fileInfo", { uri });
    if (info.guests.length <= 1) return info.guests[0];
    return vscode.window.showQuickPick(info.guests, { placeHolder: "Guest" });
  };
  const reportErrors =
    <A extends unknown[]>(name: string, command: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await command(...args);
      } catch (error) {
        output.appendLine(
          `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        void vscode.window.showErrorMessage(
          `Trapline ${name}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    };

  context.subscriptions.push(
    vscode.commands.registerCommand(
      "trapline.showEstimate",
      reportErrors("Show Estimate", async (uriArg?: unknown, guestArg?: unknown) => {
        const uri = activeVmcsUri(uriArg);
        if (!uri) return;
        const params: EstimateReportParams = {
          uri,
          guest: typeof guestArg === "string" ? guestArg : undefined,
        };
        const result = await request<EstimateReportParams, EstimateReportResult>(
          "trapline/estimateReport",
          params,
        );
        await showReport(`Estimate ${baseName(uri)}`, result.markdown);
      }),
    ),
    vscode.commands.registerCommand(
      "trapline.selectTarget",
      reportErrors("Select Target CPU", async (uriArg?: unknown) => {
        const uri = activeVmcsUri(uriArg);
        if (!uri) return;
        const info = await request<FileInfoParams, FileInfoResult>("trapline/fileInfo", { uri });
        const choice = await vscode.window.showQuickPick(
          info.profiles.map((p) => ({
            label: p.name,
            description: `${p.displayName} (${p.year})`,
            picked: p.name === info.target.profile,
          })),
          {
            placeHolder: info.target.declared
              ? `Target CPU of this file (now ${info.target.profile}): edits its target line`
              : `Default target CPU for files without a target line (now ${info.target.profile})`,
          },
        );
        if (!choice) return;
        if (info.target.declared && info.target.profileRange) {
          const edit = new vscode.WorkspaceEdit();
          const r = info.target.profileRange;
          edit.replace(
            vscode.Uri.parse(uri),
            new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character),
            choice.label,
          );
          await vscode.workspace.applyEdit(edit);
        } else {
          await vscode.workspace
            .getConfiguration("trapline")
            .update("defaultTarget", choice.label, vscode.ConfigurationTarget.Global);
        }
      }),
    ),
  );

  registerSweepCommand(context, { output, activeVmcsUri, pickGuest: (uri, given) => pickGuest(uri, given) });
  registerSimulationCommands(context, {
    output,
    activeVmcsUri,
    pickGuest: (uri, given) => pickGuest(uri, given),
    statusOf: (uri) => statusByUri.get(uri),
    fileInfo: (uri) => request<FileInfoParams, FileInfoResult>("trapline/fileInfo", { uri }),
    // The static comparison adds what the simulated one cannot: every vmcs block at once, and
    // other target CPUs, in a fraction of a second.
    staticCompare: async (uri, guest) => {
      const info = await request<FileInfoParams, FileInfoResult>("trapline/fileInfo", { uri });
      const picked = await vscode.window.showQuickPick(
        info.profiles
          .filter((p) => p.name !== info.target.profile)
          .map((p) => ({ label: p.name, description: `${p.displayName} (${p.year})` })),
        {
          canPickMany: true,
          placeHolder: `Also estimate on other CPUs? (every vmcs block is estimated on ${info.target.profile})`,
        },
      );
      if (picked === undefined) return;
      const result = await request<CompareParams, CompareResult>("trapline/compare", {
        uri,
        guest,
        profiles: picked.map((p) => p.label),
      });
      await showReport(`Compare ${guest}`, result.markdown);
    },
  });

  // Registered before start so the results of the documents opened at start-up are not missed.
  client.onNotification("trapline/fileStatus", (params: FileStatusParams) => {
    statusByUri.set(params.uri, params);
    if (vscode.window.activeTextEditor?.document.uri.toString() === params.uri) refreshStatus();
  });
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      // protocol/lsp.ts WORKSPACE_TRUST_METHOD
      client?.sendNotification("trapline/didGrantWorkspaceTrust").catch(() => undefined);
    }),
  );
  try {
    await client.start();
    refreshStatus();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    output.appendLine(`The Trapline language server failed to start: ${message}`);
    status.text = "$(error) Trapline server failed";
    status.severity = vscode.LanguageStatusSeverity.Error;
    const choice = await vscode.window.showErrorMessage(
      `The Trapline language server failed to start: ${message}`,
      "Show Output",
    );
    if (choice === "Show Output") output.show(true);
  }
}

export async function deactivate(): Promise<void> {
  if (client) await client.stop().catch(() => undefined);
  client = undefined;
}

function baseName(uri: string): string {
  const path = uri.split(/[?#]/, 1)[0]!;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
}
