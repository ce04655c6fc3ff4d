import type { EvalMetric } from '../../schemas/eval-metric.ts';
import type { EvalReport, ReportScope, ReportScores } from './eval-report.ts';
import { confusionChart, escapeHtml, lineChart, niceTicks, thin, timeTicks, type Series, type Tick } from './svg.ts';

/** Class names in the order of the probability columns and the confusion matrices. */
const CLASSES = ['DOWN', 'FLAT', 'UP'] as const;
/** Okabe-Ito colours (distinguishable with colour-blindness), members in order; the ensemble is black. */
const MEMBER_COLORS = ['#E69F00', '#56B4E9', '#009E73', '#CC79A7', '#D55E00', '#0072B2', '#F0E442'];
const BASELINE_COLORS = ['#8c8c8c', '#b0b0b0'];
/** Most points drawn per equity line (the curve is thinned by index beyond that). */
const EQUITY_POINTS = 600;

const e = escapeHtml;
const isNum = (x: number): boolean => Number.isFinite(x);
const fix = (x: number, d: number): string => (isNum(x) ? x.toFixed(d) : '–');
const signed = (x: number, d: number): string => (isNum(x) ? `${x > 0 ? '+' : x < 0 ? '−' : ''}${Math.abs(x).toFixed(d)}` : '–');
const pct = (x: number, d = 1): string => (isNum(x) ? `${(x * 100).toFixed(d)}%` : '–');
const spct = (x: number, d = 2): string => (isNum(x) ? `${x > 0 ? '+' : x < 0 ? '−' : ''}${Math.abs(x * 100).toFixed(d)}%` : '–');
const int = (x: number): string => x.toLocaleString('en-US');
const when = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The colour of each scope: the ensemble black, members in palette order, baselines grey. */
function colorsOf(scopes: readonly ReportScope[]): Map<string, string> {
  const colors = new Map<string, string>();
  let member = 0;
  let baseline = 0;
  for (const s of scopes) {
    if (s.kind === 'ensemble') colors.set(s.scope, '#000000');
    else if (s.kind === 'member') colors.set(s.scope, MEMBER_COLORS[member++ % MEMBER_COLORS.length]!);
    else colors.set(s.scope, BASELINE_COLORS[baseline++ % BASELINE_COLORS.length]!);
  }
  return colors;
}

/** A numeric column of a score table: how to read and show it, and which way is better. */
interface Column {
  readonly head: string;
  readonly title: string;
  readonly value: (r: ReportScores) => number;
  readonly show: (x: number) => string;
  readonly better?: 'low' | 'high';
}

const SCORE_COLUMNS: readonly Column[] = [
  { head: 'rows', title: 'scored rows', value: (r) => r.rows, show: int },
  { head: 'log loss', title: 'mean log loss (lower is better)', value: (r) => r.logLoss, show: (x) => fix(x, 4), better: 'low' },
  { head: 'vs prior', title: 'log loss minus the class-prior baseline\'s on the same rows (negative: beats it)', value: (r) => r.logLoss - r.priorLogLoss, show: (x) => signed(x, 4), better: 'low' },
  { head: 'vs last sign', title: 'log loss minus the last-return-sign baseline\'s on the same rows (negative: beats it)', value: (r) => r.logLoss - r.lastSignLogLoss, show: (x) => signed(x, 4), better: 'low' },
  { head: 'Brier', title: 'multi-class Brier score (lower is better)', value: (r) => r.brier, show: (x) => fix(x, 4), better: 'low' },
  { head: 'accuracy', title: 'share of rows whose predicted class (soft-vote rule) is the label', value: (r) => r.accuracy, show: (x) => pct(x, 2), better: 'high' },
  { head: 'ECE', title: 'expected calibration error, top label, 15 bins (lower is better)', value: (r) => r.ece, show: (x) => fix(x, 4), better: 'low' },
  { head: 'trades', title: 'non-FLAT predictions, each held H bars', value: (r) => r.trades, show: int },
  { head: 'pnl', title: 'sum of net trade returns (each trade one unit of notional), in % of one unit', value: (r) => r.pnl, show: (x) => spct(x, 2), better: 'high' },
  { head: 'per trade', title: 'mean net return per trade, basis points (after costs)', value: (r) => (r.trades > 0 ? (r.pnl / r.trades) * 10_000 : Number.NaN), show: (x) => (isNum(x) ? `${signed(x, 1)} bp` : '–'), better: 'high' },
  { head: 'hit rate', title: 'share of trades with a positive net return', value: (r) => r.hitRate, show: (x) => pct(x, 1), better: 'high' },
];

/** Indices of the best finite values (ties all marked); none when fewer than two rows compete. */
function bestOf(values: readonly number[], better: 'low' | 'high'): Set<number> {
  const finite = values.map((v, i) => [v, i] as const).filter(([v]) => isNum(v));
  if (finite.length < 2) return new Set();
  const best = better === 'low' ? Math.min(...finite.map(([v]) => v)) : Math.max(...finite.map(([v]) => v));
  return new Set(finite.filter(([v]) => Math.abs(v - best) <= 1e-12 * Math.max(1, Math.abs(best))).map(([, i]) => i));
}

/** One row of a score table: its leading cells and its scores. */
interface ScoreRow {
  readonly cells: readonly string[];
  readonly scores: ReportScores;
  readonly cls?: string;
  /** Heads of columns left blank in this row (a baseline compared with itself). */
  readonly blank?: readonly string[];
}

/**
 * A table of scores: leading cells, then the score columns. Each group of rows is a tbody with its own best marks
 * (per column, among the group's rows), so e.g. the scopes of one month compete with each other only.
 */
function scoreTable(lead: readonly string[], groups: readonly (readonly ScoreRow[])[], columns = SCORE_COLUMNS): string {
  const head = [...lead.map((h) => `<th>${e(h)}</th>`), ...columns.map((c) => `<th class="num" title="${e(c.title)}">${e(c.head)}</th>`)].join('');
  const bodies = groups.map((rows) => {
    const value = (r: ScoreRow, c: Column): number => (r.blank?.includes(c.head) ? Number.NaN : c.value(r.scores));
    const best = columns.map((c) => (c.better ? bestOf(rows.map((r) => value(r, c)), c.better) : new Set<number>()));
    const trs = rows.map((r, i) => {
      const cells = columns.map((c, j) => {
        const mark = best[j]!.has(i);
        return `<td class="num${mark ? ' best' : ''}">${e(c.show(value(r, c)))}${mark ? ' <span class="star" title="best in column">★</span>' : ''}</td>`;
      });
      return `<tr${r.cls ? ` class="${e(r.cls)}"` : ''}>${r.cells.map((c) => `<td>${e(c)}</td>`).join('')}${cells.join('')}</tr>`;
    });
    return `<tbody>\n${trs.join('\n')}\n</tbody>`;
  });
  return `<table class="scores"><thead><tr>${head}</tr></thead>\n${bodies.join('\n')}\n</table>`;
}

/** Metric rows grouped (e.g. per month): one tbody per group, the scopes in report order. */
function groupedTable(groupHead: string, groups: readonly { label: string; rows: readonly EvalMetric[] }[], order: readonly string[]): string {
  if (groups.length === 0) return '<p class="note">No rows.</p>';
  return scoreTable(
    [groupHead, 'scope'],
    groups.map((g) =>
      [...g.rows]
        .sort((a, b) => order.indexOf(a.scope) - order.indexOf(b.scope))
        .map((m, i) => ({ cells: [i === 0 ? g.label : '', m.scope], scores: m, cls: m.scope === 'ensemble' ? 'ensemble' : '' })),
    ),
  );
}

function calibrationPlot(scopes: readonly ReportScope[], colors: Map<string, string>): string {
  const models = scopes.filter((s) => s.kind !== 'baseline');
  let lo = 1;
  let hi = 0;
  for (const s of models) {
    for (const b of s.reliability) {
      if (b.count === 0) continue;
      lo = Math.min(lo, b.confidence, b.accuracy);
      hi = Math.max(hi, b.confidence, b.accuracy);
    }
  }
  // One domain for both axes (so the diagonal is at 45 degrees), snapped to 0.1, zoomed on where the bins are.
  const dlo = hi >= lo ? Math.max(0, Math.floor(lo * 10 - 1e-9) / 10) : 0;
  const dhi = hi >= lo ? Math.min(1, Math.ceil(hi * 10 + 1e-9) / 10) : 1;
  const step = dhi - dlo > 0.5 ? 0.1 : 0.05;
  const ticks: Tick[] = [];
  for (let k = Math.round(dlo / step); k * step <= dhi + 1e-9; k++) ticks.push({ value: k * step, label: (k * step).toFixed(2) });
  const series: Series[] = models.map((s) => {
    const total = s.reliability.reduce((a, b) => a + b.count, 0);
    const bins = s.reliability.filter((b) => b.count > 0);
    return {
      name: s.scope,
      color: colors.get(s.scope)!,
      width: s.kind === 'ensemble' ? 2.5 : 1.5,
      points: bins.map((b) => ({ x: b.confidence, y: b.accuracy })),
      // Marker area by the bin's share of rows: sparse bins are visibly light-weight.
      markers: bins.map((b) => 2 + 7 * Math.sqrt(total > 0 ? b.count / total : 0)),
      tips: bins.map((b) => `${s.scope}: top probability ${b.lo.toFixed(3)}..${b.hi.toFixed(3)}, ${int(b.count)} rows, mean ${fix(b.confidence, 3)}, accuracy ${fix(b.accuracy, 3)}`),
    };
  });
  return lineChart({
    id: 'calibration',
    title: 'Reliability diagram: accuracy against mean top-label probability per bin (15 bins)',
    series,
    x: { domain: { lo: dlo, hi: dhi }, ticks, label: 'mean top-label probability in the bin' },
    y: { domain: { lo: dlo, hi: dhi }, ticks, label: 'accuracy of the top label' },
    diagonal: true,
    width: 720,
    height: 520,
  });
}

function equityPlot(scopes: readonly ReportScope[], colors: Map<string, string>, fromMs: number, toMs: number): string {
  const series: Series[] = scopes.map((s) => {
    const pts = thin(s.equity, EQUITY_POINTS).map((p) => ({ x: p.t, y: p.v }));
    // Start every line at 0 at the start of the period, so lines that trade later still begin on the axis.
    return {
      name: s.scope,
      color: colors.get(s.scope)!,
      dashed: s.kind === 'baseline',
      width: s.kind === 'ensemble' ? 2.5 : 1.5,
      points: pts.length > 0 ? [{ x: fromMs, y: 0 }, ...pts] : [],
    };
  });
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const y = niceTicks(Math.min(0, ...ys), Math.max(0, ...ys), 8);
  // Enough decimals to tell neighbouring ticks apart, no more.
  const decimals = Math.min(3, Math.max(0, -Math.floor(Math.log10((y.ticks[1]! - y.ticks[0]!) * 100))));
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const x0 = Math.min(fromMs, ...xs);
  const x1 = Math.max(toMs, ...xs);
  return lineChart({
    id: 'equity',
    title: 'Equity curve of the signal backtest per scope',
    series,
    x: { domain: { lo: x0, hi: x1 }, ticks: timeTicks(x0, x1), label: 'time (UTC)' },
    y: { domain: y.domain, ticks: y.ticks.map((v) => ({ value: v, label: `${(v * 100).toFixed(decimals)}%` })), label: 'net return: sum over trades / symbols' },
    zeroLine: true,
  });
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}.note{color:#555;font-size:13px;max-width:960px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f5f7;font-weight:600;white-space:nowrap}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.meta th{background:none;text-align:left;color:#555;font-weight:500;width:180px}
td.best{font-weight:700;background:#eaf5ea}.star{color:#2e7d32;font-size:11px}
tr.baseline td{color:#555;font-style:italic}tr.ensemble td{font-weight:600}
tbody+tbody{border-top:2px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg.chart{background:#fff;max-width:100%;height:auto}
.plot-bg{fill:#fcfcfd}.frame{fill:none;stroke:#999}.grid{stroke:#e5e5e5}.zero{stroke:#777;stroke-dasharray:3 3}
.diagonal{stroke:#999;stroke-dasharray:5 4}.tick{font-size:11px;fill:#555}.axis-label{font-size:12px;fill:#333}
.legend{font-size:12px;fill:#222}.cell-count{font-size:13px;font-weight:600;fill:#1d1d1f}.cell-share{font-size:11px;fill:#333}
.cell.diag{stroke:#2e7d32;stroke-width:2}figure{margin:0}figcaption{font-size:13px;color:#333;text-align:center}
`;

/**
 * Renders a `qt evaluate` report as one self-contained HTML page: inline CSS and SVG, no script, no external link;
 * every string from the data is escaped.
 */
export function renderEvalReport(r: EvalReport): string {
  const colors = colorsOf(r.scopes);
  const order = r.scopes.map((s) => s.scope);
  const models = r.scopes.filter((s) => s.kind !== 'baseline');
  const ensemble = r.scopes.find((s) => s.kind === 'ensemble');
  const costBps = 2 * (r.feeBps + r.slippageBps);
  const at = (m: EvalMetric, symbol: boolean, month: boolean, fold: boolean): boolean =>
    (m.symbol !== '*') === symbol && (m.month !== '*') === month && (m.fold !== -1) === fold;

  const meta: [string, string][] = [
    ['run id', r.runId],
    ['data', r.market],
    ['evaluated period', `${when(r.fromMs)} .. ${when(r.toMs)} UTC (bar open times of the labelled rows)`],
    [`symbols (${r.instruments.length})`, r.instruments.join(', ')],
    ['label', `${r.label} (H = ${r.horizonBars} bars)`],
    ['folds', `${r.foldMode}: ${r.folds.length} fold${r.folds.length === 1 ? '' : 's'}, walk-forward (baselines refitted per fold on the rows before it)`],
    ['vote weights', `${r.weights.map((w) => `${w.member}@${w.version} ${fix(w.weight, 3)}`).join(', ')} — ${r.weightsNote}`],
    ['costs', `fee ${r.feeBps} bps + slippage ${r.slippageBps} bps per side: ${costBps} bps per round trip`],
    [
      'rows',
      `${int(r.counts.bars)} bars (${int(r.counts.ingestDeadLetters)} ingest dead letters), ${int(r.counts.vectors)} feature vectors, ` +
        `${int(r.counts.unlabelled)} without a label (no bar H later), ${int(r.counts.rejected)} refused by the ensemble, ${int(r.counts.labelled)} labelled rows scored`,
    ],
    ['in-sample rows excluded', models.map((s) => `${s.scope} ${int(s.inSampleRows)}`).join(', ')],
  ];

  const modelRows = r.models
    .map(
      (m) =>
        `<tr><td>${e(m.member)}</td><td>${e(m.version)}</td><td>${e(m.role)}</td><td>${e(m.family)}</td><td>${e(m.trainer)}</td>` +
        `<td>${e(`${day(m.trainFromMs)} .. ${day(m.trainToMs)}`)}</td><td>${e(`${day(m.validFromMs)} .. ${day(m.validToMs)}`)}</td>` +
        `<td class="num">${e(fix(m.cardLogLoss, 4))}</td><td class="num">${e(pct(m.cardAccuracy, 2))}</td><td class="num">${e(m.cardEce === undefined ? '–' : fix(m.cardEce, 4))}</td>` +
        `<td><code>${e(m.sha256.slice(0, 12))}</code></td></tr>`,
    )
    .join('\n');

  const summary = scoreTable(
    ['scope', 'version', 'in-sample excluded'],
    [
      r.scopes.map((s) => ({
        cells: [s.kind === 'baseline' ? `${s.scope} (baseline)` : s.scope, s.modelVersion, s.kind === 'baseline' ? 'as ensemble' : int(s.inSampleRows)],
        scores: s.total,
        cls: s.kind,
        ...(s.baseline ? { blank: [s.baseline === 'prior' ? 'vs prior' : 'vs last sign'] } : {}),
      })),
    ],
  );

  const foldRows = r.folds
    .map(
      (f) =>
        `<tr><td class="num">${f.fold}</td><td>${e(f.label)}</td><td>${e(`${when(f.fromMs)} .. ${when(f.toMs)}`)}</td><td class="num">${e(int(f.rows))}</td>` +
        `<td>${e(f.baselineSource === 'card' ? 'card training counts' : 'labelled rows before the fold')} (${e(int(f.baselineRows))})</td>` +
        `<td class="num">${e(f.prior.map((p) => fix(p, 3)).join(' / '))}</td></tr>`,
    )
    .join('\n');

  const perFold = groupedTable(
    'fold',
    r.folds.map((f) => ({ label: `${f.fold}: ${f.label}`, rows: r.metrics.filter((m) => at(m, false, false, true) && m.fold === f.fold) })).filter((g) => g.rows.length > 0),
    order,
  );
  const months = [...new Set(r.metrics.filter((m) => at(m, false, true, false)).map((m) => m.month))].sort();
  const perMonth = groupedTable('month', months.map((mo) => ({ label: mo, rows: r.metrics.filter((m) => at(m, false, true, false) && m.month === mo) })), order);
  const symbols = [...new Set(r.metrics.filter((m) => at(m, true, false, false)).map((m) => `${m.exchange}:${m.symbol}`))].sort();
  const perSymbol = groupedTable(
    'symbol',
    symbols.map((s) => ({ label: s, rows: r.metrics.filter((m) => at(m, true, false, false) && `${m.exchange}:${m.symbol}` === s) })),
    order,
  );

  const confusions = models
    .map(
      (s, k) =>
        `<figure>${confusionChart({ id: `confusion-${k}`, title: `Confusion matrix of ${s.scope}`, classes: CLASSES, counts: s.confusion })}<figcaption>${e(s.scope)} (${e(int(s.total.rows))} rows)</figcaption></figure>`,
    )
    .join('\n');

  const best = ensemble ? bestLine(r.scopes) : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(`qt evaluate ${r.runId}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Walk-forward evaluation of the ensemble</h1>
<p class="sub">${e(`${day(r.fromMs)} .. ${day(r.toMs)} · ${r.instruments.length} symbols · ${r.models.length} models · ${int(r.counts.labelled)} labelled rows · run ${r.runId}`)}</p>
<table class="meta">${meta.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`).join('\n')}</table>

<h2>Models</h2>
<table><thead><tr><th>member</th><th>version</th><th>role</th><th>family</th><th>trainer</th><th>trained on</th><th>card validation</th><th class="num">card log loss</th><th class="num">card accuracy</th><th class="num">card ECE</th><th>sha256</th></tr></thead><tbody>
${modelRows}
</tbody></table>
<p class="note">Rows from a card's training start up to its validation start (the training range and the purge) are in-sample for that member and not scored, whatever their symbol (markets move together); the ensemble is scored only on rows out of every member's range.</p>

<h2>Summary</h2>
${summary}
<p class="note">${e(best)} ★ marks the best value of a column. The baselines are scored on the ensemble's rows: the class prior predicts the class shares, the last-return sign the class shares given the sign of the last 1-bar return; both are refitted per fold on the labels known before it (the first fold uses the cards' training counts). Predicted class: UP or DOWN only when strictly the most probable (the soft vote's rule).</p>

<h2>Calibration</h2>
<div class="charts">${calibrationPlot(r.scopes, colors)}</div>
<p class="note">Top-label reliability diagram, 15 equal-width bins: each marker is a bin at its mean top probability (x) and the share of its rows whose top class was right (y), its size by the bin's share of rows. On the dashed diagonal a model is calibrated; below it, over-confident. Axes are zoomed to the bins.</p>

<h2>Equity curve</h2>
<div class="charts">${equityPlot(r.scopes, colors, r.fromMs, r.toMs)}</div>
<p class="note">${e(r.equityNote)} Costs: ${costBps} bps per trade. Dashed: baselines.</p>

<h2>Confusion matrices</h2>
<div class="charts">${confusions}</div>
<p class="note">Rows: the actual class; columns: the predicted class; each cell its count and its share of the row. Outlined: correct predictions.</p>

<h2>Folds</h2>
<table><thead><tr><th class="num">fold</th><th>label</th><th>range (UTC, end exclusive)</th><th class="num">labelled rows</th><th>baselines fitted on</th><th class="num">prior DOWN / FLAT / UP</th></tr></thead><tbody>
${foldRows}
</tbody></table>
${r.folds.every((f) => f.baselineSource === 'card') ? `<p class="note">Every fold's baselines come from the cards' training counts (no labelled row before the fold), so the last-return-sign baseline equals the class prior here; with more folds (--folds n) they are refitted on the rows before each fold.</p>` : ''}
${perFold}

<h2>Per month</h2>
${perMonth}

<h2>Per symbol</h2>
${perSymbol}

<p class="note">Journal: ${e(`qt sql "SELECT scope, symbol, month, fold, rows, log_loss, prior_log_loss, pnl FROM qt.eval_metrics FINAL WHERE run_id = '${r.runId}' ORDER BY scope, symbol, month, fold"`)}</p>
</body>
</html>
`;
}

/** One sentence on how the ensemble did against the baselines and the best member. */
function bestLine(scopes: readonly ReportScope[]): string {
  const ens = scopes.find((s) => s.kind === 'ensemble');
  if (!ens || ens.total.rows === 0) return 'The ensemble scored no row.';
  const members = scopes.filter((s) => s.kind === 'member' && s.total.rows > 0);
  const bestMember = members.reduce<ReportScope | undefined>((b, s) => (b === undefined || s.total.logLoss < b.total.logLoss ? s : b), undefined);
  const d = (x: number): string => signed(x, 4);
  return (
    `Ensemble log loss ${fix(ens.total.logLoss, 4)}: ${d(ens.total.logLoss - ens.total.priorLogLoss)} against the class prior, ` +
    `${d(ens.total.logLoss - ens.total.lastSignLogLoss)} against the last-return sign` +
    (bestMember ? `; best member ${bestMember.scope} ${fix(bestMember.total.logLoss, 4)}.` : '.')
  );
}
