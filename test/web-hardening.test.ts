/**
 * The timeline panel's window messaging and the playground's framing policy, in headless
 * Chromium (Debian's, via playwright-core), across real origins on loopback:
 *
 * - origin A: scripts/serve-playground.mjs serving a folder with the real panel page
 *   (playground/static/timeline/index.html + the webview bundle) and a host page that drives it
 *   with the playground's own `PanelFrame`, as playground/index.html does;
 * - origin B: an "attacker" page on another port that opens or frames the others;
 * - origin C: the panel page served without any headers (test/support/panelPage.ts), as a
 *   static host that cannot set headers would serve it.
 *
 * Every wait is on a condition: a foreign message counts as ignored once a spy listener in the
 * receiving window has seen it (the page's own listener ran in the same dispatch).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as esbuild from "esbuild";
import type { Frame, Page } from "playwright-core";
import type { PanelToHost } from "../protocol/panel";
// @ts-expect-error: a plain ES module without type declarations
import { servePlayground } from "../scripts/serve-playground.mjs";
import { isFromParentHost } from "../webview/src/host";
import { REPO_ROOT } from "./support/artifacts";
import { chromiumPath, type LaunchedBrowser, launchChromium } from "./support/chromium";
import { type PanelPage, servePanelPage } from "./support/panelPage";
import { missingTool } from "./support/skip";

/** Generous, for a loaded 2-core machine; each wait returns once its condition holds. */
const WAIT_MS = 120_000;

/** A tiny guest: the positive control simulates it through PanelFrame. */
const SMALL_FILE = `target skylake_server
vmcs v { proc hlt_exiting }
handler HLT { work 100 }
guest g on v { vcpus 1 path p rate 1k/s { compute 1us hlt } }
simulate g for 1ms seed 1
`;

declare global {
  interface Window {
    hardening?: { events: string[]; seen: { origin: string; data: unknown }[] };
    panelFrameForTest?: { simulate(request: { text: string; fileName: string }): void };
  }
}

describe("window messaging and framing (unit)", () => {
  const parent = { name: "parent" };
  const self = { parent, location: { origin: "http://127.0.0.1:8080" } };
  it("accepts only the parent window on the page's own origin", () => {
    assert.equal(isFromParentHost({ source: parent, origin: "http://127.0.0.1:8080" }, self), true);
    assert.equal(isFromParentHost({ source: parent, origin: "http://127.0.0.1:8081" }, self), false);
    assert.equal(isFromParentHost({ source: parent, origin: "http://localhost:8080" }, self), false);
    assert.equal(isFromParentHost({ source: {}, origin: "http://127.0.0.1:8080" }, self), false);
    assert.equal(isFromParentHost({ source: null, origin: "http://127.0.0.1:8080" }, self), false);
    // A top-level page is its own parent: no window messages at all.
    const top: { parent: unknown; location: { origin: string } } = {
      parent: undefined,
      location: { origin: "http://127.0.0.1:8080" },
    };
    top.parent = top;
    assert.equal(isFromParentHost({ source: top, origin: "http://127.0.0.1:8080" }, top), false);
    // An opaque origin cannot be told apart from another opaque origin.
    const opaque = { parent, location: { origin: "null" } };
    assert.equal(isFromParentHost({ source: parent, origin: "null" }, opaque), false);
  });
});

describe("web hardening in Chromium", { timeout: 10 * 60_000 }, () => {
  const executable = chromiumPath();
  let browser: LaunchedBrowser | undefined;
  let siteDir = "";
  let playground: { server: Server; url: string } | undefined;
  let attacker: Server | undefined;
  let attackerUrl = "";
  let bare: PanelPage | undefined;

  before(async () => {
    if (!executable) return;
    siteDir = mkdtempSync(join(tmpdir(), "trapline-hardening-"));
    mkdirSync(join(siteDir, "timeline"));
    await esbuild.build({
      absWorkingDir: REPO_ROOT,
      entryPoints: {
        "timeline/timeline": "webview/src/main.ts",
        "timeline/timeline-css": "webview/src/timeline.css",
        "timeline/sim-worker": "webview/src/simWorker.ts",
      },
      bundle: true,
      format: "iife",
      platform: "browser",
      target: ["chrome110"],
      outdir: siteDir,
      logLevel: "error",
    });
    await esbuild.build({
      absWorkingDir: REPO_ROOT,
      stdin: {
        resolveDir: REPO_ROOT,
        loader: "ts",
        contents: `
          import { PanelFrame } from "./playground/src/panelFrame";
          const record = { events: [], seen: [] };
          window.hardening = record;
          window.addEventListener("message", (event) => record.seen.push({ origin: event.origin, data: event.data }));
          window.panelFrameForTest = new PanelFrame(document.getElementById("timeline-frame"), "timeline/index.html", {
            reveal: (target) => record.events.push("reveal " + JSON.stringify(target)),
            status: (status, message) => record.events.push("status " + status + " " + (message ?? "")),
          });`,
      },
      bundle: true,
      format: "iife",
      platform: "browser",
      target: ["chrome110"],
      outfile: join(siteDir, "host.js"),
      logLevel: "error",
    });
    copyFileSync(
      join(REPO_ROOT, "playground", "static", "timeline", "index.html"),
      join(siteDir, "timeline", "index.html"),
    );
    // The bundle names its CSS timeline-css.css; the page links timeline.css.
    copyFileSync(join(siteDir, "timeline", "timeline-css.css"), join(siteDir, "timeline", "timeline.css"));
    writeFileSync(
      join(siteDir, "index.html"),
      `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; frame-src 'self'">
<title>host</title></head><body><iframe id="timeline-frame" title="timeline"></iframe><script src="host.js"></script></body></html>`,
    );
    playground = await servePlayground({ dir: siteDir, port: 0 });
    bare = await servePanelPage();

    // Origin B: pages with inline script (no CSP), recording every message they receive.
    const pages: Record<string, (a: string, c: string) => string> = {
      "/frame-playground.html": (a, c) => `<!doctype html><title>framer</title>
<script>window.loads = []; window.received = [];
addEventListener("message", (e) => window.received.push({ origin: e.origin, data: e.data }));</script>
<iframe id="top-page" src="${a}" onload="loads.push(this.id)"></iframe>
<iframe id="panel-page" src="${a}timeline/index.html" onload="loads.push(this.id)"></iframe>
<iframe id="bare-panel" src="${c}" onload="loads.push(this.id)"></iframe>`,
      "/opener.html": () => `<!doctype html><title>opener</title>`,
    };
    attacker = createServer((request, response) => {
      const page = pages[new URL(request.url ?? "/", "http://127.0.0.1").pathname];
      if (!page) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(page(playground!.url, bare!.url));
    });
    await new Promise<void>((resolve) => attacker!.listen(0, "127.0.0.1", resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    browser = await launchChromium({ executablePath: executable });
  });

  after(async () => {
    await browser?.close();
    await bare?.close();
    if (playground) await new Promise<void>((resolve) => playground!.server.close(() => resolve()));
    if (attacker) await new Promise<void>((resolve) => attacker!.close(() => resolve()));
    if (siteDir) rmSync(siteDir, { recursive: true, force: true });
  });

  /** Installs a recorder of `message` events in `frame` (after the page's own listener). */
  const spy = (frame: Frame | Page) =>
    frame.evaluate(() => {
      const w = window as unknown as { seenForTest?: { origin: string; data: unknown }[] };
      w.seenForTest = [];
      window.addEventListener("message", (e) => w.seenForTest!.push({ origin: e.origin, data: e.data }));
    });
  const waitSeen = (frame: Frame | Page, marker: string) =>
    frame.waitForFunction(
      (m) =>
        ((window as unknown as { seenForTest?: { data: unknown }[] }).seenForTest ?? []).some((e) =>
          JSON.stringify(e.data).includes(m),
        ),
      marker,
      { timeout: WAIT_MS },
    );
  const statusText = (frame: Frame) => frame.locator(".status").textContent();

  it("pages of the playground cannot be framed by another origin", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser!.context.newPage();
    try {
      await page.goto(`${attackerUrl}frame-playground.html`);
      await page.waitForFunction(
        () => (window as unknown as { loads: string[] }).loads.length === 3,
        undefined,
        {
          timeout: WAIT_MS,
        },
      );
      const playgroundOrigin = new URL(playground!.url).origin;
      const urls = page.frames().map((f) => f.url());
      // Blocked frames show Chromium's error page instead of the playground's documents.
      assert.ok(!urls.some((u) => u.startsWith(playgroundOrigin)), urls.join("\n"));
      assert.equal(urls.filter((u) => u.startsWith("chrome-error:")).length, 2, urls.join("\n"));
      const refusals = browser!.consoleLog.filter((line) => /frame-ancestors 'self'/.test(line));
      assert.ok(refusals.length >= 2, browser!.consoleLog.join("\n"));
      // The control: the same panel page from a host without the header loads in the same frame set.
      const barePanel = page.frames().find((f) => f.url().startsWith(new URL(bare!.url).origin));
      assert.ok(barePanel, urls.join("\n"));
      await barePanel.waitForFunction(() => window.traplinePanel !== undefined, undefined, {
        timeout: WAIT_MS,
      });
    } finally {
      await page.close();
    }
  });

  it("a panel framed by another origin ignores its messages and posts nothing to it", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser!.context.newPage();
    try {
      await page.goto(`${attackerUrl}frame-playground.html`);
      const barePanel = await (async () => {
        for (;;) {
          const frame = page.frames().find((f) => f.url().startsWith(new URL(bare!.url).origin));
          if (frame) return frame;
          await page.waitForEvent("framenavigated", { timeout: WAIT_MS });
        }
      })();
      await barePanel.waitForFunction(
        () => (window.traplinePanel?.posted ?? []).some((m: PanelToHost) => m.type === "ready"),
        undefined,
        { timeout: WAIT_MS },
      );
      await spy(barePanel);
      // The framing page is the panel's parent, but of another origin: ignored.
      await page.evaluate(() => {
        const frame = document.getElementById("bare-panel") as HTMLIFrameElement;
        frame.contentWindow!.postMessage({ type: "error", message: "FROM-FOREIGN-PARENT" }, "*");
      });
      await waitSeen(barePanel, "FROM-FOREIGN-PARENT");
      assert.doesNotMatch((await statusText(barePanel)) ?? "", /FROM-FOREIGN-PARENT/);
      // The panel posted "ready" to its parent with its own origin as target: the browser
      // dropped it. A later message from the same window to the same target arrives after it
      // would have, so once the sentinel is in, nothing else came.
      await barePanel.evaluate(() => window.parent.postMessage("sentinel", "*"));
      await page.waitForFunction(
        () =>
          (window as unknown as { received: { data: unknown }[] }).received.some(
            (m) => m.data === "sentinel",
          ),
        undefined,
        { timeout: WAIT_MS },
      );
      const received = await page.evaluate(() => (window as unknown as { received: unknown[] }).received);
      assert.deepEqual(received, [{ origin: new URL(bare!.url).origin, data: "sentinel" }]);
    } finally {
      await page.close();
    }
  });

  it("in the playground, panel and host talk only to each other", async (t) => {
    if (!executable) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const opener = await browser!.context.newPage();
    try {
      // An attacker's page opens the playground and so holds a reference to its windows.
      await opener.goto(`${attackerUrl}opener.html`);
      const [popup] = await Promise.all([
        browser!.context.waitForEvent("page", { timeout: WAIT_MS }),
        opener.evaluate((url) => {
          (window as unknown as { target: Window | null }).target = window.open(url);
        }, playground!.url),
      ]);
      // The panel frame is same-origin with the host page, which can see when it has loaded.
      await popup.waitForFunction(
        () =>
          (document.getElementById("timeline-frame") as HTMLIFrameElement | null)?.contentWindow
            ?.traplinePanel,
        undefined,
        { timeout: WAIT_MS },
      );
      const panel = popup.frames().find((f) => f.url().endsWith("/timeline/index.html"));
      assert.ok(
        panel,
        popup
          .frames()
          .map((f) => f.url())
          .join("\n"),
      );
      await panel.waitForFunction(
        () => (window.traplinePanel?.posted ?? []).some((m: PanelToHost) => m.type === "ready"),
        undefined,
        { timeout: WAIT_MS },
      );
      await spy(panel);
      await spy(popup);

      // 1. Another origin's window posts into the panel frame: ignored.
      await opener.evaluate(() => {
        const target = (window as unknown as { target: Window }).target;
        target.frames[0]!.postMessage({ type: "error", message: "FROM-OPENER" }, "*");
      });
      await waitSeen(panel, "FROM-OPENER");
      // 2. A same-origin window that is not the parent (the panel itself): ignored.
      await panel.evaluate(() =>
        window.postMessage({ type: "error", message: "FROM-SELF" }, window.location.origin),
      );
      await waitSeen(panel, "FROM-SELF");
      assert.doesNotMatch((await statusText(panel)) ?? "", /FROM-OPENER|FROM-SELF/);
      // The control: the parent, on the panel's origin, is heard.
      await popup.evaluate(() => {
        const frame = document.getElementById("timeline-frame") as HTMLIFrameElement;
        frame.contentWindow!.postMessage({ type: "error", message: "FROM-PARENT" }, window.location.origin);
      });
      await panel.waitForFunction(
        () => document.querySelector(".status")?.textContent?.includes("FROM-PARENT"),
        undefined,
        {
          timeout: WAIT_MS,
        },
      );

      // 3. Another origin posts panel messages to the playground window: PanelFrame ignores them.
      await opener.evaluate(() => {
        const target = (window as unknown as { target: Window }).target;
        target.postMessage({ type: "status", status: "done", message: "FORGED-STATUS" }, "*");
        target.postMessage(
          { type: "reveal", target: { line: 1, character: 0, length: 1, marker: "FORGED-REVEAL" } },
          "*",
        );
      });
      await waitSeen(popup, "FORGED-REVEAL");
      // The control: a real run through PanelFrame reports its status from the panel.
      await popup.evaluate(
        (text) => window.panelFrameForTest!.simulate({ text, fileName: "small.vmcs" }),
        SMALL_FILE,
      );
      await popup.waitForFunction(
        () => window.hardening!.events.some((e) => e.startsWith("status done")),
        undefined,
        {
          timeout: WAIT_MS,
        },
      );
      const events = await popup.evaluate(() => window.hardening!.events);
      assert.ok(!events.some((e) => /FORGED/.test(e)), events.join("\n"));
      assert.ok(events.includes("status running "), events.join("\n"));
    } finally {
      for (const page of browser!.context.pages()) if (page !== browser!.page) await page.close();
    }
  });
});
