import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import { codecFor } from '../../schemas/codec.ts';
import { ExitEventSchema, type ExitEvent } from '../../schemas/exit-event.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import { DEFAULT_EXIT_RULES, ExitBook, type ExitInput } from './exit-book.ts';
import { breakEvenOffsetBps, TRADING_COST_DEFAULTS } from './trading-costs.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 4, 6, 10, 0);
const clock = { now: () => 3 };
/** The default break-even offset as a fraction. */
const BE = DEFAULT_EXIT_RULES.breakEvenOffsetBps / 10_000;

function bar(i: number, open: number, high: number, low: number, close: number): ExitInput {
  const b: Bar = {
    id: `bar-${i}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', interval: '1m', openTime: T0 + (i - 1) * M,
    open, high, low, close, volume: 100, quoteVolume: 100 * close, buyVolume: 50, trades: 10,
  };
  return { kind: 'bar', bar: b };
}

function order(over: Partial<RiskOrder> = {}): ExitInput {
  const o: RiskOrder = {
    id: 'ro-1', tsEvent: T0, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', decisionId: 'd-1', clientOrderId: 'co-1',
    verdict: 'APPROVED', denyReason: 'NONE', denyDetail: '', side: 'BUY', qty: 1, leverage: 5, refPrice: 100, stopPrice: 98,
    takeProfits: [102, 104, 106], riskFraction: 0.01, equity: 10_000, mode: 'NORMAL', confidence: 0.8, ...over,
  };
  return { kind: 'order', order: o };
}

let posN = 0;
function pos(i: number, qty: number, avgEntry: number, over: Partial<Position> = {}): ExitInput {
  const p: Position = {
    id: `pos-${++posN}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', positionId: 'co-1',
    side: qty > 0 ? 'LONG' : 'FLAT', qty, avgEntry, leverage: 5, markPrice: avgEntry, realizedPnl: 0, unrealizedPnl: 0, stopPrice: 98,
    ...over,
  };
  return { kind: 'position', position: p };
}

function feed(inputs: ExitInput[], book = new ExitBook({}, clock)): ExitEvent[] {
  return inputs.flatMap((i) => book.step(i));
}
const brief = (es: ExitEvent[]): [string, number, number, number, number][] =>
  es.map((e) => [e.kind, e.level, e.triggerPrice, e.qty, e.stopPrice]);

describe('ExitBook: stop-loss', () => {
  it('fires the stop once on the bar whose low touches it, for the whole open quantity', () => {
    const es = feed([order(), bar(1, 100, 101, 99.5, 100.5), pos(1, 1, 100), bar(2, 99, 99.5, 97.9, 98.2), bar(3, 97, 97, 90, 91)]);
    expect(brief(es)).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
    expect(es[0]).toMatchObject({
      id: deriveId('exit', 'co-1', 'STOP_LOSS', 0), clientOrderId: deriveId('co-exit', 'co-1', 'STOP_LOSS', 0),
      tsEvent: T0 + 2 * M, tsInit: 3, positionId: 'co-1', exchange: 'binance', symbol: 'BTC/USDT',
    });
    expect(() => codecFor(ExitEventSchema).encode(es[0]!)).not.toThrow();
  });

  it('assumes the stop came first when one bar touches both the stop and a target', () => {
    const es = feed([order(), bar(1, 100, 101, 99.5, 100.5), pos(1, 1, 100), bar(2, 100, 102.5, 97.5, 101)]);
    expect(brief(es)).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
  });

  it('fires on a gap through the stop with the stop as trigger (the broker fills at the open)', () => {
    const es = feed([order(), bar(1, 100, 101, 99.5, 100.5), pos(1, 1, 100), bar(2, 95, 96, 94, 95.5)]);
    expect(brief(es)).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
  });

  it('evaluates the entry bar once its position arrives, and only once', () => {
    const book = new ExitBook({}, clock);
    expect(feed([order(), bar(1, 100, 100.2, 97.5, 98)], book)).toEqual([]);
    expect(brief(feed([pos(1, 1, 100)], book))).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
    expect(feed([pos(1, 1, 100, { markPrice: 98 })], book)).toEqual([]);
  });

  it('does not evaluate bars from before the position opened when the plan arrives late', () => {
    const book = new ExitBook({}, clock);
    expect(feed([bar(1, 99, 99, 90, 91), pos(2, 1, 100)], book)).toEqual([]);
    // The last bar seen (bar 1) is older than the position: nothing fires until bar 2.
    expect(feed([order()], book)).toEqual([]);
    expect(brief(feed([bar(2, 99, 99, 97, 97.5)], book))).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
  });

  it('ignores denied orders and stops for good once the position is flat', () => {
    const book = new ExitBook({}, clock);
    expect(feed([order({ verdict: 'DENIED', side: null, clientOrderId: 'co-0' }), order(), bar(1, 100, 101, 99.5, 100.5), pos(1, 1, 100)], book)).toEqual([]);
    expect(feed([pos(2, 0, 100), bar(3, 99, 99, 90, 91)], book)).toEqual([]);
    expect(book.tracked()).toBe(0);
  });
});

describe('ExitBook: take-profit ladder, break-even and trailing', () => {
  it('long: TP1 closes 40%, moves the stop to break-even and arms a 0.8% trail that only tightens, then the trail fires', () => {
    const es = feed([
      order(), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100.02),
      bar(2, 100.3, 102.3, 100.5, 102.1),
      pos(2, 0.6, 100.02),
      bar(3, 102, 103.5, 101.6, 103.2),
      bar(4, 103.1, 103.2, 102.5, 102.6),
    ]);
    // Arming: best = 102.3 (high of bar 2), trail 102.3 * 0.992 = 101.4816 > break-even 100.02 * (1 + BE).
    // Bar 3: low 101.6 stays above 101.4816; best 103.5 -> stop 102.672. Bar 4: low 102.5 touches it.
    expect(brief(es)).toEqual([
      ['TAKE_PROFIT', 1, 102, 0.4, 98],
      ['STOP_TO_BREAK_EVEN', 0, 102, 0, expect.closeTo(100.02 * (1 + BE), 10)],
      ['TRAILING_ARMED', 0, 102, 0, expect.closeTo(101.4816, 10)],
      ['TRAILING_STOP', 0, expect.closeTo(102.672, 10), 0.6, expect.closeTo(102.672, 10)],
    ]);
    expect(es.map((e) => e.clientOrderId)).toEqual([deriveId('co-exit', 'co-1', 'TAKE_PROFIT', 1), '', '', deriveId('co-exit', 'co-1', 'TRAILING_STOP', 0)]);
  });

  it('short: mirrored ladder, break-even and trail', () => {
    const es = feed([
      order({ side: 'SELL', stopPrice: 102, takeProfits: [98, 96, 94] }), bar(1, 100, 100.4, 99.5, 99.8), pos(1, 1, 100, { side: 'SHORT' }),
      bar(2, 99.5, 100.5, 97.8, 98),
      pos(2, 0.6, 100, { side: 'SHORT' }),
      bar(3, 98, 98.4, 96.9, 97),
      bar(4, 97.2, 97.8, 97.1, 97.7),
    ]);
    // Break-even 100 * (1 - BE) (< 102); best 97.8 -> trail 98.5824; bar 3 best 96.9 -> 97.6752; bar 4 high 97.8 touches it.
    expect(brief(es)).toEqual([
      ['TAKE_PROFIT', 1, 98, 0.4, 102],
      ['STOP_TO_BREAK_EVEN', 0, 98, 0, expect.closeTo(100 * (1 - BE), 10)],
      ['TRAILING_ARMED', 0, 98, 0, expect.closeTo(98.5824, 10)],
      ['TRAILING_STOP', 0, expect.closeTo(97.6752, 10), 0.6, expect.closeTo(97.6752, 10)],
    ]);
  });

  it('takes several levels in one bar; the last closes what remains', () => {
    const es = feed([order(), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100), bar(2, 101, 104.5, 100.8, 104)]);
    expect(brief(es).map(([k, l, , q]) => [k, l, q])).toEqual([
      ['TAKE_PROFIT', 1, 0.4], ['STOP_TO_BREAK_EVEN', 0, 0], ['TRAILING_ARMED', 0, 0], ['TAKE_PROFIT', 2, 0.4],
    ]);
    const last = feed([order(), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100), bar(2, 101, 107, 100.8, 106.5)]);
    expect(last.filter((e) => e.kind === 'TAKE_PROFIT').map((e) => e.qty)).toEqual([0.4, 0.4, expect.closeTo(0.2, 12)]);
  });

  it('sizes the ladder on the quantity actually filled and recomputes it as fills arrive', () => {
    const es = feed([
      order(), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 0.6, 100),
      bar(2, 100.5, 102, 100.5, 101.8),
      pos(2, 0.36, 100),
      pos(2, 0.76, 100),
      bar(3, 102, 104, 101.9, 103.8),
      pos(3, 0.2, 100),
      bar(4, 104, 106, 103.9, 105.5),
    ]);
    // TP1: 40% of 0.6 = 0.24. Entry completes to 1.0, so TP2 brings the total to 80%: 0.8 - 0.24 = 0.56; TP3 the last 0.2.
    // Trail: best 102 -> 101.184; 104 -> 103.168; bar lows stay above.
    expect(es.filter((e) => e.kind === 'TAKE_PROFIT').map((e) => [e.level, e.qty])).toEqual([
      [1, expect.closeTo(0.24, 12)], [2, expect.closeTo(0.56, 12)], [3, expect.closeTo(0.2, 12)],
    ]);
    expect(es.some((e) => e.kind === 'TRAILING_STOP' || e.kind === 'STOP_LOSS')).toBe(false);
  });

  it('counts a redelivered position update once and ignores a redelivered older order', () => {
    const p1 = pos(1, 0.6, 100);
    const es = feed([order(), bar(1, 100, 100.5, 99.6, 100.2), p1, p1, order({ clientOrderId: 'co-1' }), bar(2, 100.5, 102, 100.5, 101.8)]);
    expect(es.filter((e) => e.kind === 'TAKE_PROFIT').map((e) => e.qty)).toEqual([expect.closeTo(0.24, 12)]);
    const book = new ExitBook({}, clock);
    // A newer plan waits for its fill; an older order delivered again must not replace it.
    feed([order({ clientOrderId: 'co-0', tsEvent: T0 - M }), order()], book);
    feed([order({ clientOrderId: 'co-0', tsEvent: T0 - M })], book);
    expect(brief(feed([bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100), bar(2, 99, 99, 97, 97.5)], book))).toEqual([['STOP_LOSS', 0, 98, 1, 98]]);
  });

  it('never asks a target for more than the entry quantity not yet claimed', () => {
    // Ladder 70/70: the second target would want 1.4 of 1.0 but only 0.3 is left.
    const es = feed([order({ takeProfits: [102, 104, 106] }), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100), bar(2, 101, 104.5, 100.8, 104)], new ExitBook({ ladder: [0.7, 0.7, 0] }, clock));
    expect(es.filter((e) => e.kind === 'TAKE_PROFIT').map((e) => e.qty)).toEqual([0.7, expect.closeTo(0.3, 12)]);
  });

  it('moves break-even by the configured fee offset', () => {
    const es = feed([order(), bar(1, 100, 100.5, 99.6, 100.2), pos(1, 1, 100), bar(2, 100.5, 102, 100.5, 101.8)], new ExitBook({ breakEvenOffsetBps: 8, trailingCallback: 0.05 }, clock));
    expect(es.find((e) => e.kind === 'STOP_TO_BREAK_EVEN')!.stopPrice).toBeCloseTo(100.08, 10);
    // Trail 102 * 0.95 = 96.9 is looser than break-even: the stop stays at 100.08.
    expect(es.find((e) => e.kind === 'TRAILING_ARMED')!.stopPrice).toBeCloseTo(100.08, 10);
  });
});

describe('ExitBook: break-even covers the round trip', () => {
  it('defaults the break-even offset to the default fees and slippage, so the stop there loses nothing', () => {
    expect(DEFAULT_EXIT_RULES.breakEvenOffsetBps).toBe(breakEvenOffsetBps(TRADING_COST_DEFAULTS));
    // 4 bps in, 4 bps + 2 bps slippage out: a little over 10 bps.
    expect(DEFAULT_EXIT_RULES.breakEvenOffsetBps).toBeCloseTo(10.005, 3);
    const f = TRADING_COST_DEFAULTS.feeBps / 10_000;
    const s = TRADING_COST_DEFAULTS.slippageBps / 10_000;
    for (const dir of [1, -1]) {
      const entry = 100;
      const stop = entry * (1 + (dir * DEFAULT_EXIT_RULES.breakEvenOffsetBps) / 10_000);
      const exit = stop * (1 - dir * s);
      const pnl = (exit - entry) * dir - f * (entry + exit);
      expect(pnl).toBeGreaterThanOrEqual(-1e-12);
    }
  });
});

function entryEvent(status: OrderEvent['status'], filledQty: number, clientOrderId = 'co-1'): ExitInput {
  const e: OrderEvent = {
    id: `oe-${clientOrderId}-${status}`, tsEvent: T0, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', clientOrderId, venue: 'paper', status,
    purpose: 'ENTRY', side: 'BUY', type: 'MARKET', qty: 1, filledQty, avgPrice: filledQty > 0 ? 100 : 0, reason: status === 'REJECTED' ? 'INSUFFICIENT_MARGIN' : '',
  };
  return { kind: 'execution', event: e };
}

describe('ExitBook: entries that never fill', () => {
  it('drops the plan of an entry rejected or cancelled with nothing filled', () => {
    for (const dead of [entryEvent('REJECTED', 0), entryEvent('CANCELLED', 0)]) {
      const book = new ExitBook({}, clock);
      feed([order(), bar(1, 100, 101, 99.5, 100.5)], book);
      expect(book.tracked()).toBe(1);
      expect(feed([dead], book)).toEqual([]);
      expect(book.tracked()).toBe(0);
    }
  });

  it('keeps the plan of an entry cancelled after a partial fill, and ignores other order events', () => {
    const book = new ExitBook({}, clock);
    feed([order(), bar(1, 100, 101, 99.5, 100.5), pos(1, 0.4, 100), entryEvent('CANCELLED', 0.4), entryEvent('ACCEPTED', 0)], book);
    expect(book.tracked()).toBe(1);
    expect(brief(feed([bar(2, 99, 99, 97, 97.5)], book))).toEqual([['STOP_LOSS', 0, 98, 0.4, 98]]);
  });

  it('drops a plan that arrives after its entry was already rejected (out-of-order delivery)', () => {
    const book = new ExitBook({}, clock);
    feed([entryEvent('REJECTED', 0), order()], book);
    expect(book.tracked()).toBe(0);
  });
});
