/**
 * A WordPiece vocabulary builder for fully offline runs: learns a vocabulary from a text corpus
 * (catalog text, instructions) and writes a Hugging Face `tokenizer.json` that
 * `@huggingface/tokenizers` (and Python's `tokenizers`) load: BertNormalizer (lowercase, strip
 * accents), BertPreTokenizer, a WordPiece model with the `##` continuing prefix,
 * TemplateProcessing `[CLS] $A [SEP]` and the BERT special tokens plus WebShop's four.
 *
 * Training follows Hugging Face's `WordPieceTrainer`, which is a BPE trainer over `##`-prefixed
 * word pieces: start from the characters (a word-initial `c`, a word-internal `##c`), then
 * repeatedly merge the most frequent adjacent pair (weighted by word counts) into a new piece
 * until the vocabulary is full. Ties break on the lower piece ids, so a corpus always yields the
 * same vocabulary.
 *
 * @module
 */

import { BertNormalizer, BertPreTokenizer } from "@huggingface/tokenizers";
import { WEBSHOP_SPECIAL_TOKENS } from "./tokenizer.ts";

/** Options of {@linkcode buildWordPiece}. */
export interface WordPieceOptions {
  /** Size of the WordPiece model vocabulary including the five BERT specials (default 30522). */
  vocabSize?: number;
  /** A pair seen fewer times than this is never merged (default 2). */
  minFrequency?: number;
  /** Append WebShop's four button tokens as added special tokens after the vocabulary (default true). */
  webshopTokens?: boolean;
}

/** The BERT special tokens, in the ids they get (0..4). */
export const BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

const PREFIX = "##";

/** A max-heap of merge candidates keyed by (count desc, left id asc, right id asc). */
class PairHeap {
  private items: [number, number, number][] = [];
  private better(x: [number, number, number], y: [number, number, number]): boolean {
    return x[0] !== y[0] ? x[0] > y[0] : x[1] !== y[1] ? x[1] < y[1] : x[2] < y[2];
  }
  get size(): number {
    return this.items.length;
  }
  push(v: [number, number, number]): void {
    const a = this.items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): [number, number, number] | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0], last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.better(a[l], a[m])) m = l;
        if (r < a.length && this.better(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Splits `text` into BERT words exactly as the written tokenizer will (normalizer + pre-tokenizer). */
export function bertWords(text: string): string[] {
  return bertPreTokenizer.pre_tokenize_text(bertNormalizer.normalize(text));
}

const bertNormalizer = new BertNormalizer({
  type: "BertNormalizer",
  clean_text: true,
  handle_chinese_chars: true,
  // null in tokenizer.json (accents follow `lowercase`); the library's type wants a boolean.
  strip_accents: undefined,
  lowercase: true,
});
const bertPreTokenizer = new BertPreTokenizer();

/**
 * Learns a WordPiece vocabulary from `corpus` and returns it in id order: the five BERT
 * specials, the alphabet (sorted), then the learned pieces in merge order.
 */
export function learnWordPieceVocab(
  corpus: Iterable<string>,
  opts: WordPieceOptions = {},
): string[] {
  const vocabSize = opts.vocabSize ?? 30522;
  const minFrequency = opts.minFrequency ?? 2;
  const specials = new Set<string>([...BERT_SPECIAL_TOKENS, ...WEBSHOP_SPECIAL_TOKENS]);
  const specialRe = new RegExp(
    [...specials].map((s) => s.replace(/[[\]]/g, "\\$&")).join("|"),
    "gi",
  );
  const wordCounts = new Map<string, number>();
  for (const text of corpus) {
    // Special tokens are matched before normalisation at encode time: keep them out of training.
    for (const w of bertWords(text.replace(specialRe, " "))) {
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  // Alphabet: word-initial characters and `##` word-internal characters.
  const alphabet = new Set<string>();
  for (const w of wordCounts.keys()) {
    [...w].forEach((c, i) => alphabet.add(i ? PREFIX + c : c));
  }
  const pieces = [...BERT_SPECIAL_TOKENS, ...[...alphabet].sort()];
  if (pieces.length > vocabSize) {
    throw new RangeError(
      `buildWordPiece: the corpus alphabet needs ${pieces.length} entries (with the 5 specials), ` +
        `more than vocabSize ${vocabSize}`,
    );
  }
  const ids = new Map(pieces.map((p, i) => [p, i]));
  const words: number[][] = [], freq: number[] = [];
  for (const [w, n] of wordCounts) {
    words.push([...w].map((c, i) => ids.get(i ? PREFIX + c : c)!));
    freq.push(n);
  }
  // Pair statistics: count and the words containing each pair (key = left * 2^21 + right).
  const K = 2 ** 21;
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const addWord = (wi: number, sign: number) => {
    const s = words[wi];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * K + s[i + 1];
      const c = (counts.get(key) ?? 0) + sign * freq[wi];
      counts.set(key, c);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, set = new Set());
        set.add(wi);
      }
    }
  };
  const touched = new Set<number>();
  const pushTouched = () => {
    for (const key of touched) {
      const c = counts.get(key)!;
      if (c > 0) heap.push([c, Math.floor(key / K), key % K]);
    }
    touched.clear();
  };
  for (let wi = 0; wi < words.length; wi++) {
    addWord(wi, 1);
    for (let i = 0; i + 1 < words[wi].length; i++) touched.add(words[wi][i] * K + words[wi][i + 1]);
  }
  pushTouched();

  while (pieces.length < vocabSize && heap.size) {
    const [c, a, b] = heap.pop()!;
    const key = a * K + b;
    if (counts.get(key) !== c) continue; // stale entry
    if (c < minFrequency) break;
    const merged = pieces[a] + (pieces[b].startsWith(PREFIX) ? pieces[b].slice(2) : pieces[b]);
    let id = ids.get(merged);
    if (id === undefined) {
      id = pieces.length;
      pieces.push(merged);
      ids.set(merged, id);
    }
    for (const wi of [...(where.get(key) ?? [])]) {
      const s = words[wi];
      addWord(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(s[i]);
      }
      words[wi] = next;
      addWord(wi, 1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(next[i] * K + next[i + 1]);
    }
    counts.set(key, 0);
    where.delete(key);
    pushTouched();
  }
  return pieces;
}

/** Hugging Face `tokenizer.json` contents of a BERT WordPiece tokenizer over `vocab` (id order). */
export function wordPieceTokenizerJson(vocab: readonly string[], webshopTokens = true): object {
  const vocabMap: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabMap[t] = i));
  for (const s of BERT_SPECIAL_TOKENS) {
    if (!(s in vocabMap)) throw new RangeError(`wordPieceTokenizerJson: vocab lacks ${s}`);
  }
  const added = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const addedTokens = BERT_SPECIAL_TOKENS.map((s) => added(s, vocabMap[s]));
  if (webshopTokens) {
    WEBSHOP_SPECIAL_TOKENS.forEach((s, i) => addedTokens.push(added(s, vocab.length + i)));
  }
  const cls = vocabMap["[CLS]"], sep = vocabMap["[SEP]"];
  const special = (id: string, type: number) => ({ SpecialToken: { id, type_id: type } });
  const seq = (id: string, type: number) => ({ Sequence: { id, type_id: type } });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
      pair: [
        special("[CLS]", 0),
        seq("A", 0),
        special("[SEP]", 0),
        seq("B", 1),
        special("[SEP]", 1),
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [cls], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [sep], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: PREFIX, cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: PREFIX,
      max_input_chars_per_word: 100,
      vocab: vocabMap,
    },
  };
}

/**
 * Learns a WordPiece vocabulary from `corpus` and returns the `tokenizer.json` object.
 *
 * @example
 * ```ts
 * const json = buildWordPiece(["red running shoes", "blue shoes for men"], { vocabSize: 200 });
 * await Deno.writeTextFile("tokenizer.json", JSON.stringify(json));
 * ```
 */
export function buildWordPiece(corpus: Iterable<string>, opts: WordPieceOptions = {}): object {
  return wordPieceTokenizerJson(learnWordPieceVocab(corpus, opts), opts.webshopTokens ?? true);
}

/** Builds a WordPiece tokenizer from `corpus` and writes it to `path` as `tokenizer.json`. */
export async function writeWordPiece(
  path: string,
  corpus: Iterable<string>,
  opts: WordPieceOptions = {},
): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(buildWordPiece(corpus, opts), null, 1));
}
