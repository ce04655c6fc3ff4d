/**
 * The label and the scores of class probabilities, defined once for TypeScript: the dataset export writes the label
 * column with `labelOf`, and the live scoring (outcomes, governance, supervisor) and `qt evaluate` score votes with
 * these functions. Classes are indexed DOWN = 0, FLAT = 1, UP = 2 (the order of every model's probability columns).
 */

/** A class index: DOWN = 0, FLAT = 1, UP = 2. */
export type ClassIndex = 0 | 1 | 2;
/** Class names by index. */
export const CLASS_NAMES = ['DOWN', 'FLAT', 'UP'] as const;

/** The label definition every shipped model is trained on (the card's `label`). */
export interface LabelSpec {
  readonly kind: 'fwd-logret-vol-band';
  /** H: the forward return spans this many bars. */
  readonly horizonBars: number;
  /** Neutral band = k * vol * sqrt(H). */
  readonly k: number;
  /** The feature whose value at t is the 1-bar volatility of the band. */
  readonly volFeature: 'rvol_30';
}

/** The default label: 15 bars ahead, band 0.5 * rvol_30 * sqrt(15). */
export const DEFAULT_LABEL: LabelSpec = Object.freeze({ kind: 'fwd-logret-vol-band', horizonBars: 15, k: 0.5, volFeature: 'rvol_30' });

/**
 * The label of a forward log return r = log(close[t+H] / close[t]) given the 1-bar volatility at t: UP if r > band,
 * DOWN if r < -band, FLAT otherwise, with band = k * vol * sqrt(H). The band scales with each symbol's own recent
 * volatility, so the classes mean the same in calm and wild markets.
 */
export function labelOf(fwdRet: number, vol: number, spec: Pick<LabelSpec, 'horizonBars' | 'k'>): ClassIndex {
  const band = spec.k * vol * Math.sqrt(spec.horizonBars);
  return fwdRet > band ? 2 : fwdRet < -band ? 0 : 1;
}

/** Probabilities are clipped to this before the log, so one confident miss costs at most -ln(1e-7) ≈ 16.1. */
export const LOG_LOSS_EPS = 1e-7;

/** -ln p(label), p clipped to [LOG_LOSS_EPS, 1]. */
export function logLoss(pDown: number, pFlat: number, pUp: number, label: ClassIndex): number {
  const p = label === 0 ? pDown : label === 1 ? pFlat : pUp;
  return -Math.log(Math.min(1, Math.max(LOG_LOSS_EPS, p)));
}

/** Multi-class Brier score: sum over classes of (p - onehot)^2, 0..2. */
export function brier(pDown: number, pFlat: number, pUp: number, label: ClassIndex): number {
  const d = pDown - (label === 0 ? 1 : 0);
  const f = pFlat - (label === 1 ? 1 : 0);
  const u = pUp - (label === 2 ? 1 : 0);
  return d * d + f * f + u * u;
}

/**
 * The predicted class by the soft vote's rule: UP when P(UP) is strictly the largest, DOWN when P(DOWN) is, FLAT
 * otherwise (FLAT largest, or a tie at the top).
 */
export function predictedClass(pDown: number, pFlat: number, pUp: number): ClassIndex {
  return pUp > pDown && pUp > pFlat ? 2 : pDown > pUp && pDown > pFlat ? 0 : 1;
}

/**
 * Expected calibration error, top label, `bins` equal-width bins over [0, 1] (as the Python trainer's
 * `expected_calibration_error`): the mean over rows of |accuracy - confidence| of each row's bin, weighted by bin size.
 * `probs` is rows x 3 row-major; NaN for no rows.
 */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 15): number {
  const n = labels.length;
  if (n === 0) return Number.NaN;
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const d = probs[i * 3]!;
    const f = probs[i * 3 + 1]!;
    const u = probs[i * 3 + 2]!;
    // Top label by the highest probability (first index wins ties, like numpy's argmax).
    const top = d >= f && d >= u ? 0 : f >= u ? 1 : 2;
    const c = top === 0 ? d : top === 1 ? f : u;
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]!++;
    conf[b]! += c;
    if (top === labels[i]) hits[b]!++;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) e += Math.abs(hits[b]! - conf[b]!) / n;
  return e;
}
