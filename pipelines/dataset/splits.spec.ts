import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countFoldRows, inRanges, SplitError, walkForwardFolds, walkForwardSplits, type Fold, type SplitSpec } from './splits.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 4, 4);
const bars = (fold: Fold, key: 'train' | 'embargoed'): number[][] => fold[key].map((r) => [(r.fromMs - T0) / M, (r.toMs - T0) / M]);

/** mulberry32: a small seeded generator, so the property test is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('walkForwardFolds', () => {
  it('lays out 20 bars in 4 blocks, 3 folds: purge before each block, embargo after each earlier block', () => {
    // blocks of 5 bars: B0 [0,5) B1 [5,10) B2 [10,15) B3 [15,20); H = P = 2, E = 2
    const folds = walkForwardFolds(T0, T0 + 19 * M, { folds: 3, horizonBars: 2, purgeBars: 2, embargoBars: 2, barMs: M });
    expect(folds.map((f) => [(f.validation.fromMs - T0) / M, (f.validation.toMs - T0) / M])).toEqual([[5, 10], [10, 15], [15, 20]]);
    expect(folds.map((f) => [(f.purged.fromMs - T0) / M, (f.purged.toMs - T0) / M])).toEqual([[3, 5], [8, 10], [13, 15]]);
    expect(bars(folds[0]!, 'train')).toEqual([[0, 3]]);
    // fold 2: B1's embargo [10,12) lies in fold 2's own validation block, not in its training
    expect(bars(folds[1]!, 'train')).toEqual([[0, 8]]);
    expect(bars(folds[1]!, 'embargoed')).toEqual([]);
    // fold 3 trains on B1 (fold 1's validation) and B2 up to its purge, minus the 2 bars after B1
    expect(bars(folds[2]!, 'train')).toEqual([[0, 10], [12, 13]]);
    expect(bars(folds[2]!, 'embargoed')).toEqual([[10, 12]]);
    expect(folds[2]!.validation.from).toBe('2025-05-04T00:15:00.000Z');
    expect(folds[2]!.validation.to).toBe('2025-05-04T00:20:00.000Z');
  });

  it('counts the labelled rows of each fold', () => {
    // 3 rows per bar, none at bar 7 (in fold 1's validation, then in the training of folds 2 and 3)
    const rowsAt = new Map(Array.from({ length: 20 }, (_, i) => [T0 + i * M, i === 7 ? 0 : 3] as const));
    const folds = countFoldRows(walkForwardFolds(T0, T0 + 19 * M, { folds: 3, horizonBars: 2, purgeBars: 2, embargoBars: 2, barMs: M }), rowsAt);
    expect(folds.map((f) => [f.trainRows, f.validationRows])).toEqual([[9, 12], [21, 15], [30, 15]]);
  });

  it('refuses a range too short for the folds and purge, and a purge shorter than the horizon', () => {
    expect(() => walkForwardFolds(T0, T0 + 9 * M, { folds: 4, horizonBars: 2, purgeBars: 2, embargoBars: 0, barMs: M })).toThrow(SplitError);
    expect(() => walkForwardFolds(T0, T0 + 99 * M, { folds: 4, horizonBars: 5, purgeBars: 4, embargoBars: 0, barMs: M })).toThrow(/purgeBars must be an integer >= 5/);
    expect(() => walkForwardFolds(T0, T0 + 99 * M + 1, { folds: 4, horizonBars: 5, purgeBars: 5, embargoBars: 0, barMs: M })).toThrow(/bar grid/);
  });

  // The property of the layout, over random ranges, horizons, purges, embargoes and fold counts, checked bar by bar
  // against the definitions (label window [t, t + H bars]; embargo [end of an earlier validation block, + E bars)).
  it('property: no training label window overlaps a validation label window, no training row lies in an embargo', () => {
    const r = rng(20250504);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    let embargoCuts = 0;
    for (let trial = 0; trial < 200; trial++) {
      const spec: SplitSpec = { folds: int(1, 7), horizonBars: int(1, 30), purgeBars: 0, embargoBars: int(0, 150), barMs: M };
      const s = { ...spec, purgeBars: spec.horizonBars + int(0, 10) };
      const n = (s.folds + 1) * (s.purgeBars + int(2, 60));
      const first = T0 + int(0, 10_000) * M;
      const last = first + (n - 1) * M;
      const folds = walkForwardFolds(first, last, s);
      expect(folds).toHaveLength(s.folds);
      // validation blocks are consecutive and reach the end of the range
      expect(folds.at(-1)!.validation.toMs).toBe(last + M);
      folds.forEach((f, i) => {
        expect(f.validation.toMs).toBeGreaterThan(f.validation.fromMs);
        if (i > 0) expect(f.validation.fromMs).toBe(folds[i - 1]!.validation.toMs);
      });
      for (const f of folds) {
        const earlierEnds = folds.filter((g) => g.fold < f.fold).map((g) => g.validation.toMs);
        const valLast = f.validation.toMs - M;
        embargoCuts += f.embargoed.length;
        for (let t = first; t <= last; t += M) {
          const inTrain = inRanges(t, f.train);
          const inValid = t >= f.validation.fromMs && t < f.validation.toMs;
          const embargoed = earlierEnds.some((e) => t >= e && t < e + s.embargoBars * M);
          if (inTrain) {
            expect(inValid).toBe(false);
            // [t, t + H] against the union of the validation rows' windows [from, valLast + H]
            expect(t + s.horizonBars * M < f.validation.fromMs || t > valLast + s.horizonBars * M).toBe(true);
            expect(embargoed).toBe(false);
          } else if (t < f.validation.fromMs - s.purgeBars * M) {
            // nothing else is dropped: a bar before the purge is in training unless an embargo holds it
            expect(embargoed).toBe(true);
          }
        }
        // expanding: every fold trains on everything the previous one did
        const prev = folds[f.fold - 2];
        if (prev) for (const tr of prev.train) for (let t = tr.fromMs; t < tr.toMs; t += M) expect(inRanges(t, f.train)).toBe(true);
      }
    }
    expect(embargoCuts).toBeGreaterThan(50); // the trials did exercise the embargo
  });
});

// The Python side (training/tests/test_splits.py) checks the same property on splits files the TypeScript wrote:
// these fixtures. Regenerate: QT_WRITE_SPLIT_FIXTURES=1 npx vitest run pipelines/dataset/splits.spec.ts
const FIXTURES = join(import.meta.dirname, '..', '..', 'training', 'tests', 'fixtures');
const FIXTURE_SPECS: readonly (readonly [string, number, SplitSpec])[] = [
  ['h5-e60.splits.json', 2000, { folds: 4, horizonBars: 5, purgeBars: 5, embargoBars: 60, barMs: M }],
  ['h15-p20-e0.splits.json', 1500, { folds: 3, horizonBars: 15, purgeBars: 20, embargoBars: 0, barMs: M }],
  ['h2-e150.splits.json', 600, { folds: 5, horizonBars: 2, purgeBars: 2, embargoBars: 150, barMs: M }],
];

describe('splits fixtures for the Python trainer', () => {
  it.each(FIXTURE_SPECS)('%s is what walkForwardSplits writes', (name, n, spec) => {
    // 3 instruments, one bar of the range without rows (a gap) so the counts are not a multiple of the bars
    const rowsAt = new Map(Array.from({ length: n }, (_, i) => [T0 + i * M, i === 100 ? 0 : 3] as const));
    const text = `${JSON.stringify(walkForwardSplits('dataset.csv', T0, T0 + (n - 1) * M, spec, rowsAt), null, 2)}\n`;
    const file = join(FIXTURES, name);
    if (process.env.QT_WRITE_SPLIT_FIXTURES === '1') writeFileSync(file, text);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});
