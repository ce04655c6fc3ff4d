import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { RealizedVolatility, realizedVolatility } from './realized-volatility.ts';

describe('realizedVolatility', () => {
  it('is NaN until n returns are known, 0 on a flat market (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('abcd|', { a: 5, b: 5, c: 5, d: 5 });
      expectObservable(src.pipe(realizedVolatility(2))).toBe('abcd|', { a: Number.NaN, b: Number.NaN, c: 0, d: 0 });
    });
  });

  it('matches a hand computation: returns log 2, log 2, 0', () => {
    const k = new RealizedVolatility(2);
    const out = [1, 2, 4, 4].map((c) => k.update(c));
    expect(out[0]).toBeNaN();
    expect(out[1]).toBeNaN();
    expect(out[2]).toBe(0); // [log 2, log 2]
    expect(out[3]).toBeCloseTo(Math.log(2) / 2, 12); // [log 2, 0]: mean log2/2, deviations +-log2/2
  });

  it('matches the std of the last 30 one-bar log returns over a longer series', () => {
    const closes = Array.from({ length: 120 }, (_, i) => 100 * Math.exp(0.01 * Math.sin(i * 1.3) + i / 500));
    const r = closes.map((c, i) => (i === 0 ? Number.NaN : Math.log(c / closes[i - 1]!)));
    const k = new RealizedVolatility(30);
    closes.forEach((c, t) => {
      const got = k.update(c);
      if (t < 30) return expect(got).toBeNaN();
      const w = r.slice(t - 29, t + 1);
      const m = w.reduce((a, b) => a + b, 0) / 30;
      expect(got).toBeCloseTo(Math.sqrt(w.reduce((a, b) => a + (b - m) ** 2, 0) / 30), 12);
    });
  });
});
