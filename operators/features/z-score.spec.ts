import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ZScore, zScore } from './z-score.ts';

describe('zScore', () => {
  it('is NaN for n - 1 values, then (x - mean) / std (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      // n = 2: [1,3] -> (3 - 2) / 1 = 1; [3,3] -> std 0 -> 0; [3,7] -> (7 - 5) / 2 = 1; [7,1] -> (1 - 4) / 3 = -1
      const src = cold('abcde|', { a: 1, b: 3, c: 3, d: 7, e: 1 });
      expectObservable(src.pipe(zScore(2))).toBe('abcde|', { a: Number.NaN, b: 1, c: 0, d: 1, e: -1 });
    });
  });

  it('matches a hand computation with n = 3', () => {
    // [1,2,3]: mean 2, std sqrt(2/3), z(3) = 1 / sqrt(2/3) = sqrt(1.5)
    // [2,3,7]: mean 4, std sqrt((4 + 1 + 9) / 3), z(7) = 3 / sqrt(14/3)
    const k = new ZScore(3);
    const out = [1, 2, 3, 7].map((x) => k.update(x));
    expect(out[2]).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(out[3]).toBeCloseTo(3 / Math.sqrt(14 / 3), 12);
  });

  it('is 0, not noise, over 30 equal volumes (including 30 empty minutes)', () => {
    const a = new ZScore(30);
    const b = new ZScore(30);
    let za = Number.NaN;
    let zb = Number.NaN;
    for (let i = 0; i < 30; i++) {
      za = a.update(0.1);
      zb = b.update(0);
    }
    expect([za, zb]).toEqual([0, 0]);
  });
});
