import assert from "node:assert/strict";
import { ConfigCheck } from "./config_check.ts";
import { validateDpoConfig } from "./dpo.ts";
import { IL_DEFAULTS, validateIlConfig } from "./il.ts";
import { DPO_DEFAULTS } from "./dpo.ts";
import { LOOP_DEFAULTS, validateLoopConfig } from "./loop.ts";
import { PPO_DEFAULTS, validatePpoConfig } from "./ppo.ts";

const fails = (f: () => unknown, line: string) =>
  assert.throws(f, (e: unknown) => e instanceof RangeError && e.message === line);

Deno.test("ConfigCheck names the config, the field, the rule and the value", () => {
  const c = { n: 1.5, x: Number.NaN, y: -1, z: 0, s: "cosine", u: 2 };
  const check = new ConfigCheck("demo config", c);
  fails(() => check.int(0, "n"), "demo config: n must be an integer >= 0, got 1.5");
  fails(() => check.atLeast(0, "x"), "demo config: x must be >= 0, got NaN");
  fails(() => check.atLeast(0, "y"), "demo config: y must be >= 0, got -1");
  fails(() => check.positive("z"), "demo config: z must be positive, got 0");
  const inf = new ConfigCheck("demo config", { w: Infinity });
  fails(() => inf.atLeast(0, "w"), "demo config: w must be >= 0, got Infinity");
  fails(() => inf.positive("w"), "demo config: w must be positive, got Infinity");
  fails(
    () => check.oneOf("s", ["linear", "constant"]),
    "demo config: s must be linear or constant, got cosine",
  );
  fails(() => check.inRange(0, 1, "u"), "demo config: u must be in [0, 1], got 2");
  // Good values pass and chain.
  check.int(1, "u").atLeast(-1, "y").positive("n").inRange(0, 1, "z").oneOf("s", ["cosine"]);
});

Deno.test("every trainer's defaults validate and its optimizer fields are checked alike", () => {
  const cases = [
    ["il config", (o: object) => validateIlConfig({ ...IL_DEFAULTS, ...o })],
    ["dpo config", (o: object) => validateDpoConfig({ ...DPO_DEFAULTS, ...o })],
    ["loop config", (o: object) => validateLoopConfig({ ...LOOP_DEFAULTS, ...o })],
    ["ppo config", (o: object) => validatePpoConfig({ ...PPO_DEFAULTS, ...o })],
  ] as const;
  for (const [where, validate] of cases) {
    validate({});
    fails(() => validate({ lr: 0 }), `${where}: lr must be positive, got 0`);
    fails(() => validate({ weightDecay: -1 }), `${where}: weightDecay must be >= 0, got -1`);
    fails(() => validate({ clip: Number.NaN }), `${where}: clip must be >= 0, got NaN`);
    fails(
      () => validate({ warmupSteps: 0.5 }),
      `${where}: warmupSteps must be an integer >= 0, got 0.5`,
    );
    fails(
      () => validate({ schedule: "cosine" }),
      `${where}: schedule must be linear or constant, got cosine`,
    );
  }
});
