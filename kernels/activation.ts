/**
 * Activations, forward and backward, elementwise over n values:
 * - GELU, BERT's exact (erf) form: out = 0.5·x·(1 + erf(x/√2)), dX = dOut·(Φ(x) + x·φ(x));
 *   WGSL has no erf, so `WGSL_ERF` evaluates the float32 minimax rational approximation of Eigen
 *   and XLA (max abs error measured in activation_test.ts against a float64 erf);
 * - ReLU: out = max(x, 0), dX = dOut·[x > 0];
 * - LeakyReLU: out = x or slope·x (slope 0.01 by default, as PyTorch), dX likewise;
 * - tanh: out = tanh(x), dX = dOut·(1 - out²) from the saved output.
 *
 * Shapes: every tensor (n); n any size. Activation gradients are assigned. Outputs must not alias
 * inputs (WebGPU forbids binding one buffer both read-only and writable in a dispatch).
 *
 * @module
 */

import { type Batch, f32, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";
import { ERF_ALPHA, ERF_BETA } from "./cpu/activation.ts";

function horner(coeffs: readonly number[], v: string): string {
  return coeffs.slice(1).reduce(
    (acc, c) => `fma(${acc}, ${v}, ${c.toExponential()})`,
    coeffs[0].toExponential(),
  );
}

/** WGSL `erfApprox(x)`: the same float32 approximation as `erfApprox` in `cpu/activation.ts`. */
export const WGSL_ERF = /* wgsl */ `
fn erfApprox(v: f32) -> f32 {
  let x = clamp(v, -4.0, 4.0);
  let x2 = x * x;
  let num = ${horner(ERF_ALPHA, "x2")};
  let den = ${horner(ERF_BETA, "x2")};
  return clamp(x * num / den, -1.0, 1.0);
}`;

const WG = 256;

/** An elementwise kernel: `expr` gives out[j] from `a` (and `b` when binary) at j. */
function elementwise(expr: string, binary: boolean): string {
  return /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32, slope: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
${
    binary
      ? "@group(0) @binding(2) var<storage, read> b: array<f32>;\n" +
        "@group(0) @binding(3) var<storage, read_write> out: array<f32>;"
      : "@group(0) @binding(2) var<storage, read_write> out: array<f32>;"
  }
${WGSL_ERF}
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = (wgIndex * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let j = i + k;
    if (j < p.n) { out[j] = ${expr}; }
  }
}`;
}

// Forward kernels read x as `a`; backward kernels read dOut as `a` and x (or out) as `b`.
const KERNELS = {
  gelu_forward: elementwise("0.5 * a[j] * (1.0 + erfApprox(a[j] * INV_SQRT2))", false),
  gelu_backward: elementwise(
    "a[j] * (0.5 * (1.0 + erfApprox(b[j] * INV_SQRT2)) + " +
      "b[j] * INV_SQRT_2PI * exp(-0.5 * b[j] * b[j]))",
    true,
  ),
  relu_forward: elementwise("max(a[j], 0.0)", false),
  relu_backward: elementwise("select(0.0, a[j], b[j] > 0.0)", true),
  leaky_relu_forward: elementwise("select(p.slope * a[j], a[j], a[j] > 0.0)", false),
  leaky_relu_backward: elementwise("select(p.slope * a[j], a[j], b[j] > 0.0)", true),
  // tanh(±15) is ±1 in float32; clamping keeps exp-based tanh implementations from inf/inf.
  tanh_forward: elementwise("tanh(clamp(a[j], -15.0, 15.0))", false),
  tanh_backward: elementwise("a[j] * (1.0 - b[j] * b[j])", true),
};

function launch(
  batch: Batch,
  op: string,
  kernel: keyof typeof KERNELS,
  out: [string, Tensor],
  ins: [string, Tensor][],
  n: number,
  slope = 0,
): void {
  for (const [name, t] of [out, ...ins]) assertSize(op, name, t, n);
  assertNoAlias(op, [out], ins);
  const pipe = batch.gpu.pipeline(kernel, KERNELS[kernel], { WG });
  batch.dispatch(
    pipe,
    [...ins.map(([, t]) => t), out[1]],
    packParams([n, f32(slope)]),
    grid(Math.ceil(n / (4 * WG))),
  );
}

/**
 * Records out = 0.5·x·(1 + erf(x/√2)) over the first `n` elements.
 *
 * @example
 * ```ts ignore
 * gpu.run("ffn", (b) => geluForward(b, h, pre, pre.size));
 * ```
 */
export function geluForward(batch: Batch, out: Tensor, x: Tensor, n: number): void {
  launch(batch, "geluForward", "gelu_forward", ["out", out], [["x", x]], n);
}

/** Records dX = dOut·(Φ(x) + x·φ(x)) (assigned). */
export function geluBackward(batch: Batch, dX: Tensor, dOut: Tensor, x: Tensor, n: number): void {
  launch(batch, "geluBackward", "gelu_backward", ["dX", dX], [["dOut", dOut], ["x", x]], n);
}

/** Records out = max(x, 0). */
export function reluForward(batch: Batch, out: Tensor, x: Tensor, n: number): void {
  launch(batch, "reluForward", "relu_forward", ["out", out], [["x", x]], n);
}

/** Records dX = dOut·[x > 0] (assigned). */
export function reluBackward(batch: Batch, dX: Tensor, dOut: Tensor, x: Tensor, n: number): void {
  launch(batch, "reluBackward", "relu_backward", ["dX", dX], [["dOut", dOut], ["x", x]], n);
}

/** Options of LeakyReLU: the slope of negative inputs (default 0.01, as PyTorch). */
export interface LeakyReluOptions {
  slope?: number;
}

/** Records out = x where x > 0, else slope·x. */
export function leakyReluForward(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  n: number,
  options: LeakyReluOptions = {},
): void {
  const slope = options.slope ?? 0.01;
  launch(batch, "leakyReluForward", "leaky_relu_forward", ["out", out], [["x", x]], n, slope);
}

/** Records dX = dOut where x > 0, else slope·dOut (assigned). */
export function leakyReluBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  x: Tensor,
  n: number,
  options: LeakyReluOptions = {},
): void {
  const slope = options.slope ?? 0.01;
  launch(
    batch,
    "leakyReluBackward",
    "leaky_relu_backward",
    ["dX", dX],
    [
      ["dOut", dOut],
      ["x", x],
    ],
    n,
    slope,
  );
}

/** Records out = tanh(x). */
export function tanhForward(batch: Batch, out: Tensor, x: Tensor, n: number): void {
  launch(batch, "tanhForward", "tanh_forward", ["out", out], [["x", x]], n);
}

/** Records dX = dOut·(1 - out²) from the forward's saved output `out` (assigned). */
export function tanhBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  out: Tensor,
  n: number,
): void {
  launch(batch, "tanhBackward", "tanh_backward", ["dX", dX], [["dOut", dOut], ["out", out]], n);
}
