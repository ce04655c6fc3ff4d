import type { BusRecord } from '../schemas/ports.ts';
import type { TopicConfig } from '../schemas/topic-config.ts';

/** A record in a partition log, with what retention and catch-up need to know about it. */
export interface LogEntry {
  readonly record: BusRecord<unknown>;
  /** Bus-wide publish sequence: reads across partitions merge in publish order. */
  readonly seq: number;
  /** Avro-encoded size of the value, bytes. */
  readonly size: number;
  readonly log: PartitionLog;
  /** Dropped by retention or compacted away. */
  removed: boolean;
}

// Reclaim the array once at least this many dead slots make up more than half of it: amortised O(1) per record.
const RECLAIM_MIN = 1024;

/**
 * One partition of a topic: an append-only log with offsets from 0, Kafka's retention applied at the head (by time and
 * by bytes, for `cleanup.policy` delete) and compaction to the latest record per key (for compact). Compaction here is
 * immediate and complete (Kafka leaves the active segment alone); records have no null values in our schemas, so there
 * are no tombstones.
 */
export class PartitionLog {
  /** Next offset to write. */
  nextOffset = 0;
  /** Offset after the last record whose live delivery has run: catch-up reads below it, live delivery from it. */
  deliveredEnd = 0;
  /** Retained records. */
  count = 0;
  /** Retained bytes. */
  bytes = 0;
  // Retained entries are entries[head..] minus `removed` ones; entries[head] is always retained (or head = length).
  private entries: LogEntry[] = [];
  private head = 0;
  private holes = 0;
  private readonly latestByKey: Map<string, LogEntry> | undefined;
  private readonly byTime: boolean;
  private readonly byBytes: boolean;

  constructor(readonly topic: string, readonly partition: number, private readonly config: TopicConfig) {
    const deletes = config.cleanupPolicy !== 'compact';
    this.byTime = deletes && config.retentionMs >= 0;
    this.byBytes = deletes && config.retentionBytes >= 0;
    this.latestByKey = config.cleanupPolicy === 'delete' ? undefined : new Map();
  }

  /** Appends a record at the next offset, then applies compaction and retention as of `nowMs`. */
  append(make: (offset: number) => BusRecord<unknown>, seq: number, size: number, nowMs: number): LogEntry {
    const record = make(this.nextOffset++);
    const entry: LogEntry = { record, seq, size, log: this, removed: false };
    this.entries.push(entry);
    this.count++;
    this.bytes += size;
    if (this.latestByKey) {
      const previous = this.latestByKey.get(record.key);
      if (previous) this.remove(previous);
      this.latestByKey.set(record.key, entry);
    }
    this.retain(nowMs);
    return entry;
  }

  /** Drops head records older than retention.ms, then while the partition holds more than retention.bytes. */
  retain(nowMs: number): void {
    if (this.byTime) {
      const cutoff = nowMs - this.config.retentionMs;
      while (this.head < this.entries.length && this.entries[this.head]!.record.timestamp < cutoff) this.remove(this.entries[this.head]!);
    }
    if (this.byBytes) {
      while (this.bytes > this.config.retentionBytes && this.head < this.entries.length) this.remove(this.entries[this.head]!);
    }
  }

  /** Offset of the first retained record, or the end offset when none is retained. */
  startOffset(nowMs: number): number {
    this.retain(nowMs);
    return this.head < this.entries.length ? this.entries[this.head]!.record.offset : this.nextOffset;
  }

  /** Retained entries with from <= offset < to, in offset order, after applying retention as of `nowMs`. */
  retained(from: number, to: number, nowMs: number): LogEntry[] {
    this.retain(nowMs);
    const { entries } = this;
    let lo = this.head;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.record.offset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: LogEntry[] = [];
    for (let i = lo; i < entries.length && entries[i]!.record.offset < to; i++) if (!entries[i]!.removed) out.push(entries[i]!);
    return out;
  }

  private remove(e: LogEntry): void {
    e.removed = true;
    this.count--;
    this.bytes -= e.size;
    if (this.latestByKey?.get(e.record.key) === e) this.latestByKey.delete(e.record.key);
    this.holes++;
    while (this.head < this.entries.length && this.entries[this.head]!.removed) {
      this.head++;
      this.holes--;
    }
    const dead = this.head + this.holes;
    if (dead >= RECLAIM_MIN && dead * 2 > this.entries.length) {
      this.entries = this.entries.filter((x, i) => i >= this.head && !x.removed);
      this.head = 0;
      this.holes = 0;
    }
  }
}

/** Entries of several partitions in publish order. */
export function mergeBySeq(parts: readonly LogEntry[][]): LogEntry[] {
  if (parts.length === 1) return parts[0]!;
  return parts.flat().sort((a, b) => a.seq - b.seq);
}
