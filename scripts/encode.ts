/**
 * Encodes text with a Hugging Face BERT folder on the GPU and writes the last hidden state, so
 * users can check parity with PyTorch (`np.load(out)` vs `BertModel(...).last_hidden_state`).
 *
 *   deno task encode --model <dir> --text "..." [--text "..."] [--out hidden.npy|hidden.json]
 *
 * The folder holds config.json, model.safetensors (or its index, or pytorch_model.bin) and
 * tokenizer.json (or pass --tokenizer). WebShop's four button tokens are added when the model's
 * vocabulary has room for them (vocab_size 30526 after WebShop's resize). Several --text values
 * are padded into one batch, as Hugging Face's tokenizer(padding=True) does.
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import { tensor } from "../kernels/tensor.ts";
import { BertModel } from "../model/bert.ts";
import { loadHfBert } from "../model/checkpoint.ts";
import { encodeNpy } from "../model/safetensors.ts";
import { BertTokenizer, webshopProcess } from "../model/tokenizer.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";

const USAGE = `usage: deno task encode --model <dir> --text "..." [options]
  --model <dir>        Hugging Face BERT folder (config.json, weights, tokenizer.json)
  --text <s>           text to encode (repeat for a padded batch)
  --tokenizer <path>   tokenizer.json or its folder (default: the model folder)
  --max-length <n>     truncate to n tokens incl. [CLS]/[SEP] (default: the model's positions)
  --truncation <side>  left (WebShop's) or right (Hugging Face's default); default left
  --webshop            clean text as WebShop's agents do (lower-case, drop quotes, [sep] -> [SEP])
  --out <file>         write the last hidden state (B, T, C) as .npy (float32) or .json
  --debug              stack traces on errors
  --help               this text`;

function fail(msg: string): never {
  return usageError("encode", USAGE, msg);
}

async function main(): Promise<void> {
  const args = parseFlags("encode", USAGE, {
    model: { type: "string" },
    text: { type: "string", multiple: true },
    tokenizer: { type: "string" },
    "max-length": { type: "string" },
    truncation: { type: "string", default: "left" },
    out: { type: "string" },
    webshop: { type: "boolean" },
  });
  if (!args) return;
  if (!args.model) fail("--model is required");
  if (!args.text?.length) fail("--text is required");
  const side = args.truncation;
  if (side !== "left" && side !== "right") fail(`--truncation must be left or right, got ${side}`);
  if (args.out && !/\.(npy|json)$/.test(args.out)) fail(`--out must end in .npy or .json`);

  const hf = await loadHfBert(args.model);
  const c = hf.config;
  console.error(
    `model: ${hf.source} (L${c.numHiddenLayers} C${c.hiddenSize} H${c.numAttentionHeads} ` +
      `V${c.vocabSize})` + (hf.unused.length ? `; unused: ${hf.unused.join(", ")}` : ""),
  );
  const tokPath = args.tokenizer ?? args.model;
  let tok = await BertTokenizer.load(tokPath);
  if (tok.vocabSize > c.vocabSize) {
    // A plain bert-base (30522 rows) has no rows for WebShop's tokens: tokenize as HF would.
    tok = await BertTokenizer.load(tokPath, { webshopTokens: false });
  }
  if (tok.vocabSize > c.vocabSize) {
    fail(`tokenizer has ${tok.vocabSize} ids but the model only ${c.vocabSize} embeddings`);
  }
  const maxLength = Math.min(
    intFlag("encode", USAGE, "max-length", args["max-length"], Infinity, 2),
    c.maxPositionEmbeddings,
  );
  const texts = args.webshop ? args.text.map(webshopProcess) : args.text;
  const batch = tok.batch(texts, { maxLength, truncation: side });
  const { B, T } = batch;
  for (let b = 0; b < B; b++) {
    const ids = [...batch.ids.subarray(b * T, b * T + batch.lengths[b])];
    console.log(JSON.stringify({ text: texts[b], ids }));
  }

  const gpu = await requestGpu();
  const bert = BertModel.create(gpu, c, hf.weights);
  const ids = tensor(gpu, [B, T], "encode ids", batch.ids, "u32");
  const typeIds = tensor(gpu, [B, T], "encode type ids", batch.typeIds, "u32");
  const mask = tensor(gpu, [B, T], "encode mask", Float32Array.from(batch.mask));
  const rec = gpu.batch("encode");
  const hidden = bert.forward(rec, ids, typeIds, mask, { B, T }, false);
  rec.submit();
  const out = (await hidden.read()) as Float32Array; // the one sync point
  bert.destroy();
  const C = c.hiddenSize;
  let norm = 0;
  for (const v of out.subarray(0, B * T * C)) norm += v * v;
  console.error(`hidden (${B}, ${T}, ${C}) norm ${Math.sqrt(norm).toFixed(6)}`);
  if (args.out) {
    const data = out.slice(0, B * T * C);
    if (args.out.endsWith(".npy")) await Deno.writeFile(args.out, encodeNpy([B, T, C], data));
    else {
      await Deno.writeTextFile(
        args.out,
        JSON.stringify({
          shape: [B, T, C],
          ids: Array.from({ length: B }, (_, b) => [...batch.ids.subarray(b * T, (b + 1) * T)]),
          mask: [...batch.mask],
          hidden: [...data],
        }),
      );
    }
    console.error(`wrote ${args.out}`);
  }
}

if (import.meta.main) await runMain("encode", main);
