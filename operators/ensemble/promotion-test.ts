/**
 * The statistical test that decides whether a challenger model replaces a champion: the Diebold-Mariano test of equal
 * predictive accuracy on paired per-outcome losses, one-sided (H1: the challenger's expected loss is lower).
 *
 * - Loss differential d_t = L_champion,t - L_challenger,t (log loss, from scoring.ts's logLoss via model.scores.v1), so
 *   d > 0 favours the challenger.
 * - Variance of the mean by Newey-West with a Bartlett kernel. The horizon-H outcomes of consecutive bars share H - 1
 *   bars of their forward return, so the d_t of an instrument are autocorrelated up to lag H - 1 even for perfect
 *   forecasts: the truncation lag is H - 1 (Diebold and Mariano 1995 use the same lag for H-step forecasts). The Bartlett
 *   weights (1 - k / (lag + 1)) keep the estimate non-negative.
 * - Small samples: by default the Harvey-Leybourne-Newbold (1997) correction, the statistic multiplied by
 *   sqrt((n + 1 - 2h + h (h - 1) / n) / n) with h = lag + 1 and referred to Student's t with n - 1 degrees of freedom.
 *   HLN derived the factor for the rectangular (unweighted) variance; applied to the Bartlett variance it is the same
 *   small-sample shrink, not an exact correction. With `smallSample: 'none'` the plain statistic is referred to the
 *   standard normal.
 *
 * Several instruments give several d per bar time. Their overlap structure is per instrument, and instruments move
 * together, so the test series is the cross-sectional mean of d per bar time (`crossSectionalMeans`): one value per
 * time, autocorrelated up to lag H - 1, cross-sectional correlation absorbed in the mean.
 *
 * Pure functions, no dependency: the distribution functions are implemented here (Lanczos log-gamma, continued
 * fractions of the incomplete gamma and beta functions, Numerical Recipes style), accurate to about 1e-12.
 */

/** Options of the Diebold-Mariano test. */
export interface DieboldMarianoOptions {
  /** Newey-West truncation lag: H - 1 for outcomes over H bars (0: independent outcomes). */
  readonly lag: number;
  /** 'hln' (default): Harvey-Leybourne-Newbold factor and Student t(n - 1); 'none': plain statistic, normal p-value. */
  readonly smallSample?: 'hln' | 'none';
}

/** The result of a promotion test; NaN statistic and p-value when the series is too short to test. */
export interface PromotionTestResult {
  /** Length of the tested series. */
  readonly n: number;
  /** Mean loss differential (champion minus challenger; > 0: challenger better). */
  readonly meanDiff: number;
  /** The (corrected) Diebold-Mariano statistic. */
  readonly statistic: number;
  /** One-sided p-value of H0 "challenger not better" against H1 "challenger better": P(T >= statistic). */
  readonly pValue: number;
}

/** Newey-West (Bartlett kernel) long-run variance of a series around its mean: gamma_0 + 2 sum w_k gamma_k. */
export function neweyWestLongRunVariance(x: ArrayLike<number>, lag: number): number {
  const n = x.length;
  if (n === 0) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) e[i] = x[i]! - mean;
  const gamma = (k: number): number => {
    let s = 0;
    for (let t = k; t < n; t++) s += e[t]! * e[t - k]!;
    return s / n;
  };
  const L = Math.min(Math.max(0, Math.floor(lag)), n - 1);
  let v = gamma(0);
  for (let k = 1; k <= L; k++) v += 2 * (1 - k / (L + 1)) * gamma(k);
  return v;
}

/**
 * The one-sided Diebold-Mariano test on a loss-differential series d (champion minus challenger, in time order):
 * statistic = mean(d) / sqrt(NW(d) / n), HLN-corrected by default; pValue = P(T >= statistic). A series of zero variance
 * gives +-Infinity (or 0 when the mean is 0). Fewer than 2 values, or too few for the HLN factor: NaN statistic and p.
 */
export function dieboldMariano(d: ArrayLike<number>, opts: DieboldMarianoOptions): PromotionTestResult {
  const n = d.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += d[i]!;
  const meanDiff = n > 0 ? sum / n : Number.NaN;
  if (n < 2) return { n, meanDiff, statistic: Number.NaN, pValue: Number.NaN };
  const lrv = neweyWestLongRunVariance(d, opts.lag);
  const raw = lrv > 0 ? meanDiff / Math.sqrt(lrv / n) : meanDiff > 0 ? Infinity : meanDiff < 0 ? -Infinity : 0;
  if ((opts.smallSample ?? 'hln') === 'none') return { n, meanDiff, statistic: raw, pValue: normalSurvival(raw) };
  const h = Math.min(Math.max(0, Math.floor(opts.lag)), n - 1) + 1;
  const shrink = (n + 1 - 2 * h + (h * (h - 1)) / n) / n;
  if (!(shrink > 0)) return { n, meanDiff, statistic: Number.NaN, pValue: Number.NaN };
  const statistic = raw * Math.sqrt(shrink);
  return { n, meanDiff, statistic, pValue: studentTSurvival(statistic, n - 1) };
}

/**
 * Pooled observations (t, d) of several instruments as one time series: the mean d per distinct t, in ascending t.
 * Non-finite d are ignored.
 */
export function crossSectionalMeans(points: Iterable<{ readonly t: number; readonly d: number }>): number[] {
  const byTime = new Map<number, { sum: number; count: number }>();
  for (const p of points) {
    if (!Number.isFinite(p.d)) continue;
    const s = byTime.get(p.t);
    if (s) {
      s.sum += p.d;
      s.count++;
    } else byTime.set(p.t, { sum: p.d, count: 1 });
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s.sum / s.count);
}

// --- distributions -------------------------------------------------------------------------------------------------

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 100_000;

/** Regularized lower incomplete gamma P(a, x), a > 0, x >= 0. */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  if (x === Infinity) return 1;
  if (x < a + 1) {
    // Series: P = e^-x x^a / Gamma(a + 1) * sum x^n / ((a + 1)...(a + n)).
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < MAX_ITER; i++) {
      ap++;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  return 1 - gammaQContinuedFraction(a, x);
}

function gammaQContinuedFraction(a: number, x: number): number {
  // Modified Lentz on the continued fraction of Q(a, x), valid (and fast) for x >= a + 1.
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), computed without cancellation in the tail. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaP(a, x) : gammaQContinuedFraction(a, x);
}

/** P(N >= x) for the standard normal: erfc(x / sqrt 2) / 2, with erfc(z) = Q(1/2, z^2) for z >= 0. */
export function normalSurvival(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const z = x / Math.SQRT2;
  const tail = 0.5 * gammaQ(0.5, z * z); // P(N >= |x|), without cancellation far out in the tail
  return x >= 0 ? tail : 1 - tail;
}

/** Standard normal CDF, P(N <= x). */
export function normalCdf(x: number): number {
  return normalSurvival(-x);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/**
 * ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b). When one argument is large (Student t with many degrees of
 * freedom: a = df / 2, b = 1/2), ln Gamma(big + small) - ln Gamma(big) comes from Stirling's series as a difference, so
 * the two large log-gammas do not cancel (that cancellation costs ~1e-9 relative at df = 1e5).
 */
export function logBeta(a: number, b: number): number {
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < 100) return logGamma(a) + logGamma(b) - logGamma(a + b);
  const x = big;
  const y = big + small;
  const series = (z: number): number => 1 / (12 * z) - 1 / (360 * z ** 3) + 1 / (1260 * z ** 5);
  const diff = small * Math.log(x) + (y - 0.5) * Math.log1p(small / x) - small + series(y) - series(x);
  return logGamma(small) - diff;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  // The continued fraction converges quickly below the mean of the distribution; above it, use the symmetry.
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T >= t) for Student's t with df > 0 degrees of freedom (df = Infinity: the normal). */
export function studentTSurvival(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (df === Infinity) return normalSurvival(t);
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  // P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? tail : 1 - tail;
}

/** Student's t CDF, P(T <= t). */
export function studentTCdf(t: number, df: number): number {
  return studentTSurvival(-t, df);
}
