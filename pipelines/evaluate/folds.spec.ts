import { describe, expect, it } from 'vitest';
import { EvaluationError } from './errors.ts';
import { cutFolds, foldIndexOf, foldSpecText, monthOf, parseFoldSpec } from './folds.ts';

const MIN = 60_000;
const DAY = 1440 * MIN;

describe('walk-forward folds', () => {
  it('parses --folds: month by default, or a block count; refuses anything else', () => {
    expect(parseFoldSpec(undefined)).toEqual({ kind: 'month' });
    expect(parseFoldSpec('month')).toEqual({ kind: 'month' });
    expect(parseFoldSpec('4')).toEqual({ kind: 'blocks', n: 4 });
    for (const bad of ['0', '-2', '2.5', 'weeks', '121']) {
      expect(() => parseFoldSpec(bad)).toThrow(EvaluationError);
    }
    expect(foldSpecText({ kind: 'blocks', n: 3 })).toBe('3 blocks');
  });

  it('cuts calendar months (UTC), clipped to the period, across a year end', () => {
    const from = Date.UTC(2024, 11, 30, 12, 0);
    const to = Date.UTC(2025, 1, 2, 0, 0);
    const folds = cutFolds(from, to, { kind: 'month' }, MIN);
    expect(folds).toEqual([
      { fold: 1, label: '2024-12', fromMs: from, toMs: Date.UTC(2025, 0, 1) },
      { fold: 2, label: '2025-01', fromMs: Date.UTC(2025, 0, 1), toMs: Date.UTC(2025, 1, 1) },
      { fold: 3, label: '2025-02', fromMs: Date.UTC(2025, 1, 1), toMs: to },
    ]);
    expect(monthOf(Date.UTC(2025, 0, 31, 23, 59))).toBe('2025-01');
  });

  it('cuts n blocks of equal length on the bar grid that tile the period', () => {
    const from = Date.UTC(2025, 0, 6);
    const to = from + 3 * DAY + 7 * MIN;
    const folds = cutFolds(from, to, { kind: 'blocks', n: 3 }, MIN);
    expect(folds.map((f) => f.fold)).toEqual([1, 2, 3]);
    expect(folds[0]!.fromMs).toBe(from);
    expect(folds[2]!.toMs).toBe(to);
    for (let k = 1; k < 3; k++) {
      expect(folds[k]!.fromMs).toBe(folds[k - 1]!.toMs);
      expect((folds[k]!.fromMs - from) % MIN).toBe(0);
    }
    const lengths = folds.map((f) => f.toMs - f.fromMs);
    expect(Math.max(...lengths) - Math.min(...lengths)).toBeLessThanOrEqual(MIN);
  });

  it('refuses more blocks than bars, and an empty period', () => {
    expect(() => cutFolds(0, 3 * MIN, { kind: 'blocks', n: 4 }, MIN)).toThrow(/only 3 bars/);
    expect(() => cutFolds(5, 5, { kind: 'month' }, MIN)).toThrow(EvaluationError);
  });

  it('finds the fold of a time, -1 outside', () => {
    const folds = cutFolds(0, 10 * MIN, { kind: 'blocks', n: 5 }, MIN);
    expect(foldIndexOf(folds, 0)).toBe(0);
    expect(foldIndexOf(folds, 2 * MIN - 1)).toBe(0);
    expect(foldIndexOf(folds, 2 * MIN)).toBe(1);
    expect(foldIndexOf(folds, 9 * MIN)).toBe(4);
    expect(foldIndexOf(folds, 10 * MIN)).toBe(-1);
    expect(foldIndexOf(folds, -1)).toBe(-1);
  });
});
