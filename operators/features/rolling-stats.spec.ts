import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { RollingStats, rollingStd } from './rolling-stats.ts';

describe('rollingStd', () => {
  it('emits NaN until the window is full, then the population std (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      // n = 2: [1,3] -> mean 2, std 1; [3,3] -> 0; [3,7] -> mean 5, std 2
      const src = cold('abcd|', { a: 1, b: 3, c: 3, d: 7 });
      expectObservable(src.pipe(rollingStd(2))).toBe('abcd|', { a: Number.NaN, b: 1, c: 0, d: 2 });
    });
  });

  it('matches mean and std computed from the last n values after the ring wraps', () => {
    const xs = Array.from({ length: 100 }, (_, i) => ((i * 7919) % 101) / 3 + 1000);
    const s = new RollingStats(30);
    xs.forEach((x, t) => {
      s.push(x);
      if (t < 29) {
        expect(s.full).toBe(false);
        expect(s.std).toBeNaN();
        return;
      }
      const w = xs.slice(t - 29, t + 1);
      const mean = w.reduce((a, b) => a + b, 0) / 30;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / 30);
      expect(s.full).toBe(true);
      expect(s.mean).toBeCloseTo(mean, 9);
      expect(s.std).toBeCloseTo(std, 9);
    });
  });

  it('depends only on the window: the same last n values give the same bits whatever came before', () => {
    const a = new RollingStats(5);
    const b = new RollingStats(5);
    for (const x of [1e9, -3e8, 0.1, 7]) a.push(x);
    for (const x of [2, 4, 6, 8, 10]) {
      a.push(x);
      b.push(x);
    }
    expect([a.mean, a.std]).toEqual([b.mean, b.std]);
  });

  it('gives exactly 0 for equal values whose sum does not round-trip (0.1 x 30)', () => {
    const s = new RollingStats(30);
    for (let i = 0; i < 30; i++) s.push(0.1);
    expect(s.std).toBe(0);
  });
});
