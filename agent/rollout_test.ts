import assert from "node:assert/strict";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { type AgentPolicy, type Choice, type Decision, RandomAgent } from "./policy.ts";
import { actGrouped, makeEnvs, rolloutEpisodes } from "./rollout.ts";

const CAT = loadSyntheticCatalog({ numProducts: 120, seed: 0 });
const ENV = { catalog: new SearchEngine(CAT.products), goals: CAT.goals, stepLimit: 8 };

/** act() calls in flight at once, over every policy. */
const ALL = { inFlight: 0, max: 0 };

/** The random agent, counting its act() calls and decisions, optionally slow and on a "model". */
class Counting implements AgentPolicy {
  readonly inner: RandomAgent;
  calls = 0;
  decisions = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    readonly name: string,
    seed: number,
    readonly model?: { inFlight: number; max: number },
  ) {
    this.inner = new RandomAgent(seed);
  }
  reset(env: WebShopEnv): void {
    this.inner.reset(env);
  }
  async act(ds: readonly Decision[]): Promise<Choice[]> {
    this.calls++;
    this.decisions += ds.length;
    if (this.model) this.model.max = Math.max(this.model.max, ++this.model.inFlight);
    ALL.max = Math.max(ALL.max, ++ALL.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    if (this.model) this.model.inFlight--;
    ALL.inFlight--;
    return this.inner.act(ds);
  }
}

Deno.test("rolloutEpisodes(): each policy decides once per step for all its live episodes", async () => {
  const a = new Counting("a", 1), b = new Counting("b", 2);
  const jobs = [0, 1, 2, 3, 4, 5].map((g) => ({ policy: g % 2 ? b : a, goal: g }));
  const trajs = await rolloutEpisodes(makeEnvs(6, ENV), jobs);
  assert.deepEqual(trajs.map((t) => t.goalIndex), [0, 1, 2, 3, 4, 5]);
  const steps = (p: Counting) =>
    trajs.filter((_, i) => jobs[i].policy === p).map((t) => t.steps.length);
  // All episodes start together: a policy acts once per step while any of its episodes lives.
  assert.equal(a.calls, Math.max(...steps(a)));
  assert.equal(b.calls, Math.max(...steps(b)));
  assert.equal(a.decisions, steps(a).reduce((x, y) => x + y, 0));
  for (const t of trajs) assert.equal(t.bought, t.purchase !== undefined);
});

Deno.test("actGrouped(): policies on one model take turns; on different models they overlap", async () => {
  const shared = { inFlight: 0, max: 0 };
  const p = new Counting("p", 1, shared), q = new Counting("q", 2, shared);
  const envs = makeEnvs(2, ENV);
  envs.forEach((e, i) => e.reset(i));
  const ds = envs.map((env) => ({ env, state: env.observation, actions: env.validActions() }));
  await actGrouped([p, q], ds);
  assert.equal(shared.max, 1);
  const m1 = { inFlight: 0, max: 0 };
  const r = new Counting("r", 3, m1), s = new Counting("s", 4, m1);
  const other = { inFlight: 0, max: 0 };
  const t = new Counting("t", 5, other);
  ALL.max = 0;
  const out = await actGrouped([r, t, s], [ds[0], ds[1], ds[0]]);
  assert.equal(out.length, 3);
  assert.deepEqual([r.calls, s.calls, t.calls], [1, 1, 1]);
  assert.equal(m1.max, 1);
  assert.equal(ALL.max, 2, "r (or s) and t were in flight together");
});
