import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import type { Trade } from '../../schemas/trade.ts';
import { genTrades, makeTrade } from '../../test/fixtures/gen-bars.ts';
import { barId } from '../../schemas/bar.ts';
import { BarAggregator, CorruptTradeError, intervalLabel, tradesToBars, type TradesToBarsOptions } from './trades-to-bars.ts';

const M = 60_000;
const T0 = Date.UTC(2024, 0, 1); // a minute boundary
const fixedClock = { now: () => 42 } as TradesToBarsOptions['scheduler'];

function testScheduler(): TestScheduler {
  return new TestScheduler((a, b) => expect(a).toEqual(b));
}

/** The bar the operator should print, written out field by field. */
function bar(openTime: number, tsInit: number, o: number, h: number, l: number, c: number, volume: number, quoteVolume: number, buyVolume: number, trades: number, symbol = 'BTC/USDT'): Bar {
  return {
    id: `test:${symbol}:1m:${openTime}`,
    tsEvent: openTime + M,
    tsInit,
    exchange: 'test',
    symbol,
    interval: '1m',
    openTime,
    open: o,
    high: h,
    low: l,
    close: c,
    volume,
    quoteVolume,
    buyVolume,
    trades,
  };
}

async function run(trades: readonly Trade[], opts: Partial<TradesToBarsOptions> = {}): Promise<Bar[]> {
  return lastValueFrom(from(trades).pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: fixedClock, ...opts }), toArray()));
}

describe('tradesToBars: marbles', () => {
  it('closes a bar when a trade of the next minute arrives and flushes the open bar on completion', () => {
    const ts = testScheduler();
    ts.run(({ cold, expectObservable }) => {
      const trades = {
        a: makeTrade({ tsEvent: T0 + 1000, price: 100, size: 1, side: 'BUY' }),
        b: makeTrade({ tsEvent: T0 + 20_000, price: 102, size: 2, side: 'SELL' }),
        c: makeTrade({ tsEvent: T0 + 59_999, price: 99, size: 0.5, side: 'BUY' }),
        d: makeTrade({ tsEvent: T0 + M, price: 101, size: 4, side: 'SELL' }),
      };
      // Bar 0 by hand: O 100, H 102, L 99, C 99; volume 1 + 2 + 0.5; quote 100 + 204 + 49.5; taker buys 1 + 0.5.
      const expected = {
        x: bar(T0, 6, 100, 102, 99, 99, 3.5, 353.5, 1.5, 3),
        y: bar(T0 + M, 7, 101, 101, 101, 101, 4, 404, 0, 1),
      };
      const src = cold('a-b-c-d|', trades);
      expectObservable(src.pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: ts }))).toBe('------x(y|)', expected);
    });
  });

  it('keeps a bar open for allowedLatenessMs, accepts out-of-order trades into it, then drops later ones', () => {
    const late: Array<[string, number]> = [];
    const ts = testScheduler();
    ts.run(({ cold, expectObservable }) => {
      const trades = {
        a: makeTrade({ tsEvent: T0 + 1000, price: 100, tradeId: 'a' }),
        b: makeTrade({ tsEvent: T0 + 61_000, price: 105, tradeId: 'b' }), // watermark 61s < 60s + 5s: bar 0 stays open
        c: makeTrade({ tsEvent: T0 + 58_000, price: 90, tradeId: 'c', side: 'SELL' }), // out of order, within lateness
        d: makeTrade({ tsEvent: T0 + 65_000, price: 106, tradeId: 'd' }), // watermark reaches 60s + 5s: bar 0 closes
        e: makeTrade({ tsEvent: T0 + 59_000, price: 95, tradeId: 'e' }), // bar 0 is gone: late
      };
      const expected = {
        x: bar(T0, 3, 100, 100, 90, 90, 2, 190, 1, 2), // c is later in event time than a: it is the close
        y: bar(T0 + M, 5, 105, 106, 105, 106, 2, 211, 2, 2),
      };
      const op = tradesToBars({ allowedLatenessMs: 5000, scheduler: ts, onLate: (t, open) => late.push([t.tradeId, open]) });
      expectObservable(cold('abcde|', trades).pipe(op)).toBe('---x-(y|)', expected);
    });
    expect(late).toEqual([['e', T0]]);
  });

  it('fills empty minutes between two traded bars with flat zero-volume bars at the previous close', () => {
    const ts = testScheduler();
    ts.run(({ cold, expectObservable }) => {
      const trades = {
        a: makeTrade({ tsEvent: T0 + 5000, price: 100, size: 2 }),
        b: makeTrade({ tsEvent: T0 + 3 * M + 1, price: 110, size: 1 }),
      };
      const expected = {
        p: bar(T0, 1, 100, 100, 100, 100, 2, 200, 2, 1),
        q: bar(T0 + M, 1, 100, 100, 100, 100, 0, 0, 0, 0),
        r: bar(T0 + 2 * M, 1, 100, 100, 100, 100, 0, 0, 0, 0),
        s: bar(T0 + 3 * M, 7, 110, 110, 110, 110, 1, 110, 1, 1),
      };
      // A group takes as many frames as it has characters: b arrives at 1, the source completes at 7.
      expectObservable(cold('ab-----|', trades).pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: ts }))).toBe('-(pqr)-(s|)', expected);
    });
  });

  it('passes an error through without flushing', () => {
    const ts = testScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('a#', { a: makeTrade({ tsEvent: T0, price: 100 }) }, new Error('feed'));
      expectObservable(src.pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: ts }))).toBe('-#', undefined, new Error('feed'));
    });
  });
});

describe('tradesToBars: aggregation', () => {
  it('aligns bars on UTC minute boundaries and derives id and tsEvent from the open time', async () => {
    const t = Date.UTC(2024, 4, 17, 13, 45, 59, 999);
    const [b] = await run([makeTrade({ tsEvent: t, price: 7 })]);
    expect(b!.openTime).toBe(Date.UTC(2024, 4, 17, 13, 45));
    expect(b!.tsEvent).toBe(Date.UTC(2024, 4, 17, 13, 46));
    expect(b!.id).toBe(`test:BTC/USDT:1m:${Date.UTC(2024, 4, 17, 13, 45)}`);
    expect(b!.tsInit).toBe(42);
  });

  it('aligns other intervals and labels them', async () => {
    const bars = await run([makeTrade({ tsEvent: T0 + 7 * M, price: 1 }), makeTrade({ tsEvent: T0 + 16 * M, price: 2 })], { intervalMs: 5 * M });
    expect(bars.map((b) => [b.openTime - T0, b.interval, b.close])).toEqual([
      [5 * M, '5m', 1],
      [10 * M, '5m', 1],
      [15 * M, '5m', 2],
    ]);
    expect([intervalLabel(60_000), intervalLabel(3_600_000), intervalLabel(86_400_000), intervalLabel(1000), intervalLabel(1500)]).toEqual(['1m', '1h', '1d', '1s', '1500ms']);
  });

  it('orders open and close by event time when trades arrive out of order inside the lateness', async () => {
    const bars = await run(
      [makeTrade({ tsEvent: T0 + 30_000, price: 100 }), makeTrade({ tsEvent: T0 + 10_000, price: 90 }), makeTrade({ tsEvent: T0 + 20_000, price: 95 })],
      { allowedLatenessMs: 30_000 },
    );
    expect(bars).toHaveLength(1);
    expect([bars[0]!.open, bars[0]!.high, bars[0]!.low, bars[0]!.close]).toEqual([90, 100, 90, 100]);
  });

  it('does not fill when fillGaps is false, and leaves holes longer than maxGapFillBars open', async () => {
    const trades = [
      makeTrade({ tsEvent: T0, price: 1 }),
      makeTrade({ tsEvent: T0 + 3 * M, price: 2 }), // hole of 2 minutes
      makeTrade({ tsEvent: T0 + 7 * M, price: 3 }), // hole of 3 minutes
    ];
    const opens = (bs: Bar[]) => bs.map((b) => (b.openTime - T0) / M);
    expect(opens(await run(trades, { fillGaps: false }))).toEqual([0, 3, 7]);
    expect(opens(await run(trades, { maxGapFillBars: 2 }))).toEqual([0, 1, 2, 3, 7]);
    expect(opens(await run(trades, { maxGapFillBars: 3 }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('keeps one watermark per instrument and flushes by open time, ties in order of first trade', async () => {
    const eth = 'ETH/USDT';
    const bars = await run([
      makeTrade({ tsEvent: T0 + 1, price: 10, symbol: eth }),
      makeTrade({ tsEvent: T0 + 2, price: 100 }),
      makeTrade({ tsEvent: T0 + 2 * M, price: 11, symbol: eth }), // closes ETH bars 0 and 1 (fill), not BTC's bar 0
      makeTrade({ tsEvent: T0 + M + 5, price: 101 }), // closes BTC bar 0
    ]);
    expect(bars.map((b) => [b.symbol, (b.openTime - T0) / M, b.close])).toEqual([
      [eth, 0, 10],
      [eth, 1, 10],
      ['BTC/USDT', 0, 100],
      ['BTC/USDT', 1, 101], // flush: minute 1 before minute 2
      [eth, 2, 11],
    ]);
  });

  it('keeps the same symbol on two exchanges apart', async () => {
    const bars = await run([
      makeTrade({ exchange: 'x', tsEvent: T0, price: 1, size: 1 }),
      makeTrade({ exchange: 'y', tsEvent: T0 + 1, price: 2, size: 2 }),
      makeTrade({ exchange: 'x', tsEvent: T0 + 2, price: 3, size: 3 }),
      makeTrade({ exchange: 'y', tsEvent: T0 + M, price: 4, size: 4 }), // closes y's bar only
    ]);
    expect(bars.map((b) => [b.exchange, b.openTime - T0, b.open, b.close, b.volume, b.id])).toEqual([
      ['y', 0, 2, 2, 2, `y:BTC/USDT:1m:${T0}`],
      ['x', 0, 1, 3, 4, `x:BTC/USDT:1m:${T0}`],
      ['y', M, 4, 4, 4, `y:BTC/USDT:1m:${T0 + M}`],
    ]);
  });

  it('keeps state per subscription', async () => {
    const trades = [makeTrade({ tsEvent: T0, price: 1 }), makeTrade({ tsEvent: T0 + M, price: 2 })];
    const bars$ = from(trades).pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: fixedClock }), toArray());
    const first = await lastValueFrom(bars$);
    expect(await lastValueFrom(bars$)).toEqual(first);
    expect(first).toHaveLength(2);
  });

  it('refuses a trade that validation should have stopped, with a named non-retriable error', () => {
    const agg = new BarAggregator({ allowedLatenessMs: 0, scheduler: fixedClock });
    const push = (t: Trade) => () => agg.push(t);
    expect(push(makeTrade({ tsEvent: T0, price: Number.NaN }))).toThrow(CorruptTradeError);
    expect(push(makeTrade({ tsEvent: T0, price: -1 }))).toThrow(/price/);
    expect(push(makeTrade({ tsEvent: T0, size: Number.POSITIVE_INFINITY }))).toThrow(/size/);
    try {
      agg.push(makeTrade({ tsEvent: Number.NaN }));
    } catch (e) {
      expect(e).toMatchObject({ name: 'CorruptTradeError', retriable: false, field: 'tsEvent' });
    }
  });

  it('matches a naive group-by over random trades of several symbols', async () => {
    const symbols = ['A/USDT', 'B/USDT', 'C/USDT'];
    const trades = genTrades({ seed: 7, count: 3000, symbols, meanGapMs: 900 });
    const bars = await run(trades, { fillGaps: false });
    // Naive: group by (symbol, minute) in arrival order; sums in the same order, so equal to the last bit.
    const naive = new Map<string, Bar>();
    for (const t of trades) {
      const open = Math.floor(t.tsEvent / M) * M;
      const k = `${t.symbol}@${open}`;
      const b = naive.get(k);
      const buy = t.side === 'BUY' ? t.size : 0;
      if (!b) naive.set(k, { ...bar(open, 42, t.price, t.price, t.price, t.price, t.size, t.price * t.size, buy, 1, t.symbol) });
      else naive.set(k, { ...b, high: Math.max(b.high, t.price), low: Math.min(b.low, t.price), close: t.price, volume: b.volume + t.size, quoteVolume: b.quoteVolume + t.price * t.size, buyVolume: b.buyVolume + buy, trades: b.trades + 1 });
    }
    const sortKey = (b: Bar) => `${b.symbol}@${String(b.openTime).padStart(16, '0')}`;
    expect([...bars].sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual([...naive.values()].sort((a, b) => sortKey(a).localeCompare(sortKey(b))));
    expect(bars.reduce((n, b) => n + b.trades, 0)).toBe(3000);
  });

  it('gives every symbol a gap-free grid from its first to its last minute when filling', async () => {
    const trades = genTrades({ seed: 11, count: 2000, symbols: ['A/USDT', 'B/USDT'], meanGapMs: 15_000 });
    const bars = await run(trades);
    for (const s of ['A/USDT', 'B/USDT']) {
      const mine = bars.filter((b) => b.symbol === s);
      const ts = trades.filter((t) => t.symbol === s).map((t) => t.tsEvent);
      const first = Math.floor(ts[0]! / M) * M;
      const last = Math.floor(ts[ts.length - 1]! / M) * M;
      expect(mine.map((b) => b.openTime)).toEqual(Array.from({ length: (last - first) / M + 1 }, (_, i) => first + i * M));
      expect(mine.some((b) => b.trades === 0)).toBe(true); // ~30 s between trades of a symbol leaves empty minutes
      for (const b of mine.filter((x) => x.trades === 0)) expect([b.volume, b.open, b.high, b.low]).toEqual([0, b.close, b.close, b.close]);
    }
  });

  it('exports the id format used for bars read from kline files', () => {
    expect(barId('binance', 'BTC/USDT', '1m', 1_700_000_040_000)).toBe('binance:BTC/USDT:1m:1700000040000');
  });
});

const DATA = '/work/shared/data';
const XRP_TRADES = join(DATA, 'trades/spot');
const XRP_KLINES = join(DATA, 'klines-1m/spot/XRPETH-1m-2019-10-11_2019-10-13.csv.gz');
const haveXrp = existsSync(XRP_KLINES) && existsSync(XRP_TRADES);
if (!haveXrp) console.log(`trades-to-bars real-data test skipped: ${XRP_KLINES} or ${XRP_TRADES} not found`);

describe.skipIf(!haveXrp)('tradesToBars on real Binance ticks (XRPETH, 2019-10-11..13)', () => {
  const lines = (p: string) => gunzipSync(readFileSync(p)).toString('utf8').split('\n').filter((l) => l.length > 0);

  it('rebuilds Binance\'s own 1m klines from the trade tape', async () => {
    const files = readdirSync(XRP_TRADES).filter((f) => f.startsWith('XRPETH-trades-')).sort();
    const trades: Trade[] = [];
    for (const f of files) {
      for (const l of lines(join(XRP_TRADES, f))) {
        const [id, price, qty, , time, buyerMaker] = l.split(',');
        trades.push(makeTrade({ exchange: 'binance', symbol: 'XRP/ETH', tradeId: id!, tsEvent: Number(time), price: Number(price), size: Number(qty), side: buyerMaker === 'True' ? 'SELL' : 'BUY' }));
      }
    }
    expect(trades).toHaveLength(12_477);
    const klines = lines(XRP_KLINES).map((l) => l.split(',').slice(0, 6).map(Number));
    expect(klines).toHaveLength(2469);

    // Binance prints no candle for a minute without trades; without gap filling the bars must be exactly its candles.
    const bars = await run(trades, { fillGaps: false });
    expect(bars.map((b) => b.openTime)).toEqual(klines.map((k) => k[0]));
    bars.forEach((b, i) => {
      const [, o, h, l, c, v] = klines[i]!;
      expect([b.open, b.high, b.low, b.close]).toEqual([o, h, l, c]);
      expect(b.volume).toBeCloseTo(v!, 6);
    });
    expect(bars.reduce((n, b) => n + b.trades, 0)).toBe(12_477);

    // With filling, the README's 1091 missing minutes come back as flat bars, except those in holes longer than an hour.
    const filled = await run(trades);
    const flat = filled.filter((b) => b.trades === 0);
    expect(filled.length - flat.length).toBe(2469);
    let missing = 0;
    let fillable = 0;
    for (let i = 1; i < klines.length; i++) {
      const hole = (klines[i]![0]! - klines[i - 1]![0]!) / M - 1;
      missing += hole;
      if (hole <= 60) fillable += hole;
    }
    expect(missing).toBe(1091);
    expect(flat.length).toBe(fillable);
    expect(fillable).toBeGreaterThan(0);
  });
});
