/**
 * Adapters between the panel page and its host. In VS Code the page talks through
 * `acquireVsCodeApi()` (postMessage out, `message` events in, getState/setState persisted by
 * the webview). In the playground or a test page the host either posts `message` events to the
 * window (the page may be in an iframe) or calls `window.traplinePanel.receive(message)`
 * directly and listens with `window.traplinePanel.onPost(listener)`.
 */
import { type HostToPanel, isHostToPanel, type PanelState, type PanelToHost } from "../../protocol/panel";

export interface PanelHost {
  readonly kind: "vscode" | "window";
  post(message: PanelToHost, transfer?: Transferable[]): void;
  onMessage(listener: (message: HostToPanel) => void): void;
  getState(): PanelState | undefined;
  setState(state: PanelState): void;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

/** The direct-call API the playground and tests use. */
export interface DirectPanelApi {
  receive(message: HostToPanel): void;
  onPost(listener: (message: PanelToHost) => void): void;
  /** Messages the page posted so far (tests read these). */
  posted: PanelToHost[];
}

declare global {
  interface Window {
    traplinePanel?: DirectPanelApi;
  }
}

function listenToWindow(listener: (message: HostToPanel) => void): void {
  window.addEventListener("message", (event: MessageEvent) => {
    if (isHostToPanel(event.data)) listener(event.data);
  });
}

export function createHost(): PanelHost {
  const vscode = typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : undefined;
  if (vscode) {
    return {
      kind: "vscode",
      post: (message) => vscode.postMessage(message),
      onMessage: listenToWindow,
      getState: () => (vscode.getState() as PanelState | undefined) ?? undefined,
      setState: (state) => vscode.setState(state),
    };
  }
  return windowHost();
}

function windowHost(): PanelHost {
  const listeners: ((message: HostToPanel) => void)[] = [];
  const postListeners: ((message: PanelToHost) => void)[] = [];
  const posted: PanelToHost[] = [];
  const api: DirectPanelApi = {
    receive: (message) => {
      for (const listener of listeners) listener(message);
    },
    onPost: (listener) => postListeners.push(listener),
    posted,
  };
  window.traplinePanel = api;
  const stateKey = "trapline.timeline.state";
  return {
    kind: "window",
    post: (message, transfer) => {
      posted.push(message);
      for (const listener of postListeners) listener(message);
      if (window.parent !== window) window.parent.postMessage(message, "*", transfer ?? []);
    },
    onMessage: (listener) => {
      listeners.push(listener);
      listenToWindow(listener);
    },
    getState: () => {
      try {
        const text = sessionStorage.getItem(stateKey);
        return text ? (JSON.parse(text) as PanelState) : undefined;
      } catch {
        return undefined;
      }
    },
    setState: (state) => {
      try {
        sessionStorage.setItem(stateKey, JSON.stringify(state));
      } catch {
        // Storage may be unavailable (opaque origins); state is a convenience only.
      }
    },
  };
}
