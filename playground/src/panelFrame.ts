/**
 * The playground's side of the timeline panel protocol (webview/src/protocol.ts). The panel is
 * the extension's own page (webview/src/main.ts, bundled to timeline/timeline.js) in an iframe:
 * the playground posts `HostToPanel` messages into it and receives its `PanelToHost` messages
 * through `window.postMessage`, exactly as the extension does through the webview API. The
 * panel runs the simulation in its own worker (timeline/sim-worker.js).
 *
 * The panel page is loaded from the playground's own folder, so it has the playground's
 * origin: messages are accepted only from the frame's window with that origin (a frame that
 * navigated elsewhere keeps its window but not its origin) and posted with that origin as the
 * target, never "*" (docs/playground.md, "Security").
 */
import type {
  HostToPanel,
  PanelToHost,
  RevealTarget,
  RunRequest,
  RunStatus,
  TraceFile,
} from "../../protocol/panel";

export interface PanelFrameEvents {
  reveal(target: RevealTarget): void;
  status(status: RunStatus, message: string | undefined, exits: number | undefined): void;
}

const PANEL_MESSAGE_TYPES = new Set(["ready", "reveal", "export", "status"]);

function isPanelToHost(value: unknown): value is PanelToHost {
  return (
    typeof value === "object" &&
    value !== null &&
    PANEL_MESSAGE_TYPES.has((value as { type?: unknown }).type as string)
  );
}

export class PanelFrame {
  private ready = false;
  private readonly queue: HostToPanel[] = [];
  /** The playground's own origin: the panel's, and the only target its messages go to. */
  private readonly origin = window.location.origin;

  /**
   * Loads the panel page `src` into `frame`. The frame gets its URL only here, after the
   * listener is in place: a frame loaded by the HTML could post "ready" before this script ran.
   */
  constructor(
    private readonly frame: HTMLIFrameElement,
    src: string,
    private readonly events: PanelFrameEvents,
  ) {
    window.addEventListener("message", (event: MessageEvent) => {
      // Only the panel's own frame, still on the playground's origin, speaks this protocol.
      if (event.source !== this.frame.contentWindow || event.origin !== this.origin) return;
      if (!isPanelToHost(event.data)) return;
      this.receive(event.data);
    });
    this.frame.src = src;
  }

  /** Runs `request` in the panel (replacing whatever it shows). */
  simulate(request: RunRequest): void {
    this.post({ type: "simulate", request });
  }

  /** Runs `a` and `b` in the panel's compare view (two aligned timelines, their differences). */
  compare(a: RunRequest, b: RunRequest): void {
    this.post({ type: "compareSimulate", a, b });
  }

  /** Imports `trace` in the panel; with `request`, simulates it too and shows both aligned (A: simulation, B: trace). */
  openTrace(trace: TraceFile, request?: RunRequest): void {
    this.post({ type: "openTrace", trace, ...(request ? { request } : {}) });
  }

  cancel(): void {
    this.post({ type: "cancel" });
  }

  private post(message: HostToPanel): void {
    if (!this.ready) {
      // The frame posts "ready" once its script has run; until then, keep only the latest run.
      this.queue.length = 0;
      this.queue.push(message);
      return;
    }
    this.frame.contentWindow?.postMessage(message, this.origin);
  }

  private receive(message: PanelToHost): void {
    switch (message.type) {
      case "ready": {
        this.ready = true;
        // A reloaded panel asks to re-run what it showed; the playground re-sends its own latest
        // request instead (the text may have changed since).
        for (const queued of this.queue.splice(0)) this.frame.contentWindow?.postMessage(queued, this.origin);
        break;
      }
      case "reveal":
        this.events.reveal(message.target);
        break;
      case "export":
        download(
          message.fileName,
          message.content,
          message.format === "csv" ? "text/csv" : "application/json",
        );
        break;
      case "status":
        this.events.status(message.status, message.message, message.exits);
        break;
    }
  }
}

/** Saves `content` through the browser's download mechanism. */
function download(fileName: string, content: string, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
