/**
 * The PyTorch peer of `deno task bench:model`: scripts/bench_model_torch.py (WebShop's choice
 * model in plain torch) as a child process answering one JSON line per command, so the benchmark
 * can interleave torch's reps with ours and both see the same load on a shared machine. Torch is
 * a benchmark reference only: where no python3 imports it, {@linkcode startTorchPeer} says why.
 *
 * @module
 */

/** The shape of one case, as the python script's `case` command takes it. */
export interface TorchShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  max_positions: number;
  value_hidden: number;
  dropout: number;
  attention_dropout: number;
  eps: number;
  decisions: number;
  state_len: number;
  actions: number;
  action_len: number;
}

/** What the peer reports about itself: torch version, threads, the BLAS it loaded. */
export interface TorchInfo {
  python: string;
  torch: string;
  threads: number;
  blas_libs: string[];
  openblas_core?: string;
  openblas_threads?: number;
  omp_wait_policy: string | null;
}

const SCRIPT = new URL("./bench_model_torch.py", import.meta.url).pathname;
/** Debian's torch lives in the system python; a python3 earlier on PATH may lack it. */
const PYTHONS = ["python3", "/usr/bin/python3"];

/**
 * The child's environment: ours without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (they would pin
 * OpenBLAS to a core other than the one it detects), explicit thread counts, and passive OpenMP
 * waiting: on a machine whose cores other processes share, libgomp's spinning workers (with
 * OpenBLAS's own) steal the cores torch's work needs, which made its training step 4x slower here
 * (2.25 s against 0.55 s for 8 decisions), a figure that would flatter ours.
 */
function childEnv(threads: number): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return {
    ...env,
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OMP_WAIT_POLICY: "PASSIVE",
  };
}

/** A running bench_model_torch.py --serve. */
export class TorchPeer {
  readonly info: TorchInfo;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    info: TorchInfo,
  ) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
    this.info = info;
  }

  /**
   * Starts the peer with `threads` torch/OpenBLAS threads, or returns one line saying why there
   * is none (no python3 with torch, or no permission to run it).
   */
  static async start(threads: number): Promise<TorchPeer | string> {
    const env = childEnv(threads);
    let python: string | null = null;
    const tried: string[] = [];
    for (const p of PYTHONS) {
      try {
        const probe = await new Deno.Command(p, {
          args: ["-c", "import torch"],
          env,
          clearEnv: true,
          stdout: "null",
          stderr: "null",
        }).output();
        if (probe.success) {
          python = p;
          break;
        }
        tried.push(`${p}: no torch`);
      } catch (e) {
        const why = e instanceof Deno.errors.NotFound
          ? "not found"
          : e instanceof Deno.errors.NotCapable
          ? "not allowed to run (--allow-run)"
          : (e as Error).message;
        tried.push(`${p}: ${why}`);
      }
    }
    if (!python) return `torch peer: none (${tried.join("; ")})`;
    const child = new Deno.Command(python, {
      args: [SCRIPT, "--serve", "--threads", String(threads)],
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    const hello = first.done ? null : JSON.parse(first.value);
    if (!hello?.ok) {
      child.kill();
      await child.status;
      return `torch peer: ${python} ${SCRIPT} --serve did not start`;
    }
    delete hello.ok;
    return new TorchPeer(child, lines, { python, ...hello });
  }

  async #ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
    const r = await this.#lines.next();
    if (r.done) throw new Error("torch peer: the python process ended");
    const out = JSON.parse(r.value);
    if (out.error) throw new Error(`torch peer: ${out.error}`);
    return out;
  }

  /** Builds the model, optimizer and batch of `shape`; returns the forward's GFLOP. */
  async setCase(shape: TorchShape): Promise<number> {
    return (await this.#ask({ cmd: "case", ...shape })).gflop as number;
  }

  /** Times one scoring forward or training step of the current case, in ms (torch's clock). */
  async rep(mode: "forward" | "train"): Promise<number> {
    return (await this.#ask({ cmd: "rep", mode })).ms as number;
  }

  /** Ends the child (closing its stdin ends its command loop). */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

/** The lines of a byte stream, without their newlines. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

/** One line naming the peer: torch version, threads and the BLAS library with its core. */
export function torchInfoText(i: TorchInfo): string {
  const lib = i.blas_libs.find((l) => l.split("/").at(-1)!.includes("openblas")) ??
    i.blas_libs[0] ?? "no BLAS";
  const ob = i.openblas_core ? `, OpenBLAS core ${i.openblas_core} ×${i.openblas_threads}` : "";
  const wait = i.omp_wait_policy ? `, OMP_WAIT_POLICY=${i.omp_wait_policy}` : "";
  return `torch ${i.torch} (${i.python}), ${i.threads} threads${wait}, ${lib}${ob}`;
}
