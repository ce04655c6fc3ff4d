import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';
import { ExposureBook, exposureBook } from './exposure-book.ts';

function pos(symbol: string, side: Position['side'], qty: number, markPrice: number, positionId = `co-${symbol}`): Position {
  return {
    id: `pos-${symbol}-${side}`,
    tsEvent: 0,
    tsInit: 0,
    exchange: 'binance',
    symbol,
    positionId,
    side,
    qty,
    avgEntry: markPrice,
    leverage: 1,
    markPrice,
    realizedPnl: 0,
    unrealizedPnl: 0,
    stopPrice: 0,
  };
}

function entry(status: OrderEvent['status'], filledQty: number, clientOrderId = 'co-1'): OrderEvent {
  return {
    id: `oe-${clientOrderId}-${status}`, tsEvent: 0, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', clientOrderId, venue: 'paper', status,
    purpose: 'ENTRY', side: 'BUY', type: 'MARKET', qty: 1, filledQty, avgPrice: 0, reason: '',
  };
}

describe('ExposureBook', () => {
  it('tracks open notional qty * mark per instrument and in total, and frees an instrument when its position goes flat', () => {
    const b = new ExposureBook(300_000);
    b.applyPosition(pos('BTC/USDT', 'LONG', 0.1, 40_000)); // 4 000
    b.applyPosition(pos('ETH/USDT', 'SHORT', 2, 2_500)); // 5 000
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: true, detail: 'position co-BTC/USDT open', notional: 4_000 });
    expect(b.total()).toBeCloseTo(9_000, 9);
    b.applyPosition(pos('BTC/USDT', 'FLAT', 0, 41_000));
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: false, detail: '', notional: 0 });
    expect(b.total()).toBeCloseTo(5_000, 9);
  });

  it('counts a pending entry without a known quantity until its position shows up, without counting it twice', () => {
    const b = new ExposureBook(300_000);
    b.addPending({ key: 'binance:BTC/USDT', clientOrderId: 'co-1', notional: 3_000, tsEvent: 1_000 });
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: true, detail: 'entry co-1 pending since 1000', notional: 3_000 });
    b.applyPosition(pos('BTC/USDT', 'LONG', 0.1, 30_000, 'co-1'));
    expect(b.instrument('binance:BTC/USDT').notional).toBeCloseTo(3_000, 9);
    expect(b.total()).toBeCloseTo(3_000, 9);
  });

  it('keeps counting the unfilled rest of a working entry after its first fill, until the order is FILLED', () => {
    const b = new ExposureBook(300_000);
    b.addPending({ key: 'binance:BTC/USDT', clientOrderId: 'co-1', notional: 3_000, tsEvent: 1_000, qty: 1, leverage: 3 });
    expect(b.usedMargin()).toBeCloseTo(1_000, 9);
    b.applyOrder(entry('PARTIALLY_FILLED', 0.4));
    b.applyPosition({ ...pos('BTC/USDT', 'LONG', 0.4, 3_000, 'co-1'), leverage: 3 }); // 1 200 open, 1 800 still working
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: true, detail: 'position co-1 open', notional: 3_000 });
    expect(b.total()).toBeCloseTo(3_000, 9);
    expect(b.usedMargin()).toBeCloseTo(400 + 600, 9);
    b.applyOrder(entry('FILLED', 1));
    b.applyPosition({ ...pos('BTC/USDT', 'LONG', 1, 3_100, 'co-1'), avgEntry: 3_000, leverage: 3 });
    expect(b.total()).toBeCloseTo(3_100, 9);
    expect(b.usedMargin()).toBeCloseTo(1_000, 9);
  });

  it('ends a pending entry at once when its order is REJECTED or CANCELLED unfilled; with a fill, when its position shows', () => {
    const b = new ExposureBook(300_000);
    const pend = (clientOrderId: string): void => b.addPending({ key: 'binance:BTC/USDT', clientOrderId, notional: 3_000, tsEvent: 0, qty: 1, leverage: 1 });
    pend('co-1');
    b.applyOrder(entry('ACCEPTED', 0));
    expect(b.instrument('binance:BTC/USDT').busy).toBe(true);
    b.applyOrder(entry('REJECTED', 0));
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: false, detail: '', notional: 0 });
    expect(b.usedMargin()).toBe(0);
    pend('co-2');
    b.applyOrder(entry('CANCELLED', 0, 'co-2'));
    expect(b.total()).toBe(0);
    pend('co-3');
    b.applyOrder(entry('FILLED', 1, 'co-3'));
    // Filled but its position not published yet: the instrument stays busy, with nothing left to fill.
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: true, detail: 'entry co-3 pending since 0', notional: 0 });
    b.applyPosition(pos('BTC/USDT', 'LONG', 1, 3_000, 'co-3'));
    expect(b.instrument('binance:BTC/USDT').detail).toBe('position co-3 open');
    b.applyPosition(pos('BTC/USDT', 'FLAT', 0, 3_000, 'co-3'));
    expect(b.instrument('binance:BTC/USDT').busy).toBe(false);
  });

  it('counts positions as margin qty * avgEntry / leverage', () => {
    const b = new ExposureBook(300_000);
    b.applyPosition({ ...pos('BTC/USDT', 'LONG', 0.1, 40_000), avgEntry: 38_000, leverage: 2 });
    expect(b.usedMargin()).toBeCloseTo(1_900, 9);
    expect(b.total()).toBeCloseTo(4_000, 9);
  });

  it('drops a pending entry older than the TTL', () => {
    const b = new ExposureBook(300_000);
    b.addPending({ key: 'binance:BTC/USDT', clientOrderId: 'co-1', notional: 3_000, tsEvent: 0 });
    b.expire(300_000); // exactly the TTL: still pending
    expect(b.instrument('binance:BTC/USDT').busy).toBe(true);
    b.expire(300_001);
    expect(b.instrument('binance:BTC/USDT').busy).toBe(false);
    expect(b.total()).toBe(0);
  });
});

describe('exposureBook operator (marbles)', () => {
  it('emits the total and the touched instrument after each input', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-c|', {
        a: { kind: 'pending' as const, entry: { key: 'binance:ETH/USDT', clientOrderId: 'co-e', notional: 1_000, tsEvent: 0 } },
        b: { kind: 'position' as const, position: pos('BTC/USDT', 'LONG', 1, 500) },
        c: { kind: 'pending' as const, entry: { key: 'binance:SOL/USDT', clientOrderId: 'co-s', notional: 200, tsEvent: 400_000 } }, // expires ETH's
      });
      expectObservable(src.pipe(exposureBook(300_000))).toBe('x-y-z|', {
        x: { total: 1_000, usedMargin: 1_000, key: 'binance:ETH/USDT', instrument: { busy: true, detail: 'entry co-e pending since 0', notional: 1_000 } },
        y: { total: 1_500, usedMargin: 1_500, key: 'binance:BTC/USDT', instrument: { busy: true, detail: 'position co-BTC/USDT open', notional: 500 } },
        z: { total: 700, usedMargin: 700, key: 'binance:SOL/USDT', instrument: { busy: true, detail: 'entry co-s pending since 400000', notional: 200 } },
      });
    });
  });
});
