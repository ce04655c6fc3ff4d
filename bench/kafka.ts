/**
 * Benchmark (issue 4): Kafka throughput on librdkafka's mock cluster (3 brokers, in memory), all measured in one run so
 * the figures share the machine's load: raw kafkajs producer and consumer, kcat's producer and consumer, the KafkaBus
 * adapter's publish and consume, and the features stage as its own process (`qt pipeline features`). Prints a table and
 * ratios; asserts nothing.
 *
 *   node --import tsx bench/kafka.ts [--n 100000] [--symbols 16]
 *
 * Payloads are bars in the Confluent wire format (Avro, as KafkaBus writes them), keyed `exchange:symbol`, on 12
 * partitions like md.bars.1m.v1. Not measured: the end-to-end latency from a tick on md.trades.v1 to its order intent at
 * 5,000 ticks/s, which needs ingest as a process of its own (not built yet).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { lastValueFrom, of, queueScheduler } from 'rxjs';
import { toArray } from 'rxjs/operators';
import { featuresEpic } from '../pipelines/features/epic.ts';
import type { Bar } from '../schemas/bar.ts';
import { instrumentKey } from '../schemas/common.ts';
import { KafkaBus } from '../sources/kafka/kafka-bus.ts';
import { kafkaPartition } from '../sources/murmur2.ts';
import { LocalSchemaIds } from '../sources/kafka/schema-ids.ts';
import { WireCodec } from '../sources/kafka/wire.ts';
import { genBars } from '../test/fixtures/gen-bars.ts';
import { startMockCluster, type MockCluster } from '../test/kafka/mock-cluster.ts';

const ROOT = join(import.meta.dirname, '..');
const PARTITIONS = 12;
const BATCH = 1000;
/** Fetch wait of every consumer here: the mock holds an empty fetch for the whole wait, so a long one only adds idle time. */
const FETCH_WAIT_MS = 100;

interface Args {
  n: number;
  symbols: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { n: 100_000, symbols: 16 };
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

interface Row {
  readonly what: string;
  readonly msgs: number;
  readonly ms: number;
  readonly note: string;
}

const rate = (r: Row): number => r.msgs / (r.ms / 1000);
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Bars of `symbols` instruments interleaved in event time, as a live ingest would publish them. */
function makeBars(n: number, symbols: number): Bar[] {
  const per = Math.ceil(n / symbols);
  const t0 = Date.UTC(2025, 0, 6);
  const series = Array.from({ length: symbols }, (_, i) =>
    genBars({ n: per, seed: 101 + i, exchange: 'binance', symbol: `S${i}/USDT`, startOpenTime: t0, startPrice: 10 * (i + 1) }));
  const out: Bar[] = [];
  for (let j = 0; j < per && out.length < n; j++) for (const s of series) if (out.length < n) out.push(s[j]!);
  return out;
}

function rawKafka(mc: MockCluster, clientId: string): Kafka {
  return new Kafka({ brokers: [...mc.brokers], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 } });
}

/** kafkajs producer: sequential sendBatch of BATCH records, acks -1, no compression, explicit murmur2 partitions. */
async function kafkajsProduce(mc: MockCluster, topic: string, keys: readonly string[], values: readonly Buffer[]): Promise<Row> {
  const p = rawKafka(mc, 'bench-raw-producer').producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  // A warm-up send so the connection and metadata are not timed.
  await p.sendBatch({ acks: -1, topicMessages: [{ topic: 'bench.warmup', messages: [{ key: 'w', value: values[0]! }] }] });
  const t = performance.now();
  for (let i = 0; i < values.length; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(i + BATCH, values.length); j++) messages.push({ key: keys[j]!, value: values[j]!, partition: kafkaPartition(keys[j]!, PARTITIONS) });
    await p.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  }
  const ms = performance.now() - t;
  await p.disconnect();
  return { what: 'kafkajs producer', msgs: values.length, ms, note: `sendBatch ${BATCH}/req, 1 in flight, acks -1, no compression` };
}

/** kafkajs consumer in a fresh group, eachBatch counting; timed from the first record to the n-th (the group join is not). */
async function kafkajsConsume(mc: MockCluster, topic: string, n: number): Promise<{ row: Row; joinMs: number }> {
  const c = rawKafka(mc, 'bench-raw-consumer').consumer({ groupId: 'bench.raw', maxWaitTimeInMs: FETCH_WAIT_MS, sessionTimeout: 6_000, heartbeatInterval: 500 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    void c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (count === 0) first = performance.now();
        count += batch.messages.length;
        if (count >= n) {
          last = performance.now();
          resolve();
        }
      },
    });
  });
  await done;
  await c.disconnect();
  return { row: { what: 'kafkajs consumer', msgs: count, ms: last - first, note: `eachBatch, fetch wait ${FETCH_WAIT_MS} ms, first record to last` }, joinMs: first - t0 };
}

/** Runs a command, feeding `input` on stdin; resolves with its wall time and stdout line count. */
function run(cmd: string, args: readonly string[], input?: string): Promise<{ ms: number; lines: number; outMs: number; stderr: string }> {
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
async function endTotal(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
}

/** The group's committed offsets summed over partitions (none committed counts 0). */
async function committedTotal(admin: Admin, group: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return t!.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
}

/**
 * The features stage as a process on the bars already on md.bars.1m.v1: from its first input (its messages-in counter
 * leaving 0, polled every 10 ms) to its last output acknowledged (feat.vectors.v1's end offsets stop growing once its
 * group has committed every bar; commits follow the acknowledged outputs).
 */
async function stageRun(mc: MockCluster, admin: Admin, bars: number, tmp: string): Promise<{ row: Row; outputs: number; committedMs: number; readyMs: number }> {
  const outBefore = await endTotal(admin, 'feat.vectors.v1');
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'qt.mjs'), 'pipeline', 'features', '--bootstrap', mc.bootstrap, '--metrics-port', '0', '--session-timeout', '6000',
      '--fetch-wait', String(FETCH_WAIT_MS), '--commit-every', '200', '--journal', join(tmp, 'journal')],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let url: string | undefined;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    url ??= /metrics on (http:\/\/[^\s]+)\/metrics/.exec(stderr)?.[1];
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const until = performance.now() + 60_000;
    const alive = (): void => {
      if (child.exitCode !== null) throw new Error(`stage exited: ${stderr}`);
      if (performance.now() > until) throw new Error(`stage timed out: ${stderr}`);
    };
    while (!url) {
      alive();
      await sleep(10);
    }
    let readyMs = 0;
    let first = 0;
    while (first === 0) {
      alive();
      const text = await fetch(`${url}/metrics`).then((r) => r.text()).catch(() => '');
      const m = /^qt_messages_in_total\{[^}]*\} (\d+)/m.exec(text);
      if (m && Number(m[1]) > 0) first = performance.now();
      else if (readyMs === 0 && /qt pipeline features: ready/.test(stderr)) readyMs = performance.now() - t0;
      else await sleep(10);
    }
    let outputs = 0;
    let lastOut = first;
    let committedAt = 0;
    while (committedAt === 0) {
      alive();
      await sleep(20);
      const out = (await endTotal(admin, 'feat.vectors.v1')) - outBefore;
      if (out > outputs) {
        outputs = out;
        lastOut = performance.now();
      }
      if ((await committedTotal(admin, 'qt.features', 'md.bars.1m.v1')) >= bars) committedAt = performance.now();
    }
    // Outputs acknowledged before the commit that covered their inputs: take a last look.
    const out = (await endTotal(admin, 'feat.vectors.v1')) - outBefore;
    if (out > outputs) {
      outputs = out;
      lastOut = committedAt;
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`stage exit ${code}: ${stderr}`);
    return {
      row: { what: 'stage features (process)', msgs: bars, ms: lastOut - first, note: `${fmt(outputs)} vectors out; first input to last output acked` },
      outputs,
      committedMs: committedAt - first,
      readyMs,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = args.n;
  const rows: Row[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'qt-bench-kafka-'));
  console.log(`Kafka throughput on librdkafka's mock cluster (3 brokers), ${fmt(n)} bars of ${args.symbols} symbols; ${availableParallelism()} cores; loadavg at start ${load()}`);
  const mc = await startMockCluster();
  let admin: Admin | undefined;
  try {
    for (const t of ['bench.raw.kafkajs', 'bench.raw.kcat']) await mc.topic(t, PARTITIONS);
    await mc.topic('bench.warmup', 1);
    admin = rawKafka(mc, 'bench-admin').admin();
    await admin.connect();

    const bars = makeBars(n, args.symbols);
    const keys = bars.map(instrumentKey);
    const wire = new WireCodec(new LocalSchemaIds());
    const values: Buffer[] = [];
    for (const b of bars) values.push(await wire.encode('md.bars.1m.v1', b));
    const avgBytes = values.reduce((a, v) => a + v.length, 0) / values.length;
    console.log(`payload: Confluent wire format Avro bar, ${avgBytes.toFixed(1)} bytes on average, key exchange:symbol`);

    // 1. raw kafkajs.
    rows.push(await kafkajsProduce(mc, 'bench.raw.kafkajs', keys, values));
    const rawConsume = await kafkajsConsume(mc, 'bench.raw.kafkajs', n);
    rows.push(rawConsume.row);

    // 2. kcat: the same bytes, base64 so they survive kcat's line framing.
    const lines = values.map((v, i) => `${keys[i]}\t${v.toString('base64')}\n`).join('');
    const kcatFile = join(tmp, 'kcat-in.txt');
    writeFileSync(kcatFile, lines);
    const kp = await run('kcat', ['-P', '-b', mc.bootstrap, '-t', 'bench.raw.kcat', '-K', '\t', '-X', 'acks=all', '-X', 'linger.ms=5', '-l', kcatFile]);
    const kcatStored = await endTotal(admin, 'bench.raw.kcat');
    rows.push({ what: 'kcat producer', msgs: kcatStored, ms: kp.ms, note: `-l file, base64 value (${(avgBytes * 4 / 3).toFixed(0)} B), acks all; process start to exit` });
    const kc = await run('kcat', ['-C', '-b', mc.bootstrap, '-t', 'bench.raw.kcat', '-o', 'beginning', '-e', '-q', '-X', `fetch.wait.max.ms=${FETCH_WAIT_MS}`, '-f', '%S\n']);
    rows.push({ what: 'kcat consumer', msgs: kc.lines, ms: kc.outMs, note: `-C -e (no group), fetch wait ${FETCH_WAIT_MS} ms, first output line to last (process ${fmt(kc.ms)} ms)` });

    // 3. KafkaBus: this also pre-loads md.bars.1m.v1 for the stage.
    const bus = new KafkaBus({ brokers: mc.brokers, clientId: 'bench-bus', logLevel: 'nothing', consumer: { maxWaitTimeMs: FETCH_WAIT_MS, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 } });
    await bus.connect();
    let t = performance.now();
    await Promise.all(bars.map((b) => bus.publish('md.bars.1m.v1', instrumentKey(b), b)));
    rows.push({ what: 'KafkaBus publish', msgs: n, ms: performance.now() - t, note: `Avro encode + linger 5 ms, ${BATCH}/batch, gzip, acks -1, ack check` });
    let got = 0;
    let first = 0;
    let last = 0;
    t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const sub = bus.consume('md.bars.1m.v1', 'bench.bus').subscribe({
        next: () => {
          if (got++ === 0) first = performance.now();
          if (got >= n) {
            last = performance.now();
            resolve();
          }
        },
        error: reject,
      });
      void sub;
    });
    rows.push({ what: 'KafkaBus consume', msgs: got, ms: last - first, note: 'Avro decode to BusRecord, first record to last' });
    const busJoinMs = first - t;
    await bus.close();

    // 4. the features stage as a process.
    const stage = await stageRun(mc, admin, n, tmp);
    rows.push(stage.row);

    // The stage's own work without Kafka, to attribute the stage's time: the epic alone, in this process.
    t = performance.now();
    const vectors = await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()));
    rows.push({ what: 'featuresEpic in-process', msgs: n, ms: performance.now() - t, note: `${fmt(vectors.length)} vectors, no Kafka (the stage's own work)` });

    // The stage's output side alone: KafkaBus publishing the same vectors (after the stage ran, so it does not feed it).
    const bus2 = new KafkaBus({ brokers: mc.brokers, clientId: 'bench-bus-out', logLevel: 'nothing' });
    await bus2.connect();
    const vecBytes = (await Promise.all(vectors.slice(0, 1000).map((o) => wire.encode(o.topic, o.value as never)))).reduce((a, b) => a + b.length, 0) / Math.min(1000, vectors.length);
    t = performance.now();
    await Promise.all(vectors.map((o) => bus2.publish(o.topic, o.key, o.value as never)));
    rows.push({ what: 'KafkaBus publish vectors', msgs: vectors.length, ms: performance.now() - t, note: `feat.vectors.v1, ${vecBytes.toFixed(0)} B each, as the stage publishes them` });
    await bus2.close();

    const w = Math.max(...rows.map((r) => r.what.length));
    console.log('');
    console.log(`${'what'.padEnd(w)}  ${'msgs'.padStart(9)}  ${'ms'.padStart(8)}  ${'msgs/s'.padStart(9)}  how`);
    for (const r of rows) console.log(`${r.what.padEnd(w)}  ${fmt(r.msgs).padStart(9)}  ${fmt(r.ms).padStart(8)}  ${fmt(rate(r)).padStart(9)}  ${r.note}`);
    const by = (what: string): number => rate(rows.find((r) => r.what === what)!);
    console.log('');
    console.log(`group join (not in the figures): kafkajs ${fmt(rawConsume.joinMs)} ms, KafkaBus ${fmt(busJoinMs)} ms; stage process start to ready ${fmt(stage.readyMs)} ms`);
    console.log(`stage: all ${fmt(n)} bars committed ${fmt(stage.committedMs)} ms after its first input (commit every 200 ms)`);
    console.log('');
    console.log('ratios');
    console.log(`  kafkajs producer / kcat producer   ${(by('kafkajs producer') / by('kcat producer')).toFixed(2)}`);
    console.log(`  kafkajs consumer / kcat consumer   ${(by('kafkajs consumer') / by('kcat consumer')).toFixed(2)}`);
    console.log(`  KafkaBus publish / kafkajs producer ${(by('KafkaBus publish') / by('kafkajs producer')).toFixed(2)}`);
    console.log(`  KafkaBus consume / kafkajs consumer ${(by('KafkaBus consume') / by('kafkajs consumer')).toFixed(2)}`);
    const stageRatio = by('stage features (process)') / by('kafkajs consumer');
    console.log(`  stage features / kafkajs consumer   ${stageRatio.toFixed(2)}  (aim >= 0.75: ${stageRatio >= 0.75 ? 'met' : 'NOT met'})`);
    console.log(`  stage features / KafkaBus consume   ${(by('stage features (process)') / by('KafkaBus consume')).toFixed(2)}`);
    console.log('');
    console.log('not measured: end-to-end latency tick (md.trades.v1) -> order intent at 5,000 ticks/s: needs ingest as a process (not built).');
    console.log(`loadavg at end ${load()}`);
  } finally {
    await admin?.disconnect().catch(() => undefined);
    await mc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
