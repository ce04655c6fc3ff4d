import { from, type Observable, type SchedulerLike } from 'rxjs';
import { concatMap, map } from 'rxjs/operators';
import type { ClassifierModel } from '../../models/model-port.ts';
import { ModelInputError } from '../../models/errors.ts';
import { FEATURE_NAMES, featureIndex } from '../../operators/features/feature-set.ts';
import { microBatch } from '../../operators/ensemble/micro-batch.ts';
import { softVote } from '../../operators/ensemble/soft-vote.ts';
import { codecFor } from '../../schemas/codec.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { DEFAULT_REGIME, type EnsembleSignal, type MarketContext } from '../../schemas/ensemble-signal.ts';
import { FeatureVectorSchema, type FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';
import { defineCounter, defineHistogram, METRICS } from '../../schemas/metrics.ts';
import type { ModelVote } from '../../schemas/model-vote.ts';
import { out, type Meter, type Outgoing } from '../../schemas/ports.ts';

/**
 * Why a feature vector was not voted on (the reason of its dead letter). Values are always checked (the signal's market
 * context reads them); the window only when a model reads it.
 */
export const VECTOR_REJECTIONS = [
  'FEATURE_SET_MISMATCH',
  'FEATURE_COUNT_MISMATCH',
  'NON_FINITE_FEATURE',
  'WINDOW_SHAPE_MISMATCH',
  'NON_FINITE_WINDOW',
] as const;
/** Why a feature vector was not voted on. */
export type VectorRejection = (typeof VECTOR_REJECTIONS)[number];

/** The models cannot form an ensemble (no champion, or members disagreeing on their input). */
export class EnsembleConfigError extends Error {
  override readonly name = 'EnsembleConfigError';
  readonly retriable = false;
  constructor(readonly reason: 'NO_CHAMPION' | 'INPUTS_DIFFER', detail: string) {
    super(`ensemble: ${reason}: ${detail}`);
  }
}

/** Ports and settings of the ensemble stage. */
export interface EnsembleDeps {
  /** Champions act in the vote; shadows only vote into model.votes.v1. Order is the order of their votes. */
  readonly models: readonly ClassifierModel[];
  /** Stamps tsInit; runs the maxWaitMs timer. */
  readonly scheduler: SchedulerLike;
  readonly meter: Meter;
  /** Vote weight per member (default 1), normalised over the champions present. */
  readonly weights?: Readonly<Record<string, number>>;
  /** Flush a micro-batch this long after its first vector even if no later vector came (live use). */
  readonly maxWaitMs?: number;
  /** Milliseconds from an arbitrary origin, for the latency metric only (never in messages). */
  readonly stopwatch?: () => number;
}

const vectorCodec = codecFor(FeatureVectorSchema);
const iAtr = featureIndex('atr_pct_14');
const iVol = featureIndex('rvol_30');
const iRsi = featureIndex('rsi_14');
const iEma = featureIndex('ema_ratio_12_26');
const iRet = featureIndex('ret_15');

function marketOf(v: FeatureVector): MarketContext {
  const at = (i: number): number => v.values[i] ?? Number.NaN;
  return { close: v.close, atrPct: at(iAtr), realizedVol: at(iVol), rsi: at(iRsi), emaRatio: at(iEma), ret: at(iRet) };
}

function deadLetter(v: FeatureVector, reason: VectorRejection, message: string, tsInit: number): DeadLetter {
  let payload: Buffer;
  try {
    payload = vectorCodec.encode(v);
  } catch {
    payload = Buffer.from(JSON.stringify(v));
  }
  return {
    id: deriveId('dlq', 'feat.vectors.v1', v.id, reason),
    tsEvent: v.tsEvent,
    tsInit,
    sourceTopic: 'feat.vectors.v1',
    partition: -1,
    offset: -1,
    key: instrumentKey(v),
    payload,
    stage: 'ensemble',
    errorClass: 'VectorRejected',
    reason,
    message,
  };
}

/**
 * The ensemble's scoring of one micro-batch, without RxJS: each model runs once over the batch (its card's input kind:
 * values or window), then one vote per member and vector, one signal per vector from the champions' soft vote, and a
 * dead letter for each vector the models cannot take. The epic wraps it; loops without RxJS (the chain benchmark's
 * plain loop) call it directly. Checks the models' inputs agree when it is built.
 */
export function createEnsembleScorer(
  deps: Pick<EnsembleDeps, 'models' | 'meter' | 'weights' | 'stopwatch'>,
): (batch: readonly FeatureVector[], tsInit: number) => Promise<Outgoing[]> {
  const { models, meter } = deps;
  const champions = models.filter((m) => m.role === 'CHAMPION');
  if (champions.length === 0) throw new EnsembleConfigError('NO_CHAMPION', `${models.length} models, none CHAMPION`);
  // Every model reads the same feature set; models of one input kind read the same columns (features, or the window's
  // channels and length), so one input batch per kind serves them all.
  const featureSet = models[0]!.card.featureSet;
  const featureModels = models.filter((m) => m.card.input.kind === 'features');
  const windowModels = models.filter((m) => m.card.input.kind === 'window');
  for (const m of models) {
    if (m.card.featureSet !== featureSet) {
      throw new EnsembleConfigError('INPUTS_DIFFER', `${m.member} reads ${m.card.featureSet}, ${models[0]!.member} reads ${featureSet}`);
    }
  }
  const features = featureModels[0]?.card.features;
  for (const m of featureModels) {
    if (m.card.features.join() !== features!.join()) {
      throw new EnsembleConfigError('INPUTS_DIFFER', `${m.member} reads features ${m.card.features.join()}, ${featureModels[0]!.member} reads ${features!.join()}`);
    }
  }
  const windowOf = (m: ClassifierModel): string => `${m.card.input.windowLength} x [${m.card.features.join()}]`;
  for (const m of windowModels) {
    if (windowOf(m) !== windowOf(windowModels[0]!)) {
      throw new EnsembleConfigError('INPUTS_DIFFER', `${m.member} reads a window ${windowOf(m)}, ${windowModels[0]!.member} reads ${windowOf(windowModels[0]!)}`);
    }
  }
  // Vectors carry FEATURE_NAMES values whatever the models read (the market context needs them).
  const nFeatures = features?.length ?? FEATURE_NAMES.length;
  const windowLength = windowModels[0]?.card.input.windowLength ?? 0;
  const windowChannels = windowModels[0]?.card.input.windowChannels ?? 0;
  const windowWidth = windowLength * windowChannels;
  const stopwatch = deps.stopwatch ?? (() => performance.now()); // arch-allow: stopwatch (metrics only)
  const latency = defineHistogram(meter, METRICS.inferenceDuration);
  const inferred = defineCounter(meter, METRICS.inferenceRows);
  const signals = defineCounter(meter, METRICS.ensembleSignals);
  const weightOf = (m: ClassifierModel): number => deps.weights?.[m.member] ?? 1;

  const reject = (v: FeatureVector): [VectorRejection, string] | null => {
    if (v.featureSet !== featureSet) return ['FEATURE_SET_MISMATCH', `vector has ${v.featureSet}, models read ${featureSet}`];
    if (v.values.length !== nFeatures) return ['FEATURE_COUNT_MISMATCH', `${v.values.length} values, models read ${nFeatures}`];
    const bad = v.values.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) return ['NON_FINITE_FEATURE', `value ${bad} is ${v.values[bad]}`];
    if (windowWidth > 0) {
      if (v.windowLength !== windowLength || v.windowChannels !== windowChannels || v.window.length !== windowWidth) {
        return ['WINDOW_SHAPE_MISMATCH', `window ${v.windowLength} x ${v.windowChannels} (${v.window.length} values), models read ${windowLength} x ${windowChannels}`];
      }
      const w = v.window.findIndex((x) => !Number.isFinite(x));
      if (w >= 0) return ['NON_FINITE_WINDOW', `window value ${w} (bar ${Math.floor(w / windowChannels)}, channel ${w % windowChannels}) is ${v.window[w]}`];
    }
    return null;
  };

  const score = async (batch: readonly FeatureVector[], tsInit: number): Promise<Outgoing[]> => {
    const accepted = batch.filter((v) => reject(v) === null);
    const rows = accepted.length;
    // One input batch per input kind, built only if a model reads it: values [rows, F], windows [rows, L, C].
    const x = featureModels.length > 0 ? new Float32Array(rows * nFeatures) : undefined;
    if (x) accepted.forEach((v, i) => x.set(v.values, i * nFeatures));
    const w = windowModels.length > 0 ? new Float32Array(rows * windowWidth) : undefined;
    if (w) accepted.forEach((v, i) => w.set(v.window, i * windowWidth));
    const probs: Float32Array[] = [];
    if (rows > 0) {
      for (const m of models) {
        const t0 = stopwatch();
        const p = await m.predict(m.card.input.kind === 'window' ? w! : x!, rows);
        latency.observe({ member: m.member }, (stopwatch() - t0) / 1000);
        inferred.inc({ member: m.member }, rows);
        if (p.length !== rows * 3) throw new ModelInputError(m.member, `${rows * 3} probabilities`, `${p.length}`);
        probs.push(p);
      }
    }
    const result: Outgoing[] = [];
    let row = 0;
    for (const v of batch) {
      const why = reject(v);
      if (why) {
        result.push(out('feat.vectors.v1.dlq', instrumentKey(v), deadLetter(v, why[0], why[1], tsInit)));
        continue;
      }
      const key = instrumentKey(v);
      const acting: Parameters<typeof softVote>[0][number][] = [];
      models.forEach((m, j) => {
        const p = probs[j]!;
        const [pDown, pFlat, pUp] = [p[row * 3]!, p[row * 3 + 1]!, p[row * 3 + 2]!];
        const vote: ModelVote = {
          id: deriveId('vote', v.id, m.member, m.version),
          tsEvent: v.tsEvent,
          tsInit,
          exchange: v.exchange,
          symbol: v.symbol,
          featureId: v.id,
          member: m.member,
          modelVersion: m.version,
          role: m.role,
          pDown,
          pFlat,
          pUp,
        };
        result.push(out('model.votes.v1', key, vote));
        if (m.role === 'CHAMPION') acting.push({ member: m.member, modelVersion: m.version, weight: weightOf(m), pDown, pFlat, pUp });
      });
      const sv = softVote(acting);
      const signal: EnsembleSignal = {
        id: deriveId('sig', v.id, ...sv.members.map((m) => `${m.member}@${m.modelVersion}:${m.weight}`)),
        tsEvent: v.tsEvent,
        tsInit,
        exchange: v.exchange,
        symbol: v.symbol,
        featureId: v.id,
        pDown: sv.pDown,
        pFlat: sv.pFlat,
        pUp: sv.pUp,
        signal: sv.signal,
        confidence: sv.confidence,
        members: sv.members,
        supervisor: 'OK',
        supervisorReason: '',
        market: marketOf(v),
        supervisorAction: 'NONE',
        regime: DEFAULT_REGIME,
      };
      signals.inc({ signal: sv.signal });
      result.push(out('ens.signals.v1', key, signal));
      row++;
    }
    return result;
  };

  return score;
}

/**
 * Ensemble: feature vectors in, one model.votes.v1 per member and vector, and one ens.signals.v1 per vector from the
 * champions' weighted soft vote. Each model reads its card's input kind: the vector's values (features) or its window
 * (window, L x C row-major, oldest bar first). Vectors whose bars closed together are micro-batched so each model runs
 * once per batch; batches are processed one after another (concatMap), so outputs keep the input order and a replay
 * gives the same messages. tsInit is the scheduler's time when the batch formed. A vector the models cannot take
 * becomes a dead letter on feat.vectors.v1.dlq.
 */
export function ensembleEpic(inputs: { readonly vectors: Observable<FeatureVector> }, deps: EnsembleDeps): Observable<Outgoing> {
  const score = createEnsembleScorer(deps);
  const { scheduler } = deps;
  return inputs.vectors.pipe(
    microBatch<FeatureVector>({ maxWaitMs: deps.maxWaitMs, scheduler }),
    map((batch) => ({ batch, tsInit: scheduler.now() })),
    concatMap(({ batch, tsInit }) => from(score(batch, tsInit))),
    concatMap((outs) => outs),
  );
}
