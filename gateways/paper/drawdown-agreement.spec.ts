import { describe, expect, it } from 'vitest';
import { haltAt, initialHaltState, stepHalt, type HaltState } from '../../operators/risk/drawdown-halt.ts';
import type { Bar } from '../../schemas/bar.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { DrawdownTracker } from './account.ts';
import { printOfBar } from './market-print.ts';
import { PaperBroker, type BrokerInput } from './paper-broker.ts';

const M = 60_000;
/** Monday 2025-05-12 00:00 UTC: a new day and a new ISO week. */
const MONDAY = Date.UTC(2025, 4, 12);

describe('one drawdown clock for the broker and the risk halt', () => {
  it('both count the loss of the bar stamped 00:00 in the new day (10 000 -> 8 400: 16%, not 0)', () => {
    const tracker = new DrawdownTracker(10_000);
    tracker.update(MONDAY - M, 10_000);
    const broker = tracker.update(MONDAY, 8_400);
    const halt = [[MONDAY - M, 10_000], [MONDAY, 8_400]].reduce((s, [t, e]) => stepHalt(s, { tsEvent: t!, equity: e! }), initialHaltState());
    expect(broker.day).toBeCloseTo(0.16, 12);
    expect(broker.week).toBeCloseTo(0.16, 12);
    expect(halt.drawdownDay).toBe(broker.day);
    expect(halt.drawdownWeek).toBe(broker.week);
    expect(haltAt(halt, MONDAY + 1).daily).toBe(true);
  });

  it('Equity.drawdownDay/Week from the paper broker equal the risk halt state on the same equity path across Sunday -> Monday', () => {
    const bar = (t: number, open: number, close: number): BrokerInput => {
      const b: Bar = {
        id: `bar-${t}`, tsEvent: t, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', interval: '1m', openTime: t - M,
        open, high: Math.max(open, close), low: Math.min(open, close), close, volume: 10_000, quoteVolume: 0, buyVolume: 0, trades: 1,
      };
      return { kind: 'print', print: printOfBar(b) };
    };
    const t0 = MONDAY - 10 * M;
    const order: RiskOrder = {
      id: 'ro-1', tsEvent: t0, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', decisionId: 'd-1', clientOrderId: 'co-1',
      verdict: 'APPROVED', denyReason: 'NONE', denyDetail: '', side: 'BUY', qty: 50, leverage: 1, refPrice: 100, stopPrice: 50,
      takeProfits: [200], riskFraction: 0.01, equity: 10_000, mode: 'NORMAL', confidence: 0.8,
    };
    // Sunday: up to a peak at 23:58, down at 23:59; the bar stamped Monday 00:00 (Sunday's last minute) falls hard.
    const closes = [100, 104, 106, 103, 101, 102, 105, 108, 104, 84, 90, 80];
    const inputs: BrokerInput[] = [bar(t0, 100, 100), { kind: 'order', order }, ...closes.map((c, i) => bar(t0 + (i + 1) * M, i === 0 ? 100 : closes[i - 1]!, c))];
    const broker = new PaperBroker({}, { now: () => 0 });
    const equities = inputs.flatMap((i) => broker.step(i)).filter((m) => m.topic === 'pos.equity.v1').map((m) => m.value as Equity);
    expect(equities.length).toBeGreaterThan(10);
    let halt: HaltState = initialHaltState();
    for (const e of equities) {
      halt = stepHalt(halt, e);
      expect([e.tsEvent, e.drawdownDay, e.drawdownWeek]).toEqual([e.tsEvent, halt.drawdownDay, halt.drawdownWeek]);
    }
    const atMidnight = equities.find((e) => e.tsEvent === MONDAY)!;
    const before = equities.find((e) => e.tsEvent === MONDAY - M)!;
    // The new day and week start from Sunday 23:59's equity, not from the 00:00 point itself.
    expect(atMidnight.drawdownDay).toBeCloseTo(1 - atMidnight.equity / before.equity, 12);
    expect(atMidnight.drawdownDay).toBeGreaterThan(0.05);
    expect(atMidnight.drawdownWeek).toBe(atMidnight.drawdownDay);
  });
});
