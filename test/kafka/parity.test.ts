/**
 * Parity: the eight stages as separate `qt pipeline` processes on librdkafka's mock cluster (3 brokers, replication
 * 3), fed the same market, write a journal whose FINAL contents equal those of `qt run` on that market, row for row in
 * every table (compared by a hash of every column of every row).
 *
 * Covered: the step protocol over Kafka between real processes (canonical order, fed-back topics, the ensemble's
 * micro-batches and inference), ingest and the journal as processes, the registry feed of the ensemble process, the
 * Confluent wire format without a registry. Not covered here: several replicas of one stage (each stage runs once),
 * a schema registry (registry.test.ts), crashes (crash.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN, Deployment, journalDiff, journalRows, openTestCluster, runReference, waitForEnd, watchSteps, type Scenario, type TestCluster } from './deployment.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-parity-'));
/** Six synthetic symbols for six hours, with a lower confidence gate so that orders, fills and exits happen. */
export const PARITY_SCENARIO: Scenario = {
  market: ['--symbols', '6', '--from', '2025-01-06T00:00:00Z', '--to', '2025-01-06T06:00:00Z', '--seed', '7'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};

let cluster: TestCluster;
let deployment: Deployment | undefined;

beforeAll(async () => {
  cluster = await openTestCluster();
});

afterAll(async () => {
  deployment?.killAll();
  await cluster?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('qt pipeline: eight processes on the mock cluster', () => {
  it('write the journal qt run writes on the same market', async () => {
    const reference = join(tmp, 'reference');
    runReference(PARITY_SCENARIO, reference);
    const want = journalRows(reference);
    // The scenario exercises the whole chain: orders, fills and exits, not only refusals.
    for (const t of ['feature_vectors', 'signals', 'decisions', 'orders', 'fills', 'positions', 'exit_events', 'pipeline_steps']) {
      expect(want.tables[t]!.length, t).toBeGreaterThan(0);
    }

    const journal = join(tmp, 'pipeline');
    const d = (deployment = new Deployment(cluster.mc, PARITY_SCENARIO, journal));
    const steps = watchSteps(cluster.bus, 'qt-test.parity');
    await Promise.all([d.start('journal'), ...CHAIN.map((s) => d.start(s))]);
    const ingest = await d.start('ingest');
    expect(await ingest.exit, d.log()).toBe(0);
    await waitForEnd(d, steps, cluster.admin, 240_000);
    const codes = await d.stopAll();
    expect(codes, d.log()).toEqual({ journal: 0, features: 0, ensemble: 0, brains: 0, risk: 0, execution: 0, exits: 0 });
    steps.sub.unsubscribe();

    const got = journalRows(journal);
    expect(journalDiff(want, got)).toEqual({});
    expect(got.duplicateOrders).toBe(0);
    for (const [t, rows] of Object.entries(want.tables)) expect(got.tables[t]!.length, t).toBe(rows.length);
  }, 420_000);
});
