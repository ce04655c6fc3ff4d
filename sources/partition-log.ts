import type { TopicConfig } from '../schemas/topic-config.ts';
import { FIRST_BYTES, SEGMENT_BYTES, Segment, type Headers, type Writer } from './log-segment.ts';

export type { Headers, Writer } from './log-segment.ts';

// A compacted partition is rewritten once its sealed segments hold at least this many dead bytes, and more dead than
// retained bytes: amortised O(1) per record, at most about twice the retained bytes plus the active segment.
const CLEAN_MIN_BYTES = 64 * 1024;


/**
 * One partition of a topic: an append-only log with offsets from 0, Kafka's retention applied at the head (by time and
 * by bytes, for `cleanup.policy` delete) and compaction to the latest record per key (for compact). It keeps the values
 * Avro-encoded in segments (see Segment), not as objects; the reader decodes them. Compaction here is immediate and
 * complete (Kafka leaves the active segment alone); records have no null values in our schemas, so there are no
 * tombstones.
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
  // In offset order; only the last one may be unsealed (the active segment). segments[0] is trimmed at its head lazily.
  private segments: Segment[] = [];
  /** Bytes of removed records in sealed segments still held. */
  private deadBytes = 0;
  /** Bytes held in segments, removed records included (what retention and compaction have not freed yet). */
  get heldBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.data.length;
    return n;
  }
  /** Offset of the latest record per key, for compaction. */
  private readonly latestByKey: Map<string, number> | undefined;
  private readonly byTime: boolean;
  private readonly byBytes: boolean;

  constructor(readonly topic: string, readonly partition: number, private readonly config: TopicConfig) {
    const deletes = config.cleanupPolicy !== 'compact';
    this.byTime = deletes && config.retentionMs >= 0;
    this.byBytes = deletes && config.retentionBytes >= 0;
    this.latestByKey = config.cleanupPolicy === 'delete' ? undefined : new Map();
  }

  /**
   * Appends a record at the next offset, its value written by `write`, then applies compaction and retention as of
   * `nowMs`. Returns the offset; if `write` throws, nothing is appended.
   */
  append(key: string, timestamp: number, headers: Headers | undefined, seq: number, nowMs: number, write: Writer): number {
    const offset = this.nextOffset;
    const size = this.push(offset, key, timestamp, seq, headers, write);
    this.nextOffset++;
    this.count++;
    this.bytes += size;
    if (this.latestByKey) {
      const previous = this.latestByKey.get(key);
      this.latestByKey.set(key, offset);
      if (previous !== undefined) this.removeOffset(previous);
      if (this.deadBytes >= CLEAN_MIN_BYTES && this.deadBytes > this.bytes) this.clean();
    }
    this.retain(nowMs);
    return offset;
  }

  /** Drops head records older than retention.ms, then while the partition holds more than retention.bytes. */
  retain(nowMs: number): void {
    if (this.byTime) {
      const cutoff = nowMs - this.config.retentionMs;
      for (let s = this.head(); s && s.ts[s.first]! < cutoff; s = this.head()) this.remove(s, s.first);
    }
    if (this.byBytes) {
      for (let s = this.head(); s && this.bytes > this.config.retentionBytes; s = this.head()) this.remove(s, s.first);
    }
  }

  /** Offset of the first retained record, or the end offset when none is retained. */
  startOffset(nowMs: number): number {
    this.retain(nowMs);
    const s = this.head();
    return s ? s.offsetAt(s.first) : this.nextOffset;
  }

  /** A reader of the retained records with from <= offset < to, in offset order, after applying retention as of `nowMs`. */
  read(from: number, to: number, nowMs: number): LogCursor {
    this.retain(nowMs);
    return new LogCursor(this, from, to);
  }

  /** The segment and index of the first record (retained or not) with an offset >= `offset`; undefined past the end. */
  seek(offset: number): { seg: Segment; i: number } | undefined {
    const { segments } = this;
    let lo = 0;
    let hi = segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid]!.base <= offset) lo = mid + 1;
      else hi = mid;
    }
    for (let k = Math.max(0, lo - 1); k < segments.length; k++) {
      const seg = segments[k]!;
      const i = seg.indexOf(offset);
      if (i < seg.n) return { seg, i };
    }
    return undefined;
  }

  private push(offset: number, key: string, timestamp: number, seq: number, headers: Headers | undefined, write: Writer): number {
    let seg = this.segments[this.segments.length - 1];
    if (seg && !seg.sealed) {
      const size = seg.push(offset, key, timestamp, seq, headers, write);
      if (size >= 0) return size;
      this.seal(seg);
    }
    seg = new Segment(offset, FIRST_BYTES);
    const size = seg.push(offset, key, timestamp, seq, headers, write);
    this.segments.push(seg);
    return size;
  }

  private seal(seg: Segment): void {
    seg.seal();
    this.deadBytes += seg.used - seg.liveBytes;
  }

  /** The first segment holding a retained record, positioned on it (dropping exhausted sealed segments); undefined if none. */
  private head(): Segment | undefined {
    for (;;) {
      const s = this.segments[0];
      if (!s) return undefined;
      while (s.first < s.n && s.removed[s.first]) s.first++;
      if (s.first < s.n) return s;
      if (!s.sealed) return undefined;
      this.drop(0);
    }
  }

  private drop(k: number): void {
    const [s] = this.segments.splice(k, 1);
    this.deadBytes -= s!.used - s!.liveBytes;
  }

  private removeOffset(offset: number): void {
    const at = this.seek(offset);
    if (!at || at.seg.offsetAt(at.i) !== offset || at.seg.removed[at.i]) return;
    this.remove(at.seg, at.i);
    if (at.seg.live === 0 && at.seg.sealed) this.drop(this.segments.indexOf(at.seg));
  }

  private remove(s: Segment, i: number): void {
    const size = s.ends[i]! - s.startAt(i);
    s.removed[i] = 1;
    s.live--;
    s.liveBytes -= size;
    this.count--;
    this.bytes -= size;
    if (s.sealed) this.deadBytes += size;
    if (this.latestByKey) {
      const key = s.keys[s.keyIds[i]!]!;
      if (this.latestByKey.get(key) === s.offsetAt(i)) this.latestByKey.delete(key);
    }
  }

  /** Kafka's log cleaner, complete: copies the retained records of the sealed segments into fresh ones. */
  private clean(): void {
    const active = this.segments[this.segments.length - 1]?.sealed === false ? this.segments.pop() : undefined;
    const out: Segment[] = [];
    let cur: Segment | undefined;
    for (const s of this.segments) {
      for (let i = s.first; i < s.n; i++) {
        if (s.removed[i]) continue;
        const start = s.startAt(i);
        const len = s.ends[i]! - start;
        const copy: Writer = (buf, pos) => {
          if (buf.length - pos < len) return buf.length - pos - len;
          s.data.copy(buf, pos, start, start + len);
          return pos + len;
        };
        const offset = s.offsetAt(i);
        const args = [offset, s.keys[s.keyIds[i]!]!, s.ts[i]!, s.seqs[i]!, s.headers?.get(i), copy] as const;
        if (!cur || cur.push(...args) < 0) {
          if (cur) cur.seal();
          cur = new Segment(offset, Math.min(SEGMENT_BYTES, Math.max(FIRST_BYTES, s.liveBytes)));
          cur.push(...args);
          out.push(cur);
        }
      }
      s.replaced = true;
    }
    cur?.seal();
    this.segments = active ? [...out, active] : out;
    this.deadBytes = 0;
  }
}

/**
 * Reads retained records of one partition in offset order, up to an end offset fixed at creation. Safe against
 * retention and compaction running between steps: removed records are skipped when reached, not when the cursor is made.
 */
export class LogCursor {
  private seg: Segment | undefined;
  private i = 0;
  private next: number;

  constructor(readonly log: PartitionLog, from: number, private readonly to: number) {
    this.next = from;
  }

  /** Positions the cursor on the next retained record; false when none is left below the end offset. */
  ready(): boolean {
    for (;;) {
      const s = this.seg;
      if (!s || s.replaced || this.i >= s.n) {
        if (this.next >= this.to) return false;
        const at = this.log.seek(this.next);
        if (!at) return false;
        this.seg = at.seg;
        this.i = at.i;
        continue;
      }
      const offset = s.offsetAt(this.i);
      if (offset >= this.to) return false;
      if (!s.removed[this.i]) return true;
      this.next = offset + 1;
      this.i++;
    }
  }

  /** Moves past the current record. */
  advance(): void {
    this.next = this.offset + 1;
    this.i++;
  }

  /** The current record's publish sequence. */
  get seq(): number {
    return this.seg!.seqs[this.i]!;
  }

  /** The current record's offset. */
  get offset(): number {
    return this.seg!.offsetAt(this.i);
  }

  /** The current record's key. */
  get key(): string {
    const s = this.seg!;
    return s.keys[s.keyIds[this.i]!]!;
  }

  /** The current record's timestamp, ms. */
  get timestamp(): number {
    return this.seg!.ts[this.i]!;
  }

  /** The current record's headers, if it has any. */
  get headers(): Headers | undefined {
    return this.seg!.headers?.get(this.i);
  }

  /** The current record's Avro-encoded value: a view of the log's memory (written once, never overwritten). */
  get value(): Buffer {
    const s = this.seg!;
    return s.data.subarray(s.startAt(this.i), s.ends[this.i]!);
  }
}

/** Of several cursors, the one whose current record was published first (publish order across partitions). */
export function firstBySeq(cursors: readonly LogCursor[]): LogCursor | undefined {
  let best: LogCursor | undefined;
  for (const c of cursors) if (c.ready() && (!best || c.seq < best.seq)) best = c;
  return best;
}
