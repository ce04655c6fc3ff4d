/**
 * Kafka's topic-level settings (Kafka 3.x/4.x documentation, "Topic Configs"): a key outside this list in
 * deploy/kafka/topics.json is a typo that a broker would refuse at `qt topics apply` time, so a test refuses it first.
 */
export const KAFKA_TOPIC_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'cleanup.policy',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.type',
  'compression.zstd.level',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'flush.messages',
  'flush.ms',
  'follower.replication.throttled.replicas',
  'index.interval.bytes',
  'leader.replication.throttled.replicas',
  'local.retention.bytes',
  'local.retention.ms',
  'max.compaction.lag.ms',
  'max.message.bytes',
  'message.downconversion.enable',
  'message.format.version',
  'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms',
  'message.timestamp.difference.max.ms',
  'message.timestamp.type',
  'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms',
  'min.insync.replicas',
  'preallocate',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
  'remote.storage.enable',
  'retention.bytes',
  'retention.ms',
  'segment.bytes',
  'segment.index.bytes',
  'segment.jitter.ms',
  'segment.ms',
  'unclean.leader.election.enable',
]);

/** The key every instrument topic carries: `exchange:symbol`, e.g. `binance:BTC/USDT`. */
export const INSTRUMENT_KEY = 'exchange:symbol';

/** A stage input set that is not co-partitioned: instrument topics read by one group with different partition counts. */
export interface CopartitionGap {
  readonly stage: string;
  readonly topics: readonly { readonly name: string; readonly partitions: number }[];
}

/**
 * Stages whose instrument-keyed inputs differ in partition count. One replica of a stage must see every record of its
 * instruments on all its inputs (the paper broker needs the bars of the symbols whose orders it holds); with the same
 * key hash that holds only when the topics have the same number of partitions and partition i of each goes to the
 * same replica.
 */
export function copartitionGaps(
  stages: readonly { readonly name: string; readonly inputs: readonly string[] }[],
  topics: readonly { readonly name: string; readonly key: string; readonly partitions: number }[],
): CopartitionGap[] {
  const byName = new Map(topics.map((t) => [t.name, t]));
  const gaps: CopartitionGap[] = [];
  for (const s of stages) {
    const keyed = s.inputs.map((n) => byName.get(n)).filter((t): t is NonNullable<typeof t> => t !== undefined && t.key === INSTRUMENT_KEY);
    if (new Set(keyed.map((t) => t.partitions)).size > 1) gaps.push({ stage: s.name, topics: keyed.map((t) => ({ name: t.name, partitions: t.partitions })) });
  }
  return gaps;
}
