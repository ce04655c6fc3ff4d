import type { ModelRole } from '../../schemas/model-vote.ts';
import { FEATURE_NAMES, FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../../operators/features/feature-set.ts';
import { inputWidth, type ModelCard } from '../card.ts';
import type { ClassifierModel } from '../model-port.ts';

/**
 * A complete, valid card for a test double (not a real model: every metric is a placeholder). Kind `window` reads
 * WINDOW_LENGTH bars of WINDOW_CHANNELS (or of `features`, as its channels).
 */
export function fakeCard(member: string, version: string, features?: readonly string[], kind: 'features' | 'window' = 'features'): ModelCard {
  const columns = features ?? (kind === 'window' ? WINDOW_CHANNELS : FEATURE_NAMES);
  const range = { fromMs: 0, toMs: 60_000, rows: 1, symbols: ['test:FAKE/USDT'], classCounts: [0, 1, 0] };
  const scores = { logLoss: Math.log(3), brier: 2 / 3, accuracy: 1 / 3 };
  return {
    schemaVersion: 1,
    member,
    version,
    family: 'test-double',
    trainer: { name: 'FakeModel', version: '0' },
    library: { name: 'none', version: '0' },
    createdAt: '1970-01-01T00:00:00.000Z',
    featureSet: FEATURE_SET,
    features: [...columns],
    input:
      kind === 'window'
        ? { name: 'window', kind: 'window', windowLength: WINDOW_LENGTH, windowChannels: columns.length }
        : { name: 'features', kind: 'features', windowLength: 0, windowChannels: 0 },
    outputs: { label: 'label', probabilities: 'probabilities' },
    barMs: 60_000,
    horizonBars: 1,
    label: { kind: 'test', horizonBars: 1, definition: 'none: test double', classes: ['DOWN', 'FLAT', 'UP'] },
    classes: ['DOWN', 'FLAT', 'UP'],
    data: { file: 'none', purgeBars: 0, validFromMs: 0, train: range, validation: range },
    params: {},
    metrics: { model: scores, baselines: { classPrior: scores, lastReturnSign: { ...scores, hardAccuracy: 1 / 3 } } },
    onnx: { file: 'none.onnx', sha256: '0'.repeat(64), bytes: 1, opset: 17, mlOpset: 3 },
  };
}

/** Options of a FakeModel. */
export interface FakeModelOptions {
  readonly member: string;
  readonly version?: string;
  readonly role?: ModelRole;
  readonly features?: readonly string[];
  /** What the model reads (default features): `values`, or the window (then `features` name its channels). */
  readonly input?: 'features' | 'window';
  /** P(DOWN), P(FLAT), P(UP) of one input row (its feature values, or its window's L x C values). */
  readonly probabilities: (row: Float32Array) => readonly [number, number, number];
  /** Makes predict() reject with this error. */
  readonly failWith?: Error;
}

/** A TEST DOUBLE of ClassifierModel: probabilities from a function, every call recorded. Never used in production. */
export class FakeModel implements ClassifierModel {
  readonly member: string;
  readonly version: string;
  readonly role: ModelRole;
  readonly card: ModelCard;
  /** Every predict() call: the batch it got (copied) and its row count. */
  readonly calls: { batch: Float32Array; rows: number }[] = [];
  closed = false;

  constructor(private readonly opts: FakeModelOptions) {
    this.member = opts.member;
    this.version = opts.version ?? 'v1';
    this.role = opts.role ?? 'CHAMPION';
    this.card = fakeCard(this.member, this.version, opts.features, opts.input);
  }

  /** Applies the probability function to each row (of inputWidth(card) values). */
  async predict(batch: Float32Array, rows: number): Promise<Float32Array> {
    this.calls.push({ batch: batch.slice(), rows });
    if (this.opts.failWith) throw this.opts.failWith;
    const f = inputWidth(this.card);
    const out = new Float32Array(rows * 3);
    for (let i = 0; i < rows; i++) out.set(this.opts.probabilities(batch.subarray(i * f, (i + 1) * f)), i * 3);
    return out;
  }

  /** Marks the model closed. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
