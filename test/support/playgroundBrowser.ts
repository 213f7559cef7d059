/**
 * The browser playground's production build served and opened in headless Chromium for one
 * suite: call `playgroundInChromium()` inside a `describe`, and it registers the `before`
 * (build with scripts/build.mjs --only=playground --production, serve playground-dist/, launch)
 * and `after` (close both) of that suite. Without a Chromium executable nothing starts.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before } from "node:test";
import type { Page } from "playwright-core";
// @ts-expect-error: a plain ES module without type declarations
import { servePlayground } from "../../scripts/serve-playground.mjs";
import { REPO_ROOT } from "./artifacts";
import { chromiumPath, type LaunchedBrowser, launchChromium } from "./chromium";

export const PLAYGROUND_DIST = join(REPO_ROOT, "playground-dist");

export interface PlaygroundInChromium {
  /** The browser (set by the suite's `before`; undefined without Chromium). */
  readonly browser: LaunchedBrowser | undefined;
  /** The served playground's address. */
  readonly url: string;
  /** The shared page, on the playground (each test can run alone with --test-name-pattern). */
  page(): Promise<Page>;
}

export function playgroundInChromium(viewport = { width: 1400, height: 900 }): PlaygroundInChromium {
  let browser: LaunchedBrowser | undefined;
  let server: { close(callback: () => void): void } | undefined;
  let url = "";

  before(async () => {
    if (!chromiumPath()) return;
    // The production build: what `npm start` and `npm run build:playground` serve.
    execFileSync(process.execPath, ["scripts/build.mjs", "--only=playground", "--production"], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const started = await servePlayground({ dir: PLAYGROUND_DIST, port: 0 });
    server = started.server;
    url = started.url;
    browser = await launchChromium({ viewport });
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  return {
    get browser() {
      return browser;
    },
    get url() {
      return url;
    },
    async page() {
      const page = browser!.page;
      if (!page.url().startsWith(url)) await page.goto(url);
      return page;
    },
  };
}
