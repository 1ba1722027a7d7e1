import assert from "node:assert/strict";
import { saveAgent } from "../agent/checkpoint.ts";
import { ModelPolicy, OracleAgent, RandomAgent } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { gpuTest } from "../testing/gpu.ts";
import { recommend } from "./recommend.ts";
import { runThompson } from "./thompson.ts";
import { type ChoiceConfig, choiceConfig, initChoiceWeights } from "../model/choice_model.ts";
import { BERT_PRESETS } from "../model/config.ts";
import { BertTokenizer } from "../model/tokenizer.ts";
import {
  AGENT_FORMS,
  checkAgentCheckpoint,
  instantiateAgent,
  parseAgentList,
  parseAgentSource,
  prepareAgent,
} from "./agents.ts";

const TOKENIZER = await BertTokenizer.load(
  new URL("../tests/fixtures/bert_tiny/tokenizer.json", import.meta.url).pathname,
);

function tinyConfig(vocabSize = TOKENIZER.vocabSize, maxPositions = 64): ChoiceConfig {
  return choiceConfig({
    ...BERT_PRESETS.tiny,
    hiddenSize: 16,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    intermediateSize: 32,
    vocabSize,
    maxPositionEmbeddings: maxPositions,
  });
}

async function writeAgent(
  path: string,
  config: ChoiceConfig,
  opts: {
    tokenizer?: string;
    stateLen?: number;
    edit?: (w: ReturnType<typeof initChoiceWeights>) => void;
  } = {},
): Promise<void> {
  const weights = initChoiceWeights(config, 0);
  opts.edit?.(weights);
  await saveAgent(path, {
    meta: {
      spec: { model: config, encoder: { stateLen: opts.stateLen ?? 32, actionLen: 8 } },
      trainer: { name: "test", config: {} },
    },
    tokenizer: opts.tokenizer ?? TOKENIZER.identity,
    step: 3,
    weights,
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "agents_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseAgentSource() reads random, oracle, paths and labels; unknown names list the forms", () => {
  assert.deepEqual(parseAgentSource("random"), { label: "random", source: "random" });
  assert.deepEqual(parseAgentSource(" oracle "), { label: "oracle", source: "oracle" });
  assert.deepEqual(parseAgentSource("runs/dpo/final.safetensors"), {
    label: "dpo/final",
    source: "runs/dpo/final.safetensors",
  });
  assert.deepEqual(parseAgentSource("dpo=runs/x/final.safetensors"), {
    label: "dpo",
    source: "runs/x/final.safetensors",
  });
  assert.deepEqual(parseAgentSource("floor=random"), { label: "floor", source: "random" });
  assert.throws(() => parseAgentSource("orcale"), (e: Error) => {
    assert.equal(e.message, `unknown agent "orcale" (forms: ${AGENT_FORMS})`);
    return true;
  });
  assert.throws(() => parseAgentSource("=random"), /empty label/);
  assert.deepEqual(parseAgentList("oracle, a=random").map((a) => a.label), ["oracle", "a"]);
  assert.throws(() => parseAgentList("random,random"), /two agents are labelled "random"/);
  assert.throws(() => parseAgentList(" , "), /no agents given/);
});

Deno.test("prepareAgent() and instantiateAgent(): random and oracle need no tokenizer or GPU", async () => {
  const r = instantiateAgent(await prepareAgent(parseAgentSource("random"), null), null, null, {
    seed: 4,
  });
  assert.ok(r.policy instanceof RandomAgent && r.model === null);
  assert.ok(r.withSeed(5) instanceof RandomAgent && r.withSeed(5) !== r.policy);
  const o = instantiateAgent(await prepareAgent(parseAgentSource("oracle"), null), null, null);
  assert.ok(o.policy instanceof OracleAgent);
  await assert.rejects(
    () => prepareAgent(parseAgentSource("x/y.safetensors"), null),
    /x\/y\.safetensors: a checkpoint agent needs the tokenizer/,
  );
});

Deno.test("checkAgentCheckpoint() accepts a matching file and names the file and the mismatch otherwise", async () => {
  await withDir(async (dir) => {
    const ok = `${dir}/ok.safetensors`;
    await writeAgent(ok, tinyConfig());
    const ck = await checkAgentCheckpoint(ok, TOKENIZER);
    assert.equal(ck.step, 3);

    const missing = `${dir}/missing.safetensors`;
    await assert.rejects(() => checkAgentCheckpoint(missing, TOKENIZER), (e: Error) => {
      assert.match(e.message, /missing\.safetensors: cannot read checkpoint/);
      return true;
    });

    const bytes = await Deno.readFile(ok);
    const cut = `${dir}/truncated.safetensors`;
    await Deno.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(() => checkAgentCheckpoint(cut, TOKENIZER), /truncated\.safetensors/);

    const vocab = `${dir}/vocab.safetensors`;
    await writeAgent(vocab, tinyConfig(150));
    await assert.rejects(
      () => checkAgentCheckpoint(vocab, TOKENIZER),
      /vocab\.safetensors: vocabulary: the model has 150 token ids, this evaluation's tokenizer 200/,
    );

    const tok = `${dir}/tok.safetensors`;
    await writeAgent(tok, tinyConfig(), { tokenizer: "sha256:other" });
    await assert.rejects(
      () => checkAgentCheckpoint(tok, TOKENIZER),
      /tok\.safetensors: vocabulary: made with tokenizer sha256:other, this evaluation uses sha256:/,
    );

    const shape = `${dir}/shape.safetensors`;
    await writeAgent(shape, tinyConfig(), {
      edit: (w) => {
        const t = w.get("bert.encoder.layer.0.intermediate.dense.weight")!;
        w.set("bert.encoder.layer.0.intermediate.dense.weight", { shape: [16, 32], data: t.data });
      },
    });
    await assert.rejects(
      () => checkAgentCheckpoint(shape, TOKENIZER),
      /shape\.safetensors: tensor shapes do not match its config: wrong shape 1: bert\.encoder\.layer\.0\.intermediate\.dense\.weight \[16,32\] \(expected \[32,16\]\)/,
    );

    const pos = `${dir}/pos.safetensors`;
    await writeAgent(pos, tinyConfig(undefined, 16), { stateLen: 32 });
    await assert.rejects(
      () => checkAgentCheckpoint(pos, TOKENIZER),
      /pos\.safetensors: config: encoder lengths \(state 32, action 8\) exceed the model's 16 positions/,
    );
  });
});

gpuTest(
  "instantiateAgent(): a checkpoint plays as a model policy in runThompson and in recommend",
  async (gpu) => {
    await withDir(async (dir) => {
      const path = `${dir}/agent.safetensors`;
      await writeAgent(path, tinyConfig());
      const prepared = await prepareAgent(parseAgentSource(`tiny=${path}`), TOKENIZER);
      const agent = instantiateAgent(prepared, gpu, TOKENIZER, { mode: "sample", values: true });
      try {
        assert.ok(agent.policy instanceof ModelPolicy && agent.model !== null);
        assert.equal(agent.label, "tiny");
        const cat = loadSyntheticCatalog({ numProducts: 60, seed: 0 });
        const env = { catalog: new SearchEngine(cat.products), goals: cat.goals, stepLimit: 4 };
        const r = await runThompson(
          [{ label: "oracle", source: "oracle", policy: new OracleAgent() }, { ...agent }],
          { env, runs: 2, rollouts: 6, batch: 3, split: "all" },
        );
        for (const run of r.runs) assert.equal(run.pulls.oracle + run.pulls.tiny, 6);
        const envs = makeEnvs(2, env);
        envs[0].reset(0);
        const d = { env: envs[0], state: envs[0].observation, actions: envs[0].validActions() };
        const [c] = await agent.policy.act([d]);
        assert.ok(Number.isFinite(c.value) && Number.isFinite(c.logp), JSON.stringify(c));
        const rec = await recommend(envs, agent.policy, cat.goals[0].instruction_text, {
          runs: 2,
          k: 3,
        });
        assert.equal(rec.runs, 2);
      } finally {
        agent.destroy();
      }
    });
  },
);
