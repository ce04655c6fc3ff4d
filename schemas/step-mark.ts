import { boolean, field, int, long, record, string, array, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/** How many records a stage published on one partition of one topic in one step. */
export const StepCount = record('qt.pipe.StepCount', {
  topic: string,
  partition: int,
  records: field(int, { doc: 'records published in the step, counted once each (not resends)' }),
  part: field(int, { doc: 'the part of the stage\'s work these records belong to (see StepMark.parts); 0 for a stage that is not split', default: 0 }),
}, 'Records of one step and one part of the work on one topic partition.');

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
  counts: field(array(StepCount), { doc: 'records the stage published in the step, per part and topic partition (only those with records)' }),
  parts: field(array(int), {
    doc: 'the parts of the stage\'s work this mark covers: a per-symbol stage (features, exits) is split by the partition of md.bars.1m.v1 its symbol falls in, each replica marking its own parts; [0] for a stage that is not split',
    default: [0],
  }),
  partsOf: field(int, { doc: 'how many parts the stage\'s work has: the partitions of md.bars.1m.v1 for a per-symbol stage, 1 otherwise', default: 1 }),
}, 'A stage (or one replica of it) finished a bar step.');
/** pipe.steps.v1 message. */
export type StepMark = Infer<typeof StepMarkSchema>;
