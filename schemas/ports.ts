import type { Observable } from 'rxjs';
import type { TopicName, Topics } from './topics.ts';

/** One record read from or written to the bus. */
export interface BusRecord<T> {
  readonly topic: string;
  readonly partition: number;
  /** Offset within the partition; -1 before it is written. */
  readonly offset: number;
  readonly key: string;
  readonly value: T;
  /** Record timestamp, ms: the message's tsEvent. */
  readonly timestamp: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Where a consumer starts when its group has no committed offset. */
export type StartFrom = 'earliest' | 'latest';

/**
 * The bus port: topics with partitions, offsets and consumer groups. Implemented by the memory bus (one process) and by
 * the Kafka adapter. Delivery is at-least-once: a consumer commits an offset only after the effect of the record is
 * durable, and a restarted group resumes after its last commit.
 */
export interface Bus {
  /** Appends a message to a topic; the partition follows from the key. Resolves when the bus has it. */
  publish<T extends TopicName>(topic: T, key: string, value: Topics[T], headers?: Record<string, string>): Promise<void>;
  /** Reads a topic as a member of a consumer group: each record once per group, in order per partition. */
  consume<T extends TopicName>(topic: T, group: string, opts?: { from?: StartFrom }): Observable<BusRecord<Topics[T]>>;
  /** Marks every record of the partition up to and including offset as processed by the group. */
  commit(group: string, topic: TopicName, partition: number, offset: number): Promise<void>;
  /**
   * The next offset to be written, per partition: how far a reader must read to have everything published so far (a
   * restarted stage reading its own step marks). A bus without it makes such a reader assume nothing was published.
   */
  endOffsets?(topic: TopicName): readonly number[] | Promise<readonly number[]>;
  /** The offset of the first record still retained, per partition (the end offset when none is). */
  startOffsets?(topic: TopicName): readonly number[] | Promise<readonly number[]>;
  /**
   * Stops fetching one partition of a topic the group reads, until resume() (backpressure). Records already fetched may
   * still come. A bus without it delivers as it can (the memory bus hands each record over as it is published).
   */
  pause?(group: string, topic: TopicName, partition: number): void;
  /** Fetches a paused partition again. */
  resume?(group: string, topic: TopicName, partition: number): void;
  /** Releases resources. */
  close(): Promise<void>;
}

/** Time as seen by the process: wall time live, event time in a replay. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** A counter of events, in base units. */
export interface Counter {
  inc(labels?: Readonly<Record<string, string>>, value?: number): void;
}
/** A value that goes up and down. */
export interface Gauge {
  set(labels: Readonly<Record<string, string>>, value: number): void;
}
/** A distribution of observed values, in base units (seconds, bytes). */
export interface Histogram {
  observe(labels: Readonly<Record<string, string>>, value: number): void;
}

/** The metrics port. Names `qt_<thing>_<unit>`, counters end in `_total`, labels bounded (never ids or prices). */
export interface Meter {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(name: string, help: string, buckets: readonly number[], labelNames?: readonly string[]): Histogram;
}

/** A meter that records nothing (for tests that do not look at metrics). */
export const noopMeter: Meter = {
  counter: () => ({ inc: () => undefined }),
  gauge: () => ({ set: () => undefined }),
  histogram: () => ({ observe: () => undefined }),
};

/** The journal port: an idempotent, batched store of every message, queried in SQL. */
export interface Journal {
  /** Creates the tables if they do not exist. */
  init(): Promise<void>;
  /** Writes messages of one topic; rows with an id already written are replaced, not added. */
  write<T extends TopicName>(topic: T, messages: readonly Topics[T][]): Promise<void>;
  /** Makes every message written so far durable (inserted). */
  flush(): Promise<void>;
  /** Runs a query and returns its rows as objects. */
  query<R = Record<string, unknown>>(sql: string): Promise<R[]>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}

/** A message an epic emits, addressed to its topic with its bus key. */
export type Outgoing = { [T in TopicName]: { readonly topic: T; readonly key: string; readonly value: Topics[T] } }[TopicName];

/** Builds an outgoing message. */
export function out<T extends TopicName>(topic: T, key: string, value: Topics[T]): Outgoing {
  return { topic, key, value } as Outgoing;
}
