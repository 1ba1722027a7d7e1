/**
 * Vega-Lite specs to SVG without a browser: Vega-Lite compiles the spec to Vega, and Vega's
 * headless view (`renderer: "none"`) writes the scene graph as SVG text with `toSVG()`.
 *
 * Why Vega-Lite and Vega: a declarative grammar kept by the UW Interactive Data Lab, whose SVG
 * renderer is a string writer that needs no DOM and no canvas (text widths are estimated when
 * node-canvas is absent), so it runs under Deno from plain `npm:` imports; bars with error
 * rules, layered points and multi-series lines are one spec each, and the specs are plain JSON
 * a reader can paste into the Vega editor. (Plot and D3 need a DOM such as jsdom; ECharts' SSR
 * needs its own build; Chart.js needs a canvas.)
 *
 * @module
 */

import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** The SVG text of a Vega-Lite spec (its data inline). Throws on a spec Vega cannot render. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: compiled } = compile(spec);
  const warnings: string[] = [];
  const logger = vega.logger(vega.Warn);
  logger.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(" "));
    return logger;
  };
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger });
  try {
    const svg = await view.toSVG();
    if (warnings.length > 0) throw new Error(`vega: ${warnings.join("; ")}`);
    return svg;
  } finally {
    view.finalize();
  }
}
