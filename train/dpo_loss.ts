/**
 * The DPO loss (Rafailov et al. 2023) and its variants as TRL's `DPOTrainer.dpo_loss` defines
 * them, on per-pair log-probabilities, with the gradient with respect to the policy's log-probs.
 *
 * For pair i with policy log-probs πc, πr (chosen, rejected) and reference log-probs ρc, ρr:
 *   h = (πc − πr) − (ρc − ρr)      (the log-ratios, computed once)
 *   sigmoid: −(1−ε)·log σ(βh) − ε·log σ(−βh)            (ε = label smoothing, cDPO)
 *   robust:  (−(1−ε)·log σ(βh) + ε·log σ(−βh)) / (1 − 2ε)  (Chowdhury et al. 2024)
 *   hinge:   max(0, 1 − βh)                                (SLiC)
 *   ipo:     (h − 1/(2β))²                                 (Azar et al. 2023; TRL's IPO on summed log-probs)
 * The loss is the mean over pairs. dL/dπc = g_i/n and dL/dπr = −g_i/n with g_i = dℓ_i/dh.
 * With `rpoAlpha` = α > 0 (TRL's `rpo_alpha`, RPO: Pang et al. 2024) the loss adds α times the
 * chosen actions' negative log-likelihood, α·mean(−πc), logged as `nll_loss`: it keeps DPO from
 * lowering the chosen action's probability along with the rejected one's.
 * Metrics (TRL's names): rewards/chosen = β(πc − ρc), rewards/rejected = β(πr − ρr), their
 * margins and accuracies (chosen reward > rejected reward), logps/chosen and logps/rejected.
 *
 * @module
 */

/** The loss variants, as TRL's `loss_type` names them. */
export type DpoLossType = "sigmoid" | "ipo" | "hinge" | "robust";

/** The loss variants in order. */
export const DPO_LOSS_TYPES: readonly DpoLossType[] = ["sigmoid", "ipo", "hinge", "robust"];

/** Settings of {@linkcode dpoLoss}. */
export interface DpoLossOptions {
  /** β: the strength of the implicit KL constraint (TRL default 0.1). */
  beta: number;
  /** The variant (TRL default "sigmoid"). */
  lossType: DpoLossType;
  /** ε of cDPO and robust DPO, in [0, 0.5) (TRL default 0). */
  labelSmoothing: number;
  /** Weight of the chosen NLL term (TRL's rpo_alpha; 0 or absent: none, TRL's None). */
  rpoAlpha?: number;
}

/** Per-pair log-probabilities of the chosen and rejected actions. */
export interface DpoPairs {
  policyChosen: ArrayLike<number>;
  policyRejected: ArrayLike<number>;
  refChosen: ArrayLike<number>;
  refRejected: ArrayLike<number>;
}

/** What {@linkcode dpoLoss} returns. */
export interface DpoLossResult {
  /** Mean loss over pairs. */
  loss: number;
  /** dLoss/dπc per pair (includes the 1/n of the mean). */
  dChosen: Float64Array;
  /** dLoss/dπr per pair. */
  dRejected: Float64Array;
  /** TRL's metric names, means over pairs. */
  metrics: Record<string, number>;
}

/** log σ(x), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** σ(x), stable for large |x|. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Throws naming the field unless `o` is usable. */
export function validateDpoLossOptions(o: DpoLossOptions, where = "dpo"): void {
  if (!DPO_LOSS_TYPES.includes(o.lossType)) {
    throw new RangeError(
      `${where}: lossType must be one of ${DPO_LOSS_TYPES.join(", ")}, got "${o.lossType}"`,
    );
  }
  if (!(o.beta > 0) || !Number.isFinite(o.beta)) {
    throw new RangeError(`${where}: beta must be positive, got ${o.beta}`);
  }
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 0.5)) {
    throw new RangeError(`${where}: labelSmoothing must be in [0, 0.5), got ${o.labelSmoothing}`);
  }
  const a = o.rpoAlpha ?? 0;
  if (!(a >= 0) || !Number.isFinite(a)) {
    throw new RangeError(`${where}: rpoAlpha must be >= 0, got ${o.rpoAlpha}`);
  }
  if (o.labelSmoothing > 0 && (o.lossType === "ipo" || o.lossType === "hinge")) {
    throw new RangeError(
      `${where}: labelSmoothing applies to sigmoid and robust only, not ${o.lossType}`,
    );
  }
}

/**
 * The DPO loss of `pairs` with its gradient w.r.t. the policy log-probs and TRL's metrics.
 *
 * @example
 * ```ts
 * const r = dpoLoss({ policyChosen: [-1], policyRejected: [-2], refChosen: [-1], refRejected: [-2] },
 *   { beta: 0.1, lossType: "sigmoid", labelSmoothing: 0 });
 * r.loss; // ln 2: the policy equals the reference
 * ```
 */
export function dpoLoss(pairs: DpoPairs, o: DpoLossOptions): DpoLossResult {
  validateDpoLossOptions(o);
  const n = pairs.policyChosen.length;
  for (const k of ["policyRejected", "refChosen", "refRejected"] as const) {
    if (pairs[k].length !== n) {
      throw new RangeError(`dpoLoss: ${k} has ${pairs[k].length} values, policyChosen ${n}`);
    }
  }
  if (n === 0) throw new RangeError("dpoLoss: no pairs");
  const { beta: b, labelSmoothing: e } = o, alpha = o.rpoAlpha ?? 0;
  const dChosen = new Float64Array(n), dRejected = new Float64Array(n);
  let loss = 0, rc = 0, rr = 0, acc = 0, lc = 0, lr = 0;
  for (let i = 0; i < n; i++) {
    const pc = pairs.policyChosen[i], pr = pairs.policyRejected[i];
    const qc = pairs.refChosen[i], qr = pairs.refRejected[i];
    for (
      const [k, v] of [["policyChosen", pc], ["policyRejected", pr], ["refChosen", qc], [
        "refRejected",
        qr,
      ]] as const
    ) {
      if (!Number.isFinite(v)) throw new RangeError(`dpoLoss: ${k}[${i}] is ${v}`);
    }
    const h = (pc - pr) - (qc - qr);
    let l: number, g: number; // loss of the pair and dl/dh
    switch (o.lossType) {
      case "sigmoid":
        l = -(1 - e) * logSigmoid(b * h) - e * logSigmoid(-b * h);
        g = -(1 - e) * b * sigmoid(-b * h) + e * b * sigmoid(b * h);
        break;
      case "robust":
        l = (-(1 - e) * logSigmoid(b * h) + e * logSigmoid(-b * h)) / (1 - 2 * e);
        g = (-(1 - e) * b * sigmoid(-b * h) - e * b * sigmoid(b * h)) / (1 - 2 * e);
        break;
      case "hinge":
        l = Math.max(0, 1 - b * h);
        g = 1 - b * h > 0 ? -b : 0;
        break;
      case "ipo":
        l = (h - 1 / (2 * b)) ** 2;
        g = 2 * (h - 1 / (2 * b));
        break;
    }
    loss += l - alpha * pc;
    dChosen[i] = (g - alpha) / n;
    dRejected[i] = -g / n;
    const cr = b * (pc - qc), rj = b * (pr - qr);
    rc += cr;
    rr += rj;
    if (cr > rj) acc++;
    lc += pc;
    lr += pr;
  }
  return {
    loss: loss / n,
    dChosen,
    dRejected,
    metrics: {
      "rewards/chosen": rc / n,
      "rewards/rejected": rr / n,
      "rewards/accuracies": acc / n,
      "rewards/margins": (rc - rr) / n,
      "logps/chosen": lc / n,
      "logps/rejected": lr / n,
      ...(alpha > 0 ? { nll_loss: -lc / n } : {}),
    },
  };
}
