/** CPU reference of {@linkcode copyForward}. */
export function copyCpu(out: Float32Array, x: Float32Array): void {
  out.set(x.subarray(0, out.length));
}

/** CPU reference of {@linkcode gatherRows}: dst[r·width + c] = src[index[r]·sStride + c]. */
export function gatherRowsCpu(
  dst: Float32Array,
  src: Float32Array,
  index: ArrayLike<number>,
  d: { R: number; width: number; sStride: number },
): void {
  const rows = Math.floor(src.length / d.sStride);
  for (let r = 0; r < d.R; r++) {
    const s = index[r];
    for (let c = 0; c < d.width; c++) {
      dst[r * d.width + c] = s < rows ? src[s * d.sStride + c] : NaN;
    }
  }
}
