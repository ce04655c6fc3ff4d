/**
 * @platformatic/kafka (1.x, pure JS) behind the bus port (PlatformaticBus, sources/kafka/platformatic-bus.ts) on
 * librdkafka's mock cluster, side by side with kafkajs and KafkaBus, for the choice of the default client.
 *
 * Covered: (a) the sample message of every topic through PlatformaticBus (value, key, partition = murmur2 = KafkaBus's,
 * offset, timestamp, headers), and across clients both ways (the wire format is the same); (b) partition leaders moved
 * every 25 ms under a steady produce of about 12,500 records, once per client raw (kafkajs send(), @platformatic/kafka
 * send(): what a resolved send acknowledged against what the cluster stores) and once per adapter (KafkaBus,
 * PlatformaticBus, read by a KafkaBus consumer that commits as it goes, as faults.test.ts does, and counted from a
 * full read by a new group once the moves are over), plus the
 * deterministic case in which kafkajs 2.2.4 loses a record; (c) a group's commits (offset + 1) and its resumption by a
 * new PlatformaticBus member, then by a KafkaBus member of the same group.
 *
 * Found (b): raw @platformatic/kafka never resolved a send whose records were not all stored, but it fails sends under
 * leader moves (250 to 950 of about 12,000 records a run, most of them stored all the same): it splits a send by
 * leader once, and on a stale-metadata error repeats a broker's share once, to the new leader of its first partition
 * only, then retries that broker while the other partitions of the share lead elsewhere. PlatformaticBus resends what a failed
 * send left unacknowledged, with fresh metadata. Raw kafkajs resolved sends whose records were not stored (26 to 46
 * acknowledged records lost a run). Neither adapter lost any; KafkaBus wrote duplicates (at-least-once).
 *
 * Not covered: @platformatic/kafka's own protocol versions. The mock speaks the versions of Kafka 2.x (ApiVersions
 * <= v2, Metadata <= v2, Fetch <= v11), older than any this client implements but Produce v7, so every client here
 * runs through the adapter's pre-3.5 protocol layer (installLegacyProtocol); on Kafka >= 3.5 the client's own
 * versions would be used, and nothing here tests them. Also not covered: brokers down, injected request errors,
 * rebalances between several members (twenty PlatformaticBus members of one group, each on another topic, got
 * INVALID_REQUEST from the mock's SyncGroup v3 in a first version of (a)), dead letters, the registry path and a consumer under leader moves (the reader
 * here is KafkaBus).
 */
import { spawnSync } from 'node:child_process';
import { Producer } from '@platformatic/kafka';
import type { Producer as KafkaJsProducer } from 'kafkajs';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, BusRecord } from '../../schemas/ports.ts';
import { topicConfig } from '../../schemas/topic-config.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { PlatformaticBus } from '../../sources/kafka/platformatic-bus.ts';
import { installLegacyProtocol } from '../../sources/kafka/platformatic-legacy.ts';
import { kafkaPartition } from '../../sources/murmur2.ts';
import { trade } from '../fixtures/bus.ts';
import { samples, sampleKey } from '../fixtures/messages.ts';
import { committedOffsets, rawAdmin, rawProducer, TEST_CONSUMER, testBus, topicEnds, twoLeaders, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

let mc: MockCluster;
const open: { close(): Promise<void> }[] = [];

function clusterPerDescribe(): void {
  beforeAll(async () => {
    mc = await startMockCluster();
  });
  afterAll(async () => {
    for (const b of open.splice(0).reverse()) await b.close().catch(() => undefined);
    await mc?.stop();
  });
}

function pbus(): PlatformaticBus {
  const b = new PlatformaticBus({ brokers: mc.brokers, clientId: 'qt-test-pk', consumer: TEST_CONSUMER });
  open.push(b);
  return b;
}

function kbus(): KafkaBus {
  const b = testBus(mc);
  open.push(b);
  return b;
}

/** What a group member of either bus receives. */
function collect<T extends TopicName>(bus: Bus, topic: T, group: string) {
  const got: BusRecord<Topics[T]>[] = [];
  const errors: unknown[] = [];
  const sub: Subscription = bus.consume(topic, group).subscribe({ next: (r) => got.push(r), error: (e: unknown) => errors.push(e) });
  return { got, errors, sub };
}

/** A raw @platformatic/kafka producer with the adapter's retry settings (8 retries from 100 ms, doubling). */
function rawPlatformatic(): Producer {
  installLegacyProtocol();
  return new Producer({ clientId: 'qt-test-pk-raw', bootstrapBrokers: [...mc.brokers], retries: 8, retryDelay: (_c, _o, attempt) => Math.min(5_000, 100 * 2 ** (attempt - 1)) });
}

const TOPICS = Object.keys(samples) as TopicName[];
const strip = (r: BusRecord<unknown>) => ({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });

describe('PlatformaticBus on the mock cluster', () => {
  clusterPerDescribe();

  it('round-trips the sample message of every topic, and reads the same records as KafkaBus does', async () => {
    const p = pbus();
    await p.connect();
    const k = kbus();
    await Promise.all(TOPICS.map((t) => p.publish(t, sampleKey(t), samples[t] as never, { 'qt.trace': `pk-${t}` })));
    const reader = pbus();
    const mine = TOPICS.map((t) => [t, collect(reader, t, 'qt.pk.roundtrip')] as const);
    const theirs = TOPICS.map((t) => [t, collect(k, t, 'qt.pk.roundtrip.kafkajs')] as const);
    const all = [...mine, ...theirs];
    await waitFor(() => all.every(([, s]) => s.got.length >= 1 || s.errors.length > 0), 30_000, 'one record per topic through both clients');
    for (const [topic, s] of mine) {
      expect(s.errors).toEqual([]);
      expect(s.got).toHaveLength(1);
      const r = s.got[0]!;
      expect(r.value).toEqual(samples[topic]);
      expect(r).toMatchObject({ topic, key: sampleKey(topic), offset: 0, timestamp: samples[topic].tsEvent, headers: { 'qt.trace': `pk-${topic}` } });
      expect(r.partition).toBe(kafkaPartition(sampleKey(topic), topicConfig(topic).partitions));
      expect(r.partition).toBe(k.partitionFor(topic, sampleKey(topic)));
      expect(r.partition).toBe(p.partitionFor(topic, sampleKey(topic)));
    }
    for (const [topic, s] of theirs) {
      expect(s.errors).toEqual([]);
      expect(strip(s.got[0]!)).toEqual(strip(mine.find(([t]) => t === topic)![1].got[0]!));
    }
  });

  it('reads what KafkaBus published (kafkajs writes, @platformatic/kafka reads)', async () => {
    const k = kbus();
    const topics: TopicName[] = ['md.trades.v1', 'md.bars.1m.v1', 'exec.fills.v1'];
    const keys = ['binance:ETH/USDT', 'binance:SOL/USDT', 'binance:XRP/USDT'];
    await Promise.all(topics.flatMap((t) => keys.map((key, i) => k.publish(t, key, { ...samples[t], id: `kjs-${t}-${i}` } as never, { 'qt.from': 'kafkajs' }))));
    const p = pbus();
    const streams = topics.map((t) => [t, collect(p, t, 'qt.pk.cross')] as const);
    const from = (s: (typeof streams)[number][1]) => s.got.filter((r) => (r.value as { id: string }).id.startsWith('kjs-'));
    await waitFor(() => streams.every(([, s]) => from(s).length >= keys.length || s.errors.length > 0), 30_000, 'the records KafkaBus wrote');
    for (const [topic, s] of streams) {
      expect(s.errors).toEqual([]);
      const got = from(s);
      expect(got.map((r) => (r.value as { id: string }).id).sort()).toEqual(keys.map((_, i) => `kjs-${topic}-${i}`));
      for (const r of got) {
        expect(r.partition).toBe(k.partitionFor(topic, r.key));
        expect(r.headers).toEqual({ 'qt.from': 'kafkajs' });
        expect(r.value).toEqual({ ...samples[topic], id: (r.value as { id: string }).id });
      }
    }
  });

  it('commits offset + 1 and a new member resumes after the commits (PlatformaticBus, then KafkaBus in the same group)', async () => {
    const topic = 'exec.fills.v1';
    const group = 'qt.pk.resume';
    const p = pbus();
    const ids = Array.from({ length: 40 }, (_, i) => `resume-${i}`);
    await Promise.all(ids.map((id, i) => p.publish(topic, `binance:R${i % 8}/USDT`, { ...samples[topic], id })));
    const first = pbus();
    const s1 = collect(first, topic, group);
    await waitFor(() => s1.got.filter((r) => r.value.id.startsWith('resume-')).length >= ids.length || s1.errors.length > 0, 30_000, 'every fill');
    // Commit, per partition, the first half of what was read; what is past the commits is read again by the next member.
    const byPartition = new Map<number, BusRecord<Topics[typeof topic]>[]>();
    for (const r of s1.got) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    const expectedNext = new Map<number, number>();
    const rest = new Set<string>();
    for (const [partition, records] of byPartition) {
      const upTo = records[Math.floor((records.length - 1) / 2)]!.offset;
      await first.commit(group, topic, partition, upTo);
      expectedNext.set(partition, upTo + 1);
      for (const r of records) if (r.offset > upTo) rest.add(r.value.id);
    }
    await first.close();
    const admin = await rawAdmin(mc);
    try {
      const committed = await committedOffsets(admin, group, topic);
      for (const [partition, next] of expectedNext) expect(committed[partition]).toBe(next);
    } finally {
      await admin.disconnect();
    }
    const second = pbus();
    const s2 = collect(second, topic, group);
    await waitFor(() => s2.got.length >= rest.size || s2.errors.length > 0, 30_000, 'the records past the commits');
    await new Promise((r) => setTimeout(r, 500));
    expect(s2.errors).toEqual([]);
    expect(new Set(s2.got.map((r) => r.value.id))).toEqual(rest);
    for (const r of s2.got) expect(r.offset).toBeGreaterThanOrEqual(expectedNext.get(r.partition)!);
    await second.close();
    const third = kbus();
    const s3 = collect(third, topic, group);
    await waitFor(() => s3.got.length >= rest.size || s3.errors.length > 0, 30_000, 'KafkaBus: the records past the same commits');
    expect(new Set(s3.got.map((r) => r.value.id))).toEqual(rest);
  });
});

/** Two partitions of the topic led by different brokers. */
describe('the kafkajs loss case: a partition leader moving to a broker that already answered', () => {
  clusterPerDescribe();

  it('@platformatic/kafka alone writes the moved partition (it resends a destination on stale metadata)', async () => {
    const topic = 'exec.fills.v1';
    const { p0, p1, a, b } = await twoLeaders(mc, topic);
    const producer = rawPlatformatic();
    try {
      await producer.send({ acks: -1, messages: [{ topic, value: Buffer.from('warm'), partition: p0 }, { topic, value: Buffer.from('warm'), partition: p1 }] });
      const before = await topicEnds(mc, topic);
      await mc.leader(topic, p0, b);
      await mc.delay(a, 'Produce', 300);
      const result = await producer.send({ acks: -1, messages: [{ topic, value: Buffer.from('to p0'), partition: p0 }, { topic, value: Buffer.from('to p1'), partition: p1 }] });
      const after = await topicEnds(mc, topic);
      expect(result.offsets?.map((o) => o.partition).sort()).toEqual([p0, p1].sort());
      expect(after[p0]).toBe(before[p0]! + 1);
      expect(after[p1]).toBe(before[p1]! + 1);
    } finally {
      await producer.close();
    }
  });
});

interface Figures {
  readonly scenario: string;
  readonly published: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly storedDistinct: number;
  /** Acknowledged but not stored: a loss. */
  readonly missing: number;
  readonly duplicates: number;
  /** Acknowledged but not read within 20 s by the reader that ran during the moves. */
  readonly liveReaderMissing?: number;
  readonly resentRecords?: number;
  readonly firstError?: string;
}

/** Moves the leader of one of the topic's 12 partitions every 25 ms, 90 times. */
async function moveLeaders(topic: string): Promise<void> {
  for (let i = 0; i < 90; i++) {
    await new Promise((r) => setTimeout(r, 25));
    await mc.leader(topic, (i * 5) % 12, 1 + (i % 3));
  }
}

/** A raw client sends 50 records every 10 ms for 2.5 s (one send each, not awaited) while leaders move; kcat reads back. */
async function rawSteady(scenario: string, topic: string, send: (messages: { key: string; value: string; partition: number }[]) => Promise<void>): Promise<Figures> {
  await mc.topic(topic, 12);
  const acked: string[] = [];
  const failed: string[] = [];
  let firstError: unknown;
  const pending: Promise<void>[] = [];
  const mover = moveLeaders(topic);
  let n = 0;
  const until = Date.now() + 2_500;
  while (Date.now() < until) {
    const messages = Array.from({ length: 50 }, () => {
      const key = `binance:F${n % 40}/USDT`;
      return { key, value: `${scenario}-${n++}`, partition: kafkaPartition(key, 12) };
    });
    pending.push(send(messages).then(() => void acked.push(...messages.map((m) => m.value)), (e: unknown) => {
      failed.push(...messages.map((m) => m.value));
      firstError ??= e;
    }));
    await new Promise((r) => setTimeout(r, 10));
  }
  await mover;
  await Promise.all(pending);
  const read = spawnSync('kcat', ['-C', '-b', mc.bootstrap, '-t', topic, '-e', '-q', '-f', '%s\n'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const values = read.stdout.split('\n').filter((v) => v.startsWith(`${scenario}-`));
  const stored = new Set(values);
  const figures: Figures = {
    scenario, published: n, acknowledged: acked.length, failed: failed.length, storedDistinct: stored.size,
    missing: acked.filter((v) => !stored.has(v)).length, duplicates: values.length - stored.size,
    ...(firstError ? { firstError: String(firstError).slice(0, 200) } : {}),
  };
  console.log('platformatic figures', JSON.stringify(figures));
  return figures;
}

/**
 * As faults.test.ts: a bus publishes trades, 50 every 10 ms for 2.5 s, while leaders move; a KafkaBus reads and commits
 * throughout. What is stored is then read in full by a new KafkaBus group (the reader during the moves can lag).
 */
async function busSteady(scenario: string, producer: PlatformaticBus | KafkaBus): Promise<Figures> {
  await producer.connect();
  const reader = kbus();
  const group = `qt.pk.readback.${scenario}`;
  const s = collect(reader, 'md.trades.v1', group);
  await reader.ready();
  const last = new Map<number, number>();
  const committer = setInterval(() => {
    for (const r of s.got.slice(-200)) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, r.offset));
    for (const [p, o] of last) reader.commit(group, 'md.trades.v1', p, o).catch(() => undefined);
  }, 200);
  const acked: string[] = [];
  let failed = 0;
  let firstError: unknown;
  const pending: Promise<void>[] = [];
  const mover = moveLeaders('md.trades.v1');
  let n = 0;
  const until = Date.now() + 2_500;
  while (Date.now() < until) {
    for (let j = 0; j < 50; j++) {
      const key = `binance:F${n % 40}/USDT`;
      const t: Trade = { ...trade(n, key), id: `${scenario}-${n}` };
      n++;
      pending.push(producer.publish('md.trades.v1', key, t).then(() => void acked.push(t.id), (e: unknown) => {
        failed++;
        firstError ??= e;
      }));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await mover;
  await Promise.all(pending);
  const mine = (got: readonly BusRecord<Trade>[]) => got.map((r) => r.value.id).filter((id) => id.startsWith(`${scenario}-`));
  await waitFor(() => s.errors.length > 0 || acked.every((id) => new Set(mine(s.got)).has(id)), 20_000, `${scenario}: every acknowledged record`).catch(() => undefined);
  clearInterval(committer);
  const live = new Set(mine(s.got));
  // What is stored: everything on the topic, read by a new group once the leaders stay put.
  const total = (await topicEnds(mc, 'md.trades.v1')).reduce((a, b) => a + b, 0);
  const all = collect(kbus(), 'md.trades.v1', `qt.pk.final.${scenario}`);
  await waitFor(() => all.got.length >= total || all.errors.length > 0, 60_000, `${scenario}: the ${total} records stored`);
  const stored = mine(all.got);
  const distinct = new Set(stored);
  const figures: Figures = {
    scenario, published: n, acknowledged: acked.length, failed, storedDistinct: distinct.size, missing: acked.filter((id) => !distinct.has(id)).length,
    duplicates: stored.length - distinct.size, liveReaderMissing: acked.filter((id) => !live.has(id)).length, resentRecords: producer.stats.resentRecords,
    ...(firstError ? { firstError: String(firstError).slice(0, 200) } : {}),
  };
  console.log('platformatic figures', JSON.stringify(figures));
  expect(all.errors).toEqual([]);
  return figures;
}

describe('steady produce with partition leaders moved every 25 ms: acknowledged against stored', () => {
  clusterPerDescribe();
  const results = new Map<string, Figures>();

  it('raw kafkajs: send() per 50 records', async () => {
    const producer: KafkaJsProducer = await rawProducer(mc);
    try {
      results.set('kafkajs', await rawSteady('kjsraw', 'test.leaders.kafkajs', async (messages) => void (await producer.send({ topic: 'test.leaders.kafkajs', acks: -1, messages }))));
    } finally {
      await producer.disconnect();
    }
  });

  it('raw @platformatic/kafka: send() per 50 records', async () => {
    const producer = rawPlatformatic();
    try {
      results.set('platformatic', await rawSteady('pkraw', 'test.leaders.platformatic', async (messages) =>
        void (await producer.send({ acks: -1, messages: messages.map((m) => ({ topic: 'test.leaders.platformatic', partition: m.partition, key: Buffer.from(m.key), value: Buffer.from(m.value) })) }))));
    } finally {
      await producer.close();
    }
  });

  it('KafkaBus', async () => {
    results.set('KafkaBus', await busSteady('kafkabus', kbus()));
  }, 120_000);

  it('PlatformaticBus', async () => {
    results.set('PlatformaticBus', await busSteady('pkbus', pbus()));
  }, 120_000);

  // Raw kafkajs lost 26 to 46 acknowledged records a run here (its send() resolves without the moved partition,
  // see faults.test.ts); how many depends on timing, so it is printed, not asserted.
  it('raw @platformatic/kafka fails sends rather than losing acknowledged records; neither adapter loses any', () => {
    const raw = results.get('platformatic')!;
    expect(raw.missing).toBe(0);
    for (const name of ['KafkaBus', 'PlatformaticBus']) {
      const f = results.get(name)!;
      expect(f.failed, name).toBe(0);
      expect(f.acknowledged, name).toBe(f.published);
      expect(f.missing, name).toBe(0);
    }
  });
});
