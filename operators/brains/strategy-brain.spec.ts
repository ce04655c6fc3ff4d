import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIME, type EnsembleSignal, type MarketContext, type Regime, type Signal } from '../../schemas/ensemble-signal.ts';
import { chooseStrategy, STRATEGY_DEFAULTS, strategyBrain, trendStrength } from './strategy-brain.ts';

function sig(signal: Signal, market: Partial<MarketContext> = {}, regime: Partial<Regime> = {}): EnsembleSignal {
  return {
    id: 'sig-1',
    tsEvent: 0,
    tsInit: 0,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    featureId: 'f',
    pDown: 0.1,
    pFlat: 0.1,
    pUp: 0.8,
    signal,
    confidence: 0.8,
    members: [],
    supervisor: 'OK',
    supervisorReason: '',
    supervisorAction: 'NONE',
    regime: { ...DEFAULT_REGIME, ...regime },
    market: { close: 100, atrPct: 0.002, realizedVol: 0.001, rsi: 50, emaRatio: 0, ret: 0, ...market },
  };
}

describe('trendStrength', () => {
  it('is |emaRatio| / realizedVol', () => {
    expect(trendStrength(0.002, 0.001)).toBeCloseTo(2, 12);
    expect(trendStrength(-0.0005, 0.001)).toBeCloseTo(0.5, 12);
    expect(trendStrength(0, 0)).toBe(0);
    expect(trendStrength(0.001, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('chooseStrategy', () => {
  it('follows the trend in an UP or DOWN regime: agrees when the signal takes the trend side', () => {
    expect(chooseStrategy(sig('LONG', {}, { trend: 'UP' }))).toMatchObject({ strategy: 'trend-following', agrees: true });
    expect(chooseStrategy(sig('SHORT', {}, { trend: 'UP' }))).toMatchObject({ strategy: 'trend-following', agrees: false });
    expect(chooseStrategy(sig('SHORT', {}, { trend: 'DOWN' }))).toMatchObject({ strategy: 'trend-following', agrees: true });
    expect(chooseStrategy(sig('LONG', {}, { trend: 'DOWN' }))).toMatchObject({ strategy: 'trend-following', agrees: false });
  });

  it('goes by the regime, not by the EMA gap of the bar: a wide gap in a RANGE regime is mean reversion', () => {
    const wideGap = { emaRatio: 0.003, realizedVol: 0.001 }; // strength 3: a trend by the old threshold
    const v = chooseStrategy(sig('LONG', { ...wideGap, rsi: 60 }));
    expect(v).toMatchObject({ strategy: 'mean-reversion', agrees: false, trendStrength: 3 });
    // ... and a narrow gap in an UP regime is trend following.
    expect(chooseStrategy(sig('LONG', { emaRatio: 0.0001 }, { trend: 'UP' }))).toMatchObject({ strategy: 'trend-following', agrees: true });
  });

  it('takes the symbol regime, not the market one', () => {
    expect(chooseStrategy(sig('LONG', { rsi: 50 }, { trend: 'RANGE', marketTrend: 'UP' })).strategy).toBe('mean-reversion');
    expect(chooseStrategy(sig('LONG', {}, { trend: 'UP', marketTrend: 'DOWN' }))).toMatchObject({ strategy: 'trend-following', agrees: true });
  });

  it('reverts to the mean in a RANGE regime: LONG only below RSI 30, SHORT only above RSI 70', () => {
    expect(chooseStrategy(sig('LONG', { rsi: 25 }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('LONG', { rsi: 30 }))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
    expect(chooseStrategy(sig('SHORT', { rsi: 75 }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('SHORT', { rsi: 65 }))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
    // LOW volatility keeps the normal band.
    expect(chooseStrategy(sig('LONG', { rsi: 25 }, { volatility: 'LOW' }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
  });

  it('widens the RSI band to 20/80 in a HIGH volatility regime', () => {
    const high = { volatility: 'HIGH' as const };
    expect(chooseStrategy(sig('LONG', { rsi: 25 }, high))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
    expect(chooseStrategy(sig('LONG', { rsi: 19 }, high))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('SHORT', { rsi: 75 }, high))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
    expect(chooseStrategy(sig('SHORT', { rsi: 81 }, high))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    // Trend following is not changed by the volatility.
    expect(chooseStrategy(sig('LONG', {}, { ...high, trend: 'UP' }))).toMatchObject({ strategy: 'trend-following', agrees: true });
  });

  it('reads DEFAULT_REGIME (a signal from before the detector) as a range with normal volatility', () => {
    expect(chooseStrategy(sig('LONG', { rsi: 25, emaRatio: 0.01 }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
  });

  it('explains itself', () => {
    expect(chooseStrategy(sig('LONG', { rsi: 45 })).detail).toBe('regime RANGE/NORMAL; RSI 45.0 is not < 30 for LONG');
    expect(chooseStrategy(sig('SHORT', { rsi: 85 }, { volatility: 'HIGH' })).detail).toBe('regime RANGE/HIGH; RSI 85.0 is > 80 for SHORT');
    expect(chooseStrategy(sig('SHORT', {}, { trend: 'UP' })).detail).toBe('regime UP/NORMAL; SHORT is against the trend');
    expect(chooseStrategy(sig('SHORT', {}, { trend: 'DOWN', volatility: 'LOW' })).detail).toBe('regime DOWN/LOW; SHORT follows the trend');
  });

  it('never agrees with a FLAT signal', () => {
    expect(chooseStrategy(sig('FLAT', {}, { trend: 'UP' }))).toMatchObject({ strategy: 'trend-following', agrees: false, detail: 'regime UP/NORMAL; signal FLAT' });
    expect(chooseStrategy(sig('FLAT', { rsi: 10 }))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
  });

  it('honours its thresholds', () => {
    const cfg = { ...STRATEGY_DEFAULTS, rsiOversold: 40, highVolRsiOverbought: 90 };
    expect(chooseStrategy(sig('LONG', { rsi: 35 }), cfg)).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('SHORT', { rsi: 85 }, { volatility: 'HIGH' }), cfg)).toMatchObject({ strategy: 'mean-reversion', agrees: false });
  });
});

describe('strategyBrain operator (marbles)', () => {
  it('emits one view per signal', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const a = sig('LONG', { emaRatio: 0.002, realizedVol: 0.001 }, { trend: 'UP' });
      const b = sig('SHORT', { emaRatio: 0.0001, realizedVol: 0.001, rsi: 80 });
      expectObservable(cold('a-b|', { a, b }).pipe(strategyBrain())).toBe('x-y|', {
        x: { strategy: 'trend-following', agrees: true, detail: 'regime UP/NORMAL; LONG follows the trend', trendStrength: 2 },
        y: { strategy: 'mean-reversion', agrees: true, detail: 'regime RANGE/NORMAL; RSI 80.0 is > 70 for SHORT', trendStrength: 0.1 },
      });
    });
  });

  it('keeps a default for a setting given as undefined', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const a = sig('LONG', { rsi: 25 });
      const out = cold('a|', { a }).pipe(strategyBrain({ rsiOversold: undefined }));
      expectObservable(out).toBe('x|', { x: { strategy: 'mean-reversion', agrees: true, detail: 'regime RANGE/NORMAL; RSI 25.0 is < 30 for LONG', trendStrength: 0 } });
    });
  });
});
