/**
 * `qt pipeline features` as a child process (node bin/qt.mjs) on librdkafka's mock cluster, fed bars under the step
 * protocol: it becomes ready once its group is joined, publishes the feature vectors featuresEpic gives in-process,
 * marks every step, drains on SIGTERM (exit 0), and after a restart rebuilds its state from the retained bars without
 * publishing again what it had marked, then goes on from there.
 *
 * Covered: one stage process's wiring, readiness, drain and restart. The whole chain as processes: parity.test.ts;
 * kill -9: crash.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of, queueScheduler } from 'rxjs';
import { toArray } from 'rxjs/operators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { featuresEpic } from '../../pipelines/features/epic.ts';
import type { Bar } from '../../schemas/bar.ts';
import { out, type Bus, type Outgoing } from '../../schemas/ports.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import { StepPublisher } from '../../pipelines/pipeline/step-publisher.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { genBars } from '../fixtures/gen-bars.ts';
import { collect, rawAdmin, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let mc: MockCluster;
let bus: KafkaBus;
let admin: Admin;
const tmp = mkdtempSync(join(tmpdir(), 'qt-pipeline-'));
const children: ChildProcess[] = [];

beforeAll(async () => {
  mc = await startMockCluster();
  bus = testBus(mc);
  await bus.connect();
  admin = await rawAdmin(mc);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await admin?.disconnect();
  await bus?.close();
  await mc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface StageChild {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  readonly exit: Promise<number | null>;
  stderr: string;
}

function startStage(stage: string, cluster: MockCluster = mc, extra: readonly string[] = []): StageChild {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'qt.mjs'), 'pipeline', stage, '--bootstrap', cluster.bootstrap, '--metrics-port', '0', '--session-timeout', '6000', '--fetch-wait', '100', '--commit-every', '200', '--journal', join(tmp, 'journal'), ...extra],
    { cwd: ROOT, env: { ...process.env, QT_DEBUG: '1', QT_ENSEMBLE_REGISTRY_DIR: join(tmp, 'registry') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const s: StageChild = {
    child,
    stderr: '',
    url: new Promise((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        s.stderr += d.toString();
        const m = /metrics on (http:\/\/[^\s]+)\/metrics/.exec(s.stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`stage exited before serving metrics: ${s.stderr}`)));
    }),
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  s.url.catch(() => undefined);
  return s;
}

async function readyz(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/readyz`)).status;
  } catch {
    return 0;
  }
}

async function waitReady(s: StageChild): Promise<void> {
  const url = await s.url;
  let status = 0;
  const until = Date.now() + 30_000;
  while ((status = await readyz(url)) !== 200) {
    if (Date.now() > until || s.child.exitCode !== null) throw new Error(`not ready (last ${status}): ${s.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Publishes bars as ingest does under the step protocol: one step per minute of close time, each with its mark. */
/** Publishes the bars as ingest's steps after step `prev`; the last one ends the market when `last`. Resolves with the steps. */
/**
 * Publishes the bars as ingest's steps after step `prev`; the last one ends the market when `last`. Resolves with the
 * steps, and the marks of the steps from index `withhold` on, kept back unpublished (late marks; the caller sends them).
 */
async function publishSteps(bars: readonly Bar[], prev: number, last: boolean, on: KafkaBus = bus, withhold = Infinity): Promise<{ steps: number[]; held: StepMark[] }> {
  const steps = [...new Set(bars.map((b) => Math.floor(b.tsEvent / 60_000) * 60_000))].sort((a, b) => a - b);
  const late = new Set(steps.slice(withhold));
  const held: StepMark[] = [];
  const port: Pick<Bus, 'publish'> = {
    publish: (topic, key, value, headers) => (topic === 'pipe.steps.v1' && late.has((value as StepMark).step) ? (held.push(value as StepMark), Promise.resolve()) : on.publish(topic, key, value, headers)),
  };
  const ingest = new StepPublisher(port, 'ingest');
  // One step after the other without waiting for each to be acknowledged, as ingest does: the bus batches them.
  const marked: Promise<StepMark>[] = [];
  for (const [i, step] of steps.entries()) {
    ingest.begin(step, prev);
    for (const b of bars) if (Math.floor(b.tsEvent / 60_000) * 60_000 === step) void ingest.publish(out('md.bars.1m.v1', instrumentKey(b), b));
    marked.push(ingest.end(step + 1_000, last && i === steps.length - 1));
    prev = step;
  }
  await Promise.all(marked);
  return { steps, held };
}

describe('qt pipeline features over Kafka', () => {
  it('publishes featuresEpic\'s vectors step by step, drains on SIGTERM (exit 0), and after a restart publishes only the steps it had not marked', async () => {
    const t0 = Date.UTC(2025, 0, 6);
    const symbols = ['BTC/USDT', 'ETH/USDT'];
    const series = symbols.map((symbol, i) => genBars({ n: 100, seed: 11 + i, exchange: 'binance', symbol, startOpenTime: t0, startPrice: 100 * (i + 1) }));
    // In event time, symbols interleaved: the order a live ingest would publish them.
    const bars: Bar[] = series[0]!.flatMap((b, i) => [b, series[1]![i]!]);
    const vectors = await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()));
    const half = 140; // 70 bars per symbol before the restart, 30 after
    const before = new Set(bars.slice(0, half).map((b) => b.id));
    const barOf = (o: Outgoing): string => (o.value as FeatureVector).barId;
    const expectedBefore = vectors.filter((o) => before.has(barOf(o))).map((o) => o.value.id as string);
    const expectedAfter = vectors.filter((o) => !before.has(barOf(o))).map((o) => o.value.id as string);
    expect(expectedBefore.length).toBeGreaterThanOrEqual(20); // after the warm-up
    expect(expectedAfter.length).toBe(60);
    const { steps: firstSteps } = await publishSteps(bars.slice(0, half), -1, false);
    const reader = collect(bus, 'feat.vectors.v1', 'qt.test-reader');
    const marks = collect(bus, 'pipe.steps.v1', 'qt.test-marks');
    const featureMarks = (): StepMark[] => marks.got.map((r) => r.value).filter((m) => m.stage === 'features');
    const records = (ms: StepMark[]): number => ms.reduce((n, m) => n + m.counts.reduce((k, c) => k + c.records, 0), 0);

    const first = startStage('features');
    await waitReady(first);
    await waitFor(() => featureMarks().length === firstSteps.length, 30_000, `the marks of ${firstSteps.length} steps (${first.stderr})`);
    await waitFor(() => reader.got.length >= records(featureMarks()), 10_000, 'the marked vectors');
    const ids = reader.got.map((r) => r.value.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expectedBefore].sort());
    // Every step is marked once, with the vectors it published counted.
    expect(featureMarks().map((m) => m.step)).toEqual(firstSteps);
    expect(records(featureMarks())).toBe(expectedBefore.length);
    first.child.kill('SIGTERM');
    expect(await first.exit, first.stderr).toBe(0);

    // A restarted stage commits nothing to resume from: it rebuilds its state from the retained bars, silently through
    // the steps it had marked, and publishes from the first step it had not. Its first vectors need the rebuilt
    // history (the indicators' windows): they equal featuresEpic's over the whole series.
    const { steps: laterSteps } = await publishSteps(bars.slice(half), firstSteps.at(-1)!, true);
    const second = startStage('features');
    await waitReady(second);
    await waitFor(() => featureMarks().some((m) => m.last), 30_000, `the restarted stage's last mark (${second.stderr})`);
    await waitFor(() => reader.got.length >= ids.length + expectedAfter.length, 10_000, 'the vectors of the later steps');
    const again = reader.got.slice(ids.length).map((r) => r.value.id);
    expect([...again].sort()).toEqual([...expectedAfter].sort());
    expect(featureMarks().map((m) => m.step)).toEqual([...firstSteps, ...laterSteps]);
    expect(second.stderr).toContain(`rebuilt ${firstSteps.length} steps marked before the restart`);
    second.child.kill('SIGTERM');
    expect(await second.exit, second.stderr).toBe(0);
    expect(reader.got).toHaveLength(ids.length + expectedAfter.length);
    expect(reader.errors).toEqual([]);
  }, 90_000);

  it('exits non-zero on a usage problem: an unknown stage', async () => {
    const s = startStage('featurez');
    expect(await s.exit).toBe(2);
    expect(s.stderr).toContain('unknown stage featurez');
  }, 20_000);
});

describe('backpressure', () => {
  let cluster: MockCluster;
  let clusterBus: KafkaBus;

  beforeAll(async () => {
    cluster = await startMockCluster();
    clusterBus = testBus(cluster);
    await clusterBus.connect();
  });

  afterAll(async () => {
    await clusterBus?.close();
    await cluster?.stop();
  });

  /** The value of a gauge of the stage's /metrics (0 when absent). */
  async function gauge(url: string, name: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('stops fetching the partitions its next step does not need once it holds --max-buffered records, and goes on when the marks come', async () => {
    // 24 symbols (every partition of md.bars.1m.v1 gets some) for 400 minutes; ingest's marks stop after the 10th step.
    const symbols = Array.from({ length: 24 }, (_, i) => `S${i}/USDT`);
    const t0 = Date.UTC(2025, 1, 3);
    const series = symbols.map((symbol, i) => genBars({ n: 400, seed: 40 + i, exchange: 'binance', symbol, startOpenTime: t0, startPrice: 10 + i }));
    const bars: Bar[] = series[0]!.flatMap((_, j) => series.map((s) => s[j]!));
    const { steps, held } = await publishSteps(bars, -1, true, clusterBus, 10);
    expect(held).toHaveLength(390);
    const marks = collect(clusterBus, 'pipe.steps.v1', 'qt.test-marks');
    const featureMarks = (): StepMark[] => marks.got.map((r) => r.value).filter((m) => m.stage === 'features');

    const maxBuffered = 1_000;
    const s = startStage('features', cluster, ['--max-buffered', String(maxBuffered)]);
    await waitReady(s);
    const url = await s.url;
    await waitFor(() => featureMarks().length === 10, 30_000, `the first 10 steps (${s.stderr})`);
    // Past 1,000 records held, each partition is paused at its next record (none is needed: step 11 has no mark).
    await waitFor(async () => (await gauge(url, 'qt_stage_paused_partitions')) > 0, 10_000, 'paused partitions');
    await new Promise((r) => setTimeout(r, 2_000)); // what it would fetch meanwhile, were it not paused
    const buffered = await gauge(url, 'qt_stage_buffered_records');
    console.log('backpressure figures', { buffered, paused: await gauge(url, 'qt_stage_paused_partitions'), waiting: held.length * symbols.length });
    // Paused past the limit (while the first ten steps were still being processed, so it may have dropped since), and
    // not fetched again, which would take it below half the limit: at most a record or so per partition beyond it.
    expect(buffered).toBeGreaterThan(maxBuffered / 2);
    expect(buffered).toBeLessThan(maxBuffered + 100);

    // The late marks arrive: it resumes, processes every step and ends with nothing paused or held.
    for (const m of held) await clusterBus.publish('pipe.steps.v1', 'ingest', m);
    await waitFor(() => featureMarks().some((m) => m.last), 60_000, `the last step (${s.stderr})`);
    expect(featureMarks().map((m) => m.step)).toEqual(steps);
    const vectors = featureMarks().reduce((n, m) => n + m.counts.reduce((k, c) => k + c.records, 0), 0);
    const expected = await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()));
    expect(vectors).toBe(expected.length);
    await waitFor(async () => (await gauge(url, 'qt_stage_paused_partitions')) === 0, 10_000, 'every partition resumed');
    s.child.kill('SIGTERM');
    expect(await s.exit, s.stderr).toBe(0);
  }, 120_000);
});
