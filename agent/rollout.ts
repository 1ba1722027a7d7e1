/**
 * Vectorised rollouts: N WebShop envs (sharing one catalog and search index) play a queue of
 * goals; at each step the decisions of every live episode go to the policy together (one model
 * submit), then every env steps. Returns one trajectory per goal, in the order of the goals.
 * Several policies can share the envs ({@linkcode rolloutEpisodes}): each then decides for its
 * own episodes, one submit per policy per step.
 *
 * @module
 */

import { SearchEngine } from "../env/search.ts";
import type { RewardInfo } from "../env/reward.ts";
import type { ChosenOptions, Goal, Product } from "../env/types.ts";
import { type WebShopEnv, WebShopEnv as Env, type WebShopEnvConfig } from "../env/webshop_env.ts";
import type { AgentPolicy, Choice, Decision } from "./policy.ts";

/** One step of a trajectory. */
export interface TrajectoryStep {
  /** The observation the policy saw. */
  state: string;
  /** The valid actions it chose from. */
  actions: string[];
  /** Index of the chosen action in `actions` (-1: an action outside the list). */
  index: number;
  /** The action taken. */
  action: string;
  /** The same in the env's own form (products by ASIN), as il_trajs' `actions` record it. */
  envAction: string;
  /** Log-prob of the choice under the model that chose (null for random / oracle). */
  logp: number | null;
  /** Value estimate of the state, when the policy computed values. */
  value: number | null;
  /** Entropy of the model's distribution over the actions (temperature 1; null without a model). */
  entropy: number | null;
  /** Reward of this step (WebShop pays only on the purchase). */
  reward: number;
  /** The page the state showed. */
  page: string;
}

/** One finished episode. */
export interface Trajectory {
  goalIndex: number;
  steps: TrajectoryStep[];
  /** Final reward in [0, 1]. */
  reward: number;
  /** Whether Buy Now was clicked. */
  bought: boolean;
  /** Whether the step limit ended it. */
  truncated: boolean;
  rewardInfo?: RewardInfo;
  /** What was bought (the product's ASIN and the options chosen), when Buy Now was clicked. */
  purchase?: { asin: string; options: ChosenOptions };
}

/** −Σ p log p of log-probabilities. */
export function entropyOf(logps: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < logps.length; i++) h -= Math.exp(logps[i]) * logps[i];
  return h;
}

/** N envs over one shared search index. */
export function makeEnvs(
  n: number,
  config: Omit<WebShopEnvConfig, "catalog"> & { catalog: readonly Product[] | SearchEngine },
): WebShopEnv[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`makeEnvs: n must be >= 1, got ${n}`);
  const engine = config.catalog instanceof SearchEngine
    ? config.catalog
    : new SearchEngine(config.catalog);
  return Array.from(
    { length: n },
    (_, i) => new Env({ ...config, catalog: engine, seed: (config.seed ?? 0) * 1000 + i }),
  );
}

/** Options of {@linkcode rollout} and {@linkcode rolloutEpisodes}. */
export interface RolloutOptions {
  /** Called after each finished episode with the count done so far. */
  onEpisode?: (t: Trajectory, done: number, total: number) => void;
}

/** One episode to play: its policy and its goal (an index into the envs' goals, or a custom one). */
export interface EpisodeJob {
  policy: AgentPolicy;
  goal: number | Goal;
}

/**
 * Plays `goals` (indices into the envs' goals) with `policy` on `envs`, as many at once as there
 * are envs. The episode on goal k runs on whichever env is free, so results depend on the env
 * count only through the envs' own random draws (search ties, action-list cuts).
 */
export function rollout(
  envs: readonly WebShopEnv[],
  policy: AgentPolicy,
  goals: readonly number[],
  opts: RolloutOptions = {},
): Promise<Trajectory[]> {
  return rolloutEpisodes(envs, goals.map((goal) => ({ policy, goal })), opts);
}

/**
 * Plays `jobs`, each with its own policy, on `envs`, as many at once as there are envs (in the
 * order of the jobs as envs free up). At each step the live episodes are grouped by policy and
 * each policy decides for all of its episodes in one `act()` (one model submit); the policies'
 * calls run concurrently, so several models' submits are in flight together. Returns one
 * trajectory per job, in the order of the jobs.
 */
export async function rolloutEpisodes(
  envs: readonly WebShopEnv[],
  jobs: readonly EpisodeJob[],
  opts: RolloutOptions = {},
): Promise<Trajectory[]> {
  if (envs.length === 0) throw new RangeError("rollout: no envs");
  const out: Trajectory[] = new Array(jobs.length);
  const live: {
    env: WebShopEnv;
    slot: number;
    policy: AgentPolicy;
    t: Trajectory;
    state: string;
  }[] = [];
  let next = 0, done = 0;
  const start = (env: WebShopEnv) => {
    const slot = next++;
    const { policy, goal } = jobs[slot];
    const { observation } = env.reset(goal);
    policy.reset(env);
    live.push({
      env,
      slot,
      policy,
      state: observation,
      t: { goalIndex: env.goalIndex, steps: [], reward: 0, bought: false, truncated: false },
    });
  };
  for (const env of envs) if (next < jobs.length) start(env);
  while (live.length > 0) {
    const decisions: Decision[] = live.map((l) => ({
      env: l.env,
      state: l.state,
      actions: l.env.validActions(),
    }));
    const pages = live.map((l) => l.env.page.kind);
    const choices = await actGrouped(live.map((l) => l.policy), decisions);
    const finished: number[] = [];
    live.forEach((l, i) => {
      const c = choices[i], d = decisions[i];
      const envAction = l.env.resolveAction(c.action);
      const r = l.env.step(c.action);
      l.t.steps.push({
        state: d.state,
        actions: [...d.actions],
        index: c.index,
        action: c.action,
        envAction,
        logp: c.logp,
        value: c.value,
        entropy: c.logps ? entropyOf(c.logps) : null,
        reward: r.reward,
        page: pages[i],
      });
      l.state = r.observation;
      if (r.done) {
        l.t.reward = r.reward;
        l.t.rewardInfo = r.info.rewardInfo;
        // Buy Now leads to the done page (a free-text goal's purchase has no reward breakdown).
        const page = l.env.page;
        l.t.bought = page.kind === "done";
        if (page.kind === "done") {
          l.t.purchase = { asin: page.product.asin, options: { ...l.env.chosenOptions } };
        }
        l.t.truncated = !!r.info.truncated;
        finished.push(i);
      }
    });
    for (const i of finished.reverse()) {
      const l = live[i];
      out[l.slot] = l.t;
      done++;
      opts.onEpisode?.(l.t, done, jobs.length);
      live.splice(i, 1);
      if (next < jobs.length) start(l.env);
    }
  }
  return out;
}

/**
 * The choices of `policies[i]` for `decisions[i]`: one `act()` per distinct policy over its
 * decisions (in order). Policies on different models are called together, so their submits are
 * in flight at once; policies sharing a model (its buffers hold one batch) take turns.
 */
export async function actGrouped(
  policies: readonly AgentPolicy[],
  decisions: readonly Decision[],
): Promise<Choice[]> {
  const groups = new Map<AgentPolicy, number[]>();
  policies.forEach((p, i) => {
    const g = groups.get(p);
    if (g) g.push(i);
    else groups.set(p, [i]);
  });
  const out: Choice[] = new Array(decisions.length);
  const lanes = new Map<unknown, Promise<void>>();
  for (const [p, idx] of groups) {
    const key = (p as { model?: unknown }).model ?? p;
    const run = async () => {
      const cs = await p.act(idx.map((i) => decisions[i]));
      if (cs.length !== idx.length) {
        throw new Error(`policy ${p.name}: ${cs.length} choices for ${idx.length} decisions`);
      }
      idx.forEach((i, j) => out[i] = cs[j]);
    };
    const prev = lanes.get(key);
    lanes.set(key, prev ? prev.then(run) : run());
  }
  await Promise.all(lanes.values());
  return out;
}
