/**
 * The panel's simulation worker (bundled to dist/webview/sim-worker.js): runs `runRequest` off
 * the page's thread and transfers the timeline's typed arrays back without copying. Cancelling
 * is done by the page terminating the worker, which stops the simulator wherever it is.
 */
import type { FromSimWorker, ToSimWorker } from "../../protocol/panel";
import { runRequest, timelineTransferables } from "./runRequest";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToSimWorker>) => void) | null;
  postMessage(message: FromSimWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (event) => {
  const message = event.data;
  if (message?.type !== "run") return;
  try {
    const run = await runRequest(message.request);
    scope.postMessage({ type: "done", id: message.id, run }, timelineTransferables(run));
  } catch (error) {
    scope.postMessage({
      type: "failed",
      id: message.id,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
