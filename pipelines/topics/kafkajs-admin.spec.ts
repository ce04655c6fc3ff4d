/**
 * The kafkajs adapter against FakeKafkajsAdmin, a stand-in for kafkajs's Admin that answers with kafkajs's own shapes
 * (metadata, DescribeConfigs entries with their protocol source, kafkajs error classes) and records the requests.
 * Not covered: kafkajs's wire protocol and a real broker's answers (no Kafka broker with a controller runs here; the
 * librdkafka mock cluster lacks the admin calls that need one); connecting is covered against a closed port.
 */
import { createServer } from 'node:net';
import kafkajs, { type ConfigEntries, type DescribeConfigResponse, type ITopicConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { AdminConnectionError, AlterConfigsError, CreatePartitionsError, CreateTopicsError, DescribeConfigsError, DescribeTopicsError, ListTopicsError } from './admin.ts';
import { connectKafkajsAdmin, KafkajsTopicAdmin, translateKafkajsError, type KafkajsAdminClient } from './kafkajs-admin.ts';

type Entry = Pick<ConfigEntries, 'configName' | 'configValue' | 'configSource' | 'isDefault' | 'isSensitive'>;

/** Records kafkajs admin requests and answers them from a small table of topics. */
class FakeKafkajsAdmin implements KafkajsAdminClient {
  readonly requests: { op: string; arg: unknown }[] = [];
  createAnswer = true;
  fail: Partial<Record<string, Error>> = {};

  constructor(
    readonly topics: Record<string, { replicas: number[][]; entries: Entry[] }>,
    private readonly describeError?: { topic: string; errorCode: number; errorMessage: string },
  ) {}

  private record(op: string, arg: unknown): void {
    this.requests.push({ op, arg });
    const e = this.fail[op];
    if (e) throw e;
  }

  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {
    this.requests.push({ op: 'disconnect', arg: undefined });
  }
  async listTopics(): Promise<string[]> {
    this.record('listTopics', undefined);
    return Object.keys(this.topics);
  }
  async fetchTopicMetadata(opts?: { topics: string[] }) {
    this.record('fetchTopicMetadata', opts);
    return {
      topics: (opts?.topics ?? []).filter((t) => t in this.topics).map((name) => ({
        name,
        partitions: this.topics[name]!.replicas.map((replicas, partitionId) => ({ partitionId, leader: replicas[0]!, replicas, isr: replicas, partitionErrorCode: 0, offlineReplicas: [] })),
      })),
    };
  }
  async describeConfigs(req: Parameters<KafkajsAdminClient['describeConfigs']>[0]): Promise<DescribeConfigResponse> {
    this.record('describeConfigs', req);
    return {
      throttleTime: 0,
      resources: req.resources.map((r) => {
        const err = this.describeError?.topic === r.name ? this.describeError : undefined;
        return {
          resourceName: r.name,
          resourceType: r.type,
          errorCode: err?.errorCode ?? 0,
          errorMessage: err?.errorMessage ?? '',
          configEntries: (this.topics[r.name]?.entries ?? []).map((e) => ({ ...e, readOnly: false, configSynonyms: [] })),
        };
      }),
    };
  }
  async createTopics(req: { topics: ITopicConfig[]; timeout?: number; waitForLeaders?: boolean }): Promise<boolean> {
    this.record('createTopics', req);
    return this.createAnswer;
  }
  async createPartitions(req: Parameters<KafkajsAdminClient['createPartitions']>[0]): Promise<boolean> {
    this.record('createPartitions', req);
    return true;
  }
  async alterConfigs(req: Parameters<KafkajsAdminClient['alterConfigs']>[0]): Promise<unknown> {
    this.record('alterConfigs', req);
    return { resources: [] };
  }
}

const TOPIC_CONFIG = kafkajs.ConfigSource.TOPIC_CONFIG;
const DEFAULT_CONFIG = kafkajs.ConfigSource.DEFAULT_CONFIG;
const STATIC_BROKER = kafkajs.ConfigSource.STATIC_BROKER_CONFIG;

const entry = (configName: string, configValue: string, configSource: number, isSensitive = false): Entry => ({
  configName,
  configValue,
  configSource,
  isDefault: configSource === DEFAULT_CONFIG,
  isSensitive,
});

function fixture(): FakeKafkajsAdmin {
  return new FakeKafkajsAdmin({
    'md.trades.v1': {
      replicas: [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 2, 3]],
      entries: [
        entry('retention.ms', '259200000', TOPIC_CONFIG),
        entry('max.message.bytes', '2097152', TOPIC_CONFIG),
        entry('cleanup.policy', 'delete', DEFAULT_CONFIG),
        entry('min.insync.replicas', '2', STATIC_BROKER),
      ],
    },
    'pos.equity.v1': { replicas: [[1]], entries: [entry('retention.ms', '-1', TOPIC_CONFIG)] },
  });
}

describe('KafkajsTopicAdmin', () => {
  it('lists topics and describes partitions and replication from metadata', async () => {
    const admin = new KafkajsTopicAdmin(fixture());
    expect(await admin.listTopics()).toEqual(['md.trades.v1', 'pos.equity.v1']);
    expect(await admin.describeTopics(['md.trades.v1', 'pos.equity.v1'])).toEqual([
      { name: 'md.trades.v1', partitions: 4, replicationFactor: 3 },
      { name: 'pos.equity.v1', partitions: 1, replicationFactor: 1 },
    ]);
  });

  it('refuses to describe a topic the cluster does not have', async () => {
    const err = await new KafkajsTopicAdmin(fixture()).describeTopics(['nope.topic.v1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DescribeTopicsError);
    expect(err).toMatchObject({ topics: ['nope.topic.v1'], code: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: false });
  });

  it('reads settings with where they come from', async () => {
    const k = fixture();
    const configs = await new KafkajsTopicAdmin(k).describeConfigs(['md.trades.v1']);
    expect(configs.get('md.trades.v1')).toEqual({
      'retention.ms': { value: '259200000', source: 'topic' },
      'max.message.bytes': { value: '2097152', source: 'topic' },
      'cleanup.policy': { value: 'delete', source: 'default' },
      'min.insync.replicas': { value: '2', source: 'broker' },
    });
    expect(k.requests[0]).toEqual({ op: 'describeConfigs', arg: { resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: 'md.trades.v1' }], includeSynonyms: false } });
  });

  it('hides a sensitive value and turns a per-resource error code into DescribeConfigsError', async () => {
    const k = new FakeKafkajsAdmin({ a: { replicas: [[1]], entries: [entry('secret.thing', 'x', TOPIC_CONFIG, true)] } });
    expect((await new KafkajsTopicAdmin(k).describeConfigs(['a'])).get('a')).toEqual({ 'secret.thing': { value: null, source: 'topic' } });
    const bad = new FakeKafkajsAdmin({ a: { replicas: [[1]], entries: [] } }, { topic: 'a', errorCode: 3, errorMessage: 'unknown topic' });
    const err = await new KafkajsTopicAdmin(bad).describeConfigs(['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DescribeConfigsError);
    expect((err as Error).message).toContain('unknown topic');
  });

  it('creates topics with partitions, replication and settings, waiting for leaders', async () => {
    const k = fixture();
    await new KafkajsTopicAdmin(k, { timeoutMs: 1234 }).createTopics([{ name: 'x.y.v1', partitions: 6, replicationFactor: 3, config: { 'retention.ms': '1', 'cleanup.policy': 'compact' } }]);
    expect(k.requests).toEqual([
      {
        op: 'createTopics',
        arg: {
          timeout: 1234,
          waitForLeaders: true,
          topics: [{ topic: 'x.y.v1', numPartitions: 6, replicationFactor: 3, configEntries: [{ name: 'retention.ms', value: '1' }, { name: 'cleanup.policy', value: 'compact' }] }],
        },
      },
    ]);
  });

  it('reports a topic that exists already (kafkajs answers false) as CreateTopicsError', async () => {
    const k = fixture();
    k.createAnswer = false;
    const err = await new KafkajsTopicAdmin(k).createTopics([{ name: 'md.trades.v1', partitions: 1, replicationFactor: 1, config: {} }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CreateTopicsError);
    expect(err).toMatchObject({ code: 'TOPIC_ALREADY_EXISTS', retriable: false });
  });

  it('raises partitions with one request', async () => {
    const k = fixture();
    await new KafkajsTopicAdmin(k, { timeoutMs: 99 }).createPartitions('md.trades.v1', 12);
    expect(k.requests).toEqual([{ op: 'createPartitions', arg: { timeout: 99, topicPartitions: [{ topic: 'md.trades.v1', count: 12 }] } }]);
  });

  it('alters settings incrementally: the topic\'s own settings are written back with the change, defaults are not', async () => {
    const k = fixture();
    await new KafkajsTopicAdmin(k).alterConfigs('md.trades.v1', { 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    const alter = k.requests.find((r) => r.op === 'alterConfigs')!.arg as Parameters<KafkajsAdminClient['alterConfigs']>[0];
    expect(alter.validateOnly).toBe(false);
    expect(alter.resources).toHaveLength(1);
    expect(alter.resources[0]!.name).toBe('md.trades.v1');
    expect(alter.resources[0]!.type).toBe(kafkajs.ConfigResourceTypes.TOPIC);
    expect(Object.fromEntries(alter.resources[0]!.configEntries.map((e) => [e.name, e.value]))).toEqual({
      'retention.ms': '1000',
      'max.message.bytes': '2097152',
      'cleanup.policy': 'compact',
    });
  });

  it('refuses to alter a topic whose own hidden setting would be reset', async () => {
    const k = new FakeKafkajsAdmin({ a: { replicas: [[1]], entries: [entry('secret.thing', '', TOPIC_CONFIG, true)] } });
    const err = await new KafkajsTopicAdmin(k).alterConfigs('a', { 'retention.ms': '1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlterConfigsError);
    expect(k.requests.some((r) => r.op === 'alterConfigs')).toBe(false);
  });

  it('translates kafkajs errors into the named errors of each operation', async () => {
    const k = fixture();
    k.fail.createPartitions = new kafkajs.KafkaJSProtocolError({ message: 'Number of partitions is invalid', type: 'INVALID_PARTITIONS', code: 37, retriable: false } as never);
    k.fail.listTopics = new kafkajs.KafkaJSNumberOfRetriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }), { retryCount: 3, retryTime: 100 });
    const admin = new KafkajsTopicAdmin(k);
    const partitions = await admin.createPartitions('md.trades.v1', 2).catch((e: unknown) => e);
    expect(partitions).toBeInstanceOf(CreatePartitionsError);
    expect(partitions).toMatchObject({ name: 'CreatePartitionsError', operation: 'createPartitions', code: 'INVALID_PARTITIONS', retriable: false, topics: ['md.trades.v1'] });
    const list = await admin.listTopics().catch((e: unknown) => e);
    expect(list).toBeInstanceOf(AdminConnectionError);
    expect(list).toMatchObject({ retriable: true });
  });

  it('keeps the retriable flag of a kafkajs error and names the topics', () => {
    const e = translateKafkajsError(new kafkajs.KafkaJSProtocolError({ message: 'not controller', type: 'NOT_CONTROLLER', code: 41, retriable: true } as never), 'alterConfigs', ['t']);
    expect(e).toBeInstanceOf(AlterConfigsError);
    expect(e).toMatchObject({ retriable: true, code: 'NOT_CONTROLLER', topics: ['t'] });
    expect(translateKafkajsError(new Error('boom'), 'listTopics', [])).toBeInstanceOf(ListTopicsError);
    const aggregate = Object.assign(new Error('create failed'), {
      name: 'KafkaJSAggregateError',
      errors: [Object.assign(new Error('bad replication'), { type: 'INVALID_REPLICATION_FACTOR', retriable: false })],
    });
    expect(translateKafkajsError(aggregate, 'createTopics', ['t'])).toMatchObject({ name: 'CreateTopicsError', code: 'INVALID_REPLICATION_FACTOR', retriable: false });
  });
});

describe('connectKafkajsAdmin', () => {
  it('fails with a retriable AdminConnectionError when no broker answers', async () => {
    // A port that was free a moment ago: the connection is refused at once.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await connectKafkajsAdmin({ brokers: [`127.0.0.1:${port}`], retries: 0, connectionTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminConnectionError);
    expect(err).toMatchObject({ retriable: true, operation: 'connect' });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });
});
