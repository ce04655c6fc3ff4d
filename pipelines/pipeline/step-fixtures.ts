/** Records and marks of the step protocol's tests (steps.spec.ts, replicas.spec.ts). */
import { deriveId } from '../../schemas/ids.ts';
import type { BusRecord } from '../../schemas/ports.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { samples, T1 } from '../../test/fixtures/messages.ts';
import type { ReadyStep, SteppedStage } from './steps.ts';

export const BTC = 'binance:BTC/USDT';
export const ETH = 'binance:ETH/USDT';
export const MIN = 60_000;
export const S1 = T1;
export const S2 = S1 + MIN;

let offset = 0;
/** A record of `topic` tagged with (step, seq), its value the topic's sample with the given id. */
export function rec<T extends TopicName>(topic: T, step: number, seq: number, id: string, partition = 0): BusRecord<unknown> {
  const value = { ...samples[topic], id } as Topics[T];
  return { topic, partition, offset: offset++, key: BTC, value, timestamp: T1, headers: { 'qt.step': String(step), 'qt.seq': String(seq) } };
}

/** A stage's mark of a step; counts as [topic, partition, records, part?]; parts default to the only one. */
export function mark(stage: SteppedStage, step: number, prevStep: number, counts: [string, number, number, number?][], last = false, parts = [0], partsOf = 1): StepMark {
  return {
    id: deriveId('step', stage, step), tsEvent: step, tsInit: step, stage, step, prevStep, clock: step + 59_000, last,
    counts: counts.map(([topic, partition, records, part]) => ({ topic, partition, records, part: part ?? 0 })),
    parts,
    partsOf,
  };
}

/** The records of a ready step as `topic:id`. */
export const ids = (s: ReadyStep | undefined): string[] => (s?.records ?? []).map((r) => `${r.topic}:${(r.value as { id: string }).id}`);
