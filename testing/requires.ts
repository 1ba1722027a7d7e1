/**
 * Tests that need something this machine may lack (a WebGPU adapter, the real data in
 * ../shared, a checked-in fixture): {@linkcode requires} registers them as ignored, with the
 * reason in the name, where a need is missing, so the runner counts them as ignored and never
 * as passed.
 *
 * @module
 */

/** Something a test needs; `missing()` says why it is absent, or null where it is present. */
export interface Need {
  missing(): string | null;
}

/** The folder beside the project with the real data (`../shared/`). */
export const SHARED_DIR = new URL("../../shared/", import.meta.url);

/** The checked-in test fixtures (`tests/fixtures/`). */
export const FIXTURES_DIR = new URL("../tests/fixtures/", import.meta.url);

function filesNeed(dir: URL, shown: string, rels: readonly string[], what: string): Need {
  return {
    missing() {
      for (const rel of rels) {
        try {
          if (Deno.statSync(new URL(rel, dir)).isFile) continue;
        } catch {
          // absent or unreadable: the test cannot run
        }
        return `needs ${shown}${rel} (${what})`;
      }
      return null;
    },
  };
}

/** Files under ../shared (e.g. `webshop/items_sample_160.json`), described by `what`. */
export function sharedFiles(rels: readonly string[], what: string): Need {
  return filesNeed(SHARED_DIR, "../shared/", rels, what);
}

/** The real WebShop sample in ../shared/webshop: the 160 products and their attributes. */
export const WEBSHOP_SAMPLE: Need = sharedFiles(
  ["webshop/items_sample_160.json", "webshop/items_ins_v2_1000.json"],
  "the real WebShop sample",
);

/** bert-base-uncased's tokenizer in ../shared. */
export const BERT_BASE_TOKENIZER: Need = sharedFiles(
  ["bert-base-uncased/tokenizer.json"],
  "bert-base-uncased's tokenizer",
);

/** Files under tests/fixtures, described by `what`. */
export function fixtureFiles(rels: readonly string[], what: string): Need {
  return filesNeed(FIXTURES_DIR, "tests/fixtures/", rels, what);
}

/** The tiny BERT's PyTorch fixture (weights and torch's float64 hidden states). */
export const TORCH_FIXTURE: Need = fixtureFiles(
  ["config.json", "model.safetensors", "pytorch_model.bin", "expected.json"].map((f) =>
    `bert_tiny/${f}`
  ),
  "the PyTorch parity fixture, made by tests/fixtures/make_bert_parity.py",
);

/**
 * Registers `def` as a Deno test that runs where every need is met; otherwise it is registered
 * with `ignore: true` and `(ignored: <reasons>)` appended to its name.
 *
 * @example
 * ```ts
 * requires([WEBSHOP_SAMPLE], {
 *   name: "the real sample has 160 products",
 *   fn: async () => {
 *     const items = JSON.parse(await Deno.readTextFile(new URL("webshop/items_sample_160.json", SHARED_DIR)));
 *     if (items.length !== 160) throw new Error(`${items.length} products`);
 *   },
 * });
 * ```
 */
export function requires(
  needs: readonly Need[],
  def: Omit<Deno.TestDefinition, "ignore"> & { ignore?: never },
): void {
  const why = needs.map((n) => n.missing()).filter((m): m is string => m !== null);
  Deno.test({
    ...def,
    name: why.length ? `${def.name} (ignored: ${why.join("; ")})` : def.name,
    ignore: why.length > 0,
  });
}
