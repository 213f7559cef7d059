/**
 * "Trapline: Run Sweep": asks for a parameter sweep in the CLI's `--sweep` syntax (and,
 * optionally, target CPUs), then opens the sweep panel (webview/src/sweepPage.ts, bundled to
 * dist/webview/sweep.js), which runs the static estimate at every point and plots it — the
 * editor's `trapline estimate FILE --sweep … --target …` (docs/timeline.md "Sweep plot").
 *
 * The command also takes its answers as arguments (`uri, guest, sweep, targets`), for key
 * bindings and tests. One panel per file; a page re-created after being hidden posts `ready`
 * and is sent its request again.
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { HostToSweepPanel, SweepPanelRequest, SweepPanelToHost } from "../../protocol/sweep";
import { webviewPage } from "./webviewPage";

export const SWEEP_VIEW_TYPE = "trapline.sweep";

export interface SweepHost {
  output: vscode.OutputChannel;
  activeVmcsUri: (given?: unknown) => string | undefined;
  pickGuest: (uri: string, given?: unknown) => Promise<string | undefined>;
}

interface SweepEntry {
  panel: vscode.WebviewPanel;
  request: SweepPanelRequest | undefined;
}

const PLACEHOLDER =
  "path.send.rate=10k/s..200k/s:10   (or cost.round_trip=500..5000:5:log, control.hlt_exiting=off,on)";

export function registerSweepCommand(context: vscode.ExtensionContext, host: SweepHost): void {
  const entries = new Map<string, SweepEntry>();
  let lastSweep = "";
  let lastTargets = "";
  const root = vscode.Uri.joinPath(context.extensionUri, "dist", "webview");

  const open = (key: string, title: string): SweepEntry => {
    const existing = entries.get(key);
    if (existing) {
      existing.panel.title = title;
      existing.panel.reveal(undefined, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      SWEEP_VIEW_TYPE,
      title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [root] },
    );
    const entry: SweepEntry = { panel, request: undefined };
    entries.set(key, entry);
    panel.webview.html = html(panel.webview, root);
    panel.webview.onDidReceiveMessage((message: SweepPanelToHost) => {
      if (message?.type === "ready" && entry.request) send(entry);
      else if (message?.type === "failed")
        void vscode.window.showErrorMessage(`Trapline Run Sweep: ${message.message}`);
      else if (message?.type === "done")
        host.output.appendLine(
          `Run Sweep: ${message.points} points${message.invalid > 0 ? `, ${message.invalid} invalid` : ""}${message.violated > 0 ? `, ${message.violated} over budget` : ""}`,
        );
    });
    panel.onDidDispose(() => {
      if (entries.get(key) === entry) entries.delete(key);
    });
    return entry;
  };

  const send = (entry: SweepEntry): void => {
    if (!entry.request) return;
    const message: HostToSweepPanel = { type: "sweep", request: entry.request };
    void entry.panel.webview.postMessage(message);
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(
      "trapline.runSweep",
      async (uriArg?: unknown, guestArg?: unknown, sweepArg?: unknown, targetsArg?: unknown) => {
        try {
          const uri = host.activeVmcsUri(uriArg);
          if (!uri) return;
          const document =
            vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri) ??
            (await vscode.workspace.openTextDocument(vscode.Uri.parse(uri)));
          const guest = await host.pickGuest(uri, guestArg);
          if (guest === undefined) return;
          const sweep =
            typeof sweepArg === "string"
              ? sweepArg
              : await vscode.window.showInputBox({
                  title: "Trapline: Run Sweep",
                  prompt: "The parameter and its values: NAME=FROM..TO[:STEPS][:log] or NAME=A,B,…",
                  placeHolder: PLACEHOLDER,
                  value: lastSweep,
                  validateInput: (value) =>
                    value.includes("=") ? undefined : "NAME=FROM..TO[:STEPS][:log] or NAME=A,B,…",
                });
          if (sweep === undefined || sweep.trim() === "") return;
          const targets =
            typeof targetsArg === "string"
              ? targetsArg
              : await vscode.window.showInputBox({
                  title: "Trapline: Run Sweep",
                  prompt: "Target CPUs, comma-separated, one line each (empty: the file's own target)",
                  placeHolder: "skylake_server,sapphire_rapids",
                  value: lastTargets,
                });
          if (targets === undefined) return;
          lastSweep = sweep;
          lastTargets = targets;
          const fileName = document.uri.path.slice(document.uri.path.lastIndexOf("/") + 1);
          const entry = open(uri, `Trapline Sweep: ${fileName} — ${sweep.split("=")[0]}`);
          entry.request = {
            text: document.getText(),
            fileName,
            guest,
            sweep,
            ...(targets.trim() !== "" ? { targets } : {}),
          };
          send(entry);
        } catch (error) {
          host.output.appendLine(
            `Run Sweep: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
          void vscode.window.showErrorMessage(
            `Trapline Run Sweep: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      },
    ),
  );
}

function html(webview: vscode.Webview, root: vscode.Uri): string {
  const nonce = randomBytes(18).toString("base64");
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, "sweep.js"));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, "sweep.css"));
  const csp = ["default-src 'none'", `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join(
    "; ",
  );
  return webviewPage({
    csp,
    style: String(style),
    script: String(script),
    nonce,
    title: "Trapline Sweep",
    main: 'id="trapline-sweep"',
  });
}
