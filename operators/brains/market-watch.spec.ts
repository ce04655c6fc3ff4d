import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIME, type EnsembleSignal, type MarketContext } from '../../schemas/ensemble-signal.ts';
import { EMPTY_MARKET_VIEW, MARKET_WATCH_DEFAULTS, MarketWatch, marketWatch, median, type MarketView, type MarketWatchConfig } from './market-watch.ts';

const T0 = Date.UTC(2024, 0, 8, 12, 0);
const MIN = 60_000;

function sig(symbol: string, tsEvent: number, market: Partial<MarketContext> = {}): EnsembleSignal {
  return {
    id: `sig-${symbol}-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol,
    featureId: `f-${symbol}-${tsEvent}`,
    pDown: 0.1,
    pFlat: 0.1,
    pUp: 0.8,
    signal: 'LONG',
    confidence: 0.8,
    members: [],
    supervisor: 'OK',
    supervisorReason: '',
    supervisorAction: 'NONE',
    regime: DEFAULT_REGIME,
    market: { close: 100, atrPct: 0.002, realizedVol: 0.001, rsi: 50, emaRatio: 0, ret: 0, ...market },
  };
}

function feed(signals: readonly EnsembleSignal[], c: Partial<MarketWatchConfig> = {}): MarketView {
  const w = new MarketWatch({ ...MARKET_WATCH_DEFAULTS, ...c });
  for (const s of signals) w.observe(s);
  return w.view();
}

describe('median', () => {
  it('takes the middle value, or the mean of the two middle values, ignoring non-finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5); // (2 + 3) / 2
    expect(median([Number.NaN, 5, Number.POSITIVE_INFINITY, 1])).toBe(3); // finite: 1, 5
    expect(median([])).toBeNaN();
  });
});

describe('MarketWatch: staleness', () => {
  it('has nothing to say before the first bar is complete', () => {
    expect(feed([])).toEqual(EMPTY_MARKET_VIEW);
    expect(feed([sig('A', T0), sig('B', T0)])).toEqual({ ...EMPTY_MARKET_VIEW, newestTs: T0 });
  });

  it('counts a symbol stale when its last signal is more than staleAfterMs behind the last completed bar time', () => {
    const v = feed([sig('A', T0), sig('B', T0), sig('C', T0), sig('A', T0 + 4 * MIN), sig('B', T0 + 4 * MIN), sig('A', T0 + 5 * MIN)]);
    expect(v).toMatchObject({ asOfTs: T0 + 4 * MIN, newestTs: T0 + 5 * MIN, symbols: 3, staleSymbols: 1 }); // C: 240 s > 180 s
  });

  it('does not count the others stale when the first symbol of a new bar arrives after a gap', () => {
    const v = feed([sig('A', T0), sig('B', T0), sig('C', T0), sig('A', T0 + 4 * MIN)]);
    expect(v).toMatchObject({ asOfTs: T0, newestTs: T0 + 4 * MIN, symbols: 3, staleSymbols: 0 });
  });

  it('does not count a symbol exactly staleAfterMs behind', () => {
    const upTo4 = [sig('A', T0), sig('B', T0), sig('A', T0 + 3 * MIN), sig('A', T0 + 4 * MIN)];
    expect(feed(upTo4).staleSymbols).toBe(0); // as of T0+3m, B is 180 s behind: not more
    expect(feed([...upTo4, sig('A', T0 + 5 * MIN)]).staleSymbols).toBe(1); // as of T0+4m: 240 s
  });

  it('forgets a symbol silent for longer than forgetAfterMs', () => {
    const v = feed([sig('A', T0), sig('B', T0), sig('A', T0 + 11 * MIN), sig('A', T0 + 12 * MIN)], { forgetAfterMs: 10 * MIN });
    expect(v).toMatchObject({ symbols: 1, staleSymbols: 0 });
  });

  it('ignores a late signal: it neither rolls the symbol back nor replaces its values', () => {
    const v = feed([sig('A', T0 + 5 * MIN), sig('B', T0 + 5 * MIN), sig('A', T0, { realizedVol: 0.009 }), sig('C', T0 + 6 * MIN)]);
    expect(v).toMatchObject({ asOfTs: T0 + 5 * MIN, symbols: 2, staleSymbols: 0, medianVol: 0.001 });
  });
});

describe('MarketWatch: volatility regime', () => {
  it('samples the median once per bar time into the EWMA and compares each new median with the EWMA before it', () => {
    const c = { volEwmaAlpha: 0.5, volWarmupBars: 2 };
    const s = [sig('A', T0, { realizedVol: 0.001 }), sig('A', T0 + MIN, { realizedVol: 0.002 }), sig('A', T0 + 2 * MIN, { realizedVol: 0.004 }), sig('A', T0 + 3 * MIN)];
    // At T0+1m: snapshot of T0, median 0.001; 0 samples so far: no ratio; EWMA <- 0.001.
    expect(feed(s.slice(0, 2), c)).toMatchObject({ medianVol: 0.001, volRatio: Number.NaN });
    // At T0+2m: snapshot of T0+1m, median 0.002; 1 sample < 2: no ratio; EWMA <- 0.001 + 0.5 * (0.002 - 0.001) = 0.0015.
    expect(feed(s.slice(0, 3), c).volRatio).toBeNaN();
    // At T0+3m: snapshot of T0+2m, median 0.004; 2 samples: ratio 0.004 / 0.0015 = 2.667.
    const v = feed(s, c);
    expect(v.medianVol).toBe(0.004);
    expect(v.volRatio).toBeCloseTo(0.004 / 0.0015, 10);
  });

  it('counts a bar with many symbols as one sample', () => {
    const c = { volEwmaAlpha: 0.5, volWarmupBars: 1 };
    // T0: A 0.001, B 0.003, C 0.002 -> one sample, median 0.002. T0+1m: all at 0.004 -> ratio 0.004 / 0.002 = 2.
    const bar0 = [sig('A', T0, { realizedVol: 0.001 }), sig('B', T0, { realizedVol: 0.003 }), sig('C', T0, { realizedVol: 0.002 })];
    const bar1 = ['A', 'B', 'C'].map((x) => sig(x, T0 + MIN, { realizedVol: 0.004 }));
    const v = feed([...bar0, ...bar1, sig('A', T0 + 2 * MIN)], c);
    expect(v.medianVol).toBe(0.004);
    expect(v.volRatio).toBeCloseTo(2, 10);
  });

  it('takes the medians over fresh symbols only, and reports the median ATR', () => {
    const v = feed([
      sig('A', T0, { realizedVol: 0.001, atrPct: 0.004 }),
      sig('B', T0, { realizedVol: 0.005, atrPct: 0.05 }),
      sig('C', T0, { realizedVol: 0.002, atrPct: 0.002 }),
      sig('A', T0 + 4 * MIN, { realizedVol: 0.001, atrPct: 0.004 }),
      sig('C', T0 + 4 * MIN, { realizedVol: 0.002, atrPct: 0.002 }),
      sig('A', T0 + 5 * MIN),
    ]);
    expect(v.staleSymbols).toBe(1); // B
    expect(v.medianVol).toBeCloseTo(0.0015, 12); // (0.001 + 0.002) / 2, B left out
    expect(v.medianAtrPct).toBeCloseTo(0.003, 12); // (0.004 + 0.002) / 2
  });
});

describe('marketWatch operator (marbles)', () => {
  it('emits the market view after each signal', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d|', { a: sig('A', T0), b: sig('B', T0), c: sig('A', T0 + 4 * MIN), d: sig('A', T0 + 5 * MIN) });
      const snap0 = { asOfTs: T0, symbols: 2, staleSymbols: 0, medianVol: 0.001, medianAtrPct: 0.002, volRatio: Number.NaN };
      expectObservable(src.pipe(marketWatch())).toBe('w-x-y-z|', {
        w: { ...EMPTY_MARKET_VIEW, newestTs: T0 },
        x: { ...EMPTY_MARKET_VIEW, newestTs: T0 },
        y: { ...snap0, newestTs: T0 + 4 * MIN },
        // as of T0+4m, B is 240 s behind: stale, and left out of the medians
        z: { asOfTs: T0 + 4 * MIN, newestTs: T0 + 5 * MIN, symbols: 2, staleSymbols: 1, medianVol: 0.001, medianAtrPct: 0.002, volRatio: Number.NaN },
      });
    });
  });
});
