/** What the Kafka benchmarks share: rows and formatting, the bars, raw kafkajs producer and consumer, child processes. */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Admin, type Batch, type Message } from 'kafkajs';
import type { Bar } from '../schemas/bar.ts';
import { instrumentKey } from '../schemas/common.ts';
import { LocalSchemaIds } from '../sources/kafka/schema-ids.ts';
import { WireCodec } from '../sources/kafka/wire.ts';
import { kafkaPartition } from '../sources/murmur2.ts';
import { genBars } from '../test/fixtures/gen-bars.ts';
import type { MockCluster } from '../test/kafka/mock-cluster.ts';

/** Partitions of md.bars.1m.v1 (deploy/kafka/topics.json). */
export const PARTITIONS = 12;
/** Records per raw produce request. */
export const BATCH = 1000;
/** Fetch wait of every consumer: the mock holds an empty fetch for the whole wait, so a long one only adds idle time. */
export const FETCH_WAIT_MS = 100;

/** One measured row. */
export interface Row {
  readonly what: string;
  readonly msgs: number;
  readonly ms: number;
  readonly note: string;
}

/** Messages per second of a row. */
export const rate = (r: Row): number => r.msgs / (r.ms / 1000);
/** A whole number with thousands separators. */
export const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
/** Resolves after ms. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The load averages, for the printout. */
export const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

export /** Bars of `symbols` instruments interleaved in event time, as a live ingest would publish them. */
function makeBars(n: number, symbols: number): Bar[] {
  const per = Math.ceil(n / symbols);
  const t0 = Date.UTC(2025, 0, 6);
  const series = Array.from({ length: symbols }, (_, i) =>
    genBars({ n: per, seed: 101 + i, exchange: 'binance', symbol: `S${i}/USDT`, startOpenTime: t0, startPrice: 10 * (i + 1) }));
  const out: Bar[] = [];
  for (let j = 0; j < per && out.length < n; j++) for (const s of series) if (out.length < n) out.push(s[j]!);
  return out;
}

/** A plain kafkajs client on the mock cluster. */
export function rawKafka(mc: MockCluster, clientId: string): Kafka {
  return new Kafka({ brokers: [...mc.brokers], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 } });
}

/**
 * Raw kafkajs: sends `n` records to `topic`, `message(i)` each, in sendBatch requests of BATCH records, 1 in flight,
 * acks -1 (a promise is awaited only when `message` returns one, so the raw rows pay none); resolves with the time from the first record made to the last acknowledgement (a warm-up send first, so
 * the connection and metadata are not timed).
 */
async function sendBatches(mc: MockCluster, clientId: string, topic: string, n: number, message: (i: number) => Message | Promise<Message>, compression = CompressionTypes.None): Promise<number> {
  const p = rawKafka(mc, clientId).producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  await p.sendBatch({ acks: -1, topicMessages: [{ topic: 'bench.warmup', messages: [{ key: 'w', value: (await message(0)).value }] }] });
  const t = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(i + BATCH, n); j++) {
      const m = message(j);
      messages.push(m instanceof Promise ? await m : m);
    }
    await p.sendBatch({ acks: -1, compression, topicMessages: [{ topic, messages }] });
  }
  const ms = performance.now() - t;
  await p.disconnect();
  return ms;
}

/** kafkajs producer: sequential sendBatch of BATCH records, acks -1, no compression, explicit murmur2 partitions. */
export async function kafkajsProduce(mc: MockCluster, topic: string, keys: readonly string[], values: readonly Buffer[]): Promise<Row> {
  const ms = await sendBatches(mc, 'bench-raw-producer', topic, values.length, (j) => ({ key: keys[j]!, value: values[j]!, partition: kafkaPartition(keys[j]!, PARTITIONS) }));
  return { what: 'kafkajs producer', msgs: values.length, ms, note: `sendBatch ${BATCH}/req, 1 in flight, acks -1, no compression` };
}

/**
 * Reads `topic` from its start in a fresh group of raw kafkajs until `n` records, running `each` on every fetched batch
 * first; resolves with the time of the first record, of the n-th, and when the consumer was started.
 */
async function consumeRaw(mc: MockCluster, clientId: string, groupId: string, topic: string, n: number, each?: (batch: Batch) => Promise<void>): Promise<{ count: number; first: number; last: number; t0: number }> {
  const c = rawKafka(mc, clientId).consumer({ groupId, maxWaitTimeInMs: FETCH_WAIT_MS, sessionTimeout: 6_000, heartbeatInterval: 500 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    void c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (count === 0) first = performance.now();
        if (each) await each(batch);
        count += batch.messages.length;
        if (count >= n) {
          last = performance.now();
          resolve();
        }
      },
    });
  });
  await c.disconnect();
  return { count, first, last, t0 };
}

/** kafkajs consumer in a fresh group, eachBatch counting; timed from the first record to the n-th (the group join is not). */
export async function kafkajsConsume(mc: MockCluster, topic: string, n: number): Promise<{ row: Row; joinMs: number }> {
  const { count, first, last, t0 } = await consumeRaw(mc, 'bench-raw-consumer', 'bench.raw', topic, n);
  return { row: { what: 'kafkajs consumer', msgs: count, ms: last - first, note: `eachBatch, fetch wait ${FETCH_WAIT_MS} ms, first record to last` }, joinMs: first - t0 };
}

/**
 * A stage with no work of its own, in raw kafkajs: a consumer in a fresh group that writes, for each record it reads, one
 * record of `outBytes` (a feature vector's size) with the same key and partition to `to`, one sendBatch per fetched
 * batch, acks -1, awaited before the next batch. Timed from the first record read to the last write acknowledged.
 */
export async function kafkajsPassThrough(mc: MockCluster, from: string, to: string, n: number, outBytes: number): Promise<Row> {
  const p = rawKafka(mc, 'bench-raw-pass').producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  const out = Buffer.alloc(outBytes, 7);
  const { count, first, last } = await consumeRaw(mc, 'bench-raw-pass', 'bench.raw.pass', from, n, async (batch) => {
    await p.sendBatch({ acks: -1, topicMessages: [{ topic: to, messages: batch.messages.map((m) => ({ key: m.key, value: out, partition: batch.partition })) }] });
  });
  await p.disconnect();
  return { what: 'kafkajs pass-through', msgs: count, ms: last - first, note: `raw: read a record, write ${outBytes} B (a vector's size) per record, sendBatch per fetched batch, acks -1` };
}

/**
 * Raw kafkajs doing what KafkaBus.publish does, without the adapter: Avro-encode each value in the wire format
 * (`encode`), sendBatch of BATCH records with their partitions and timestamps, 1 in flight, acks -1, gzip. Timed from
 * the first encode to the last acknowledgement.
 */
export async function kafkajsEncodeProduce(mc: MockCluster, topic: string, partitions: number, records: readonly { key: string; tsEvent: number }[], encode: (i: number) => Promise<Buffer>): Promise<Row> {
  const ms = await sendBatches(mc, 'bench-raw-encode', topic, records.length, async (j) => {
    const r = records[j]!;
    return { key: r.key, value: await encode(j), partition: kafkaPartition(r.key, partitions), timestamp: String(r.tsEvent) };
  }, CompressionTypes.GZIP);
  return { what: 'kafkajs encode + producer', msgs: records.length, ms, note: `raw: Avro encode, sendBatch ${BATCH}/req, 1 in flight, acks -1, gzip (KafkaBus.publish's work without the adapter)` };
}

/** Runs a command, feeding `input` on stdin; resolves with its wall time and stdout line count. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<{ ms: number; lines: number; outMs: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let lines = 0;
    let stderr = '';
    let firstOut = 0;
    let lastOut = 0;
    child.stdout!.on('data', (d: Buffer) => {
      lastOut = performance.now();
      if (firstOut === 0) firstOut = lastOut;
      for (const b of d) if (b === 10) lines++;
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t;
      if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${stderr}`));
      else resolve({ ms, lines, outMs: lastOut - firstOut, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Sum of the partitions' end offsets of a topic. */
export async function endTotal(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
}


/** The benchmark's payload: n bars of `symbols` instruments, their keys and their Confluent wire-format bytes (printed). */
export async function encodedBars(n: number, symbols: number): Promise<{ bars: Bar[]; keys: string[]; values: Buffer[]; avgBytes: number }> {
  const bars = makeBars(n, symbols);
  const keys = bars.map(instrumentKey);
  const wire = new WireCodec(new LocalSchemaIds());
  const values: Buffer[] = [];
  for (const b of bars) values.push(await wire.encode('md.bars.1m.v1', b));
  const avgBytes = values.reduce((a, v) => a + v.length, 0) / values.length;
  console.log(`payload: Confluent wire format Avro bar, ${avgBytes.toFixed(1)} bytes on average, key exchange:symbol`);
  return { bars, keys, values, avgBytes };
}
