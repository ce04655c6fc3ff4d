import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { Atr, atr } from './atr.ts';

const b = (high: number, low: number, close: number) => ({ high, low, close });

describe('atr', () => {
  it('uses the previous close in the true range and smooths the Wilder way (marbles)', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      // period 2. TR1 = max(2, |11-9|, |9-9|) = 2; TR2 = max(3, |13-10|, |10-10|) = 3 -> ATR (2 + 3) / 2 = 2.5
      // TR3 (prev close 12) = max(1, 0, 1) = 1 -> (2.5 + 1) / 2 = 1.75
      // TR4 (gap up, prev close 11.5) = max(1, 8.5, 7.5) = 8.5 -> (1.75 + 8.5) / 2 = 5.125
      const src = cold('abcde|', { a: b(10, 8, 9), b: b(11, 9, 10), c: b(13, 10, 12), d: b(12, 11, 11.5), e: b(20, 19, 19.5) });
      expectObservable(src.pipe(atr(2))).toBe('abcde|', { a: Number.NaN, b: Number.NaN, c: 2.5, d: 1.75, e: 5.125 });
    });
  });

  it('matches the textbook definition over a longer series with period 14', () => {
    const bars = Array.from({ length: 60 }, (_, i) => {
      const c = 100 + 5 * Math.sin(i / 4) + (i % 7);
      return b(c + 1 + (i % 3), c - 1 - (i % 2), c);
    });
    const tr = bars.map((x, i) => (i === 0 ? Number.NaN : Math.max(x.high - x.low, Math.abs(x.high - bars[i - 1]!.close), Math.abs(x.low - bars[i - 1]!.close))));
    const expected: number[] = [];
    for (let i = 0; i < bars.length; i++) {
      if (i < 14) expected.push(Number.NaN);
      else if (i === 14) expected.push(tr.slice(1, 15).reduce((s, x) => s + x, 0) / 14);
      else expected.push((expected[i - 1]! * 13 + tr[i]!) / 14);
    }
    const k = new Atr(14);
    bars.forEach((x, i) => {
      const got = k.update(x.high, x.low, x.close);
      if (i < 14) expect(got).toBeNaN();
      else expect(got).toBeCloseTo(expected[i]!, 10);
    });
  });
});
