/** Shared helpers of the Kafka integration tests (test/kafka/*.test.ts). */
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import type { Subscription } from 'rxjs';
import type { BusRecord, StartFrom } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { KafkaBus, type KafkaBusOptions } from '../../sources/kafka/kafka-bus.ts';
import type { MockCluster } from './mock-cluster.ts';

/**
 * Consumer settings for the mock: short fetch waits (the mock holds an empty fetch for the whole wait even when data
 * arrives) and a short session, since the mock waits session timeout - 1 s for members to rejoin in a rebalance.
 */
export const TEST_CONSUMER = { maxWaitTimeMs: 100, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 250, rebalanceTimeoutMs: 10_000 } as const;

/** A Kafka bus on the mock cluster with test settings. */
export function testBus(mc: MockCluster, opts: Partial<KafkaBusOptions> = {}): KafkaBus {
  // QT_TEST_KAFKA_LOG=info (or debug) shows kafkajs's own log when a test needs explaining.
  const logLevel = (process.env['QT_TEST_KAFKA_LOG'] ?? 'nothing') as KafkaBusOptions['logLevel'];
  return new KafkaBus({ brokers: mc.brokers, logLevel, consumer: TEST_CONSUMER, clientId: 'qt-test', ...opts });
}

/** Waits until `done()` holds (it may ask asynchronously), polling; throws with `what` after `ms`. */
export async function waitFor(done: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a group member receives, as it arrives. */
export function collect<T extends TopicName>(bus: KafkaBus, topic: T, group: string, from?: StartFrom) {
  const got: BusRecord<Topics[T]>[] = [];
  const errors: unknown[] = [];
  const sub: Subscription = bus.consume(topic, group, from ? { from } : {}).subscribe({ next: (r) => got.push(r), error: (e: unknown) => errors.push(e) });
  return { got, errors, sub };
}

/** A plain kafkajs client on the mock cluster, for what the adapter must not be used for (raw bytes, offsets). */
export function rawKafka(mc: MockCluster): Kafka {
  return new Kafka({ brokers: [...mc.brokers], clientId: 'qt-test-raw', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 } });
}

/** A connected plain kafkajs producer (no partitioner warning). */
export async function rawProducer(mc: MockCluster): Promise<Producer> {
  const p = rawKafka(mc).producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  return p;
}

/** A connected admin client. */
export async function rawAdmin(mc: MockCluster): Promise<Admin> {
  const a = rawKafka(mc).admin();
  await a.connect();
  return a;
}

/** Records stored per partition (the high watermarks; the mock never deletes). */
export async function endOffsets(admin: Admin, topic: string): Promise<number[]> {
  const offs = await admin.fetchTopicOffsets(topic);
  return offs.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
}

/** The group's committed next offset per partition (-1 where none). */
export async function committedOffsets(admin: Admin, group: string, topic: string): Promise<number[]> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return t!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

/** Two partitions of a topic whose leaders are different brokers (the mock spreads leaders), with those leaders. */
export async function twoLeaders(mc: MockCluster, topic: string): Promise<{ p0: number; p1: number; a: number; b: number }> {
  const admin = await rawAdmin(mc);
  try {
    const parts = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
    const first = parts[0]!;
    const other = parts.find((p) => p.leader !== first.leader)!;
    return { p0: first.partitionId, p1: other.partitionId, a: first.leader, b: other.leader };
  } finally {
    await admin.disconnect();
  }
}

/** Records stored per partition of a topic, read with an admin client of its own. */
export async function topicEnds(mc: MockCluster, topic: string): Promise<number[]> {
  const admin = await rawAdmin(mc);
  try {
    return await endOffsets(admin, topic);
  } finally {
    await admin.disconnect();
  }
}
