import { map } from 'rxjs/operators';
import { inputWidth } from '../../models/card.ts';
import { ModelInputError } from '../../models/errors.ts';
import type { ClassifierModel } from '../../models/model-port.ts';
import { softVote } from '../../operators/ensemble/soft-vote.ts';
import type { LabelSpec } from '../../operators/ensemble/scoring.ts';
import { featureIndex } from '../../operators/features/feature-set.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { forwardReturns } from '../dataset/forward-returns.ts';
import { rowLabel } from '../dataset/export.ts';
import { featuresEpic } from '../features/epic.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { marketBars } from '../run/market-bars.ts';
import type { Market } from '../run/market.ts';
import { EvaluationError } from './errors.ts';
import type { ScoredRows } from './evaluate.ts';

/** What was read and refused on the way to the scored rows. */
export interface CollectCounts {
  /** Bars out of the ingest (aggregated from trades, or validated klines). */
  readonly bars: number;
  /** Records the ingest refused (md.trades.v1.dlq, md.bars.1m.v1.dlq). */
  readonly ingestDeadLetters: number;
  /** Feature vectors out of the feature stage. */
  readonly vectors: number;
  /** Vectors with no label: the forward bar never came (end of data, or a gap). */
  readonly unlabelled: number;
  /** Labelled vectors a model cannot read (a non-finite value or the wrong shape: the ensemble's dead letters). */
  readonly rejected: number;
}

/** The labelled rows with every model's and the soft vote's probabilities. */
export interface CollectedRows extends ScoredRows {
  /** Per model, in the order given: rows x 3 probabilities. */
  readonly modelProbs: readonly Float32Array[];
  /** The champions' soft vote, rows x 3. */
  readonly ensembleProbs: Float64Array;
  readonly counts: CollectCounts;
}

/** Options of the collection. */
export interface CollectOptions {
  readonly label: LabelSpec;
  /** Ingest settings (config.market). */
  readonly allowedLatenessMs: number;
  readonly maxJump?: number;
  /** Vote weight per member (default 1 each): the weights in force. */
  readonly weights?: Readonly<Record<string, number>>;
  /** Rows per scoring call: every model predicts this many rows at once (default 8192; offline, so large). */
  readonly batchRows?: number;
  /** Bar interval, ms (default 60000). */
  readonly barMs?: number;
}

const RET_1 = featureIndex('ret_1');

/** Growable columns of the scored rows. */
class Columns {
  readonly instrument: number[] = [];
  readonly openTime: number[] = [];
  readonly fwdRet: number[] = [];
  readonly label: number[] = [];
  readonly ret1: number[] = [];
  readonly ensemble: number[] = [];
  readonly models: number[][];
  constructor(models: number) {
    this.models = Array.from({ length: models }, () => []);
  }
}

/**
 * Replays a market through the serving stages and scores it: records → ingestEpic (edge validation, trades → 1m
 * bars) → featuresEpic (the serving feature operator) → forward returns over the label's H → labelOf → every model
 * predicts `batchRows` rows per call (its card's input: values or window) → the champions' soft vote (softVote, with
 * `weights`). Not through the live ensemble stage: that one also adapts weights and gates signals as it goes, while
 * this scores the models and the plain vote. Only labelled rows are scored (the others cannot be graded). The replay
 * clock is each record's event time, so the same market gives the same rows. The market is read chunk by chunk and
 * scoring awaits between chunks, so memory holds about a batch of vectors besides the compact columns.
 */
export async function collectScoredRows(market: Market, models: readonly ClassifierModel[], opts: CollectOptions): Promise<CollectedRows> {
  const barMs = opts.barMs ?? 60_000;
  const batchRows = opts.batchRows ?? 8192;
  const scheduler = new ReplayScheduler(market.fromMs);
  const replay = marketBars(market, scheduler, opts);
  const counts = { vectors: 0, unlabelled: 0, rejected: 0 };
  const instruments: { exchange: string; symbol: string }[] = [];
  const instrumentOf = new Map<string, number>();
  const cols = new Columns(models.length);
  let pending: { vector: FeatureVector; fwdRet: number; label: number }[] = [];
  let failure: unknown;
  let completed = false;

  const sub = featuresEpic({ bars: replay.bars$ }, { scheduler })
    .pipe(
      map((o) => o.value as FeatureVector),
      forwardReturns(opts.label.horizonBars, barMs),
    )
    .subscribe({
      next: (row) => {
        counts.vectors++;
        const y = rowLabel(row, opts.label);
        if (y === null || row.fwdRet === null) counts.unlabelled++;
        else pending.push({ vector: row.vector, fwdRet: row.fwdRet, label: y });
      },
      error: (e: unknown) => (failure ??= e),
      complete: () => (completed = true),
    });

  // One input buffer per distinct input (kind, columns, window shape): models reading the same input share it.
  const inputKey = (m: ClassifierModel): string => `${m.card.input.kind}|${m.card.features.join()}|${m.card.input.windowLength}x${m.card.input.windowChannels}`;
  const width = (m: ClassifierModel): number => inputWidth(m.card);
  const fits = (v: FeatureVector, m: ClassifierModel): boolean => {
    const x = m.card.input.kind === 'window' ? v.window : v.values;
    if (m.card.input.kind === 'window' && (v.windowLength !== m.card.input.windowLength || v.windowChannels !== m.card.input.windowChannels)) return false;
    return x.length === width(m) && x.every((value) => Number.isFinite(value));
  };
  const champions = models.map((m, j) => [m, j] as const).filter(([m]) => m.role === 'CHAMPION');
  if (champions.length === 0) throw new EvaluationError('NO_CHAMPION', `${models.length} models, none CHAMPION: no ensemble to evaluate`);
  const weightOf = (m: ClassifierModel): number => opts.weights?.[m.member] ?? 1;

  const scoreBatch = async (): Promise<void> => {
    // Rows every model can read (the ensemble's rule: a vector with a non-finite value or the wrong shape is refused).
    const batch = pending.filter((r) => models.every((m) => fits(r.vector, m)));
    counts.rejected += pending.length - batch.length;
    pending = [];
    const rows = batch.length;
    if (rows === 0) return;
    const inputs = new Map<string, Float32Array>();
    const probs: Float32Array[] = [];
    for (const m of models) {
      const key = inputKey(m);
      let x = inputs.get(key);
      if (!x) {
        const w = width(m);
        x = new Float32Array(rows * w);
        for (let i = 0; i < rows; i++) x.set(m.card.input.kind === 'window' ? batch[i]!.vector.window : batch[i]!.vector.values, i * w);
        inputs.set(key, x);
      }
      const p = await m.predict(x, rows);
      if (p.length !== rows * 3) throw new ModelInputError(m.member, `${rows * 3} probabilities`, `${p.length}`);
      probs.push(p);
    }
    batch.forEach((r, i) => {
      const v = r.vector;
      const key = `${v.exchange}:${v.symbol}`;
      let inst = instrumentOf.get(key);
      if (inst === undefined) {
        inst = instruments.length;
        instruments.push({ exchange: v.exchange, symbol: v.symbol });
        instrumentOf.set(key, inst);
      }
      cols.instrument.push(inst);
      cols.openTime.push(v.openTime);
      cols.fwdRet.push(r.fwdRet);
      cols.label.push(r.label);
      cols.ret1.push(v.values[RET_1]!);
      probs.forEach((p, j) => cols.models[j]!.push(p[i * 3]!, p[i * 3 + 1]!, p[i * 3 + 2]!));
      const vote = softVote(
        champions.map(([m, j]) => ({ member: m.member, modelVersion: m.version, weight: weightOf(m), pDown: probs[j]![i * 3]!, pFlat: probs[j]![i * 3 + 1]!, pUp: probs[j]![i * 3 + 2]! })),
      );
      cols.ensemble.push(vote.pDown, vote.pFlat, vote.pUp);
    });
  };

  try {
    for await (const chunk of market.chunks()) {
      for (const item of chunk) replay.push(item);
      if (failure !== undefined) throw failure;
      if (pending.length >= batchRows) await scoreBatch();
    }
    replay.complete();
    if (failure !== undefined) throw failure;
    if (!completed) throw new Error('evaluate: the feature stream did not complete with its inputs');
    await scoreBatch();
  } finally {
    sub.unsubscribe();
  }
  return {
    n: cols.label.length,
    instruments,
    instrument: Int32Array.from(cols.instrument),
    openTime: Float64Array.from(cols.openTime),
    fwdRet: Float64Array.from(cols.fwdRet),
    label: Uint8Array.from(cols.label),
    ret1: Float64Array.from(cols.ret1),
    modelProbs: cols.models.map((m) => Float32Array.from(m)),
    ensembleProbs: Float64Array.from(cols.ensemble),
    counts: { bars: replay.counts.bars, ingestDeadLetters: replay.counts.deadLetters, ...counts },
  };
}
