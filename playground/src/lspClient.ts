/**
 * The playground's LSP client: the Trapline language server (server/src/browser.ts, the same
 * `startServer` the VS Code extension runs) in a Web Worker, connected to monaco by
 * `MonacoLspClient`, the LSP client that ships inside monaco-editor 0.57 (`monaco.lsp`, source
 * microsoft/vscode's monaco-lsp-client). It already converts every LSP feature the server offers
 * to monaco's providers (markers, hover, completion, code actions, code lenses, inlay hints,
 * semantic tokens, definition/references/rename, symbols, folding), so the playground adds no
 * conversion code of its own. monaco-languageclient was the alternative; it needs
 * @codingame/monaco-vscode-api (several MB, a second copy of the editor services), while this
 * client is ~40 kB minified and already in the bundle's dependency.
 *
 * What MonacoLspClient lacks is a hook for `initializationOptions` and for Trapline's custom
 * messages (docs/lsp.md). `TraplineTransport` wraps its transport to add both: it amends the
 * `initialize` request, routes `trapline/*` notifications to the page and lets the page send
 * its own requests (string ids, so they never collide with the client's numeric ones).
 */
import {
  createTransportToWorker,
  MonacoLspClient,
} from "../../node_modules/monaco-editor/esm/external/monaco-lsp-client/out/index.js";
import type { TraplineInitializationOptions } from "../../protocol/lsp";

type Transport = ConstructorParameters<typeof MonacoLspClient>[0];
type Message = Parameters<Transport["send"]>[0];
type Listener = NonNullable<Parameters<Transport["setListener"]>[0]>;

interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** The server's error answer to a request the page sent with `TraplineTransport.request`. */
export class LspRequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class TraplineTransport implements Transport {
  private nextRequestId = 1;
  private readonly pending = new Map<
    string,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private readonly notificationHandlers = new Map<string, (params: unknown) => void>();
  private readonly serverRequestHandlers = new Map<string, (params: unknown) => unknown>();
  private readonly requestObservers = new Map<string, () => () => void>();
  /** Client requests in flight that an observer watches: id → what to call once answered. */
  private readonly observedRequests = new Map<number | string, () => void>();

  constructor(
    private readonly inner: Transport,
    private readonly initializationOptions: TraplineInitializationOptions,
  ) {}

  get state(): Transport["state"] {
    return this.inner.state;
  }

  send(message: Message): Promise<void> {
    const rpc = message as unknown as JsonRpcMessage;
    if (rpc.method !== undefined && rpc.id !== undefined && rpc.id !== null) {
      const observer = this.requestObservers.get(rpc.method);
      if (observer) this.observedRequests.set(rpc.id, observer());
    }
    if (rpc.method === "initialize" && typeof rpc.params === "object" && rpc.params !== null) {
      const amended = {
        ...rpc,
        params: { ...rpc.params, initializationOptions: this.initializationOptions },
      };
      return this.inner.send(amended as unknown as Message);
    }
    return this.inner.send(message);
  }

  setListener(listener: Listener | undefined): void {
    if (!listener) {
      this.inner.setListener(undefined);
      return;
    }
    this.inner.setListener((message) => {
      const rpc = message as unknown as JsonRpcMessage;
      if (this.intercept(rpc)) return;
      listener(message);
      if (rpc.method === undefined && rpc.id !== undefined && rpc.id !== null) {
        const answered = this.observedRequests.get(rpc.id);
        if (answered) {
          this.observedRequests.delete(rpc.id);
          // MonacoLspClient applies the answer after an await; run once it has.
          setTimeout(answered, 0);
        }
      }
    });
  }

  toString(): string {
    return `trapline(${this.inner.toString()})`;
  }

  /** Handles `method` notifications from the server (instead of MonacoLspClient, which ignores them). */
  onNotification<P>(method: string, handler: (params: P) => void): void {
    this.notificationHandlers.set(method, handler as (params: unknown) => void);
  }

  /**
   * Answers the server's `method` requests (instead of MonacoLspClient, which answers the ones it
   * does not know with an error): `handler`'s return value is the result.
   */
  onServerRequest(method: string, handler: (params: unknown) => unknown): void {
    this.serverRequestHandlers.set(method, handler);
  }

  /**
   * Watches the client's own `method` requests: `onSend` runs as one is sent and returns what to
   * run once its answer has been applied (the page uses it to know which document version the
   * pulled diagnostics belong to).
   */
  observeRequest(method: string, onSend: () => () => void): void {
    this.requestObservers.set(method, onSend);
  }

  /** Sends a request of the page's own (a Trapline custom method) and waits for its answer. */
  request<R>(method: string, params: unknown): Promise<R> {
    const id = `trapline-${this.nextRequestId++}`;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      const message: JsonRpcMessage = { jsonrpc: "2.0", id, method, params };
      this.inner.send(message as unknown as Message).catch((error: unknown) => {
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** Sends a notification of the page's own (didChangeConfiguration, say). */
  notify(method: string, params: unknown): Promise<void> {
    return this.inner.send({ jsonrpc: "2.0", method, params } as unknown as Message);
  }

  /** True when the message was for the page (a reply to `request`, a handled notification). */
  private intercept(message: JsonRpcMessage): boolean {
    if (message.method === undefined && typeof message.id === "string") {
      const waiting = this.pending.get(message.id);
      if (!waiting) return false;
      this.pending.delete(message.id);
      if (message.error) waiting.reject(new LspRequestError(message.error.code, message.error.message));
      else waiting.resolve(message.result);
      return true;
    }
    if (message.method !== undefined && message.id !== undefined && message.id !== null) {
      const handler = this.serverRequestHandlers.get(message.method);
      if (!handler) return false;
      let reply: JsonRpcMessage;
      try {
        reply = { jsonrpc: "2.0", id: message.id, result: handler(message.params) ?? null };
      } catch (error) {
        reply = {
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32603, message: error instanceof Error ? error.message : String(error) },
        };
      }
      this.inner.send(reply as unknown as Message).catch(() => undefined);
      return true;
    }
    if (message.method !== undefined && message.id === undefined) {
      const handler = this.notificationHandlers.get(message.method);
      if (handler) {
        try {
          handler(message.params);
        } catch (error) {
          console.error(`trapline playground: handling ${message.method} failed`, error);
        }
        return true;
      }
    }
    return false;
  }
}

export interface StartedLanguageClient {
  client: MonacoLspClient;
  transport: TraplineTransport;
  worker: Worker;
}

/**
 * Starts the language server worker and connects monaco to it. Call after the `vmcs` model
 * exists or before: MonacoLspClient opens every monaco model with the server once the server's
 * capabilities arrive.
 */
export function startLanguageClient(
  workerUrl: string,
  initializationOptions: TraplineInitializationOptions,
): StartedLanguageClient {
  const worker = new Worker(workerUrl, { name: "trapline-language-server" });
  const transport = new TraplineTransport(createTransportToWorker(worker), initializationOptions);
  const client = new MonacoLspClient(transport);
  return { client, transport, worker };
}
