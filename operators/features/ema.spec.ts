import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { Ema, ema } from './ema.ts';

const NaN_ = Number.NaN;

describe('ema', () => {
  it('emits NaN while warming up, then the SMA seed, then the recursion (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      // period 3: alpha = 0.5; seed (1 + 2 + 3) / 3 = 2; then 2 + 0.5 (4 - 2) = 3; 3 + 0.5 (8 - 3) = 5.5.
      const src = cold('a-b-c-d-e|', { a: 1, b: 2, c: 3, d: 4, e: 8 });
      expectObservable(src.pipe(ema(3))).toBe('a-b-c-d-e|', { a: NaN_, b: NaN_, c: 2, d: 3, e: 5.5 });
    });
  });

  it('matches values worked out by hand', () => {
    // period 2: alpha = 2/3; seed (3 + 6) / 2 = 4.5; then 4.5 + 2/3 (9 - 4.5) = 7.5; 7.5 + 2/3 (0 - 7.5) = 2.5.
    const k = new Ema(2);
    const out = [3, 6, 9, 0].map((x) => k.update(x));
    expect(out[0]).toBeNaN();
    expect(out[1]).toBe(4.5);
    expect(out[2]).toBeCloseTo(7.5, 12);
    expect(out[3]).toBeCloseTo(2.5, 12);
  });

  it('matches the textbook definition on a longer series', () => {
    const xs = Array.from({ length: 80 }, (_, i) => 100 + 10 * Math.sin(i / 3) + i / 7);
    const p = 12;
    const alpha = 2 / (p + 1);
    const expected: number[] = [];
    let e = Number.NaN;
    for (let i = 0; i < xs.length; i++) {
      if (i < p - 1) expected.push(Number.NaN);
      else if (i === p - 1) expected.push((e = xs.slice(0, p).reduce((s, x) => s + x, 0) / p));
      else expected.push((e = alpha * xs[i]! + (1 - alpha) * e));
    }
    const k = new Ema(p);
    xs.forEach((x, i) => {
      const got = k.update(x);
      if (i < p - 1) expect(got).toBeNaN();
      else expect(got).toBeCloseTo(expected[i]!, 10);
    });
  });

  it('refuses a period that is not a positive integer', () => {
    expect(() => new Ema(0)).toThrow(RangeError);
    expect(() => new Ema(2.5)).toThrow(RangeError);
  });
});
