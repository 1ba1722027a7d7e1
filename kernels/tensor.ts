/**
 * A tiny tensor type: a GPU buffer, a shape, a label and an element type. No autograd: models
 * call the backward launchers in reverse order, as llm.c does.
 *
 * @module
 */

import { type Gpu, GpuError } from "./device.ts";

/** Element types a tensor can hold. */
export type DType = "f32" | "u32" | "i32";

/** The typed array a dtype reads back as. */
export type TypedArrayOf<D extends DType> = D extends "f32" ? Float32Array
  : D extends "u32" ? Uint32Array
  : Int32Array;

/** Number of elements of `shape`. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in [${shape}]`);
    n *= d;
  }
  return n;
}

/** A shape as text, e.g. `[2, 3]`. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** A GPU buffer with a shape. `buffer` may be larger than the shape needs (pooled or padded). */
export class Tensor<D extends DType = DType> {
  readonly gpu: Gpu;
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly label: string;
  readonly dtype: D;

  constructor(gpu: Gpu, buffer: GPUBuffer, shape: readonly number[], label: string, dtype: D) {
    this.gpu = gpu;
    this.buffer = buffer;
    this.shape = [...shape];
    this.label = label;
    this.dtype = dtype;
    if (numel(shape) * 4 > buffer.size) {
      throw new GpuError(`tensor '${label}' ${shapeText(shape)} does not fit its buffer`);
    }
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes the shape covers. */
  get bytes(): number {
    return this.size * 4;
  }

  /** Reads the elements back to the CPU. A sync point (waits for all submitted work). */
  async read(): Promise<TypedArrayOf<D>> {
    const raw = await this.gpu.read(this.buffer, this.bytes);
    return (this.dtype === "f32"
      ? new Float32Array(raw)
      : this.dtype === "u32"
      ? new Uint32Array(raw)
      : new Int32Array(raw)) as TypedArrayOf<D>;
  }

  /** Writes `data` (exactly `size` elements, or fewer at `offset` elements in). */
  write(data: ArrayLike<number>, offset = 0): void {
    if (offset + data.length > this.size) {
      throw new GpuError(
        `write to '${this.label}' ${shapeText(this.shape)}: ${data.length} values at ${offset} ` +
          `do not fit ${this.size}`,
      );
    }
    const arr = this.dtype === "f32"
      ? Float32Array.from(data)
      : this.dtype === "u32"
      ? Uint32Array.from(data)
      : Int32Array.from(data);
    this.gpu.device.queue.writeBuffer(this.buffer, offset * 4, arr);
  }

  /** A tensor of the same buffer with another shape of the same or fewer elements. */
  view(shape: readonly number[], label = this.label): Tensor<D> {
    if (numel(shape) > this.size) {
      throw new GpuError(
        `view of '${this.label}': ${shapeText(shape)} is larger than ${shapeText(this.shape)}`,
      );
    }
    return new Tensor(this.gpu, this.buffer, shape, label, this.dtype);
  }

  /** Frees the buffer. */
  destroy(): void {
    this.buffer.destroy();
  }
}

/** A new tensor, zero-filled or holding `data`. */
export function tensor<D extends DType = "f32">(
  gpu: Gpu,
  shape: readonly number[],
  label: string,
  data?: ArrayLike<number>,
  dtype?: D,
): Tensor<D> {
  const t = new Tensor<D>(
    gpu,
    gpu.createBuffer(numel(shape) * 4, label),
    shape,
    label,
    (dtype ?? "f32") as D,
  );
  if (data) {
    if (data.length !== t.size) {
      throw new GpuError(
        `tensor '${label}' ${shapeText(shape)} needs ${t.size} values, got ${data.length}`,
      );
    }
    t.write(data);
  }
  return t;
}

/** Throws, naming the op, unless `t` has exactly `shape` (-1 matches any size). */
export function assertShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  const ok = t.shape.length === shape.length && shape.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) {
    throw new GpuError(
      `${op}: ${name} '${t.label}' has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`,
    );
  }
}

/** Throws, naming the op, unless `t` holds at least `n` elements. */
export function assertSize(op: string, name: string, t: Tensor, n: number): void {
  if (t.size < n) {
    throw new GpuError(
      `${op}: ${name} '${t.label}' ${shapeText(t.shape)} holds ${t.size} elements, needs ${n}`,
    );
  }
}

/**
 * Throws, naming the op and both tensors, when an output shares its buffer with an input or with
 * another output (WebGPU cannot bind one buffer both writable and again in one dispatch, and an
 * op that reads what it writes would race).
 */
export function assertNoAlias(
  op: string,
  outs: readonly (readonly [string, Tensor])[],
  ins: readonly (readonly [string, Tensor])[],
): void {
  for (const [name, o] of outs) {
    for (const [iname, t] of [...ins, ...outs.filter(([n]) => n !== name)]) {
      if (t.buffer === o.buffer) {
        throw new GpuError(
          `${op}: ${name} '${o.label}' ${shapeText(o.shape)} aliases ${iname} '${t.label}'`,
        );
      }
    }
  }
}

/** Throws, naming the op, unless `t` has element type `dtype`. */
export function assertDType(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) {
    throw new GpuError(`${op}: ${name} '${t.label}' is ${t.dtype}, expected ${dtype}`);
  }
}

/**
 * A tensor on the CPU: a shape and float32 data in row-major order. Weights move between
 * safetensors files, checkpoints and GPU models in this form, keyed by their Hugging Face names.
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
