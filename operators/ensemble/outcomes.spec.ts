import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { OutcomeInputError, outcomes, OutcomeTracker, type BarClose, type OutcomeSpec, type PendingBar } from './outcomes.ts';

const MIN = 60_000;
const SPEC: OutcomeSpec = { horizonBars: 3, barMs: MIN, k: 0.5 };

function pending(i: number, close: number, over: Partial<PendingBar> = {}): PendingBar {
  return {
    featureId: `f${i}`,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    openTime: i * MIN,
    tsVote: i * MIN + MIN,
    close,
    vol: 0.01,
    volRegime: 'NORMAL',
    votes: [
      { member: 'xgb', modelVersion: 'v1', role: 'CHAMPION', pDown: 0.2, pFlat: 0.5, pUp: 0.3 },
      { member: 'ensemble', modelVersion: 'xgb@v1', role: 'CHAMPION', pDown: 0.2, pFlat: 0.5, pUp: 0.3 },
    ],
    ...over,
  };
}

function later(i: number, close: number, symbol = 'BTC/USDT'): BarClose {
  return { exchange: 'binance', symbol, openTime: i * MIN, close, tsEvent: i * MIN + MIN };
}

describe('OutcomeTracker', () => {
  it('resolves a bar with the bar H bars later: fwdRet = ln(close ratio), label by the vol band', () => {
    // band = 0.5 * 0.01 * sqrt(3) = 0.00866: ln(1.01) = 0.00995 is UP, ln(1.005) = 0.00499 FLAT, ln(0.99) DOWN.
    for (const [close, label] of [[101, 2], [100.5, 1], [99, 0]] as const) {
      const t = new OutcomeTracker(SPEC);
      const bar = pending(0, 100);
      t.add(bar);
      expect(t.observe(later(1, 100))).toEqual([]);
      expect(t.observe(later(2, 100))).toEqual([]);
      const [o, ...rest] = t.observe(later(3, close));
      expect(rest).toEqual([]);
      expect(o!.bar).toBe(bar);
      expect(o!.fwdRet).toBeCloseTo(Math.log(close / 100), 15);
      expect(o!.label).toBe(label);
      expect(o!.tsEvent).toBe(4 * MIN);
      expect(t.counts()).toEqual({ pending: 0, resolved: 1, dropped: 0, ignored: 0 });
    }
  });

  it('scales the band with the bar own volatility', () => {
    const t = new OutcomeTracker(SPEC);
    t.add(pending(0, 100, { vol: 0.02 })); // band 0.0173: a 1% rise is FLAT
    expect(t.observe(later(3, 101))[0]!.label).toBe(1);
  });

  it('in a loop (observe each bar, then add it) resolves bar i - H at bar i and holds at most H + 1 bars', () => {
    const t = new OutcomeTracker(SPEC);
    const resolved: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const o of t.observe(later(i, 100 + i))) resolved.push(`${o.bar.featureId}@${i}`);
      t.add(pending(i, 100 + i));
      expect(t.counts().pending).toBeLessThanOrEqual(SPEC.horizonBars + 1);
    }
    expect(resolved).toEqual(['f0@3', 'f1@4', 'f2@5', 'f3@6', 'f4@7', 'f5@8', 'f6@9']);
    expect(t.counts()).toEqual({ pending: 3, resolved: 7, dropped: 0, ignored: 0 });
  });

  it('drops and counts bars whose outcome bar fell into a gap', () => {
    const t = new OutcomeTracker(SPEC);
    for (let i = 0; i <= 3; i++) {
      t.observe(later(i, 100));
      t.add(pending(i, 100));
    }
    // bars 4..6 are missing: 1, 2 and 3 would resolve at 4, 5 and 6; bar 0 resolved at 3.
    expect(t.observe(later(7, 100))).toEqual([]);
    expect(t.counts()).toEqual({ pending: 0, resolved: 1, dropped: 3, ignored: 0 });
  });

  it('resolves across a gap when the outcome bar itself arrives', () => {
    const t = new OutcomeTracker(SPEC);
    t.add(pending(0, 100));
    t.add(pending(2, 100));
    // 1 is missing; bar 3 resolves bar 0; bar 5 resolves bar 2.
    expect(t.observe(later(3, 101)).map((o) => o.bar.featureId)).toEqual(['f0']);
    expect(t.observe(later(5, 99)).map((o) => [o.bar.featureId, o.label])).toEqual([['f2', 0]]);
  });

  it('keeps instruments apart', () => {
    const t = new OutcomeTracker(SPEC);
    t.add(pending(0, 100));
    t.add(pending(0, 50, { symbol: 'ETH/USDT', featureId: 'e0' }));
    expect(t.observe(later(3, 60, 'ETH/USDT')).map((o) => [o.bar.featureId, o.label])).toEqual([['e0', 2]]);
    expect(t.observe(later(3, 100)).map((o) => [o.bar.featureId, o.label])).toEqual([['f0', 1]]);
    expect(t.observe(later(3, 100, 'SOL/USDT'))).toEqual([]);
  });

  it('ignores a redelivered or out-of-order bar', () => {
    const t = new OutcomeTracker(SPEC);
    expect(t.add(pending(1, 100))).toBe(true);
    expect(t.add(pending(1, 100))).toBe(false);
    expect(t.add(pending(0, 100))).toBe(false);
    expect(t.counts()).toEqual({ pending: 1, resolved: 0, dropped: 0, ignored: 2 });
  });

  it('bounds its queue at H + 1 when bars are added without being observed', () => {
    const t = new OutcomeTracker(SPEC);
    for (let i = 0; i < 6; i++) t.add(pending(i, 100));
    expect(t.counts()).toEqual({ pending: 4, resolved: 0, dropped: 2, ignored: 0 });
    // bars 0 and 1 are gone; bar 2 resolves at 5.
    expect(t.observe(later(5, 100)).map((o) => o.bar.featureId)).toEqual(['f2']);
  });

  it('refuses an unusable spec or bar', () => {
    expect(() => new OutcomeTracker({ ...SPEC, horizonBars: 0 })).toThrow(OutcomeInputError);
    expect(() => new OutcomeTracker({ ...SPEC, barMs: Number.NaN })).toThrow(OutcomeInputError);
    const t = new OutcomeTracker(SPEC);
    expect(() => t.add(pending(0, 0))).toThrow(OutcomeInputError);
    expect(() => t.add(pending(0, 100, { vol: Number.NaN }))).toThrow(OutcomeInputError);
    t.add(pending(0, 100));
    const err = (() => {
      try {
        t.observe(later(3, -1));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OutcomeInputError);
    expect(err).toMatchObject({ retriable: false, field: 'close' });
  });
});

describe('outcomes operator (marbles)', () => {
  it('emits the outcomes in order, with state per subscription', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const b0 = pending(0, 100);
      const b1 = pending(1, 100);
      const ev = {
        a: { kind: 'pending' as const, bar: b0 },
        b: { kind: 'pending' as const, bar: b1 },
        c: { kind: 'observe' as const, bar: later(3, 102) },
        d: { kind: 'observe' as const, bar: later(4, 98) },
      };
      const source = cold('ab-c-d|', ev);
      const x = { bar: b0, fwdRet: Math.log(102 / 100), label: 2, tsEvent: 4 * MIN };
      const y = { bar: b1, fwdRet: Math.log(98 / 100), label: 0, tsEvent: 5 * MIN };
      expectObservable(source.pipe(outcomes(SPEC))).toBe('---x-y|', { x, y });
      // A second subscription starts from nothing.
      expectObservable(cold('-c|', ev).pipe(outcomes(SPEC))).toBe('--|');
    });
  });

  it('refuses a bad spec when built', () => {
    expect(() => outcomes({ ...SPEC, k: -1 })).toThrow(OutcomeInputError);
  });
});
