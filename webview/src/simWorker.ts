/**
 * The panel's simulation worker (bundled to dist/webview/sim-worker.js): runs `runRequest`, or
 * imports a trace file (traceImport.ts), off the page's thread and transfers the timeline's
 * typed arrays back without copying. Cancelling is done by the page terminating the worker,
 * which stops the simulator or the importer wherever it is.
 */
import type { FromSimWorker, PanelRun, ToSimWorker } from "../../protocol/panel";
import { runRequest, timelineTransferables } from "./runRequest";
import { importTraceBytes } from "./traceImport";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToSimWorker>) => void) | null;
  postMessage(message: FromSimWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (event) => {
  const message = event.data;
  if (message?.type !== "run" && message?.type !== "importTrace") return;
  const id = message.id;
  try {
    let run: PanelRun;
    if (message.type === "run") run = await runRequest(message.request);
    else
      run = importTraceBytes(message.fileName, message.bytes, (p) =>
        scope.postMessage({ type: "progress", id, ...p }),
      );
    scope.postMessage({ type: "done", id, run }, timelineTransferables(run));
  } catch (error) {
    scope.postMessage({
      type: "failed",
      id,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
