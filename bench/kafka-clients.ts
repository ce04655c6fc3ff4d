/**
 * Benchmark: the two pure-JS Kafka clients side by side on one librdkafka mock cluster (3 brokers, in memory), in one
 * run so the figures share the machine's load: raw kafkajs and raw @platformatic/kafka producer and consumer, their
 * adapters KafkaBus and PlatformaticBus (publish and consume), and kcat (librdkafka) as the yardstick. Prints a table
 * and ratios; asserts nothing.
 *
 *   node --import tsx bench/kafka-clients.ts [--n 100000] [--symbols 16]
 *
 * Payloads: the same n bars, pre-encoded once in the Confluent wire format (Avro, as the buses write them), keyed
 * `exchange:symbol`, on 12 partitions (md.bars.1m.v1's count) with murmur2 partitions given explicitly. Raw producers
 * send 1000 records a request, one request in flight, acks -1, no compression; the buses encode each bar, linger 5 ms,
 * 1000 records a batch, gzip, acks -1. Consumers read in a fresh group from the earliest offset, timed from the first
 * record to the n-th (the group join is reported apart); kafkajs's eachBatch counts a batch at a time, the
 * @platformatic/kafka stream emits one 'data' event per record. The buses share md.bars.1m.v1: PlatformaticBus consumes 2n
 * records there and is timed to its n-th.
 *
 * Caveat: the mock speaks Kafka 2.x protocol versions, older than any @platformatic/kafka implements but Produce v7, so
 * its figures are through PlatformaticBus's pre-3.5 protocol layer (Fetch v11, Metadata v2, ... written with the
 * client's own Writer/Reader and record-batch reader; see sources/kafka/platformatic-bus.ts). The mock's fetch holds
 * an empty fetch for its whole wait, so consumer figures depend on the fetch wait (100 ms for every client here).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Consumer, Producer } from '@platformatic/kafka';
import type { Admin } from 'kafkajs';
import type { Bar } from '../schemas/bar.ts';
import { instrumentKey } from '../schemas/common.ts';
import type { Bus } from '../schemas/ports.ts';
import { KafkaBus } from '../sources/kafka/kafka-bus.ts';
import { PlatformaticBus } from '../sources/kafka/platformatic-bus.ts';
import { installLegacyProtocol } from '../sources/kafka/platformatic-legacy.ts';
import { kafkaPartition } from '../sources/murmur2.ts';
import { startMockCluster, type MockCluster } from '../test/kafka/mock-cluster.ts';
import { BATCH, endTotal, FETCH_WAIT_MS, encodedBars, fmt, kafkajsConsume, kafkajsProduce, load, PARTITIONS, rate, rawKafka, run, type Row } from './kafka-common.ts';

const CONSUMER = { maxWaitTimeMs: FETCH_WAIT_MS, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 } as const;

function parseArgs(argv: readonly string[]): { n: number; symbols: number } {
  const a = { n: 100_000, symbols: 16 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} needs a positive integer`);
    if (k === '--n') a.n = v;
    else if (k === '--symbols') a.symbols = v;
    else throw new Error(`unknown flag ${k}`);
  }
  return a;
}

function counter(n: number): { add: (k: number) => void; done: Promise<{ first: number; last: number }> } {
  let count = 0;
  let first = 0;
  let resolve!: (v: { first: number; last: number }) => void;
  const done = new Promise<{ first: number; last: number }>((r) => (resolve = r));
  return {
    add: (k) => {
      if (count === 0 && k > 0) first = performance.now();
      const before = count;
      count += k;
      if (before < n && count >= n) resolve({ first, last: performance.now() });
    },
    done,
  };
}

async function platformaticProduce(mc: MockCluster, topic: string, keys: readonly string[], values: readonly Buffer[]): Promise<Row> {
  const p = new Producer({ clientId: 'bench-pk-producer', bootstrapBrokers: [...mc.brokers], retries: 8, retryDelay: 100 });
  await p.send({ acks: -1, messages: [{ topic: 'bench.warmup', key: Buffer.from('w'), value: values[0]! }] });
  const t = performance.now();
  for (let i = 0; i < values.length; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(i + BATCH, values.length); j++) messages.push({ topic, key: Buffer.from(keys[j]!), value: values[j]!, partition: kafkaPartition(keys[j]!, PARTITIONS) });
    await p.send({ acks: -1, messages });
  }
  const ms = performance.now() - t;
  await p.close();
  return { what: '@platformatic/kafka producer', msgs: values.length, ms, note: `send ${BATCH}/req, 1 in flight, acks -1, no compression` };
}

async function platformaticConsume(mc: MockCluster, topic: string, n: number): Promise<{ row: Row; joinMs: number }> {
  const c = new Consumer({ clientId: 'bench-pk-consumer', groupId: 'bench.platformatic', bootstrapBrokers: [...mc.brokers], autocommit: false, maxWaitTime: FETCH_WAIT_MS, sessionTimeout: 6_000, heartbeatInterval: 500 });
  const count = counter(n);
  const t0 = performance.now();
  const stream = await c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
  stream.on('data', () => count.add(1));
  const { first, last } = await count.done;
  await c.close(true);
  return { row: { what: '@platformatic/kafka consumer', msgs: n, ms: last - first, note: `stream 'data' events, fetch wait ${FETCH_WAIT_MS} ms` }, joinMs: first - t0 };
}

/** A bus publishes every bar (all at once, as a stage's output would queue) and reads n of md.bars.1m.v1 in a fresh group. */
async function busRun(name: string, bus: Bus & { connect(): Promise<void> }, bars: readonly Bar[], group: string): Promise<{ pub: Row; sub: Row; joinMs: number }> {
  await bus.connect();
  let t = performance.now();
  await Promise.all(bars.map((b) => bus.publish('md.bars.1m.v1', instrumentKey(b), b)));
  const pub: Row = { what: `${name} publish`, msgs: bars.length, ms: performance.now() - t, note: `Avro encode + linger 5 ms, ${BATCH}/batch, gzip, acks -1, to the last ack` };
  const count = counter(bars.length);
  t = performance.now();
  const sub = bus.consume('md.bars.1m.v1', group).subscribe({ next: () => count.add(1), error: (e: unknown) => console.error(`${name} consume failed`, e) });
  const { first, last } = await count.done;
  sub.unsubscribe();
  await bus.close();
  return { pub, sub: { what: `${name} consume`, msgs: bars.length, ms: last - first, note: 'Avro decode to BusRecord' }, joinMs: first - t };
}

async function main(): Promise<void> {
  const { n, symbols } = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  const joins: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'qt-bench-clients-'));
  console.log(`Kafka clients on librdkafka's mock cluster (3 brokers), ${fmt(n)} bars of ${symbols} symbols; ${availableParallelism()} cores; loadavg at start ${load()}`);
  installLegacyProtocol();
  const mc = await startMockCluster();
  let admin: Admin | undefined;
  try {
    for (const t of ['bench.kafkajs', 'bench.platformatic', 'bench.kcat']) await mc.topic(t, PARTITIONS);
    await mc.topic('bench.warmup', 1);
    admin = rawKafka(mc, 'bench-admin').admin();
    await admin.connect();
    const { bars, keys, values } = await encodedBars(n, symbols);

    rows.push(await kafkajsProduce(mc, 'bench.kafkajs', keys, values));
    const kc = await kafkajsConsume(mc, 'bench.kafkajs', n);
    rows.push(kc.row);
    joins.push(`kafkajs ${fmt(kc.joinMs)} ms`);

    rows.push(await platformaticProduce(mc, 'bench.platformatic', keys, values));
    const pc = await platformaticConsume(mc, 'bench.platformatic', n);
    rows.push(pc.row);
    joins.push(`@platformatic/kafka ${fmt(pc.joinMs)} ms`);
    const stored = { kafkajs: await endTotal(admin, 'bench.kafkajs'), platformatic: await endTotal(admin, 'bench.platformatic') };

    const kcatFile = join(tmp, 'kcat-in.txt');
    writeFileSync(kcatFile, values.map((v, i) => `${keys[i]}\t${v.toString('base64')}\n`).join(''));
    const kp = await run('kcat', ['-P', '-b', mc.bootstrap, '-t', 'bench.kcat', '-K', '\t', '-X', 'acks=all', '-X', 'linger.ms=5', '-l', kcatFile]);
    rows.push({ what: 'kcat producer', msgs: await endTotal(admin, 'bench.kcat'), ms: kp.ms, note: 'librdkafka, -l file, base64 value, acks all; process start to exit' });
    const kr = await run('kcat', ['-C', '-b', mc.bootstrap, '-t', 'bench.kcat', '-o', 'beginning', '-e', '-q', '-X', `fetch.wait.max.ms=${FETCH_WAIT_MS}`, '-f', '%S\n']);
    rows.push({ what: 'kcat consumer', msgs: kr.lines, ms: kr.outMs, note: `-C -e (no group), fetch wait ${FETCH_WAIT_MS} ms, first output line to last` });

    const kb = await busRun('KafkaBus', new KafkaBus({ brokers: mc.brokers, clientId: 'bench-kafkabus', logLevel: 'nothing', consumer: CONSUMER }), bars, 'bench.kafkabus');
    rows.push(kb.pub, kb.sub);
    joins.push(`KafkaBus ${fmt(kb.joinMs)} ms`);
    const pb = await busRun('PlatformaticBus', new PlatformaticBus({ brokers: mc.brokers, clientId: 'bench-pkbus', consumer: CONSUMER }), bars, 'bench.pkbus');
    rows.push(pb.pub, pb.sub);
    joins.push(`PlatformaticBus ${fmt(pb.joinMs)} ms`);

    const w = Math.max(...rows.map((r) => r.what.length));
    console.log('');
    console.log(`${'what'.padEnd(w)}  ${'msgs'.padStart(9)}  ${'ms'.padStart(8)}  ${'msgs/s'.padStart(9)}  how`);
    for (const r of rows) console.log(`${r.what.padEnd(w)}  ${fmt(r.msgs).padStart(9)}  ${fmt(r.ms).padStart(8)}  ${fmt(rate(r)).padStart(9)}  ${r.note}`);
    const by = (what: string): number => rate(rows.find((r) => r.what === what)!);
    const ratio = (a: string, b: string): string => `  ${`${a} / ${b}`.padEnd(62)} ${(by(a) / by(b)).toFixed(2)}`;
    console.log('');
    console.log(`stored: bench.kafkajs ${fmt(stored.kafkajs)}, bench.platformatic ${fmt(stored.platformatic)} (of ${fmt(n)} each)`);
    console.log(`group join to first record (not in the figures): ${joins.join(', ')}`);
    console.log('');
    console.log('ratios');
    console.log(ratio('@platformatic/kafka producer', 'kafkajs producer'));
    console.log(ratio('@platformatic/kafka consumer', 'kafkajs consumer'));
    console.log(ratio('PlatformaticBus publish', 'KafkaBus publish'));
    console.log(ratio('PlatformaticBus consume', 'KafkaBus consume'));
    console.log(ratio('kafkajs producer', 'kcat producer'));
    console.log(ratio('@platformatic/kafka producer', 'kcat producer'));
    console.log(ratio('kafkajs consumer', 'kcat consumer'));
    console.log(ratio('@platformatic/kafka consumer', 'kcat consumer'));
    console.log(ratio('KafkaBus publish', 'kafkajs producer'));
    console.log(ratio('PlatformaticBus publish', '@platformatic/kafka producer'));
    console.log(ratio('KafkaBus consume', 'kafkajs consumer'));
    console.log(ratio('PlatformaticBus consume', '@platformatic/kafka consumer'));
    console.log(`loadavg at end ${load()}`);
  } finally {
    await admin?.disconnect().catch(() => undefined);
    await mc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
