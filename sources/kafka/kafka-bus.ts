import { Kafka, logLevel as KafkaLogLevel, type Consumer, type EachBatchPayload, type IHeaders, type KafkaMessage } from 'kafkajs';
import { Observable, type Subscriber } from 'rxjs';
import type { Bus, BusRecord, Clock, StartFrom } from '../../schemas/ports.ts';
import { TOPIC_CONFIGS, type TopicConfig } from '../../schemas/topic-config.ts';
import { dlqOf, isDlqTopic, UnknownTopicError, type DataTopic, type TopicName, type Topics } from '../../schemas/topics.ts';
import { kafkaPartition } from '../murmur2.ts';
import { AckedProducer } from './acked-producer.ts';
import { CommitQueue } from './commit-queue.ts';
import { PartitionTracks, type PartitionTrack } from './partition-tracks.ts';
import { unreadableDeadLetter } from './dead-letters.ts';
import { ConsumerGroupStartedError, fromKafkaJs, KafkaBusClosedError, PartitionCountMismatchError } from './errors.ts';
import { LocalSchemaIds, type SchemaIds } from './schema-ids.ts';
import { WireCodec } from './wire.ts';

/** kafkajs's retry settings (its RetryOptions), for producer, consumer and admin calls. */
export interface KafkaRetry {
  readonly retries?: number;
  readonly initialRetryTime?: number;
  readonly maxRetryTime?: number;
  readonly multiplier?: number;
  readonly factor?: number;
}

/** Consumer tuning; defaults suit a real cluster, tests on the mock shorten them. */
export interface KafkaConsumerTuning {
  /** How long a fetch waits for data, ms (default 500). The mock cluster waits this long even when data arrives meanwhile. */
  readonly maxWaitTimeMs?: number;
  /** Default 30000. */
  readonly sessionTimeoutMs?: number;
  /** Default 3000: a member learns of a rebalance on its next heartbeat. */
  readonly heartbeatIntervalMs?: number;
  /** Default 60000. */
  readonly rebalanceTimeoutMs?: number;
}

/** Options of the Kafka bus. */
export interface KafkaBusOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Schema ids: the project's own list (default, no registry) or `new RegistrySchemaIds(confluentRegistryClient(...))`. */
  readonly schemaIds?: SchemaIds;
  /** Topics and their partition counts; default deploy/kafka/topics.json. */
  readonly topics?: readonly TopicConfig[];
  /** Time of dead letters written by the adapter; default wall time. */
  readonly clock?: Clock;
  /** A batch is sent this long after its first record unless it fills first (default 5 ms). */
  readonly lingerMs?: number;
  /** Records per produce request (default 1000). */
  readonly maxBatchRecords?: number;
  /** Sends of one batch until every partition of it is acknowledged (default 5); then ProduceNotAcknowledgedError. */
  readonly maxSendRounds?: number;
  /** kafkajs's retries; default 8 retries from 100 ms, doubling, at most 5 s apart (about 16 s in all). */
  readonly retry?: KafkaRetry;
  readonly consumer?: KafkaConsumerTuning;
  /**
   * kafkajs's idempotent producer (default false). It needs InitProducerId from the cluster's controller; librdkafka's
   * mock cluster advertises a controller id (0) that is none of its brokers, so kafkajs cannot start it there.
   */
  readonly idempotent?: boolean;
  /** Check at connect that every topic has the partition count of the topic list (default true). */
  readonly checkPartitions?: boolean;
  /** kafkajs's own log (default 'warn'). */
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
}

/** Counters of what the adapter did, for tests and metrics. */
export interface KafkaBusStats {
  /** Produce calls (sendBatch) made, resends included. */
  produceRequests: number;
  /** Records sent again because a send resolved without acknowledging their partition. */
  resentRecords: number;
  /** Records the adapter dead-lettered because they could not be read. */
  deadLetters: number;
  /** Records delivered to subscribers. */
  delivered: number;
}

interface GroupState {
  readonly name: string;
  readonly topics: Map<string, { readonly subscriber: Subscriber<BusRecord<unknown>>; readonly from: StartFrom }>;
  consumer: Consumer | undefined;
  started: boolean;
  stopping: Promise<void> | undefined;
  startTimer: NodeJS.Immediate | undefined;
  readonly joined: Promise<void>;
  markJoined: () => void;
  failJoin: (e: unknown) => void;
  assignment: Readonly<Record<string, readonly number[]>>;
  /** Per partition, what may be committed past dead-lettered records. */
  readonly tracks: PartitionTracks;
  /** The group's commits, merged per partition, one request at a time. */
  readonly commits: CommitQueue;
  /** `topic\0partition` of the partitions paused by pause(). */
  readonly paused: Set<string>;
}

const LOG_LEVELS = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
} as const;

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function headerStrings(h: IHeaders | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(h)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    out[k] = typeof first === 'string' ? first : first.toString('utf8');
    any = true;
  }
  return any ? Object.freeze(out) : undefined;
}

/**
 * The bus port over Kafka with kafkajs, records in the Confluent wire format (Avro, schema ids from the project's list
 * or a registry).
 *
 * Producing: a record goes to the partition murmur2 gives its key among the topic list's partitions, exactly as on the
 * memory bus (checked against the cluster at connect), through an AckedProducer (batched, acks=-1, gzip, every batch
 * checked against its acknowledgements; see acked-producer.ts). publish() resolves when its batch is acknowledged.
 *
 * Consuming: one kafkajs consumer per consumer group in this process, subscribed to every topic consume() was called
 * with for that group before it started. A group's consumer starts on the macrotask after its first consume()
 * subscription (setImmediate), so the consume() calls made while wiring a stage synchronously all join it; a consume()
 * of another topic for a started group fails with ConsumerGroupStartedError. Records are emitted per partition in
 * offset order. Offsets are committed only by commit() (autoCommit off), as offset + 1; commits are merged and sent one
 * request at a time per group. A record that cannot be read (wire format, unknown schema id, another record type, Avro
 * error) is published to `<topic>.dlq` as a DeadLetter with its raw key and bytes and headers (DLQ_HEADERS), not
 * emitted, and committed once the dead letter is acknowledged and every record before it is committed. Errors that
 * outlast kafkajs's retries are translated (fromKafkaJs) and error the group's observables.
 */
export class KafkaBus implements Bus {
  /** What the adapter did so far. */
  readonly stats: KafkaBusStats = { produceRequests: 0, resentRecords: 0, deadLetters: 0, delivered: 0 };
  private readonly kafka: Kafka;
  private readonly wire: WireCodec;
  private readonly clock: Clock;
  private readonly partitions = new Map<string, number>();
  private readonly tuning: Required<KafkaConsumerTuning>;
  private readonly retry: KafkaRetry;
  private readonly groups = new Map<string, GroupState>();
  private readonly producer: AckedProducer;
  private closed = false;

  constructor(private readonly opts: KafkaBusOptions) {
    this.retry = { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000, multiplier: 2, factor: 0.2, ...opts.retry };
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'quantum-trader',
      brokers: [...opts.brokers],
      logLevel: LOG_LEVELS[opts.logLevel ?? 'warn'],
      retry: this.retry,
    });
    this.wire = new WireCodec(opts.schemaIds ?? new LocalSchemaIds());
    this.clock = opts.clock ?? { now: () => Date.now() };
    for (const t of opts.topics ?? TOPIC_CONFIGS) this.partitions.set(t.name, t.partitions);
    this.producer = new AckedProducer(this.kafka, {
      retry: this.retry,
      idempotent: opts.idempotent,
      lingerMs: opts.lingerMs,
      maxBatchRecords: opts.maxBatchRecords,
      maxSendRounds: opts.maxSendRounds,
      stats: this.stats,
      prepare: async () => {
        if (opts.checkPartitions ?? true) await this.checkPartitions();
        await this.wire.prepare([...this.partitions.keys()] as TopicName[]);
      },
    });
    this.tuning = {
      maxWaitTimeMs: opts.consumer?.maxWaitTimeMs ?? 500,
      sessionTimeoutMs: opts.consumer?.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: opts.consumer?.heartbeatIntervalMs ?? 3_000,
      rebalanceTimeoutMs: opts.consumer?.rebalanceTimeoutMs ?? 60_000,
    };
  }

  /** The partition of a key in a topic: murmur2 of the key among the topic list's partitions, as on the memory bus. */
  partitionFor(topic: TopicName, key: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new UnknownTopicError(topic);
    return kafkaPartition(key, n);
  }

  /** Connects the producer, checks partition counts and resolves the writer schema ids of every topic; publish() does it on first use. */
  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /** Resolves once the producer is connected and every consumer group started so far has joined and got its partitions. */
  async ready(): Promise<void> {
    await this.producer.connect();
    await Promise.all([...this.groups.values()].filter((g) => g.started || g.startTimer).map((g) => g.joined));
  }

  /** The partitions of each topic assigned to this process's member of the group (empty before it joined). */
  assignment(group: string): Readonly<Record<string, readonly number[]>> {
    return this.groups.get(group)?.assignment ?? {};
  }

  /** Encodes the value, queues it for its partition's next batch; resolves when the batch is acknowledged (acks=-1). */
  async publish<T extends TopicName>(topic: T, key: string, value: Topics[T], headers?: Record<string, string>): Promise<void> {
    if (this.closed) throw new KafkaBusClosedError();
    if (this.producer.failure) throw this.producer.failure;
    const partition = this.partitionFor(topic, key);
    const bytes = await this.wire.encode(topic, value);
    await this.producer.send(topic, partition, key, bytes, (value as { tsEvent: number }).tsEvent, headers);
  }

  /**
   * Reads a topic in a consumer group; see the class comment for when the group's consumer starts. With `from: 'latest'`
   * and no committed offset, the group starts at the end of each partition as of its join: await ready() before relying on it.
   */
  consume<T extends TopicName>(topic: T, group: string, opts: { from?: StartFrom } = {}): Observable<BusRecord<Topics[T]>> {
    return new Observable<BusRecord<Topics[T]>>((subscriber) => {
      if (this.closed) return subscriber.error(new KafkaBusClosedError());
      if (!this.partitions.has(topic)) return subscriber.error(new UnknownTopicError(topic));
      const g = this.groupState(group);
      if (g.started) return subscriber.error(new ConsumerGroupStartedError(group, topic, 'its consumer already runs; subscribe to every topic of a group in the same tick'));
      if (g.topics.has(topic)) return subscriber.error(new ConsumerGroupStartedError(group, topic, 'this process already reads it in that group'));
      g.topics.set(topic, { subscriber: subscriber as Subscriber<BusRecord<unknown>>, from: opts.from ?? 'earliest' });
      g.startTimer ??= setImmediate(() => {
        g.startTimer = undefined;
        this.startGroup(g).catch((e: unknown) => this.failGroup(g, fromKafkaJs(e, 'consume')));
      });
      return () => {
        g.topics.delete(topic);
        if (g.topics.size > 0) return;
        if (g.startTimer) {
          clearImmediate(g.startTimer);
          g.startTimer = undefined;
        }
        void this.stopGroup(g);
      };
    });
  }

  /** Commits offset + 1 for the group (and any dead-lettered offsets right after it); resolves when the commit is acknowledged. */
  async commit(group: string, topic: TopicName, partition: number, offset: number): Promise<void> {
    if (this.closed) throw new KafkaBusClosedError();
    const g = this.groups.get(group);
    if (!g?.consumer) throw new ConsumerGroupStartedError(group, topic, 'commit() needs this process to consume the topic in that group');
    const upTo = g.tracks.get(topic, partition)?.commit(offset) ?? offset;
    await g.commits.commit(topic, partition, upTo);
  }

  /** Stops every consumer (leaving its group), sends what is queued, disconnects, and completes every observable. */
  async close(): Promise<void> {
    if (this.closed) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const g of groups) {
      if (g.startTimer) clearImmediate(g.startTimer);
      await this.stopGroup(g);
    }
    await this.producer.drained();
    this.closed = true;
    await this.producer.disconnect();
    for (const g of groups) for (const { subscriber } of g.topics.values()) subscriber.complete();
  }

  /**
   * Stops fetching a partition the group reads (kafkajs pause), and stops handing over the rest of a batch already
   * fetched: kafkajs fetches it again from the first record not handed over once resumed. A no-op for a group this
   * process does not consume.
   */
  pause(group: string, topic: TopicName, partition: number): void {
    const g = this.groups.get(group);
    if (!g?.consumer) return;
    g.paused.add(tp(topic, partition));
    g.consumer.pause([{ topic, partitions: [partition] }]);
  }

  /** Fetches a paused partition again. */
  resume(group: string, topic: TopicName, partition: number): void {
    const g = this.groups.get(group);
    if (!g?.consumer || !g.paused.delete(tp(topic, partition))) return;
    g.consumer.resume([{ topic, partitions: [partition] }]);
  }

  /** The next offset to be written, per partition (the high watermark: what an acks=-1 producer had acknowledged). */
  async endOffsets(topic: TopicName): Promise<number[]> {
    return (await this.watermarks(topic)).map((w) => w.high);
  }

  /** The first offset still retained, per partition (the low watermark). */
  async startOffsets(topic: TopicName): Promise<number[]> {
    return (await this.watermarks(topic)).map((w) => w.low);
  }

  private async watermarks(topic: TopicName): Promise<{ low: number; high: number }[]> {
    if (!this.partitions.has(topic)) throw new UnknownTopicError(topic);
    const admin = this.kafka.admin({ retry: this.retry });
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      const marks = Array.from({ length: this.partitions.get(topic)! }, () => ({ low: 0, high: 0 }));
      for (const o of offsets) marks[o.partition] = { low: Number(o.low), high: Number(o.high) };
      return marks;
    } catch (e) {
      throw fromKafkaJs(e, 'metadata');
    } finally {
      await admin.disconnect();
    }
  }

  private async checkPartitions(): Promise<void> {
    const admin = this.kafka.admin({ retry: this.retry });
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [...this.partitions.keys()] });
      for (const t of topics) {
        const expected = this.partitions.get(t.name)!;
        if (t.partitions.length !== expected) throw new PartitionCountMismatchError(t.name, expected, t.partitions.length);
      }
    } finally {
      await admin.disconnect();
    }
  }

  // ---- consuming ----

  private groupState(name: string): GroupState {
    let g = this.groups.get(name);
    if (!g) {
      let markJoined!: () => void;
      let failJoin!: (e: unknown) => void;
      const joined = new Promise<void>((resolve, reject) => {
        markJoined = resolve;
        failJoin = reject;
      });
      joined.catch(() => undefined);
      g = {
        name, topics: new Map(), consumer: undefined, started: false, stopping: undefined, startTimer: undefined, joined, markJoined, failJoin,
        assignment: {}, tracks: new PartitionTracks(), paused: new Set(),
        commits: new CommitQueue(async (offsets) => {
          if (!g!.consumer) throw new ConsumerGroupStartedError(name, offsets[0]!.topic, 'the group stopped before the commit');
          await g!.consumer.commitOffsets(offsets.map((e) => ({ topic: e.topic, partition: e.partition, offset: String(e.offset + 1) })));
        }, (e) => fromKafkaJs(e, 'commit')),
      };
      this.groups.set(name, g);
    }
    return g;
  }

  private async startGroup(g: GroupState): Promise<void> {
    if (this.closed || g.topics.size === 0) return;
    g.started = true;
    const consumer = this.kafka.consumer({
      groupId: g.name,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: this.tuning.maxWaitTimeMs,
      sessionTimeout: this.tuning.sessionTimeoutMs,
      heartbeatInterval: this.tuning.heartbeatIntervalMs,
      rebalanceTimeout: this.tuning.rebalanceTimeoutMs,
      // kafkajs retried already; what reaches onCrash surfaces (crash-only), it does not restart the consumer.
      retry: { ...this.retry, restartOnFailure: async () => false },
    });
    g.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      g.assignment = Object.freeze({ ...e.payload.memberAssignment });
      // A new assignment resumes from the committed offsets: positions are learnt again from the first records.
      g.tracks.clear();
      g.markJoined();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.failGroup(g, fromKafkaJs(e.payload.error, 'consume'));
    });
    await consumer.connect();
    for (const [topic, { from }] of g.topics) await consumer.subscribe({ topics: [topic], fromBeginning: from === 'earliest' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.eachBatch(g, payload),
    });
  }

  private async eachBatch(g: GroupState, { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const topic = batch.topic as TopicName;
    const { partition } = batch;
    const entry = g.topics.get(topic);
    const key = tp(topic, partition);
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || g.paused.has(key)) break;
      const offset = Number(m.offset);
      const track = g.tracks.at(topic, partition, offset);
      let value: unknown;
      try {
        const bytes = m.value ?? Buffer.alloc(0);
        // Without a promise per record once the schema id is known: the hot path of every stage.
        value = this.wire.decodeKnown(topic, bytes) ?? (await this.wire.decode(topic, bytes));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        // An infrastructure error (the registry away) is not the record's fault: never dead-lettered; kafkajs retries, then the group fails.
        if ((err as { retriable?: boolean }).retriable === true) throw err;
        await this.deadLetter(g, topic, partition, m, err, track);
        resolveOffset(m.offset);
        continue;
      }
      track.delivered(offset);
      this.stats.delivered++;
      const headers = headerStrings(m.headers);
      entry?.subscriber.next(Object.freeze({
        topic, partition, offset, key: m.key ? m.key.toString('utf8') : '', value, timestamp: Number(m.timestamp), ...(headers ? { headers } : {}),
      }));
      resolveOffset(m.offset);
    }
    await heartbeat();
  }

  /** Publishes the record's dead letter, waits for its acknowledgement, then commits it as soon as everything before it is. */
  private async deadLetter(g: GroupState, topic: TopicName, partition: number, m: KafkaMessage, error: Error, track: PartitionTrack): Promise<void> {
    // A dead-letter topic has no dead-letter topic of its own: an unreadable dead letter stops the group (crash-only).
    if (isDlqTopic(topic)) throw error;
    const offset = Number(m.offset);
    const { value, headers } = unreadableDeadLetter(
      { topic, partition, offset, key: m.key ? m.key.toString('utf8') : null, payload: m.value ? Buffer.from(m.value) : Buffer.alloc(0), timestamp: Number(m.timestamp) },
      g.name,
      error,
      this.clock.now(),
    );
    await this.publish(dlqOf(topic as DataTopic), value.key ?? '', value, headers);
    this.stats.deadLetters++;
    const upTo = track.skip(offset);
    if (upTo !== undefined) await g.commits.commit(topic, partition, upTo);
  }

  private failGroup(g: GroupState, e: Error): void {
    g.failJoin(e);
    const subs = [...g.topics.values()];
    g.topics.clear();
    for (const { subscriber } of subs) subscriber.error(e);
    void this.stopGroup(g);
  }

  private stopGroup(g: GroupState): Promise<void> {
    if (!g.consumer) return Promise.resolve();
    g.stopping ??= (async () => {
      const consumer = g.consumer!;
      await consumer.disconnect().catch(() => undefined);
      g.consumer = undefined;
      if (this.groups.get(g.name) === g) this.groups.delete(g.name);
    })();
    return g.stopping;
  }
}
