/**
 * CPU references of the segment kernels in `../segment.ts`: log-softmax within action groups,
 * masked mean over tokens, gather and NLL loss. Inputs are any array of numbers so the float64
 * finite-difference checks can run them in double precision.
 *
 * @module
 */

/** A writable vector of numbers: the output of a reference. */
export type FloatVec = Float32Array | Float64Array;

function segmentBounds(offsets: ArrayLike<number>, s: number, op: string): [number, number] {
  const a = offsets[s], b = offsets[s + 1];
  if (!(a <= b)) throw new RangeError(`${op}: offsets[${s}]=${a} > offsets[${s + 1}]=${b}`);
  return [a, b];
}

/** CPU reference of `segmentLogSoftmaxForward`: out = x - logsumexp(x) within each segment. */
export function segmentLogSoftmaxForwardCpu(
  out: FloatVec,
  x: ArrayLike<number>,
  offsets: ArrayLike<number>,
  S: number,
): void {
  for (let s = 0; s < S; s++) {
    const [a, b] = segmentBounds(offsets, s, "segmentLogSoftmaxForwardCpu");
    let m = -Infinity;
    for (let i = a; i < b; i++) m = Math.max(m, x[i]);
    let z = 0;
    for (let i = a; i < b; i++) z += Math.exp(x[i] - m);
    const lz = m + Math.log(z);
    for (let i = a; i < b; i++) out[i] = x[i] - lz;
  }
}

/** CPU reference of `segmentLogSoftmaxBackward`: dX = dOut - exp(out) * sum(dOut) per segment. */
export function segmentLogSoftmaxBackwardCpu(
  dX: FloatVec,
  dOut: ArrayLike<number>,
  out: ArrayLike<number>,
  offsets: ArrayLike<number>,
  S: number,
): void {
  for (let s = 0; s < S; s++) {
    const [a, b] = segmentBounds(offsets, s, "segmentLogSoftmaxBackwardCpu");
    let g = 0;
    for (let i = a; i < b; i++) g += dOut[i];
    for (let i = a; i < b; i++) dX[i] = dOut[i] - Math.exp(out[i]) * g;
  }
}

/** CPU reference of `maskedMeanForward`: out (R, C) = sum_t mask*x / max(sum_t mask, 1). */
export function maskedMeanForwardCpu(
  out: FloatVec,
  x: ArrayLike<number>,
  mask: ArrayLike<number>,
  R: number,
  T: number,
  C: number,
): void {
  for (let r = 0; r < R; r++) {
    let cnt = 0;
    for (let t = 0; t < T; t++) cnt += mask[r * T + t];
    const inv = 1 / Math.max(cnt, 1);
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let t = 0; t < T; t++) {
        const w = mask[r * T + t];
        if (w !== 0) acc += w * x[(r * T + t) * C + c];
      }
      out[r * C + c] = acc * inv;
    }
  }
}

/** CPU reference of `maskedMeanBackward`: dX (R, T, C) = dOut[r, c] * mask[r, t] / max(cnt, 1). */
export function maskedMeanBackwardCpu(
  dX: FloatVec,
  dOut: ArrayLike<number>,
  mask: ArrayLike<number>,
  R: number,
  T: number,
  C: number,
): void {
  for (let r = 0; r < R; r++) {
    let cnt = 0;
    for (let t = 0; t < T; t++) cnt += mask[r * T + t];
    const inv = 1 / Math.max(cnt, 1);
    for (let t = 0; t < T; t++) {
      const w = mask[r * T + t] * inv;
      for (let c = 0; c < C; c++) dX[(r * T + t) * C + c] = dOut[r * C + c] * w;
    }
  }
}

function pickIndex(offsets: ArrayLike<number>, targets: ArrayLike<number>, s: number, op: string) {
  const [a, b] = segmentBounds(offsets, s, op);
  const t = targets[s];
  if (!(t >= 0 && a + t < b)) {
    throw new RangeError(`${op}: target[${s}]=${t} is outside segment ${s} of ${b - a} elements`);
  }
  return a + t;
}

/** CPU reference of `gatherForward`: out[s] = x[offsets[s] + targets[s]]. */
export function gatherForwardCpu(
  out: FloatVec,
  x: ArrayLike<number>,
  offsets: ArrayLike<number>,
  targets: ArrayLike<number>,
  S: number,
): void {
  for (let s = 0; s < S; s++) out[s] = x[pickIndex(offsets, targets, s, "gatherForwardCpu")];
}

/** CPU reference of `gatherBackward`: dX is zero except dX[offsets[s] + targets[s]] = dOut[s]. */
export function gatherBackwardCpu(
  dX: FloatVec,
  dOut: ArrayLike<number>,
  offsets: ArrayLike<number>,
  targets: ArrayLike<number>,
  S: number,
  N: number,
): void {
  dX.fill(0, 0, N);
  for (let s = 0; s < S; s++) dX[pickIndex(offsets, targets, s, "gatherBackwardCpu")] = dOut[s];
}

/** CPU reference of `nllLossForward`: -mean_s(weight[s] * logp[offsets[s] + targets[s]]). */
export function nllLossForwardCpu(
  logp: ArrayLike<number>,
  offsets: ArrayLike<number>,
  targets: ArrayLike<number>,
  S: number,
  weights?: ArrayLike<number>,
): number {
  let acc = 0;
  for (let s = 0; s < S; s++) {
    acc += (weights ? weights[s] : 1) * logp[pickIndex(offsets, targets, s, "nllLossForwardCpu")];
  }
  return -acc / S;
}

/** CPU reference of `nllLossBackward`: dX[picked s] = -dLoss * weight[s] / S, zero elsewhere. */
export function nllLossBackwardCpu(
  dX: FloatVec,
  dLoss: number,
  offsets: ArrayLike<number>,
  targets: ArrayLike<number>,
  S: number,
  N: number,
  weights?: ArrayLike<number>,
): void {
  dX.fill(0, 0, N);
  for (let s = 0; s < S; s++) {
    const i = pickIndex(offsets, targets, s, "nllLossBackwardCpu");
    dX[i] = -dLoss * (weights ? weights[s] : 1) / S;
  }
}
