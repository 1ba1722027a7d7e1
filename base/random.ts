/**
 * The project's small seeded generator, shared by weight initialisation, the synthetic catalog's
 * texts and tests (layer-free, so env needs no compute core for it).
 *
 * @module
 */

/** A seeded generator of uniform floats in [0, 1) (mulberry32): same seed, same stream. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
