import { describe, expect, it } from 'vitest';
import { genBars } from '../../test/fixtures/gen-bars.ts';
import { naiveFeatures } from '../../test/fixtures/naive-features.ts';
import { FEATURE_NAMES, FEATURE_WARMUP_BARS, WINDOW_CHANNELS, WINDOW_LENGTH } from './feature-set.ts';
import { createFeatureState, FeatureInvariantError, stepFeatures } from './feature-state.ts';

/** |a - b| small relative to b (the kernels and the reference round differently, by a few ulps). */
function expectNear(a: number, b: number, what: string): void {
  expect(Number.isFinite(a), what).toBe(true);
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(b));
}

describe('createFeatureState / stepFeatures', () => {
  it('has the contract constants it was written for', () => {
    expect(FEATURE_WARMUP_BARS).toBe(61);
    expect(WINDOW_CHANNELS).toEqual(['ret_1', 'range_hl', 'vol_z_30']);
    expect(WINDOW_LENGTH).toBe(32);
  });

  it('is warm from bar FEATURE_WARMUP_BARS on, and not before', () => {
    const s = createFeatureState();
    const ready = genBars({ n: 70, seed: 1 }).map((b) => stepFeatures(s, b));
    expect(ready.indexOf(true)).toBe(FEATURE_WARMUP_BARS - 1);
    expect(ready.slice(FEATURE_WARMUP_BARS - 1).every(Boolean)).toBe(true);
  });

  it('matches the naive reference on every feature and window cell, with empty bars in the series', () => {
    const bars = genBars({ n: 400, seed: 2, emptyProb: 0.1 });
    const ref = naiveFeatures(bars);
    const s = createFeatureState();
    let checked = 0;
    bars.forEach((b, t) => {
      const ready = stepFeatures(s, b);
      const r = ref[t];
      expect(ready).toBe(r !== null);
      if (!r) return;
      FEATURE_NAMES.forEach((name, i) => expectNear(s.values[i]!, r.values[name]!, `${name} at ${t}`));
      const w = s.window.toArray();
      expect(w).toHaveLength(WINDOW_LENGTH * WINDOW_CHANNELS.length);
      r.rows.forEach((row, k) => row.forEach((x, j) => expectNear(w[k * 3 + j]!, x, `window[${k}][${WINDOW_CHANNELS[j]}] at ${t}`)));
      checked++;
    });
    expect(checked).toBe(400 - 60);
  });

  it('crashes with a named error on corrupt input instead of emitting non-finite values', () => {
    const bars = genBars({ n: 70, seed: 3 });
    const s = createFeatureState();
    for (const b of bars.slice(0, 65)) stepFeatures(s, b);
    expect(() => stepFeatures(s, { ...bars[65]!, close: Number.NaN })).toThrow(FeatureInvariantError);
    const s2 = createFeatureState();
    for (const b of bars.slice(0, 40)) stepFeatures(s2, b);
    // A zero low makes log(high / low) infinite: a window row, so even during the warm-up.
    try {
      stepFeatures(s2, { ...bars[40]!, low: 0 });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ name: 'FeatureInvariantError', retriable: false, feature: 'window.range_hl', barIndex: 40 });
    }
  });
});
