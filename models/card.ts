import { z } from 'zod';
import { ModelCardInvalidError } from './errors.ts';

/**
 * The model card: the one definition of the fields of `card.json` beside each `model.onnx`. The Python trainer writes
 * it; `card.schema.json` (generated from this schema, kept in step by card.spec.ts) lets the Python tests check it.
 */

const ms = z.number().int().nonnegative();
const unit = z.number().min(0).max(1);

/** Out-of-sample scores of class probabilities. */
export const ScoresSchema = z.object({
  logLoss: z.number().nonnegative(),
  brier: z.number().min(0).max(2),
  accuracy: unit,
  ece: unit.optional().describe('expected calibration error: top-label, 15 equal-width bins (absent on old cards; the trainer always writes it)'),
});

const RangeSchema = z.object({
  fromMs: ms,
  toMs: ms,
  rows: z.number().int().positive(),
  symbols: z.array(z.string().min(1)).min(1),
  classCounts: z.array(z.number().int().nonnegative()),
});

/** Shares of rows that sum to 1 (up to float rounding). */
const shares = (n: number) =>
  z
    .array(unit)
    .length(n)
    .refine((a) => Math.abs(a.reduce((s, v) => s + v, 0) - 1) < 1e-6, { message: 'shares must sum to 1' });

/** Deciles of one feature over the training rows and the share of training rows in each of the 10 bins they cut. */
export const FeatureStatSchema = z.object({
  feature: z.string().min(1),
  edges: z
    .array(z.number())
    .length(9)
    .refine((e) => e.every((v, i) => i === 0 || v >= e[i - 1]!), { message: 'edges must not decrease' })
    .describe('the 9 cut points: the training rows\' deciles (0.1 .. 0.9, linear interpolation); equal neighbours leave an empty bin'),
  shares: shares(10).describe('share of training rows per bin; the bin of x is binOf(edges, x) = the number of edges <= x'),
});

/** One feature's training distribution on a card (`data.train.featureStats`). */
export type FeatureStat = z.infer<typeof FeatureStatSchema>;

/**
 * The bin of a value against a card's decile edges: the number of edges <= x (numpy `searchsorted(edges, x,
 * side='right')`), 0..edges.length; NaN has no bin: -1. Defined once, in operators/ensemble/psi.ts, because the
 * supervisor (an operator) cannot import models/; the trainer's featureStats shares use the same rule.
 */
export { binOf } from '../operators/ensemble/psi.ts';

/** Schema of card.json. */
export const CardSchema = z.object({
  schemaVersion: z.literal(1),
  member: z.string().min(1),
  version: z.string().min(1),
  family: z.string().min(1).describe('e.g. gbdt-xgboost, gbdt-sklearn-histgb, gbdt-lightgbm, nhits, patchtst'),
  description: z.string().min(1).optional().describe('what the model is, in words: architecture, head, input normalisation'),
  trainer: z.object({ name: z.string().min(1), version: z.string().min(1) }),
  library: z.object({ name: z.string().min(1), version: z.string().min(1) }),
  createdAt: z.string().describe('ISO-8601 UTC; the end of the data range, not the wall clock, so retraining is reproducible'),
  featureSet: z.string().min(1),
  features: z
    .array(z.string())
    .describe('names of the input columns, in order: FEATURE_NAMES for kind features, WINDOW_CHANNELS for kind window'),
  input: z.object({
    name: z.string().min(1),
    kind: z.enum(['features', 'window']).describe('features: FeatureVector.values, float32 [N, F]; window: FeatureVector.window, float32 [N, L, C]'),
    windowLength: z.number().int().nonnegative().describe('L, bars of the window (0 for kind features)'),
    windowChannels: z.number().int().nonnegative().describe('C, values per bar of the window (0 for kind features)'),
  }),
  outputs: z.object({ label: z.string().min(1), probabilities: z.string().min(1) }),
  barMs: z.number().int().positive(),
  horizonBars: z.number().int().positive(),
  label: z.object({
    kind: z.string().min(1),
    horizonBars: z.number().int().positive(),
    k: z.number().nonnegative().optional().describe('kind fwd-logret-vol-band: the neutral band is k * volFeature * sqrt(horizonBars)'),
    volFeature: z.string().min(1).optional(),
    definition: z.string().min(1),
    classes: z.array(z.string()),
  }),
  classes: z.array(z.string()),
  data: z.object({
    file: z.string(),
    purgeBars: z.number().int().nonnegative(),
    validFromMs: ms,
    split: z
      .object({
        kind: z.literal('walk-forward-expanding'),
        file: z.string().min(1),
        fold: z.number().int().positive(),
        folds: z.number().int().positive(),
        embargoBars: z.number().int().nonnegative(),
      })
      .optional()
      .describe('the walk-forward fold the model was trained on (train.py --splits --fold); absent for a --valid-from split'),
    train: RangeSchema.extend({
      featureStats: z
        .array(FeatureStatSchema)
        .optional()
        .describe('per FEATURE_NAMES value, for every member (window members too): the supervisor compares live vectors with it'),
    }),
    validation: RangeSchema.extend({
      predictionShares: shares(3)
        .optional()
        .describe('share of validation rows by predicted class DOWN, FLAT, UP by the soft-vote rule (predictedClass)'),
    }),
  }),
  params: z.record(z.string(), z.number()),
  metrics: z.object({
    model: ScoresSchema,
    baselines: z.object({
      classPrior: ScoresSchema,
      lastReturnSign: ScoresSchema.extend({ hardAccuracy: unit }),
    }),
  }),
  onnx: z.object({
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
    opset: z.number().int().positive(),
    mlOpset: z.number().int().nonnegative().describe('ai.onnx.ml opset; 0 when the graph uses no ai.onnx.ml operator'),
  }),
});

/** A parsed model card. */
export type ModelCard = z.infer<typeof CardSchema>;

/** Float32 values per input row: F features, or L x C window values (row-major, oldest bar first). */
export function inputWidth(card: Pick<ModelCard, 'features' | 'input'>): number {
  return card.input.kind === 'window' ? card.input.windowLength * card.input.windowChannels : card.features.length;
}

/** The classes every served model predicts, in the order of its probability columns. */
export const CLASSES = ['DOWN', 'FLAT', 'UP'] as const;

/** Parses and validates a card (JSON text or an object); throws ModelCardInvalidError listing every problem. */
export function parseCard(input: unknown, file = 'card.json'): ModelCard {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new ModelCardInvalidError(file, [`not JSON: ${(e as Error).message}`]);
    }
  }
  const r = CardSchema.safeParse(value);
  if (!r.success) throw new ModelCardInvalidError(file, r.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`));
  return r.data;
}

/** The JSON Schema of card.json, for tools outside TypeScript (the Python trainer's tests). */
export function cardJsonSchema(): unknown {
  return z.toJSONSchema(CardSchema, { io: 'input' });
}
