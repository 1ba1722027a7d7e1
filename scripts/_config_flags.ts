/**
 * Flags from typed configs: every field of a config object becomes `--<prefix><kebab-name>`,
 * typed by its default (number, string or boolean), so each trainer's flags are exactly its
 * config's fields with their documented defaults, and `--help` lists them with those defaults.
 *
 * @module
 */

import type { FlagSpecs } from "./_cli.ts";

/** kebab-case of a camelCase field. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** parseArgs options for the fields of `defaults`, each a string flag (booleans as "true"/"false"). */
export function configFlagSpecs(defaults: object, prefix = ""): FlagSpecs {
  const out: FlagSpecs = {};
  for (const k of Object.keys(defaults)) out[prefix + kebab(k)] = { type: "string" };
  return out;
}

/** Usage lines for the fields of `defaults`. */
export function configUsage(defaults: object, prefix = ""): string {
  return Object.entries(defaults)
    .map(([k, v]) => `  --${(prefix + kebab(k)).padEnd(24)} default ${JSON.stringify(v)}`)
    .join("\n");
}

/**
 * `defaults` with the given flags applied. Throws a RangeError naming the flag for a value of
 * the wrong type.
 */
export function applyConfigFlags<T extends object>(
  defaults: T,
  values: Record<string, unknown>,
  prefix = "",
): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, d] of Object.entries(defaults)) {
    const flag = prefix + kebab(k);
    const v = values[flag];
    if (v === undefined) continue;
    const s = String(v);
    if (typeof d === "number") {
      const n = Number(s);
      if (s.trim() === "" || !Number.isFinite(n)) {
        throw new RangeError(`--${flag} must be a number, got "${s}"`);
      }
      out[k] = n;
    } else if (typeof d === "boolean") {
      if (s !== "true" && s !== "false") {
        throw new RangeError(`--${flag} must be true or false, got "${s}"`);
      }
      out[k] = s === "true";
    } else out[k] = s;
  }
  return out as T;
}
