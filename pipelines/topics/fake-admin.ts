/**
 * FakeTopicAdmin: an in-memory Kafka cluster behind the admin port, for the planner's and the CLI's tests. It keeps
 * topics with partitions, replication and topic-level settings, answers settings in force with their source (topic,
 * or Kafka's default), and refuses what a broker refuses: an existing topic, more replicas than brokers, fewer
 * partitions, a setting Kafka does not have (KAFKA_TOPIC_CONFIG_KEYS). It does not model brokers, leaders, ACLs or timing.
 */
import {
  AdminConnectionError,
  AlterConfigsError,
  CreatePartitionsError,
  CreateTopicsError,
  DescribeConfigsError,
  DescribeTopicsError,
  type AdminOperation,
  type ConfigValue,
  type NewTopic,
  type TopicAdmin,
  type TopicDescription,
} from './admin.ts';
import { KAFKA_TOPIC_CONFIG_KEYS } from './kafka-configs.ts';

/** Kafka's defaults of the topic-level settings the fake reports for a topic that does not set them. */
export const FAKE_KAFKA_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  'delete.retention.ms': '86400000',
  'max.compaction.lag.ms': '9223372036854775807',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '1',
  'retention.bytes': '-1',
  'retention.ms': '604800000',
  'segment.bytes': '1073741824',
  'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false',
});

interface FakeTopic {
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
}

/** One call the fake received, for tests to check what `apply` did. */
export type FakeAdminCall =
  | { readonly op: 'createTopics'; readonly topics: readonly NewTopic[] }
  | { readonly op: 'createPartitions'; readonly topic: string; readonly count: number }
  | { readonly op: 'alterConfigs'; readonly topic: string; readonly set: Readonly<Record<string, string>> };

/** An in-memory cluster implementing the admin port. */
export class FakeTopicAdmin implements TopicAdmin {
  /** Every change call, in order (reads are not recorded). */
  readonly calls: FakeAdminCall[] = [];
  /** False after close(). */
  open = true;
  /** When set, every call rejects with AdminConnectionError (the cluster is down). */
  down = false;
  private readonly topics = new Map<string, FakeTopic>();
  private readonly failures = new Map<AdminOperation, Error[]>();

  constructor(private readonly opts: { readonly brokers?: number } = {}) {}

  /** Puts a topic on the cluster directly, as if made by someone else; `config` holds its topic-level settings. */
  seed(name: string, partitions: number, replicationFactor: number, config: Readonly<Record<string, string>> = {}): this {
    this.topics.set(name, { partitions, replicationFactor, config: { ...config } });
    return this;
  }

  /** The stored state of a topic (undefined when absent). */
  topic(name: string): Readonly<FakeTopic> | undefined {
    return this.topics.get(name);
  }

  /** Makes the next call of `op` reject with this error (after the queued ones). */
  failNext(op: AdminOperation, error: Error): this {
    this.failures.set(op, [...(this.failures.get(op) ?? []), error]);
    return this;
  }

  private gate(op: AdminOperation): void {
    if (!this.open) throw new AdminConnectionError(`${op}: the admin is closed`, [], false);
    if (this.down) throw new AdminConnectionError(`${op}: cannot reach the Kafka cluster (fake is down)`, [], true);
    const queued = this.failures.get(op);
    const next = queued?.shift();
    if (next) throw next;
  }

  async listTopics(): Promise<string[]> {
    this.gate('listTopics');
    return [...this.topics.keys()];
  }

  async describeTopics(names: readonly string[]): Promise<TopicDescription[]> {
    this.gate('describeTopics');
    return names.map((name) => {
      const t = this.topics.get(name);
      if (!t) throw new DescribeTopicsError(`topic ${name} does not exist`, [name], false, 'UNKNOWN_TOPIC_OR_PARTITION');
      return { name, partitions: t.partitions, replicationFactor: t.replicationFactor };
    });
  }

  async describeConfigs(names: readonly string[]): Promise<Map<string, Record<string, ConfigValue>>> {
    this.gate('describeConfigs');
    const out = new Map<string, Record<string, ConfigValue>>();
    for (const name of names) {
      const t = this.topics.get(name);
      if (!t) throw new DescribeConfigsError(`topic ${name} does not exist`, [name], false, 'UNKNOWN_TOPIC_OR_PARTITION');
      const config: Record<string, ConfigValue> = {};
      for (const [k, v] of Object.entries(FAKE_KAFKA_DEFAULTS)) config[k] = { value: v, source: 'default' };
      for (const [k, v] of Object.entries(t.config)) config[k] = { value: v, source: 'topic' };
      out.set(name, config);
    }
    return out;
  }

  private unknownKeys(config: Readonly<Record<string, string>>): string[] {
    return Object.keys(config).filter((k) => !KAFKA_TOPIC_CONFIG_KEYS.has(k));
  }

  async createTopics(topics: readonly NewTopic[]): Promise<void> {
    this.gate('createTopics');
    this.calls.push({ op: 'createTopics', topics: topics.map((t) => ({ ...t, config: { ...t.config } })) });
    const brokers = this.opts.brokers ?? 3;
    for (const t of topics) {
      if (this.topics.has(t.name)) throw new CreateTopicsError(`topic ${t.name} exists already`, [t.name], false, 'TOPIC_ALREADY_EXISTS');
      if (t.replicationFactor > brokers) {
        throw new CreateTopicsError(`replication factor ${t.replicationFactor} is larger than the ${brokers} brokers`, [t.name], false, 'INVALID_REPLICATION_FACTOR');
      }
      const unknown = this.unknownKeys(t.config);
      if (unknown.length > 0) throw new CreateTopicsError(`unknown settings ${unknown.join(', ')}`, [t.name], false, 'INVALID_CONFIG');
    }
    for (const t of topics) this.topics.set(t.name, { partitions: t.partitions, replicationFactor: t.replicationFactor, config: { ...t.config } });
  }

  async createPartitions(topic: string, count: number): Promise<void> {
    this.gate('createPartitions');
    this.calls.push({ op: 'createPartitions', topic, count });
    const t = this.topics.get(topic);
    if (!t) throw new CreatePartitionsError(`topic ${topic} does not exist`, [topic], false, 'UNKNOWN_TOPIC_OR_PARTITION');
    if (count <= t.partitions) throw new CreatePartitionsError(`topic ${topic} has ${t.partitions} partitions; ${count} is not more`, [topic], false, 'INVALID_PARTITIONS');
    t.partitions = count;
  }

  async alterConfigs(topic: string, set: Readonly<Record<string, string>>): Promise<void> {
    this.gate('alterConfigs');
    this.calls.push({ op: 'alterConfigs', topic, set: { ...set } });
    const t = this.topics.get(topic);
    if (!t) throw new AlterConfigsError(`topic ${topic} does not exist`, [topic], false, 'UNKNOWN_TOPIC_OR_PARTITION');
    const unknown = this.unknownKeys(set);
    if (unknown.length > 0) throw new AlterConfigsError(`unknown settings ${unknown.join(', ')}`, [topic], false, 'INVALID_CONFIG');
    Object.assign(t.config, set);
  }

  async close(): Promise<void> {
    this.open = false;
  }
}
