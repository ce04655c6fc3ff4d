import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { ExitEvent, ExitKind } from '../../schemas/exit-event.ts';
import type { Fill } from '../../schemas/fill.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Outgoing } from '../../schemas/ports.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { schemaOf } from '../../schemas/topics.ts';
import { printOfBar, printOfTrade } from './market-print.ts';
import { PaperBroker, type BrokerInput } from './paper-broker.ts';

const M = 60_000;
/** Tuesday 2025-05-06 10:00 UTC: the close of the decision bar (bar 0). */
const T0 = Date.UTC(2025, 4, 6, 10, 0);
const KEY = 'binance:BTC/USDT';
const clock = { now: () => 7 };

function bar(i: number, open: number, high: number, low: number, close: number, volume = 1000, symbol = 'BTC/USDT'): Bar {
  return {
    id: `bar-${symbol}-${i}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol, interval: '1m', openTime: T0 + (i - 1) * M,
    open, high, low, close, volume, quoteVolume: volume * close, buyVolume: volume / 2, trades: 10,
  };
}

function order(over: Partial<RiskOrder> = {}): RiskOrder {
  return {
    id: 'ro-1', tsEvent: T0, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', decisionId: 'd-1', clientOrderId: 'co-1',
    verdict: 'APPROVED', denyReason: 'NONE', denyDetail: '', side: 'BUY', qty: 1, leverage: 5, refPrice: 100, stopPrice: 98,
    takeProfits: [102, 104, 106], riskFraction: 0.01, equity: 10_000, mode: 'NORMAL', confidence: 0.8, ...over,
  };
}

function exit(kind: ExitKind, i: number, triggerPrice: number, qty: number, over: Partial<ExitEvent> = {}): ExitEvent {
  const level = kind === 'TAKE_PROFIT' ? 1 : 0;
  return {
    id: `ex-${kind}-${i}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', positionId: 'co-1', kind, level,
    triggerPrice, qty, stopPrice: triggerPrice, clientOrderId: qty > 0 ? deriveId('co-exit', 'co-1', kind, level) : '', ...over,
  };
}

const O = (o: RiskOrder): BrokerInput => ({ kind: 'order', order: o });
const B = (b: Bar): BrokerInput => ({ kind: 'print', print: printOfBar(b) });
const X = (e: ExitEvent): BrokerInput => ({ kind: 'exit', exit: e });

function run(inputs: BrokerInput[], broker = new PaperBroker({}, clock)): Outgoing[] {
  return inputs.flatMap((i) => broker.step(i));
}
const orders = (o: Outgoing[]): OrderEvent[] => o.filter((m) => m.topic === 'exec.orders.v1').map((m) => m.value as OrderEvent);
const fills = (o: Outgoing[]): Fill[] => o.filter((m) => m.topic === 'exec.fills.v1').map((m) => m.value as Fill);
const positions = (o: Outgoing[]): Position[] => o.filter((m) => m.topic === 'pos.positions.v1').map((m) => m.value as Position);
const equities = (o: Outgoing[]): Equity[] => o.filter((m) => m.topic === 'pos.equity.v1').map((m) => m.value as Equity);
const statuses = (o: Outgoing[], coid = 'co-1'): string[] => orders(o).filter((e) => e.clientOrderId === coid).map((e) => e.status);

describe('PaperBroker: entries', () => {
  it('fills a market entry at the next bar open plus 2 bps, charges 4 bps, and books position and equity', () => {
    const outs = run([O(order()), B(bar(1, 100, 101, 99.5, 100.5, 50))]);
    expect(outs.map((m) => m.topic)).toEqual([
      'exec.orders.v1', 'exec.orders.v1', 'exec.fills.v1', 'exec.orders.v1', 'pos.positions.v1', 'pos.equity.v1',
    ]);
    const [sub, acc, filled] = orders(outs);
    expect(sub).toMatchObject({ status: 'SUBMITTED', tsEvent: T0, tsInit: 7, id: deriveId('oe', 'co-1', 'SUBMITTED', 0), purpose: 'ENTRY', venue: 'paper' });
    expect(acc).toMatchObject({ status: 'ACCEPTED', id: deriveId('oe', 'co-1', 'ACCEPTED', 1) });
    expect(filled).toMatchObject({ status: 'FILLED', filledQty: 1, id: deriveId('oe', 'co-1', 'FILLED', 2), tsEvent: T0 + M });
    expect(filled!.avgPrice).toBeCloseTo(100.02, 10);
    const [f] = fills(outs);
    expect(f).toMatchObject({ id: deriveId('fill', 'co-1', 1), qty: 1, side: 'BUY', liquidity: 'TAKER', tsEvent: T0 + M });
    expect(f!.price).toBeCloseTo(100.02, 10);
    expect(f!.fee).toBeCloseTo(0.040008, 12);
    const [p] = positions(outs);
    expect(p).toMatchObject({ positionId: 'co-1', side: 'LONG', qty: 1, leverage: 5, markPrice: 100.5, stopPrice: 98, id: deriveId('pos', 'co-1', deriveId('fill', 'co-1', 1)) });
    expect(p!.avgEntry).toBeCloseTo(100.02, 10);
    expect(p!.unrealizedPnl).toBeCloseTo(0.48, 10);
    expect(p!.realizedPnl).toBeCloseTo(-0.040008, 12);
    const [e] = equities(outs);
    expect(e).toMatchObject({ account: 'paper', openPositions: 1, drawdownDay: 0, drawdownMax: 0 });
    expect(e!.cash).toBeCloseTo(9999.959992, 9);
    expect(e!.equity).toBeCloseTo(10_000.439992, 9);
    expect(e!.fees).toBeCloseTo(0.040008, 12);
    expect(e!.exposure).toBeCloseTo(100.5, 10);
    expect(outs.find((m) => m.topic === 'pos.equity.v1')!.key).toBe('paper');
  });

  it('does not fill on the decision bar itself, only on the bars after it', () => {
    const outs = run([O(order()), B(bar(0, 100, 101, 99, 100))]);
    expect(fills(outs)).toEqual([]);
  });

  it('fills at most 10% of each bar volume and carries the rest to the following bars', () => {
    // Budgets 0.4, 0.4, then 0.2 left: three fills at each bar open + 2 bps.
    const outs = run([O(order()), B(bar(1, 100, 101, 99, 100, 4)), B(bar(2, 101, 102, 100, 101, 4)), B(bar(3, 99, 100, 98.5, 99, 4))]);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'PARTIALLY_FILLED', 'FILLED']);
    const fs = fills(outs);
    expect(fs.map((f) => f.qty)).toEqual([0.4, 0.4, expect.closeTo(0.2, 12)]);
    expect(fs.map((f) => f.price)).toEqual([expect.closeTo(100.02, 10), expect.closeTo(101.0202, 10), expect.closeTo(99.0198, 10)]);
    const avg = (0.4 * 100.02 + 0.4 * 101.0202 + 0.2 * 99.0198) / 1;
    expect(orders(outs).at(-1)!.avgPrice).toBeCloseTo(avg, 10);
    const ps = positions(outs).filter((p) => p.qty > 0);
    expect(ps.at(-1)!.avgEntry).toBeCloseTo(avg, 10);
    expect(ps.map((p) => p.qty)).toEqual([0.4, 0.8, expect.closeTo(1, 12)]);
  });

  it('cancels the remainder after maxBarsToFill bars with a reason', () => {
    const outs = run([O(order()), B(bar(1, 100, 101, 99, 100, 2)), B(bar(2, 100, 101, 99, 100, 0)), B(bar(3, 100, 101, 99, 100, 2))]);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'PARTIALLY_FILLED', 'CANCELLED']);
    const cancelled = orders(outs).at(-1)!;
    expect(cancelled).toMatchObject({ reason: 'NOT_FILLED_IN_TIME', filledQty: 0.4, tsEvent: T0 + 3 * M });
    expect(positions(outs).at(-1)!.qty).toBeCloseTo(0.4, 12);
  });

  it('cancels an entry with no fill at all and opens no position', () => {
    const outs = run([O(order()), B(bar(1, 100, 101, 99, 100, 0)), B(bar(2, 100, 101, 99, 100, 0)), B(bar(3, 100, 101, 99, 100, 0))]);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'CANCELLED']);
    expect(positions(outs)).toEqual([]);
  });

  it('fills from trade prints too, which do not count towards the fill window', () => {
    const trade = printOfTrade({ id: 't-1', tsEvent: T0 + 30_000, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', tradeId: '1', price: 100.5, size: 3, side: 'BUY' });
    const outs = run([O(order()), { kind: 'print', print: trade }, B(bar(1, 100, 101, 99, 100, 0)), B(bar(2, 100, 101, 99, 100, 0)), B(bar(3, 100, 101, 99, 100, 0))]);
    const [f] = fills(outs);
    expect(f!.qty).toBeCloseTo(0.3, 12);
    expect(f!.price).toBeCloseTo(100.5 * 1.0002, 10);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'CANCELLED']);
    expect(orders(outs).at(-1)!.tsEvent).toBe(T0 + 3 * M);
  });

  it('rejects bad orders with a reason and ignores denied and redelivered ones', () => {
    const broker = new PaperBroker({}, clock);
    const rejected = (o: RiskOrder): OrderEvent => orders(broker.step(O(o))).at(-1)!;
    expect(rejected(order({ clientOrderId: 'a', qty: 0 }))).toMatchObject({ status: 'REJECTED', reason: 'INVALID_QTY' });
    expect(rejected(order({ clientOrderId: 'b', side: null }))).toMatchObject({ status: 'REJECTED', reason: 'INVALID_SIDE' });
    expect(rejected(order({ clientOrderId: 'c', leverage: 0 }))).toMatchObject({ status: 'REJECTED', reason: 'INVALID_LEVERAGE' });
    // 101 * 100 / 1 = 10,100 of margin > 10,000 of equity.
    expect(rejected(order({ clientOrderId: 'd', qty: 101, leverage: 1 }))).toMatchObject({ status: 'REJECTED', reason: 'INSUFFICIENT_MARGIN' });
    expect(rejected(order({ clientOrderId: 'e', qty: 101, leverage: 2 }))).toMatchObject({ status: 'ACCEPTED' });
    // The working entry reserves 5,050: another on a different instrument needing 5,000 no longer fits.
    expect(rejected(order({ clientOrderId: 'f', symbol: 'ETH/USDT', qty: 50, leverage: 1 }))).toMatchObject({ status: 'REJECTED', reason: 'INSUFFICIENT_MARGIN' });
    expect(rejected(order({ clientOrderId: 'g', qty: 1 }))).toMatchObject({ status: 'REJECTED', reason: 'POSITION_OPEN' });
    expect(broker.step(O(order({ clientOrderId: 'e', qty: 101, leverage: 2 })))).toEqual([]);
    expect(broker.step(O(order({ clientOrderId: 'h', verdict: 'DENIED', denyReason: 'EXPOSURE_CAP', qty: 0 })))).toEqual([]);
  });
});

describe('PaperBroker: exits', () => {
  const opened = (): { broker: PaperBroker; outs: Outgoing[] } => {
    const broker = new PaperBroker({}, clock);
    const outs = run([O(order()), B(bar(1, 100, 101, 99.5, 100.5, 50))], broker);
    return { broker, outs };
  };

  it('fills a stop at its trigger in the bar that triggered it and closes the position', () => {
    const { broker } = opened();
    const outs = run([B(bar(2, 99, 99.2, 97.5, 98.1)), X(exit('STOP_LOSS', 2, 98, 1))], broker);
    const coid = deriveId('co-exit', 'co-1', 'STOP_LOSS', 0);
    expect(statuses(outs, coid)).toEqual(['SUBMITTED', 'ACCEPTED', 'FILLED']);
    const [f] = fills(outs);
    expect(f).toMatchObject({ side: 'SELL', purpose: 'STOP_LOSS', qty: 1, tsEvent: T0 + 2 * M });
    expect(f!.price).toBeCloseTo(97.9804, 10);
    expect(f!.fee).toBeCloseTo(0.03919216, 12);
    const flat = positions(outs).at(-1)!;
    expect(flat).toMatchObject({ side: 'FLAT', qty: 0, unrealizedPnl: 0, stopPrice: 0 });
    // (97.9804 - 100.02) - both fees.
    expect(flat.realizedPnl).toBeCloseTo(-2.0396 - 0.040008 - 0.03919216, 10);
    const e = equities(outs).at(-1)!;
    expect(e.openPositions).toBe(0);
    expect(e.equity).toBeCloseTo(10_000 - 2.11880016, 9);
    expect(e.realizedPnl).toBeCloseTo(-2.11880016, 10);
    expect(broker.snapshot().positions).toEqual([]);
  });

  it('fills at the open when the bar gaps through the stop', () => {
    const { broker } = opened();
    const outs = run([B(bar(2, 97, 97.5, 96.5, 97.2)), X(exit('STOP_LOSS', 2, 98, 1))], broker);
    expect(fills(outs)[0]!.price).toBeCloseTo(96.9806, 10);
  });

  it('gives the same fill when the exit arrives before its bar', () => {
    const a = opened();
    const b = opened();
    const late = run([B(bar(2, 99, 99.2, 97.5, 98.1)), X(exit('STOP_LOSS', 2, 98, 1))], a.broker);
    const early = run([X(exit('STOP_LOSS', 2, 98, 1)), B(bar(2, 99, 99.2, 97.5, 98.1))], b.broker);
    expect(fills(early)).toEqual(fills(late));
    expect(positions(early).at(-1)).toEqual(positions(late).at(-1));
    // Only difference: processed late, the bar first publishes its mark-to-market update of the still open position.
    expect(positions(late).map((p) => p.side)).toEqual(['LONG', 'FLAT']);
    expect(positions(early).map((p) => p.side)).toEqual(['FLAT']);
  });

  it('fills a take-profit at its target, or at the open above it on a gap, and keeps the rest open', () => {
    const { broker } = opened();
    const outs = run([B(bar(2, 103, 104, 102.8, 103.5)), X(exit('TAKE_PROFIT', 2, 102, 0.4))], broker);
    const [f] = fills(outs);
    expect(f!.price).toBeCloseTo(103 * 0.9998, 10);
    const p = positions(outs).at(-1)!;
    expect(p.qty).toBeCloseTo(0.6, 12);
    expect(p.realizedPnl).toBeCloseTo((103 * 0.9998 - 100.02) * 0.4 - 0.040008 - 103 * 0.9998 * 0.4 * 0.0004, 10);
    expect(p.unrealizedPnl).toBeCloseTo((103.5 - 100.02) * 0.6, 10);
  });

  it('limits an exit to the triggering bar volume and fills the rest at the next open', () => {
    const { broker } = opened();
    const outs = run([B(bar(2, 99, 99.2, 97.5, 98.1, 5)), X(exit('STOP_LOSS', 2, 98, 1)), B(bar(3, 97.9, 98.2, 97, 97.5, 50))], broker);
    const fs = fills(outs);
    expect(fs.map((f) => f.qty)).toEqual([0.5, 0.5]);
    expect(fs[0]!.price).toBeCloseTo(97.9804, 10);
    expect(fs[1]!.price).toBeCloseTo(97.9 * 0.9998, 10);
    expect(positions(outs).at(-1)!.side).toBe('FLAT');
  });

  it('caps a take-profit at the open quantity', () => {
    const { broker } = opened();
    const outs = run([B(bar(2, 101, 102.5, 100.5, 102)), X(exit('TAKE_PROFIT', 2, 102, 3))], broker);
    expect(orders(outs).find((o) => o.status === 'ACCEPTED')!.qty).toBe(1);
    expect(fills(outs)[0]!.qty).toBe(1);
  });

  it('on a stop, cancels the entry still working and closes what was filled', () => {
    const broker = new PaperBroker({}, clock);
    const outs = run([O(order()), B(bar(1, 100, 100.2, 97.5, 98, 4)), X(exit('STOP_LOSS', 1, 98, 0.4)), B(bar(2, 97.8, 98, 97, 97.5, 50))], broker);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'CANCELLED']);
    expect(orders(outs).find((o) => o.status === 'CANCELLED')!.reason).toBe('EXIT_TRIGGERED');
    // The entry used the whole 0.4 budget of bar 1, so the stop executes at the next open.
    const stop = fills(outs).filter((f) => f.purpose === 'STOP_LOSS');
    expect(stop).toHaveLength(1);
    expect(stop[0]!.qty).toBeCloseTo(0.4, 12);
    expect(stop[0]!.price).toBeCloseTo(97.8 * 0.9998, 10);
    expect(positions(outs).at(-1)!.side).toBe('FLAT');
  });

  it('cancels the unfilled rest of the entry when the first take-profit is accepted, so it never buys while the target sells', () => {
    const broker = new PaperBroker({}, clock);
    const outs = run([
      O(order()), B(bar(1, 100, 102.5, 99, 102, 4)), X(exit('TAKE_PROFIT', 1, 102, 0.16)), B(bar(2, 102.2, 103, 102, 102.5, 4)),
    ], broker);
    expect(statuses(outs)).toEqual(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'CANCELLED']);
    expect(orders(outs).find((o) => o.status === 'CANCELLED')).toMatchObject({ reason: 'EXIT_TRIGGERED', filledQty: 0.4, tsEvent: T0 + M });
    // Bar 1's volume went to the entry; the target takes bar 2's open, and the entry buys nothing more there.
    expect(fills(outs).map((f) => [f.purpose, f.side, f.tsEvent])).toEqual([['ENTRY', 'BUY', T0 + M], ['TAKE_PROFIT', 'SELL', T0 + 2 * M]]);
    expect(positions(outs).at(-1)!.qty).toBeCloseTo(0.24, 12);
    expect(broker.snapshot().workingOrders).toEqual([]);
  });

  it('accepts an entry whose margin equals the free margin up to rounding dust', () => {
    const broker = new PaperBroker({}, clock);
    expect(orders(broker.step(O(order({ qty: 100 * (1 + 1e-12), leverage: 1 })))).at(-1)).toMatchObject({ status: 'ACCEPTED' });
  });

  it('rejects an exit for a flat position, ignores a redelivered one and applies rule moves to the stop in force', () => {
    const broker = new PaperBroker({}, clock);
    const rej = run([X(exit('STOP_LOSS', 1, 98, 1))], broker);
    expect(orders(rej).map((o) => [o.status, o.reason])).toEqual([['SUBMITTED', ''], ['REJECTED', 'NO_POSITION']]);
    expect(run([X(exit('STOP_LOSS', 1, 98, 1))], broker)).toEqual([]);
    const { broker: b2 } = opened();
    expect(run([X(exit('STOP_TO_BREAK_EVEN', 1, 102, 0, { stopPrice: 100.02 }))], b2)).toEqual([]);
    expect(positions(run([B(bar(2, 100.5, 101, 100.1, 100.8))], b2))[0]!.stopPrice).toBe(100.02);
  });
});

describe('PaperBroker: shorts, equity points, determinism', () => {
  it('trades a short with linear PnL', () => {
    const broker = new PaperBroker({}, clock);
    const outs = run([
      O(order({ side: 'SELL', qty: 2, stopPrice: 102, takeProfits: [97] })),
      B(bar(1, 100, 100.5, 98.8, 99)),
      B(bar(2, 101, 102.5, 100.8, 102.2)),
      X(exit('STOP_LOSS', 2, 102, 2)),
    ], broker);
    const [entry, stop] = fills(outs);
    expect(entry).toMatchObject({ side: 'SELL', qty: 2 });
    expect(entry!.price).toBeCloseTo(99.98, 10);
    expect(entry!.fee).toBeCloseTo(0.079984, 12);
    expect(positions(outs)[0]).toMatchObject({ side: 'SHORT', qty: 2 });
    expect(positions(outs)[0]!.unrealizedPnl).toBeCloseTo((99.98 - 99) * 2, 10);
    expect(stop).toMatchObject({ side: 'BUY', qty: 2 });
    expect(stop!.price).toBeCloseTo(102.0204, 10);
    const gross = (99.98 - 102.0204) * 2;
    expect(positions(outs).at(-1)!.realizedPnl).toBeCloseTo(gross - 0.079984 - 102.0204 * 2 * 0.0004, 10);
  });

  it('emits equity on the first bar, on changes, while a position is open and on a new UTC day, not on idle bars', () => {
    const broker = new PaperBroker({ initialEquity: 5000 }, clock);
    const idle = (i: number): number => equities(broker.step(B(bar(i, 100, 101, 99, 100)))).length;
    expect(idle(1)).toBe(1);
    expect(idle(2)).toBe(0);
    const nextDay = Math.ceil((T0 + 3 * M) / 86_400_000) * 86_400_000;
    const e = equities(broker.step(B({ ...bar(3, 100, 101, 99, 100), tsEvent: nextDay, openTime: nextDay - M })));
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ equity: 5000, cash: 5000, openPositions: 0, drawdownDay: 0 });
  });

  it('tracks drawdown from the intraday peak', () => {
    const broker = new PaperBroker({}, clock);
    run([O(order({ qty: 10, leverage: 1 })), B(bar(1, 100, 101, 99.5, 110, 1000))], broker);
    const e = equities(broker.step(B(bar(2, 110, 110, 99, 100, 1000))))[0]!;
    const fee = 100.02 * 10 * 0.0004;
    const peak = 10_000 - fee + (110 - 100.02) * 10;
    const now = 10_000 - fee + (100 - 100.02) * 10;
    expect(e.drawdownDay).toBeCloseTo((peak - now) / peak, 12);
    expect(e.drawdownMax).toBeCloseTo((peak - now) / peak, 12);
  });

  it('ignores a redelivered bar and crashes on a corrupt price', () => {
    const broker = new PaperBroker({}, clock);
    run([O(order()), B(bar(1, 100, 101, 99, 100, 4))], broker);
    expect(broker.step(B(bar(1, 100, 101, 99, 100, 4)))).toEqual([]);
    expect(() => broker.step(B(bar(2, Number.NaN, 101, 99, 100)))).toThrow(/invariant/);
  });

  it('is deterministic and every message matches its Avro schema with a unique id', () => {
    const script = (): BrokerInput[] => [
      O(order()), B(bar(1, 100, 101, 99, 100, 4)), B(bar(2, 101, 102.5, 100, 102, 4)), X(exit('TAKE_PROFIT', 2, 102, 0.4)),
      B(bar(3, 102, 103, 101, 102.5, 4)), B(bar(4, 102, 102, 99, 99.5, 40)), X(exit('TRAILING_STOP', 4, 101.2, 0.6)),
    ];
    const a = run(script());
    const b = run(script());
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    for (const m of a) expect(() => codecFor(schemaOf(m.topic)).encode(m.value as never)).not.toThrow();
    const ids = a.map((m) => m.value.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(positions(a).at(-1)!.side).toBe('FLAT');
  });
});
