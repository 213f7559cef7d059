/**
 * The Trapline playground page: monaco with the `vmcs` language, the Trapline language server
 * in a Web Worker (the extension's server, through monaco's LSP client), an example picker, a
 * target-CPU picker, the text kept in the URL (`#src=`) and local storage, the server's estimate
 * report and configuration comparison in a pane, and the extension's timeline panel in an
 * iframe for "Run simulation". Everything is bundled: the page works offline from any static
 * host (playground-dist/, see docs/playground.md).
 */
import * as monaco from "monaco-editor/editor/editor.api";
import {
  FILE_INFO_METHOD,
  FILE_STATUS_METHOD,
  type FileInfoResult,
  type FileStatusParams,
  RUN_SIMULATION_COMMAND,
  SHOW_ESTIMATE_COMMAND,
  TRACE_PROVIDED_METHOD,
  type TraplineSettings,
} from "../../protocol/lsp";
import type { RevealTarget, RunRequest, RunStatus } from "../../protocol/panel";
import { DEFAULT_EXAMPLE, EXAMPLES, exampleSummary } from "./examples";
import { registerVmcsLanguage, VMCS_LANGUAGE_ID } from "./language";
import { startLanguageClient } from "./lspClient";
import { renderUntrustedMarkdown } from "./markdown";
import { PanelFrame } from "./panelFrame";
import { DIAGNOSTIC_REFRESH_METHOD, DID_CHANGE_CONFIGURATION_METHOD } from "./protocolNames";
import { type ProfileInfo, SidePane } from "./sidePane";
import { exampleWithText, hashForSource, initialSource, parseHash, storeSource, storeTarget } from "./state";
import { installTraceInput, providedTrace } from "./traceInput";
import "./playground.css";
import { formatHz, formatInteger, formatPercent, formatSeconds } from "../../core/src/util/format";

/** Worker scripts, relative to the page (playground-dist/). */
const EDITOR_WORKER_URL = "editor.worker.js";
const LANGUAGE_SERVER_URL = "lsp-worker.js";
const TIMELINE_PAGE_URL = "timeline/index.html";
/** Delay between the last keystroke and rewriting the URL and local storage. */
const PERSIST_DELAY_MS = 300;
/** The name the panel and exports use for text that is not an unchanged example. */
const SCRATCH_FILE_NAME = "playground.vmcs";

declare global {
  interface Window {
    MonacoEnvironment?: monaco.Environment;
    /** The running playground, for the browser tests (test/playground.test.ts) and debugging. */
    traplinePlayground?: PlaygroundHandle;
  }
}

export interface PlaygroundHandle {
  monaco: typeof monaco;
  editor: monaco.editor.IStandaloneCodeEditor;
  model: monaco.editor.ITextModel;
  /** The latest `trapline/fileStatus` the server sent (undefined before the first analysis). */
  fileStatus(): FileStatusParams | undefined;
  /** The model version whose diagnostics the markers show (0 before the first answer). */
  diagnosticsVersion(): number;
  runSimulation(guest?: string): void;
  /** The target CPU for a file without a `target` line (undefined: the documented default). */
  defaultTarget(): string | undefined;
  /** The estimate report / comparison pane. */
  sidePane: SidePane;
  /** The report pane's Markdown renderer, for the escaping test. */
  renderMarkdown(target: HTMLElement, markdown: string): { dispose(): void };
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`playground: the page has no #${id}`);
  return found as T;
}

function start(): void {
  window.MonacoEnvironment = {
    // Monaco's own language-independent services (word ranges, diff, links) run in this worker.
    getWorker: () => new Worker(EDITOR_WORKER_URL, { name: "monaco-editor" }),
  };
  registerVmcsLanguage(monaco);

  const examplePicker = element<HTMLSelectElement>("example-picker");
  const guestPicker = element<HTMLSelectElement>("guest-picker");
  const targetPicker = element<HTMLSelectElement>("target-picker");
  const targetNote = element<HTMLElement>("target-note");
  const reportButton = element<HTMLButtonElement>("show-report");
  const compareButton = element<HTMLButtonElement>("show-compare");
  const runButton = element<HTMLButtonElement>("run-simulation");
  const copyLinkButton = element<HTMLButtonElement>("copy-link");
  const fileStatusLine = element<HTMLElement>("file-status");
  const notice = element<HTMLElement>("notice");
  const noticeText = element<HTMLElement>("notice-text");
  const runStatusLine = element<HTMLElement>("run-status");

  for (const [name, text] of EXAMPLES) {
    const option = new Option(name.replace(/\.vmcs$/, ""), name);
    option.title = exampleSummary(text);
    examplePicker.append(option);
  }
  const customOption = new Option("(your edits)", "");
  examplePicker.append(customOption);

  const storage = safeLocalStorage();
  const opening = initialSource(location.hash, storage, EXAMPLES, DEFAULT_EXAMPLE);
  if (opening.invalid)
    showNotice(`This link could not be opened: ${opening.invalid}. Showing the last text instead.`);

  const model = monaco.editor.createModel(
    opening.text,
    VMCS_LANGUAGE_ID,
    monaco.Uri.parse("inmemory:/playground.vmcs"),
  );
  const prefersDark = window.matchMedia?.("(prefers-color-scheme: dark)").matches === true;
  const editor = monaco.editor.create(element("editor"), {
    model,
    theme: prefersDark ? "vs-dark" : "vs",
    automaticLayout: true,
    minimap: { enabled: false },
    fontSize: 13,
    scrollBeyondLastLine: false,
    // The server's semantic tokens refine the Monarch colours (unsupported controls, exiting ops).
    "semanticHighlighting.enabled": true,
    inlayHints: { enabled: "on" },
    codeLens: true,
    fixedOverflowWidgets: true,
  });

  let currentExample = opening.example ?? "";
  examplePicker.value = currentExample;
  /** The target CPU for a file without a `target` line (the extension's `trapline.defaultTarget`). */
  let defaultTarget = opening.target;
  const settings = (): TraplineSettings => ({
    inlayHints: true,
    codeLens: true,
    ...(defaultTarget ? { defaultTarget } : {}),
  });

  // --- Language server -------------------------------------------------------------------
  const { transport, worker: languageServer } = startLanguageClient(LANGUAGE_SERVER_URL, {
    settings: settings(),
    // The "▶ Simulate" code lens runs RUN_SIMULATION_COMMAND, the cost lenses SHOW_ESTIMATE_COMMAND;
    // both are registered below.
    simulateCommand: true,
    estimateCommand: true,
  });
  // Which document version the markers on screen belong to: the server answers pull requests
  // (textDocument/diagnostic) for the version the client had when it asked.
  let diagnosticsVersion = 0;
  transport.observeRequest("textDocument/diagnostic", () => {
    const version = model.getVersionId();
    return () => {
      diagnosticsVersion = Math.max(diagnosticsVersion, version);
    };
  });
  languageServer.addEventListener("error", (event) => {
    // A worker that failed to load or threw at the top level: say so rather than leave the
    // status line claiming the server is starting.
    fileStatusLine.textContent = `The language server stopped: ${event.message || "the worker failed to load"}. Reload the page.`;
    fileStatusLine.classList.add("has-errors");
  });
  let latestStatus: FileStatusParams | undefined;
  transport.onNotification<FileStatusParams>(FILE_STATUS_METHOD, (status) => {
    if (status.uri.toLowerCase() !== model.uri.toString(true).toLowerCase()) return;
    latestStatus = status;
    renderFileStatus(status);
    renderTarget(status);
    if (profiles.length === 0) void loadProfiles();
    sidePane.refresh();
  });
  /** The document's URI exactly as the server knows it (the client's spelling). */
  const documentUri = () => latestStatus?.uri ?? model.uri.toString();
  monaco.editor.registerCommand(RUN_SIMULATION_COMMAND, (_accessor, _uri: unknown, guest: unknown) => {
    runSimulation(typeof guest === "string" ? guest : undefined);
  });
  monaco.editor.registerCommand(SHOW_ESTIMATE_COMMAND, (_accessor, _uri: unknown, guest: unknown) => {
    sidePane.showReport(typeof guest === "string" ? guest : undefined);
  });

  // --- Target CPU ------------------------------------------------------------------------
  // A file's own `target` line wins: with one, the picker rewrites its CPU name (an edit, so undo
  // takes it back and the link carries it); without one, the picker sets the playground's default
  // target, the extension's `trapline.defaultTarget` setting, which the server applies to files
  // without a `target` line and the link carries as `&target=`.
  let profiles: readonly ProfileInfo[] = [];
  let loadingProfiles = false;
  async function loadProfiles(): Promise<void> {
    if (loadingProfiles) return;
    loadingProfiles = true;
    try {
      const info = await transport.request<FileInfoResult>(FILE_INFO_METHOD, { uri: documentUri() });
      if (info.profiles.length === 0) return;
      profiles = info.profiles;
      targetPicker.replaceChildren(
        ...profiles.map((profile) => {
          const option = new Option(`${profile.name} (${profile.year})`, profile.name);
          option.title = profile.displayName;
          return option;
        }),
      );
      if (defaultTarget && !profiles.some((profile) => profile.name === defaultTarget)) {
        showNotice(
          `There is no target CPU named ${defaultTarget}: files without a target line use the default.`,
        );
        setDefaultTarget(undefined);
      }
      if (latestStatus) renderTarget(latestStatus);
    } catch {
      // The next file status tries again.
    } finally {
      loadingProfiles = false;
    }
  }

  function renderTarget(status: FileStatusParams): void {
    if (profiles.length === 0) return;
    const { profile, declared } = status.target;
    targetPicker.disabled = false;
    targetPicker.value = profile;
    const shown = profiles.find((p) => p.name === profile);
    targetPicker.dataset.source = declared ? "file" : "default";
    targetNote.textContent = declared ? "from the file's target line" : "no target line: playground default";
    targetPicker.title = declared
      ? `${shown?.displayName ?? profile}, named by the file's target line, which wins. Choosing another CPU rewrites that line (undo takes it back).`
      : `${shown?.displayName ?? profile}. The file has no target line: it is analysed for the CPU chosen here (kept in the link). A target line in the file would win.`;
  }

  targetPicker.addEventListener("change", async () => {
    const name = targetPicker.value;
    const version = model.getVersionId();
    let info: FileInfoResult;
    try {
      // The target line's range in the current version (the server analyses it first if needed).
      info = await transport.request<FileInfoResult>(FILE_INFO_METHOD, { uri: documentUri() });
    } catch (error) {
      showNotice(
        `The language server did not answer: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    if (model.getVersionId() !== version) {
      // The text changed while asking: the range may be stale. Show what is in force; pick again.
      if (latestStatus) renderTarget(latestStatus);
      return;
    }
    const range = info.target.profileRange;
    if (info.target.declared && range) {
      editor.pushUndoStop();
      editor.executeEdits("target-picker", [
        {
          range: new monaco.Range(
            range.start.line + 1,
            range.start.character + 1,
            range.end.line + 1,
            range.end.character + 1,
          ),
          text: name,
        },
      ]);
      editor.pushUndoStop();
    } else {
      setDefaultTarget(name);
    }
  });

  function setDefaultTarget(name: string | undefined): void {
    if (name === defaultTarget) return;
    defaultTarget = name;
    storeTarget(storage, name);
    // The server re-analyses every open file and asks for a diagnostics refresh (below).
    void transport.notify(DID_CHANGE_CONFIGURATION_METHOD, { settings: { trapline: settings() } });
    persistNow();
  }

  // The server asks the client to pull diagnostics again after a settings change. Monaco's LSP
  // client has no handler for that request, and re-asks for diagnostics, semantic tokens and code
  // lenses only when the text changes; so the page changes it and changes it back (one space at
  // the end, outside the undo stack: the text and the undo history are as they were).
  transport.onServerRequest(DIAGNOSTIC_REFRESH_METHOD, () => {
    setTimeout(touchModel, 0);
    return null;
  });
  let touching = false;
  function touchModel(): void {
    const end = model.getFullModelRange().getEndPosition();
    touching = true;
    try {
      model.applyEdits([{ range: monaco.Range.fromPositions(end), text: " " }]);
      model.applyEdits([{ range: monaco.Range.fromPositions(end, end.delta(0, 1)), text: "" }]);
    } finally {
      touching = false;
    }
  }

  function renderFileStatus(status: FileStatusParams): void {
    const parts = [
      `${status.target.profile} @ ${formatHz(status.target.hz)}`,
      `${status.guests.length} guest${status.guests.length === 1 ? "" : "s"}`,
    ];
    if (status.guests.length > 0) parts.push(`max overhead ${formatPercent(status.maxOverhead)}`);
    parts.push(
      `${status.errors} error${status.errors === 1 ? "" : "s"}`,
      `${status.warnings} warning${status.warnings === 1 ? "" : "s"}`,
      `analysed in ${formatSeconds(status.analysisMs / 1000)}`,
    );
    fileStatusLine.textContent = parts.join(" · ");
    fileStatusLine.classList.toggle("has-errors", status.errors > 0);

    const previous = guestPicker.value;
    const names = status.guests.map((guest) => guest.name);
    if (names.join("\n") !== [...guestPicker.options].map((option) => option.value).join("\n")) {
      guestPicker.replaceChildren(...names.map((name) => new Option(name, name)));
    }
    if (names.includes(previous)) guestPicker.value = previous;
    guestPicker.disabled = names.length === 0;
    reportButton.disabled = false;
    compareButton.disabled = names.length === 0;
    compareButton.title =
      names.length === 0
        ? "The file declares no guest"
        : "The selected guest estimated under each vmcs block of the file, and on other CPUs";
    runButton.disabled = names.length === 0 || status.errors > 0;
    runButton.title =
      status.errors > 0
        ? "Fix the errors first: a VMCS that fails VM entry cannot be simulated"
        : names.length === 0
          ? "The file declares no guest"
          : "Simulate the selected guest (the file's `simulate` line sets duration and seed)";
  }

  // --- Timeline panel --------------------------------------------------------------------
  /** What the panel runs now, for the status line's wording. */
  let lastRunKind: "simulation" | "trace" = "simulation";
  const panel = new PanelFrame(element<HTMLIFrameElement>("timeline-frame"), TIMELINE_PAGE_URL, {
    reveal: revealInEditor,
    status: renderRunStatus,
  });

  function runRequest(guest: string | undefined, vmcs?: string, target?: string): RunRequest {
    return {
      text: model.getValue(),
      fileName: currentExample || SCRATCH_FILE_NAME,
      ...(guest ? { guest } : {}),
      ...(vmcs ? { vmcs } : {}),
      ...(target ? { target } : {}),
      version: model.getVersionId(),
      ...(defaultTarget ? { defaultTarget } : {}),
    };
  }

  function runSimulation(guest?: string): void {
    const chosen = guest ?? (guestPicker.value || undefined);
    if (chosen && guestPicker.value !== chosen) guestPicker.value = chosen;
    sidePane.close();
    lastRunKind = "simulation";
    panel.simulate(runRequest(chosen));
  }
  runButton.addEventListener("click", () => runSimulation());

  // --- Traces: the same panel imports a measured trace (docs/playground.md "Traces") -------
  installTraceInput(copyLinkButton, {
    comparableGuest: () => (runButton.disabled ? undefined : guestPicker.value || undefined),
    open: (trace, compare) => {
      sidePane.close();
      lastRunKind = "trace";
      // The same trace stands in for the file's `measured "…"` statements (docs/playground.md
      // "Traces"): the language server sets the estimate beside it in hovers, lenses and TL409.
      // Decoded first: the panel may be handed the bytes.
      const provided = providedTrace(trace);
      panel.openTrace(trace, compare ? runRequest(guestPicker.value || undefined) : undefined);
      void transport.notify(TRACE_PROVIDED_METHOD, provided);
    },
  });

  // --- Estimate report and comparison ----------------------------------------------------
  const sidePane = new SidePane(element("side-pane"), {
    request: (method, params) => transport.request(method, params),
    uri: documentUri,
    status: () => latestStatus,
    profiles: () => profiles,
    selectedGuest: () => guestPicker.value || undefined,
    simulateCompare: (guest, a, b) => {
      sidePane.close();
      lastRunKind = "simulation";
      panel.compare(runRequest(guest, a.vmcs, a.profile), runRequest(guest, b.vmcs, b.profile));
    },
  });
  reportButton.addEventListener("click", () => sidePane.showReport());
  compareButton.addEventListener("click", () => sidePane.showCompare(guestPicker.value || undefined));
  guestPicker.addEventListener("change", () => {
    if (sidePane.showing === "compare") sidePane.showCompare(guestPicker.value || undefined);
  });

  function renderRunStatus(status: RunStatus, message: string | undefined, exits: number | undefined): void {
    const trace = lastRunKind === "trace";
    const text =
      status === "running"
        ? trace
          ? "Importing the trace…"
          : "Simulating…"
        : status === "done"
          ? `${trace ? "Trace opened" : "Simulated"}${exits !== undefined ? `: ${formatInteger(exits)} exits` : ""}`
          : status === "cancelled"
            ? trace
              ? "Import cancelled"
              : "Simulation cancelled"
            : `${trace ? "Import" : "Simulation"} failed${message ? `: ${message}` : ""}`;
    runStatusLine.textContent = text;
    runStatusLine.dataset.status = status;
  }

  function revealInEditor(target: RevealTarget): void {
    const start =
      target.start !== undefined
        ? model.getPositionAt(target.start)
        : { lineNumber: target.line + 1, column: target.character + 1 };
    const end = target.end !== undefined ? model.getPositionAt(target.end) : start;
    const range = new monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column);
    editor.setSelection(range);
    editor.revealRangeInCenterIfOutsideViewport(range);
    editor.focus();
  }

  // --- Examples, URL and local storage ---------------------------------------------------
  examplePicker.addEventListener("change", () => {
    const text = EXAMPLES.get(examplePicker.value);
    if (text === undefined) return;
    replaceText(text, examplePicker.value);
  });

  function replaceText(text: string, example: string): void {
    currentExample = example;
    examplePicker.value = example;
    // An edit (not setValue) keeps the previous text on the undo stack.
    editor.pushUndoStop();
    editor.executeEdits("playground", [{ range: model.getFullModelRange(), text }]);
    editor.pushUndoStop();
    editor.setPosition({ lineNumber: 1, column: 1 });
    editor.revealLine(1);
    persistNow();
  }

  let persistTimer: ReturnType<typeof setTimeout> | undefined;
  let lastPersistedHash = "";
  model.onDidChangeContent(() => {
    if (touching) return;
    // The example the text now is (an edit undone or typed back is the example again), else
    // "(your edits)". The model's length costs no copy of the text; the text is read only when an
    // example has that length.
    const example =
      exampleWithText(EXAMPLES, model.getValueLength(), () => model.getValue(), currentExample) ?? "";
    if (example !== currentExample) {
      currentExample = example;
      examplePicker.value = example;
    }
    clearTimeout(persistTimer);
    persistTimer = setTimeout(persistNow, PERSIST_DELAY_MS);
  });

  function persistNow(): void {
    clearTimeout(persistTimer);
    const text = model.getValue();
    storeSource(storage, text);
    const hash = hashForSource(text, defaultTarget);
    if (hash !== location.hash) {
      lastPersistedHash = hash;
      // replaceState: typing must not fill the back button's history.
      history.replaceState(null, "", hash);
    }
  }
  // Write the opening text back so the address bar always holds a reproducible link.
  persistNow();

  // A link pasted into the address bar of an open playground.
  window.addEventListener("hashchange", () => {
    if (location.hash === lastPersistedHash) return;
    const request = parseHash(location.hash);
    if (request.kind === "invalid") {
      showNotice(`This link could not be opened: ${request.reason}.`);
      return;
    }
    notice.hidden = true;
    const next = initialSource(location.hash, storage, EXAMPLES, DEFAULT_EXAMPLE);
    if (next.text !== model.getValue()) replaceText(next.text, next.example ?? "");
    setDefaultTarget(next.target);
  });

  copyLinkButton.addEventListener("click", async () => {
    persistNow();
    try {
      await navigator.clipboard.writeText(location.href);
      flash(copyLinkButton, "Link copied");
    } catch {
      // Clipboard access needs a secure context or permission; the address bar has the link.
      flash(copyLinkButton, "Copy the address bar");
    }
  });

  function showNotice(text: string): void {
    noticeText.textContent = text;
    notice.hidden = false;
  }
  element<HTMLButtonElement>("notice-close").addEventListener("click", () => {
    notice.hidden = true;
  });

  window.traplinePlayground = {
    monaco,
    editor,
    model,
    fileStatus: () => latestStatus,
    diagnosticsVersion: () => diagnosticsVersion,
    runSimulation,
    defaultTarget: () => defaultTarget,
    sidePane,
    renderMarkdown: renderUntrustedMarkdown,
  };
  editor.focus();
}

function flash(button: HTMLButtonElement, text: string): void {
  const original = button.textContent;
  button.textContent = text;
  setTimeout(() => {
    button.textContent = original;
  }, 1500);
}

function safeLocalStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
