import { join } from 'node:path';
import type { ClassifierModel } from '../../models/model-port.ts';
import { deriveId } from '../../schemas/ids.ts';
import { openJournal } from '../../sinks/journal/open.ts';
import type { EvalReport, ReportFold } from '../../sinks/report/eval-report.ts';
import { writeEvalReport } from '../../sinks/report/write.ts';
import type { Config } from '../config.ts';
import { openMarket } from '../run/market.ts';
import { collectScoredRows, type CollectedRows } from './collect.ts';
import { EvaluationError } from './errors.ts';
import { EQUITY_NOTE, evaluateScopes, type EvaluationResult, type ScopeInput } from './evaluate.ts';
import { foldSpecText, type FoldSpec } from './folds.ts';
import { EVALUATED_BAR_MS, evaluationLabel } from './label-spec.ts';
import { loadEvaluatedModels } from './models.ts';

/** Options of an evaluation run. */
export interface EvaluateOptions {
  readonly folds: FoldSpec;
  /** Where the HTML report goes (default var/reports/evaluate-<runId>.html). */
  readonly out?: string;
  /** The models to score (default loadEvaluatedModels(config)); models passed in are left open. */
  readonly models?: readonly ClassifierModel[];
  /** Write the metric rows to the journal (default true). */
  readonly journal?: boolean;
  /** Rows per predict() call (default 8192). */
  readonly batchRows?: number;
}

/** What an evaluation run did. */
export interface EvaluationRun {
  readonly runId: string;
  /** Absolute path of the HTML report. */
  readonly reportPath: string;
  readonly result: EvaluationResult;
  readonly report: EvalReport;
  /** The labelled rows and every model's probabilities (what the metrics were computed from). */
  readonly rows: CollectedRows;
  /** Rows written to qt.eval_metrics (0 without the journal). */
  readonly journalRows: number;
}

/** What the report says about the vote weights, while governance weights are not applied offline. */
export const WEIGHTS_NOTE = 'equal weights (the weights in force: governance re-weighting is not applied by qt evaluate yet)';

/** The name of a model's scope: its member name, or member@version when two models share a member (a shadow). */
function scopeNames(models: readonly ClassifierModel[]): string[] {
  const count = new Map<string, number>();
  for (const m of models) count.set(m.member, (count.get(m.member) ?? 0) + 1);
  return models.map((m) => (count.get(m.member)! > 1 ? `${m.member}@${m.version}` : m.member));
}

/** 1 where a row's bar lies in the model's training range [card train.fromMs, validFromMs): training and purge. */
function inSampleMask(rows: CollectedRows, m: ClassifierModel): Uint8Array {
  const from = m.card.data.train.fromMs;
  const to = m.card.data.validFromMs;
  const mask = new Uint8Array(rows.n);
  for (let i = 0; i < rows.n; i++) mask[i] = rows.openTime[i]! >= from && rows.openTime[i]! < to ? 1 : 0;
  return mask;
}

/**
 * `qt evaluate`: replays the configured market through the serving stages, scores every model and the champions'
 * soft vote on the labelled rows out of their training ranges, walk-forward per fold against two baselines, writes the
 * metric rows to the journal (qt.eval_metrics, ids derived from the run id: a rerun replaces them) and the HTML
 * report. The run id hashes the data, the models (versions and sha256) and the settings.
 */
export async function runEvaluation(config: Config, opts: EvaluateOptions): Promise<EvaluationRun> {
  const market = await openMarket(config);
  const owned = opts.models === undefined;
  const models = opts.models ?? (await loadEvaluatedModels(config));
  try {
    const label = evaluationLabel(models.map((m) => m.card));
    const champions = models.filter((m) => m.role === 'CHAMPION');
    // Equal weights: what the live ensemble uses until governance sets others (createEnsembleScorer's default of 1).
    const weights = champions.map((m) => ({ member: m.member, version: m.version, weight: 1 / champions.length }));
    const feeBps = config.broker.feeBps;
    const slippageBps = config.broker.slippageBps;
    const synthetic = config.run.data.length === 0;
    const runId = deriveId(
      'evalrun',
      JSON.stringify({
        market: market.description,
        fromMs: market.fromMs,
        toMs: market.toMs,
        instruments: [...market.instruments].sort(),
        data: config.run.data,
        ...(synthetic ? { seed: config.run.seed, tradesPerMinute: config.market.tradesPerMinute } : {}),
        ingest: { allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump },
        models: models.map((m) => ({ member: m.member, version: m.version, role: m.role, sha256: m.card.onnx.sha256 })),
        label,
        folds: foldSpecText(opts.folds),
        weights: weights.map((w) => `${w.member}@${w.version}:${w.weight}`),
        feeBps,
        slippageBps,
      }),
    );

    const rows = await collectScoredRows(market, models, {
      label,
      allowedLatenessMs: config.market.allowedLatenessMs,
      maxJump: config.market.maxJump,
      barMs: EVALUATED_BAR_MS,
      ...(opts.batchRows !== undefined ? { batchRows: opts.batchRows } : {}),
    });
    if (rows.n === 0) {
      throw new EvaluationError('NO_LABELLED_ROWS', `${market.description}: ${rows.counts.vectors} feature vectors, none labelled (more data: --days, --from/--to)`);
    }

    const names = scopeNames(models);
    const masks = models.map((m) => inSampleMask(rows, m));
    const championMasks = masks.filter((_, j) => models[j]!.role === 'CHAMPION');
    const ensembleMask = new Uint8Array(rows.n);
    for (let i = 0; i < rows.n; i++) ensembleMask[i] = championMasks.some((mk) => mk[i] === 1) ? 1 : 0;
    // The first fold's prior: a member's training class counts; the ensemble's, their mean over the champions (the
    // shipped members share one training set, so it is that set's counts).
    const countsOf = (ms: readonly ClassifierModel[]): number[] =>
      [0, 1, 2].map((c) => ms.reduce((s, m) => s + (m.card.data.train.classCounts[c] ?? 0), 0) / ms.length);
    const scopes: ScopeInput[] = [
      {
        scope: 'ensemble',
        kind: 'ensemble',
        modelVersion: champions.map((m) => `${m.member}@${m.version}`).join('+'),
        probs: rows.ensembleProbs,
        inSample: ensembleMask,
        cardCounts: countsOf(champions),
      },
      ...models.map(
        (m, j): ScopeInput => ({ scope: names[j]!, kind: 'member', modelVersion: m.version, probs: rows.modelProbs[j]!, inSample: masks[j]!, cardCounts: countsOf([m]) }),
      ),
    ];
    let last = Number.NEGATIVE_INFINITY;
    let first = Number.POSITIVE_INFINITY;
    for (let i = 0; i < rows.n; i++) {
      last = Math.max(last, rows.openTime[i]!);
      first = Math.min(first, rows.openTime[i]!);
    }
    const result = evaluateScopes(rows, scopes, {
      runId,
      horizonBars: label.horizonBars,
      barMs: EVALUATED_BAR_MS,
      folds: opts.folds,
      roundTripCost: (2 * (feeBps + slippageBps)) / 10_000,
      tsEvent: last + EVALUATED_BAR_MS,
    });

    const ensembleFits = result.scopes.find((s) => s.kind === 'ensemble')!.baselineFits;
    const folds: ReportFold[] = result.folds.map((f, k) => ({
      ...f,
      rows: result.foldRows[k]!,
      baselineSource: ensembleFits[k]!.source,
      baselineRows: ensembleFits[k]!.fittedRows,
      prior: ensembleFits[k]!.prior,
    }));
    const card0 = models[0]!.card;
    const report: EvalReport = {
      runId,
      market: market.description,
      fromMs: first,
      toMs: last,
      instruments: rows.instruments.map((x) => `${x.exchange}:${x.symbol}`).sort(),
      label: card0.label.definition,
      horizonBars: label.horizonBars,
      feeBps,
      slippageBps,
      foldMode: foldSpecText(opts.folds),
      folds,
      weights,
      weightsNote: WEIGHTS_NOTE,
      models: models.map((m) => ({
        member: m.member,
        version: m.version,
        role: m.role,
        family: m.card.family,
        trainer: `${m.card.trainer.name} ${m.card.trainer.version}`,
        trainFromMs: m.card.data.train.fromMs,
        trainToMs: m.card.data.train.toMs,
        validFromMs: m.card.data.validFromMs,
        validToMs: m.card.data.validation.toMs,
        cardLogLoss: m.card.metrics.model.logLoss,
        cardAccuracy: m.card.metrics.model.accuracy,
        cardEce: m.card.metrics.model.ece,
        sha256: m.card.onnx.sha256,
      })),
      counts: { ...rows.counts, labelled: rows.n },
      scopes: result.scopes.map(({ baselineFits: _fits, ...s }) => s),
      equityNote: EQUITY_NOTE,
      metrics: result.metrics,
    };
    const reportPath = writeEvalReport(opts.out ?? join('var', 'reports', `evaluate-${runId}.html`), report);

    let journalRows = 0;
    if (opts.journal !== false && result.metrics.length > 0) {
      const journal = await openJournal(config.journal);
      try {
        await journal.write('eval.metrics.v1', result.metrics);
        await journal.flush();
        journalRows = result.metrics.length;
      } finally {
        await journal.close();
      }
    }
    return { runId, reportPath, result, report, rows, journalRows };
  } finally {
    if (owned) for (const m of models) await m.close();
  }
}
