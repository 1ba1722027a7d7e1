/** CPU reference of {@linkcode copyForward}. */
export function copyCpu(out: Float32Array, x: Float32Array): void {
  out.set(x.subarray(0, out.length));
}
