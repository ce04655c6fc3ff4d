import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { Rsi, rsi } from './rsi.ts';

describe('rsi', () => {
  it('seeds with the mean gain and loss, then smooths the Wilder way (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      // period 2. changes +2, -1: avgGain 1, avgLoss 0.5, RS 2.
      // change 0: avgGain (1 + 0) / 2 = 0.5, avgLoss 0.25, RS 2.  change +2: avgGain 1.25, avgLoss 0.125, RS 10.
      const src = cold('abcde|', { a: 10, b: 12, c: 11, d: 11, e: 13 });
      const r2 = 100 - 100 / 3;
      expectObservable(src.pipe(rsi(2))).toBe('abcde|', { a: Number.NaN, b: Number.NaN, c: r2, d: r2, e: 100 - 100 / 11 });
    });
  });

  it('matches a hand computation with period 3', () => {
    // changes +1 +1 -1 | +2 | 0
    // seed: gain 2/3, loss 1/3 -> RS 2 -> 66.67; then gain (2/3*2 + 2)/3 = 10/9, loss (1/3*2)/3 = 2/9 -> RS 5 -> 83.33
    // then gain (10/9*2)/3 = 20/27, loss (2/9*2)/3 = 4/27 -> RS 5 -> 83.33
    const k = new Rsi(3);
    const got = [10, 11, 12, 11, 13, 13].map((c) => k.update(c));
    expect(got.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(got[3]).toBeCloseTo(200 / 3, 10);
    expect(got[4]).toBeCloseTo(500 / 6, 10);
    expect(got[5]).toBeCloseTo(500 / 6, 10);
  });

  it('is 100 with only gains, 0 with only losses, 50 when the price does not move', () => {
    const up = new Rsi(14);
    const down = new Rsi(14);
    const flat = new Rsi(14);
    let u = 0;
    let d = 0;
    let f = 0;
    for (let i = 0; i < 30; i++) {
      u = up.update(100 + i);
      d = down.update(100 - i);
      f = flat.update(100);
    }
    expect([u, d, f]).toEqual([100, 0, 50]);
  });

  it('gives its first value with close number period + 1', () => {
    const k = new Rsi(14);
    const out = Array.from({ length: 16 }, (_, i) => k.update(100 + (i % 3)));
    expect(out.findIndex((x) => !Number.isNaN(x))).toBe(14);
  });
});
