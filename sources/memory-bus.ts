import { Observable, type Subscriber } from 'rxjs';
import { codecFor, type Codec } from '../schemas/codec.ts';
import type { Bus, BusRecord, Clock, StartFrom } from '../schemas/ports.ts';
import { TOPIC_CONFIGS, type TopicConfig } from '../schemas/topic-config.ts';
import { schemaOf, type TopicName, type Topics } from '../schemas/topics.ts';
import { kafkaPartition } from './murmur2.ts';
import { firstBySeq, PartitionLog, type LogCursor, type Writer } from './partition-log.ts';

/** Options of the memory bus. */
export interface MemoryBusOptions {
  /** Time for retention by `retention.ms` (replay time in a replay). */
  readonly clock: Clock;
  /** Topics and their settings; default deploy/kafka/topics.json. Pass edited copies to shrink retention in a long replay. */
  readonly topics?: readonly TopicConfig[];
  /**
   * Check each value against its topic's Avro schema on publish (default true). Values are encoded either way, since the
   * log retains the bytes: without the check, a value that does not match may be kept as bytes that do not decode back
   * to it (late readers then get another value or a DecodeError), while live delivery still passes the object.
   */
  readonly validate?: boolean;
}

/** Retained records and bytes (Avro-encoded values) of one topic. */
export interface TopicStats {
  readonly partitions: number;
  readonly records: number;
  readonly bytes: number;
}

/** Raised for a topic that is not configured on the bus. */
export class UnknownTopicError extends Error {
  override readonly name = 'UnknownTopicError';
  readonly retriable = false;
  constructor(readonly topic: string) {
    super(`unknown topic ${topic}`);
  }
}

/** Raised for a partition number outside the topic's partitions, or an offset that is not an integer >= -1. */
export class InvalidPartitionError extends Error {
  override readonly name = 'InvalidPartitionError';
  readonly retriable = false;
  constructor(readonly topic: string, readonly partition: number, readonly offset?: number) {
    super(`invalid partition ${partition}${offset === undefined ? '' : ` or offset ${offset}`} of ${topic}`);
  }
}

/** Raised when the bus is used after close(). */
export class BusClosedError extends Error {
  override readonly name = 'BusClosedError';
  readonly retriable = false;
  constructor() {
    super('the memory bus is closed');
  }
}

// A partition position of a member: not owned, owned but waiting for its catch-up, or (>= 0) the next offset to deliver.
const NOT_OWNED = -1;
const PENDING = -2;

interface TopicState {
  readonly config: TopicConfig;
  readonly codec: Codec<unknown>;
  readonly logs: PartitionLog[];
  readonly groups: GroupState[];
  readonly partitionOfKey: Map<string, number>;
}

interface GroupState {
  readonly name: string;
  readonly topic: TopicState;
  /** Active members by ascending id (join order): the round-robin order of the assignment. */
  readonly members: Member[];
  readonly owner: (Member | undefined)[];
  /** Next offset to read per partition (committed offset + 1); undefined when never committed. */
  readonly committed: (number | undefined)[];
}

interface Member {
  readonly id: number;
  readonly group: GroupState;
  readonly subscriber: Subscriber<BusRecord<unknown>>;
  readonly from: StartFrom;
  readonly pos: number[];
  active: boolean;
}

type Task = BusRecord<unknown> | { readonly rebalance: GroupState };

/**
 * The bus of a single process: Kafka's model (partitions, offsets, consumer groups, retention, compaction) in memory,
 * configured from deploy/kafka/topics.json. Delivery is synchronous and FIFO through a trampoline: a record published
 * while another is being delivered is queued and delivered after it, never re-entrantly, so every consumer sees the
 * records in publish order and a replay is deterministic. A record is delivered live to each group's owner of its
 * partition even if retention has already dropped it; catch-up reads see only what retention kept.
 *
 * The log retains each value Avro-encoded (the bytes that publish validates and sizes anyway), packed into segments with
 * the record's key, timestamp, offset and headers beside them, not the object: about 150 bytes per 1-minute bar instead
 * of 550, mostly outside the JS heap. Live delivery passes the published object itself (nothing is decoded on the hot
 * path); catch-up reads (a late group, a resume from a commit, a partition taken over) and records() decode with the
 * topic's codec, so they get equal but new objects.
 */
export class MemoryBus implements Bus {
  private readonly clock: Clock;
  private readonly validate: boolean;
  private readonly topics = new Map<string, TopicState>();
  private readonly queue: (Task | undefined)[] = [];
  private queueHead = 0;
  private delivering = false;
  private closed = false;
  private seq = 0;
  private memberIds = 0;

  constructor(opts: MemoryBusOptions) {
    this.clock = opts.clock;
    this.validate = opts.validate ?? true;
    for (const config of opts.topics ?? TOPIC_CONFIGS) {
      const logs = Array.from({ length: config.partitions }, (_, p) => new PartitionLog(config.name, p, config));
      const codec = codecFor(schemaOf(config.name)) as Codec<unknown>;
      this.topics.set(config.name, { config, codec, logs, groups: [], partitionOfKey: new Map() });
    }
  }

  /** Appends a record and delivers it (synchronously unless a delivery is in progress); rejects with EncodeError etc. */
  async publish<T extends TopicName>(topic: T, key: string, value: Topics[T], headers?: Record<string, string>): Promise<void> {
    this.publishSync(topic, key, value, headers);
  }

  /** publish() without the promise: returns the appended record (with its partition and offset), throws on error. */
  publishSync<T extends TopicName>(topic: T, key: string, value: Topics[T], headers?: Record<string, string>): BusRecord<Topics[T]> {
    if (this.closed) throw new BusClosedError();
    const t = this.topicState(topic);
    // Any invalid value goes through codec.encode, which throws EncodeError naming the bad fields.
    if (this.validate && !t.codec.type.isValid(value)) t.codec.encode(value);
    const log = t.logs[this.partitionOf(t, key)]!;
    const frozen = headers ? Object.freeze({ ...headers }) : undefined;
    const timestamp = value.tsEvent;
    const offset = log.append(key, timestamp, frozen, this.seq, this.clock.now(), this.writer(t, value));
    this.seq++;
    const record: BusRecord<Topics[T]> = Object.freeze({
      topic, partition: log.partition, offset, key, value, timestamp, ...(frozen ? { headers: frozen } : {}),
    });
    this.schedule(record);
    return record;
  }

  /** Reads a topic as a member of a group: retained records from the group's position (default from: earliest), then live ones. */
  consume<T extends TopicName>(topic: T, group: string, opts: { from?: StartFrom } = {}): Observable<BusRecord<Topics[T]>> {
    return new Observable<BusRecord<Topics[T]>>((subscriber) => {
      if (this.closed) return subscriber.error(new BusClosedError());
      const t = this.topics.get(topic);
      if (!t) return subscriber.error(new UnknownTopicError(topic));
      const g = this.groupState(t, group);
      const member: Member = {
        id: this.memberIds++, group: g, subscriber: subscriber as Subscriber<BusRecord<unknown>>,
        from: opts.from ?? 'earliest', pos: new Array<number>(t.logs.length).fill(NOT_OWNED), active: true,
      };
      g.members.push(member);
      this.schedule({ rebalance: g });
      return () => {
        member.active = false;
        const i = g.members.indexOf(member);
        if (i >= 0) g.members.splice(i, 1);
        if (!this.closed) this.schedule({ rebalance: g });
      };
    });
  }

  /** Stores offset + 1 as the group's position in the partition: a restarted member resumes there. */
  async commit(group: string, topic: TopicName, partition: number, offset: number): Promise<void> {
    if (this.closed) throw new BusClosedError();
    const t = this.topicState(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.logs.length || !Number.isInteger(offset) || offset < -1) {
      throw new InvalidPartitionError(topic, partition, offset);
    }
    this.groupState(t, group).committed[partition] = offset + 1;
  }

  /** Completes every consumer; publish, commit and consume fail afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.topics.values()) {
      for (const g of t.groups) for (const m of [...g.members]) m.subscriber.complete();
    }
  }

  /** The partition Kafka's default partitioner gives the key in this topic. */
  partitionFor(topic: TopicName, key: string): number {
    return this.partitionOf(this.topicState(topic), key);
  }

  /** Next offset to be written, per partition. */
  endOffsets(topic: TopicName): number[] {
    return this.topicState(topic).logs.map((l) => l.nextOffset);
  }

  /** Offset of the first retained record per partition (the end offset when none is retained). */
  startOffsets(topic: TopicName): number[] {
    const now = this.clock.now();
    return this.topicState(topic).logs.map((l) => l.startOffset(now));
  }

  /** The group's committed positions (next offset to read) per partition; undefined where it never committed. */
  committed(group: string, topic: TopicName): (number | undefined)[] {
    return [...this.groupState(this.topicState(topic), group).committed];
  }

  /** Retained records of one partition in offset order, or of every partition in publish order. */
  records<T extends TopicName>(topic: T, partition?: number): BusRecord<Topics[T]>[] {
    const t = this.topicState(topic);
    if (partition !== undefined && !t.logs[partition]) throw new InvalidPartitionError(topic, partition);
    const logs = partition === undefined ? t.logs : [t.logs[partition]!];
    const now = this.clock.now();
    const cursors = logs.map((l) => l.read(0, l.nextOffset, now));
    const out: BusRecord<Topics[T]>[] = [];
    for (let c = firstBySeq(cursors); c; c = firstBySeq(cursors)) {
      out.push(this.decode(t, c) as BusRecord<Topics[T]>);
      c.advance();
    }
    return out;
  }

  /** Retained records and bytes per topic, in topic-list order. */
  stats(): Record<string, TopicStats> {
    const out: Record<string, TopicStats> = {};
    const now = this.clock.now();
    for (const [name, t] of this.topics) {
      let records = 0;
      let bytes = 0;
      for (const l of t.logs) {
        l.retain(now);
        records += l.count;
        bytes += l.bytes;
      }
      out[name] = { partitions: t.logs.length, records, bytes };
    }
    return out;
  }

  private topicState(topic: string): TopicState {
    const t = this.topics.get(topic);
    if (!t) throw new UnknownTopicError(topic);
    return t;
  }

  private groupState(t: TopicState, name: string): GroupState {
    let g = t.groups.find((x) => x.name === name);
    if (!g) {
      const n = t.logs.length;
      g = { name, topic: t, members: [], owner: new Array(n).fill(undefined), committed: new Array(n).fill(undefined) };
      t.groups.push(g);
    }
    return g;
  }

  private partitionOf(t: TopicState, key: string): number {
    let p = t.partitionOfKey.get(key);
    if (p === undefined) {
      p = kafkaPartition(key, t.logs.length);
      // Keys are instruments and accounts, a small set; the bound only guards against a flood of odd dead-letter keys.
      if (t.partitionOfKey.size >= 10_000) t.partitionOfKey.clear();
      t.partitionOfKey.set(key, p);
    }
    return p;
  }

  /** Encodes the value straight into the log's segment; a value avsc cannot write at all fails as EncodeError. */
  private writer(t: TopicState, value: unknown): Writer {
    return (buf, pos) => {
      try {
        return t.codec.type.encode(value, buf, pos);
      } catch (e) {
        t.codec.encode(value);
        throw e;
      }
    };
  }

  /** The cursor's current record, its value decoded from the retained bytes. */
  private decode(t: TopicState, c: LogCursor): BusRecord<unknown> {
    // avsc copies a bytes field out of the buffer it reads, so a decoded value never aliases the log's memory.
    const value = t.codec.decode(c.value);
    const { headers } = c;
    return Object.freeze({
      topic: t.config.name, partition: c.log.partition, offset: c.offset, key: c.key, value, timestamp: c.timestamp,
      ...(headers ? { headers } : {}),
    });
  }

  private schedule(task: Task): void {
    this.queue.push(task);
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.queueHead < this.queue.length) {
        const next = this.queue[this.queueHead]!;
        this.queue[this.queueHead++] = undefined;
        if ('rebalance' in next) this.rebalance(next.rebalance);
        else this.deliverLive(next);
      }
    } finally {
      this.delivering = false;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
    }
  }

  private deliverLive(record: BusRecord<unknown>): void {
    const t = this.topics.get(record.topic)!;
    const log = t.logs[record.partition]!;
    for (const g of t.groups) {
      const m = g.owner[log.partition];
      if (!m || !m.active || m.subscriber.closed) continue;
      const pos = m.pos[log.partition]!;
      if (pos >= 0 && record.offset >= pos) {
        m.pos[log.partition] = record.offset + 1;
        m.subscriber.next(record);
      }
    }
    log.deliveredEnd = record.offset + 1;
  }

  /** Round-robin assignment of the partitions over the members in join order; new owners catch up from the commit. */
  private rebalance(g: GroupState): void {
    const gained: Member[] = [];
    const n = g.members.length;
    for (let p = 0; p < g.owner.length; p++) {
      const next = n > 0 ? g.members[p % n] : undefined;
      const previous = g.owner[p];
      if (next === previous) continue;
      if (previous) previous.pos[p] = NOT_OWNED;
      g.owner[p] = next;
      if (next) {
        next.pos[p] = PENDING;
        if (!gained.includes(next)) gained.push(next);
      }
    }
    for (const m of gained.sort((a, b) => a.id - b.id)) this.catchUp(m);
  }

  /** Delivers the retained records of the member's newly owned partitions, merged in publish order. */
  private catchUp(m: Member): void {
    const { group } = m;
    const t = group.topic;
    const cursors: LogCursor[] = [];
    const now = this.clock.now();
    for (let p = 0; p < m.pos.length; p++) {
      if (m.pos[p] !== PENDING) continue;
      const log = t.logs[p]!;
      const start = group.committed[p] ?? (m.from === 'earliest' ? 0 : log.deliveredEnd);
      m.pos[p] = start;
      cursors.push(log.read(start, log.deliveredEnd, now));
    }
    // Lazily, one record at a time: a handler may publish meanwhile, and retention or compaction then removes records
    // that this catch-up must skip; and a long log is never materialised as objects.
    for (let c = firstBySeq(cursors); c; c = firstBySeq(cursors)) {
      const p = c.log.partition;
      // A subscriber that stopped during its own catch-up (take(n)) is closed before its teardown is registered.
      if (!m.active || m.subscriber.closed) return;
      const offset = c.offset;
      if (group.owner[p] !== m || offset < m.pos[p]!) {
        c.advance();
        continue;
      }
      let record: BusRecord<unknown>;
      try {
        record = this.decode(t, c);
      } catch (e) {
        // Only bytes published with validate: false can fail to decode; the reader fails as a Kafka consumer would.
        m.subscriber.error(e);
        return;
      }
      c.advance();
      m.pos[p] = offset + 1;
      m.subscriber.next(record);
    }
  }
}
