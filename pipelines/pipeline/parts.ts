/**
 * The parts of a stage's work, and the replicas that share them (docs/distributed-stages.md, Replicas): a per-symbol
 * stage (features, exits) is split by the partition of md.bars.1m.v1 a symbol's key falls in; replica i of n owns the
 * parts p with p % n = i. Every other stage is one part, run by one replica.
 */
import { topicConfig } from '../../schemas/topic-config.ts';
import { kafkaPartition } from '../../sources/murmur2.ts';

/** The topic whose partitions are the parts of a per-symbol stage's work. */
export const PART_TOPIC = 'md.bars.1m.v1';
/** Stages whose state is per symbol, so several replicas may share their work by part. */
export const SPLIT_STAGES = ['features', 'exits'] as const;

/** True for a stage whose work is split in parts (several replicas may share it). */
export function isSplit(stage: string): boolean {
  return (SPLIT_STAGES as readonly string[]).includes(stage);
}

/** How many parts a stage's work has: the partitions of PART_TOPIC for a per-symbol stage, 1 for any other. */
export function partsOf(stage: string): number {
  return isSplit(stage) ? topicConfig(PART_TOPIC).partitions : 1;
}

/** The part of a stage's work a record keyed `exchange:symbol` belongs to (0 for a stage that is not split). */
export function partOfKey(stage: string, key: string): number {
  const n = partsOf(stage);
  return n === 1 ? 0 : kafkaPartition(key, n);
}

/** One replica of a stage: replica `index` of `count` (0-based). */
export interface Replica {
  readonly index: number;
  readonly count: number;
}

/** The only replica of a stage. */
export const SOLE_REPLICA: Replica = Object.freeze({ index: 0, count: 1 });

/** Why a replica setting is invalid for a stage, or undefined when it is valid. */
export function replicaProblem(stage: string, r: Replica): string | undefined {
  if (!Number.isSafeInteger(r.count) || r.count < 1 || !Number.isSafeInteger(r.index) || r.index < 0 || r.index >= r.count) {
    return `replica ${r.index}/${r.count}: expects i/n with 0 <= i < n`;
  }
  if (r.count === 1) return undefined;
  if (!isSplit(stage)) return `${stage} cannot run as several replicas: its state spans symbols (only ${SPLIT_STAGES.join(' and ')} can; the journal shares its consumer group instead)`;
  const n = partsOf(stage);
  if (r.count > n) return `${stage} has ${n} parts (the partitions of ${PART_TOPIC}): at most ${n} replicas, got ${r.count}`;
  return undefined;
}

/** The parts replica `r` of a stage owns: every part p with p % count = index, in order. */
export function ownedParts(stage: string, r: Replica): readonly number[] {
  const problem = replicaProblem(stage, r);
  if (problem) throw new RangeError(problem);
  const parts: number[] = [];
  for (let p = r.index; p < partsOf(stage); p += r.count) parts.push(p);
  return parts;
}

/** The consumer group of a replica: `qt.<stage>` for the only one; each of several reads every partition in a group of its own. */
export function replicaGroup(stage: string, r: Replica): string {
  return r.count === 1 ? `qt.${stage}` : `qt.${stage}.replica-${r.index}`;
}
