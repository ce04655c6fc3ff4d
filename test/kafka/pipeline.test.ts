/**
 * `qt pipeline features` as a child process (node bin/qt.mjs) on librdkafka's mock cluster: it becomes ready once its
 * group is joined, publishes the same feature vectors as featuresEpic in-process on the same bars, drains and commits
 * on SIGTERM (exit 0, committed offsets cover every bar), and after a restart produces nothing for committed bars.
 *
 * Covered: the stage process's wiring, readiness, commit-after-acknowledge on drain, the clean leave and resume.
 * `qt pipeline ensemble` the same way: one signal per vector with the shipped ONNX members, and a SIGTERM flushes the
 * micro-batch still waiting for a later bar before it commits (a vector counts as done only once its signal is out).
 * Not covered here: kill -9 and parity of the whole chain (issue 4's crash and parity tests), the journal stage as a
 * process.
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
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { genBars } from '../fixtures/gen-bars.ts';
import { collect, committedOffsets, endOffsets, rawAdmin, testBus, waitFor } from './helpers.ts';
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

function startStage(stage: string): StageChild {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'qt.mjs'), 'pipeline', stage, '--bootstrap', mc.bootstrap, '--metrics-port', '0', '--session-timeout', '6000', '--fetch-wait', '100', '--commit-every', '200', '--journal', join(tmp, 'journal')],
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

describe('qt pipeline features over Kafka', () => {
  it('publishes featuresEpic\'s vectors, commits every bar on SIGTERM (exit 0), and produces nothing new after a restart', async () => {
    const t0 = Date.UTC(2025, 0, 6);
    const symbols = ['BTC/USDT', 'ETH/USDT'];
    const series = symbols.map((symbol, i) => genBars({ n: 100, seed: 11 + i, exchange: 'binance', symbol, startOpenTime: t0, startPrice: 100 * (i + 1) }));
    // In event time, symbols interleaved: the order a live ingest would publish them.
    const bars: Bar[] = series[0]!.flatMap((b, i) => [b, series[1]![i]!]);
    const expected = (await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()))).map((o) => o.value.id as string);
    expect(expected.length).toBeGreaterThan(50);

    await Promise.all(bars.map((b) => bus.publish('md.bars.1m.v1', instrumentKey(b), b)));
    const reader = collect(bus, 'feat.vectors.v1', 'qt.test-reader');

    const first = startStage('features');
    await waitReady(first);
    await waitFor(() => reader.got.length >= expected.length, 30_000, `${expected.length} vectors (${first.stderr})`);
    await new Promise((r) => setTimeout(r, 500));
    const ids = reader.got.map((r) => r.value.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected].sort());

    first.child.kill('SIGTERM');
    expect(await first.exit, first.stderr).toBe(0);
    const ends = await endOffsets(admin, 'md.bars.1m.v1');
    const committed = await committedOffsets(admin, 'qt.features', 'md.bars.1m.v1');
    // Every partition that holds bars is committed to its end (next offset = end); empty ones have nothing to commit.
    expect(ends.reduce((a, b) => a + b, 0)).toBe(bars.length);
    expect(committed.map((c, p) => (ends[p] === 0 ? 0 : c))).toEqual(ends);

    const second = startStage('features');
    await waitReady(second);
    // Long enough for several fetches and commit rounds: a replay of committed bars would show up here.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(reader.got.length).toBe(ids.length);
    second.child.kill('SIGTERM');
    expect(await second.exit, second.stderr).toBe(0);
    expect(reader.errors).toEqual([]);
  }, 60_000);

  it('runs the ensemble: one signal per vector, and SIGTERM flushes the waiting micro-batch before it commits', async () => {
    const t0 = Date.UTC(2025, 0, 13);
    const symbols = ['SOL/USDT', 'XRP/USDT'];
    const series = symbols.map((symbol, i) => genBars({ n: 90, seed: 21 + i, exchange: 'binance', symbol, startOpenTime: t0, startPrice: 50 * (i + 1) }));
    const bars: Bar[] = series[0]!.flatMap((b, i) => [b, series[1]![i]!]);
    const vectors = (await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()))).map((o) => o.value as FeatureVector);
    expect(vectors.length).toBeGreaterThan(40);
    await Promise.all(vectors.map((v) => bus.publish('feat.vectors.v1', instrumentKey(v), v)));
    const signals = collect(bus, 'ens.signals.v1', 'qt.test-signals');

    // The topic also holds the vectors the features test above produced: the stage votes on all of them.
    const ends = await endOffsets(admin, 'feat.vectors.v1');
    const total = ends.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(vectors.length);
    const stage = startStage('ensemble');
    await waitReady(stage);
    // Every bar but the last is flushed by the next one; the last waits for a later bar or its timer.
    await waitFor(() => signals.got.length >= total - symbols.length, 30_000, `signals (${stage.stderr})`);
    stage.child.kill('SIGTERM');
    expect(await stage.exit, stage.stderr).toBe(0);
    await waitFor(() => signals.got.length >= total, 10_000, 'the last batch\'s signals');
    const voted = signals.got.map((r) => r.value.featureId);
    expect(new Set(voted).size).toBe(total);
    for (const v of vectors) expect(voted).toContain(v.id);
    const committed = await committedOffsets(admin, 'qt.ensemble', 'feat.vectors.v1');
    expect(committed.map((c, p) => (ends[p] === 0 ? 0 : c))).toEqual(ends);
  }, 90_000);

  it('exits non-zero on a usage problem: an unknown stage', async () => {
    const s = startStage('featurez');
    expect(await s.exit).toBe(2);
    expect(s.stderr).toContain('unknown stage featurez');
  }, 20_000);
});
