/**
 * The timeline panel page served (panelPage.ts) and opened in headless Chromium for one suite:
 * call `panelInChromium()` inside a `describe`, and it registers the `before` (serve, launch,
 * wait for the page's test hook) and `after` (close both) of that suite. Without a Chromium
 * executable nothing starts; the suite's tests then skip through `missingTool`.
 */
import { after, before } from "node:test";
import type { PanelToHost } from "../../protocol/panel";
import { chromiumPath, type LaunchedBrowser, launchChromium } from "./chromium";
import { type PanelPage, servePanelPage } from "./panelPage";

export interface PanelInChromium {
  /** The Chromium executable, undefined when none is installed. */
  readonly executable: string | undefined;
  /** The browser on the panel page (set by the suite's `before`). */
  readonly browser: LaunchedBrowser | undefined;
  /** The messages the page posted to its host so far. */
  posted(): Promise<PanelToHost[]>;
}

export function panelInChromium(viewport = { width: 1280, height: 1000 }): PanelInChromium {
  let page: PanelPage | undefined;
  let browser: LaunchedBrowser | undefined;
  const executable = chromiumPath();

  before(async () => {
    if (!executable) return;
    page = await servePanelPage();
    browser = await launchChromium({ executablePath: executable, viewport });
    await browser.page.goto(page.url);
    await browser.page.waitForFunction(() => window.traplinePanel !== undefined);
  });

  after(async () => {
    await browser?.close();
    await page?.close();
  });

  return {
    executable,
    get browser() {
      return browser;
    },
    posted: () => browser!.page.evaluate(() => window.traplinePanel!.posted),
  };
}
