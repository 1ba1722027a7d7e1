/**
 * Writing the environment's data files so that a crash never leaves a half-written one.
 *
 * @module
 */

/**
 * Writes the concatenated `pieces` to `path` through a temporary file in the same folder,
 * renamed into place at the end (removed on error). Returns the bytes written.
 */
export async function writeTextAtomically(
  path: string,
  pieces: Iterable<string> | AsyncIterable<string>,
): Promise<number> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let bytes = 0;
  let chunk = "";
  const flush = async () => {
    const b = enc.encode(chunk);
    let off = 0;
    while (off < b.length) off += await file.write(b.subarray(off));
    bytes += b.length;
    chunk = "";
  };
  try {
    for await (const p of pieces) {
      chunk += p;
      // One write per ~4 MB: the 100k-product file is ~280 MB, too big for one string.
      if (chunk.length > 1 << 22) await flush();
    }
    await flush();
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  await Deno.rename(tmp, path);
  return bytes;
}
