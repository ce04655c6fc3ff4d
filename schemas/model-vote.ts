import { double, enumOf, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** Whether a model acts (champion) or only votes into the journal (shadow). */
export const ModelRole = enumOf('ModelRole', ['CHAMPION', 'SHADOW'] as const);
/** Role of a model in the ensemble. */
export type ModelRole = Infer<typeof ModelRole>;

/** model.votes.v1: one member's class probabilities for one feature vector. */
export const ModelVoteSchema = record('qt.model.ModelVote', {
  ...envelope,
  ...instrument,
  featureId: field(string, { doc: 'id of the feature vector voted on' }),
  member: field(string, { doc: 'ensemble member name, e.g. xgb' }),
  modelVersion: field(string, { doc: 'registry version of the model' }),
  role: ModelRole,
  pDown: double,
  pFlat: double,
  pUp: double,
}, 'A member vote.');
/** model.votes.v1 message. */
export type ModelVote = Infer<typeof ModelVoteSchema>;
