import { describe, expect, it } from 'vitest';
import { binOf, psi, PSI_EPSILON, PsiInputError, RollingHistogram } from './psi.ts';

describe('binOf', () => {
  it('counts the edges <= x (searchsorted right), equal edges leaving an empty bin', () => {
    const edges = [1, 2, 2, 3];
    expect([-5, 1, 1.5, 2, 2.5, 3, 10].map((x) => binOf(edges, x))).toEqual([0, 1, 1, 3, 3, 4, 4]);
    expect(binOf(edges, Number.NaN)).toBe(-1);
    expect(binOf(edges, Number.POSITIVE_INFINITY)).toBe(4);
    expect(binOf(edges, Number.NEGATIVE_INFINITY)).toBe(0);
  });
});

describe('psi', () => {
  it('is 0 for the expected distribution itself', () => {
    expect(psi([40, 40, 20], [0.4, 0.4, 0.2])).toBeCloseTo(0, 15);
  });

  it('matches a hand computation: 0.1 ln(0.5/0.4) - 0.1 ln(0.3/0.4)', () => {
    // live shares 0.5 0.3 0.2 against 0.4 0.4 0.2: 0.1 * 0.223144 + 0.1 * 0.287682 = 0.0510826
    expect(psi([50, 30, 20], [0.4, 0.4, 0.2])).toBeCloseTo(0.0510826, 6);
  });

  it('floors an empty live bin at epsilon: (1e-4 - 0.5) ln(1e-4 / 0.5) + 0.5 ln 2', () => {
    expect(PSI_EPSILON).toBe(1e-4);
    expect(psi([0, 10], [0.5, 0.5])).toBeCloseTo(0.4999 * Math.log(0.5 / 1e-4) + 0.5 * Math.log(2), 12);
    expect(psi([0, 10], [0.5, 0.5])).toBeCloseTo(4.604318, 5);
    // a bigger floor dampens it
    expect(psi([0, 10], [0.5, 0.5], 0.01)).toBeCloseTo(0.49 * Math.log(0.5 / 0.01) + 0.5 * Math.log(2), 12);
  });

  it('scores a bin empty on both sides (equal training edges) as 0', () => {
    expect(psi([0, 5, 5], [0, 0.5, 0.5])).toBeCloseTo(0, 15);
  });

  it('is NaN without observations and rejects mismatched or negative input', () => {
    expect(psi([0, 0], [0.5, 0.5])).toBeNaN();
    expect(() => psi([1, 2], [1])).toThrow(PsiInputError);
    expect(() => psi([1, -1], [0.5, 0.5])).toThrow(/count 1 is -1/);
  });
});

describe('RollingHistogram', () => {
  it('keeps the counts of the last W bins, dropping the oldest on each push once full', () => {
    const h = new RollingHistogram(3, 3);
    h.push(0);
    h.push(1);
    expect([...(h.counts as Int32Array)]).toEqual([1, 1, 0]);
    expect(h.full).toBe(false);
    h.push(2);
    expect(h.full).toBe(true);
    expect([...(h.counts as Int32Array)]).toEqual([1, 1, 1]);
    h.push(2); // the 0 leaves
    expect([...(h.counts as Int32Array)]).toEqual([0, 1, 2]);
    h.push(-1); // the 1 leaves; NaN takes a slot uncounted
    expect([...(h.counts as Int32Array)]).toEqual([0, 0, 2]);
    expect(h.total).toBe(2);
    h.push(1); // the first 2 leaves
    h.push(1); // the second 2 leaves
    h.push(1); // the uncounted slot leaves
    expect([...(h.counts as Int32Array)]).toEqual([0, 3, 0]);
    expect(h.total).toBe(3);
    expect(h.count(1)).toBe(3);
  });

  it('gives the PSI of its window: shares 0, 0, 1 against 0.25, 0.25, 0.5', () => {
    const h = new RollingHistogram(3, 2);
    for (const b of [0, 1, 2, 2]) h.push(b);
    // 2 * (1e-4 - 0.25) ln(1e-4 / 0.25) + (1 - 0.5) ln(1 / 0.5)
    expect(h.psi([0.25, 0.25, 0.5])).toBeCloseTo(4.257032, 5);
  });

  it('rejects bins out of range and bad sizes', () => {
    const h = new RollingHistogram(2, 4);
    expect(() => h.push(2)).toThrow(PsiInputError);
    expect(() => h.push(0.5)).toThrow(PsiInputError);
    expect(() => new RollingHistogram(0, 4)).toThrow(PsiInputError);
    expect(() => new RollingHistogram(2, 0)).toThrow(PsiInputError);
  });
});
