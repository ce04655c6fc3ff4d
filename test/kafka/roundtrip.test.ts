/**
 * Every topic's sample message through the Kafka adapter and librdkafka's mock cluster (3 brokers, every topic of
 * deploy/kafka/topics.json with replication 3), and the partition of a key against the memory bus.
 *
 * Covered: the Kafka protocol as the mock brokers speak it (produce with acks=-1 and gzip, fetch, consumer groups,
 * offsets, headers, timestamps), the Confluent wire format with the project's own schema ids, explicit partitioning.
 * Not covered: a real broker's storage and replication (the mock keeps one in-memory log per partition), topic configs
 * (retention, compaction: the mock ignores them), the schema registry path (registry.test.ts, against a fake).
 */
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPIC_CONFIGS } from '../../schemas/topic-config.ts';
import type { TopicName } from '../../schemas/topics.ts';
import { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { LocalSchemaIds } from '../../sources/kafka/schema-ids.ts';
import { unframe } from '../../sources/kafka/wire.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { samples, sampleKey } from '../fixtures/messages.ts';
import { collect, rawAdmin, rawKafka, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

let mc: MockCluster;
let bus: KafkaBus;

beforeAll(async () => {
  mc = await startMockCluster();
  bus = testBus(mc);
  await bus.connect();
});

afterAll(async () => {
  await bus?.close();
  await mc?.stop();
});

const TOPICS = Object.keys(samples) as TopicName[];

describe('KafkaBus on the mock cluster', () => {
  it('starts a 3-broker cluster holding every topic of deploy/kafka/topics.json with 3 replicas', async () => {
    expect(mc.brokers).toHaveLength(3);
    const admin = await rawAdmin(mc);
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: TOPIC_CONFIGS.map((t) => t.name) });
      expect(topics).toHaveLength(TOPIC_CONFIGS.length);
      for (const t of topics) {
        expect(t.partitions).toHaveLength(TOPIC_CONFIGS.find((c) => c.name === t.name)!.partitions);
        for (const p of t.partitions) expect(p.replicas).toHaveLength(3);
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('round-trips the sample message of every topic: value, key, partition, timestamp, headers', async () => {
    const memory = new MemoryBus({ clock: { now: () => 0 } });
    await Promise.all(TOPICS.map((t) => bus.publish(t, sampleKey(t), samples[t] as never, { 'qt.trace': `trace-${t}` })));
    const reader = testBus(mc);
    try {
      const streams = TOPICS.map((t) => [t, collect(reader, t, 'qt.roundtrip')] as const);
      await waitFor(() => streams.every(([, s]) => s.got.length >= 1 || s.errors.length > 0), 30_000, 'one record per topic');
      for (const [topic, s] of streams) {
        expect(s.errors).toEqual([]);
        expect(s.got).toHaveLength(1);
        const r = s.got[0]!;
        expect(r.value).toEqual(samples[topic]);
        expect(r).toMatchObject({ topic, key: sampleKey(topic), offset: 0, timestamp: samples[topic].tsEvent, headers: { 'qt.trace': `trace-${topic}` } });
        expect(r.partition).toBe(memory.partitionFor(topic, sampleKey(topic)));
      }
    } finally {
      await reader.close();
      await memory.close();
    }
  });

  it('writes the Confluent wire format with the id of the current schema', async () => {
    const topic = 'md.bars.1m.v1';
    await bus.publish(topic, 'binance:ETH/USDT', { ...samples[topic], id: 'bar-wire', symbol: 'ETH/USDT' });
    const consumer = rawKafka(mc).consumer({ groupId: 'qt.raw-wire', maxWaitTimeInMs: 100 });
    const values: Buffer[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!) });
    try {
      await waitFor(() => values.length >= 2, 20_000, 'the bars');
      for (const v of values) {
        expect(v[0]).toBe(0);
        expect(unframe(v).schemaId).toBe(new LocalSchemaIds().writerIdSync(topic));
      }
    } finally {
      await consumer.disconnect();
    }
  });

  it('puts a key on the partition the memory bus and kafkajs default partitioner give it', async () => {
    const memory = new MemoryBus({ clock: { now: () => 0 } });
    const kafkajs = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 200 }, (_, i) => `binance:COIN${i}/USDT`).concat(['', 'a', 'binance:BTC/USDT', 'ü:€/₿']);
    for (const t of TOPIC_CONFIGS) {
      const partitionMetadata = Array.from({ length: t.partitions }, (_, p) => ({ partitionId: p, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
      for (const key of keys) {
        const p = bus.partitionFor(t.name, key);
        expect(p).toBe(memory.partitionFor(t.name, key));
        expect(p).toBe(kafkajs({ topic: t.name, partitionMetadata, message: { key, value: null } }));
      }
    }
    await memory.close();
    // And the cluster stores them there: 60 keys on md.trades.v1, read back with their partitions.
    const topic = 'md.trades.v1';
    const sent = keys.slice(0, 60);
    await Promise.all(sent.map((key, i) => bus.publish(topic, key, { ...samples[topic], id: `t-${i}` })));
    const reader = testBus(mc);
    try {
      const s = collect(reader, topic, 'qt.partitions');
      await waitFor(() => s.got.length >= sent.length, 20_000, 'the trades');
      for (const r of s.got) expect(r.partition).toBe(bus.partitionFor(topic, r.key));
      expect(new Set(s.got.map((r) => r.partition)).size).toBeGreaterThan(6);
    } finally {
      await reader.close();
    }
  });
});
