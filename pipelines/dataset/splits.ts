/**
 * Walk-forward splits of an exported dataset, with purge and embargo (López de Prado, Advances in Financial Machine
 * Learning, ch. 7), written to `<csv>.splits.json` and read by the Python trainer (`qt_training.split.folds_from_json`,
 * `train.py --splits <file> --fold k`).
 *
 * Layout (expanding window): the bars of the labelled range [fromMs, toMs) are cut into N + 1 consecutive blocks of
 * (nearly) equal length, B_0 .. B_N. Fold k (1..N) validates on block B_k and trains on the bars before it, so fold
 * k + 1 trains on fold k's validation block. All ranges are half-open [fromMs, toMs) over bar open times.
 *
 * A row at open time t has the label window [t, t + H bars]: its label reads close[t] and close[t + H].
 *
 * Purge (P bars, P >= H): fold k's training drops the P bars before B_k. A training row t < start(B_k) - P bars has
 * t + H bars < start(B_k), so its label window ends before the first validation row's label window starts: with P = H,
 * exactly the rows whose label windows overlap a validation row's label window are dropped (the rule the Python
 * trainer's time_split applies with --valid-from). No training row follows B_k, so nothing is purged after it.
 *
 * Embargo (E bars): the E bars right after each earlier validation block B_j (j < k), [end(B_j), end(B_j) + E bars),
 * are dropped from fold k's training. Those rows' features look back up to 60 bars (ret_60, EMA50, the 32-bar
 * window), i.e. into B_j: they carry B_j's prices into training. López de Prado's embargo removes the rows right after
 * a test block for exactly that reason. In this expanding layout no training row follows fold k's own validation
 * block, so the purge alone keeps fold k's validation out of its training; the embargo keeps every validation block's
 * look-back shadow out of the later folds' training as well, so the blocks stay clean if they are reused across folds
 * (selection or calibration on the pooled out-of-sample record). It costs E bars of training per earlier block;
 * `embargoBars: 0` turns it off. With E >= the longest look-back (60 bars, the default), no training row's features
 * read a bar of a validation block it follows (apart from the EMAs' geometrically fading memory).
 */

/** A half-open range of bar open times [fromMs, toMs), in ms, with the same bounds in ISO-8601 for people. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
  readonly from: string;
  readonly to: string;
}

/** Parameters of the walk-forward layout. */
export interface SplitSpec {
  /** N: validation blocks (folds). */
  readonly folds: number;
  /** H: bars of the label window. */
  readonly horizonBars: number;
  /** P: bars dropped before each validation block (>= H). */
  readonly purgeBars: number;
  /** E: bars dropped after each earlier validation block. */
  readonly embargoBars: number;
  readonly barMs: number;
}

/** One fold: what it trains on, what it validates on, and what the purge and the embargo removed from its training. */
export interface Fold {
  /** 1..N. */
  readonly fold: number;
  /** Training ranges, in time order (one range, or more where embargoes cut holes). */
  readonly train: readonly TimeRange[];
  readonly validation: TimeRange;
  /** The bars the purge removed (empty range when there were none). */
  readonly purged: TimeRange;
  /** The bars each earlier block's embargo removed from this fold's training (only non-empty cuts). */
  readonly embargoed: readonly TimeRange[];
  /** Labelled rows in the training ranges and in the validation range (filled in by countFoldRows). */
  readonly trainRows: number;
  readonly validationRows: number;
}

/** The content of `<csv>.splits.json`. */
export interface WalkForwardSplits extends Omit<SplitSpec, 'folds'> {
  readonly kind: 'walk-forward-expanding';
  /** What the ranges mean, in words (the rules above, with the numbers). */
  readonly definition: string;
  /** The dataset file (base name) the splits belong to. */
  readonly dataset: string;
  /** The labelled range the blocks cut: first labelled open time, and the last one + one bar. */
  readonly range: TimeRange;
  /** The N folds, in time order. */
  readonly folds: readonly Fold[];
}

/** The splits cannot be laid out: the range is too short for the folds, purge and embargo asked for. */
export class SplitError extends Error {
  override readonly name = 'SplitError';
  readonly retriable = false;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A TimeRange from ms bounds. */
export function timeRange(fromMs: number, toMs: number): TimeRange {
  return { fromMs, toMs, from: iso(fromMs), to: iso(toMs) };
}

/** True when open time t lies in one of the ranges. */
export function inRanges(t: number, ranges: readonly Pick<TimeRange, 'fromMs' | 'toMs'>[]): boolean {
  return ranges.some((r) => t >= r.fromMs && t < r.toMs);
}

function checkSpec(s: SplitSpec): void {
  const problems: string[] = [];
  const int = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) problems.push(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int('folds', s.folds, 1);
  int('horizonBars', s.horizonBars, 1);
  int('purgeBars', s.purgeBars, Number.isInteger(s.horizonBars) ? s.horizonBars : 1);
  int('embargoBars', s.embargoBars, 0);
  int('barMs', s.barMs, 1);
  if (problems.length > 0) throw new SplitError(problems.join('; '));
}

/**
 * The folds of an expanding walk-forward over the labelled rows with open times firstMs..lastMs (inclusive, on the bar
 * grid), with the purge and the embargo of the module doc. Row counts are 0: countFoldRows fills them in.
 * Throws SplitError when fold 1 would have no training bar left or a block would be empty.
 */
export function walkForwardFolds(firstMs: number, lastMs: number, spec: SplitSpec): Fold[] {
  checkSpec(spec);
  const bar = spec.barMs;
  if ((lastMs - firstMs) % bar !== 0 || lastMs < firstMs) throw new SplitError(`range ${iso(firstMs)}..${iso(lastMs)} is not on the ${bar} ms bar grid`);
  const n = (lastMs - firstMs) / bar + 1;
  const blocks = spec.folds + 1;
  // b[m]: first bar of block m, as a bar index; b[blocks] = n.
  const b = Array.from({ length: blocks + 1 }, (_, m) => Math.floor((m * n) / blocks));
  if (b[1]! - spec.purgeBars < 1 || b.some((v, m) => m > 0 && v <= b[m - 1]!)) {
    throw new SplitError(
      `${n} bars (${iso(firstMs)}..${iso(lastMs)}) are too few for ${spec.folds} folds with a purge of ${spec.purgeBars} bars: ` +
        `each of the ${blocks} blocks has ${Math.floor(n / blocks)} bars and fold 1 needs at least one training bar before its purge`,
    );
  }
  const at = (i: number): number => firstMs + i * bar;
  const folds: Fold[] = [];
  for (let k = 1; k <= spec.folds; k++) {
    const trainEnd = b[k]! - spec.purgeBars;
    // Embargo zones of the earlier validation blocks B_1..B_{k-1}, clipped to the training span [0, trainEnd).
    const cuts: [number, number][] = [];
    for (let j = 1; j < k; j++) {
      const lo = b[j + 1]!;
      const hi = Math.min(lo + spec.embargoBars, trainEnd);
      if (hi > lo) cuts.push([lo, hi]);
    }
    const train: TimeRange[] = [];
    let start = 0;
    for (const [lo, hi] of cuts) {
      if (lo > start) train.push(timeRange(at(start), at(lo)));
      start = Math.max(start, hi);
    }
    if (trainEnd > start) train.push(timeRange(at(start), at(trainEnd)));
    folds.push({
      fold: k,
      train,
      validation: timeRange(at(b[k]!), at(b[k + 1]!)),
      purged: timeRange(at(trainEnd), at(b[k]!)),
      embargoed: cuts.map(([lo, hi]) => timeRange(at(lo), at(hi))),
      trainRows: 0,
      validationRows: 0,
    });
  }
  return folds;
}

/** The folds with their labelled row counts, from the number of labelled rows per bar open time. */
export function countFoldRows(folds: readonly Fold[], rowsAt: ReadonlyMap<number, number>): Fold[] {
  return folds.map((f) => {
    let trainRows = 0;
    let validationRows = 0;
    for (const [t, c] of rowsAt) {
      if (inRanges(t, f.train)) trainRows += c;
      else if (t >= f.validation.fromMs && t < f.validation.toMs) validationRows += c;
    }
    return { ...f, trainRows, validationRows };
  });
}

/** The rules in words, with the numbers, for the `definition` field of the splits file. */
export function describeSplits(spec: SplitSpec): string {
  return (
    `expanding walk-forward: the labelled range is cut into ${spec.folds + 1} consecutive blocks B_0..B_${spec.folds}; ` +
    `fold k validates on B_k and trains on the bars before it. Ranges are half-open [from, to) over bar open times. ` +
    `A row at t has the label window [t, t + ${spec.horizonBars} bars]. Purge: the ${spec.purgeBars} bars before B_k ` +
    `are dropped from fold k's training (no training label window overlaps a validation label window). Embargo: the ` +
    `${spec.embargoBars} bars right after each earlier validation block B_j (j < k) are dropped from fold k's training ` +
    `(their features look back into B_j).`
  );
}

/** The splits file of a dataset: the layout, its folds with row counts. */
export function walkForwardSplits(dataset: string, firstMs: number, lastMs: number, spec: SplitSpec, rowsAt: ReadonlyMap<number, number>): WalkForwardSplits {
  return {
    kind: 'walk-forward-expanding',
    definition: describeSplits(spec),
    dataset,
    horizonBars: spec.horizonBars,
    purgeBars: spec.purgeBars,
    embargoBars: spec.embargoBars,
    barMs: spec.barMs,
    range: timeRange(firstMs, lastMs + spec.barMs),
    folds: countFoldRows(walkForwardFolds(firstMs, lastMs, spec), rowsAt),
  };
}
