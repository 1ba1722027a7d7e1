/**
 * The GPU context every kernel runs on: adapter and device with the adapter's maximum buffer
 * limits, a pipeline cache keyed by kernel name and compile-time constants, command batches (one
 * encoder, one compute pass, one submit), pooled uniform arenas and staging buffers, and errors
 * that name the kernel that caused them.
 *
 * Conventions every launcher follows (see ../shared/STYLE.md):
 * - WGSL binding 0 is the kernel's uniform block (runtime sizes), bindings 1.. are storage
 *   buffers in the order the launcher passes them;
 * - compile-time choices (tile shape, workgroup size) are WGSL `override` constants, passed to
 *   {@linkcode Gpu.pipeline} and part of the cache key;
 * - launchers record into a {@linkcode Batch}; nothing reads back inside a batch.
 *
 * @module
 */

import { collectGarbage } from "./collect_garbage.ts";
import type { Tensor } from "./tensor.ts";

/** Options of {@linkcode requestGpu}. */
export interface GpuOptions {
  /** Print the adapter (vendor, description, fallback or not) and the limits used. */
  verbose?: boolean;
  /** Wrap every dispatch in an error scope so errors name the exact kernel (slower). */
  debug?: boolean;
  /**
   * Bind groups between full garbage collections, which free the driver memory of the ones no
   * longer referenced (kernels/collect_garbage.ts says why); 0 never collects.
   */
  gcEvery?: number;
}

/**
 * Bind groups between collections: at most ~16,000 memory mappings held on lavapipe (a quarter
 * of Linux's limit), and a collection (~70 ms in the main job's processes) every ~200 scoring
 * submits, about 1% of their time.
 */
export const GC_EVERY = 16384;

/** An error raised by the GPU: a validation failure, an out-of-memory or a lost device. */
export class GpuError extends Error {
  override name = "GpuError";
}

/** A value packed as a 32-bit float into a uniform block (plain numbers pack as u32). */
export interface F32 {
  f32: number;
}
/** A value packed as a signed 32-bit integer into a uniform block. */
export interface I32 {
  i32: number;
}
/** Marks `x` to be packed as f32 by {@linkcode packParams}. */
export function f32(x: number): F32 {
  return { f32: x };
}
/** Marks `x` to be packed as i32 by {@linkcode packParams}. */
export function i32(x: number): I32 {
  return { i32: x };
}

/**
 * Packs uniform fields (4 bytes each, in WGSL struct order) into an ArrayBuffer padded to 16
 * bytes. Plain numbers are u32 and must be non-negative integers.
 */
export function packParams(fields: readonly (number | F32 | I32)[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil(fields.length / 4) * 16);
  const buf = new ArrayBuffer(bytes);
  const u = new Uint32Array(buf), f = new Float32Array(buf), s = new Int32Array(buf);
  fields.forEach((v, i) => {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`packParams: field ${i} = ${v} is not a u32`);
      }
      u[i] = v;
    } else if ("f32" in v) f[i] = v.f32;
    else s[i] = v.i32;
  });
  return buf;
}

/** Workgroup counts for `n` workgroups, split over x and y so each stays within 65535. */
export function grid(n: number): [number, number] {
  const max = 65535;
  if (n <= max) return [Math.max(1, n), 1];
  const y = Math.ceil(n / max);
  return [Math.ceil(n / y), y];
}

/** WGSL line that defines `wgIndex`, the linear workgroup index of a {@linkcode grid} dispatch. */
export const WGSL_WG_INDEX = "let wgIndex = wid.x + wid.y * nwg.x;";

/** A buffer or tensor a launcher can bind. */
export type Bindable = GPUBuffer | Tensor;

/**
 * What a dispatch can bind after its uniform block: buffers and tensors, or texture views (on
 * CPU rasterisers `textureLoad` is several times cheaper than a storage-buffer load).
 */
export type Binding = Bindable | GPUTextureView;

function bufferOf(b: Bindable): GPUBuffer {
  return b instanceof GPUBuffer ? b : b.buffer;
}

function resourceOf(b: Binding): GPUBindingResource {
  return b instanceof GPUTextureView ? b : { buffer: bufferOf(b) };
}

const UNIFORM_ALIGN = 256;
const ARENA_BYTES = 64 * 1024;

/** Ways the adapter was picked; tests and benchmarks print it. */
export interface AdapterReport {
  vendor: string;
  description: string;
  architecture: string;
  isFallback: boolean;
  backend: string;
}

/** A GPU device with a pipeline cache, uniform and staging pools and error reporting. */
export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly report: AdapterReport;
  /** True on CPU rasterisers (llvmpipe, lavapipe, SwiftShader): tile shapes differ there. */
  readonly isSoftware: boolean;
  readonly debug: boolean;
  #pipelines = new Map<string, GPUComputePipeline>();
  #modules = new Map<string, GPUShaderModule>();
  #errors: string[] = [];
  #lost: string | null = null;
  #arenas: GPUBuffer[] = [];
  #staging = new Map<number, GPUBuffer[]>();
  /** Bind groups between garbage collections; see {@linkcode GpuOptions.gcEvery}. */
  readonly gcEvery: number;
  /** Bind groups made since the last collection. */
  #bindGroups = 0;

  constructor(adapter: GPUAdapter, device: GPUDevice, debug = false, gcEvery = GC_EVERY) {
    this.adapter = adapter;
    this.device = device;
    this.debug = debug;
    this.gcEvery = gcEvery;
    const info = adapter.info;
    this.report = {
      vendor: info.vendor,
      description: info.description,
      architecture: info.architecture,
      isFallback: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    };
    this.isSoftware = this.report.isFallback ||
      /llvmpipe|lavapipe|swiftshader|software/i.test(info.description);
    device.addEventListener("uncapturederror", (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    device.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
  }

  /** @internal counts a bind group made by a batch. */
  noteBindGroup(): void {
    this.#bindGroups++;
  }

  /** @internal after a submit: collects once {@linkcode gcEvery} bind groups were made. */
  collectIfDue(): void {
    if (this.gcEvery > 0 && this.#bindGroups >= this.gcEvery) {
      this.#bindGroups = 0;
      collectGarbage();
    }
  }

  /** Throws a {@linkcode GpuError} for any error the device reported since the last check. */
  throwIfErrors(where: string): void {
    if (this.#lost !== null) {
      throw new GpuError(`${where}: the GPU device was lost (${this.#lost})`);
    }
    if (this.#errors.length) {
      const msgs = this.#errors.splice(0);
      throw new GpuError(`${where}: the GPU reported ${msgs.length} error(s):\n${msgs.join("\n")}`);
    }
  }

  /**
   * The compute pipeline of kernel `name` with these override constants, compiled once. `code`
   * must be the same WGSL for the same name. Set WEBSHOP_GPU_DEBUG=1 to print each new source.
   */
  pipeline(
    name: string,
    code: string,
    constants: Record<string, number> = {},
    entryPoint = "main",
  ): GPUComputePipeline {
    const keys = Object.keys(constants).sort();
    const key = `${name}:${entryPoint}|${keys.map((k) => `${k}=${constants[k]}`).join(",")}`;
    let p = this.#pipelines.get(key);
    if (p) return p;
    let module = this.#modules.get(name);
    if (!module) {
      if (this.debug) console.error(`// ---- ${name} ----\n${code}`);
      module = this.device.createShaderModule({ code, label: name });
      this.#modules.set(name, module);
    }
    this.device.pushErrorScope("validation");
    p = this.device.createComputePipeline({
      label: key,
      layout: "auto",
      compute: { module, entryPoint, constants },
    });
    this.device.popErrorScope().then((err) => {
      if (err) this.#errors.push(`kernel ${key} failed to compile: ${err.message}`);
    });
    this.#pipelines.set(key, p);
    return p;
  }

  /** Number of distinct pipelines compiled so far. */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /** A new command batch; record launchers into it, then {@linkcode Batch.submit}. */
  batch(label = "batch"): Batch {
    return new Batch(this, label);
  }

  /** Records with `fn` into one batch and submits it. */
  run(label: string, fn: (b: Batch) => void): void {
    const b = this.batch(label);
    fn(b);
    b.submit();
  }

  /** A storage buffer of at least `bytes` bytes (rounded up to 4), zero-filled. */
  createBuffer(bytes: number, label: string, extraUsage = 0): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.device.limits.maxStorageBufferBindingSize) {
      throw new GpuError(
        `buffer '${label}' needs ${size} bytes, over this device's storage binding limit of ` +
          `${this.device.limits.maxStorageBufferBindingSize}`,
      );
    }
    return this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST |
        extraUsage,
    });
  }

  /** @internal a uniform arena from the pool. */
  takeArena(): GPUBuffer {
    return this.#arenas.pop() ?? this.device.createBuffer({
      label: "uniform arena",
      size: ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** @internal returns arenas once their writes are queued (queue order keeps them safe). */
  giveArenas(arenas: GPUBuffer[]): void {
    this.#arenas.push(...arenas);
  }

  /**
   * Copies `bytes` bytes of `src` (from `offset`) to the CPU. A sync point: it waits for all
   * submitted work (about 11 ms on llvmpipe), so call it only when the value is needed.
   */
  async read(src: Bindable, bytes?: number, offset = 0): Promise<ArrayBuffer> {
    const buffer = bufferOf(src);
    const n = bytes ?? buffer.size - offset;
    const size = Math.ceil(n / 4) * 4;
    const pool = this.#staging.get(size) ?? [];
    this.#staging.set(size, pool);
    const staging = pool.pop() ?? this.device.createBuffer({
      label: `staging ${size}`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.device.createCommandEncoder({ label: "read" });
    enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.throwIfErrors(`reading '${buffer.label}'`);
      throw e;
    }
    const out = staging.getMappedRange().slice(0, n);
    staging.unmap();
    pool.push(staging);
    this.throwIfErrors(`reading '${buffer.label}'`);
    return out;
  }

  /** Waits until all submitted work is done and throws any error it raised. */
  async sync(where = "sync"): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfErrors(where);
  }

  /** Destroys the device; the object must not be used afterwards. */
  destroy(): void {
    this.device.destroy();
  }
}

/**
 * One command encoder and one compute pass that launchers record into, submitted at once.
 * Uniform data of every dispatch goes into 256-byte slots of pooled arenas, written at submit.
 */
export class Batch {
  readonly gpu: Gpu;
  readonly label: string;
  #encoder: GPUCommandEncoder;
  #pass: GPUComputePassEncoder | null = null;
  #arenas: { buffer: GPUBuffer; data: Uint8Array<ArrayBuffer>; used: number }[] = [];
  #dispatches = 0;
  #submitted = false;

  constructor(gpu: Gpu, label: string) {
    this.gpu = gpu;
    this.label = label;
    this.#encoder = gpu.device.createCommandEncoder({ label });
  }

  /** Number of dispatches recorded so far. */
  get dispatches(): number {
    return this.#dispatches;
  }

  #openPass(): GPUComputePassEncoder {
    if (this.#submitted) throw new GpuError(`batch '${this.label}' was already submitted`);
    this.#pass ??= this.#encoder.beginComputePass({ label: this.label });
    return this.#pass;
  }

  #closePass(): void {
    if (this.#submitted) throw new GpuError(`batch '${this.label}' was already submitted`);
    this.#pass?.end();
    this.#pass = null;
  }

  #uniform(params: ArrayBuffer): GPUBufferBinding {
    let arena = this.#arenas.at(-1);
    if (!arena || arena.used + UNIFORM_ALIGN > ARENA_BYTES) {
      arena = { buffer: this.gpu.takeArena(), data: new Uint8Array(ARENA_BYTES), used: 0 };
      this.#arenas.push(arena);
    }
    if (params.byteLength > UNIFORM_ALIGN) {
      throw new GpuError(`uniform block of ${params.byteLength} bytes is over ${UNIFORM_ALIGN}`);
    }
    const offset = arena.used;
    arena.data.set(new Uint8Array(params), offset);
    arena.used += UNIFORM_ALIGN;
    return { buffer: arena.buffer, offset, size: params.byteLength };
  }

  /**
   * Records one dispatch: binding 0 is `params` (when given), bindings 1.. are `buffers`
   * (buffers, tensors or texture views).
   * `workgroups` are counts in x, y, z (see {@linkcode grid}).
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly Binding[],
    params: ArrayBuffer | null,
    workgroups: readonly number[],
  ): void {
    const entries: GPUBindGroupEntry[] = [];
    if (params) entries.push({ binding: 0, resource: this.#uniform(params) });
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: resourceOf(b) }));
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return; // empty problem: nothing to do
    const bindGroup = this.gpu.device.createBindGroup({
      label: pipeline.label,
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    this.gpu.noteBindGroup();
    const pass = this.#openPass();
    if (this.gpu.debug) this.gpu.device.pushErrorScope("validation");
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.gpu.debug) {
      this.gpu.device.popErrorScope().then((e) => {
        if (e) console.error(`kernel ${pipeline.label}: ${e.message}`);
      });
    }
    this.#dispatches++;
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: Bindable, srcOffset: number, dst: Bindable, dstOffset: number, bytes: number): void {
    this.#closePass();
    this.#encoder.copyBufferToBuffer(bufferOf(src), srcOffset, bufferOf(dst), dstOffset, bytes);
  }

  /** Records zero-filling of a buffer (ends the current compute pass). */
  clear(dst: Bindable, offset = 0, bytes?: number): void {
    this.#closePass();
    this.#encoder.clearBuffer(bufferOf(dst), offset, bytes);
  }

  /** Writes the uniforms, ends the pass and submits; the batch cannot be used again. */
  submit(): void {
    this.#closePass();
    this.#submitted = true;
    const queue = this.gpu.device.queue;
    for (const a of this.#arenas) queue.writeBuffer(a.buffer, 0, a.data, 0, a.used);
    queue.submit([this.#encoder.finish()]);
    this.gpu.giveArenas(this.#arenas.map((a) => a.buffer));
    this.gpu.throwIfErrors(`batch '${this.label}'`);
    this.gpu.collectIfDue();
  }
}

const NO_ADAPTER = `No WebGPU adapter was found.
- On a CPU-only Linux machine install a software Vulkan driver: apt-get install -y mesa-vulkan-drivers,
  then run with DENO_WEBGPU_BACKEND=vulkan (lavapipe; faster) or DENO_WEBGPU_BACKEND=gl (llvmpipe).
- On a GPU server install the vendor's Vulkan driver (e.g. NVIDIA's with its ICD json) and the
  Vulkan loader (libvulkan1), then run with DENO_WEBGPU_BACKEND=vulkan.`;

/**
 * Requests an adapter and a device with the adapter's maximum buffer and binding limits. Throws
 * an actionable {@linkcode GpuError} when no adapter exists.
 */
export async function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) throw new GpuError(NO_ADAPTER);
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuError(NO_ADAPTER);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: "webshop-rl",
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    },
  });
  const debug = options.debug ?? Deno.env.get("WEBSHOP_GPU_DEBUG") === "1";
  const gcEvery = options.gcEvery ?? GC_EVERY;
  if (!Number.isInteger(gcEvery) || gcEvery < 0) {
    throw new GpuError(`requestGpu: gcEvery must be an integer >= 0, got ${gcEvery}`);
  }
  const gpu = new Gpu(adapter, device, debug, gcEvery);
  if (options.verbose) {
    const r = gpu.report;
    console.error(
      `adapter: ${
        r.description || "(no description)"
      } vendor=${r.vendor} fallback=${r.isFallback}` +
        ` backend=${r.backend} maxStorageBinding=${device.limits.maxStorageBufferBindingSize}`,
    );
  }
  return gpu;
}

let sharedGpu: Promise<Gpu | null> | null = null;

/**
 * One shared device for tests and scripts, or null when this machine has no adapter (tests then
 * skip with a message). Safe to call many times.
 */
export function tryRequestGpu(): Promise<Gpu | null> {
  sharedGpu ??= requestGpu().catch((e) => {
    console.error(`no GPU adapter: ${(e as Error).message.split("\n")[0]}`);
    return null;
  });
  return sharedGpu;
}
