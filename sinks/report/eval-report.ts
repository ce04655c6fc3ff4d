import type { EvalMetric } from '../../schemas/eval-metric.ts';

/**
 * The content of a `qt evaluate` report: plain data, built by pipelines/evaluate and rendered here into one
 * self-contained HTML file. Times are ms since the epoch (UTC); returns and shares are fractions.
 */

/** One bin of a reliability diagram (top label): rows whose top probability fell in [lo, hi). */
export interface ReliabilityBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  /** Mean top probability of the bin's rows (NaN when empty). */
  readonly confidence: number;
  /** Share of the bin's rows whose top label was right (NaN when empty). */
  readonly accuracy: number;
}

/** A point of an equity curve: time (ms) and the cumulative value up to and including it. */
export interface EquityPoint {
  readonly t: number;
  readonly v: number;
}

/** Scores over a set of rows (the columns of an eval.metrics.v1 row). */
export interface ReportScores {
  readonly rows: number;
  readonly logLoss: number;
  readonly brier: number;
  readonly accuracy: number;
  readonly ece: number;
  readonly priorLogLoss: number;
  readonly lastSignLogLoss: number;
  readonly trades: number;
  readonly pnl: number;
  readonly hitRate: number;
}

/** One scored scope: the ensemble, a member, or a baseline scored on the ensemble's rows. */
export interface ReportScope {
  readonly scope: string;
  readonly kind: 'ensemble' | 'member' | 'baseline';
  readonly modelVersion: string;
  /** Which baseline a scope of kind `baseline` is (its own comparison column is left blank). */
  readonly baseline?: 'prior' | 'lastSign';
  /** Rows not scored because they lie in the training range of the model (of any member, for the ensemble). */
  readonly inSampleRows: number;
  readonly total: ReportScores;
  readonly reliability: readonly ReliabilityBin[];
  /** Counts by actual class (row) and predicted class (column): DOWN, FLAT, UP. */
  readonly confusion: readonly (readonly number[])[];
  /** Cumulative signal-backtest return (see EvalReport.equityNote). */
  readonly equity: readonly EquityPoint[];
}

/** A served model as its card describes it. */
export interface ReportModel {
  readonly member: string;
  readonly version: string;
  readonly role: string;
  readonly family: string;
  readonly trainer: string;
  readonly trainFromMs: number;
  readonly trainToMs: number;
  /** Start of the card's validation range: rows from card trainFromMs up to this are in-sample (training + purge). */
  readonly validFromMs: number;
  readonly validToMs: number;
  /** The card's out-of-sample scores on its validation range. */
  readonly cardLogLoss: number;
  readonly cardAccuracy: number;
  readonly cardEce: number | undefined;
  readonly sha256: string;
}

/** One walk-forward fold and the baselines fitted for it. */
export interface ReportFold {
  readonly fold: number;
  readonly label: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Labelled rows in the fold (before in-sample exclusion). */
  readonly rows: number;
  /** Where the fold's baselines came from: the card's training counts, or the labelled rows before the fold. */
  readonly baselineSource: 'card' | 'data';
  readonly baselineRows: number;
  /** Class-prior baseline: P(DOWN), P(FLAT), P(UP). */
  readonly prior: readonly number[];
}

/** Everything a `qt evaluate` report shows. */
export interface EvalReport {
  readonly runId: string;
  /** The market, as the source describes it. */
  readonly market: string;
  /** The evaluated period: first and last labelled bar (open times). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Instruments `exchange:symbol`, sorted. */
  readonly instruments: readonly string[];
  /** The label definition (from the cards). */
  readonly label: string;
  readonly horizonBars: number;
  readonly feeBps: number;
  readonly slippageBps: number;
  /** How the folds were cut (e.g. `month`, `4 blocks`). */
  readonly foldMode: string;
  readonly folds: readonly ReportFold[];
  /** The vote weights used, normalised over the champions. */
  readonly weights: readonly { readonly member: string; readonly version: string; readonly weight: number }[];
  /** Where the weights came from (e.g. equal: governance weights not applied yet). */
  readonly weightsNote: string;
  readonly models: readonly ReportModel[];
  /** Rows on the way: bars, ingest dead letters, feature vectors, unlabelled vectors, vectors the ensemble refused, labelled rows scored. */
  readonly counts: {
    readonly bars: number;
    readonly ingestDeadLetters: number;
    readonly vectors: number;
    readonly unlabelled: number;
    readonly rejected: number;
    readonly labelled: number;
  };
  /** Ensemble first, then the members, then the baselines. */
  readonly scopes: readonly ReportScope[];
  /** How the equity curve is built. */
  readonly equityNote: string;
  /** The journal rows of the run (eval.metrics.v1). */
  readonly metrics: readonly EvalMetric[];
}
