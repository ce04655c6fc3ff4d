/**
 * Broker faults under a running deployment (the eight stages as processes, as in parity.test.ts): partition leaders
 * moved every 300 ms on the busy topics, one broker down for two seconds and up again, then another, and injected
 * request errors (not leader, timeouts, rebalance in progress). A stage that gives up on a fault exits non-zero and is
 * restarted at once, as a supervisor (compose's restart policy) would. The journal must equal `qt run`'s: nothing lost,
 * nothing added.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicConfig } from '../../schemas/topic-config.ts';
import { DATA_TOPICS, dlqOf, type TopicName } from '../../schemas/topics.ts';
import { CHAIN, Deployment, journalDiff, journalRows, openTestCluster, runReference, waitForEnd, watchSteps, type Scenario, type TestCluster } from './deployment.ts';
import { waitFor } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-faults-'));
const FROM = Date.UTC(2025, 0, 6);
const TO = FROM + 5 * 3_600_000;
const SCENARIO: Scenario = {
  market: ['--symbols', '5', '--from', new Date(FROM).toISOString(), '--to', new Date(TO).toISOString(), '--seed', '5'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};
const BUSY: readonly TopicName[] = ['md.trades.v1', 'md.bars.1m.v1', 'feat.vectors.v1', 'ens.signals.v1', 'brain.decisions.v1', 'risk.orders.v1', 'exec.orders.v1', 'pos.positions.v1', 'pipe.steps.v1'];

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

describe('broker faults under a running deployment', () => {
  it('leaders moved, brokers down and up, request errors: the journal still equals qt run\'s', async () => {
    runReference(SCENARIO, join(tmp, 'reference'));
    const want = journalRows(join(tmp, 'reference'));

    const d = (deployment = new Deployment(cluster.mc, SCENARIO, join(tmp, 'pipeline')));
    const steps = watchSteps(cluster.bus, 'qt-test.faults');
    await Promise.all([d.start('journal'), ...CHAIN.map((s) => d.start(s))]);
    await d.start('ingest');
    const progress = (): number => ((steps.last.get('exits')?.step ?? FROM) - FROM) / (TO - FROM);

    let done = false;
    const restarts: string[] = [];
    // The supervisor: a stage that exits non-zero is started again.
    const supervise = (async () => {
      while (!done) {
        const ingestDone = d.processes.some((p) => p.stage === 'ingest' && p.child.exitCode === 0);
        for (const stage of [...CHAIN, 'journal', ...(ingestDone ? [] : ['ingest'])]) {
          if (!d.running(stage) && !done) {
            restarts.push(stage);
            await d.start(stage).catch(() => undefined);
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    let moves = 0;
    const mover = (async () => {
      for (let i = 0; !done; i++) {
        const topic = BUSY[i % BUSY.length]!;
        await cluster.mc.leader(topic, (i * 7) % topicConfig(topic).partitions, 1 + ((i * 5) % 3));
        moves += 1;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      await waitFor(() => progress() >= 0.25, 240_000, `progress 0.25 (${d.log()})`);
      await cluster.mc.down(2);
      await new Promise((r) => setTimeout(r, 2_000));
      await cluster.mc.up(2);
      await waitFor(() => progress() >= 0.45, 240_000, `progress 0.45 (${d.log()})`);
      await cluster.mc.down(3);
      await new Promise((r) => setTimeout(r, 2_000));
      await cluster.mc.up(3);
      await waitFor(() => progress() >= 0.65, 240_000, `progress 0.65 (${d.log()})`);
      for (let i = 0; i < 4; i++) {
        await cluster.mc.errors('Produce', ['NOT_LEADER_FOR_PARTITION', 'REQUEST_TIMED_OUT']);
        await cluster.mc.errors('Fetch', ['NOT_LEADER_FOR_PARTITION', 'REQUEST_TIMED_OUT']);
        await cluster.mc.errors('OffsetCommit', ['REBALANCE_IN_PROGRESS', 'REQUEST_TIMED_OUT']);
        if (i === 1) await cluster.mc.errors('Heartbeat', ['REBALANCE_IN_PROGRESS']);
        await new Promise((r) => setTimeout(r, 500));
      }
      await waitForEnd(d, steps, cluster.admin, 300_000);
    } finally {
      done = true;
      await mover;
      await supervise;
    }
    const codes = await d.stopAll();
    for (const [stage, code] of Object.entries(codes)) expect(code, `${stage}\n${d.log()}`).toBe(0);
    steps.sub.unsubscribe();
    console.log('broker fault figures', JSON.stringify({ leaderMoves: moves, restarts, crashes: d.crashes() }));
    expect(moves).toBeGreaterThan(20);

    const got = journalRows(join(tmp, 'pipeline'));
    expect(journalDiff(want, got), restarts.join(' ')).toEqual({});
    expect(got.duplicateOrders).toBe(0);
  }, 600_000);
});
