/**
 * Crashes: the eight stages as processes on the mock cluster (as in parity.test.ts), and at ten points chosen by the
 * run's progress (the exits stage's last marked step), kill -9 of a stage chosen by a seeded random draw, restarted
 * at once. The journal must still equal `qt run`'s on the same market: no row missing, none in excess, no order
 * submitted twice. A deliberately broken journal (offsets committed before the write) killed at the same kind of
 * points must fail that same check.
 *
 * Features and exits run as two replicas each, so a kill may hit one replica of them.
 *
 * Covered: restart of every stage and replica mid-run (state rebuilt from the retained inputs, the steps marked before
 * the crash rebuilt without publishing them, the step in progress published again and dropped as seen downstream),
 * the journal's commit-after-flush. Not covered: a crash of the broker (broker-faults.test.ts, faults.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../sources/rng.ts';
import { CHAIN, Deployment, journalDiff, journalRows, openTestCluster, runReference, waitForEnd, watchSteps, type JournalRows, type Scenario } from './deployment.ts';
import { waitFor } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-crash-'));
const FROM = Date.UTC(2025, 0, 6);
const TO = FROM + 6 * 3_600_000;
const SCENARIO: Scenario = {
  market: ['--symbols', '6', '--from', new Date(FROM).toISOString(), '--to', new Date(TO).toISOString(), '--seed', '7'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};
/** The chain's processes: features and exits as two replicas each. */
const PROCESSES = CHAIN.flatMap((s) => (s === 'features' || s === 'exits' ? [`${s}#0/2`, `${s}#1/2`] : [s]));
const STAGES = ['ingest', ...PROCESSES, 'journal'];

let want: JournalRows;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  runReference(SCENARIO, join(tmp, 'reference'));
  want = journalRows(join(tmp, 'reference'));
  expect(want.tables['orders']!.length).toBeGreaterThan(0);
}, 120_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface CrashRun {
  readonly got: JournalRows;
  readonly kills: string[];
}

/**
 * Runs the deployment on a fresh cluster, killing `pick()`'s stage at each progress fraction of `points` (by the
 * exits stage's marks) and restarting it; returns the journal once every stage marked the last step and the journal
 * committed everything.
 */
async function crashRun(name: string, points: readonly number[], pick: (running: readonly string[]) => string, flags: Record<string, readonly string[]> = {}): Promise<CrashRun> {
  const { mc, bus, admin, close } = await openTestCluster();
  cleanups.push(close);
  const journal = join(tmp, name);
  // Ingest paced (6 h of market in about 50 s): the kills land while the chain is mid-run, not after it caught up.
  const d = new Deployment(mc, SCENARIO, journal, { ingest: ['--speed', '432'], ...flags });
  cleanups.push(() => d.killAll());
  const steps = watchSteps(bus, `qt-test.${name}`);
  cleanups.push(() => steps.sub.unsubscribe());
  await Promise.all([d.start('journal'), ...PROCESSES.map((s) => d.start(s))]);
  await d.start('ingest');

  const progress = (): number => ((steps.last.get('exits')?.step ?? FROM) - FROM) / (TO - FROM);
  const kills: string[] = [];
  for (const at of points) {
    await waitFor(() => progress() >= at, 240_000, `progress ${at} (${d.log()})`);
    const running = STAGES.filter((s) => d.running(s));
    const stage = pick(running);
    await d.kill(stage);
    kills.push(`${stage}@${progress().toFixed(2)}`);
    await d.start(stage);
  }
  await waitForEnd(d, steps, admin);
  const codes = await d.stopAll();
  for (const [stage, code] of Object.entries(codes)) expect(code, `${stage} exit\n${d.log()}`).toBe(0);
  return { got: journalRows(journal), kills };
}

const TEN_POINTS = [0.06, 0.14, 0.22, 0.3, 0.38, 0.46, 0.54, 0.62, 0.7, 0.78];

describe('kill -9 during a pipeline run', () => {
  it('ten kills of random stages, each restarted: the journal equals qt run\'s, no order twice', async () => {
    const rng = createRng(20261124n);
    const { got, kills } = await crashRun('crash', TEN_POINTS, (running) => running[Math.floor(rng.next() * running.length)]!);
    expect(kills).toHaveLength(10);
    console.log('crash figures', JSON.stringify({ kills, diff: journalDiff(want, got), rows: Object.values(got.tables).reduce((n, t) => n + t.length, 0) }));
    expect(journalDiff(want, got), kills.join(' ')).toEqual({});
    expect(got.duplicateOrders).toBe(0);
  }, 600_000);

  it('catches a journal that commits offsets before it writes: rows go missing', async () => {
    const { got, kills } = await crashRun('broken', TEN_POINTS.slice(0, 5), () => 'journal', { journal: ['--broken-commit-before-write', '--commit-every', '3000'] });
    const diff = journalDiff(want, got);
    const missing = Object.values(diff).reduce((n, x) => n + x.missing, 0);
    console.log('broken variant figures', JSON.stringify({ kills, diff }));
    expect(missing, `${kills.join(' ')} ${JSON.stringify(diff)}`).toBeGreaterThan(0);
  }, 600_000);
});
