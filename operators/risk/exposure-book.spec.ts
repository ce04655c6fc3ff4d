import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
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

  it('counts a pending entry until its position shows up, without counting it twice', () => {
    const b = new ExposureBook(300_000);
    b.addPending({ key: 'binance:BTC/USDT', clientOrderId: 'co-1', notional: 3_000, tsEvent: 1_000 });
    expect(b.instrument('binance:BTC/USDT')).toEqual({ busy: true, detail: 'entry co-1 pending since 1000', notional: 3_000 });
    b.applyPosition(pos('BTC/USDT', 'LONG', 0.1, 30_000, 'co-1'));
    expect(b.instrument('binance:BTC/USDT').notional).toBeCloseTo(3_000, 9);
    expect(b.total()).toBeCloseTo(3_000, 9);
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
        x: { total: 1_000, key: 'binance:ETH/USDT', instrument: { busy: true, detail: 'entry co-e pending since 0', notional: 1_000 } },
        y: { total: 1_500, key: 'binance:BTC/USDT', instrument: { busy: true, detail: 'position co-BTC/USDT open', notional: 500 } },
        z: { total: 700, key: 'binance:SOL/USDT', instrument: { busy: true, detail: 'entry co-s pending since 400000', notional: 200 } },
      });
    });
  });
});
