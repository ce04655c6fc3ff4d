import * as ort from 'onnxruntime-node';
import type { ModelRole } from '../schemas/model-vote.ts';
import { inputWidth, type ModelCard } from './card.ts';
import { ModelInputError } from './errors.ts';
import type { ClassifierModel } from './model-port.ts';

const N_CLASSES = 3;

/** Session options: one intra-op thread per model (the machine is shared by the whole chain), sequential execution. */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/** The onnxruntime-node adapter of ClassifierModel: one InferenceSession per model, runs serialised. */
export class OnnxClassifierModel implements ClassifierModel {
  private queue: Promise<unknown> = Promise.resolve();
  /** Float32 values per row: F features, or L x C window values. */
  private readonly width: number;
  /** Dimensions of one row of the input tensor: [F] or [L, C]. */
  private readonly rowDims: readonly number[];

  private constructor(
    readonly member: string,
    readonly version: string,
    readonly role: ModelRole,
    readonly card: ModelCard,
    /** The underlying session, for shape checks by the loader. */
    readonly session: ort.InferenceSession,
  ) {
    this.width = inputWidth(card);
    this.rowDims = card.input.kind === 'window' ? [card.input.windowLength, card.input.windowChannels] : [card.features.length];
  }

  /** Opens a session on an ONNX file; the card must already be checked (see loadModel). */
  static async open(file: string, meta: { member: string; version: string; role: ModelRole; card: ModelCard }): Promise<OnnxClassifierModel> {
    const session = await ort.InferenceSession.create(file, SESSION_OPTIONS);
    return new OnnxClassifierModel(meta.member, meta.version, meta.role, meta.card, session);
  }

  /**
   * Probabilities rows x 3 of `rows` input rows (row-major: F features each, or an L x C window each, per the card's
   * input kind); calls on one model run one after another (a session is not shared by concurrent runs).
   */
  predict(batch: Float32Array, rows: number): Promise<Float32Array> {
    const run = this.queue.then(() => this.run(batch, rows));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(batch: Float32Array, rows: number): Promise<Float32Array> {
    if (!Number.isInteger(rows) || rows < 0 || batch.length !== rows * this.width) {
      throw new ModelInputError(this.member, `${rows} x ${this.width} values`, `${batch.length} values`);
    }
    if (rows === 0) return new Float32Array(0);
    const { name } = this.card.input;
    const outName = this.card.outputs.probabilities;
    const result = await this.session.run({ [name]: new ort.Tensor('float32', batch, [rows, ...this.rowDims]) }, [outName]);
    const t = result[outName];
    if (!t || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== rows || t.dims[1] !== N_CLASSES) {
      throw new ModelInputError(this.member, `float32 output [${rows}, ${N_CLASSES}]`, t ? `${t.type} [${t.dims.join(', ')}]` : 'no output');
    }
    return t.data as Float32Array;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}
