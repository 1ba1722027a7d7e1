/**
 * report.html in a real browser: headless Chromium (Debian's `chromium`, or `CHROME_PATH`)
 * driven by puppeteer-core opens the report built from the fixture run folders; the page must
 * log no console error, raise no exception, fetch nothing that fails, and every chart must have
 * drawn data marks with a non-empty box. Without Chromium the test is ignored with the reason,
 * except in CI (`CI=true`), where it fails: CI installs Chromium (.ci/run).
 *
 * @module
 */

import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { writeReportFixture } from "./_report_fixtures.ts";
import { buildReport, writeReport } from "./report.ts";
import { readReportInputs } from "./report_inputs.ts";

/** The Chromium binary: CHROME_PATH, else chromium / chromium-browser / google-chrome on PATH. */
function findChromium(): string | null {
  const given = Deno.env.get("CHROME_PATH");
  if (given) return given;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return null;
}

const chromium = findChromium();
const inCi = Deno.env.get("CI") === "true";

/** Errors the page reports: console errors, uncaught exceptions, failed requests. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`exception: ${e}`));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  return errors;
}

/**
 * Per chart figure: its id, its data marks with a non-empty box, and the SVG's drawn size.
 * Browser-side code, as text: Deno's type checker has no DOM.
 */
const CHART_MARKS = `[...document.querySelectorAll("figure.chart")].map((f) => {
  const box = f.querySelector("svg")?.getBoundingClientRect();
  // Vega puts data marks in groups of class role-mark; axes and legends have other roles.
  const marks = [...f.querySelectorAll("svg .role-mark > *")].filter((e) => {
    const b = e.getBBox();
    return b.width > 0 || b.height > 0;
  });
  return { id: f.id, marks: marks.length, w: box?.width ?? 0, h: box?.height ?? 0 };
})`;

function chartMarks(page: Page): Promise<{ id: string; marks: number; w: number; h: number }[]> {
  return page.evaluate(CHART_MARKS) as Promise<
    { id: string; marks: number; w: number; h: number }[]
  >;
}

async function launch(path: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: path,
    headless: true,
    // No sandbox: CI runs as root in a container; --disable-gpu: no GPU in the browser needed.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

Deno.test({
  name: chromium
    ? "report.html opens in headless Chromium without errors and every chart has drawn marks"
    : inCi
    ? "report.html in headless Chromium (CI: Chromium is required)"
    : "report.html in headless Chromium (ignored: no chromium on PATH and no CHROME_PATH; apt-get install -y chromium)",
  ignore: !chromium && !inCi,
  // puppeteer keeps a pipe to the browser open until it closes.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (!chromium) {
      throw new Error("CI=true but no Chromium: .ci/run installs it with apt-get install chromium");
    }
    const dir = await Deno.makeTempDir();
    const browser = await launch(chromium);
    try {
      await writeReportFixture(dir);
      const report = await buildReport(await readReportInputs([dir]), { command: "test" });
      const files = await writeReport(dir, report);
      const page = await browser.newPage();

      // The harness itself can fail: a console error and a chart without marks are seen.
      const seen = watch(page);
      await page.setContent(
        `<figure class="chart" id="empty"><svg width="10" height="10"><g class="mark-rect role-mark"></g></svg></figure>` +
          `<script>console.error("boom")</script>`,
      );
      assert.deepEqual(await chartMarks(page), [{ id: "empty", marks: 0, w: 10, h: 10 }]);
      assert.deepEqual(seen, ["console.error: boom"]);
      seen.length = 0;

      await page.goto(`file://${files.html}`, { waitUntil: "load" });
      const charts = await chartMarks(page);
      assert.deepEqual(seen, [], "the report page logged errors");
      assert.deepEqual(charts.map((c) => c.id), report.charts.map((c) => `chart-${c.id}`));
      for (const c of charts) {
        assert.ok(c.marks > 0, `${c.id}: no drawn marks`);
        assert.ok(c.w > 100 && c.h > 100, `${c.id}: drawn at ${c.w}x${c.h}`);
      }
      const tables = (await page.evaluate(`document.querySelectorAll("table").length`)) as number;
      assert.ok(tables >= 5, `${tables} tables`);
      await page.close();
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
