/** How a BatchQueue forms its batches. */
export interface BatchQueueOptions {
  /** A batch is sent this long after its first record unless it fills first (default 5 ms). */
  readonly lingerMs?: number;
  /** Records per batch (default 1000). */
  readonly maxBatchRecords?: number;
}

interface Waiting<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The producing side shared by the Kafka adapters: records collect for `lingerMs` (or until a batch is full) and go out
 * through `send`, one batch at a time, so order per partition holds through the client's retries; what comes while a
 * batch is on its way forms the next. A record's promise resolves once its batch is sent. A batch that fails rejects
 * its records and every later one with the same (translated) failure: crash-only, nothing is written after a gap.
 */
export class BatchQueue<T> {
  private queue: Waiting<T>[] = [];
  private flushing = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  /** The failure that ended the queue: every later record rejects with it. */
  failure: Error | undefined;

  constructor(
    /** Sends one batch; resolves once every record of it is acknowledged. */
    private readonly send: (batch: readonly T[]) => Promise<void>,
    private readonly translate: (e: unknown) => Error,
    private readonly opts: BatchQueueOptions = {},
  ) {}

  /** Queues a record for the next batch; resolves when that batch is sent. */
  push(item: T): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.flushing) return;
      if (this.queue.length >= (this.opts.maxBatchRecords ?? 1000)) this.startFlush();
      else this.lingerTimer ??= setTimeout(() => this.startFlush(), this.opts.lingerMs ?? 5);
    });
  }

  /** Resolves when nothing is queued or on its way. */
  drained(): Promise<void> {
    if (this.queue.length > 0 && !this.flushing) this.startFlush();
    if (!this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private startFlush(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.flushing) return;
    this.flushing = true;
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.opts.maxBatchRecords ?? 1000);
        if (!this.failure) {
          try {
            await this.send(batch.map((w) => w.item));
            for (const w of batch) w.resolve();
            continue;
          } catch (e) {
            this.failure = this.translate(e);
          }
        }
        for (const w of batch) w.reject(this.failure);
      }
    } finally {
      this.flushing = false;
      for (const f of this.idle.splice(0)) f();
    }
  }
}
