/**
 * Adapters between the panel page and its host. In VS Code the page talks through
 * `acquireVsCodeApi()` (postMessage out, `message` events in, getState/setState persisted by
 * the webview). In the playground or a test page the host either posts `message` events to the
 * window (the page may be in an iframe) or calls `window.traplinePanel.receive(message)`
 * directly and listens with `window.traplinePanel.onPost(listener)`.
 *
 * Window messaging is same-origin only (docs/timeline.md, "Security"): the playground loads the
 * panel from its own folder (`timeline/index.html`), so its parent has the page's own origin.
 * The page accepts a `message` event only from `window.parent` with that origin, and posts to
 * the parent with that origin as the target, never "*": a page of another origin that frames
 * or opens it can neither drive it nor read what it posts (reveal targets, exported traces).
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

/** VS Code's webview delivers the host's messages as `message` events; its own frame vets them. */
function listenToWindow(listener: (message: HostToPanel) => void): void {
  window.addEventListener("message", (event: MessageEvent) => {
    if (isHostToPanel(event.data)) listener(event.data);
  });
}

/** What `isFromParentHost` reads of the page's window (a structural type, so Node tests can fake it). */
export interface MessagingWindow {
  readonly parent: unknown;
  readonly location: { readonly origin: string };
}

/**
 * The origin the page exchanges window messages with: its own (the playground frames it from
 * the same folder). Undefined for an opaque origin ("null": a sandboxed frame, file://), which
 * cannot be a postMessage target, so the page then uses only the direct-call API.
 */
export function hostOrigin(self: MessagingWindow): string | undefined {
  const origin = self.location.origin;
  return origin && origin !== "null" ? origin : undefined;
}

/**
 * True when `event` comes from the page's parent window and from the page's own origin. A
 * top-level page (its own parent) accepts no window messages at all.
 */
export function isFromParentHost(
  event: { readonly source: unknown; readonly origin: string },
  self: MessagingWindow,
): boolean {
  const origin = hostOrigin(self);
  return (
    origin !== undefined && self.parent !== self && event.source === self.parent && event.origin === origin
  );
}

function listenToParent(listener: (message: HostToPanel) => void): void {
  window.addEventListener("message", (event: MessageEvent) => {
    if (isFromParentHost(event, window) && isHostToPanel(event.data)) listener(event.data);
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
      // The exact origin, never "*": if another site framed the page, the browser drops this.
      const origin = hostOrigin(window);
      if (window.parent !== window && origin) window.parent.postMessage(message, origin, transfer ?? []);
    },
    onMessage: (listener) => {
      listeners.push(listener);
      listenToParent(listener);
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
