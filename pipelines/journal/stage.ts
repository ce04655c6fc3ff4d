import type { Subscription } from 'rxjs';
import type { Bus, Journal } from '../../schemas/ports.ts';
import type { TopicName } from '../../schemas/topics.ts';

/** The journal stage: every record of the given topics into the journal, offsets committed only once durable. */
export interface JournalStage {
  /** Rows handed to the journal so far. */
  readonly rows: () => number;
  /** Makes everything written so far durable, then commits the offsets: at-least-once, idempotent by event id. */
  flush(): Promise<void>;
  /** Stops consuming (after a final flush by the caller). */
  stop(): void;
}

/**
 * Starts the journal stage on a bus. The journal buffers and batches inserts itself; this stage decides when to make
 * them durable (`flushEveryRows`, and whenever the caller flushes) and commits offsets only after that.
 */
export function startJournalStage(
  bus: Bus,
  journal: Journal,
  opts: { readonly group: string; readonly topics: readonly TopicName[]; readonly flushEveryRows: number; readonly onError: (e: unknown) => void },
): JournalStage {
  let rows = 0;
  let sinceFlush = 0;
  // Highest offset handed to the journal, per topic and partition: committed after the next durable flush.
  const pending = new Map<string, { topic: TopicName; partition: number; offset: number }>();
  let flushing: Promise<void> = Promise.resolve();
  // A write that failed must stop every later commit: committing past it would lose its rows for good.
  let writeFailure: unknown;
  const subs: Subscription[] = [];

  const flush = (): Promise<void> => {
    const toCommit = [...pending.values()];
    pending.clear();
    sinceFlush = 0;
    flushing = flushing.then(async () => {
      if (writeFailure !== undefined) throw writeFailure;
      await journal.flush();
      if (writeFailure !== undefined) throw writeFailure;
      for (const c of toCommit) await bus.commit(opts.group, c.topic, c.partition, c.offset);
    });
    flushing.catch(opts.onError);
    return flushing;
  };

  for (const topic of opts.topics) {
    subs.push(
      bus.consume(topic, opts.group, { from: 'earliest' }).subscribe({
        next: (r) => {
          journal.write(topic, [r.value]).catch((e: unknown) => {
            writeFailure ??= e;
            opts.onError(e);
          });
          rows++;
          pending.set(`${topic}/${r.partition}`, { topic, partition: r.partition, offset: r.offset });
          if (++sinceFlush >= opts.flushEveryRows) void flush();
        },
        error: opts.onError,
      }),
    );
  }
  return {
    rows: () => rows,
    flush,
    stop: () => subs.forEach((s) => s.unsubscribe()),
  };
}
