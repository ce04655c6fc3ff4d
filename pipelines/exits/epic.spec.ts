import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { exitsEpic } from './epic.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 4, 6, 10, 0);

const order: RiskOrder = {
  id: 'ro', tsEvent: T0, tsInit: 0, exchange: 'binance', symbol: 'SOL/USDT', decisionId: 'd', clientOrderId: 'co-s', verdict: 'APPROVED',
  denyReason: 'NONE', denyDetail: '', side: 'SELL', qty: 3, leverage: 2, refPrice: 150, stopPrice: 153, takeProfits: [147],
  riskFraction: 0.01, equity: 1000, mode: 'NORMAL', confidence: 0.7,
};
const bar = (i: number, high: number, low: number): Bar => ({
  id: `b${i}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'SOL/USDT', interval: '1m', openTime: T0 + (i - 1) * M,
  open: low, high, low, close: high, volume: 10, quoteVolume: 0, buyVolume: 0, trades: 1,
});
const position: Position = {
  id: 'p1', tsEvent: T0 + M, tsInit: 0, exchange: 'binance', symbol: 'SOL/USDT', positionId: 'co-s', side: 'SHORT', qty: 3, avgEntry: 150,
  leverage: 2, markPrice: 150, realizedPnl: 0, unrealizedPnl: 0, stopPrice: 153,
};

describe('exitsEpic', () => {
  it('publishes a short position’s stop to exit.events.v1 keyed by instrument', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ hot, expectObservable }) => {
      const orders = hot<RiskOrder>('o------', { o: order });
      const bars = hot<Bar>('--a---b', { a: bar(1, 150.5, 149.5), b: bar(2, 153.2, 151) });
      const positions = hot<Position>('----p--', { p: position });
      const out$ = exitsEpic({ orders, positions, bars }, { scheduler: ts });
      expectObservable(out$).toBe('------x', {
        x: {
          topic: 'exit.events.v1',
          key: 'binance:SOL/USDT',
          value: expect.objectContaining({ kind: 'STOP_LOSS', qty: 3, triggerPrice: 153, tsEvent: T0 + 2 * M, tsInit: 6 }),
        },
      });
    });
  });
});
