/**
 * Benchmark (issue 4): Kafka throughput on librdkafka's mock cluster (3 brokers, in memory), all measured in one run so
 * the figures share the machine's load: raw kafkajs producer and consumer, kcat's producer and consumer, the KafkaBus
 * adapter's publish and consume, and the features stage as its own process (`qt pipeline features`) under the step
 * protocol (docs/distributed-stages.md), beside raw kafkajs doing what the stage does with no work of its own (read a
 * bar, write a vector-sized record), and raw kafkajs encoding and sending the stage's vectors as KafkaBus does (what
 * the adapter itself costs). Prints a table and ratios; asserts nothing.
 *
 *   node --import tsx bench/kafka.ts [--n 100000] [--symbols 16]
 *
 * Payloads are bars in the Confluent wire format (Avro, as KafkaBus writes them), keyed `exchange:symbol`, on 12
 * partitions like md.bars.1m.v1. The KafkaBus publish pre-loads md.bars.1m.v1 for the stage as ingest would: one step
 * per minute of bar close time (`--symbols` bars each), tagged qt.step/qt.seq and closed by ingest's StepMark on
 * pipe.steps.v1. The stage processes one step at a time and ends each with its own mark once its vectors are
 * acknowledged, so its rate depends on the bars per step (--symbols) as much as on Kafka. The end-to-end latency from a
 * tick to a decision and a risk order at 5,000 ticks/s is bench/pipeline-latency.ts (npm run bench:pipeline).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Admin } from 'kafkajs';
import { lastValueFrom, of, queueScheduler } from 'rxjs';
import { toArray } from 'rxjs/operators';
import { featuresEpic } from '../pipelines/features/epic.ts';
import { StepPublisher } from '../pipelines/pipeline/step-publisher.ts';
import { STEP_TOPIC } from '../pipelines/pipeline/steps.ts';
import type { Bar } from '../schemas/bar.ts';
import { instrumentKey } from '../schemas/common.ts';
import type { StepMark } from '../schemas/step-mark.ts';
import { KafkaBus } from '../sources/kafka/kafka-bus.ts';
import { LocalSchemaIds } from '../sources/kafka/schema-ids.ts';
import { WireCodec } from '../sources/kafka/wire.ts';
import { startMockCluster, type MockCluster } from '../test/kafka/mock-cluster.ts';
import { BATCH, endTotal, FETCH_WAIT_MS, encodedBars, fmt, kafkajsConsume, kafkajsEncodeProduce, kafkajsPassThrough, kafkajsProduce, load, PARTITIONS, rate, rawKafka, run, sleep, type Row } from './kafka-common.ts';

const ROOT = join(import.meta.dirname, '..');
const MINUTE = 60_000;

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

/** One step of ingest's: the bars that close in one minute (bar tsEvent is its close time). */
interface BarStep {
  readonly step: number;
  readonly clock: number;
  readonly bars: readonly Bar[];
}

/** The bars cut into ingest's steps: one per minute of close time, in time order. */
function barSteps(bars: readonly Bar[]): BarStep[] {
  const by = new Map<number, Bar[]>();
  for (const b of bars) {
    const step = Math.floor(b.tsEvent / MINUTE) * MINUTE;
    let list = by.get(step);
    if (!list) by.set(step, (list = []));
    list.push(b);
  }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, list]) => ({ step, clock: Math.max(...list.map((b) => b.tsEvent)), bars: list }));
}

/**
 * Publishes the bars on md.bars.1m.v1 as ingest does under the step protocol: per step begin(step, prev), the step's
 * bars (tagged qt.step/qt.seq), end(clock, last) with ingest's StepMark on pipe.steps.v1 once they are acknowledged.
 * One StepPublisher per step, all steps in flight at once, so the acknowledgements overlap as in a plain bulk publish
 * (one publisher ends a step before it may begin the next, which would time linger + ack round trips instead of
 * throughput; the marks are the same). Resolves once every bar and every mark is acknowledged.
 */
async function publishSteps(bus: KafkaBus, steps: readonly BarStep[]): Promise<{ barsMs: number; marksMs: number }> {
  const t = performance.now();
  const barAcks: Promise<void>[] = [];
  const markAcks: Promise<StepMark>[] = [];
  let prev = -1;
  for (const [i, s] of steps.entries()) {
    const publisher = new StepPublisher(bus, 'ingest');
    publisher.begin(s.step, prev);
    for (const b of s.bars) barAcks.push(publisher.publish({ topic: 'md.bars.1m.v1', key: instrumentKey(b), value: b }));
    markAcks.push(publisher.end(s.clock, i === steps.length - 1));
    prev = s.step;
  }
  await Promise.all(barAcks);
  const barsMs = performance.now() - t;
  await Promise.all(markAcks);
  return { barsMs, marksMs: performance.now() - t };
}

/** What the features process did, from its own step marks. */
interface StageRun {
  readonly row: Row;
  /** Vectors its marks count on feat.vectors.v1. */
  readonly vectors: number;
  /** Growth of feat.vectors.v1's end offsets while it ran (a cross-check of `vectors`). */
  readonly stored: number;
  readonly steps: number;
  readonly readyMs: number;
  /** From its first input to the receipt of its first mark. */
  readonly firstMarkMs: number;
}

/**
 * The features stage as a process on the stepped bars already on md.bars.1m.v1: from its first input (its messages-in
 * counter leaving 0, polled every 10 ms; under the step protocol it counts a record when its step is processed) to the
 * receipt of its mark of the last step on pipe.steps.v1 (published once the step's vectors are acknowledged; read here
 * by a consumer of our own, up to one fetch wait late). The vectors are those its marks count. A stepped stage commits
 * no offsets.
 */
async function stageRun(mc: MockCluster, admin: Admin, bars: number, steps: number, tmp: string): Promise<StageRun> {
  const outBefore = await endTotal(admin, 'feat.vectors.v1');
  // Follow pipe.steps.v1 first: ingest's marks all in shows the consumer is running before the stage starts.
  const watcher = new KafkaBus({ brokers: mc.brokers, clientId: 'bench-steps', logLevel: 'nothing', consumer: { maxWaitTimeMs: FETCH_WAIT_MS, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 } });
  await watcher.connect();
  const marks = new Map<number, { mark: StepMark; at: number }>();
  let ingestMarks = 0;
  let watchError: unknown;
  const sub = watcher.consume(STEP_TOPIC, 'bench.steps').subscribe({
    next: (r) => {
      const m = r.value;
      if (m.stage === 'ingest') ingestMarks += 1;
      else if (m.stage === 'features' && !marks.has(m.step)) marks.set(m.step, { mark: m, at: performance.now() });
    },
    error: (e: unknown) => (watchError = e),
  });
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const joinUntil = performance.now() + 60_000;
    while (ingestMarks < steps) {
      if (watchError !== undefined) throw watchError;
      if (performance.now() > joinUntil) throw new Error(`only ${ingestMarks} of ${steps} ingest marks on ${STEP_TOPIC} after 60 s`);
      await sleep(20);
    }
    const t0 = performance.now();
    child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'qt.mjs'), 'pipeline', 'features', '--bootstrap', mc.bootstrap, '--metrics-port', '0', '--session-timeout', '6000',
        '--fetch-wait', String(FETCH_WAIT_MS), '--journal', join(tmp, 'journal')],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const proc = child;
    let stderr = '';
    let url: string | undefined;
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      url ??= /metrics on (http:\/\/[^\s]+)\/metrics/.exec(stderr)?.[1];
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    // The stage goes one step at a time (two acknowledged round trips each): allow 50 ms a step, 2 minutes at least.
    const until = performance.now() + Math.max(120_000, steps * 50);
    const alive = (): void => {
      if (watchError !== undefined) throw watchError;
      if (proc.exitCode !== null) throw new Error(`stage exited: ${stderr}`);
      if (performance.now() > until) throw new Error(`stage timed out after ${marks.size} of ${steps} steps: ${stderr}`);
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
    const lastMark = (): { mark: StepMark; at: number } | undefined => [...marks.values()].find((x) => x.mark.last);
    while (!lastMark()) {
      alive();
      await sleep(10);
    }
    const lastAt = lastMark()!.at;
    if (marks.size !== steps) throw new Error(`features marked ${marks.size} steps, ingest ${steps}`);
    const vectors = [...marks.values()].reduce((a, x) => a + x.mark.counts.filter((c) => c.topic === 'feat.vectors.v1').reduce((b, c) => b + c.records, 0), 0);
    const firstMarkAt = Math.min(...[...marks.values()].map((x) => x.at));
    proc.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`stage exit ${code}: ${stderr}`);
    const stored = (await endTotal(admin, 'feat.vectors.v1')) - outBefore;
    return {
      row: { what: 'stage features (process)', msgs: bars, ms: lastAt - first, note: `${fmt(vectors)} vectors out in ${fmt(steps)} steps; first input to last step mark received` },
      vectors,
      stored,
      steps: marks.size,
      readyMs,
      firstMarkMs: firstMarkAt - first,
    };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    sub.unsubscribe();
    await watcher.close().catch(() => undefined);
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
    for (const t of ['bench.raw.kafkajs', 'bench.raw.kcat', 'bench.raw.pass', 'bench.raw.vectors']) await mc.topic(t, PARTITIONS);
    await mc.topic('bench.warmup', 1);
    admin = rawKafka(mc, 'bench-admin').admin();
    await admin.connect();

    const { bars, keys, values, avgBytes } = await encodedBars(n, args.symbols);

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

    // 3. KafkaBus: this also pre-loads md.bars.1m.v1 for the stage, in ingest's steps.
    const bus = new KafkaBus({ brokers: mc.brokers, clientId: 'bench-bus', logLevel: 'nothing', consumer: { maxWaitTimeMs: FETCH_WAIT_MS, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 } });
    await bus.connect();
    const steps = barSteps(bars);
    const published = await publishSteps(bus, steps);
    rows.push({
      what: 'KafkaBus publish',
      msgs: n,
      ms: published.barsMs,
      note: `Avro encode + linger 5 ms, ${BATCH}/batch, gzip, acks -1, ack check; tagged in ${fmt(steps.length)} steps, to the last bar acked`,
    });
    let got = 0;
    let first = 0;
    let last = 0;
    let t = performance.now();
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
    const stage = await stageRun(mc, admin, n, steps.length, tmp);
    rows.push(stage.row);

    // The stage's own work without Kafka, to attribute the stage's time: the epic alone, in this process.
    t = performance.now();
    const vectors = await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()));
    rows.push({ what: 'featuresEpic in-process', msgs: n, ms: performance.now() - t, note: `${fmt(vectors.length)} vectors, no Kafka (the stage's own work)` });

    // The stage's output side alone: KafkaBus publishing the same vectors (after the stage ran, so it does not feed it).
    const bus2 = new KafkaBus({ brokers: mc.brokers, clientId: 'bench-bus-out', logLevel: 'nothing' });
    await bus2.connect();
    const wire = new WireCodec(new LocalSchemaIds());
    const vecBytes = (await Promise.all(vectors.slice(0, 1000).map((o) => wire.encode(o.topic, o.value as never)))).reduce((a, b) => a + b.length, 0) / Math.min(1000, vectors.length);
    t = performance.now();
    await Promise.all(vectors.map((o) => bus2.publish(o.topic, o.key, o.value as never)));
    rows.push({ what: 'KafkaBus publish vectors', msgs: vectors.length, ms: performance.now() - t, note: `feat.vectors.v1, ${vecBytes.toFixed(0)} B each, as the stage publishes them` });
    await bus2.close();
    // The same vectors through raw kafkajs with the same encoding and settings: what the adapter itself costs.
    rows.push(await kafkajsEncodeProduce(mc, 'bench.raw.vectors', PARTITIONS, vectors.map((o) => ({ key: o.key, tsEvent: (o.value as { tsEvent: number }).tsEvent })), (i) => wire.encode('feat.vectors.v1', vectors[i]!.value as never)));
    // What raw kafkajs does as a stage with no work: read each bar, write a record of a vector's size.
    rows.push(await kafkajsPassThrough(mc, 'bench.raw.kafkajs', 'bench.raw.pass', n, Math.round(vecBytes)));

    const w = Math.max(...rows.map((r) => r.what.length));
    console.log('');
    console.log(`${'what'.padEnd(w)}  ${'msgs'.padStart(9)}  ${'ms'.padStart(8)}  ${'msgs/s'.padStart(9)}  how`);
    for (const r of rows) console.log(`${r.what.padEnd(w)}  ${fmt(r.msgs).padStart(9)}  ${fmt(r.ms).padStart(8)}  ${fmt(rate(r)).padStart(9)}  ${r.note}`);
    const by = (what: string): number => rate(rows.find((r) => r.what === what)!);
    console.log('');
    console.log(`group join (not in the figures): kafkajs ${fmt(rawConsume.joinMs)} ms, KafkaBus ${fmt(busJoinMs)} ms; stage process start to ready ${fmt(stage.readyMs)} ms`);
    console.log(`KafkaBus publish as ingest: ${fmt(steps.length)} steps of ${fmt(n / steps.length)} bars (one per minute of close time), their ${fmt(steps.length)} marks on ${STEP_TOPIC} all acked ${fmt(published.marksMs)} ms after the start`);
    const stepMs = stage.row.ms / stage.steps;
    console.log(`stage: ${fmt(stage.steps)} steps marked in ${fmt(stage.row.ms)} ms after its first input: ${fmt(1000 / stepMs)} steps/s, ${stepMs.toFixed(1)} ms a step (first mark received ${fmt(stage.firstMarkMs)} ms after its first input)`);
    console.log(`stage: vectors counted by its marks ${fmt(stage.vectors)}, feat.vectors.v1 grew by ${fmt(stage.stored)}, featuresEpic in-process ${fmt(vectors.length)}; no offsets committed (step protocol)`);
    console.log('');
    console.log('ratios');
    console.log(`  kafkajs producer / kcat producer   ${(by('kafkajs producer') / by('kcat producer')).toFixed(2)}`);
    console.log(`  kafkajs consumer / kcat consumer   ${(by('kafkajs consumer') / by('kcat consumer')).toFixed(2)}`);
    console.log(`  KafkaBus publish / kafkajs producer ${(by('KafkaBus publish') / by('kafkajs producer')).toFixed(2)}`);
    console.log(`  KafkaBus consume / kafkajs consumer ${(by('KafkaBus consume') / by('kafkajs consumer')).toFixed(2)}`);
    console.log(`  KafkaBus publish vectors / kafkajs encode + producer ${(by('KafkaBus publish vectors') / by('kafkajs encode + producer')).toFixed(2)}  (the adapter's own cost on the same work)`);
    const stageRatio = by('stage features (process)') / by('kafkajs consumer');
    console.log(`  stage features / kafkajs consumer   ${stageRatio.toFixed(stageRatio < 0.1 ? 4 : 2)}  (aim >= 0.75: ${stageRatio >= 0.75 ? 'met' : 'NOT met'})`);
    const passRatio = by('stage features (process)') / by('kafkajs pass-through');
    console.log(`  stage features / kafkajs pass-through ${passRatio.toFixed(2)}  (raw kafkajs reading and writing as the stage does, with no work; aim >= 0.75: ${passRatio >= 0.75 ? 'met' : 'NOT met'})`);
    const busRatio = by('stage features (process)') / by('KafkaBus consume');
    console.log(`  stage features / KafkaBus consume   ${busRatio.toFixed(busRatio < 0.1 ? 4 : 2)}`);
    // One process does all three in turn on one core: the rate it could reach if the step protocol cost nothing.
    const perBar = 1 / by('KafkaBus consume') + (vectors.length / n) * (1 / by('KafkaBus publish vectors')) + 1 / by('featuresEpic in-process');
    const bound = 1 / perBar;
    console.log(`  stage features / its parts' bound   ${(by('stage features (process)') / bound).toFixed(2)}  (bound ${fmt(bound)}/s: KafkaBus consume + publish vectors + featuresEpic, one after the other)`);
    console.log('');
    console.log('end-to-end latency tick (md.trades.v1) -> decision and risk order at 5,000 ticks/s, all eight stages as processes: npm run bench:pipeline');
    console.log(`loadavg at end ${load()}`);
  } finally {
    await admin?.disconnect().catch(() => undefined);
    await mc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
