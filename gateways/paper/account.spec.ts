import { describe, expect, it } from 'vitest';
import { Account, DrawdownTracker, type OpenPosition } from './account.ts';

const H = 3_600_000;

function pos(over: Partial<OpenPosition> = {}): OpenPosition {
  return {
    positionId: 'p1', exchange: 'binance', symbol: 'BTC/USDT', key: 'binance:BTC/USDT', dir: 1, leverage: 5, qty: 0,
    entryFilled: 0, avgEntry: 0, mark: 0, realizedGross: 0, fees: 0, stopPrice: 0, ...over,
  };
}

describe('DrawdownTracker', () => {
  it('measures day and week drawdowns from the start equity or the peak since, and the max from the all-time peak', () => {
    const dd = new DrawdownTracker(100);
    const wed = Date.UTC(2025, 4, 7);
    // Equity at the day start is the initial 100; the peak 110 becomes the reference.
    expect(dd.update(wed + 10 * H, 110)).toEqual({ day: 0, week: 0, max: 0 });
    const a = dd.update(wed + 11 * H, 99);
    expect(a.day).toBeCloseTo(11 / 110, 12);
    expect(a.week).toBeCloseTo(11 / 110, 12);
    expect(a.max).toBeCloseTo(0.1, 12);
    // A point stamped exactly at midnight closes the last bar of Wednesday: its loss counts in Thursday, from the 99 carried in.
    const b = dd.update(wed + 24 * H, 95);
    expect(b.day).toBeCloseTo(4 / 99, 12);
    expect(b.week).toBeCloseTo(15 / 110, 12);
    expect(b.max).toBeCloseTo(15 / 110, 12);
    const c = dd.update(wed + 29 * H, 90.25);
    expect(c.day).toBeCloseTo(1 - 90.25 / 99, 12);
    expect(c.max).toBeCloseTo(19.75 / 110, 12);
    // Friday, not on the boundary: the day starts from the last equity before it (90.25).
    const d = dd.update(wed + 48 * H + 5 * H, 99);
    expect(d.day).toBe(0);
    expect(d.week).toBeCloseTo(11 / 110, 12);
    // Recovery does not shrink the max drawdown.
    expect(d.max).toBeCloseTo(19.75 / 110, 12);
    // Next Monday 01:00: a new week starts from the last equity (99).
    const e = dd.update(Date.UTC(2025, 4, 12, 1), 94.05);
    expect(e.week).toBeCloseTo(0.05, 12);
    expect(e.day).toBeCloseTo(0.05, 12);
  });

  it('caps drawdowns at 1 when equity goes negative', () => {
    const dd = new DrawdownTracker(100);
    expect(dd.update(Date.UTC(2025, 4, 7, 1), -5)).toEqual({ day: 1, week: 1, max: 1 });
  });
});

describe('Account', () => {
  it('averages entries, realises linear PnL on reductions and keeps cash = initial + realised - fees', () => {
    const a = new Account(1000);
    const p = pos();
    a.increase(p, 1, 100, 0.04);
    a.increase(p, 3, 104, 0.1248);
    expect(p.avgEntry).toBeCloseTo(103, 12);
    expect(p.qty).toBe(4);
    p.mark = 105;
    expect(a.unrealized()).toBeCloseTo(8, 12);
    expect(a.exposure()).toBeCloseTo(420, 12);
    expect(a.usedMargin()).toBeCloseTo((4 * 103) / 5, 12);
    expect(a.reduce(p, 2, 101, 0.0808)).toBeCloseTo(-4, 12);
    expect(a.cash()).toBeCloseTo(1000 - 4 - 0.04 - 0.1248 - 0.0808, 12);
    expect(a.equity()).toBeCloseTo(a.cash() + 2 * (105 - 103), 12);
    a.close(p);
    expect(a.positions.size).toBe(0);
  });

  it('books a short with PnL = (entry - exit) * qty', () => {
    const a = new Account(1000);
    const p = pos({ dir: -1 });
    a.increase(p, 2, 50, 0);
    p.mark = 48;
    expect(a.unrealized()).toBeCloseTo(4, 12);
    expect(a.reduce(p, 2, 51, 0)).toBeCloseTo(-2, 12);
  });
});
