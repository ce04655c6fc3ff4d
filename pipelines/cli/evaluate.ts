import { ConfigError } from '../config.ts';
import type { EvaluationRun } from '../evaluate/main.ts';
import { formatFlags, parseArgs, type FlagSpec } from './args.ts';
import { COMMON, configFrom, RUN_FLAGS, type CliIo } from './common.ts';

/** The market flags of `qt run` that choose the data (replay pacing, progress and metrics do not apply here). */
const MARKET_FLAGS: readonly FlagSpec[] = RUN_FLAGS.filter((f) => ['data', 'symbols', 'from', 'to', 'days', 'seed'].includes(f.name));

/** The flags `qt evaluate` handles itself. */
const EVALUATE_FLAGS: readonly FlagSpec[] = [
  { name: 'out', kind: 'string', value: 'file.html', help: 'the HTML report (default var/reports/evaluate-<run id>.html)' },
  { name: 'folds', kind: 'string', value: 'month|n', help: 'walk-forward folds: calendar months (default) or n equal blocks' },
];

const USAGE = `Usage: qt evaluate [flags]

Walk-forward backtest of the ensemble and each member: the market qt run replays (synthetic by default, or Binance
kline or trade CSV files with --data) -> ingest -> the serving features -> every model predicts -> label from the
forward return over the cards' horizon -> the champions' soft vote (equal weights) -> per fold, symbol and month: log
loss, Brier, accuracy, calibration error, two walk-forward baselines (class prior, last-return sign) and a signal
backtest net of costs (fee + slippage from the broker config). Rows in a model's training range are not scored.
Writes the rows to the journal (qt.eval_metrics; a rerun replaces them) and a self-contained HTML report.

Market flags:
${formatFlags(MARKET_FLAGS)}

Evaluate flags:
${formatFlags([...EVALUATE_FLAGS, ...COMMON])}
`;

const n = (x: number): string => x.toLocaleString('en-US');
const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '-');
const sgn = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(4)}` : '-');
const pct = (x: number, d = 1): string => (Number.isFinite(x) ? `${(x * 100).toFixed(d)}%` : '-');
const when = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** The text summary `qt evaluate` prints: the run, a table of the scopes and baselines, the report and journal. */
export function formatEvaluationSummary(run: EvaluationRun): string {
  const r = run.report;
  const lines = [
    `qt evaluate: ${r.market}`,
    `  run           ${run.runId}`,
    `  period        ${when(r.fromMs)} .. ${when(r.toMs)} UTC, ${r.instruments.length} symbol${r.instruments.length === 1 ? '' : 's'}, ${r.folds.length} fold${r.folds.length === 1 ? '' : 's'} (${r.foldMode})`,
    `  rows          ${n(r.counts.labelled)} labelled of ${n(r.counts.vectors)} vectors (${n(r.counts.unlabelled)} unlabelled, ${n(r.counts.rejected)} refused)`,
    `  label         H ${r.horizonBars} bars; costs ${2 * (r.feeBps + r.slippageBps)} bps per round trip`,
    `  weights       ${r.weightsNote}`,
    '',
  ];
  const head = ['scope', 'rows', 'in-sample', 'log loss', 'vs prior', 'vs last sign', 'accuracy', 'trades', 'pnl', 'hit rate'];
  const table = r.scopes.map((s) => [
    s.kind === 'baseline' ? `(${s.scope})` : s.scope,
    n(s.total.rows),
    s.kind === 'baseline' ? '' : n(s.inSampleRows),
    f4(s.total.logLoss),
    s.kind === 'baseline' ? '' : sgn(s.total.logLoss - s.total.priorLogLoss),
    s.kind === 'baseline' ? '' : sgn(s.total.logLoss - s.total.lastSignLogLoss),
    pct(s.total.accuracy, 2),
    n(s.total.trades),
    pct(s.total.pnl, 2),
    pct(s.total.hitRate),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...table.map((row) => row[j]!.length)));
  const fmt = (row: readonly string[]): string => `  ${row.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')}`.trimEnd();
  lines.push(fmt(head), ...table.map(fmt), '');
  lines.push(`  report        ${run.reportPath}`);
  lines.push(
    run.journalRows > 0
      ? `  journal       ${n(run.journalRows)} rows in qt.eval_metrics, e.g.\n    qt sql "SELECT scope, symbol, rows, round(log_loss, 4) AS ll, round(prior_log_loss, 4) AS prior, round(pnl, 4) AS pnl FROM qt.eval_metrics FINAL WHERE run_id = '${run.runId}' AND month = '*' AND fold = -1 ORDER BY scope, symbol"`
      : `  journal       nothing written: ${r.scopes.some((s) => s.kind !== 'baseline' && s.total.rows > 0) ? 'journal disabled' : "no scored row (every row lies in a model's training range)"}`,
  );
  return `${lines.join('\n')}\n`;
}

/** `qt evaluate`: walk-forward backtest of the ensemble and each member; journal rows and an HTML report. */
export async function evaluateCli(argv: readonly string[], io: CliIo): Promise<number> {
  const specs = [...MARKET_FLAGS, ...EVALUATE_FLAGS];
  // Parse once for the command's own flags, so their problems are listed together with the config's.
  const parsed = parseArgs(argv, [...specs, ...COMMON]);
  if (parsed.own.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const { parseFoldSpec } = await import('../evaluate/folds.ts');
  const { EvaluationError } = await import('../evaluate/errors.ts');
  const problems: string[] = [];
  let folds;
  try {
    folds = parseFoldSpec(parsed.own.folds as string | undefined);
  } catch (e) {
    if (!(e instanceof EvaluationError)) throw e;
    problems.push(e.message.replace(/^evaluate: BAD_FOLDS: /, ''));
  }
  if (parsed.positionals.length > 0) problems.push(`unexpected arguments: ${parsed.positionals.join(' ')} (use --data for files)`);
  let config;
  try {
    config = configFrom(argv, specs, io).config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.unshift(...e.problems);
  }
  if (problems.length > 0 || !config || !folds) {
    io.stderr.write(`qt evaluate: ${new ConfigError(problems).message}\n`);
    return 2;
  }
  const { runEvaluation } = await import('../evaluate/main.ts');
  try {
    const run = await runEvaluation(config, { folds, ...(typeof parsed.own.out === 'string' ? { out: parsed.own.out } : {}) });
    io.stdout.write(formatEvaluationSummary(run));
    return 0;
  } catch (e) {
    // Folds that do not fit the data, or no labelled row: a usage problem, say which flags to change.
    if (e instanceof EvaluationError && (e.reason === 'BAD_FOLDS' || e.reason === 'NO_LABELLED_ROWS')) {
      io.stderr.write(`qt evaluate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
