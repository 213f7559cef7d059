/**
 * Timeline panel speed in headless Chromium: a timeline of 1,000,000 exits (≈4 million
 * intervals over 4 vCPUs, from test/support/timelineGen.ts, generated inside the page so the
 * typed arrays arrive as they would from the simulation worker) is handed to the panel page
 * (the same page and strict CSP as the browser tests, test/support/panelPage.ts).
 *
 * Figures: first paint (from handing over the data to the first frame drawn: lane index, LOD
 * pyramid and drawing) — target ≤ 1 s; pan/zoom frame time (synchronous draw of one frame at
 * views from the whole run down to single exits, via the page's own zoom/pan arithmetic) —
 * target median ≤ 16 ms. Exit status 1 if a target is missed.
 */
import { chromiumPath, launchChromium } from "../test/support/chromium";
import { servePanelPage } from "../test/support/panelPage";

const EXITS = 1_000_000;
const FIRST_PAINT_TARGET_MS = 1000;
const FRAME_TARGET_MS = 16;

async function main(): Promise<void> {
  const executable = chromiumPath();
  if (!executable) {
    console.log("timeline bench: skipped, chromium is not installed (scripts/install-system-deps.sh)");
    return;
  }
  const page = await servePanelPage();
  const browser = await launchChromium({
    executablePath: executable,
    viewport: { width: 1600, height: 900 },
  });
  try {
    await browser.page.goto(page.url);
    await browser.page.waitForFunction(
      () => window.traplineFixture !== undefined && window.traplinePanel !== undefined,
    );
    const feed = await browser.page.evaluate(
      (exits) => window.traplineFixture!.feed({ vcpus: 4, exits, durationNs: 1e9, seed: 3 }),
      EXITS,
    );
    const frames = await browser.page.evaluate(() => {
      const app = window.traplineTimelineApp!;
      const whole = app.getView();
      const total = whole.endNs;
      const times: number[] = [];
      const paths = new Set<string>();
      // Zoom in step by step around the middle from the whole run to ~1 µs, panning at each
      // level, then back out: 3 frames per level.
      let span = total;
      const centre = total * 0.5137;
      const levels: number[] = [];
      while (span > 1000) {
        levels.push(span);
        span /= 1.6;
      }
      for (const s of [...levels, ...levels.slice().reverse()]) {
        for (const shift of [0, 0.1, -0.1]) {
          const start = centre - s / 2 + shift * s;
          app.setView(start, start + s);
          times.push(app.drawNow());
          for (const p of (app as unknown as { renderer: { lastPaths: string[] } }).renderer.lastPaths)
            paths.add(p);
        }
      }
      return { times, paths: [...paths], levels: levels.length, widthPx: app.getView().widthPx };
    });
    const sorted = [...frames.times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
    const max = sorted[sorted.length - 1]!;
    console.log(
      `timeline: ${feed.exits.toLocaleString("en-US")} exits, ${feed.intervals.toLocaleString("en-US")} intervals, 4 vCPUs`,
    );
    console.log(`  generate (in page, not part of the panel): ${feed.generateMs.toFixed(0)} ms`);
    console.log(
      `  first paint after data arrival: ${feed.firstPaintMs.toFixed(0)} ms (target ≤ ${FIRST_PAINT_TARGET_MS} ms)`,
    );
    console.log(
      `  pan/zoom frames: ${frames.times.length} frames over ${frames.levels} zoom levels, plot ${frames.widthPx} px; median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${max.toFixed(2)} ms (target median ≤ ${FRAME_TARGET_MS} ms); LOD paths used: ${frames.paths.join(", ")}`,
    );
    if (feed.firstPaintMs > FIRST_PAINT_TARGET_MS || median > FRAME_TARGET_MS) {
      console.log("timeline bench: a target was missed");
      process.exitCode = 1;
    }
  } finally {
    await browser.close();
    await page.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
