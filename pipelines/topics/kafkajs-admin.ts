/**
 * The admin port over kafkajs. kafkajs 2.2 has no IncrementalAlterConfigs: its alterConfigs is Kafka's legacy
 * AlterConfigs, which replaces every topic-level setting of the resource (a key left out falls back to the broker
 * default). So alterConfigs here reads the topic's own settings, merges the change into them and writes the whole set:
 * incremental in effect. A concurrent change by someone else between the read and the write would be lost; `qt topics
 * apply` is a one-shot job, so that window is accepted and written down here.
 */
import kafkajs, { type Admin, type ConfigEntries, type DescribeConfigResponse } from 'kafkajs';
import {
  AdminConnectionError,
  AlterConfigsError,
  CreatePartitionsError,
  CreateTopicsError,
  DescribeConfigsError,
  DescribeTopicsError,
  ListTopicsError,
  type AdminOperation,
  type ConfigSource,
  type ConfigValue,
  type NewTopic,
  type TopicAdmin,
  type TopicAdminError,
  type TopicDescription,
} from './admin.ts';

/** The kafkajs admin calls this adapter makes (a fake of them is enough for tests). */
export type KafkajsAdminClient = Pick<
  Admin,
  'connect' | 'disconnect' | 'listTopics' | 'fetchTopicMetadata' | 'describeConfigs' | 'createTopics' | 'createPartitions' | 'alterConfigs'
>;

/** Options of the kafkajs admin. */
export interface KafkajsAdminOptions {
  /** Broker timeout of topic creation and partition changes, ms. */
  readonly timeoutMs?: number;
}

// Kafka protocol ConfigSource values (DescribeConfigs v1+); 0 = UNKNOWN, what a v0 answer carries.
const SOURCE_TOPIC = 1;
const SOURCE_DEFAULT = 5;
// The resource type of a topic in DescribeConfigs and AlterConfigs.
const TOPIC_RESOURCE = kafkajs.ConfigResourceTypes.TOPIC;

type AdminErrorClass = new (message: string, topics: readonly string[], retriable: boolean, code?: string, opts?: { cause?: unknown }) => TopicAdminError;

const ERROR_OF: Record<Exclude<AdminOperation, 'connect'>, AdminErrorClass> = {
  listTopics: ListTopicsError,
  describeTopics: DescribeTopicsError,
  describeConfigs: DescribeConfigsError,
  createTopics: CreateTopicsError,
  createPartitions: CreatePartitionsError,
  alterConfigs: AlterConfigsError,
};

// kafkajs errors that mean the cluster is not reachable (matched by name: the classes differ across kafkajs versions).
const CONNECTION_ERRORS = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound']);

interface KafkajsLikeError {
  readonly name?: string;
  readonly message?: string;
  readonly type?: string;
  readonly retriable?: boolean;
  readonly cause?: unknown;
  readonly originalError?: unknown;
  readonly errors?: readonly unknown[];
}

/** The innermost kafkajs error (retries exceeded wraps the last failure; an aggregate holds one per topic). */
function rootOf(e: unknown): KafkajsLikeError {
  let cur = e as KafkajsLikeError;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const next = (cur.originalError ?? cur.cause ?? cur.errors?.[0]) as KafkajsLikeError | undefined;
    if (!next || typeof next !== 'object') break;
    cur = next;
  }
  return cur ?? {};
}

/** Translates a kafkajs failure into the port's named errors. */
export function translateKafkajsError(e: unknown, op: Exclude<AdminOperation, 'connect'>, topics: readonly string[]): TopicAdminError {
  if (e instanceof Error && 'operation' in e && 'retriable' in e) return e as TopicAdminError;
  const outer = (e ?? {}) as KafkajsLikeError;
  const root = rootOf(e);
  const message = outer.message ?? String(e);
  if (CONNECTION_ERRORS.has(root.name ?? '') || CONNECTION_ERRORS.has(outer.name ?? '') || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(message)) {
    return new AdminConnectionError(`cannot reach the Kafka cluster (${op}): ${message}`, topics, true, root.type, { cause: e });
  }
  const Class = ERROR_OF[op];
  return new Class(`${op} failed${topics.length > 0 ? ` for ${topics.join(', ')}` : ''}: ${message}`, topics, root.retriable ?? outer.retriable ?? false, root.type, { cause: e });
}

function sourceOf(entry: ConfigEntries): ConfigSource {
  const src = entry.configSource as number | undefined;
  if (src === SOURCE_TOPIC) return 'topic';
  if (src === SOURCE_DEFAULT) return 'default';
  if (src === undefined || src === 0) return entry.isDefault ? 'default' : 'topic';
  return 'broker';
}

/** The topic admin over a kafkajs admin client. */
export class KafkajsTopicAdmin implements TopicAdmin {
  private readonly timeoutMs: number;

  constructor(
    private readonly admin: KafkajsAdminClient,
    opts: KafkajsAdminOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private async call<T>(op: Exclude<AdminOperation, 'connect'>, topics: readonly string[], run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw translateKafkajsError(e, op, topics);
    }
  }

  listTopics(): Promise<string[]> {
    return this.call('listTopics', [], () => this.admin.listTopics());
  }

  async describeTopics(names: readonly string[]): Promise<TopicDescription[]> {
    const meta = await this.call('describeTopics', names, () => this.admin.fetchTopicMetadata({ topics: [...names] }));
    const byName = new Map(meta.topics.map((t) => [t.name, t]));
    return names.map((name) => {
      const t = byName.get(name);
      if (!t || t.partitions.length === 0) throw new DescribeTopicsError(`topic ${name} does not exist`, [name], false, 'UNKNOWN_TOPIC_OR_PARTITION');
      return { name, partitions: t.partitions.length, replicationFactor: Math.max(...t.partitions.map((p) => p.replicas.length)) };
    });
  }

  async describeConfigs(names: readonly string[]): Promise<Map<string, Record<string, ConfigValue>>> {
    const res: DescribeConfigResponse = await this.call('describeConfigs', names, () =>
      this.admin.describeConfigs({ resources: names.map((name) => ({ type: TOPIC_RESOURCE, name })), includeSynonyms: false }),
    );
    const out = new Map<string, Record<string, ConfigValue>>();
    for (const r of res.resources) {
      if (r.errorCode !== 0) {
        throw new DescribeConfigsError(`describeConfigs failed for ${r.resourceName}: ${r.errorMessage || `error code ${r.errorCode}`}`, [r.resourceName], false, String(r.errorCode));
      }
      const config: Record<string, ConfigValue> = {};
      for (const entry of r.configEntries) {
        config[entry.configName] = { value: entry.isSensitive ? null : entry.configValue, source: sourceOf(entry) };
      }
      out.set(r.resourceName, config);
    }
    for (const n of names) if (!out.has(n)) throw new DescribeConfigsError(`describeConfigs: no answer for ${n}`, [n], true);
    return out;
  }

  async createTopics(topics: readonly NewTopic[]): Promise<void> {
    const names = topics.map((t) => t.name);
    const created = await this.call('createTopics', names, () =>
      this.admin.createTopics({
        timeout: this.timeoutMs,
        waitForLeaders: true,
        topics: topics.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
        })),
      }),
    );
    // kafkajs answers false, not an error, when every topic existed already.
    if (!created) throw new CreateTopicsError(`createTopics: ${names.join(', ')} exist already`, names, false, 'TOPIC_ALREADY_EXISTS');
  }

  async createPartitions(topic: string, count: number): Promise<void> {
    await this.call('createPartitions', [topic], () => this.admin.createPartitions({ timeout: this.timeoutMs, topicPartitions: [{ topic, count }] }));
  }

  async alterConfigs(topic: string, set: Readonly<Record<string, string>>): Promise<void> {
    const current = (await this.describeConfigs([topic])).get(topic)!;
    const merged: Record<string, string> = {};
    for (const [key, v] of Object.entries(current)) {
      if (v.source !== 'topic') continue;
      if (v.value === null && !(key in set)) {
        // A hidden value cannot be written back, and leaving it out would reset it: refuse rather than lose it.
        throw new AlterConfigsError(`alterConfigs on ${topic}: the topic's setting ${key} is hidden (sensitive) and would be reset`, [topic], false);
      }
      if (v.value !== null) merged[key] = v.value;
    }
    Object.assign(merged, set);
    await this.call('alterConfigs', [topic], () =>
      this.admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: TOPIC_RESOURCE, name: topic, configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })) }],
      }),
    );
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}

/** Options of a kafkajs admin connection. */
export interface KafkajsConnectOptions extends KafkajsAdminOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** TCP connect timeout per broker, ms. */
  readonly connectionTimeoutMs?: number;
  /** Attempts of each request before giving up (kafkajs retries with backoff). */
  readonly retries?: number;
}

/** Connects a kafkajs admin to the bootstrap servers; AdminConnectionError when none answers. */
export async function connectKafkajsAdmin(opts: KafkajsConnectOptions): Promise<KafkajsTopicAdmin> {
  const kafka = new kafkajs.Kafka({
    clientId: opts.clientId ?? 'qt-topics',
    brokers: [...opts.brokers],
    connectionTimeout: opts.connectionTimeoutMs ?? 5_000,
    retry: { retries: opts.retries ?? 3 },
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (e) {
    await admin.disconnect().catch(() => undefined);
    throw new AdminConnectionError(`cannot reach the Kafka cluster at ${opts.brokers.join(',')}: ${e instanceof Error ? e.message : String(e)}`, [], true, undefined, { cause: e });
  }
  return new KafkajsTopicAdmin(admin, opts);
}
