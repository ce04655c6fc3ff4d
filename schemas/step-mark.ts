import { boolean, field, int, long, record, string, array, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/** How many records a stage published on one partition of one topic in one step. */
export const StepCount = record('qt.pipe.StepCount', {
  topic: string,
  partition: int,
  records: field(int, { doc: 'records published in the step, counted once each (not resends)' }),
}, 'Records of one step on one topic partition.');

/**
 * pipe.steps.v1: a stage finished one bar step. Published only after every output of the step is acknowledged, so a
 * consumer that has received `records` distinct records of the step on each listed partition has the whole step.
 */
export const StepMarkSchema = record('qt.pipe.StepMark', {
  ...envelope,
  stage: field(string, { doc: 'the stage that finished the step, e.g. features' }),
  step: field(long, { doc: 'start of the bar step (event time, ms): the minute of the ticks ingest read in it' }),
  prevStep: field(long, { doc: 'the step before it in the replay, -1 for the first (steps skip minutes without ticks)' }),
  clock: field(long, { doc: 'event time at the end of the step (the last tick ingest read in it): every stage\'s clock for the step' }),
  last: field(boolean, { doc: 'true for the last step of a finite market source' }),
  counts: field(array(StepCount), { doc: 'records the stage published in the step, per topic partition (only those with records)' }),
}, 'A stage finished a bar step.');
/** pipe.steps.v1 message. */
export type StepMark = Infer<typeof StepMarkSchema>;
