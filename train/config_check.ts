/**
 * Range checks of trainer configs. Each failure is one `RangeError` line naming the config and
 * the field, `<where>: <field> must be …, got <value>`, so a bad flag or config.json says what
 * to fix; every trainer's `validate…Config` is a list of these.
 *
 * @module
 */

/** Checks on the fields of config `c`; each method throws on the first bad field. */
export class ConfigCheck<C extends object> {
  constructor(readonly where: string, readonly c: C) {}

  #value(k: keyof C): unknown {
    return this.c[k];
  }

  #fail(k: keyof C, what: string): never {
    throw new RangeError(`${this.where}: ${String(k)} must be ${what}, got ${this.#value(k)}`);
  }

  /** Integers `>= min`. */
  int(min: number, ...keys: (keyof C)[]): this {
    for (const k of keys) {
      const v = this.#value(k);
      if (!(Number.isInteger(v) && (v as number) >= min)) this.#fail(k, `an integer >= ${min}`);
    }
    return this;
  }

  /** Finite numbers `>= min` (NaN and ±Infinity fail). */
  atLeast(min: number, ...keys: (keyof C)[]): this {
    for (const k of keys) {
      const v = this.#value(k);
      if (!(Number.isFinite(v) && (v as number) >= min)) this.#fail(k, `>= ${min}`);
    }
    return this;
  }

  /** Finite numbers `> 0` (NaN and Infinity fail). */
  positive(...keys: (keyof C)[]): this {
    for (const k of keys) {
      const v = this.#value(k);
      if (!(Number.isFinite(v) && (v as number) > 0)) this.#fail(k, "positive");
    }
    return this;
  }

  /** Numbers in `[lo, hi]`. */
  inRange(lo: number, hi: number, ...keys: (keyof C)[]): this {
    for (const k of keys) {
      const v = this.#value(k) as number;
      if (!(v >= lo && v <= hi)) this.#fail(k, `in [${lo}, ${hi}]`);
    }
    return this;
  }

  /** One of `values`. */
  oneOf(k: keyof C, values: readonly unknown[]): this {
    if (!values.includes(this.#value(k))) this.#fail(k, values.join(" or "));
    return this;
  }
}
