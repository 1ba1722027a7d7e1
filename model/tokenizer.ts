/**
 * BERT tokenization as WebShop's agents do it: a Hugging Face `tokenizer.json` run by
 * `@huggingface/tokenizers`, WebShop's four button tokens added as special tokens (ids 30522–30525
 * on bert-base-uncased, vocab 30526), WebShop's text clean-up, truncation around the library
 * (which truncates nothing itself) and padding into batches of u32 ids, attention mask and
 * token type ids.
 *
 * Truncation: WebShop builds its tokenizer with `AutoTokenizer.from_pretrained('bert-base-uncased',
 * truncation_side='left')` (baseline_models/agent.py and train_choice_il.py), so BOTH states
 * (max 512) and actions (max 64 in agent.py's `encode_valids`) lose tokens from the LEFT; as in
 * Hugging Face, the text is cut to `maxLength - 2` pieces before `[CLS] ... [SEP]` are added.
 *
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { createHash } from "node:crypto";

/** WebShop's button markers, added as special tokens after BERT's vocabulary. */
export const WEBSHOP_SPECIAL_TOKENS = [
  "[button]",
  "[button_]",
  "[clicked button]",
  "[clicked button_]",
] as const;

/** Longest state WebShop encodes (tokens, with [CLS] and [SEP]). */
export const STATE_MAX_LENGTH = 512;
/** Longest action WebShop's RL agent encodes (agent.py `encode_valids`). */
export const ACTION_MAX_LENGTH = 64;

/** Which end loses tokens when a text is too long. */
export type TruncationSide = "left" | "right";

/**
 * WebShop's observation/action clean-up (train_choice_il.py `process`, agent.py `encode`):
 * lower-case, drop `"` and `'`, trim, and restore `[SEP]` (lower-casing broke it, and the
 * tokenizer matches special tokens case-sensitively).
 */
export function webshopProcess(s: string): string {
  return s.toLowerCase().replaceAll('"', "").replaceAll("'", "").trim().replaceAll(
    "[sep]",
    "[SEP]",
  );
}

/** Options of {@linkcode BertTokenizer.encode}. */
export interface EncodeOptions {
  /** Longest result in tokens, special tokens included (default: no limit). */
  maxLength?: number;
  /** Which end to cut (default "left", as WebShop). */
  truncation?: TruncationSide;
  /** Wrap in `[CLS] ... [SEP]` (default true). */
  addSpecialTokens?: boolean;
}

/** A padded batch, row-major (B, T). */
export interface TokenBatch {
  /** Token ids (B, T); padding holds the `[PAD]` id. */
  ids: Uint32Array;
  /** 1 for real tokens, 0 for padding (B, T). */
  mask: Uint32Array;
  /** Segment ids (B, T); all 0 for single texts. */
  typeIds: Uint32Array;
  /** Real length of each row. */
  lengths: number[];
  B: number;
  T: number;
}

/** Options of {@linkcode BertTokenizer.fromJson}. */
export interface TokenizerOptions {
  /** Add WebShop's four button tokens when the file lacks them (default true). */
  webshopTokens?: boolean;
  /** `tokenizer_config.json` contents, passed to the library. */
  config?: Record<string, unknown>;
  /** Identity recorded in checkpoints (default: sha256 of the JSON text). */
  identity?: string;
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A BERT WordPiece tokenizer with WebShop's tokens, truncation and padding. */
export class BertTokenizer {
  /** The library tokenizer doing normalisation, pre-tokenisation and WordPiece. */
  readonly inner: Tokenizer;
  /** Number of ids (model vocabulary plus added tokens): the embedding rows a model needs. */
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  /** `sha256:<hex>` of the tokenizer.json text (plus `+webshop` when tokens were added). */
  readonly identity: string;

  private constructor(inner: Tokenizer, vocabSize: number, identity: string) {
    this.inner = inner;
    this.vocabSize = vocabSize;
    this.identity = identity;
    const id = (t: string) => {
      const v = inner.token_to_id(t);
      if (v === undefined) throw new Error(`tokenizer: vocabulary lacks ${t}`);
      return v;
    };
    this.clsId = id("[CLS]");
    this.sepId = id("[SEP]");
    this.padId = id("[PAD]");
    this.unkId = id("[UNK]");
  }

  /**
   * A tokenizer from `tokenizer.json` contents (text or parsed). WebShop's four tokens are
   * appended as special added tokens (normalized false, as `add_tokens(special_tokens=True)`
   * makes them) unless present.
   */
  static fromJson(
    json: string | Record<string, unknown>,
    opts: TokenizerOptions = {},
  ): BertTokenizer {
    const text = typeof json === "string" ? json : JSON.stringify(json);
    const parsed = JSON.parse(text) as {
      added_tokens?: AddedTokenJson[];
      model?: { type?: string; vocab?: Record<string, number> };
    };
    if (parsed.model?.type !== "WordPiece" || !parsed.model.vocab) {
      throw new Error(`tokenizer: expected a WordPiece model, got ${parsed.model?.type}`);
    }
    const added = (parsed.added_tokens ??= []);
    const vocab = parsed.model.vocab;
    let next = Math.max(...Object.values(vocab), ...added.map((t) => t.id)) + 1;
    let extended = false;
    if (opts.webshopTokens ?? true) {
      for (const content of WEBSHOP_SPECIAL_TOKENS) {
        if (added.some((t) => t.content === content) || content in vocab) continue;
        added.push({
          id: next++,
          content,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        });
        extended = true;
      }
    }
    const config = { ...(opts.config ?? {}) };
    const inner = new Tokenizer(parsed, config);
    const identity = opts.identity ??
      `sha256:${createHash("sha256").update(text).digest("hex")}${extended ? "+webshop" : ""}`;
    return new BertTokenizer(inner, next, identity);
  }

  /** Loads `tokenizer.json` from a file, or from a folder holding one (and tokenizer_config.json). */
  static async load(path: string, opts: TokenizerOptions = {}): Promise<BertTokenizer> {
    let file = path;
    try {
      if ((await Deno.stat(path)).isDirectory) file = `${path.replace(/\/$/, "")}/tokenizer.json`;
    } catch (e) {
      throw new Error(`tokenizer: cannot read ${path} (${(e as Error).message})`);
    }
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new Error(`tokenizer: cannot read ${file} (${(e as Error).message})`);
    }
    let config = opts.config;
    if (!config && file.endsWith("/tokenizer.json")) {
      try {
        config = JSON.parse(
          await Deno.readTextFile(file.replace(/tokenizer\.json$/, "tokenizer_config.json")),
        );
      } catch { /* optional file */ }
    }
    try {
      return BertTokenizer.fromJson(text, { ...opts, config });
    } catch (e) {
      throw new Error(`tokenizer: ${file}: ${(e as Error).message}`);
    }
  }

  /** The word pieces of `text` (no special tokens added). */
  tokenize(text: string): string[] {
    return this.inner.tokenize(text);
  }

  /** Token ids of `text`, truncated to `maxLength` (special tokens included) from one side. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const special = opts.addSpecialTokens ?? true;
    let ids = this.inner.encode(text, { add_special_tokens: false }).ids;
    if (opts.maxLength !== undefined) {
      const budget = opts.maxLength - (special ? 2 : 0);
      if (budget < 0) throw new RangeError(`tokenizer: maxLength ${opts.maxLength} < 2`);
      if (ids.length > budget) {
        ids = (opts.truncation ?? "left") === "left"
          ? ids.slice(ids.length - budget)
          : ids.slice(0, budget);
      }
    }
    return special ? [this.clsId, ...ids, this.sepId] : ids;
  }

  /** A WebShop state (observation) as the agent encodes it: cleaned, left-truncated to 512. */
  encodeState(text: string, maxLength = STATE_MAX_LENGTH): number[] {
    return this.encode(webshopProcess(text), { maxLength, truncation: "left" });
  }

  /** A WebShop action as the RL agent encodes it: cleaned, left-truncated to 64. */
  encodeAction(text: string, maxLength = ACTION_MAX_LENGTH): number[] {
    return this.encode(webshopProcess(text), { maxLength, truncation: "left" });
  }

  /**
   * Pads id sequences into a (B, T) batch. `padTo` is a fixed T (sequences must fit) or
   * "longest" (default); `multipleOf` rounds T up (kernels with tiles like aligned T).
   */
  pad(
    seqs: readonly (readonly number[])[],
    opts: { padTo?: number | "longest"; multipleOf?: number } = {},
  ): TokenBatch {
    const B = seqs.length;
    const longest = Math.max(1, ...seqs.map((s) => s.length));
    let T = opts.padTo === undefined || opts.padTo === "longest" ? longest : opts.padTo;
    if (opts.multipleOf) T = Math.ceil(T / opts.multipleOf) * opts.multipleOf;
    if (longest > T) throw new RangeError(`tokenizer.pad: a sequence of ${longest} > padTo ${T}`);
    const ids = new Uint32Array(B * T).fill(this.padId);
    const mask = new Uint32Array(B * T);
    const typeIds = new Uint32Array(B * T);
    seqs.forEach((s, b) => {
      ids.set(s, b * T);
      mask.fill(1, b * T, b * T + s.length);
    });
    return { ids, mask, typeIds, lengths: seqs.map((s) => s.length), B, T };
  }

  /** Encodes and pads `texts` in one go. */
  batch(
    texts: readonly string[],
    opts: EncodeOptions & { padTo?: number | "longest"; multipleOf?: number } = {},
  ): TokenBatch {
    return this.pad(texts.map((t) => this.encode(t, opts)), opts);
  }

  /** Text of `ids` (WordPiece pieces joined; special tokens dropped unless `keepSpecial`). */
  decode(ids: readonly number[], keepSpecial = false): string {
    if (!ids.length) return "";
    return this.inner.decode([...ids], { skip_special_tokens: !keepSpecial });
  }

  /** Id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }
}
