import { double, enumOf, field, long, record, string, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/** A step of continuous learning. */
export const LearningStep = enumOf('LearningStep', [
  'OTHER',
  'SCHEDULED',
  'TRAINING_STARTED',
  'TRAINED',
  'TRAINING_FAILED',
  'TRAINER_UNAVAILABLE',
  'SHADOW_REGISTERED',
  'TEST',
  'PROMOTED',
  'KEPT',
  'ROLLED_BACK',
] as const, { fallback: 'OTHER' });
/** A step of continuous learning. */
export type LearningStep = Infer<typeof LearningStep>;

/**
 * model.learning.v1: one step of the continuous-learning stage for one member (keyed by member): a retrain scheduled,
 * started, finished or failed, the candidate registered as a shadow, a promotion test with its statistics, and the
 * resulting promotion, keep or rollback.
 */
export const LearningEventSchema = record('qt.model.LearningEvent', {
  ...envelope,
  member: string,
  step: LearningStep,
  candidateVersion: field(string, { doc: 'the challenger (a new shadow, or the promoted model under watch), empty when none' }),
  championVersion: field(string, { doc: 'the champion it is compared with (the predecessor, for a rollback check)' }),
  outcomes: field(long, { doc: 'paired realised outcomes in the test, 0 outside tests' }),
  meanDiff: field(double, { doc: 'mean of champion minus challenger log loss per outcome (> 0: challenger better); NaN outside tests' }),
  statistic: field(double, { doc: 'test statistic (Diebold-Mariano, Newey-West variance); NaN outside tests' }),
  pValue: field(double, { doc: 'one-sided p-value of the test; NaN outside tests' }),
  dataFromMs: field(long, { doc: 'first bar open time of the training data, ms; 0 when none' }),
  dataToMs: field(long, { doc: 'last bar open time of the training data, ms; 0 when none' }),
  detail: field(string, { doc: 'what happened, in words (errors included)' }),
}, 'A continuous-learning step.');
/** model.learning.v1 message. */
export type LearningEvent = Infer<typeof LearningEventSchema>;
