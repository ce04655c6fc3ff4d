import { connect, race, timer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { filter, groupBy, mergeMap, toArray } from 'rxjs/operators';

/** Options of microBatch. */
export interface MicroBatchOptions {
  /** Emits a batch at the latest this long after its first item (live use); absent: only on a later item or the end. */
  readonly maxWaitMs?: number;
  /** Scheduler of the maxWaitMs timer. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Batches consecutive items with the same tsEvent (feature vectors of bars that closed together, across symbols), so
 * a model runs once per batch. A batch is emitted when an item with another tsEvent arrives, when the source completes,
 * or `maxWaitMs` after the batch's first item. Items keep their arrival order; an item arriving after its batch left
 * (late, or after the timer) starts a new batch.
 */
export function microBatch<T extends { readonly tsEvent: number }>(opts: MicroBatchOptions = {}): OperatorFunction<T, T[]> {
  const { maxWaitMs, scheduler } = opts;
  return connect((shared) =>
    shared.pipe(
      groupBy((item) => item.tsEvent, {
        // The open batch closes on the first item of another batch; the group operator has already opened that
        // batch (it subscribed to `shared` first), so batches are emitted in arrival order.
        duration: (group) => {
          const next = shared.pipe(filter((item) => item.tsEvent !== group.key));
          return maxWaitMs === undefined ? next : race(next, timer(maxWaitMs, scheduler));
        },
      }),
      mergeMap((group) => group.pipe(toArray())),
    ),
  );
}
