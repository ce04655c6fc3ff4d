/**
 * Names, keys, retention and partitioning per topic type in deploy/kafka/topics.json, beyond what
 * schemas/topic-config.spec.ts checks (the name pattern, one .dlq per data topic, schemas, md/feat and audit retention,
 * which topic is compacted).
 */
import { describe, expect, it } from 'vitest';
import { TOPIC_CONFIGS, topicConfig } from '../../schemas/topic-config.ts';
import { DATA_TOPICS, isDlqTopic, type DataTopic } from '../../schemas/topics.ts';
import { STAGES } from '../stages.ts';
import { copartitionGaps, INSTRUMENT_KEY, KAFKA_TOPIC_CONFIG_KEYS } from './kafka-configs.ts';

const DAY = 86_400_000;
const data = TOPIC_CONFIGS.filter((t) => !isDlqTopic(t.name));
const dlq = TOPIC_CONFIGS.filter((t) => isDlqTopic(t.name));

/** Data topics not keyed by instrument, and why: their messages are about something else than one market. */
const KEY_EXCEPTIONS: Readonly<Partial<Record<DataTopic, string>>> = {
  'pos.equity.v1': 'account', // equity is per account, across instruments
  'ens.supervisor.v1': 'scope', // checks on the ensemble or one member
  'model.registry.v1': 'member', // registry changes per ensemble member
  'model.learning.v1': 'member', // learning steps per member
  'eval.metrics.v1': 'runId', // one evaluation run's scores together
  'pipe.steps.v1': 'stage', // a stage's progress, across instruments
};

/**
 * Stages whose instrument inputs are not co-partitioned in the file today (see copartitionGaps): reported to be fixed
 * in deploy/kafka/topics.json. Remove an entry once its partition counts agree; a new gap fails the test.
 */
const KNOWN_COPARTITION_GAPS = ['brains', 'execution', 'exits'];

describe('topic conventions', () => {
  it('keys data topics by exchange:symbol, except the documented ones', () => {
    for (const t of data) {
      const exception = KEY_EXCEPTIONS[t.name as DataTopic];
      expect(t.key, t.name).toBe(exception ?? INSTRUMENT_KEY);
    }
    for (const name of Object.keys(KEY_EXCEPTIONS)) expect(DATA_TOPICS, name).toContain(name);
  });

  it('names each data topic after its record\'s namespace: <domain>.… carries qt.<domain>.<Record>', () => {
    for (const t of data) expect(t.schema.split('.').slice(0, 2).join('.'), t.name).toBe(`qt.${t.name.split('.')[0]}`);
  });

  it('ends every data topic name in the version it carries and keeps one version per entity', () => {
    const entities = data.map((t) => t.name.replace(/\.v[0-9]+$/, ''));
    expect(new Set(entities).size).toBe(entities.length);
  });

  it('keys dead letters by the source key, keeps them 7 to 90 days and bounded in bytes, in one partition', () => {
    for (const t of dlq) {
      expect(t.key, t.name).toBe('source key');
      expect(t.retentionMs, t.name).toBeGreaterThanOrEqual(7 * DAY);
      expect(t.retentionMs, t.name).toBeLessThanOrEqual(90 * DAY);
      expect(t.retentionBytes, t.name).toBeGreaterThan(0);
      expect(t.partitions, t.name).toBe(1);
      expect(t.doc, t.name).toContain(t.name.replace(/\.dlq$/, ''));
    }
  });

  it('keeps a compacted topic forever and lets the cleaner run often enough to keep it small', () => {
    const compacted = TOPIC_CONFIGS.filter((t) => t.cleanupPolicy.includes('compact'));
    expect(compacted.length).toBeGreaterThan(0);
    for (const t of compacted) {
      // compact,delete would drop the latest state of a quiet instrument after retention.ms.
      expect(t.cleanupPolicy, t.name).toBe('compact');
      expect(t.retentionMs, t.name).toBe(-1);
      expect(t.retentionBytes, t.name).toBe(-1);
      expect(Number(t.config['min.cleanable.dirty.ratio']), t.name).toBeLessThanOrEqual(0.5);
      expect(Number(t.config['segment.ms']), t.name).toBeLessThanOrEqual(7 * DAY);
      expect(t.key, t.name).toBe(INSTRUMENT_KEY);
    }
  });

  it('bounds by bytes every topic that expires by time', () => {
    for (const t of data.filter((x) => x.retentionMs !== -1 && x.retentionMs < 31 * DAY)) {
      expect(t.retentionBytes, t.name).toBeGreaterThan(0);
    }
  });

  it('keeps the control topics (registry, learning, evaluation) forever: they are the audit trail of the models', () => {
    for (const n of ['model.registry.v1', 'model.learning.v1', 'eval.metrics.v1'] as const) expect(topicConfig(n).retentionMs, n).toBe(-1);
  });

  it('uses only settings Kafka has', () => {
    for (const t of TOPIC_CONFIGS) for (const k of Object.keys(t.config)) expect(KAFKA_TOPIC_CONFIG_KEYS.has(k), `${t.name}: ${k}`).toBe(true);
  });

  it('co-partitions the instrument inputs of each joining stage, but for the known gaps', () => {
    const joining = STAGES.filter((s) => s.name !== 'journal');
    const gaps = copartitionGaps(joining, TOPIC_CONFIGS);
    expect(gaps.map((g) => g.stage)).toEqual(KNOWN_COPARTITION_GAPS);
  });
});

describe('copartitionGaps', () => {
  const topic = (name: string, partitions: number, key = INSTRUMENT_KEY): { name: string; key: string; partitions: number } => ({ name, key, partitions });

  it('names a stage whose instrument inputs differ in partitions, and only instrument inputs count', () => {
    const topics = [topic('a.x.v1', 12), topic('a.y.v1', 6), topic('a.z.v1', 12), topic('acct.v1', 1, 'account')];
    expect(copartitionGaps([{ name: 's1', inputs: ['a.x.v1', 'a.z.v1', 'acct.v1'] }, { name: 's2', inputs: ['a.x.v1', 'a.y.v1'] }], topics)).toEqual([
      { stage: 's2', topics: [{ name: 'a.x.v1', partitions: 12 }, { name: 'a.y.v1', partitions: 6 }] },
    ]);
    expect(copartitionGaps([{ name: 's', inputs: [] }], topics)).toEqual([]);
  });
});
