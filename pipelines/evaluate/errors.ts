/** Errors of `qt evaluate`: named, with a reason from a fixed list and a `retriable` flag. */

/** Why an evaluation cannot run as asked. */
export const EVALUATION_REFUSALS = [
  'LABEL_SPECS_DIFFER',
  'LABEL_UNSUPPORTED',
  'BAR_INTERVAL_UNSUPPORTED',
  'BAD_FOLDS',
  'NO_LABELLED_ROWS',
  'NO_CHAMPION',
] as const;
/** Why an evaluation cannot run as asked. */
export type EvaluationRefusal = (typeof EVALUATION_REFUSALS)[number];

/**
 * The evaluation cannot run as asked: members that disagree on the label, a label the evaluator cannot recompute,
 * folds that do not fit the data, no labelled row at all, or no champion to form the ensemble. Not retriable: the models, the data or the flags must
 * change.
 */
export class EvaluationError extends Error {
  override readonly name = 'EvaluationError';
  readonly retriable = false;
  constructor(
    readonly reason: EvaluationRefusal,
    detail: string,
  ) {
    super(`evaluate: ${reason}: ${detail}`);
  }
}
