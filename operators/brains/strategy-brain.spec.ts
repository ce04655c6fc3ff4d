import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIME, type EnsembleSignal, type MarketContext, type Signal } from '../../schemas/ensemble-signal.ts';
import { chooseStrategy, strategyBrain, trendStrength } from './strategy-brain.ts';

function sig(signal: Signal, market: Partial<MarketContext>): EnsembleSignal {
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
    regime: DEFAULT_REGIME,
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
  it('follows the trend when |emaRatio| / vol >= 1: agrees when the EMA ratio has the sign of the signal', () => {
    const up = { emaRatio: 0.0015, realizedVol: 0.001 }; // strength 1.5
    expect(chooseStrategy(sig('LONG', up))).toMatchObject({ strategy: 'trend-following', agrees: true });
    expect(chooseStrategy(sig('SHORT', up))).toMatchObject({ strategy: 'trend-following', agrees: false });
    expect(chooseStrategy(sig('SHORT', { emaRatio: -0.0015, realizedVol: 0.001 }))).toMatchObject({ strategy: 'trend-following', agrees: true });
  });

  it('treats a strength exactly at the threshold as a trend', () => {
    expect(chooseStrategy(sig('LONG', { emaRatio: 0.001, realizedVol: 0.001 })).strategy).toBe('trend-following');
    expect(chooseStrategy(sig('LONG', { emaRatio: 0.000999, realizedVol: 0.001 })).strategy).toBe('mean-reversion');
  });

  it('reverts to the mean in a range: LONG only below RSI 30, SHORT only above RSI 70', () => {
    const range = { emaRatio: 0.0002, realizedVol: 0.001 }; // strength 0.2
    expect(chooseStrategy(sig('LONG', { ...range, rsi: 25 }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('LONG', { ...range, rsi: 30 }))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
    expect(chooseStrategy(sig('SHORT', { ...range, rsi: 75 }))).toMatchObject({ strategy: 'mean-reversion', agrees: true });
    expect(chooseStrategy(sig('SHORT', { ...range, rsi: 65 }))).toMatchObject({ strategy: 'mean-reversion', agrees: false });
  });

  it('explains itself', () => {
    expect(chooseStrategy(sig('LONG', { emaRatio: 0.0002, realizedVol: 0.001, rsi: 45 })).detail).toBe('trend 0.20 < 1; RSI 45.0 is not < 30 for LONG');
  });

  it('never agrees with a FLAT signal', () => {
    expect(chooseStrategy(sig('FLAT', { emaRatio: 0.002, realizedVol: 0.001 })).agrees).toBe(false);
    expect(chooseStrategy(sig('FLAT', { rsi: 10 })).agrees).toBe(false);
  });

  it('honours its thresholds', () => {
    const v = chooseStrategy(sig('LONG', { emaRatio: 0.0015, realizedVol: 0.001, rsi: 35 }), { trendThreshold: 2, rsiOversold: 40, rsiOverbought: 60 });
    expect(v).toMatchObject({ strategy: 'mean-reversion', agrees: true });
  });
});

describe('strategyBrain operator (marbles)', () => {
  it('emits one view per signal', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const a = sig('LONG', { emaRatio: 0.002, realizedVol: 0.001 });
      const b = sig('SHORT', { emaRatio: 0.0001, realizedVol: 0.001, rsi: 80 });
      expectObservable(cold('a-b|', { a, b }).pipe(strategyBrain())).toBe('x-y|', {
        x: { strategy: 'trend-following', agrees: true, detail: 'trend 2.00 >= 1; emaRatio 2.00e-3 agrees with LONG', trendStrength: 2 },
        y: { strategy: 'mean-reversion', agrees: true, detail: 'trend 0.10 < 1; RSI 80.0 is > 70 for SHORT', trendStrength: 0.1 },
      });
    });
  });
});
