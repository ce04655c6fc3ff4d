import { describe, expect, it } from 'vitest';
import { signOf, smoothedShares, walkForwardBaselines } from './baselines.ts';
import { cutFolds, foldIndexOf } from './folds.ts';

const MIN = 60_000;
const H = 3;

/** Rows given as [minute, label, ret1]; folds of 10 minutes each over [0, 30). */
function setup(rows: readonly (readonly [number, number, number])[]) {
  const folds = cutFolds(0, 30 * MIN, { kind: 'blocks', n: 3 }, MIN);
  const openTime = rows.map((r) => r[0] * MIN);
  return {
    folds,
    rows: {
      n: rows.length,
      openTime,
      label: rows.map((r) => r[1]),
      ret1: rows.map((r) => r[2]),
      foldIndex: openTime.map((t) => foldIndexOf(folds, t)),
    },
  };
}

describe('walk-forward baselines', () => {
  it('smooths class counts so no class has probability 0', () => {
    expect(smoothedShares([0, 2, 5])).toEqual([1 / 10, 3 / 10, 6 / 10]);
    expect(signOf(-1e-9)).toBe(0);
    expect(signOf(0)).toBe(1);
    expect(signOf(2)).toBe(2);
  });

  it('uses the card prior on the first fold, for both baselines whatever the sign', () => {
    const { folds, rows } = setup([
      [1, 2, 0.1],
      [2, 0, -0.1],
    ]);
    const b = walkForwardBaselines(rows, folds, [10, 20, 70], H * MIN);
    const card = smoothedShares([10, 20, 70]);
    expect(b.fits[0]).toMatchObject({ fold: 1, source: 'card', fittedRows: 100, prior: card });
    expect([...b.prior.subarray(0, 3)]).toEqual(card);
    expect([...b.lastSign.subarray(0, 3)]).toEqual(card);
    expect([...b.lastSign.subarray(3, 6)]).toEqual(card);
  });

  it('fits later folds only on labels known before the fold starts (openTime + H <= start), by the sign of ret_1', () => {
    const { folds, rows } = setup([
      [0, 2, 0.5], // known at 3: fits folds 2 and 3
      [1, 2, 0.2],
      [2, 0, -0.3],
      [7, 1, 0], // known at 10: still fits fold 2 (starts at 10)
      [8, 0, 0.4], // known at 11: reaches into fold 2, fits only fold 3
      [12, 2, 0.1], // fold 2 row, known at 15: fits fold 3
      [25, 0, -0.2], // fold 3 row, applied with fold 3's fit
    ]);
    const b = walkForwardBaselines(rows, folds, [1, 1, 1], H * MIN);
    expect(b.fits[1]).toMatchObject({ fold: 2, source: 'data', fittedRows: 4, prior: smoothedShares([1, 1, 2]) });
    expect(b.fits[1]!.bySign).toEqual([smoothedShares([1, 0, 0]), smoothedShares([0, 1, 0]), smoothedShares([0, 0, 2])]);
    expect(b.fits[2]).toMatchObject({ fold: 3, source: 'data', fittedRows: 6, prior: smoothedShares([2, 1, 3]) });
    expect(b.fits[2]!.bySign).toEqual([smoothedShares([1, 0, 0]), smoothedShares([0, 1, 0]), smoothedShares([1, 0, 3])]);
    // Row 5 (fold 2, positive ret_1) gets fold 2's positive-sign shares; row 6 (fold 3, negative) fold 3's negative.
    expect([...b.lastSign.subarray(15, 18)]).toEqual(smoothedShares([0, 0, 2]));
    expect([...b.prior.subarray(15, 18)]).toEqual(smoothedShares([1, 1, 2]));
    expect([...b.lastSign.subarray(18, 21)]).toEqual(smoothedShares([1, 0, 0]));
  });

  it('falls back to the card when no label is known before a later fold', () => {
    const { folds, rows } = setup([
      [9, 1, 0.1], // known at 12: none before fold 2
      [15, 1, 0.1],
    ]);
    const b = walkForwardBaselines(rows, folds, [3, 3, 3], H * MIN);
    expect(b.fits.map((f) => f.source)).toEqual(['card', 'card', 'data']);
    expect(b.fits[2]!.fittedRows).toBe(2);
  });
});
