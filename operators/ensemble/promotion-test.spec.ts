import { describe, expect, it } from 'vitest';
import {
  crossSectionalMeans,
  dieboldMariano,
  gammaP,
  incompleteBeta,
  logBeta,
  logGamma,
  neweyWestLongRunVariance,
  normalCdf,
  normalSurvival,
  studentTCdf,
  studentTSurvival,
} from './promotion-test.ts';

/**
 * A fixed loss-differential series: 0.05 + AR(1) noise (phi 0.6, sigma 0.2), numpy default_rng(20250101), rounded to
 * 6 decimals. The expected values below come from /usr/bin/python3 with numpy and scipy:
 *   nw(x, L) = g(0) + 2 sum_{k=1..L} (1 - k/(L+1)) g(k),  g(k) = sum(e[k:] * e[:n-k]) / n,  e = x - mean(x)
 *   raw = mean / sqrt(nw / n);  hln = raw * sqrt((n + 1 - 2h + h(h-1)/n) / n), h = L + 1
 *   p = scipy.stats.norm.sf(raw) (plain) or scipy.stats.t.sf(hln, n - 1) (HLN)
 */
const SERIES = [
  0.313934, -0.289305, -0.154451, -0.049911, -0.022603, 0.258207, 0.360155, 0.278925, 0.336987, 0.319601, 0.27404,
  0.247084, 0.264149, 0.179145, -0.005966, -0.100608, -0.048165, -0.030656, -0.036132, 0.112948, 0.238352, 0.017356,
  0.498715, 0.258555, 0.554637, 0.370975, 0.236073, -0.175261, -0.060164, -0.118935, 0.127568, 0.025633, -0.193311,
  -0.215038, -0.19314, 0.120835, 0.25947, -0.00067, -0.018493, 0.005314, 0.226466, 0.44442, 0.371318, 0.599209,
  0.310434, 0.044126, -0.021947, 0.219248, -0.036247, -0.172379, -0.2102, 0.027511, -0.142894, -0.097462, -0.060958,
  0.296969, 0.240688, -0.021947, -0.186359, -0.272771,
];
const MEAN = 0.0917179;
// [lag, long-run variance, plain statistic, normal p, HLN statistic, t(n-1) p]
const EXPECTED: readonly [number, number, number, number, number, number][] = [
  [0, 0.047666176331789996, 3.2540526090940514, 0.0005688560411823133, 3.2268215645904466, 0.0010221539376184933],
  [4, 0.10707481579662267, 2.1711311564428573, 0.014960629740453358, 2.008214819138633, 0.02460271083301538],
  [14, 0.054257007735054444, 3.0500138272049817, 0.0011441541537720212, 2.3127874954330343, 0.01212021367418528],
];

describe('Diebold-Mariano promotion test', () => {
  it('matches a hand computation on a four-value series', () => {
    // d = 1, 2, 3, 4: mean 2.5, e = -1.5, -0.5, 0.5, 1.5, gamma0 = 5/4, gamma1 = (0.75 - 0.25 + 0.75)/4 = 5/16.
    expect(neweyWestLongRunVariance([1, 2, 3, 4], 0)).toBeCloseTo(1.25, 15);
    // lag 1: 5/4 + 2 * (1 - 1/2) * 5/16 = 25/16
    expect(neweyWestLongRunVariance([1, 2, 3, 4], 1)).toBeCloseTo(1.5625, 15);
    const plain0 = dieboldMariano([1, 2, 3, 4], { lag: 0, smallSample: 'none' });
    expect(plain0.n).toBe(4);
    expect(plain0.meanDiff).toBe(2.5);
    expect(plain0.statistic).toBeCloseTo(Math.sqrt(20), 12); // 2.5 / sqrt(1.25 / 4)
    const plain1 = dieboldMariano([1, 2, 3, 4], { lag: 1, smallSample: 'none' });
    expect(plain1.statistic).toBeCloseTo(4, 12); // 2.5 / sqrt(1.5625 / 4) = 2.5 / 0.625
    expect(plain1.pValue).toBeCloseTo(3.167124183311986e-5, 15); // scipy.stats.norm.sf(4)
    // HLN with h = 2, n = 4: 4 * sqrt((4 + 1 - 4 + 2/4) / 4) = 4 * sqrt(0.375), referred to t(3)
    const hln = dieboldMariano([1, 2, 3, 4], { lag: 1 });
    expect(hln.statistic).toBeCloseTo(4 * Math.sqrt(0.375), 12);
  });

  it('matches numpy/scipy on a fixed autocorrelated series, for lags 0, 4 and 14 (H - 1 for H = 15)', () => {
    for (const [lag, lrv, raw, pNormal, hlnStat, pT] of EXPECTED) {
      expect(neweyWestLongRunVariance(SERIES, lag)).toBeCloseTo(lrv, 13);
      const plain = dieboldMariano(SERIES, { lag, smallSample: 'none' });
      expect(plain.n).toBe(60);
      expect(plain.meanDiff).toBeCloseTo(MEAN, 14);
      expect(plain.statistic).toBeCloseTo(raw, 11);
      expect(plain.pValue).toBeCloseTo(pNormal, 12);
      const corrected = dieboldMariano(SERIES, { lag });
      expect(corrected.statistic).toBeCloseTo(hlnStat, 11);
      expect(corrected.pValue).toBeCloseTo(pT, 12);
    }
  });

  it('ignores the autocorrelation at lag 0 and sees it at the overlap lag', () => {
    // Positive autocorrelation makes the naive variance too small: the statistic shrinks once lags are counted.
    expect(dieboldMariano(SERIES, { lag: 4, smallSample: 'none' }).statistic).toBeLessThan(dieboldMariano(SERIES, { lag: 0, smallSample: 'none' }).statistic);
  });

  it('is one-sided: a worse challenger gets a p-value near 1, a symmetric series 0.5', () => {
    const worse = dieboldMariano(SERIES.map((x) => -x), { lag: 14 });
    expect(worse.meanDiff).toBeCloseTo(-MEAN, 14);
    expect(worse.statistic).toBeCloseTo(-EXPECTED[2]![4], 11);
    expect(worse.pValue).toBeCloseTo(1 - EXPECTED[2]![5], 12);
    const symmetric = dieboldMariano([1, -1, 2, -2, 0.5, -0.5], { lag: 1 });
    expect(symmetric.meanDiff).toBe(0);
    expect(symmetric.pValue).toBeCloseTo(0.5, 15);
  });

  it('handles degenerate series', () => {
    expect(dieboldMariano([], { lag: 0 }).pValue).toBeNaN();
    expect(dieboldMariano([0.3], { lag: 0 }).statistic).toBeNaN();
    // identical losses: no difference at all, p = 1/2
    const same = dieboldMariano(new Array(50).fill(0), { lag: 14 });
    expect(same).toEqual({ n: 50, meanDiff: 0, statistic: 0, pValue: 0.5 });
    // too short for the HLN factor (n + 1 - 2h + h(h-1)/n <= 0 with h = 15)
    expect(dieboldMariano([1, 2, 3, 4, 5], { lag: 14 }).pValue).toBeNaN();
  });

  it('averages pooled instruments per bar time, in time order, skipping non-finite values', () => {
    const series = crossSectionalMeans([
      { t: 120, d: 1 },
      { t: 60, d: 2 },
      { t: 120, d: 3 },
      { t: 60, d: Number.NaN },
      { t: 180, d: -1 },
    ]);
    expect(series).toEqual([2, 2, -1]);
  });
});

describe('distribution functions', () => {
  it('log-gamma and the incomplete gamma and beta functions', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(gammaP(1, 2)).toBeCloseTo(1 - Math.exp(-2), 14); // exponential CDF
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14); // uniform
    expect(incompleteBeta(0.3, 2, 1)).toBeCloseTo(0.09, 14); // x^2
    // the Stirling difference for a large argument agrees with the plain sum where both are accurate
    expect(logBeta(150, 0.5)).toBeCloseTo(logGamma(150) + logGamma(0.5) - logGamma(150.5), 11);
    expect(logBeta(0.5, 5e4)).toBeCloseTo(-4.8375216992804415, 13); // mpmath log(beta(0.5, 50000)), 30 digits
  });

  it('normal distribution against scipy.stats.norm', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalCdf(-3.1)).toBeCloseTo(0.0009676032132183563, 15);
    expect(normalSurvival(5) / 2.866515718791933e-7).toBeCloseTo(1, 10);
    expect(normalSurvival(Infinity)).toBe(0);
    expect(normalCdf(-Infinity)).toBe(0);
  });

  it('Student t against closed forms and scipy.stats.t', () => {
    // df = 1 (Cauchy): F(t) = 1/2 + atan(t)/pi; df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    for (const t of [-3, -0.4, 0, 1, 2.5]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
    }
    expect(studentTCdf(2.228138851986273, 10)).toBeCloseTo(0.975, 13);
    expect(studentTSurvival(2.5, 7)).toBeCloseTo(0.020496109292876437, 14);
    expect(studentTCdf(-1.3, 3.5)).toBeCloseTo(0.13629770790218498, 13);
    expect(studentTSurvival(1.7, 1e5)).toBeCloseTo(0.04456701762434755, 12);
    expect(studentTSurvival(Infinity, 5)).toBe(0);
    expect(studentTSurvival(-Infinity, 5)).toBe(1);
  });
});
