import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import type { ExitEvent } from '../../schemas/exit-event.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { DEFAULT_EXIT_RULES, type ExitInput } from './exit-book.ts';
import { exitRules } from './exit-rules.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 4, 6, 10, 0);

const bar = (i: number, high: number, low: number): ExitInput => {
  const b: Bar = {
    id: `bar-${i}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'ETH/USDT', interval: '1m', openTime: T0 + (i - 1) * M,
    open: (high + low) / 2, high, low, close: (high + low) / 2, volume: 100, quoteVolume: 0, buyVolume: 0, trades: 1,
  };
  return { kind: 'bar', bar: b };
};
const order: ExitInput = {
  kind: 'order',
  order: {
    id: 'ro', tsEvent: T0, tsInit: 0, exchange: 'binance', symbol: 'ETH/USDT', decisionId: 'd', clientOrderId: 'co-9', verdict: 'APPROVED',
    denyReason: 'NONE', denyDetail: '', side: 'BUY', qty: 2, leverage: 3, refPrice: 50, stopPrice: 49, takeProfits: [51, 52, 53],
    riskFraction: 0.01, equity: 1000, mode: 'NORMAL', confidence: 0.7,
  } satisfies RiskOrder,
};
const pos = (i: number, qty: number): ExitInput => ({
  kind: 'position',
  position: {
    id: `p-${i}-${qty}`, tsEvent: T0 + i * M, tsInit: 0, exchange: 'binance', symbol: 'ETH/USDT', positionId: 'co-9', side: qty > 0 ? 'LONG' : 'FLAT',
    qty, avgEntry: 50, leverage: 3, markPrice: 50, realizedPnl: 0, unrealizedPnl: 0, stopPrice: 49,
  } satisfies Position,
});

function ev(kind: ExitEvent['kind'], level: number, tsInit: number, i: number, triggerPrice: number, qty: number, stopPrice: number): ExitEvent {
  return {
    id: deriveId('exit', 'co-9', kind, level), tsEvent: T0 + i * M, tsInit, exchange: 'binance', symbol: 'ETH/USDT', positionId: 'co-9', kind, level,
    triggerPrice, qty, stopPrice, clientOrderId: qty > 0 ? deriveId('co-exit', 'co-9', kind, level) : '',
  };
}

describe('exitRules', () => {
  it('emits the stop at the frame of the bar that touches it, stamped with the scheduler time', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold<ExitInput>('o-b-p-c-d|', { o: order, b: bar(1, 50.5, 49.5), p: pos(1, 2), c: bar(2, 50.2, 49.6), d: bar(3, 49.5, 48.9) });
      expectObservable(src.pipe(exitRules({ scheduler: ts }))).toBe('--------s|', { s: ev('STOP_LOSS', 0, 8, 3, 49, 2, 49) });
    });
  });

  it('emits target, break-even and trailing arm together, then the trailing stop; nothing after the position is flat', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold<ExitInput>('ob-p-t-----q-u-f-x|', {
        o: order, b: bar(1, 50.5, 49.5), p: pos(1, 2), t: bar(2, 51.5, 50.6), q: pos(2, 1.2), u: bar(3, 51.6, 51), f: pos(3, 0), x: bar(4, 51, 40),
      });
      // best 51.5 -> trail 51.088 (> break-even 50 plus the default cost offset): bar 3's low 51 touches it.
      expectObservable(src.pipe(exitRules({ scheduler: ts }))).toBe('-----(abc)---d----|', {
        a: ev('TAKE_PROFIT', 1, 5, 2, 51, 0.8, 49),
        b: ev('STOP_TO_BREAK_EVEN', 0, 5, 2, 51, 0, 50 * (1 + DEFAULT_EXIT_RULES.breakEvenOffsetBps / 10_000)),
        c: ev('TRAILING_ARMED', 0, 5, 2, 51, 0, 51.5 * 0.992),
        d: ev('TRAILING_STOP', 0, 13, 3, 51.5 * 0.992, 1.2, 51.5 * 0.992),
      });
    });
  });

  it('keeps separate state per subscription', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold<ExitInput>('obpd|', { o: order, b: bar(1, 50.5, 49.5), p: pos(1, 2), d: bar(2, 49.5, 48.9) });
      const op = exitRules({ scheduler: ts });
      const expected = { s: ev('STOP_LOSS', 0, 3, 2, 49, 2, 49) };
      expectObservable(src.pipe(op)).toBe('---s|', expected);
      expectObservable(src.pipe(op)).toBe('---s|', expected);
    });
  });
});
