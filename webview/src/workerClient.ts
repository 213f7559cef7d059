/**
 * The page's side of the simulation worker (simWorker.ts): starts it on first use (in VS Code
 * from a blob: URL, because webview resources have another origin than the page), sends runs
 * and trace imports, routes progress and results back by id, and cancels by terminating it (a
 * new worker starts on the next request).
 */
import type { FromSimWorker, PanelRun, RunRequest, ToSimWorker } from "../../protocol/panel";
import type { TraceImportProgress } from "./traceImport";

interface Pending {
  resolve: (run: PanelRun) => void;
  reject: (error: Error) => void;
  onProgress?: (progress: TraceImportProgress) => void;
}

export class SimWorkerClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly workerUrl: string | undefined,
    private readonly fromBlob: boolean,
  ) {}

  get busy(): boolean {
    return this.pending.size > 0;
  }

  run(request: RunRequest): Promise<PanelRun> {
    return this.send((id) => ({ type: "run", id, request }));
  }

  /** Imports a trace in the worker; the bytes are transferred (the caller's copy is detached). */
  importTrace(
    fileName: string,
    bytes: Uint8Array,
    onProgress?: (progress: TraceImportProgress) => void,
  ): Promise<PanelRun> {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const own = whole ? bytes : bytes.slice();
    return this.send(
      (id) => ({ type: "importTrace", id, fileName, bytes: own }),
      [own.buffer as ArrayBuffer],
      onProgress,
    );
  }

  /** Terminating the worker is immediate, whatever the simulator or importer is doing. */
  cancel(): void {
    this.worker?.terminate();
    this.worker = undefined;
    for (const pending of this.pending.values()) pending.reject(new Error("cancelled"));
    this.pending.clear();
  }

  private async send(
    message: (id: number) => ToSimWorker,
    transfer: Transferable[] = [],
    onProgress?: (progress: TraceImportProgress) => void,
  ): Promise<PanelRun> {
    const worker = await this.ensureWorker();
    const id = this.nextId++;
    return new Promise<PanelRun>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      worker.postMessage(message(id), transfer);
    });
  }

  private async ensureWorker(): Promise<Worker> {
    if (this.worker) return this.worker;
    if (!this.workerUrl) throw new Error("This page has no simulation worker (data-sim-worker is missing).");
    let worker: Worker;
    if (this.fromBlob) {
      // Webview resources have another origin than the page: a Worker cannot load them by URL,
      // so load the script text (connect-src allows the resource origin) into a blob: worker.
      const response = await fetch(this.workerUrl);
      if (!response.ok) throw new Error(`Cannot load the simulation worker (${response.status}).`);
      worker = new Worker(URL.createObjectURL(await response.blob()));
    } else {
      worker = new Worker(this.workerUrl);
    }
    worker.addEventListener("message", (event: MessageEvent<FromSimWorker>) => {
      const message = event.data;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      if (message.type === "progress") {
        pending.onProgress?.(message);
        return;
      }
      this.pending.delete(message.id);
      if (message.type === "done") pending.resolve(message.run);
      else pending.reject(new Error(message.message));
    });
    worker.addEventListener("error", (event) => {
      for (const pending of this.pending.values())
        pending.reject(new Error(`simulation worker failed: ${event.message}`));
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }
}
