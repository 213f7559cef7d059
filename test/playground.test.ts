/**
 * The browser playground end to end in headless Chromium (Debian's, via playwright-core): the
 * production build of playground-dist/ served by scripts/serve-playground.mjs, the language
 * server in its worker, monaco's markers/hover/quick fixes, the `#src=` link, "Run simulation"
 * drawing lanes in the timeline panel, the target-CPU picker, the estimate report and the
 * comparison of configurations. Screenshots go to test-artifacts/playground/.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Frame, Page } from "playwright-core";
import { formatRate } from "../core/src/util/format";
import type { PlaygroundHandle } from "../playground/src/main";
import { hashForSource } from "../playground/src/state";
import type { TimelineApp } from "../webview/src/app";
import { artifactPath, REPO_ROOT } from "./support/artifacts";
import { PLAYGROUND_DIST, playgroundInChromium } from "./support/playgroundBrowser";
import { missingTool } from "./support/skip";

declare global {
  interface Window {
    traplinePlayground?: PlaygroundHandle;
    traplineTimelineApp?: TimelineApp;
  }
}

const DIST = PLAYGROUND_DIST;
/** monaco.MarkerSeverity.Error (the page's monaco is not loaded in Node). */
const MARKER_ERROR = 8;

/** process_posted_interrupts without acknowledge_interrupt_on_exit: VM entry fails (SDM §26.2.1.1/§26.2.1.2, KVM nested_vmx_check_apicv_controls). */
const POSTED_WITHOUT_ACK = `target skylake_server @ 2.1GHz

vmcs posted {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis process_posted_interrupts
  proc  use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest virtual_interrupt_delivery apic_register_virtualization virtualize_x2apic_mode
  exit  host_address_space_size
  entry ia32e_mode_guest
  field VIRTUAL_PROCESSOR_ID = 1
}

handler EXTERNAL_INTERRUPT { work 350 }

guest app on posted {
  vcpus 1
  path work rate 10k/s { compute 20us  wrmsr IA32_TSC_DEADLINE }
}
`;

const PML_EXAMPLE = readFileSync(join(REPO_ROOT, "examples", "pml-vs-write-protect.vmcs"), "utf8");
/** The PML example without its `target broadwell` line: the page's default target applies. */
const PML_WITHOUT_TARGET = PML_EXAMPLE.replace(/^target .*\n/m, "");

/**
 * How long a test waits for each kind of condition (each wait returns once its condition
 * holds): generous, for loaded 2-core machines where the server worker, the simulation worker
 * and Chromium's renderer share two cores. No test sleeps for a fixed time.
 */
const WAIT = {
  /** The server's analysis of the current version, its markers on screen. */
  analysis: 60_000,
  /** An element a key press, click or hover shows (quick fix, hover, completion, lens). */
  ui: 60_000,
  /** A simulation run and drawn in the panel. */
  run: 180_000,
} as const;

/** Waits until the server has analysed the model's current version and its markers are on screen. */
async function waitForAnalysis(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const pg = window.traplinePlayground;
      if (!pg) return false;
      const version = pg.model.getVersionId();
      return pg.fileStatus()?.version === version && pg.diagnosticsVersion() >= version;
    },
    undefined,
    { timeout: WAIT.analysis },
  );
}

interface MarkerSummary {
  severity: number;
  message: string;
  code: string;
  line: number;
  column: number;
}

function markers(page: Page): Promise<MarkerSummary[]> {
  return page.evaluate(() => {
    const pg = window.traplinePlayground!;
    return pg.monaco.editor.getModelMarkers({ resource: pg.model.uri }).map((m) => ({
      severity: m.severity as number,
      message: m.message,
      code: typeof m.code === "string" ? m.code : (m.code?.value ?? ""),
      line: m.startLineNumber,
      column: m.startColumn,
    }));
  });
}

/** Page coordinates of a model position (1-based), after scrolling it into view. */
async function pointAt(page: Page, lineNumber: number, column: number): Promise<{ x: number; y: number }> {
  const point = await page.evaluate(
    ({ lineNumber, column }) => {
      const { editor } = window.traplinePlayground!;
      editor.revealPositionInCenter({ lineNumber, column });
      const visible = editor.getScrolledVisiblePosition({ lineNumber, column });
      const box = editor.getDomNode()!.getBoundingClientRect();
      return visible
        ? { x: box.left + visible.left + 3, y: box.top + visible.top + visible.height / 2 }
        : undefined;
    },
    { lineNumber, column },
  );
  assert.ok(point, `line ${lineNumber} column ${column} is visible`);
  return point;
}

describe("browser playground", { timeout: 30 * 60_000 }, () => {
  const playground = playgroundInChromium();
  const playgroundPage = (): Promise<Page> => playground.page();

  const pageErrors = () =>
    playground.browser!.consoleLog.filter(
      (line) => line.startsWith("[pageerror]") || line.startsWith("[error]"),
    );

  it("ships under 6 MB of minified JavaScript, monaco once, workers separate", (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const scripts: { file: string; bytes: number }[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".js"))
          scripts.push({ file: path.slice(DIST.length + 1), bytes: statSync(path).size });
      }
    };
    walk(DIST);
    const total = scripts.reduce((sum, script) => sum + script.bytes, 0);
    t.diagnostic(
      `playground-dist JavaScript: ${scripts.map((s) => `${s.file} ${(s.bytes / 1e6).toFixed(2)} MB`).join(", ")}; total ${(total / 1e6).toFixed(2)} MB`,
    );
    assert.ok(total < 6_000_000, `total ${total} bytes`);
    assert.deepEqual(scripts.map((s) => s.file).sort(), [
      "editor.worker.js",
      "lsp-worker.js",
      "main.js",
      "timeline/sim-worker.js",
      "timeline/timeline.js",
    ]);
    // The editor (its actions, its CSS class names) is in the page bundle once; the language
    // server, simulator and panel bundles carry none of it.
    assert.ok(readFileSync(join(DIST, "main.js"), "utf8").includes("editor.action.quickFix"));
    for (const worker of ["lsp-worker.js", "timeline/sim-worker.js", "timeline/timeline.js"]) {
      const text = readFileSync(join(DIST, worker), "utf8");
      assert.ok(
        !text.includes("monaco-editor") && !text.includes("editor.action."),
        `${worker} has no monaco`,
      );
    }
    // Offline: nothing is fetched from another origin.
    const page = readFileSync(join(DIST, "index.html"), "utf8");
    assert.ok(
      !/https?:\/\//.test(page.replace(/<!--[\s\S]*?-->/g, "")),
      "index.html references no remote URL",
    );
  });

  it("opens the default example and every example with no error markers", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = browser.page;
    await page.goto(playground.url);
    await waitForAnalysis(page);
    assert.equal(await page.inputValue("#example-picker"), "kvm-default.vmcs");
    assert.match(await page.url(), /#src=[A-Za-z0-9_-]+$/, "the address bar holds the text");

    const names = await page.$$eval("#example-picker option", (options) =>
      options.map((o) => (o as HTMLOptionElement).value).filter(Boolean),
    );
    assert.ok(names.length >= 5, `${names.length} examples in the picker`);
    for (const name of names) {
      await page.selectOption("#example-picker", name);
      await waitForAnalysis(page);
      const errors = (await markers(page)).filter((m) => m.severity === MARKER_ERROR);
      assert.deepEqual(errors, [], `${name} opens without errors`);
      const status = await page.evaluate(() => window.traplinePlayground!.fileStatus()!);
      assert.equal(status.errors, 0);
      assert.ok(status.guests.length > 0, `${name} has guests`);
    }
    assert.deepEqual(pageErrors(), []);
  });

  it("a #src= link with process_posted_interrupts but no acknowledge_interrupt_on_exit shows the VM-entry error, and its quick fix clears it", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}${hashForSource(POSTED_WITHOUT_ACK)}`);
      await waitForAnalysis(page);
      assert.equal(
        await page.evaluate(() => window.traplinePlayground!.model.getValue()),
        POSTED_WITHOUT_ACK,
      );
      const errors = (await markers(page)).filter((m) => m.severity === MARKER_ERROR);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      const [error] = errors;
      assert.equal(error!.code, "VMX-E15");
      assert.match(
        error!.message,
        /process_posted_interrupts \(pin\) requires acknowledge_interrupt_on_exit \(exit\) = 1/,
      );
      // On the control's name in the pin line.
      assert.equal(error!.line, 4);
      assert.equal(
        POSTED_WITHOUT_ACK.split("\n")[3]!
          .slice(error!.column - 1)
          .startsWith("process_posted_interrupts"),
        true,
      );
      assert.equal(
        await page.isDisabled("#run-simulation"),
        true,
        "a VMCS that fails VM entry cannot be simulated",
      );
      await page.screenshot({ path: artifactPath("playground", "posted-without-ack.png") });

      // The server's quick fix, through monaco's lightbulb menu.
      await page.evaluate(
        ({ line, column }) => {
          const { editor } = window.traplinePlayground!;
          editor.setPosition({ lineNumber: line, column: column + 1 });
          editor.focus();
          editor.trigger("test", "editor.action.quickFix", {});
        },
        { line: error!.line, column: error!.column },
      );
      const fix = page.locator('.action-widget [role="option"]', {
        hasText: "Add acknowledge_interrupt_on_exit (exit)",
      });
      await fix.first().waitFor({ timeout: WAIT.ui });
      await fix.first().click();
      await page.waitForFunction(() =>
        window.traplinePlayground!.model.getValue().includes("acknowledge_interrupt_on_exit"),
      );
      await waitForAnalysis(page);
      assert.deepEqual(
        (await markers(page)).filter((m) => m.severity === MARKER_ERROR),
        [],
        "the fix removes the error",
      );
      assert.match(
        await page.evaluate(() => window.traplinePlayground!.model.getValue()),
        /exit {2}host_address_space_size acknowledge_interrupt_on_exit\n/,
      );
    } finally {
      await page.close();
    }
  });

  it("hovering a guest operation shows its exit cost in cycles", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await playgroundPage();
    await page.selectOption("#example-picker", "kvm-default.vmcs");
    await waitForAnalysis(page);
    const where = await page.evaluate(() => {
      const { model } = window.traplinePlayground!;
      const match = model.findMatches("mmio write 0xfebf_0018", false, false, true, null, false)[0];
      return match ? { line: match.range.startLineNumber, column: match.range.startColumn } : undefined;
    });
    assert.ok(where, "kvm-default.vmcs has the mmio write");
    const point = await pointAt(page, where.line, where.column + 1);
    await page.mouse.move(point.x, point.y);
    const hover = page.locator(".monaco-hover-content", { hasText: "cycles" });
    await hover.first().waitFor({ state: "visible", timeout: WAIT.ui });
    const text = (await hover.first().textContent()) ?? "";
    assert.match(text, /EPT_MISCONFIG/, text);
    assert.match(text, /[\d,]+ cycles/, text);
    await page.screenshot({ path: artifactPath("playground", "hover.png") });
    await page.mouse.move(5, 5);
  });

  it("completes control names from the server", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await playgroundPage();
    await page.selectOption("#example-picker", "kvm-default.vmcs");
    await waitForAnalysis(page);
    const line = await page.evaluate(() => {
      const { editor, model } = window.traplinePlayground!;
      const match = model.findMatches("proc2 enable_ept", false, false, true, null, false)[0]!;
      const lineNumber = match.range.startLineNumber;
      editor.setPosition({ lineNumber, column: model.getLineMaxColumn(lineNumber) });
      editor.focus();
      return lineNumber;
    });
    await page.keyboard.type(" enable_p");
    await page.evaluate(() =>
      window.traplinePlayground!.editor.trigger("test", "editor.action.triggerSuggest", {}),
    );
    const item = page.locator(".suggest-widget .monaco-list-row", { hasText: "enable_pml" });
    await item.first().waitFor({ state: "visible", timeout: WAIT.ui });
    await page.keyboard.press("Escape");
    // Leave the example as it was for the next test.
    await page.evaluate((lineNumber) => {
      const { editor, model } = window.traplinePlayground!;
      const content = model.getLineContent(lineNumber);
      editor.executeEdits("test", [
        {
          range: {
            startLineNumber: lineNumber,
            startColumn: content.length - " enable_p".length + 1,
            endLineNumber: lineNumber,
            endColumn: content.length + 1,
          },
          text: "",
        },
      ]);
    }, line);
  });

  it("the example picker follows the text: an edit is (your edits), undone or typed back it is the example again", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await playgroundPage();
    await page.selectOption("#example-picker", "kvm-default.vmcs");
    await waitForAnalysis(page);
    const original = await page.evaluate(() => window.traplinePlayground!.model.getValue());
    // The end of the first line, a comment: no completion widget to get in the way.
    await page.evaluate(() => {
      const { editor, model } = window.traplinePlayground!;
      editor.setPosition({ lineNumber: 1, column: model.getLineMaxColumn(1) });
      editor.focus();
    });
    const picker = () => page.inputValue("#example-picker");

    await page.keyboard.type("x");
    assert.equal(await picker(), "", "an edit of the example");
    await page.keyboard.press("Control+z");
    assert.equal(await page.evaluate(() => window.traplinePlayground!.model.getValue()), original);
    assert.equal(await picker(), "kvm-default.vmcs", "undo: the example again");

    await page.keyboard.type("y");
    assert.equal(await picker(), "");
    await page.keyboard.press("Backspace");
    assert.equal(await picker(), "kvm-default.vmcs", "typed back: the example again");

    // The same length, a different text: one character replaced.
    await page.keyboard.press("Shift+ArrowLeft");
    await page.keyboard.type("#");
    assert.equal(
      await page.evaluate(() => window.traplinePlayground!.model.getValueLength()),
      original.length,
    );
    assert.equal(await picker(), "", "a text of the example's length that is not the example");
    await page.keyboard.press("Control+z");
    assert.equal(await picker(), "kvm-default.vmcs");
    assert.equal(await page.evaluate(() => window.traplinePlayground!.model.getValue()), original);
    // The link holds the example's text, as when it is picked.
    const target = await page.evaluate(() => window.traplinePlayground!.defaultTarget());
    await page.waitForFunction((hash) => location.hash === hash, hashForSource(original, target));
  });

  it("a broken #src= link says so and opens the last text instead", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}#src=not*base64`);
      await page.locator("#notice").waitFor({ state: "visible" });
      assert.match((await page.textContent("#notice-text")) ?? "", /could not be opened: .*base64url/);
      await waitForAnalysis(page);
      assert.ok((await page.evaluate(() => window.traplinePlayground!.model.getValue())).length > 0);

      // A good link pasted into the address bar of the open page replaces the text.
      const pasted = "target skylake_server\n// pasted — µs\n";
      await page.evaluate((hash) => {
        location.hash = hash;
      }, hashForSource(pasted));
      await page.waitForFunction((text) => window.traplinePlayground!.model.getValue() === text, pasted);
      assert.equal(await page.isHidden("#notice"), true, "the banner goes once a good link opens");
    } finally {
      await page.close();
    }
  });

  it("Run simulation draws the vCPU lanes in the timeline panel", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await playgroundPage();
    await page.selectOption("#example-picker", "kvm-default.vmcs");
    await waitForAnalysis(page);
    await page.click("#run-simulation");
    await page.waitForSelector('#run-status[data-status="done"]', { timeout: WAIT.run });
    assert.match((await page.textContent("#run-status")) ?? "", /Simulated: [\d,]+ exits/);

    const frame: Frame | null = page.frame({ url: /timeline\/index\.html$/ });
    assert.ok(frame, "the timeline iframe");
    await frame.waitForFunction(() =>
      document.querySelector("header.header")?.textContent?.includes("netperf"),
    );
    // Lanes: the canvas holds the vCPU state colours (timeline.css --tl-state-*).
    const colours = await frame.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>("canvas.timeline")!;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<string>();
      for (let i = 0; i < data.length; i += 4) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
      const style = getComputedStyle(document.body);
      // No named helper functions in here: tsx would wrap them in a `__name` the page lacks.
      const [states, reasons] = [
        ["guest", "exit", "handler", "userspace", "halted", "polling"].map((name) => `--tl-state-${name}`),
        Array.from({ length: 10 }, (_, i) => `--tl-reason-${i}`),
      ].map((names) =>
        names.filter((name) => {
          const hex = style.getPropertyValue(name).trim().replace("#", "");
          return seen.has([0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(","));
        }),
      );
      return { states: states!, reasons: reasons!, height: canvas.height };
    });
    // netperf idles in HLT between packets and spends its exits in user space (the NIC model).
    const seen = JSON.stringify(colours);
    assert.ok(colours.states.includes("--tl-state-halted"), `lanes show halted time: ${seen}`);
    assert.ok(colours.states.length >= 2, `lanes show several vCPU states: ${seen}`);
    assert.ok(colours.reasons.length >= 1, `exits are drawn in their reason colours: ${seen}`);
    assert.ok(colours.height > 40);

    await page.screenshot({ path: artifactPath("playground", "playground.png") });

    // A click on an exit in the panel selects the guest operation or handler in the editor.
    await page.evaluate(() => window.traplinePlayground!.editor.setPosition({ lineNumber: 1, column: 1 }));
    const spot = await frame.evaluate(() => {
      const app = window.traplineTimelineApp!;
      return app.locateExit(0, app.longestExit(0));
    });
    assert.ok(spot, "vCPU 0 has an exit");
    const frameBox = (await page.locator("#timeline-frame").boundingBox())!;
    await page.mouse.click(frameBox.x + spot.clientX, frameBox.y + spot.clientY);
    await page.waitForFunction(() => window.traplinePlayground!.editor.getPosition()!.lineNumber > 1);
    const selected = await page.evaluate(() => {
      const { editor, model } = window.traplinePlayground!;
      const selection = editor.getSelection()!;
      return {
        text: model.getValueInRange(selection),
        line: model.getLineContent(selection.startLineNumber),
      };
    });
    assert.ok(selected.text.trim().length > 0, `the reveal selects source text: ${JSON.stringify(selected)}`);
    assert.ok(!selected.line.trim().startsWith("//"), `not a comment: ${selected.line}`);
    assert.deepEqual(pageErrors(), []);
  });

  it("the target-CPU picker: without a target line it sets the page's default target (kept in the link)", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    assert.ok(!/^target /m.test(PML_WITHOUT_TARGET));
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}${hashForSource(PML_WITHOUT_TARGET)}`);
      await waitForAnalysis(page);
      await page.waitForSelector("#target-picker:not([disabled])");
      // The documented default profile: enable_pml is supported, no error.
      assert.equal(await page.inputValue("#target-picker"), "skylake_server");
      assert.equal(await page.getAttribute("#target-picker", "data-source"), "default");
      assert.match((await page.textContent("#target-note")) ?? "", /no target line/);
      assert.deepEqual(
        (await markers(page)).filter((m) => m.severity === MARKER_ERROR),
        [],
      );
      const options = await page.$$eval("#target-picker option", (list) =>
        list.map((o) => (o as HTMLOptionElement).value),
      );
      assert.ok(options.includes("nehalem") && options.includes("sapphire_rapids"), options.join(", "));
      assert.equal(options.length, 10, "every profile of core/src/vmx/profiles.ts");

      const versionBefore = await page.evaluate(() => window.traplinePlayground!.model.getVersionId());
      await page.selectOption("#target-picker", "nehalem");
      await page.waitForFunction(() => window.traplinePlayground!.fileStatus()?.target.profile === "nehalem");
      await page.waitForFunction(
        (before) => window.traplinePlayground!.model.getVersionId() > before,
        versionBefore,
      );
      await waitForAnalysis(page);
      // Nehalem has no page-modification logging (Broadwell and later): VM entry would fail.
      const errors = (await markers(page)).filter((m) => m.severity === MARKER_ERROR);
      const pml = errors.find((m) => m.code === "VMX-CAP1" && /enable_pml/.test(m.message));
      assert.ok(pml, JSON.stringify(errors));
      assert.equal(await page.inputValue("#target-picker"), "nehalem");
      assert.equal(
        await page.evaluate(() => window.traplinePlayground!.model.getValue()),
        PML_WITHOUT_TARGET,
        "the text is unchanged",
      );
      assert.equal(
        await page.evaluate(() => window.traplinePlayground!.editor.getModel()!.canUndo()),
        false,
        "nothing to undo: the target is not an edit of the text",
      );
      assert.equal(await page.isDisabled("#run-simulation"), true);
      await page.waitForFunction(() => location.hash.endsWith("&target=nehalem"));
      await page.screenshot({ path: artifactPath("playground", "target-default.png") });

      // The link reproduces it on a fresh page.
      const link = page.url();
      const second = await browser.context.newPage();
      try {
        await second.goto(link);
        await waitForAnalysis(second);
        assert.equal(
          (await second.evaluate(() => window.traplinePlayground!.fileStatus()!)).target.profile,
          "nehalem",
        );
        assert.ok((await markers(second)).some((m) => m.code === "VMX-CAP1"));
      } finally {
        await second.close();
      }

      // Back to a CPU with PML: the error goes.
      await page.selectOption("#target-picker", "skylake_server");
      await page.waitForFunction(
        () => window.traplinePlayground!.fileStatus()?.target.profile === "skylake_server",
      );
      await page.waitForFunction(
        () =>
          window
            .traplinePlayground!.monaco.editor.getModelMarkers({
              resource: window.traplinePlayground!.model.uri,
            })
            .every(
              (m) =>
                m.code === undefined ||
                !String(typeof m.code === "string" ? m.code : m.code.value).startsWith("VMX-CAP"),
            ),
        undefined,
        { timeout: WAIT.analysis },
      );
      await waitForAnalysis(page);
      assert.deepEqual(
        (await markers(page)).filter((m) => m.severity === MARKER_ERROR),
        [],
      );
      assert.deepEqual(pageErrors(), []);
    } finally {
      await page.close();
    }
  });

  it("the target-CPU picker rewrites the file's own target line, and undo takes it back", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}#example=pml-vs-write-protect.vmcs`);
      await waitForAnalysis(page);
      await page.waitForSelector("#target-picker:not([disabled])");
      assert.equal(await page.inputValue("#target-picker"), "broadwell");
      assert.equal(await page.getAttribute("#target-picker", "data-source"), "file");
      assert.match((await page.textContent("#target-note")) ?? "", /target line/);
      const defaultBefore = await page.evaluate(() => window.traplinePlayground!.defaultTarget());

      await page.selectOption("#target-picker", "nehalem");
      await page.waitForFunction(() =>
        window.traplinePlayground!.model.getValue().includes("\ntarget nehalem @ 2.2GHz\n"),
      );
      await waitForAnalysis(page);
      assert.equal(
        (await page.evaluate(() => window.traplinePlayground!.fileStatus()!)).target.profile,
        "nehalem",
      );
      assert.ok(
        (await markers(page)).some((m) => m.code === "VMX-CAP1" && /enable_pml/.test(m.message)),
        "PML is not available on Nehalem",
      );
      assert.equal(await page.inputValue("#example-picker"), "", "the text is now an edit of the example");
      assert.equal(
        await page.evaluate(() => window.traplinePlayground!.defaultTarget()),
        defaultBefore,
        "the page's default target is left alone",
      );

      await page.evaluate(() => {
        const { editor } = window.traplinePlayground!;
        editor.focus();
        editor.trigger("test", "undo", null);
      });
      await page.waitForFunction(() =>
        window.traplinePlayground!.model.getValue().includes("\ntarget broadwell @ 2.2GHz\n"),
      );
      await waitForAnalysis(page);
      assert.equal(await page.inputValue("#target-picker"), "broadwell");
      assert.equal(
        await page.inputValue("#example-picker"),
        "pml-vs-write-protect.vmcs",
        "undone, the text is the example again",
      );
      assert.deepEqual(
        (await markers(page)).filter((m) => m.severity === MARKER_ERROR),
        [],
      );
    } finally {
      await page.close();
    }
  });

  it("Estimate report shows the server's Markdown report, with each guest's exits/s as the server computes it", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}#example=pml-vs-write-protect.vmcs`);
      await waitForAnalysis(page);
      await page.waitForSelector("#show-report:not([disabled])");
      await page.click("#show-report");
      await page.waitForSelector("#side-pane:not([hidden]) .report-markdown table");
      const status = await page.evaluate(() => window.traplinePlayground!.fileStatus()!);
      assert.equal(status.guests.length, 2);
      const pane = page.locator("#side-pane .report-markdown");
      for (const guest of status.guests) {
        const section = pane.locator("h2", { hasText: `guest ${guest.name}` });
        assert.equal(await section.count(), 1, `a section for ${guest.name}`);
        // The section's first table is its totals: "exits | <rate>".
        const exits = await section.evaluate((h2) => {
          let node = h2.nextElementSibling;
          while (node && node.tagName !== "TABLE") node = node.nextElementSibling;
          const row = [...(node?.querySelectorAll("tr") ?? [])].find(
            (tr) => tr.querySelector("td")?.textContent === "exits",
          );
          return row?.querySelectorAll("td")[1]?.textContent ?? "";
        });
        assert.equal(exits, formatRate(guest.exitsPerSecond), `${guest.name}'s exits/s`);
      }
      assert.match((await page.textContent("#side-pane-title")) ?? "", /Estimate report/);
      // Rendered Markdown: headings and tables, no Markdown syntax left.
      const text = (await pane.textContent()) ?? "";
      assert.ok(!text.includes("|---"), "tables are rendered");
      assert.match(text, /Broadwell/);
      await page.screenshot({ path: artifactPath("playground", "estimate-report.png") });

      // Live: an edit changes the report (the PML guest's rate doubled).
      const pmlRateBefore = formatRate(status.guests.find((g) => g.name === "migrating_pml")!.exitsPerSecond);
      await page.evaluate(() => {
        const { editor, model } = window.traplinePlayground!;
        const match = model.findMatches("dirty 16 pages", false, false, true, null, false)[1]!;
        editor.executeEdits("test", [{ range: match.range, text: "dirty 32 pages" }]);
      });
      await waitForAnalysis(page);
      const after = await page.evaluate(() => window.traplinePlayground!.fileStatus()!);
      const pmlRateAfter = formatRate(after.guests.find((g) => g.name === "migrating_pml")!.exitsPerSecond);
      assert.notEqual(pmlRateAfter, pmlRateBefore);
      await page.waitForFunction(
        (rate) =>
          [...document.querySelectorAll("#side-pane .report-markdown td")].some(
            (td) => td.textContent === rate,
          ),
        pmlRateAfter,
      );

      // A guest's cost lens (trapline.showEstimate) opens the report of that guest alone.
      await page.evaluate(() => {
        const { editor, model } = window.traplinePlayground!;
        const match = model.findMatches("guest migrating_pml", false, false, true, null, false)[0]!;
        editor.revealLineInCenter(match.range.startLineNumber);
      });
      const lens = page.locator(".codelens-decoration a", { hasText: /^overhead/ }).locator("visible=true");
      await lens.last().waitFor({ timeout: WAIT.ui });
      await lens.last().click();
      await page.waitForFunction(() =>
        /Estimate report: guest migrating_pml/.test(
          document.querySelector("#side-pane-title")?.textContent ?? "",
        ),
      );
      await page.waitForFunction(
        () => document.querySelectorAll("#side-pane .report-markdown h2").length === 1,
      );

      await page.click("#side-pane .side-pane-close");
      assert.equal(await page.isHidden("#side-pane"), true);
      assert.deepEqual(pageErrors(), []);
    } finally {
      await page.close();
    }
  });

  it("the report pane escapes HTML in Markdown", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await playgroundPage();
    await waitForAnalysis(page);
    const result = await page.evaluate(() => {
      const target = document.createElement("div");
      document.body.append(target);
      const rendered = window.traplinePlayground!.renderMarkdown(
        target,
        [
          '# guest <img src=x onerror="window.__traplineInjected=1">',
          "",
          "| a | b |",
          "|---|---:|",
          "| <script>window.__traplineInjected=2</script> | [x](javascript:window.__traplineInjected=3) |",
          "",
          '<iframe src="javascript:1"></iframe>',
          "",
          "**bold** `code`",
        ].join("\n"),
      );
      const summary = {
        html: target.innerHTML,
        text: target.textContent ?? "",
        dangerous: target.querySelectorAll("img, script, iframe, [onerror]").length,
        javascriptLinks: [...target.querySelectorAll("a")].filter((a) =>
          /javascript:/i.test(a.getAttribute("href") ?? ""),
        ).length,
        tables: target.querySelectorAll("table").length,
        bold: target.querySelectorAll("strong").length,
      };
      rendered.dispose();
      target.remove();
      return summary;
    });
    // Anything the rendered HTML could have started (an image's onerror, a script) runs by the
    // next frames: wait for two animation frames instead of a fixed time.
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
    );
    assert.equal(result.dangerous, 0, result.html);
    assert.equal(result.javascriptLinks, 0, result.html);
    assert.equal(result.tables, 1, result.html);
    assert.equal(result.bold, 1, result.html);
    assert.match(result.text, /<img src=x/, "raw HTML shows as text");
    assert.equal(
      await page.evaluate(() => (window as unknown as { __traplineInjected?: number }).__traplineInjected),
      undefined,
    );
  });

  it("Compare lists one row per vmcs block (and per extra CPU), and simulates A ↔ B in the panel", async (t) => {
    const browser = playground.browser;
    if (!browser) return missingTool(t, "chromium", "run scripts/install-system-deps.sh");
    const page = await browser.context.newPage();
    try {
      await page.goto(`${playground.url}#example=pml-vs-write-protect.vmcs`);
      await waitForAnalysis(page);
      const info = await page.evaluate(() => window.traplinePlayground!.fileStatus()!);
      const vmcsBlocks = [...PML_EXAMPLE.matchAll(/^vmcs (\w+)/gm)].map((m) => m[1]);
      assert.deepEqual(vmcsBlocks, ["write_protect", "pml"]);
      const guest = info.guests[0]!;
      assert.equal(guest.name, "migrating_wp");
      await page.waitForSelector("#show-compare:not([disabled])");
      await page.click("#show-compare");
      await page.waitForSelector("#side-pane:not([hidden]) table.compare-table tbody tr");
      const rows = () =>
        page.$$eval("#side-pane table.compare-table tbody tr", (trs) =>
          trs.map((tr) => ({
            vmcs: tr.getAttribute("data-vmcs"),
            profile: tr.getAttribute("data-profile"),
            cells: [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""),
          })),
        );
      const first = await rows();
      assert.deepEqual(
        first.map((r) => [r.vmcs, r.profile]),
        vmcsBlocks.map((name) => [name, "broadwell"]),
        "one row per vmcs block on the file's target",
      );
      // The guest's own configuration is marked, with the exits/s the file status reports.
      const own = first.find((r) => r.vmcs === guest.vmcs)!;
      assert.match(own.cells[0]!, /\(as written\)/);
      assert.equal(own.cells[2], formatRate(guest.exitsPerSecond));
      // PML turns the write-protection faults into PML_FULL exits: far fewer exits.
      const wp = first.find((r) => r.vmcs === "write_protect")!;
      const pml = first.find((r) => r.vmcs === "pml")!;
      assert.match(wp.cells[5]!, /EPT_VIOLATION/);
      assert.match(pml.cells[5]!, /PML_FULL/);

      // Another CPU: one more row per vmcs block.
      await page.check('#side-pane .compare-profiles input[value="sapphire_rapids"]');
      await page.waitForFunction(
        () => document.querySelectorAll("#side-pane table.compare-table tbody tr").length === 4,
      );
      const second = await rows();
      assert.deepEqual(
        second.map((r) => [r.vmcs, r.profile]),
        [
          ["write_protect", "broadwell"],
          ["pml", "broadwell"],
          ["write_protect", "sapphire_rapids"],
          ["pml", "sapphire_rapids"],
        ],
      );
      await page.screenshot({ path: artifactPath("playground", "compare.png") });

      // The simulated comparison: the panel's own compare view.
      const simulate = page.locator('#side-pane tr[data-vmcs="pml"][data-profile="broadwell"] button', {
        hasText: "Simulate",
      });
      assert.equal(await simulate.isEnabled(), true);
      await simulate.click();
      assert.equal(await page.isHidden("#side-pane"), true, "the pane gives way to the panel");
      await page.waitForSelector('#run-status[data-status="done"]', { timeout: WAIT.run });
      const frame: Frame | null = page.frame({ url: /timeline\/index\.html$/ });
      assert.ok(frame);
      await frame.waitForFunction(
        () => document.querySelector("header.header h2")?.textContent === "Compare configurations",
      );
      const runs = await frame.$$eval("header.header h3", (h3s) => h3s.map((h) => h.textContent ?? ""));
      assert.equal(runs.length, 2, runs.join(" | "));

      // A row on another CPU: the guest as written (A) against that block on that CPU (B).
      await page.click("#show-compare");
      await page.waitForFunction(
        () => document.querySelectorAll("#side-pane:not([hidden]) table.compare-table tbody tr").length === 4,
      );
      const onOtherCpu = page.locator(
        '#side-pane tr[data-vmcs="pml"][data-profile="sapphire_rapids"] button',
        { hasText: "Simulate" },
      );
      assert.equal(await onOtherCpu.isEnabled(), true);
      assert.equal(
        await onOtherCpu.getAttribute("title"),
        "Simulate write_protect on broadwell ↔ pml on sapphire_rapids in the timeline panel",
      );
      await onOtherCpu.click();
      assert.equal(await page.isHidden("#side-pane"), true);
      const expected = [
        "A: pml-vs-write-protect.vmcs — migrating_wp on write_protect (broadwell)",
        "B: pml-vs-write-protect.vmcs — migrating_wp on pml (sapphire_rapids)",
      ];
      await frame.waitForFunction(
        (titles) =>
          JSON.stringify([...document.querySelectorAll("header.header h3")].map((h) => h.textContent)) ===
          JSON.stringify(titles),
        expected,
        { timeout: WAIT.run },
      );
      // The titles show before the page reports the status; "running" was reported long before.
      await page.waitForSelector('#run-status[data-status="done"]', { timeout: WAIT.run });
      assert.match((await page.textContent("#run-status")) ?? "", /^Simulated: [\d,]+ exits$/);
      assert.deepEqual(pageErrors(), []);
    } finally {
      await page.close();
    }
  });
});
