/**
 * Where a consumer group stands in one partition of this member, so a dead-lettered record is committed only once every
 * record before it that went to the stage is committed (committing it earlier would commit those too).
 */
export class PartitionTrack {
  /** Highest offset known committed (or, at the start of an assignment, below the first record read). */
  private committedUpTo: number;
  /** Highest offset delivered to the subscriber. */
  private lastDelivered: number;
  /** Dead-lettered offsets not committed yet, ascending, with the highest offset delivered before each. */
  private readonly skipped: { readonly offset: number; readonly deliveredBefore: number }[] = [];

  /** A track that starts below `offset`, the first record read. */
  constructor(offset: number) {
    this.committedUpTo = offset - 1;
    this.lastDelivered = offset - 1;
  }

  /** The highest offset delivered or dead-lettered. */
  get last(): number {
    return Math.max(this.lastDelivered, this.skipped.at(-1)?.offset ?? -1);
  }

  /** The record at `offset` went to the subscriber. */
  delivered(offset: number): void {
    this.lastDelivered = offset;
  }

  /**
   * The record at `offset` was dead-lettered (and its dead letter acknowledged). Returns the offset to commit now, when
   * every record delivered before it is committed, else undefined (a later commit() carries it).
   */
  skip(offset: number): number | undefined {
    this.skipped.push({ offset, deliveredBefore: this.lastDelivered });
    const before = this.committedUpTo;
    return this.commit(before) > before ? this.committedUpTo : undefined;
  }

  /**
   * The stage commits `offset`: returns the offset to commit instead, past every dead-lettered offset whose
   * predecessors are then all committed, and records it as committed.
   */
  commit(offset: number): number {
    let upTo = offset;
    while (this.skipped.length > 0) {
      const s = this.skipped[0]!;
      if (s.offset <= upTo) this.skipped.shift();
      else if (s.deliveredBefore <= upTo) {
        upTo = s.offset;
        this.skipped.shift();
      } else break;
    }
    this.committedUpTo = Math.max(this.committedUpTo, upTo);
    return upTo;
  }
}

/** The tracks of a group's partitions in this member, by topic and partition. */
export class PartitionTracks {
  private readonly tracks = new Map<string, PartitionTrack>();

  /** The partition's track, if a record of it was read since the last assignment. */
  get(topic: string, partition: number): PartitionTrack | undefined {
    return this.tracks.get(`${topic}\u0000${partition}`);
  }

  /**
   * The track of the partition a record at `offset` was read from: a new one when none is kept, or when the consumer
   * went back to or before a record already seen (it resumed from the committed offset).
   */
  at(topic: string, partition: number, offset: number): PartitionTrack {
    const key = `${topic}\u0000${partition}`;
    let t = this.tracks.get(key);
    if (!t || offset <= t.last) {
      t = new PartitionTrack(offset);
      this.tracks.set(key, t);
    }
    return t;
  }

  /** Forgets every track: a new assignment resumes from the committed offsets, so positions are learnt again. */
  clear(): void {
    this.tracks.clear();
  }
}
