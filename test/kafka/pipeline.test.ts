/**
 * `qt pipeline features` as a child process (node bin/qt.mjs) on librdkafka's mock cluster, fed bars under the step
 * protocol: it becomes ready once its group is joined, publishes the feature vectors featuresEpic gives in-process,
 * marks every step, drains on SIGTERM (exit 0), and after a restart publishes the same tagged records again.
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
import { out } from '../../schemas/ports.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import { StepPublisher } from '../../pipelines/pipeline/steps.ts';
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

/** Publishes bars as ingest does under the step protocol: one step per minute of close time, each with its mark. */
async function publishSteps(bars: readonly Bar[]): Promise<number> {
  const ingest = new StepPublisher(bus, 'ingest');
  const steps = [...new Set(bars.map((b) => Math.floor(b.tsEvent / 60_000) * 60_000))].sort((a, b) => a - b);
  let prev = -1;
  for (const [i, step] of steps.entries()) {
    ingest.begin(step, prev);
    for (const b of bars) if (Math.floor(b.tsEvent / 60_000) * 60_000 === step) void ingest.publish(out('md.bars.1m.v1', instrumentKey(b), b));
    await ingest.end(step + 1_000, i === steps.length - 1);
    prev = step;
  }
  return steps.length;
}

describe('qt pipeline features over Kafka', () => {
  it('publishes featuresEpic\'s vectors step by step, drains on SIGTERM (exit 0), and after a restart publishes the same tagged records again', async () => {
    const t0 = Date.UTC(2025, 0, 6);
    const symbols = ['BTC/USDT', 'ETH/USDT'];
    const series = symbols.map((symbol, i) => genBars({ n: 100, seed: 11 + i, exchange: 'binance', symbol, startOpenTime: t0, startPrice: 100 * (i + 1) }));
    // In event time, symbols interleaved: the order a live ingest would publish them.
    const bars: Bar[] = series[0]!.flatMap((b, i) => [b, series[1]![i]!]);
    const expected = (await lastValueFrom(featuresEpic({ bars: of(...bars) }, { scheduler: queueScheduler }).pipe(toArray()))).map((o) => o.value.id as string);
    expect(expected.length).toBeGreaterThan(50);
    const stepCount = await publishSteps(bars);
    const reader = collect(bus, 'feat.vectors.v1', 'qt.test-reader');
    const marks = collect(bus, 'pipe.steps.v1', 'qt.test-marks');
    const featureMarks = (): StepMark[] => marks.got.map((r) => r.value).filter((m) => m.stage === 'features');

    const first = startStage('features');
    await waitReady(first);
    await waitFor(() => featureMarks().some((m) => m.last), 30_000, `the last step's mark (${first.stderr})`);
    const marked = featureMarks().reduce((n, m) => n + m.counts.reduce((k, c) => k + c.records, 0), 0);
    await waitFor(() => reader.got.length >= marked, 10_000, `${marked} marked vectors`);
    const firstRun = reader.got.map((r) => `${r.value.id}@${r.headers?.['qt.step']}/${r.headers?.['qt.seq']}`);
    const ids = reader.got.map((r) => r.value.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected].sort());
    // Every step is marked once, with the vectors it published counted.
    expect(featureMarks()).toHaveLength(stepCount);
    expect(marked).toBe(expected.length);
    first.child.kill('SIGTERM');
    expect(await first.exit, first.stderr).toBe(0);

    // A restarted stage commits nothing to resume from: it rebuilds its state from the retained bars and publishes
    // every step again, each record with the same id and the same step tags (consumers drop them as seen).
    const second = startStage('features');
    await waitReady(second);
    await waitFor(() => featureMarks().filter((m) => m.last).length === 2, 30_000, `the restarted stage's last mark (${second.stderr})`);
    await waitFor(() => reader.got.length >= 2 * marked, 10_000, 'the republished vectors');
    const again = reader.got.slice(firstRun.length).map((r) => `${r.value.id}@${r.headers?.['qt.step']}/${r.headers?.['qt.seq']}`);
    expect([...again].sort()).toEqual([...firstRun].sort());
    second.child.kill('SIGTERM');
    expect(await second.exit, second.stderr).toBe(0);
    expect(reader.errors).toEqual([]);
  }, 90_000);

  it('exits non-zero on a usage problem: an unknown stage', async () => {
    const s = startStage('featurez');
    expect(await s.exit).toBe(2);
    expect(s.stderr).toContain('unknown stage featurez');
  }, 20_000);
});
