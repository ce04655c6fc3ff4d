/**
 * Model doubles and wrappers of the whole-chain benchmark: a ConstantModel (fixed probabilities, no ONNX) to show the
 * cost of everything except inference, and a TimedModel that measures the wall time of every predict().
 */
import type { ModelCard } from '../../models/card.ts';
import type { ClassifierModel } from '../../models/model-port.ts';
import { fakeCard } from '../../models/testing/fake-model.ts';
import type { ModelRole } from '../../schemas/model-vote.ts';

/**
 * P(DOWN), P(FLAT), P(UP) of the ConstantModel: LONG with a directional confidence of 0.6 / 0.85 = 0.71, above the
 * default risk gate (0.65), so the brains, risk, broker and exits all see work; the strategy brain still refuses many.
 */
export const CONSTANT_PROBABILITIES: readonly [number, number, number] = [0.25, 0.15, 0.6];

/** A BENCHMARK DOUBLE of ClassifierModel: the same probabilities for every row, no ONNX; never used in production. */
export class ConstantModel implements ClassifierModel {
  readonly member: string;
  readonly version = 'v0';
  readonly role: ModelRole = 'CHAMPION';
  readonly card: ModelCard;

  constructor(member = 'const', private readonly probs: readonly [number, number, number] = CONSTANT_PROBABILITIES) {
    this.member = member;
    this.card = fakeCard(member, this.version);
  }

  /** rows x 3 copies of the fixed probabilities. */
  async predict(_batch: Float32Array, rows: number): Promise<Float32Array> {
    const out = new Float32Array(rows * 3);
    for (let i = 0; i < rows; i++) out.set(this.probs, i * 3);
    return out;
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/** Time spent in predict() (call to settlement, wall ms), with call and row counts. */
export interface PredictTimes {
  ms: number;
  calls: number;
  rows: number;
}

/** Fresh zeroed predict times. */
export function predictTimes(): PredictTimes {
  return { ms: 0, calls: 0, rows: 0 };
}

/** Wraps a model so every predict() adds its wall time (call to settlement) to `times`; close() is not forwarded. */
export function timed(model: ClassifierModel, times: PredictTimes): ClassifierModel {
  return {
    member: model.member,
    version: model.version,
    role: model.role,
    card: model.card,
    predict: async (batch: Float32Array, rows: number): Promise<Float32Array> => {
      const t0 = performance.now();
      try {
        return await model.predict(batch, rows);
      } finally {
        times.ms += performance.now() - t0;
        times.calls++;
        times.rows += rows;
      }
    },
    // The benchmark owns the underlying models and closes them once, after every run.
    close: async () => undefined,
  };
}
