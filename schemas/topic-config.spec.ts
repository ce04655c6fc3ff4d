import { describe, expect, it } from 'vitest';
import raw from '../deploy/kafka/topics.json' with { type: 'json' };
import { parseTopicList, TOPIC_CONFIGS, TOPIC_LIST, TOPIC_NAME_PATTERN, TopicConfigError, topicConfig } from './topic-config.ts';
import { DATA_TOPIC_SCHEMAS, DATA_TOPICS, dlqOf, isDlqTopic, type DataTopic, type TopicName } from './topics.ts';

const DAY = 86_400_000;
const names = TOPIC_CONFIGS.map((t) => t.name);
const dataEntries = TOPIC_CONFIGS.filter((t) => !isDlqTopic(t.name));

describe('deploy/kafka/topics.json against schemas/topics.ts', () => {
  it('has an entry for every data topic and a .dlq for each, and nothing else', () => {
    const expected = [...DATA_TOPICS, ...DATA_TOPICS.map(dlqOf)];
    expect([...names].sort()).toEqual([...expected].sort());
    expect(new Set(names).size).toBe(names.length);
  });

  it('names the record of each data topic as its schema', () => {
    for (const t of dataEntries) expect(t.schema, t.name).toBe(DATA_TOPIC_SCHEMAS[t.name as DataTopic].name);
  });

  it('carries qt.dlq.DeadLetter on every dead-letter topic', () => {
    for (const t of TOPIC_CONFIGS.filter((c) => isDlqTopic(c.name))) expect(t.schema, t.name).toBe('qt.dlq.DeadLetter');
  });

  it('names topics <domain>.<entity>[.<qualifier>].v<N>[.dlq]', () => {
    for (const n of names) expect(n).toMatch(TOPIC_NAME_PATTERN);
    // The pattern itself, checked on names built by hand.
    for (const ok of ['md.trades.v1', 'md.bars.1m.v1', 'md.bars.1m.v12.dlq']) expect(ok).toMatch(TOPIC_NAME_PATTERN);
    for (const bad of ['md.trades', 'Md.trades.v1', 'md.trades.v0', 'md.bars.1m.x.v1', 'md_trades.v1', 'md.trades.v1.DLQ']) {
      expect(bad).not.toMatch(TOPIC_NAME_PATTERN);
    }
  });

  it('keeps market data and features between 1 and 30 days', () => {
    const md = dataEntries.filter((t) => t.name.startsWith('md.') || t.name.startsWith('feat.'));
    expect(md.map((t) => t.name).sort()).toEqual(['feat.vectors.v1', 'md.bars.1m.v1', 'md.trades.v1']);
    for (const t of md) {
      expect(t.retentionMs, t.name).toBeGreaterThanOrEqual(DAY);
      expect(t.retentionMs, t.name).toBeLessThanOrEqual(30 * DAY);
    }
  });

  it('keeps decisions, orders, fills and exits at least 180 days or forever', () => {
    const audit: TopicName[] = ['brain.decisions.v1', 'risk.orders.v1', 'exec.orders.v1', 'exec.fills.v1', 'exit.events.v1'];
    for (const n of audit) {
      const ms = topicConfig(n).retentionMs;
      expect(ms === -1 || ms >= 180 * DAY, `${n}: ${ms}`).toBe(true);
    }
  });

  it('compacts pos.positions.v1 and deletes the others', () => {
    expect(topicConfig('pos.positions.v1').cleanupPolicy).toBe('compact');
    for (const t of TOPIC_CONFIGS.filter((c) => c.name !== 'pos.positions.v1')) expect(t.cleanupPolicy, t.name).toBe('delete');
  });

  it('fixes a positive integer partition count per topic, one for the single-account equity topic', () => {
    for (const t of TOPIC_CONFIGS) expect(Number.isInteger(t.partitions) && t.partitions > 0, t.name).toBe(true);
    expect(topicConfig('pos.equity.v1').partitions).toBe(1);
  });

  it('reads retention as numbers and keeps every Kafka setting as written', () => {
    const trades = topicConfig('md.trades.v1');
    expect(trades.retentionMs).toBe(3 * DAY);
    expect(trades.retentionBytes).toBe(10 * 1024 ** 3);
    expect(topicConfig('risk.orders.v1').retentionBytes).toBe(-1);
    const positions = topicConfig('pos.positions.v1');
    expect(positions.config['min.cleanable.dirty.ratio']).toBe('0.1');
    expect(positions.retentionMs).toBe(-1);
    expect(TOPIC_LIST.replicationFactor).toBe(3);
    expect(TOPIC_LIST.minInsyncReplicas).toBe(2);
  });

  it('throws for a topic it does not know', () => {
    expect(() => topicConfig('md.quotes.v1' as TopicName)).toThrow(TopicConfigError);
  });
});

describe('parseTopicList', () => {
  const clone = () => structuredClone(raw) as { topics: Array<Record<string, unknown> & { config: Record<string, string> }> };

  it('accepts the file and applies Kafka defaults for unset settings', () => {
    const list = clone();
    list.topics[0]!.config = {};
    const t = parseTopicList(list).topics[0]!;
    expect(t).toMatchObject({ retentionMs: 7 * DAY, retentionBytes: -1, cleanupPolicy: 'delete' });
  });

  it('normalises "delete,compact" to "compact,delete"', () => {
    const list = clone();
    list.topics[0]!.config['cleanup.policy'] = 'delete, compact';
    expect(parseTopicList(list).topics[0]!.cleanupPolicy).toBe('compact,delete');
  });

  it('reports every problem at once', () => {
    const list = clone();
    list.topics[0]!.partitions = 0;
    list.topics[1]!.schema = 'qt.md.Trade';
    list.topics[2]!.config['retention.ms'] = '7d';
    list.topics[3]!.config['cleanup.policy'] = 'archive';
    list.topics[4]!.name = 'ens.signals.v2';
    let err: TopicConfigError | undefined;
    try {
      parseTopicList(list);
    } catch (e) {
      err = e as TopicConfigError;
    }
    expect(err).toBeInstanceOf(TopicConfigError);
    expect(err!.retriable).toBe(false);
    const problems = err!.problems;
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^topics\.0\.partitions: /);
    expect(problems[1]).toBe('topics.1.schema: qt.md.Trade is not qt.md.Bar, the record of md.bars.1m.v1');
    expect(problems[2]).toMatch(/^topics\.2\.config\.retention\.ms \(feat\.vectors\.v1\): /);
    expect(problems[3]).toMatch(/^topics\.3\.config\.cleanup\.policy \(model\.votes\.v1\): /);
    expect(problems[4]).toBe('topics.4.name: ens.signals.v2 is not a topic of schemas/topics.ts');
    expect(err!.message).toContain(problems[4]);
  });

  it('refuses a list without topics or cluster settings', () => {
    expect(() => parseTopicList({ topics: [] })).toThrow(TopicConfigError);
  });

  it('reports a bad retention.bytes and a duplicate topic', () => {
    const list = clone();
    list.topics[5]!.config['retention.bytes'] = '-2';
    list.topics.push(structuredClone(list.topics[0]!));
    let err: TopicConfigError | undefined;
    try {
      parseTopicList(list);
    } catch (e) {
      err = e as TopicConfigError;
    }
    expect(err?.problems).toEqual([
      expect.stringMatching(/^topics\.5\.config\.retention\.bytes \(brain\.decisions\.v1\): .*>= -1/),
      `topics.${list.topics.length - 1}.name: duplicate topic md.trades.v1`,
    ]);
  });
});
