import { boolean, double, enumOf, field, long, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';
import { VolRegime } from './ensemble-signal.ts';
import { ModelRole } from './model-vote.ts';

/** The realised class of a vote's horizon. */
export const OutcomeClass = enumOf('OutcomeClass', ['DOWN', 'FLAT', 'UP'] as const);
/** The realised class of a vote's horizon. */
export type OutcomeClass = Infer<typeof OutcomeClass>;

/**
 * model.scores.v1: a vote scored on its realised outcome, once the horizon has passed: one per member vote (shadows
 * included) and one for the ensemble (member `ensemble`). With ewLogLoss and weight, "how good has it been lately" is
 * plain SQL.
 */
export const MemberScoreSchema = record('qt.model.MemberScore', {
  ...envelope,
  ...instrument,
  featureId: field(string, { doc: 'the feature vector voted on' }),
  tsVote: field(long, { doc: 'tsEvent of the vote; tsEvent is when the outcome became known' }),
  member: field(string, { doc: 'member name, or ensemble' }),
  modelVersion: field(string, { doc: 'version of the member; for the ensemble, its champions member@version joined by +' }),
  role: ModelRole,
  label: field(OutcomeClass, { doc: 'realised class (the label definition of the models cards)' }),
  fwdRet: field(double, { doc: 'log return over the horizon' }),
  pDown: double,
  pFlat: double,
  pUp: double,
  logLoss: field(double, { doc: '-ln p(label), p clipped to 1e-7' }),
  brier: field(double, { doc: 'sum over classes of (p - onehot)^2, 0..2' }),
  hit: field(boolean, { doc: 'the most likely class was the label' }),
  ewLogLoss: field(double, { doc: "the member's exponentially weighted log loss after this outcome" }),
  weight: field(double, { doc: 'governance weight of the member after this outcome (0 for shadows, 1 for the ensemble)' }),
  volRegime: field(VolRegime, { doc: 'market-wide volatility regime at the vote' }),
}, 'A vote scored on its outcome.');
/** model.scores.v1 message. */
export type MemberScore = Infer<typeof MemberScoreSchema>;
