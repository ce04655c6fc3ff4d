import type { Fold } from './folds.ts';

/** Class probabilities DOWN, FLAT, UP. */
export type Probabilities = readonly [number, number, number];

/** The sign of the last 1-bar return: 0 negative, 1 zero, 2 positive (a flat bar is its own group, not a coin toss). */
export type ReturnSign = 0 | 1 | 2;

/** Sign group of ret_1. */
export function signOf(ret1: number): ReturnSign {
  return ret1 < 0 ? 0 : ret1 > 0 ? 2 : 1;
}

/** What the baselines of one fold were fitted on. */
export interface BaselineFit {
  readonly fold: number;
  /** `card`: the members' training class counts (first fold, or no earlier labelled row); `data`: the rows before the fold. */
  readonly source: 'card' | 'data';
  /** Labelled rows the fit counted (the card's training rows for `card`). */
  readonly fittedRows: number;
  /** Class-prior baseline of the fold. */
  readonly prior: Probabilities;
  /** Last-return-sign baseline of the fold, by sign group (negative, zero, positive ret_1). */
  readonly bySign: readonly [Probabilities, Probabilities, Probabilities];
}

/** The two baselines' probabilities for every row (rows x 3, row-major) and the fits they came from, per fold. */
export interface Baselines {
  readonly prior: Float64Array;
  readonly lastSign: Float64Array;
  readonly fits: readonly BaselineFit[];
}

/** The labelled rows the baselines are fitted on and applied to. */
export interface BaselineRows {
  readonly n: number;
  readonly openTime: ArrayLike<number>;
  readonly label: ArrayLike<number>;
  readonly ret1: ArrayLike<number>;
  /** Index in `folds` of each row's fold. */
  readonly foldIndex: ArrayLike<number>;
}

/** Laplace-smoothed shares of class counts: (c + 1) / (N + 3), so no class ever gets probability 0. */
export function smoothedShares(counts: ArrayLike<number>): Probabilities {
  const total = counts[0]! + counts[1]! + counts[2]!;
  return [(counts[0]! + 1) / (total + 3), (counts[1]! + 1) / (total + 3), (counts[2]! + 1) / (total + 3)];
}

/**
 * Walk-forward baselines. For each fold, fitted only on labels known before the fold starts (a row counts once its
 * label's horizon has closed: openTime + horizonMs <= fold start, so no label reaches into the fold it is applied to):
 * - class prior: the class shares of those rows;
 * - last-return sign: the class shares of those rows by the sign group of their ret_1, applied by each row's own sign.
 * The first fold (and any fold with no earlier labelled row) uses `cardCounts`, the members' training class counts, for
 * both: a card holds no sign-conditional counts, so there the last-sign baseline is the prior. Shares are smoothed.
 */
export function walkForwardBaselines(rows: BaselineRows, folds: readonly Fold[], cardCounts: readonly number[], horizonMs: number): Baselines {
  const nf = folds.length;
  // Counts of the rows whose label is known by the start of fold k, added at the first such k (then summed forward).
  const added = Array.from({ length: nf }, () => [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ]);
  for (let i = 0; i < rows.n; i++) {
    const known = rows.openTime[i]! + horizonMs;
    // First fold starting at or after `known`.
    let lo = 0;
    let hi = nf;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (folds[mid]!.fromMs >= known) hi = mid;
      else lo = mid + 1;
    }
    if (lo < nf) added[lo]![signOf(rows.ret1[i]!)]![rows.label[i]!]!++;
  }
  const card = smoothedShares(cardCounts);
  const cardRows = Math.round(cardCounts.reduce((s, c) => s + c, 0));
  const fits: BaselineFit[] = [];
  const bySignCounts = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let k = 0; k < nf; k++) {
    for (let s = 0; s < 3; s++) for (let c = 0; c < 3; c++) bySignCounts[s]![c]! += added[k]![s]![c]!;
    const total = [0, 1, 2].map((c) => bySignCounts[0]![c]! + bySignCounts[1]![c]! + bySignCounts[2]![c]!);
    const fitted = total[0]! + total[1]! + total[2]!;
    fits.push(
      k === 0 || fitted === 0
        ? { fold: folds[k]!.fold, source: 'card', fittedRows: cardRows, prior: card, bySign: [card, card, card] }
        : {
            fold: folds[k]!.fold,
            source: 'data',
            fittedRows: fitted,
            prior: smoothedShares(total),
            bySign: [smoothedShares(bySignCounts[0]!), smoothedShares(bySignCounts[1]!), smoothedShares(bySignCounts[2]!)],
          },
    );
  }
  const prior = new Float64Array(rows.n * 3);
  const lastSign = new Float64Array(rows.n * 3);
  for (let i = 0; i < rows.n; i++) {
    const fit = fits[rows.foldIndex[i]!]!;
    prior.set(fit.prior, i * 3);
    lastSign.set(fit.bySign[signOf(rows.ret1[i]!)], i * 3);
  }
  return { prior, lastSign, fits };
}
