/**
 * Parity: the eight stages as separate `qt pipeline` processes on librdkafka's mock cluster (3 brokers, replication
 * 3), fed the same market, write a journal whose FINAL contents equal those of `qt run` on that market, row for row in
 * every table (compared by a hash of every column of every row).
 *
 * Covered: the step protocol over Kafka between real processes (canonical order, fed-back topics, the ensemble's
 * micro-batches and inference), ingest and the journal as processes, the registry feed of the ensemble process, the
 * Confluent wire format without a registry; and the same with features run as two replicas and exits as three, each
 * processing its share of the symbols (the steps table is compared per stage and step, as the union of the replicas'
 * marks). Not covered here: several journals (embedded ClickHouse keeps one data folder per process; replicas of the
 * journal share group qt.journal and need the ClickHouse server), a schema registry (registry.test.ts), crashes
 * (crash.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN, Deployment, journalDiff, journalRows, openTestCluster, runReference, waitForEnd, watchSteps, type JournalRows, type Scenario, type TestCluster } from './deployment.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-parity-'));
/** Six synthetic symbols for six hours, with a lower confidence gate so that orders, fills and exits happen. */
export const PARITY_SCENARIO: Scenario = {
  market: ['--symbols', '6', '--from', '2025-01-06T00:00:00Z', '--to', '2025-01-06T06:00:00Z', '--seed', '7'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};

let cluster: TestCluster | undefined;
let deployment: Deployment | undefined;
let want: JournalRows;

beforeAll(() => {
  const reference = join(tmp, 'reference');
  runReference(PARITY_SCENARIO, reference);
  want = journalRows(reference);
}, 180_000);

afterEach(async () => {
  deployment?.killAll();
  await cluster?.close();
  cluster = undefined;
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the processes (the chain's stages by name, `stage#i/n` for a replica) on a fresh cluster; returns the journal's rows. */
async function deploy(name: string, chain: readonly string[]): Promise<{ rows: JournalRows; marked: Map<string, number> }> {
  const c = (cluster = await openTestCluster());
  const journal = join(tmp, name);
  const d = (deployment = new Deployment(c.mc, PARITY_SCENARIO, journal));
  const steps = watchSteps(c.bus, `qt-test.${name}`);
  await Promise.all([d.start('journal'), ...chain.map((s) => d.start(s))]);
  const ingest = await d.start('ingest');
  expect(await ingest.exit, d.log()).toBe(0);
  await waitForEnd(d, steps, c.admin, 240_000);
  const codes = await d.stopAll();
  expect(codes, d.log()).toEqual(Object.fromEntries(['journal', ...chain].map((s) => [s, 0])));
  steps.sub.unsubscribe();
  return { rows: journalRows(journal), marked: steps.records };
}

/** Asserts that a deployment's journal equals the reference, table by table and row by row. */
function expectReference(got: JournalRows): void {
  expect(journalDiff(want, got)).toEqual({});
  expect(got.duplicateOrders).toBe(0);
  for (const [t, rows] of Object.entries(want.tables)) expect(got.tables[t]!.length, t).toBe(rows.length);
}

describe('qt pipeline: eight processes on the mock cluster', () => {
  it('write the journal qt run writes on the same market', async () => {
    // The scenario exercises the whole chain: orders, fills and exits, not only refusals.
    for (const t of ['feature_vectors', 'signals', 'decisions', 'orders', 'fills', 'positions', 'exit_events', 'pipeline_steps']) {
      expect(want.tables[t]!.length, t).toBeGreaterThan(0);
    }
    expectReference((await deploy('pipeline', CHAIN)).rows);
  }, 420_000);

  it('write it too with features as two replicas and exits as three', async () => {
    const chain = CHAIN.flatMap((s) => (s === 'features' ? ['features#0/2', 'features#1/2'] : s === 'exits' ? ['exits#0/3', 'exits#1/3', 'exits#2/3'] : [s]));
    const { rows, marked } = await deploy('replicas', chain);
    expectReference(rows);
    // Each replica marked its own parts; the six symbols fall in parts 1, 4, 6, 9 and 10, so both features replicas
    // had vectors to publish, and exits 0/3 and 1/3 their symbols (2/3 owns none of them and marks empty steps).
    const features = [...marked].filter(([who]) => who.startsWith('features '));
    expect(features.map(([who]) => who).sort()).toEqual(['features 0,2,4,6,8,10', 'features 1,3,5,7,9,11']);
    for (const [who, n] of features) expect(n, who).toBeGreaterThan(0);
    expect([...marked.keys()].filter((who) => who.startsWith('exits ')).sort()).toEqual(['exits 0,3,6,9', 'exits 1,4,7,10', 'exits 2,5,8,11']);
  }, 420_000);
});
