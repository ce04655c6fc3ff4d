import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { LogReturn, logReturn } from './log-return.ts';

describe('logReturn', () => {
  it('emits NaN for the first `horizon` closes, then log(c_t / c_{t-h}) (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('abcde|', { a: 1, b: 2, c: 4, d: 8, e: 2 });
      // horizon 2: log(4/1), log(8/2), log(2/4)
      expectObservable(src.pipe(logReturn(2))).toBe('abcde|', { a: Number.NaN, b: Number.NaN, c: Math.log(4), d: Math.log(4), e: Math.log(0.5) });
    });
  });

  it('looks back exactly h closes after the ring wraps many times', () => {
    const closes = Array.from({ length: 200 }, (_, i) => 50 + ((i * 37) % 23) + i / 10);
    for (const h of [1, 5, 15, 60]) {
      const k = new LogReturn(h);
      closes.forEach((c, t) => {
        const got = k.update(c);
        if (t < h) expect(got).toBeNaN();
        else expect(got).toBe(Math.log(c / closes[t - h]!));
      });
    }
  });

  it('refuses a horizon that is not a positive integer', () => {
    expect(() => new LogReturn(0)).toThrow(RangeError);
  });
});
