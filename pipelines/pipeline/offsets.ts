/** One input partition of a stage: a topic and a partition. */
export interface InputPartition {
  readonly topic: string;
  readonly partition: number;
}

/** An offset that may be committed: every record of the partition up to it is finished. */
export interface Committable extends InputPartition {
  readonly offset: number;
}

interface Track {
  readonly topic: string;
  readonly partition: number;
  /** Highest offset delivered to the stage. */
  delivered: number;
  /** Offsets delivered but not finished (async work pending), ascending. */
  readonly unfinished: number[];
  /** Highest offset committed (or handed out by committable()). */
  committed: number;
}

/**
 * Which input offsets a stage may commit: per partition, the highest offset below which every delivered record is
 * finished. A record is finished when its processing ended, including async work it started (inference); a record
 * finished after a later one holds that later one's commit back, so a commit never covers unfinished work.
 */
export class OffsetTracker {
  private readonly tracks = new Map<string, Track>();

  /** Notes a delivered record; returns its `finish`, to call once its work (and what it started) is done. */
  delivered(topic: string, partition: number, offset: number): () => void {
    const key = `${topic}\u0000${partition}`;
    let t = this.tracks.get(key);
    // A redelivery (after a rebalance, from the committed offset) starts the partition's track again; what was
    // committed stays the floor, so a commit never moves the group's offset back.
    if (!t || offset <= t.delivered) {
      t = { topic, partition, delivered: offset - 1, unfinished: [], committed: t ? t.committed : offset - 1 };
      this.tracks.set(key, t);
    }
    const track = t;
    track.delivered = offset;
    track.unfinished.push(offset);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const i = track.unfinished.indexOf(offset);
      if (i >= 0) track.unfinished.splice(i, 1);
    };
  }

  /** Offsets to commit now (each partition's highest fully finished offset above its last commit); marks them committed. */
  take(): Committable[] {
    const out: Committable[] = [];
    for (const t of this.tracks.values()) {
      const upTo = t.unfinished.length > 0 ? t.unfinished[0]! - 1 : t.delivered;
      if (upTo > t.committed) {
        out.push({ topic: t.topic, partition: t.partition, offset: upTo });
        t.committed = upTo;
      }
    }
    return out;
  }

  /** Records delivered whose work is not finished yet. */
  unfinished(): number {
    let n = 0;
    for (const t of this.tracks.values()) n += t.unfinished.length;
    return n;
  }
}
