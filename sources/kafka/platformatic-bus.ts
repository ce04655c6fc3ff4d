/**
 * The bus port over Kafka with @platformatic/kafka (pure JS, 1.x): the same contract as KafkaBus (kafka-bus.ts) as far
 * as the tests go, measured against it in test/kafka/platformatic.test.ts and bench/kafka-clients.ts.
 *
 * Producing: Confluent wire format (WireCodec, LocalSchemaIds by default), partition = kafkaPartition(key, partitions of
 * the topic list) given explicitly, records collected for `lingerMs` (or `maxBatchRecords`) into one send, acks -1,
 * gzip; one batch in flight, publish() resolves when its batch is acknowledged. @platformatic/kafka rejects a send when
 * any broker request of it fails (after its own retries) and lists what was acknowledged on the error (`produced`);
 * the partitions missing from the acknowledgements are sent again, up to `maxSendRounds`, then the bus fails
 * (crash-only: that publish and every later one reject). A broker request is resent whole, so delivery is at-least-once.
 *
 * Consuming: one Consumer per group in this process, started on the macrotask after the group's first consume() (as
 * KafkaBus), with every topic subscribed in that tick; later consume() calls of that group fail with
 * ConsumerGroupStartedError. Mode 'committed': resumes after the group's commits, else from the earliest offset (the
 * latest only if every topic of the group asked 'latest': the client has one fallback per group, not per topic).
 * Values are decoded with WireCodec, headers read as UTF-8 strings. Offsets are committed only by commit(), as
 * offset + 1 (leader epoch -1), merged per group, one request at a time. A record that cannot be decoded is published
 * to `<topic>.dlq` as a DeadLetter (as KafkaBus) and not emitted.
 *
 * Missing against KafkaBus: a dead-lettered offset is not committed on its own (a later commit of the partition covers
 * it; redelivered after a restart, it is dead-lettered again under the same id); no idempotent producer option; no
 * schema-registry test; no stats of rebalances. Client errors are translated into KafkaClientError (kind = the Kafka
 * error name as @platformatic/kafka spells it, e.g. NOT_LEADER_OR_FOLLOWER, or its PLT_KFK_* code).
 *
 * Older brokers (the mock cluster among them): installLegacyProtocol() in platformatic-legacy.ts, called by the
 * constructor unless `legacyProtocol: false`.
 */
import { Consumer, GenericError, Producer, stringDeserializer, stringSerializer, type Message, type MessagesStream, type ProduceResult } from '@platformatic/kafka';
import { Observable, type Subscriber } from 'rxjs';
import type { Bus, BusRecord, Clock, StartFrom } from '../../schemas/ports.ts';
import { TOPIC_CONFIGS, type TopicConfig } from '../../schemas/topic-config.ts';
import { dlqOf, isDlqTopic, UnknownTopicError, type DataTopic, type TopicName, type Topics } from '../../schemas/topics.ts';
import { kafkaPartition } from '../murmur2.ts';
import { BatchQueue } from './batch-queue.ts';
import { CommitQueue } from './commit-queue.ts';
import { unreadableDeadLetter } from './dead-letters.ts';
import { ConsumerGroupStartedError, KafkaBusClosedError, KafkaClientError, PartitionCountMismatchError, ProduceNotAcknowledgedError, type KafkaOperation } from './errors.ts';
import type { KafkaConsumerTuning, KafkaBusStats } from './kafka-bus.ts';
import { findBy, installLegacyProtocol } from './platformatic-legacy.ts';
import { LocalSchemaIds, type SchemaIds } from './schema-ids.ts';
import { WireCodec } from './wire.ts';

export interface PlatformaticBusOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly schemaIds?: SchemaIds;
  readonly topics?: readonly TopicConfig[];
  readonly clock?: Clock;
  /** Default 5 ms. */
  readonly lingerMs?: number;
  /** Default 1000. */
  readonly maxBatchRecords?: number;
  /** Sends of one batch until every partition of it is acknowledged (default 5). */
  readonly maxSendRounds?: number;
  /** The client's retries of one request (default 8) and the first delay, doubling up to 5 s (default 100 ms). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly compression?: 'none' | 'gzip';
  readonly consumer?: KafkaConsumerTuning;
  readonly checkPartitions?: boolean;
  /** Fall back to pre-3.5 protocol versions when a broker refuses ApiVersions v3 (default true). */
  readonly legacyProtocol?: boolean;
}

type PkProducer = Producer<string, Buffer, string, string>;
type PkConsumer = Consumer<string, Buffer, string, string>;
type PkMessage = Message<string, Buffer, string, string>;
interface Pending { readonly topic: string; readonly partition: number; readonly key: string; readonly value: Buffer; readonly timestamp: bigint; readonly headers: Record<string, string> | undefined }
interface Group {
  readonly name: string;
  readonly topics: Map<string, { readonly subscriber: Subscriber<BusRecord<unknown>>; readonly from: StartFrom }>;
  consumer: PkConsumer | undefined;
  stream: MessagesStream<string, Buffer, string, string> | undefined;
  started: boolean;
  startTimer: NodeJS.Immediate | undefined;
  readonly joined: Promise<void>;
  markJoined: () => void;
  failJoin: (e: unknown) => void;
  backlog: PkMessage[] | undefined;
  /** The group's commits, merged per partition, one request at a time. */
  readonly commits: CommitQueue;
  stopping: Promise<void> | undefined;
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const EMPTY = Buffer.alloc(0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when the failure is transient (a broker away, a leader moving, a timeout): worth a resend or a restart. */
function transient(e: unknown): boolean {
  if (!(e instanceof Error) || !GenericError.isGenericError(e)) return false;
  if (findBy(e, 'code', 'PLT_KFK_NETWORK') || findBy(e, 'hasStaleMetadata', true)) return true;
  if (findBy(e, 'code', 'PLT_KFK_USER') || findBy(e, 'code', 'PLT_KFK_UNSUPPORTED_API')) return false;
  return !findBy(e, 'canRetry', false);
}

/** Translates a @platformatic/kafka error; the adapter's own errors pass through. */
export function fromPlatformatic(e: unknown, operation: KafkaOperation): Error & { readonly retriable: boolean } {
  if (e instanceof Error && typeof (e as { retriable?: unknown }).retriable === 'boolean' && !GenericError.isGenericError(e)) return e as Error & { readonly retriable: boolean };
  if (!(e instanceof Error)) return new KafkaClientError(operation, 'Unknown', false, String(e), { cause: e });
  const g = GenericError.isGenericError(e) ? e : undefined;
  const kind = ((g && findBy(g, 'code', 'PLT_KFK_PROTOCOL')) as { apiId?: string } | null)?.apiId ?? (g?.code as string | undefined) ?? e.name;
  const detail = e instanceof AggregateError ? `${e.message} ${e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))).join('; ')}` : e.message;
  return new KafkaClientError(operation, kind, transient(e), detail, { cause: e });
}

export class PlatformaticBus implements Bus {
  /** What the adapter did so far (the fields of KafkaBus's stats). */
  readonly stats: KafkaBusStats = { produceRequests: 0, resentRecords: 0, deadLetters: 0, delivered: 0 };
  private readonly wire: WireCodec;
  private readonly clock: Clock;
  private readonly partitions = new Map<string, number>();
  private readonly tuning: Required<KafkaConsumerTuning>;
  private readonly groups = new Map<string, Group>();
  private readonly base: { clientId: string; bootstrapBrokers: string[]; retries: number; retryDelay: (c: unknown, op: string, attempt: number) => number };
  private producerReady: Promise<PkProducer> | undefined;
  private producer: PkProducer | undefined;
  private readonly batches: BatchQueue<Pending>;
  private closed = false;

  constructor(private readonly opts: PlatformaticBusOptions) {
    if (opts.legacyProtocol ?? true) installLegacyProtocol();
    this.batches = new BatchQueue((batch) => this.sendAcknowledged(batch), (e) => fromPlatformatic(e, 'publish'), opts);
    const first = opts.retryDelayMs ?? 100;
    this.base = {
      clientId: opts.clientId ?? 'quantum-trader', bootstrapBrokers: [...opts.brokers], retries: opts.retries ?? 8,
      retryDelay: (_c, _op, attempt) => Math.min(5_000, first * 2 ** Math.max(0, attempt - 1)),
    };
    this.wire = new WireCodec(opts.schemaIds ?? new LocalSchemaIds());
    this.clock = opts.clock ?? { now: () => Date.now() };
    for (const t of opts.topics ?? TOPIC_CONFIGS) this.partitions.set(t.name, t.partitions);
    this.tuning = {
      maxWaitTimeMs: opts.consumer?.maxWaitTimeMs ?? 500, sessionTimeoutMs: opts.consumer?.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: opts.consumer?.heartbeatIntervalMs ?? 3_000, rebalanceTimeoutMs: opts.consumer?.rebalanceTimeoutMs ?? 60_000,
    };
  }

  partitionFor(topic: TopicName, key: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new UnknownTopicError(topic);
    return kafkaPartition(key, n);
  }

  /** Reads the cluster's metadata (checking partition counts) and the writer schema ids; publish() does it on first use. */
  async connect(): Promise<void> {
    await this.producerConnected();
  }

  /** Resolves once connected and every group started so far has joined. */
  async ready(): Promise<void> {
    await this.producerConnected();
    await Promise.all([...this.groups.values()].filter((g) => g.started || g.startTimer).map((g) => g.joined));
  }

  /** The partitions of each topic assigned to this process's member of the group. */
  assignment(group: string): Readonly<Record<string, readonly number[]>> {
    const a = this.groups.get(group)?.consumer?.assignments ?? [];
    return Object.fromEntries(a.map((x) => [x.topic, [...x.partitions]]));
  }

  async publish<T extends TopicName>(topic: T, key: string, value: Topics[T], headers?: Record<string, string>): Promise<void> {
    if (this.closed) throw new KafkaBusClosedError();
    if (this.batches.failure) throw this.batches.failure;
    const partition = this.partitionFor(topic, key);
    const bytes = await this.wire.encode(topic, value);
    await this.batches.push({ topic, partition, key, value: bytes, timestamp: BigInt((value as { tsEvent: number }).tsEvent), headers });
  }

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
        this.startGroup(g).catch((e: unknown) => this.failGroup(g, fromPlatformatic(e, 'consume')));
      });
      return () => {
        g.topics.delete(topic);
        if (g.topics.size > 0) return;
        if (g.startTimer) clearImmediate(g.startTimer);
        g.startTimer = undefined;
        void this.stopGroup(g);
      };
    });
  }

  /** Commits offset + 1 for the group; resolves when a commit request carrying it is acknowledged. */
  commit(group: string, topic: TopicName, partition: number, offset: number): Promise<void> {
    if (this.closed) return Promise.reject(new KafkaBusClosedError());
    const g = this.groups.get(group);
    if (!g?.consumer) return Promise.reject(new ConsumerGroupStartedError(group, topic, 'commit() needs this process to consume the topic in that group'));
    return g.commits.commit(topic, partition, offset);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const g of groups) {
      if (g.startTimer) clearImmediate(g.startTimer);
      await this.stopGroup(g);
    }
    await this.batches.drained();
    this.closed = true;
    await this.producer?.close().catch(() => undefined);
    for (const g of groups) for (const { subscriber } of g.topics.values()) subscriber.complete();
  }

  // ---- producing ----

  private producerConnected(): Promise<PkProducer> {
    this.producerReady ??= (async () => {
      const producer: PkProducer = new Producer({ ...this.base, autocreateTopics: false, serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer } });
      try {
        const md = await producer.metadata({ topics: [...this.partitions.keys()] });
        for (const [name, t] of md.topics) {
          const expected = this.partitions.get(name)!;
          if ((this.opts.checkPartitions ?? true) && t.partitionsCount !== expected) throw new PartitionCountMismatchError(name, expected, t.partitionsCount);
        }
        await this.wire.prepare([...this.partitions.keys()] as TopicName[]);
      } catch (e) {
        await producer.close().catch(() => undefined);
        throw fromPlatformatic(e, 'connect');
      }
      return (this.producer = producer);
    })();
    this.producerReady.catch(() => (this.producerReady = undefined));
    return this.producerReady;
  }

  /** Sends the batch until every partition of it is acknowledged, resending the partitions a failed send left out. */
  private async sendAcknowledged(batch: readonly Pending[]): Promise<void> {
    const producer = await this.producerConnected();
    const rounds = this.opts.maxSendRounds ?? 5;
    let remaining = batch;
    let lastError: unknown;
    for (let round = 1; remaining.length > 0; round++) {
      if (round > rounds) throw lastError ?? new ProduceNotAcknowledgedError([...new Set(remaining.map((r) => `${r.topic}[${r.partition}]`))], rounds);
      this.stats.produceRequests++;
      let result: ProduceResult | undefined;
      try {
        result = await producer.send({
          acks: -1, compression: this.opts.compression ?? 'gzip',
          messages: remaining.map((r) => ({ topic: r.topic, partition: r.partition, key: r.key, value: r.value, timestamp: r.timestamp, ...(r.headers ? { headers: r.headers } : {}) })),
        });
      } catch (e) {
        if (!transient(e)) throw e;
        lastError = e;
        result = (e as { produced?: ProduceResult }).produced;
      }
      const acked = new Set((result?.offsets ?? []).map((o) => tp(o.topic, o.partition)));
      const next = remaining.filter((r) => !acked.has(tp(r.topic, r.partition)));
      this.stats.resentRecords += next.length;
      if (next.length > 0 && lastError) await sleep(100 * round);
      remaining = next;
    }
  }

  // ---- consuming ----

  private groupState(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      let markJoined!: () => void;
      let failJoin!: (e: unknown) => void;
      const joined = new Promise<void>((resolve, reject) => ((markJoined = resolve), (failJoin = reject)));
      joined.catch(() => undefined);
      g = { name, topics: new Map(), consumer: undefined, stream: undefined, started: false, startTimer: undefined, joined, markJoined, failJoin, backlog: undefined, stopping: undefined,
        commits: new CommitQueue(async (offsets) => {
          if (!g!.consumer) throw new ConsumerGroupStartedError(name, offsets[0]!.topic, 'the group stopped before the commit');
          await g!.consumer.commit({ offsets: offsets.map((e) => ({ topic: e.topic, partition: e.partition, offset: BigInt(e.offset + 1), leaderEpoch: -1 })) });
        }, (e) => fromPlatformatic(e, 'commit')) };
      this.groups.set(name, g);
    }
    return g;
  }

  private async startGroup(g: Group): Promise<void> {
    if (this.closed || g.topics.size === 0) return;
    g.started = true;
    const t = this.tuning;
    const consumer: PkConsumer = new Consumer({
      ...this.base, clientId: `${this.base.clientId}-${g.name}`, groupId: g.name, autocommit: false, maxWaitTime: t.maxWaitTimeMs, sessionTimeout: t.sessionTimeoutMs,
      heartbeatInterval: t.heartbeatIntervalMs, rebalanceTimeout: t.rebalanceTimeoutMs,
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
    g.consumer = consumer;
    consumer.on('consumer:group:join', () => g.markJoined());
    // A failed rejoin after a heartbeat error is emitted as 'error' on the consumer.
    consumer.on('error', (e: unknown) => this.failGroup(g, fromPlatformatic(e, 'consume')));
    const latest = [...g.topics.values()].every((x) => x.from === 'latest');
    const stream = await consumer.consume({ topics: [...g.topics.keys()], mode: 'committed', fallbackMode: latest ? 'latest' : 'earliest', autocommit: false });
    g.stream = stream;
    g.markJoined();
    stream.on('data', (m: PkMessage) => this.onMessage(g, stream, m));
    stream.on('error', (e: unknown) => this.failGroup(g, fromPlatformatic(e, 'consume')));
  }

  /** Emits at once when the record's schema id is known; otherwise pauses the stream and decodes (or dead-letters) in order. */
  private onMessage(g: Group, stream: MessagesStream<string, Buffer, string, string>, m: PkMessage): void {
    if (g.backlog) return void g.backlog.push(m);
    let value: unknown;
    try {
      value = this.wire.decodeKnown(m.topic as TopicName, m.value ?? EMPTY);
    } catch {
      value = undefined;
    }
    if (value !== undefined) return this.emit(g, m, value);
    g.backlog = [m];
    stream.pause();
    void this.drainBacklog(g, stream);
  }

  private async drainBacklog(g: Group, stream: MessagesStream<string, Buffer, string, string>): Promise<void> {
    try {
      for (let m = g.backlog?.shift(); m; m = g.backlog?.shift()) {
        let value: unknown;
        try {
          value = await this.wire.decode(m.topic as TopicName, m.value ?? EMPTY);
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          if ((err as { retriable?: boolean }).retriable === true || isDlqTopic(m.topic as TopicName)) throw err;
          const { value: letter, headers } = unreadableDeadLetter(
            { topic: m.topic, partition: m.partition, offset: Number(m.offset), key: m.key ?? null, payload: m.value ? Buffer.from(m.value) : EMPTY, timestamp: Number(m.timestamp) },
            g.name, err, this.clock.now());
          await this.publish(dlqOf(m.topic as DataTopic), letter.key ?? '', letter, headers);
          this.stats.deadLetters++;
          continue;
        }
        this.emit(g, m, value);
      }
      g.backlog = undefined;
      stream.resume();
    } catch (e) {
      this.failGroup(g, fromPlatformatic(e, 'consume'));
    }
  }

  private emit(g: Group, m: PkMessage, value: unknown): void {
    const entry = g.topics.get(m.topic);
    if (!entry) return;
    let headers: Record<string, string> | undefined;
    for (const [k, v] of m.headers) if (v !== undefined) (headers ??= {})[k] = v;
    this.stats.delivered++;
    entry.subscriber.next(Object.freeze({
      topic: m.topic, partition: m.partition, offset: Number(m.offset), key: m.key ?? '', value, timestamp: Number(m.timestamp), ...(headers ? { headers: Object.freeze(headers) } : {}),
    }));
  }

  private failGroup(g: Group, e: Error): void {
    g.failJoin(e);
    const subs = [...g.topics.values()];
    g.topics.clear();
    for (const { subscriber } of subs) subscriber.error(e);
    void this.stopGroup(g);
  }

  private stopGroup(g: Group): Promise<void> {
    if (!g.consumer) return Promise.resolve();
    g.stopping ??= (async () => {
      await new Promise<void>((resolve) => g.consumer!.close(true, () => resolve()));
      g.consumer = undefined;
      g.stream = undefined;
      if (this.groups.get(g.name) === g) this.groups.delete(g.name);
    })();
    return g.stopping;
  }
}
