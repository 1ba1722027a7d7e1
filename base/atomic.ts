/**
 * The project's one atomic file writer, shared by every layer (env data files, checkpoints, run
 * logs): a crash or an error never leaves a half-written file at `path`.
 *
 * @module
 */

/**
 * Writes the concatenated `pieces` (text as UTF-8, or bytes) to `path`: into a new temporary
 * file beside it, flushed to disk (fsync) before it is renamed over `path`; on error the
 * temporary file is removed and `path` is untouched. Returns the bytes written.
 *
 * @example
 * ```ts
 * await writeAtomically("runs/x/config.json", [JSON.stringify({ lr: 2e-5 }), "\n"]);
 * ```
 */
export async function writeAtomically(
  path: string,
  pieces: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
): Promise<number> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const tmp = `${dir}.${path.slice(slash + 1)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, { write: true, createNew: true });
  const enc = new TextEncoder();
  let bytes = 0;
  let chunk = "";
  const write = async (b: Uint8Array) => {
    let off = 0;
    while (off < b.length) off += await file.write(b.subarray(off));
    bytes += b.length;
  };
  const flush = async () => {
    await write(enc.encode(chunk));
    chunk = "";
  };
  try {
    try {
      for await (const p of pieces) {
        if (typeof p === "string") {
          chunk += p;
          // One write per ~4 MB: the 100k-product file is ~280 MB, too big for one string.
          if (chunk.length > 1 << 22) await flush();
        } else {
          await flush();
          await write(p);
        }
      }
      await flush();
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return bytes;
}
