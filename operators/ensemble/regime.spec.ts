import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Regime } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { FEATURE_NAMES, FEATURE_SET, featureIndex } from '../features/feature-set.ts';
import { emaGapNoise, REGIME_DEFAULTS, RegimeConfigError, regimeConfig, RegimeDetector, regimes } from './regime.ts';

const MIN = 60_000;

function vec(i: number, rvol: number, emaRatio: number, symbol = 'BTC/USDT'): FeatureVector {
  const values = FEATURE_NAMES.map(() => 0);
  values[featureIndex('rvol_30')] = rvol;
  values[featureIndex('ema_ratio_12_26')] = emaRatio;
  return {
    id: `${symbol}-${i}`,
    tsEvent: i * MIN + MIN,
    tsInit: 0,
    exchange: 'binance',
    symbol,
    barId: `b${i}`,
    openTime: i * MIN,
    close: 100,
    featureSet: FEATURE_SET,
    values,
    windowLength: 0,
    windowChannels: 0,
    window: [],
  };
}

describe('emaGapNoise', () => {
  it('is the noise of EMA12/EMA26 - 1 per unit of 1-bar volatility of a random walk', () => {
    let sum = 0;
    for (let j = 0; j < 5000; j++) sum += ((1 - 2 / 13) ** (j + 1) - (1 - 2 / 27) ** (j + 1)) ** 2;
    expect(emaGapNoise(12, 26)).toBeCloseTo(Math.sqrt(sum), 12);
    expect(emaGapNoise(12, 26)).toBeCloseTo(1.1374, 4);
    expect(REGIME_DEFAULTS.trendScale).toBe(emaGapNoise(12, 26));
  });
});

describe('RegimeDetector: volatility', () => {
  // A flat trend statistic; the trend stays RANGE throughout.
  const run = (d: RegimeDetector, rvols: readonly number[], from: number) => rvols.map((r, i) => d.observe(vec(from + i, r, 0)).volatility);

  it('is NORMAL during the warm-up, then judges rvol against the slow EWMA with hysteresis', () => {
    const d = new RegimeDetector({ volWarmupBars: 100, volMinDwellBars: 0 });
    expect(new Set(run(d, Array.from({ length: 100 }, (_, i) => (i % 2 ? 2 : 0.5)), 0))).toEqual(new Set(['NORMAL']));
    const d2 = new RegimeDetector({ volWarmupBars: 3, volMinDwellBars: 0 });
    run(d2, Array.from({ length: 100 }, () => 1), 0); // baseline ≈ 1
    // 1.3: below 1.5; 1.6: HIGH; 1.3: still above the exit 1.2; 1.15: NORMAL; 0.75: above 0.7; 0.65: LOW;
    // 0.8: not above the exit 0.85; 0.9: NORMAL; 1.6: HIGH.
    expect(run(d2, [1.3, 1.6, 1.3, 1.15, 0.75, 0.65, 0.8, 0.9, 1.6], 100)).toEqual(['NORMAL', 'HIGH', 'HIGH', 'NORMAL', 'NORMAL', 'LOW', 'LOW', 'NORMAL', 'HIGH']);
  });

  it('holds a volatility regime for its minimum dwell', () => {
    const d = new RegimeDetector({ volWarmupBars: 3, volMinDwellBars: 3 });
    run(d, Array.from({ length: 100 }, () => 1), 0);
    expect(run(d, [2, 1, 1, 1, 1], 100)).toEqual(['HIGH', 'HIGH', 'HIGH', 'NORMAL', 'NORMAL']);
  });

  it('follows a lasting change of level: the baseline catches up', () => {
    const d = new RegimeDetector({ volWarmupBars: 3, volHalfLifeBars: 20 });
    run(d, Array.from({ length: 100 }, () => 1), 0);
    const after = run(d, Array.from({ length: 200 }, () => 3), 100);
    expect(after[0]).toBe('HIGH');
    expect(after[199]).toBe('NORMAL');
  });
});

describe('RegimeDetector: trend', () => {
  // trendScale 1 and rvol 0.001: z = emaRatio / 0.001.
  const cfg = { trendScale: 1, trendMinDwellBars: 0 };
  const run = (d: RegimeDetector, zs: readonly number[], from = 0) => zs.map((z, i) => d.observe(vec(from + i, 0.001, z * 0.001)).trend);

  it('enters at ±trendEnter, leaves below trendExit, and reverses only at the opposite threshold', () => {
    const d = new RegimeDetector(cfg);
    expect(run(d, [0.5, 1.3, 0.6, 0.4, -1.3, -0.6, 1.3, -1.0, -1.26])).toEqual(['RANGE', 'UP', 'UP', 'RANGE', 'DOWN', 'DOWN', 'UP', 'RANGE', 'DOWN']);
  });

  it('measures the EMA gap in units of volatility: the same gap is a trend in a calm market, not in a wild one', () => {
    const d = new RegimeDetector();
    const z = 0.002 / (0.001 * emaGapNoise(12, 26)); // 1.76
    expect(z).toBeGreaterThan(REGIME_DEFAULTS.trendEnter);
    expect(d.observe(vec(0, 0.001, 0.002)).trend).toBe('UP');
    expect(d.observe(vec(0, 0.004, 0.002, 'ETH/USDT')).trend).toBe('RANGE');
  });

  it('holds a trend regime for its minimum dwell', () => {
    const d = new RegimeDetector({ ...cfg, trendMinDwellBars: 3 });
    expect(run(d, [1.3, -2, -2, -2, -2, 0, 0, 0])).toEqual(['UP', 'UP', 'UP', 'DOWN', 'DOWN', 'DOWN', 'RANGE', 'RANGE']);
  });

  it('ignores a redelivered or out-of-order vector and one without a usable volatility', () => {
    const d = new RegimeDetector(cfg);
    expect(d.observe(vec(5, 0.001, 0.0015)).trend).toBe('UP');
    expect(d.observe(vec(5, 0.001, -0.002)).trend).toBe('UP');
    expect(d.observe(vec(4, 0.001, -0.002)).trend).toBe('UP');
    expect(d.observe(vec(6, 0, -0.002)).trend).toBe('UP');
    expect(d.observe(vec(7, Number.NaN, -0.002)).trend).toBe('UP');
    expect(d.observe(vec(8, 0.001, Number.POSITIVE_INFINITY)).trend).toBe('UP');
    expect(d.observe(vec(9, 0.001, -0.002)).trend).toBe('DOWN');
  });
});

describe('RegimeDetector: market-wide', () => {
  const cfg = { trendScale: 1, trendMinDwellBars: 0 };
  const z = (x: number) => x * 0.001;

  it('is the most common regime among the instruments, a tie giving RANGE / NORMAL', () => {
    const d = new RegimeDetector(cfg);
    const a = d.observe(vec(0, 0.001, z(2), 'A'));
    expect([a.trend, a.marketTrend]).toEqual(['UP', 'UP']);
    // A UP, B DOWN: a tie.
    expect(d.observe(vec(0, 0.001, z(-2), 'B')).marketTrend).toBe('RANGE');
    // A UP, B DOWN, C UP.
    expect(d.observe(vec(0, 0.001, z(2), 'C')).marketTrend).toBe('UP');
    // A moves to RANGE: 1 UP, 1 DOWN, 1 RANGE.
    expect(d.observe(vec(1, 0.001, z(0), 'A')).marketTrend).toBe('RANGE');
    // B and A DOWN.
    expect(d.observe(vec(2, 0.001, z(-2), 'A')).marketTrend).toBe('DOWN');
    expect(d.instruments()).toBe(3);
  });

  it('takes the market volatility the same way', () => {
    const d = new RegimeDetector({ volWarmupBars: 3, volMinDwellBars: 0 });
    for (let i = 0; i < 50; i++) for (const s of ['A', 'B', 'C']) d.observe(vec(i, 1, 0, s));
    expect(d.observe(vec(50, 2, 0, 'A'))).toMatchObject({ volatility: 'HIGH', marketVolatility: 'NORMAL' });
    expect(d.observe(vec(50, 2, 0, 'B'))).toMatchObject({ volatility: 'HIGH', marketVolatility: 'HIGH' });
    expect(d.observe(vec(50, 0.5, 0, 'C'))).toMatchObject({ volatility: 'LOW', marketVolatility: 'HIGH' });
    expect(d.observe(vec(51, 0.5, 0, 'A'))).toMatchObject({ volatility: 'LOW', marketVolatility: 'LOW' }); // B HIGH, A and C LOW
  });

  it('forgets an instrument silent for longer than forgetAfterMs', () => {
    const d = new RegimeDetector({ ...cfg, forgetAfterMs: 10 * MIN });
    d.observe(vec(0, 0.001, z(2), 'A'));
    d.observe(vec(0, 0.001, z(2), 'B'));
    expect(d.observe(vec(5, 0.001, z(-2), 'C')).marketTrend).toBe('UP');
    // At bar 11, A and B last spoke 11 minutes ago.
    expect(d.observe(vec(11, 0.001, z(-2), 'C')).marketTrend).toBe('DOWN');
    expect(d.instruments()).toBe(1);
    // A comes back as a new instrument.
    expect(d.observe(vec(12, 0.001, z(2), 'A')).marketTrend).toBe('RANGE');
  });
});

describe('regimeConfig', () => {
  it('refuses thresholds out of order and keeps defaults for undefined settings', () => {
    expect(() => regimeConfig({ highEnter: 1.1 })).toThrow(RegimeConfigError);
    expect(() => regimeConfig({ lowEnter: 0.9 })).toThrow(RegimeConfigError);
    expect(() => regimeConfig({ trendExit: 2 })).toThrow(RegimeConfigError);
    expect(() => regimeConfig({ trendMinDwellBars: -1 })).toThrow(RegimeConfigError);
    expect(() => regimeConfig({ volHalfLifeBars: 0 })).toThrow(RegimeConfigError);
    expect(regimeConfig({ highEnter: undefined })).toEqual(REGIME_DEFAULTS);
    expect(() => regimes({ trendScale: 0 })).toThrow(RegimeConfigError);
  });
});

describe('regimes operator (marbles)', () => {
  it('emits one regime per vector, with state per subscription', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const cfg = { trendScale: 1, trendMinDwellBars: 0 };
      const src = cold('a-b-c|', { a: vec(0, 0.001, 0.002), b: vec(1, 0.001, 0.0006), c: vec(2, 0.001, -0.002) });
      const r = (trend: 'UP' | 'DOWN' | 'RANGE'): Regime => ({ volatility: 'NORMAL', trend, marketVolatility: 'NORMAL', marketTrend: trend });
      expectObservable(src.pipe(regimes(cfg))).toBe('x-y-z|', { x: r('UP'), y: r('UP'), z: r('DOWN') });
      expectObservable(cold('-c|', { c: vec(2, 0.001, 0.0006) }).pipe(regimes(cfg))).toBe('-w|', { w: r('RANGE') });
    });
  });
});
