import { describe, expect, it } from 'vitest';
import { TOPIC_LIST } from '../../schemas/topic-config.ts';
import { AdminConnectionError, AlterConfigsError, CreateTopicsError } from './admin.ts';
import { applyPlan, readCluster } from './apply.ts';
import { FakeTopicAdmin } from './fake-admin.ts';
import { desiredTopics, isEmptyPlan, planTopics, type TopicPlan } from './planner.ts';

const DESIRED = desiredTopics(TOPIC_LIST);

async function plan(admin: FakeTopicAdmin): Promise<TopicPlan> {
  const { actual, listed } = await readCluster(admin, DESIRED);
  return planTopics(DESIRED, actual, listed);
}

/** A fake cluster holding every topic of the file as it wants them. */
function syncedFake(): FakeTopicAdmin {
  const admin = new FakeTopicAdmin();
  for (const d of DESIRED) admin.seed(d.name, d.partitions, d.replicationFactor, d.config);
  return admin;
}

describe('readCluster', () => {
  it('describes the file\'s topics that exist and lists every topic', async () => {
    const admin = new FakeTopicAdmin().seed('md.trades.v1', 3, 1, { 'retention.ms': '1000' }).seed('other.topic.v1', 1, 1);
    const { actual, listed } = await readCluster(admin, DESIRED);
    expect([...listed].sort()).toEqual(['md.trades.v1', 'other.topic.v1']);
    expect(actual).toHaveLength(1);
    expect(actual[0]).toMatchObject({ name: 'md.trades.v1', partitions: 3, replicationFactor: 1 });
    expect(actual[0]!.config['retention.ms']).toEqual({ value: '1000', source: 'topic' });
    expect(actual[0]!.config['cleanup.policy']).toEqual({ value: 'delete', source: 'default' });
  });

  it('asks nothing more of an empty cluster', async () => {
    expect(await readCluster(new FakeTopicAdmin(), DESIRED)).toEqual({ actual: [], listed: [] });
  });
});

describe('applyPlan', () => {
  it('creates every topic on an empty cluster, after which the plan is empty (idempotent)', async () => {
    const admin = new FakeTopicAdmin();
    const first = await plan(admin);
    const result = await applyPlan(admin, first);
    expect(result.failed).toEqual([]);
    expect(result.done).toEqual(first.actions);
    expect(admin.calls).toHaveLength(DESIRED.length);
    expect(admin.topic('pos.positions.v1')).toEqual({
      partitions: 6,
      replicationFactor: 3,
      config: { 'min.insync.replicas': '2', 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': '86400000' },
    });
    const second = await plan(admin);
    expect(isEmptyPlan(second)).toBe(true);
    expect((await applyPlan(admin, second)).done).toEqual([]);
    expect(admin.calls).toHaveLength(DESIRED.length);
  });

  it('raises partitions and changes only the settings that differ, keeping the others', async () => {
    const admin = syncedFake()
      .seed('md.bars.1m.v1', 4, 3, { ...DESIRED[1]!.config, 'retention.ms': '1', 'max.message.bytes': '2097152' });
    const p = await plan(admin);
    const result = await applyPlan(admin, p);
    expect(result.done.map((a) => a.kind)).toEqual(['add-partitions', 'set-config']);
    expect(admin.calls).toEqual([
      { op: 'createPartitions', topic: 'md.bars.1m.v1', count: 12 },
      { op: 'alterConfigs', topic: 'md.bars.1m.v1', set: { 'retention.ms': '1209600000' } },
    ]);
    expect(admin.topic('md.bars.1m.v1')!.config['max.message.bytes']).toBe('2097152');
    expect(isEmptyPlan(await plan(admin))).toBe(true);
  });

  it('never acts on a refusal', async () => {
    const admin = syncedFake().seed('pos.equity.v1', 4, 3, DESIRED.find((d) => d.name === 'pos.equity.v1')!.config);
    const p = await plan(admin);
    expect(p.refusals).toHaveLength(1);
    const result = await applyPlan(admin, p);
    expect(result).toEqual({ done: [], failed: [], skipped: [] });
    expect(admin.calls).toEqual([]);
    expect(admin.topic('pos.equity.v1')!.partitions).toBe(4);
  });

  it('records a failed action with its error and goes on with the others', async () => {
    const admin = new FakeTopicAdmin({ brokers: 1 });
    const p = await plan(admin);
    const result = await applyPlan(admin, p);
    // Replication 3 on one broker: every creation fails on its own, named and not retriable.
    expect(result.done).toEqual([]);
    expect(result.failed).toHaveLength(DESIRED.length);
    for (const f of result.failed) {
      expect(f.error).toBeInstanceOf(CreateTopicsError);
      expect(f.error).toMatchObject({ code: 'INVALID_REPLICATION_FACTOR', retriable: false, topics: [f.action.topic] });
    }
  });

  it('goes on after one failure', async () => {
    const admin = syncedFake()
      .seed('md.trades.v1', 12, 3, { 'retention.ms': '1' })
      .seed('md.bars.1m.v1', 12, 3, { 'retention.ms': '1' })
      .failNext('alterConfigs', new AlterConfigsError('policy violation', ['md.trades.v1'], false, 'POLICY_VIOLATION'));
    const result = await applyPlan(admin, await plan(admin));
    expect(result.failed.map((f) => `${f.action.topic} ${f.error.name}`)).toEqual(['md.trades.v1 AlterConfigsError']);
    expect(result.done.map((a) => a.topic)).toEqual(['md.bars.1m.v1']);
  });

  it('skips the rest once the cluster is unreachable', async () => {
    const admin = new FakeTopicAdmin();
    const p = await plan(admin);
    admin.failNext('createTopics', new AdminConnectionError('connection lost', [], true));
    const result = await applyPlan(admin, p);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.error).toBeInstanceOf(AdminConnectionError);
    expect(result.skipped).toHaveLength(DESIRED.length - 1);
    expect(result.done).toEqual([]);
  });
});
