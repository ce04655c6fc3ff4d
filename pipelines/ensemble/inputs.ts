import type { ClassifierModel } from '../../models/model-port.ts';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import { codecFor } from '../../schemas/codec.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { FeatureVectorSchema, type FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';

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

/** The models cannot form an ensemble (no champion, or members disagreeing on their input or label). */
export class EnsembleConfigError extends Error {
  override readonly name = 'EnsembleConfigError';
  readonly retriable = false;
  constructor(readonly reason: 'NO_CHAMPION' | 'INPUTS_DIFFER' | 'LABELS_DIFFER', detail: string) {
    super(`ensemble: ${reason}: ${detail}`);
  }
}

const vectorCodec = codecFor(FeatureVectorSchema);

/** The dead letter of a vector the models cannot read (feat.vectors.v1.dlq). */
export function vectorDeadLetter(v: FeatureVector, reason: VectorRejection, message: string, tsInit: number): DeadLetter {
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

/** The label the models were trained on: all must agree, since one realised outcome scores them all. */
export function labelSpecOf(models: readonly ClassifierModel[]): { horizonBars: number; k: number } {
  const specs = models.map((m) => ({ member: m.member, horizonBars: m.card.label.horizonBars, k: m.card.label.k ?? 0.5, kind: m.card.label.kind }));
  const first = specs[0]!;
  for (const s of specs) {
    if (s.horizonBars !== first.horizonBars || s.k !== first.k || s.kind !== first.kind) {
      throw new EnsembleConfigError('LABELS_DIFFER', `${s.member} is labelled ${s.kind} H=${s.horizonBars} k=${s.k}, ${first.member} ${first.kind} H=${first.horizonBars} k=${first.k}`);
    }
  }
  return first;
}

/** What the served models read: one feature set, one feature list, one window shape. */
export interface ModelInputs {
  readonly featureSet: string;
  readonly nFeatures: number;
  readonly windowLength: number;
  readonly windowChannels: number;
  readonly featureModels: number;
  readonly windowModels: number;
}

/** Checks the models can form one ensemble; returns what their input batches look like. */
export function modelInputs(models: readonly ClassifierModel[]): ModelInputs {
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
  return {
    featureSet,
    // Vectors carry FEATURE_NAMES values whatever the models read (the market context needs them).
    nFeatures: features?.length ?? FEATURE_NAMES.length,
    windowLength: windowModels[0]?.card.input.windowLength ?? 0,
    windowChannels: windowModels[0]?.card.input.windowChannels ?? 0,
    featureModels: featureModels.length,
    windowModels: windowModels.length,
  };
}

/** Why the models cannot read a vector (its dead letter's reason and message), or null when they can. */
export function rejectionOf(inputs: ModelInputs, v: FeatureVector): [VectorRejection, string] | null {
const { featureSet, nFeatures, windowLength, windowChannels } = inputs;
  const windowWidth = windowLength * windowChannels;
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
}

