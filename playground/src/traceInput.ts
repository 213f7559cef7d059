/**
 * Opening a measured KVM trace in the playground (docs/playground.md "Traces"): an "Open trace…"
 * button whose dialog takes a file or pasted text, and a file dropped anywhere on the page. The
 * bytes go to the timeline panel, whose worker imports them as the extension's panel does; the
 * dialog can set the trace beside a simulation of the selected guest (the panel's compare view).
 */
import type { TraceFile } from "../../protocol/panel";

export interface TraceInputEvents {
  /** `compare`: simulate the selected guest too, and show it (A) beside the trace (B). */
  open(trace: TraceFile, compare: boolean): void;
  /** The guest a comparison would simulate, or undefined when there is none to simulate. */
  comparableGuest(): string | undefined;
}

const PASTED_FILE_NAME = "pasted-trace.txt";

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export async function traceOfFile(file: File): Promise<TraceFile> {
  return { fileName: file.name || "trace.txt", bytes: new Uint8Array(await file.arrayBuffer()) };
}

export function traceOfText(text: string, fileName = PASTED_FILE_NAME): TraceFile {
  return { fileName, bytes: new TextEncoder().encode(text) };
}

/**
 * The TRACE_PROVIDED_METHOD params for `trace`: its text decoded as UTF-8 as the Node server's
 * reader does (bad sequences replaced, a byte-order mark kept).
 */
export function providedTrace(trace: TraceFile): { fileName: string; text: string } {
  return {
    fileName: trace.fileName,
    text: new TextDecoder("utf-8", { ignoreBOM: true }).decode(trace.bytes),
  };
}

/** Adds the button (after `anchor`) and its dialog, and makes the page a drop target. */
export function installTraceInput(anchor: HTMLElement, events: TraceInputEvents): HTMLButtonElement {
  const button = make(
    "button",
    {
      type: "button",
      id: "open-trace",
      title: "Open a KVM trace (trace-cmd, ftrace, perf script, perf kvm stat, kvm_stat)",
    },
    "Open trace…",
  );
  anchor.after(button);

  const fileInput = make("input", { type: "file", id: "trace-file", "aria-label": "Trace file" });
  const textArea = make("textarea", {
    id: "trace-text",
    rows: "12",
    spellcheck: "false",
    "aria-label": "Pasted trace text",
    placeholder: "…or paste trace-cmd report / ftrace / perf script / perf kvm stat / kvm_stat text here",
  });
  const compareBox = make("input", { type: "checkbox", id: "trace-compare" });
  const compareLabel = make(
    "label",
    { for: "trace-compare" },
    compareBox,
    " beside a simulation of the selected guest",
  );
  const openButton = make("button", { type: "submit", id: "trace-open" }, "Open");
  const cancelButton = make("button", { type: "button", id: "trace-cancel" }, "Cancel");
  const message = make("p", { class: "trace-dialog-message", role: "alert" });
  const form = make(
    "form",
    { method: "dialog" },
    make("h2", {}, "Open a KVM trace"),
    make(
      "p",
      {},
      "The panel imports it in its worker and draws its exits per vCPU with the measured statistics.",
    ),
    fileInput,
    textArea,
    compareLabel,
    message,
    make("div", { class: "trace-dialog-buttons" }, openButton, cancelButton),
  );
  const dialog = make(
    "dialog",
    { id: "trace-dialog", class: "trace-dialog", "aria-label": "Open a KVM trace" },
    form,
  );
  document.body.append(dialog);

  button.addEventListener("click", () => {
    const guest = events.comparableGuest();
    compareBox.disabled = guest === undefined;
    if (guest === undefined) compareBox.checked = false;
    compareLabel.title =
      guest === undefined ? "No guest to simulate (the file has none, or errors)" : `Simulate ${guest}`;
    message.textContent = "";
    dialog.showModal();
  });
  cancelButton.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    const text = textArea.value;
    if (!file && text.trim() === "") {
      message.textContent = "Choose a file or paste a trace first.";
      return;
    }
    const trace = file ? await traceOfFile(file) : traceOfText(text);
    dialog.close();
    fileInput.value = "";
    events.open(trace, compareBox.checked && !compareBox.disabled);
  });

  // A file dropped anywhere on the page (the panel's own frame handles drops on itself).
  document.addEventListener("dragover", (event) => {
    if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
  });
  document.addEventListener("drop", async (event) => {
    const file = event.dataTransfer?.files[0];
    if (!file) return;
    event.preventDefault();
    events.open(await traceOfFile(file), false);
  });
  return button;
}
