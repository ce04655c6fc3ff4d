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
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_TOPICS, dlqOf } from '../../schemas/topics.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { CHAIN, Deployment, journalDiff, journalRows, runReference, watchSteps, type Scenario } from './deployment.ts';
import { committedOffsets, endOffsets, rawAdmin, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-parity-'));
/** Six synthetic symbols for six hours, with a lower confidence gate so that orders, fills and exits happen. */
export const PARITY_SCENARIO: Scenario = {
  market: ['--symbols', '6', '--from', '2025-01-06T00:00:00Z', '--to', '2025-01-06T06:00:00Z', '--seed', '7'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};

let mc: MockCluster;
let bus: KafkaBus;
let admin: Admin;
let deployment: Deployment | undefined;

beforeAll(async () => {
  mc = await startMockCluster();
  bus = testBus(mc);
  await bus.connect();
  admin = await rawAdmin(mc);
});

afterAll(async () => {
  deployment?.killAll();
  await admin?.disconnect();
  await bus?.close();
  await mc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** True once the journal's group has committed every record of every topic. */
async function journalCaughtUp(a: Admin): Promise<boolean> {
  for (const t of [...DATA_TOPICS, ...DATA_TOPICS.map((d) => dlqOf(d))]) {
    const [ends, committed] = await Promise.all([endOffsets(a, t), committedOffsets(a, 'qt.journal', t)]);
    if (ends.some((e, p) => e > 0 && committed[p]! < e)) return false;
  }
  return true;
}

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
    const d = (deployment = new Deployment(mc, PARITY_SCENARIO, journal));
    const steps = watchSteps(bus, 'qt-test.parity');
    await Promise.all([d.start('journal'), ...CHAIN.map((s) => d.start(s))]);
    const ingest = await d.start('ingest');
    expect(await ingest.exit, d.log()).toBe(0);
    await waitFor(() => CHAIN.every((s) => steps.done.has(s)), 240_000, `every stage's last step (${d.log()})`);
    const until = Date.now() + 60_000;
    while (!(await journalCaughtUp(admin))) {
      if (Date.now() > until) throw new Error(`the journal did not catch up: ${d.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const codes = await d.stopAll();
    expect(codes, d.log()).toEqual({ journal: 0, features: 0, ensemble: 0, brains: 0, risk: 0, execution: 0, exits: 0 });
    steps.sub.unsubscribe();

    const got = journalRows(journal);
    expect(journalDiff(want, got)).toEqual({});
    expect(got.duplicateOrders).toBe(0);
    for (const [t, rows] of Object.entries(want.tables)) expect(got.tables[t]!.length, t).toBe(rows.length);
  }, 420_000);
});
