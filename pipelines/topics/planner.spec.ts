import { describe, expect, it } from 'vitest';
import { TOPIC_LIST, type TopicList } from '../../schemas/topic-config.ts';
import type { ConfigValue } from './admin.ts';
import { desiredTopics, isEmptyPlan, planTopics, sameConfigValue, type ActualTopic, type DesiredTopic, type TopicAction } from './planner.ts';

const DESIRED = desiredTopics(TOPIC_LIST);

/** The cluster exactly as the file wants it: every setting set on the topic. */
function inSync(desired: readonly DesiredTopic[] = DESIRED): ActualTopic[] {
  return desired.map((d) => ({
    name: d.name,
    partitions: d.partitions,
    replicationFactor: d.replicationFactor,
    config: Object.fromEntries(Object.entries(d.config).map(([k, v]) => [k, { value: v, source: 'topic' } satisfies ConfigValue])),
  }));
}

function withTopic(actual: ActualTopic[], name: string, change: (t: ActualTopic) => ActualTopic): ActualTopic[] {
  return actual.map((t) => (t.name === name ? change(t) : t));
}

function setConfig(t: ActualTopic, key: string, v: ConfigValue | undefined): ActualTopic {
  const config = { ...t.config };
  if (v === undefined) delete config[key];
  else config[key] = v;
  return { ...t, config };
}

describe('desiredTopics', () => {
  it('takes every topic of deploy/kafka in file order, with the list\'s replication and min.insync.replicas', () => {
    expect(DESIRED.map((d) => d.name)).toEqual(TOPIC_LIST.topics.map((t) => t.name));
    for (const d of DESIRED) {
      expect(d.replicationFactor, d.name).toBe(3);
      expect(d.config['min.insync.replicas'], d.name).toBe('2');
    }
    const positions = DESIRED.find((d) => d.name === 'pos.positions.v1')!;
    expect(positions.partitions).toBe(6);
    expect(positions.config).toEqual({
      'min.insync.replicas': '2',
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'cleanup.policy': 'compact',
      'min.cleanable.dirty.ratio': '0.1',
      'segment.ms': '86400000',
    });
  });

  it('lets a topic set its own min.insync.replicas', () => {
    const base = TOPIC_LIST.topics[0]!;
    const list: TopicList = { replicationFactor: 5, minInsyncReplicas: 3, topics: [{ ...base, config: { ...base.config, 'min.insync.replicas': '4' } }] };
    expect(desiredTopics(list)).toEqual([{ name: base.name, partitions: base.partitions, replicationFactor: 5, config: { ...base.config, 'min.insync.replicas': '4' } }]);
  });
});

describe('planTopics', () => {
  it('creates every topic on an empty cluster, in file order, with partitions, replication and every setting', () => {
    const plan = planTopics(DESIRED, []);
    expect(plan.refusals).toEqual([]);
    expect(plan.inSync).toEqual([]);
    expect(plan.actions).toHaveLength(TOPIC_LIST.topics.length);
    expect(plan.actions.map((a) => a.kind)).toEqual(TOPIC_LIST.topics.map(() => 'create'));
    expect(plan.actions[0]).toEqual({
      kind: 'create',
      topic: 'md.trades.v1',
      partitions: 12,
      replicationFactor: 3,
      config: { 'min.insync.replicas': '2', 'retention.ms': '259200000', 'retention.bytes': '10737418240', 'cleanup.policy': 'delete' },
    });
    expect(isEmptyPlan(plan)).toBe(false);
  });

  it('has nothing to do when the cluster matches the file', () => {
    const plan = planTopics(DESIRED, inSync());
    expect(plan).toEqual({ actions: [], refusals: [], inSync: DESIRED.map((d) => d.name), unmanagedTopics: [], unmanagedConfig: [] });
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('creates only the missing topics', () => {
    const actual = inSync().filter((t) => t.name !== 'exit.events.v1' && t.name !== 'md.trades.v1.dlq');
    const plan = planTopics(DESIRED, actual);
    expect(plan.actions.map((a) => `${a.kind} ${a.topic}`)).toEqual(['create exit.events.v1', 'create md.trades.v1.dlq']);
    expect(plan.inSync).toHaveLength(DESIRED.length - 2);
  });

  it('adds partitions when the file asks for more', () => {
    const plan = planTopics(DESIRED, withTopic(inSync(), 'md.bars.1m.v1', (t) => ({ ...t, partitions: 4 })));
    expect(plan.actions).toEqual([{ kind: 'add-partitions', topic: 'md.bars.1m.v1', from: 4, to: 12 }]);
    expect(plan.refusals).toEqual([]);
    expect(plan.inSync).not.toContain('md.bars.1m.v1');
  });

  it('refuses to lower partitions, on purpose, and plans nothing for it', () => {
    const plan = planTopics(DESIRED, withTopic(inSync(), 'pos.equity.v1', (t) => ({ ...t, partitions: 3 })));
    expect(plan.actions).toEqual([]);
    expect(plan.refusals).toEqual([{ kind: 'partition-decrease', topic: 'pos.equity.v1', actual: 3, desired: 1 }]);
    expect(plan.inSync).not.toContain('pos.equity.v1');
    expect(isEmptyPlan(plan)).toBe(false);
  });

  it('refuses a replication change in either direction', () => {
    let actual = withTopic(inSync(), 'md.trades.v1', (t) => ({ ...t, replicationFactor: 1 }));
    actual = withTopic(actual, 'risk.orders.v1', (t) => ({ ...t, replicationFactor: 4 }));
    const plan = planTopics(DESIRED, actual);
    expect(plan.actions).toEqual([]);
    expect(plan.refusals).toEqual([
      { kind: 'replication-factor', topic: 'md.trades.v1', actual: 1, desired: 3 },
      { kind: 'replication-factor', topic: 'risk.orders.v1', actual: 4, desired: 3 },
    ]);
  });

  it('sets retention.ms, retention.bytes and cleanup.policy when they differ, saying what they were', () => {
    let actual = withTopic(inSync(), 'md.trades.v1', (t) => setConfig(t, 'retention.ms', { value: '86400000', source: 'topic' }));
    actual = withTopic(actual, 'md.trades.v1', (t) => setConfig(t, 'retention.bytes', { value: '-1', source: 'default' }));
    actual = withTopic(actual, 'pos.positions.v1', (t) => setConfig(t, 'cleanup.policy', { value: 'delete', source: 'topic' }));
    const plan = planTopics(DESIRED, actual);
    expect(plan.actions).toEqual([
      {
        kind: 'set-config',
        topic: 'md.trades.v1',
        changes: [
          { key: 'retention.ms', from: '86400000', fromSource: 'topic', to: '259200000' },
          { key: 'retention.bytes', from: '-1', fromSource: 'default', to: '10737418240' },
        ],
      },
      { kind: 'set-config', topic: 'pos.positions.v1', changes: [{ key: 'cleanup.policy', from: 'delete', fromSource: 'topic', to: 'compact' }] },
    ]);
  });

  it('sets every other key of the file too, and a key the cluster did not report', () => {
    let actual = withTopic(inSync(), 'pos.positions.v1', (t) => setConfig(t, 'min.cleanable.dirty.ratio', { value: '0.5', source: 'default' }));
    actual = withTopic(actual, 'pos.positions.v1', (t) => setConfig(t, 'segment.ms', undefined));
    actual = withTopic(actual, 'exec.fills.v1', (t) => setConfig(t, 'min.insync.replicas', { value: '1', source: 'broker' }));
    const plan = planTopics(DESIRED, actual);
    expect(plan.actions).toEqual([
      { kind: 'set-config', topic: 'exec.fills.v1', changes: [{ key: 'min.insync.replicas', from: '1', fromSource: 'broker', to: '2' }] },
      {
        kind: 'set-config',
        topic: 'pos.positions.v1',
        changes: [
          { key: 'min.cleanable.dirty.ratio', from: '0.5', fromSource: 'default', to: '0.1' },
          { key: 'segment.ms', from: undefined, fromSource: undefined, to: '86400000' },
        ],
      },
    ]);
  });

  it('pins a value equal to the file that only comes from a default, so a changed broker default cannot move it', () => {
    const actual = withTopic(inSync(), 'feat.vectors.v1', (t) => setConfig(t, 'retention.ms', { value: '604800000', source: 'default' }));
    expect(planTopics(DESIRED, actual).actions).toEqual([
      { kind: 'set-config', topic: 'feat.vectors.v1', changes: [{ key: 'retention.ms', from: '604800000', fromSource: 'default', to: '604800000' }] },
    ]);
  });

  it('treats a hidden value as different', () => {
    const actual = withTopic(inSync(), 'md.trades.v1', (t) => setConfig(t, 'retention.ms', { value: null, source: 'topic' }));
    expect(planTopics(DESIRED, actual).actions).toEqual([
      { kind: 'set-config', topic: 'md.trades.v1', changes: [{ key: 'retention.ms', from: null, fromSource: 'topic', to: '259200000' }] },
    ]);
  });

  it('accepts equal values written differently', () => {
    let actual = withTopic(inSync(), 'pos.positions.v1', (t) => setConfig(t, 'min.cleanable.dirty.ratio', { value: '0.10', source: 'topic' }));
    actual = withTopic(actual, 'pos.positions.v1', (t) => setConfig(t, 'cleanup.policy', { value: ' compact', source: 'topic' }));
    expect(isEmptyPlan(planTopics(DESIRED, actual))).toBe(true);
  });

  it('orders a topic\'s partition increase before its settings and combines them with refusals elsewhere', () => {
    let actual = withTopic(inSync(), 'md.bars.1m.v1', (t) => setConfig({ ...t, partitions: 6 }, 'retention.ms', { value: '1', source: 'topic' }));
    actual = withTopic(actual, 'eval.metrics.v1', (t) => ({ ...t, partitions: 2 }));
    const plan = planTopics(DESIRED, actual.filter((t) => t.name !== 'eval.metrics.v1.dlq'));
    expect(plan.actions.map((a: TopicAction) => `${a.kind} ${a.topic}`)).toEqual(['add-partitions md.bars.1m.v1', 'set-config md.bars.1m.v1', 'create eval.metrics.v1.dlq']);
    expect(plan.refusals.map((r) => `${r.kind} ${r.topic}`)).toEqual(['partition-decrease eval.metrics.v1']);
    expect(plan.inSync).toHaveLength(DESIRED.length - 3);
  });

  it('reports topics and topic settings the file does not know, leaving them alone', () => {
    const actual = withTopic(inSync(), 'md.trades.v1', (t) => setConfig(t, 'max.message.bytes', { value: '2097152', source: 'topic' }));
    const listed = [...actual.map((t) => t.name), 'legacy.ticks.v0', '__consumer_offsets', '_schemas', 'md.trades.v2'];
    const plan = planTopics(DESIRED, withTopic(actual, 'md.trades.v1', (t) => setConfig(t, 'compression.type', { value: 'producer', source: 'default' })), listed);
    expect(plan.actions).toEqual([]);
    expect(plan.unmanagedTopics).toEqual(['legacy.ticks.v0', 'md.trades.v2']);
    expect(plan.unmanagedConfig).toEqual([{ topic: 'md.trades.v1', key: 'max.message.bytes', value: '2097152' }]);
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('is pure: the same inputs give the same plan and the inputs are not changed', () => {
    const actual = withTopic(inSync(), 'md.bars.1m.v1', (t) => ({ ...t, partitions: 4 }));
    const before = JSON.stringify([DESIRED, actual]);
    expect(planTopics(DESIRED, actual)).toEqual(planTopics(DESIRED, actual));
    expect(JSON.stringify([DESIRED, actual])).toBe(before);
  });
});

describe('sameConfigValue', () => {
  it.each([
    ['604800000', '604800000', true],
    ['604800000', '604800001', false],
    ['9223372036854775807', '9223372036854775807', true],
    // Past 2^53 a Number comparison would call these equal.
    ['9223372036854775807', '9223372036854775806', false],
    ['0.1', '0.10', true],
    ['0.1', '0.2', false],
    ['1e3', '1000', true],
    ['delete,compact', 'compact,delete', true],
    ['compact, delete', 'compact,delete', true],
    ['compact', 'compact,delete', false],
    ['TRUE', 'true', true],
    ['producer', 'gzip', false],
    ['-1', '-1', true],
  ])('%s vs %s -> %s', (a, b, same) => {
    expect(sameConfigValue(a, b)).toBe(same);
    expect(sameConfigValue(b, a)).toBe(same);
  });
});
