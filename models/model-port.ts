import type { ModelRole } from '../schemas/model-vote.ts';
import type { ModelCard } from './card.ts';

/**
 * A served classifier: class probabilities P(DOWN), P(FLAT), P(UP) for a batch of input rows, each either the feature
 * values or the window of a vector (`card.input.kind`). The ensemble epic depends on this port only; the ONNX adapter
 * implements it, and tests use a FakeModel.
 */
export interface ClassifierModel {
  /** Ensemble member name, e.g. `xgb`. */
  readonly member: string;
  /** Registry version of the model. */
  readonly version: string;
  /** CHAMPION acts in the vote; SHADOW only writes its votes to the journal. */
  readonly role: ModelRole;
  /** The card the model was loaded and checked with. */
  readonly card: ModelCard;
  /**
   * Probabilities for `rows` input rows, row-major, of `inputWidth(card)` float32 values each: `card.features.length`
   * feature values (kind features), or the window's `windowLength x windowChannels` values, oldest bar first, as in
   * FeatureVector.window (kind window). Returns rows x 3, row-major.
   */
  predict(batch: Float32Array, rows: number): Promise<Float32Array>;
  /** Releases the model's resources. */
  close(): Promise<void>;
}
