import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { forwardReturns } from './forward-returns.ts';

const M = 60_000;
const vec = (symbol: string, minute: number, close: number): FeatureVector => ({
  id: `feat-${symbol}-${minute}`,
  tsEvent: (minute + 1) * M,
  tsInit: 0,
  exchange: 'binance',
  symbol,
  barId: `bar-${symbol}-${minute}`,
  openTime: minute * M,
  close,
  featureSet: 'fs1',
  values: [],
  windowLength: 0,
  windowChannels: 0,
  window: [],
});
const ts = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('forwardReturns', () => {
  it('emits each vector with log(close[t+H] / close[t]) once the bar H later arrives, the rest with null at the end', () => {
    ts().run(({ cold, expectObservable }) => {
      const v = { a: vec('X', 0, 100), b: vec('X', 1, 110), c: vec('X', 2, 121), d: vec('X', 3, 99) };
      expectObservable(cold('abcd|', v).pipe(forwardReturns(2))).toBe('--xy(zw|)', {
        x: { vector: v.a, fwdRet: Math.log(121 / 100) },
        y: { vector: v.b, fwdRet: Math.log(99 / 110) },
        z: { vector: v.c, fwdRet: null },
        w: { vector: v.d, fwdRet: null },
      });
    });
  });

  it('gives null when a gap skips the bar H later, without waiting for the end', () => {
    ts().run(({ cold, expectObservable }) => {
      const v = { a: vec('X', 0, 100), b: vec('X', 1, 101), c: vec('X', 5, 105) };
      // c opens at minute 5: a needed minute 2, b minute 3, both skipped
      expectObservable(cold('ab-c---|', v).pipe(forwardReturns(2))).toBe('---(xy)(z|)', {
        x: { vector: v.a, fwdRet: null },
        y: { vector: v.b, fwdRet: null },
        z: { vector: v.c, fwdRet: null },
      });
    });
  });

  it('keeps instruments apart', () => {
    ts().run(({ cold, expectObservable }) => {
      const v = { a: vec('X', 0, 100), p: vec('Y', 0, 10), b: vec('X', 1, 200), q: vec('Y', 1, 5) };
      expectObservable(cold('apbq|', v).pipe(forwardReturns(1))).toBe('--xy(zw|)', {
        x: { vector: v.a, fwdRet: Math.log(2) },
        y: { vector: v.p, fwdRet: Math.log(0.5) },
        z: { vector: v.b, fwdRet: null },
        w: { vector: v.q, fwdRet: null },
      });
    });
  });

  it('refuses a horizon that is not a positive integer', () => {
    expect(() => forwardReturns(0)).toThrow(RangeError);
    expect(() => forwardReturns(1.5)).toThrow(RangeError);
  });
});
