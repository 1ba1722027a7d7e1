/**
 * The Beta distribution as Thompson sampling needs it: seeded draws (through two Gamma draws,
 * Marsaglia–Tsang), the regularized incomplete beta function I_x(a, b) (its continued fraction,
 * evaluated by the modified Lentz method) and its inverse, the exact quantile behind a credible
 * interval.
 *
 *   I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
 *   d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),   d_{2m} = m(b-m) x / ((a+2m-1)(a+2m))
 *
 * The fraction converges fast for x < (a+1)/(a+b+2); above it I_x(a, b) = 1 - I_{1-x}(b, a).
 *
 * @module
 */

/** A generator of uniform floats in [0, 1). */
export type Uniform = () => number;

const LANCZOS = [
  0.99999999999980993,
  676.5203681218851,
  -1259.1392167224028,
  771.32342877765313,
  -176.61502916214059,
  12.507343278686905,
  -0.13857109526572012,
  9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be positive, got ${x}`);
  // Reflection keeps the series accurate near 0.
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0];
  for (let i = 1; i < 9; i++) s += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** ln B(a, b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

function checkShape(fn: string, a: number, b: number): void {
  if (!(a > 0) || !(b > 0) || !Number.isFinite(a) || !Number.isFinite(b)) {
    throw new RangeError(`${fn}: a and b must be positive and finite, got a=${a}, b=${b}`);
  }
}

/** The continued fraction of I_x(a, b) (modified Lentz), for x < (a+1)/(a+b+2). */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - (a + b) * x / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    // Even term.
    let num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    // Odd term.
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) return f;
  }
  throw new Error(`betaFraction: no convergence for x=${x}, a=${a}, b=${b}`);
}

/** The regularized incomplete beta function I_x(a, b), the Beta(a, b) CDF at x. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  checkShape("regularizedIncompleteBeta", a, b);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta: x=${x} not in [0, 1]`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  if (x < (a + 1) / (a + b + 2)) return front * betaFraction(x, a, b) / a;
  return 1 - front * betaFraction(1 - x, b, a) / b;
}

/**
 * The p-quantile of Beta(a, b): the x with I_x(a, b) = p, by Newton steps on the CDF kept inside
 * a shrinking bracket (a bisection step whenever Newton would leave it), to ~1e-14 in x.
 */
export function betaQuantile(p: number, a: number, b: number): number {
  checkShape("betaQuantile", a, b);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`betaQuantile: p=${p} not in [0, 1]`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  let lo = 0, hi = 1;
  let x = a / (a + b);
  const lb = logBeta(a, b);
  for (let i = 0; i < 200; i++) {
    const f = regularizedIncompleteBeta(x, a, b) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    const logPdf = (a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - lb;
    let next = x - f / Math.exp(logPdf);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) < 1e-15 * Math.max(1e-300, x) || hi - lo < 1e-300) return next;
    x = next;
  }
  return x;
}

/** The equal-tailed credible interval of Beta(a, b) with mass `level` (default 0.95). */
export function betaCredible(a: number, b: number, level = 0.95): [number, number] {
  if (!(level > 0 && level < 1)) throw new RangeError(`betaCredible: level ${level} not in (0, 1)`);
  const tail = (1 - level) / 2;
  return [betaQuantile(tail, a, b), betaQuantile(1 - tail, a, b)];
}

/** A standard normal draw (Box–Muller; one of the pair is used). */
export function sampleNormal(rng: Uniform): number {
  const u = 1 - rng(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * A Gamma(shape, 1) draw: Marsaglia and Tsang's squeeze method for shape >= 1 (ACM TOMS 26(3),
 * 2000); for shape < 1 a Gamma(shape + 1) draw times U^(1/shape), as the paper shows.
 */
export function sampleGamma(shape: number, rng: Uniform): number {
  if (!(shape > 0) || !Number.isFinite(shape)) {
    throw new RangeError(`sampleGamma: shape must be positive and finite, got ${shape}`);
  }
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = sampleNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) draw: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, rng: Uniform): number {
  checkShape("sampleBeta", a, b);
  const x = sampleGamma(a, rng), y = sampleGamma(b, rng);
  return x / (x + y);
}
