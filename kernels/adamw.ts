/**
 * AdamW as PyTorch's torch.optim.AdamW (https://arxiv.org/abs/1711.05101), one dispatch per
 * parameter tensor, and gradient zeroing.
 *
 * Update of one step t (1-based), per element, with gradient g:
 *   p *= 1 - lr * wd                                 (decoupled weight decay, first)
 *   m  = m + (1 - beta1) * (g - m)                   (torch's lerp)
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)   (eps outside the sqrt)
 *
 * Hyper-parameters and the bias corrections travel in the uniform, computed in float64 on the
 * CPU, so a learning-rate schedule or the step count never recompiles anything. Biases and
 * LayerNorm weights get no decay ({@linkcode noDecay}, the Hugging Face rule).
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, packParams } from "./device.ts";
import { dispatchDistinct } from "./reduce.ts";
import { assertDType, assertShape, type Tensor, tensor } from "./tensor.ts";

/** Hyper-parameters of one {@linkcode adamwStep}. */
export interface AdamWStep {
  /** Learning rate of this step. */
  lr: number;
  /** Decay rate of the first moment. */
  beta1: number;
  /** Decay rate of the second moment. */
  beta2: number;
  /** Added to the denominator, outside the square root. */
  eps: number;
  /** Decoupled weight decay (0 for biases and LayerNorm weights). */
  weightDecay: number;
  /** 1-based step count t, for the bias corrections. */
  step: number;
}

const ADAMW_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params {
  n: u32,
  decay: f32,        // 1 - lr * weight_decay
  beta2: f32,
  oneMinusBeta1: f32,
  oneMinusBeta2: f32,
  eps: f32,
  stepSize: f32,     // lr / (1 - beta1^t)
  bc2Sqrt: f32,      // sqrt(1 - beta2^t)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;        // (n)
@group(0) @binding(2) var<storage, read_write> param: array<f32>; // (n)
@group(0) @binding(3) var<storage, read_write> m: array<f32>;     // (n) exp_avg
@group(0) @binding(4) var<storage, read_write> v: array<f32>;     // (n) exp_avg_sq

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  for (var i = wid.x * WG + lid; i < p.n; i += nwg.x * WG) {
    let g = grad[i];
    let mi = m[i] + p.oneMinusBeta1 * (g - m[i]);
    let vi = v[i] * p.beta2 + p.oneMinusBeta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    let denom = sqrt(vi) / p.bc2Sqrt + p.eps;
    param[i] = param[i] * p.decay - p.stepSize * (mi / denom);
  }
}`;

const ADAMW_WG = 256;

function adamwPipeline(gpu: Gpu): GPUComputePipeline {
  return gpu.pipeline("adamw", ADAMW_WGSL, { WG: ADAMW_WG });
}

/** Compiles the AdamW pipeline now, at start-up, instead of at the first step. */
export function warmAdamWKernels(gpu: Gpu): void {
  adamwPipeline(gpu);
}

function checkHyper(op: string, h: AdamWStep): void {
  const bad = (k: keyof AdamWStep, why: string) => {
    throw new GpuError(`${op}: ${k} = ${h[k]} ${why}`);
  };
  if (!(h.lr >= 0) || !Number.isFinite(h.lr)) bad("lr", "must be a finite number >= 0");
  if (!(h.beta1 >= 0 && h.beta1 < 1)) bad("beta1", "must be in [0, 1)");
  if (!(h.beta2 >= 0 && h.beta2 < 1)) bad("beta2", "must be in [0, 1)");
  if (!(h.eps >= 0) || !Number.isFinite(h.eps)) bad("eps", "must be a finite number >= 0");
  if (!(h.weightDecay >= 0) || !Number.isFinite(h.weightDecay)) {
    bad("weightDecay", "must be a finite number >= 0");
  }
  if (!Number.isInteger(h.step) || h.step < 1) bad("step", "must be an integer >= 1");
}

/**
 * Records one AdamW step of one parameter tensor, updating param, m and v in place.
 *
 * Shapes: param, grad, m, v all the same shape, f32.
 *
 * @example
 * ```ts
 * adamwStep(batch, w, dW, mW, vW, {
 *   lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1,
 * });
 * ```
 */
export function adamwStep(
  batch: Batch,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamWStep,
): void {
  const op = "adamwStep";
  checkHyper(op, h);
  for (const [name, t] of [["param", param], ["grad", grad], ["m", m], ["v", v]] as const) {
    assertDType(op, name, t, "f32");
    assertShape(op, name, t, param.shape);
  }
  const n = param.size;
  const pipe = adamwPipeline(batch.gpu);
  const groups = Math.min(Math.ceil(n / ADAMW_WG), batch.gpu.isSoftware ? 256 : 8192);
  const params = packParams([
    n,
    { f32: 1 - h.lr * h.weightDecay },
    { f32: h.beta2 },
    { f32: 1 - h.beta1 },
    { f32: 1 - h.beta2 },
    { f32: h.eps },
    { f32: h.lr / (1 - h.beta1 ** h.step) },
    { f32: Math.sqrt(1 - h.beta2 ** h.step) },
  ]);
  dispatchDistinct(op, batch, pipe, [grad, param, m, v], params, [groups]);
}

/** Records zero-filling of every tensor (gradients before a backward that accumulates). */
export function zeroGrad(batch: Batch, tensors: readonly Tensor[]): void {
  for (const t of tensors) batch.clear(t, 0, t.bytes);
}

/**
 * True for parameters that get no weight decay under the Hugging Face rule: biases and
 * LayerNorm weights. Matches names ending in `.bias`, containing `LayerNorm` or `layer_norm`
 * (any case), or with an `ln` name part (`ln`, `ln_1`, `ln_f`, `final_ln`; not `kiln`).
 *
 * @example
 * ```ts
 * noDecay("bert.embeddings.LayerNorm.weight"); // true
 * noDecay("bert.encoder.layer.0.attention.self.query.bias"); // true
 * noDecay("bert.encoder.layer.0.attention.self.query.weight"); // false
 * ```
 */
export function noDecay(name: string): boolean {
  return name === "bias" || name.endsWith(".bias") || /layernorm|layer_norm/i.test(name) ||
    /(^|[._])ln\d*([._]|$)/i.test(name);
}

/** Configuration of {@linkcode AdamW}; defaults are torch.optim.AdamW's. */
export interface AdamWConfig {
  /** Learning rate; {@linkcode AdamW.step} can override it per step for schedules. */
  lr: number;
  /** Decay rates (beta1, beta2) of the moment estimates. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Term added to the denominator, outside the square root. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay of parameters that decay (see {@linkcode noDecay}). Default 0.01. */
  weightDecay?: number;
}

/** A parameter the optimizer updates: its name (Hugging Face style), values and gradient. */
export interface AdamWParam {
  name: string;
  param: Tensor;
  grad: Tensor;
  /** Whether weight decay applies; default `!noDecay(name)`. */
  decay?: boolean;
}

/** An {@linkcode AdamWConfig} with defaults filled in, or a GpuError naming the bad field. */
export function resolveAdamWConfig(config: AdamWConfig): Required<AdamWConfig> {
  const c = {
    lr: config.lr,
    betas: config.betas ?? [0.9, 0.999] as const,
    eps: config.eps ?? 1e-8,
    weightDecay: config.weightDecay ?? 0.01,
  };
  checkHyper("AdamW config", {
    lr: c.lr,
    beta1: c.betas[0],
    beta2: c.betas[1],
    eps: c.eps,
    weightDecay: c.weightDecay,
    step: 1,
  });
  return c;
}

/**
 * AdamW over a set of named parameters: owns the moment tensors (zero at start) and the step
 * count. Weight decay skips biases and LayerNorm weights ({@linkcode noDecay}).
 *
 * @example
 * ```ts
 * const opt = new AdamW(gpu, params, { lr: 2e-5, weightDecay: 0.01 });
 * const batch = gpu.batch("train step");
 * // ... forward, backward into the grads ...
 * opt.step(batch, schedule(opt.t + 1));
 * opt.zeroGrad(batch);
 * batch.submit();
 * ```
 */
export class AdamW {
  readonly gpu: Gpu;
  readonly params: readonly AdamWParam[];
  readonly config: Required<AdamWConfig>;
  /** Steps taken so far; the next {@linkcode AdamW.step} uses t + 1. Set it when resuming. */
  t = 0;
  #state: { name: string; m: Tensor; v: Tensor; decay: boolean }[];

  constructor(gpu: Gpu, params: readonly AdamWParam[], config: AdamWConfig) {
    this.gpu = gpu;
    this.config = resolveAdamWConfig(config);
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new GpuError(`AdamW: parameter '${p.name}' appears twice`);
      names.add(p.name);
      assertDType(`AdamW '${p.name}'`, "param", p.param, "f32");
      assertDType(`AdamW '${p.name}'`, "grad", p.grad, "f32");
      assertShape(`AdamW '${p.name}'`, "grad", p.grad, p.param.shape);
    }
    this.params = [...params];
    this.#state = params.map((p) => ({
      name: p.name,
      m: tensor(gpu, p.param.shape, `${p.name}.exp_avg`),
      v: tensor(gpu, p.param.shape, `${p.name}.exp_avg_sq`),
      decay: p.decay ?? !noDecay(p.name),
    }));
  }

  /** Records one step of every parameter at learning rate `lr` (default the config's). */
  step(batch: Batch, lr: number = this.config.lr): void {
    const { betas, eps, weightDecay } = this.config;
    const step = this.t + 1;
    checkHyper("AdamW.step", { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay, step });
    this.params.forEach((p, i) => {
      const s = this.#state[i];
      adamwStep(batch, p.param, p.grad, s.m, s.v, {
        lr,
        beta1: betas[0],
        beta2: betas[1],
        eps,
        weightDecay: s.decay ? weightDecay : 0,
        step,
      });
    });
    this.t = step;
  }

  /** Records zeroing of every gradient. */
  zeroGrad(batch: Batch): void {
    zeroGrad(batch, this.params.map((p) => p.grad));
  }

  /** The moment tensors (torch names exp_avg, exp_avg_sq), for checkpoints and resuming. */
  stateTensors(): { name: string; m: Tensor; v: Tensor }[] {
    return this.#state.map(({ name, m, v }) => ({ name, m, v }));
  }

  /** Frees the moment tensors. */
  destroy(): void {
    for (const s of this.#state) {
      s.m.destroy();
      s.v.destroy();
    }
  }
}
