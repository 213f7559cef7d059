/**
 * Serves the timeline panel page for browser tests and the benchmark: bundles
 * webview/src/main.ts, timeline.css, the simulation worker and a fixture script (which can feed
 * generated timelines) with esbuild into a temporary folder, and serves it over loopback HTTP
 * under the same strict Content-Security-Policy the VS Code panel uses (no inline script or
 * style), so a CSP violation shows up as a console error in the test.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import * as esbuild from "esbuild";
import { REPO_ROOT } from "./artifacts";

export interface PanelPage {
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};

const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'";

export async function servePanelPage(options: { bodyClass?: string } = {}): Promise<PanelPage> {
  const dir = mkdtempSync(join(tmpdir(), "trapline-panel-"));
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: {
      timeline: "webview/src/main.ts",
      "timeline-css": "webview/src/timeline.css",
      "sim-worker": "webview/src/simWorker.ts",
      fixture: "test/support/panelFixture.ts",
    },
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["chrome110"],
    outdir: dir,
    logLevel: "error",
    sourcemap: "linked",
  });
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="stylesheet" href="timeline-css.css">
<title>Trapline timeline</title>
</head>
<body class="${options.bodyClass ?? ""}">
<main id="trapline-timeline" data-sim-worker="sim-worker.js"></main>
<script src="fixture.js"></script>
<script src="timeline.js"></script>
</body>
</html>`;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path === "/" || path === "/index.html") {
      response.writeHead(200, { "content-type": TYPES[".html"]! });
      response.end(page);
      return;
    }
    if (path === "/favicon.ico") {
      response.writeHead(204).end();
      return;
    }
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
