import { double, field, int, long, record, string, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/**
 * eval.metrics.v1: one row of a `qt evaluate` report: the out-of-sample scores of the ensemble or one member over one
 * slice (all, a symbol, a month, a fold) of a walk-forward backtest. `*` in exchange, symbol or month means all.
 */
export const EvalMetricSchema = record('qt.eval.EvalMetric', {
  ...envelope,
  runId: field(string, { doc: 'the evaluation run (hash of its data, models and settings)' }),
  scope: field(string, { doc: 'ensemble, or the member name' }),
  modelVersion: string,
  exchange: string,
  symbol: string,
  month: field(string, { doc: 'YYYY-MM (UTC) or *' }),
  fold: field(int, { doc: 'walk-forward fold, -1 for all' }),
  rows: field(long, { doc: 'scored rows (labelled, out of the model training range)' }),
  logLoss: double,
  brier: double,
  accuracy: double,
  ece: field(double, { doc: 'expected calibration error, top label, 15 equal-width bins' }),
  priorLogLoss: field(double, { doc: 'log loss of the class-prior baseline (prior from the model training range)' }),
  lastSignLogLoss: field(double, { doc: 'log loss of the last-return-sign baseline' }),
  trades: field(long, { doc: 'non-FLAT signals traded by the signal backtest' }),
  pnl: field(double, { doc: 'sum of signal returns net of costs, as a fraction of notional per trade' }),
  hitRate: field(double, { doc: 'share of traded signals with a positive net return' }),
}, 'An evaluation metric row.');
/** eval.metrics.v1 message. */
export type EvalMetric = Infer<typeof EvalMetricSchema>;
