/**
 * Entry of the timeline panel page (bundled to dist/webview/timeline.js). The page's HTML
 * provides `<main id="trapline-timeline" data-sim-worker="URL">`; everything else is built here.
 */
import { TimelineApp } from "./app";
import { createHost } from "./host";

declare global {
  interface Window {
    /** The running panel, for the benchmark and browser tests. */
    traplineTimelineApp?: TimelineApp;
  }
}

function start(): void {
  const container = document.getElementById("trapline-timeline") ?? document.body;
  const workerUrl = container.dataset.simWorker || document.body.dataset.simWorker || undefined;
  window.traplineTimelineApp = new TimelineApp(createHost(), workerUrl, container);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
