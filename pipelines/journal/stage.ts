import type { Subscription } from 'rxjs';
import type { Bus, Journal } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';

/** The journal stage: every record of the given topics into the journal, offsets committed only once durable. */
export interface JournalStage {
  /** Records received so far (each is handed to the journal at the latest by the next flush). */
  readonly rows: () => number;
  /** Makes everything received so far durable, then commits the offsets: at-least-once, idempotent by event id. */
  flush(): Promise<void>;
  /** Stops consuming and hands the records still held to the journal (the caller flushes first to commit them). */
  stop(): void;
}

/**
 * Records of one topic handed to the journal in one `write` call: per-record calls cost an array, a promise and a
 * handler each (measured: several times the cost of the row mapping itself). Small enough that the journal still sees
 * its batches fill, and start inserting them, while the stream runs.
 */
export const WRITE_CHUNK = 512;

/**
 * How long (wall time) commits may keep failing for a retriable reason, flush after flush, before the stage gives up
 * (crash-only): longer than a rebalance after a broker is lost (session timeout, rejoin) takes.
 */
export const MAX_COMMIT_STALL_MS = 60_000;

/**
 * Starts the journal stage on a bus. The journal buffers and batches inserts itself; this stage hands it records in
 * chunks of WRITE_CHUNK per topic, decides when to make them durable (whenever one topic has delivered
 * `flushEveryRows` records since the last flush, and whenever the caller flushes) and commits offsets only after that.
 * Counting per topic, not in total, lets the journal's per-table batches fill before a flush forces them out: with
 * five busy topics, a total count would cut every table's insert to a fifth of a batch.
 */
export function startJournalStage(
  bus: Bus,
  journal: Journal,
  opts: {
    readonly group: string;
    readonly topics: readonly TopicName[];
    readonly flushEveryRows: number;
    readonly onError: (e: unknown) => void;
    /**
     * DELIBERATELY BROKEN, for the crash test only: commits each record's offset as soon as it arrives, before it is
     * written. A kill then loses the rows received but not yet flushed; the crash test must catch it.
     */
    readonly brokenCommitBeforeWrite?: boolean;
    /** Wall clock of the commit stall limit (default performance.now). */
    readonly now?: () => number;
  },
): JournalStage {
  const now = opts.now ?? (() => performance.now());
  const topics = opts.topics;
  let rows = 0;
  // Per topic (by index in `topics`): records not yet handed to the journal, records since the last flush, and the
  // highest offset received per partition (index = partition) since the last flush, committed after the next one.
  const held: unknown[][] = topics.map(() => []);
  const sinceFlush: number[] = topics.map(() => 0);
  const received: number[][] = topics.map(() => []);
  let flushing: Promise<void> = Promise.resolve();
  // A write that failed must stop every later commit: committing past it would lose its rows for good.
  let writeFailure: unknown;
  const subs: Subscription[] = [];
  const onWriteError = (e: unknown): void => {
    writeFailure ??= e;
    opts.onError(e);
  };

  const handOver = (i: number): void => {
    const batch = held[i]!;
    if (batch.length === 0) return;
    held[i] = [];
    journal.write(topics[i]!, batch as Topics[TopicName][]).catch(onWriteError);
  };

  // Since when commits have failed for a retriable reason (a rebalance in progress, a coordinator moving), flush after
  // flush; undefined while they succeed.
  let failingSince: number | undefined;
  const flush = (): Promise<void> => {
    const toCommit: { i: number; partition: number; offset: number }[] = [];
    for (let i = 0; i < topics.length; i++) {
      handOver(i);
      sinceFlush[i] = 0;
      const offs = received[i]!;
      if (offs.length === 0) continue;
      offs.forEach((offset, partition) => toCommit.push({ i, partition, offset }));
      received[i] = [];
    }
    flushing = flushing.then(async () => {
      if (writeFailure !== undefined) throw writeFailure;
      await journal.flush();
      if (writeFailure !== undefined) throw writeFailure;
      for (const [k, c] of toCommit.entries()) {
        try {
          await bus.commit(opts.group, topics[c.i]!, c.partition, c.offset);
        } catch (e) {
          // The rows are durable: commits that can wait (the group rebalancing) are tried again with the next flush, this
          // one and the rest of this flush's (a crash meanwhile only redelivers rows the journal keeps once). Commits
          // failing for longer than MAX_COMMIT_STALL_MS, or any other failure, stop the stage.
          failingSince ??= now();
          if ((e as { retriable?: unknown }).retriable !== true || now() - failingSince > MAX_COMMIT_STALL_MS) throw e;
          for (const later of toCommit.slice(k)) {
            const offs = received[later.i]!;
            offs[later.partition] = Math.max(offs[later.partition] ?? -1, later.offset);
          }
          return;
        }
      }
      // Only commits that went through end a stall: a flush with nothing to commit (none received during a rebalance,
      // the kept offsets not yet put back) says nothing about the group.
      if (toCommit.length > 0) failingSince = undefined;
    });
    flushing.catch(opts.onError);
    return flushing;
  };

  topics.forEach((topic, i) => {
    subs.push(
      bus.consume(topic, opts.group, { from: 'earliest' }).subscribe({
        next: (r) => {
          const batch = held[i]!;
          batch.push(r.value);
          rows++;
          received[i]![r.partition] = r.offset;
          if (opts.brokenCommitBeforeWrite) bus.commit(opts.group, topic, r.partition, r.offset).catch(opts.onError);
          if (batch.length >= WRITE_CHUNK) handOver(i);
          if (++sinceFlush[i]! >= opts.flushEveryRows) void flush();
        },
        error: opts.onError,
      }),
    );
  });
  return {
    rows: () => rows,
    flush,
    stop: () => {
      subs.forEach((s) => s.unsubscribe());
      // Not lost either way (their offsets stay uncommitted), but a journal closed after this still inserts them.
      for (let i = 0; i < topics.length; i++) handOver(i);
    },
  };
}
