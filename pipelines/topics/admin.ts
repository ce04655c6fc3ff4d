/**
 * The Kafka admin port of `qt topics`: what the planner needs to read a cluster and what `apply` needs to change it.
 * The kafkajs adapter (kafkajs-admin.ts) implements it; tests use FakeTopicAdmin (fake-admin.ts).
 */

/** Where a config value in force comes from: set on the topic, a broker-level setting, or Kafka's built-in default. */
export type ConfigSource = 'topic' | 'broker' | 'default';

/** One topic-level setting as the cluster reports it. */
export interface ConfigValue {
  /** The value in force; null when the broker hides it (a sensitive setting). */
  readonly value: string | null;
  readonly source: ConfigSource;
}

/** A topic as it exists on the cluster. */
export interface TopicDescription {
  readonly name: string;
  readonly partitions: number;
  /** Replicas per partition (the largest over the partitions). */
  readonly replicationFactor: number;
}

/** A topic to create. */
export interface NewTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level settings to create it with. */
  readonly config: Readonly<Record<string, string>>;
}

/** The admin operations `qt topics` uses; every method rejects with a TopicAdminError subclass. */
export interface TopicAdmin {
  /** Names of every topic on the cluster, internal ones included. */
  listTopics(): Promise<string[]>;
  /** Partition count and replication factor of existing topics; DescribeTopicsError for a missing one. */
  describeTopics(names: readonly string[]): Promise<TopicDescription[]>;
  /** The settings in force on each topic (every key the cluster reports), by topic name. */
  describeConfigs(names: readonly string[]): Promise<Map<string, Record<string, ConfigValue>>>;
  /** Creates topics (with their settings); CreateTopicsError when one exists already or the cluster refuses. */
  createTopics(topics: readonly NewTopic[]): Promise<void>;
  /** Raises a topic's partition count to `count` (Kafka cannot lower it). */
  createPartitions(topic: string, count: number): Promise<void>;
  /** Sets these topic-level settings and leaves every other setting of the topic as it is (incremental). */
  alterConfigs(topic: string, set: Readonly<Record<string, string>>): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** The admin operations, as named in errors. */
export type AdminOperation = 'connect' | 'listTopics' | 'describeTopics' | 'describeConfigs' | 'createTopics' | 'createPartitions' | 'alterConfigs';

/** Base of the admin port's errors: which operation failed, on which topics, and whether retrying may help. */
export abstract class TopicAdminError extends Error {
  abstract readonly operation: AdminOperation;
  constructor(
    message: string,
    /** Topics the operation was about (empty for cluster-wide calls). */
    readonly topics: readonly string[],
    readonly retriable: boolean,
    /** The Kafka error code name when the broker gave one, e.g. TOPIC_ALREADY_EXISTS. */
    readonly code?: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** The cluster could not be reached (bootstrap servers down, wrong address, timeout): retriable. */
export class AdminConnectionError extends TopicAdminError {
  override readonly name = 'AdminConnectionError';
  readonly operation = 'connect';
}

/** Listing the topics failed. */
export class ListTopicsError extends TopicAdminError {
  override readonly name = 'ListTopicsError';
  readonly operation = 'listTopics';
}

/** Describing topics (partitions, replicas) failed, or a topic does not exist. */
export class DescribeTopicsError extends TopicAdminError {
  override readonly name = 'DescribeTopicsError';
  readonly operation = 'describeTopics';
}

/** Reading topic settings failed. */
export class DescribeConfigsError extends TopicAdminError {
  override readonly name = 'DescribeConfigsError';
  readonly operation = 'describeConfigs';
}

/** Creating topics failed (one exists already: code TOPIC_ALREADY_EXISTS; too few brokers: INVALID_REPLICATION_FACTOR). */
export class CreateTopicsError extends TopicAdminError {
  override readonly name = 'CreateTopicsError';
  readonly operation = 'createTopics';
}

/** Adding partitions failed (a count not above the current one: INVALID_PARTITIONS). */
export class CreatePartitionsError extends TopicAdminError {
  override readonly name = 'CreatePartitionsError';
  readonly operation = 'createPartitions';
}

/** Changing topic settings failed (an unknown key or a bad value: INVALID_CONFIG). */
export class AlterConfigsError extends TopicAdminError {
  override readonly name = 'AlterConfigsError';
  readonly operation = 'alterConfigs';
}
