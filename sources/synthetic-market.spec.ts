import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Trade } from '../schemas/trade.ts';
import {
  REGIMES,
  SyntheticMarketConfigError,
  syntheticMarket,
  syntheticRecordBatches,
  syntheticRegimes,
  syntheticSymbols,
  syntheticTrades,
  type Regime,
  type RegimeSpan,
  type SyntheticMarketOptions,
} from './synthetic-market.ts';

const FROM = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function firstN(opts: SyntheticMarketOptions, n: number): Trade[] {
  const out: Trade[] = [];
  for (const t of syntheticTrades(opts)) {
    out.push(t);
    if (out.length >= n) break;
  }
  return out;
}

/** The regime in force at time t for a symbol's spans (sorted by time). */
function regimeAt(spans: readonly RegimeSpan[], t: number, hint: { i: number }): RegimeSpan {
  while (spans[hint.i]!.toMs <= t) hint.i++;
  return spans[hint.i]!;
}

interface RegimeStats {
  count: number;
  timeMs: number;
  sqReturns: number;
  sumReturns: number;
  buys: number;
}

/** One streaming pass: per regime, trade count, time, squared and summed log returns between trades of one span. */
function statsByRegime(opts: SyntheticMarketOptions): Map<Regime, RegimeStats> {
  const spans = syntheticRegimes(opts);
  const bySymbol = new Map<string, RegimeSpan[]>();
  for (const s of spans) bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), s]);
  const stats = new Map<Regime, RegimeStats>(REGIMES.map((r) => [r, { count: 0, timeMs: 0, sqReturns: 0, sumReturns: 0, buys: 0 }]));
  for (const s of spans) stats.get(s.regime)!.timeMs += s.toMs - s.fromMs;
  const last = new Map<string, { trade: Trade; span: RegimeSpan }>();
  const hints = new Map<string, { i: number }>();
  for (const t of syntheticTrades(opts)) {
    if (!hints.has(t.symbol)) hints.set(t.symbol, { i: 0 });
    const span = regimeAt(bySymbol.get(t.symbol)!, t.tsEvent, hints.get(t.symbol)!);
    const st = stats.get(span.regime)!;
    st.count++;
    if (t.side === 'BUY') st.buys++;
    const prev = last.get(t.symbol);
    if (prev && prev.span === span) {
      const r = Math.log(t.price / prev.trade.price);
      st.sqReturns += r * r;
      st.sumReturns += r;
    }
    last.set(t.symbol, { trade: t, span });
  }
  return stats;
}

describe('syntheticSymbols', () => {
  it('names presets first, then SYN<i>/USDT, and passes a list through', () => {
    expect(syntheticSymbols(3)).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    expect(syntheticSymbols(14).slice(12)).toEqual(['SYN12/USDT', 'SYN13/USDT']);
    expect(syntheticSymbols(['FOO/USDT'])).toEqual(['FOO/USDT']);
    expect(() => syntheticSymbols(0)).toThrow(SyntheticMarketConfigError);
  });
});

describe('syntheticTrades', () => {
  const base: SyntheticMarketOptions = { symbols: 4, seed: 42, fromMs: FROM, toMs: FROM + 6 * HOUR, tradesPerMinute: 60 };

  it('is deterministic: same seed, same sequence; a second iteration repeats it', () => {
    const a = firstN(base, 20_000);
    const b = firstN(base, 20_000);
    expect(b).toEqual(a);
    const it = syntheticTrades(base);
    expect([...take2(it, 100)]).toEqual([...take2(it, 100)]);
  });

  it('differs with a different seed', () => {
    const a = firstN(base, 1000);
    const c = firstN({ ...base, seed: 43 }, 1000);
    expect(c.map((t) => t.price)).not.toEqual(a.map((t) => t.price));
  });

  it('keeps a symbol path independent of the other symbols', () => {
    const alone = [...syntheticTrades({ ...base, symbols: ['ETH/USDT'], toMs: FROM + HOUR })];
    const mixed = [...syntheticTrades({ ...base, symbols: ['BTC/USDT', 'ETH/USDT', 'DOGE/USDT'], toMs: FROM + HOUR })].filter(
      (t) => t.symbol === 'ETH/USDT',
    );
    expect(mixed).toEqual(alone);
  });

  it('emits valid messages in global time order, ties by symbol, with consecutive trade ids per symbol', () => {
    const seen = new Map<string, number>();
    const bad: string[] = [];
    let prev: Trade | undefined;
    let n = 0;
    for (const t of syntheticTrades(base)) {
      n++;
      const id = (seen.get(t.symbol) ?? 0) + 1;
      seen.set(t.symbol, id);
      const ok =
        t.tsEvent >= FROM && t.tsEvent < base.toMs && Number.isInteger(t.tsEvent) && t.tsInit === t.tsEvent &&
        (!prev || t.tsEvent > prev.tsEvent || (t.tsEvent === prev.tsEvent && t.symbol >= prev.symbol)) &&
        t.tradeId === String(id) && t.id === `synthetic:${t.symbol}:${id}` && t.exchange === 'synthetic' &&
        t.price > 0 && t.size > 0 && Number.isFinite(t.price) && Number.isFinite(t.size) && (t.side === 'BUY' || t.side === 'SELL');
      if (!ok && bad.length < 5) bad.push(JSON.stringify({ prev, t }));
      prev = t;
    }
    expect(bad).toEqual([]);
    expect([...seen.keys()].sort()).toEqual(['BNB/USDT', 'BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    expect(n).toBeGreaterThan(10_000);
  });

  it('rounds prices to the tick: BTC near 60000 trades on a 0.1 grid', () => {
    for (const t of firstN({ ...base, symbols: ['BTC/USDT'] }, 2000)) {
      expect(Math.abs(t.price * 10 - Math.round(t.price * 10))).toBeLessThan(1e-6);
    }
  });

  it('arrives as a Poisson process: with equal intensities the mean gap is 60000 / tradesPerMinute ms', () => {
    const flat = { calm: { intensity: 1 }, 'trend-up': { intensity: 1 }, 'trend-down': { intensity: 1 }, volatile: { intensity: 1 } };
    const opts = { symbols: ['BTC/USDT'], seed: 9, fromMs: FROM, toMs: FROM + DAY, tradesPerMinute: 60, regimes: flat };
    let n = 0;
    let sum = 0;
    let sq = 0;
    let prev = FROM;
    for (const t of syntheticTrades(opts)) {
      const gap = t.tsEvent - prev;
      sum += gap;
      sq += gap * gap;
      prev = t.tsEvent;
      n++;
    }
    // 86,400 expected trades; Poisson SE is 0.34%.
    expect(n / 86_400).toBeGreaterThan(0.98);
    expect(n / 86_400).toBeLessThan(1.02);
    const mean = sum / n;
    expect(mean).toBeGreaterThan(980);
    expect(mean).toBeLessThan(1020);
    // Exponential gaps: standard deviation equals the mean.
    expect(Math.sqrt(sq / n - mean * mean) / mean).toBeCloseTo(1, 1);
  });

  it('averages tradesPerMinute over a long run with the default regime intensities', () => {
    let n = 0;
    for (const _ of syntheticTrades({ symbols: 8, seed: 3, fromMs: FROM, toMs: FROM + 2 * DAY, tradesPerMinute: 30 })) n++;
    const expected = 8 * 2 * 1440 * 30;
    expect(n / expected).toBeGreaterThan(0.9);
    expect(n / expected).toBeLessThan(1.1);
  });

  it('rejects an empty span', () => {
    expect(() => syntheticTrades({ ...base, toMs: FROM })).toThrow(SyntheticMarketConfigError);
  });

  it('prints its throughput (no assertion on time)', () => {
    const opts = { symbols: 5, seed: 1, fromMs: FROM, toMs: FROM + DAY, tradesPerMinute: 300 };
    const t0 = performance.now(); // arch-allow: stopwatch
    let n = 0;
    for (const _ of syntheticTrades(opts)) n++;
    const ms = performance.now() - t0; // arch-allow: stopwatch
    console.log(`synthetic market: ${n} trades in ${ms.toFixed(0)} ms = ${((n / ms) * 1000 / 1e6).toFixed(2)} M trades/s`);
    expect(n).toBeGreaterThan(0);
  });
});

function* take2<T>(it: Iterable<T>, n: number): Generator<T> {
  let i = 0;
  for (const x of it) {
    if (i++ >= n) return;
    yield x;
  }
}

describe('regimes', () => {
  const opts: SyntheticMarketOptions = { symbols: 5, seed: 11, fromMs: FROM, toMs: FROM + 3 * DAY, tradesPerMinute: 30 };
  const stats = statsByRegime(opts);

  it('tile [fromMs, toMs) for every symbol and visit every regime', () => {
    const spans = syntheticRegimes(opts);
    for (const sym of syntheticSymbols(5)) {
      const own = spans.filter((s) => s.symbol === sym);
      expect(own[0]!.fromMs).toBe(FROM);
      expect(own.at(-1)!.toMs).toBe(opts.toMs);
      for (let i = 1; i < own.length; i++) {
        expect(own[i]!.fromMs).toBe(own[i - 1]!.toMs);
        expect(own[i]!.regime).not.toBe(own[i - 1]!.regime);
      }
    }
    expect(new Set(spans.map((s) => s.regime))).toEqual(new Set(REGIMES));
    expect(syntheticRegimes(opts)).toEqual(spans);
  });

  it('volatility per unit time is far higher in the volatile regime than in calm', () => {
    const vol = (r: Regime): number => stats.get(r)!.sqReturns / stats.get(r)!.timeMs;
    // Defaults: 0.08 vs 0.02 daily diffusion, plus 12x as many and 5x larger jumps.
    expect(vol('volatile') / vol('calm')).toBeGreaterThan(8);
  });

  it('drifts up in trend-up and down in trend-down', () => {
    expect(stats.get('trend-up')!.sumReturns).toBeGreaterThan(0.3);
    expect(stats.get('trend-down')!.sumReturns).toBeLessThan(-0.3);
  });

  it('trades more often in the volatile regime, in proportion to the intensities (2.5 vs 0.6)', () => {
    const rate = (r: Regime): number => stats.get(r)!.count / stats.get(r)!.timeMs;
    expect(rate('volatile') / rate('calm')).toBeGreaterThan((2.5 / 0.6) * 0.9);
    expect(rate('volatile') / rate('calm')).toBeLessThan((2.5 / 0.6) * 1.1);
  });

  it('leans the taker side with the drift', () => {
    const buyShare = (r: Regime): number => stats.get(r)!.buys / stats.get(r)!.count;
    expect(buyShare('trend-up')).toBeGreaterThan(0.55);
    expect(buyShare('trend-down')).toBeLessThan(0.45);
    expect(Math.abs(buyShare('calm') - 0.5)).toBeLessThan(0.05);
  });
});

describe('trade sizes', () => {
  const logNotionals = (tailProbability: number): number[] =>
    firstN({ symbols: ['ETH/USDT'], seed: 5, fromMs: FROM, toMs: FROM + 3 * DAY, tailProbability }, 100_000).map((t) =>
      Math.log((t.price * t.size) / 200),
    );

  it('are log-normal around the median notional without the tail', () => {
    const xs = logNotionals(0);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(sd).toBeGreaterThan(0.97);
    expect(sd).toBeLessThan(1.03);
  });

  it('have a heavy right tail when the Pareto share is on', () => {
    const above = (xs: number[]): number => xs.filter((x) => x > 3).length / xs.length;
    // A standard normal exceeds 3 with probability 0.00135. The log of a Pareto(1.5) factor is Exp(1.5), and
    // P(N + E > 3) = Phi(-3) + exp(-1.5 * 3 + 1.5^2 / 2) * Phi(3 - 1.5) = 0.00135 + 0.0318 = 0.0332, so with half the
    // trades in the tail 0.5 * 0.0332 + 0.5 * 0.00135 = 0.0173 exceed 3 (SE 0.0004 on 1e5 trades).
    expect(above(logNotionals(0))).toBeLessThan(0.0025);
    expect(above(logNotionals(0.5))).toBeGreaterThan(0.016);
    expect(above(logNotionals(0.5))).toBeLessThan(0.0196);
  });
});

describe('syntheticMarket and syntheticRecordBatches', () => {
  const opts: SyntheticMarketOptions = { symbols: 2, seed: 1, fromMs: FROM, toMs: FROM + HOUR };

  it('wraps the trades as source records with sequence offsets and a JSON raw', async () => {
    const recs = await firstValueFrom(syntheticMarket(opts).pipe(take(3), toArray()));
    const trades = firstN(opts, 3);
    expect(recs.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(recs.map((r) => r.value)).toEqual(trades);
    expect(recs.every((r) => r.source === 'synthetic' && r.error === undefined)).toBe(true);
    expect(JSON.parse(recs[0]!.raw)).toEqual(trades[0]);
  });

  it('batches the same records in order', () => {
    const flat = [...syntheticRecordBatches(opts, 100)].flat();
    expect(flat.map((r) => r.value)).toEqual([...syntheticTrades(opts)]);
    expect(flat.at(-1)!.offset).toBe(flat.length - 1);
  });
});
