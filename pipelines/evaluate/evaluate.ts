import { brier, expectedCalibrationError, logLoss, predictedClass, type ClassIndex } from '../../operators/ensemble/scoring.ts';
import type { EvalMetric } from '../../schemas/eval-metric.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { EquityPoint, ReliabilityBin, ReportScope, ReportScores } from '../../sinks/report/eval-report.ts';
import { walkForwardBaselines, type BaselineFit, type Baselines } from './baselines.ts';
import { cutFolds, foldIndexOf, monthOf, type Fold, type FoldSpec } from './folds.ts';

/** The labelled rows of an evaluation, column by column: row i of every column is one feature vector. */
export interface ScoredRows {
  readonly n: number;
  /** The instruments, in the order `instrument` indexes them. */
  readonly instruments: readonly { readonly exchange: string; readonly symbol: string }[];
  readonly instrument: ArrayLike<number>;
  /** Bar open time of the vector, ms. */
  readonly openTime: ArrayLike<number>;
  /** Forward log return over the label's horizon. */
  readonly fwdRet: ArrayLike<number>;
  /** labelOf(fwdRet, rvol_30, spec): DOWN 0, FLAT 1, UP 2. */
  readonly label: ArrayLike<number>;
  /** The vector's ret_1 (for the last-return-sign baseline). */
  readonly ret1: ArrayLike<number>;
}

/** One scored model: the ensemble or a member, its probabilities for every row and which rows it was trained on. */
export interface ScopeInput {
  /** `ensemble`, or the member name. */
  readonly scope: string;
  readonly kind: 'ensemble' | 'member';
  readonly modelVersion: string;
  /** rows x 3, row-major: P(DOWN), P(FLAT), P(UP). */
  readonly probs: ArrayLike<number>;
  /** 1 where the row lies in the model's training range (card data.train.fromMs .. data.validFromMs): not scored. */
  readonly inSample: ArrayLike<number>;
  /** Training class counts from the card(s): the baselines' prior on the first fold. */
  readonly cardCounts: readonly number[];
}

/** Settings of the scoring; all go into the run id. */
export interface EvaluationSettings {
  readonly runId: string;
  /** H: positions of the signal backtest are held this many bars (the label's horizon). */
  readonly horizonBars: number;
  readonly barMs: number;
  readonly folds: FoldSpec;
  /** Round-trip cost of one signal trade, a fraction of notional: 2 x (fee + slippage). */
  readonly roundTripCost: number;
  /** tsEvent and tsInit of the metric rows: the end of the evaluated data (not the wall clock: reruns are identical). */
  readonly tsEvent: number;
}

/** The scores of one slice of rows: the score columns of an eval.metrics.v1 row. */
export type SliceScores = ReportScores;

/** Everything the report shows about one scope (a model, or a baseline scored on the ensemble's rows). */
export interface ScopeResult extends ReportScope {
  readonly total: SliceScores;
  /** The walk-forward baselines' fits used for this scope's rows, per fold. */
  readonly baselineFits: readonly BaselineFit[];
}

/** The result of an evaluation: the folds, the journal rows, and per scope what the report plots. */
export interface EvaluationResult {
  readonly folds: readonly Fold[];
  /** Labelled rows per fold (all of them, before in-sample exclusion). */
  readonly foldRows: readonly number[];
  readonly metrics: readonly EvalMetric[];
  /** The models (ensemble first, then the members) and the two baselines scored on the ensemble's rows. */
  readonly scopes: readonly ScopeResult[];
}

/** How the equity curves are built (the report says it next to the plot). */
export const EQUITY_NOTE =
  'Cumulative net return of the signal backtest: every non-FLAT prediction opens a position for H bars (so positions overlap), ' +
  'its net return is booked at its exit bar, summed over the symbols and divided by their number: an equal-weight book with ' +
  'one unit of notional per symbol and signal. The end of a line is pnl / symbols.';

/** Bins of the reliability diagram and of the ECE (as the trainer's and the journal's ECE). */
export const RELIABILITY_BINS = 15;

/** Names of the baseline scopes in the report (they are not journaled as scopes: every row carries their log loss). */
export const BASELINE_SCOPES = { prior: 'class prior', lastSign: 'last-return sign' } as const;

/**
 * Reliability diagram of class probabilities (rows x 3), top label by the highest probability (first class wins ties,
 * as in expectedCalibrationError), `bins` equal-width bins over [0, 1]. Its size-weighted |accuracy - confidence| is
 * the ECE.
 */
export function reliabilityBins(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = RELIABILITY_BINS): ReliabilityBin[] {
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const d = probs[i * 3]!;
    const f = probs[i * 3 + 1]!;
    const u = probs[i * 3 + 2]!;
    const top = d >= f && d >= u ? 0 : f >= u ? 1 : 2;
    const c = top === 0 ? d : top === 1 ? f : u;
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]!++;
    conf[b]! += c;
    if (top === labels[i]) hits[b]!++;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    count: count[b]!,
    confidence: count[b]! > 0 ? conf[b]! / count[b]! : Number.NaN,
    accuracy: count[b]! > 0 ? hits[b]! / count[b]! : Number.NaN,
  }));
}

/**
 * The signal backtest's net return of one row: a predicted UP opens a long, a predicted DOWN a short, held H bars
 * (its forward return), minus the round-trip cost; null for a predicted FLAT (no trade).
 */
export function signalReturn(predicted: ClassIndex, fwdRet: number, roundTripCost: number): number | null {
  if (predicted === 1) return null;
  const side = predicted === 2 ? 1 : -1;
  return side * (Math.exp(fwdRet) - 1) - roundTripCost;
}

/** Per-row quantities of one scope, computed once and summed per slice. */
interface RowScores {
  readonly ll: Float64Array;
  readonly brier: Float64Array;
  readonly hit: Uint8Array;
  readonly predicted: Uint8Array;
  /** Net return of the row's trade, NaN when it does not trade. */
  readonly net: Float64Array;
  readonly priorLl: Float64Array;
  readonly signLl: Float64Array;
}

function rowScores(rows: ScoredRows, probs: ArrayLike<number>, base: Baselines, cost: number): RowScores {
  const n = rows.n;
  const s: RowScores = {
    ll: new Float64Array(n),
    brier: new Float64Array(n),
    hit: new Uint8Array(n),
    predicted: new Uint8Array(n),
    net: new Float64Array(n),
    priorLl: new Float64Array(n),
    signLl: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const y = rows.label[i]! as ClassIndex;
    const [d, f, u] = [probs[i * 3]!, probs[i * 3 + 1]!, probs[i * 3 + 2]!];
    s.ll[i] = logLoss(d, f, u, y);
    s.brier[i] = brier(d, f, u, y);
    const p = predictedClass(d, f, u);
    s.predicted[i] = p;
    s.hit[i] = p === y ? 1 : 0;
    s.net[i] = signalReturn(p, rows.fwdRet[i]!, cost) ?? Number.NaN;
    s.priorLl[i] = logLoss(base.prior[i * 3]!, base.prior[i * 3 + 1]!, base.prior[i * 3 + 2]!, y);
    s.signLl[i] = logLoss(base.lastSign[i * 3]!, base.lastSign[i * 3 + 1]!, base.lastSign[i * 3 + 2]!, y);
  }
  return s;
}

function sliceScores(idx: readonly number[], rows: ScoredRows, probs: ArrayLike<number>, s: RowScores): SliceScores {
  const m = idx.length;
  let ll = 0;
  let br = 0;
  let hits = 0;
  let pll = 0;
  let sll = 0;
  let trades = 0;
  let pnl = 0;
  let wins = 0;
  const p = new Float64Array(m * 3);
  const y = new Uint8Array(m);
  idx.forEach((i, j) => {
    ll += s.ll[i]!;
    br += s.brier[i]!;
    hits += s.hit[i]!;
    pll += s.priorLl[i]!;
    sll += s.signLl[i]!;
    const net = s.net[i]!;
    if (!Number.isNaN(net)) {
      trades++;
      pnl += net;
      if (net > 0) wins++;
    }
    p[j * 3] = probs[i * 3]!;
    p[j * 3 + 1] = probs[i * 3 + 1]!;
    p[j * 3 + 2] = probs[i * 3 + 2]!;
    y[j] = rows.label[i]!;
  });
  return {
    rows: m,
    logLoss: ll / m,
    brier: br / m,
    accuracy: hits / m,
    ece: expectedCalibrationError(p, y, RELIABILITY_BINS),
    priorLogLoss: pll / m,
    lastSignLogLoss: sll / m,
    trades,
    pnl,
    hitRate: trades > 0 ? wins / trades : Number.NaN,
  };
}

function equityCurve(rows: ScoredRows, idx: readonly number[], s: RowScores, exitAfterMs: number): EquityPoint[] {
  const byExit = new Map<number, number>();
  for (const i of idx) {
    const net = s.net[i]!;
    if (Number.isNaN(net)) continue;
    const t = rows.openTime[i]! + exitAfterMs;
    byExit.set(t, (byExit.get(t) ?? 0) + net);
  }
  const symbols = Math.max(1, rows.instruments.length);
  let cum = 0;
  return [...byExit.keys()]
    .sort((a, b) => a - b)
    .map((t) => {
      cum += byExit.get(t)! / symbols;
      return { t, v: cum };
    });
}

function confusionOf(rows: ScoredRows, idx: readonly number[], s: RowScores): number[][] {
  const m = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (const i of idx) m[rows.label[i]!]![s.predicted[i]!]!++;
  return m;
}

/**
 * Scores a walk-forward evaluation: cuts the labelled rows' period into folds, fits the baselines per fold on the rows
 * before it, and scores every scope on its out-of-sample rows (the ensemble's: rows out of every member's training
 * range) per slice: (symbol or *) x (a month with fold -1, or a fold with month *, or * with -1). A slice with no
 * scored row gets no metric row. Metric ids are derived from the run id and the slice, so a rerun replaces its rows.
 * Also scores the two baselines as scopes of their own over the ensemble's rows, for the report.
 */
export function evaluateScopes(rows: ScoredRows, scopes: readonly ScopeInput[], settings: EvaluationSettings): EvaluationResult {
  const n = rows.n;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    first = Math.min(first, rows.openTime[i]!);
    last = Math.max(last, rows.openTime[i]!);
  }
  const folds = n > 0 ? cutFolds(first, last + settings.barMs, settings.folds, settings.barMs) : [];
  const foldIndex = new Int32Array(n);
  const foldRows = folds.map(() => 0);
  const monthNames = new Map<number, string>();
  const rowMonths: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    foldIndex[i] = foldIndexOf(folds, rows.openTime[i]!);
    foldRows[foldIndex[i]!]!++;
    // Months change rarely: memoise per UTC day.
    const dayKey = Math.floor(rows.openTime[i]! / 86_400_000);
    let m = monthNames.get(dayKey);
    if (m === undefined) monthNames.set(dayKey, (m = monthOf(rows.openTime[i]!)));
    rowMonths[i] = m;
  }
  const months = [...new Set(monthNames.values())].sort();
  const monthIndex = Int32Array.from(rowMonths, (m) => months.indexOf(m));
  const horizonMs = settings.horizonBars * settings.barMs;
  const baselineCache = new Map<string, Baselines>();
  const baselinesFor = (counts: readonly number[]): Baselines => {
    const key = counts.join();
    let b = baselineCache.get(key);
    if (!b) {
      b = walkForwardBaselines({ n, openTime: rows.openTime, label: rows.label, ret1: rows.ret1, foldIndex }, folds, counts, horizonMs);
      baselineCache.set(key, b);
    }
    return b;
  };
  const symbolOrder = rows.instruments
    .map((inst, k) => ({ k, key: `${inst.exchange}:${inst.symbol}` }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.k);

  const metrics: EvalMetric[] = [];
  const results: ScopeResult[] = [];
  const scoreScope = (
    scope: { scope: string; kind: ScopeResult['kind']; modelVersion: string; probs: ArrayLike<number>; inSample: ArrayLike<number>; baseline?: 'prior' | 'lastSign' },
    base: Baselines,
    journal: boolean,
  ): void => {
    const s = rowScores(rows, scope.probs, base, settings.roundTripCost);
    // Row indices per slice (instrument, month, fold); instrument -1 and month -1 mean *, fold 0 means all folds.
    const sliceKey = (inst: number, m: number, fold: number): number => ((inst + 1) * (months.length + 1) + (m + 1)) * (folds.length + 1) + fold;
    const slices = new Map<number, number[]>();
    const add = (key: number, i: number): void => {
      let list = slices.get(key);
      if (!list) slices.set(key, (list = []));
      list.push(i);
    };
    const all: number[] = [];
    let inSampleRows = 0;
    for (let i = 0; i < n; i++) {
      if (scope.inSample[i]) {
        inSampleRows++;
        continue;
      }
      all.push(i);
      const f = folds[foldIndex[i]!]!.fold;
      for (const inst of [rows.instrument[i]!, -1]) {
        add(sliceKey(inst, -1, 0), i);
        add(sliceKey(inst, monthIndex[i]!, 0), i);
        add(sliceKey(inst, -1, f), i);
      }
    }
    if (journal) {
      for (const inst of [-1, ...symbolOrder]) {
        const where = inst < 0 ? { exchange: '*', symbol: '*' } : rows.instruments[inst]!;
        const keys: [number, number][] = [[-1, -1], ...months.map((_, m): [number, number] => [m, -1]), ...folds.map((f): [number, number] => [-1, f.fold])];
        for (const [mi, fold] of keys) {
          const m = mi < 0 ? '*' : months[mi]!;
          const idx = slices.get(sliceKey(inst, mi, Math.max(0, fold)));
          if (!idx || idx.length === 0) continue;
          metrics.push({
            id: deriveId('eval', settings.runId, scope.scope, where.exchange, where.symbol, m, fold),
            tsEvent: settings.tsEvent,
            tsInit: settings.tsEvent,
            runId: settings.runId,
            scope: scope.scope,
            modelVersion: scope.modelVersion,
            exchange: where.exchange,
            symbol: where.symbol,
            month: m,
            fold,
            ...sliceScores(idx, rows, scope.probs, s),
          });
        }
      }
    }
    const allProbs = new Float64Array(all.length * 3);
    const allLabels = new Uint8Array(all.length);
    all.forEach((i, j) => {
      allProbs.set([scope.probs[i * 3]!, scope.probs[i * 3 + 1]!, scope.probs[i * 3 + 2]!], j * 3);
      allLabels[j] = rows.label[i]!;
    });
    results.push({
      scope: scope.scope,
      kind: scope.kind,
      ...(scope.baseline ? { baseline: scope.baseline } : {}),
      modelVersion: scope.modelVersion,
      inSampleRows,
      total: all.length > 0 ? sliceScores(all, rows, scope.probs, s) : emptyScores(),
      reliability: reliabilityBins(allProbs, allLabels),
      confusion: confusionOf(rows, all, s),
      equity: equityCurve(rows, all, s, horizonMs),
      baselineFits: base.fits,
    });
  };

  for (const scope of scopes) scoreScope(scope, baselinesFor(scope.cardCounts), true);
  const ensemble = scopes.find((s) => s.kind === 'ensemble') ?? scopes[0];
  if (ensemble) {
    const base = baselinesFor(ensemble.cardCounts);
    const common = { modelVersion: 'walk-forward', inSample: ensemble.inSample };
    scoreScope({ ...common, scope: BASELINE_SCOPES.prior, kind: 'baseline', baseline: 'prior', probs: base.prior }, base, false);
    scoreScope({ ...common, scope: BASELINE_SCOPES.lastSign, kind: 'baseline', baseline: 'lastSign', probs: base.lastSign }, base, false);
  }
  return { folds, foldRows, metrics, scopes: results };
}

function emptyScores(): SliceScores {
  const nan = Number.NaN;
  return { rows: 0, logLoss: nan, brier: nan, accuracy: nan, ece: nan, priorLogLoss: nan, lastSignLogLoss: nan, trades: 0, pnl: 0, hitRate: nan };
}
