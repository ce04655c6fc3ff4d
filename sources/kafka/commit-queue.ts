/** A partition's offset to commit: the last record processed (the request carries offset + 1, the next to read). */
export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

interface Queued {
  readonly topic: string;
  readonly partition: number;
  offset: number;
  readonly waiters: (() => void)[];
  readonly failers: ((e: unknown) => void)[];
}

/**
 * The commits of one consumer group, shared by the Kafka adapters: commits that come while a request is on its way are
 * merged per partition (the latest offset wins) into the next request, and requests go one at a time, so a later
 * commit can never be overtaken by an earlier one. Each commit resolves once a request carrying it (or a later offset of
 * its partition) is acknowledged, and rejects with the request's failure, translated by `translate`.
 */
export class CommitQueue {
  private readonly queued = new Map<string, Queued>();
  private sending = false;

  constructor(
    /** Sends one commit request (offset + 1 per partition, as the client wants it). */
    private readonly send: (offsets: readonly CommitOffset[]) => Promise<void>,
    private readonly translate: (e: unknown) => unknown,
  ) {}

  /** Queues the partition's offset (the last record processed); resolves when it is committed. */
  commit(topic: string, partition: number, offset: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `${topic}\u0000${partition}`;
      const q = this.queued.get(key);
      if (q) {
        q.offset = offset;
        q.waiters.push(resolve);
        q.failers.push(reject);
      } else this.queued.set(key, { topic, partition, offset, waiters: [resolve], failers: [reject] });
      if (!this.sending) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.sending = true;
    try {
      while (this.queued.size > 0) {
        const entries = [...this.queued.values()];
        this.queued.clear();
        try {
          await this.send(entries.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
          for (const e of entries) for (const w of e.waiters) w();
        } catch (err) {
          const t = this.translate(err);
          for (const e of entries) for (const f of e.failers) f(t);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
