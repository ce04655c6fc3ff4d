import type { Subject } from 'rxjs';
import type { Bar } from '../../schemas/bar.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { StepPublisher } from '../pipeline/steps.ts';
import type { ReplayScheduler } from '../replay-scheduler.ts';
import type { Market, MarketItem } from './market.ts';

const MINUTE = 60_000;

/** What drives ingest through a market replay. */
export interface ReplayDriver {
  /** Ingest's clock: set to each record's time, advanced to each step's start (its lateness timers close bars). */
  readonly scheduler: ReplayScheduler;
  /** Ingest's publisher: each step is begun and ended on it. */
  readonly publisher: StepPublisher;
  readonly trades: Subject<SourceRecord<Trade>>;
  readonly bars: Subject<SourceRecord<Bar>>;
  /** Aborting stops the replay at the next record; the last step is still ended. */
  readonly signal?: AbortSignal;
  /** Awaited at the end of each step of records, before its mark is published (qt run: registry polls, test hooks). */
  readonly beforeMark?: (step: number, nextStep: number) => Promise<void> | void;
  /** Awaited after each step's mark (qt run: waits for the chain to settle, flushes, paces, reports progress). */
  readonly afterMark?: (step: number, last: boolean) => Promise<void>;
  /** Throws the first failure of the chain, if any (checked after every chunk). */
  readonly check?: () => void;
}

/**
 * Replays a market through ingest under the step protocol: the records of each minute are one step, published with
 * their step tags and closed by ingest's step mark. After the last record a final step, two minutes on, completes the
 * sources and lets ingest close the last bars. The same driver feeds `qt run` and `qt pipeline ingest`. Resolves true
 * when the signal interrupted it.
 */
export async function replayMarket(market: Market, d: ReplayDriver): Promise<boolean> {
  const { scheduler, publisher } = d;
  let step = Number.NaN;
  let clock = Number.NaN;
  const endStep = async (next: number): Promise<void> => {
    await d.beforeMark?.(step, next);
    await publisher.end(clock, false);
    await d.afterMark?.(step, false);
  };
  const push = (item: MarketItem): void => {
    scheduler.setTime(item.tsEvent);
    clock = item.tsEvent;
    if (item.kind === 'trade') d.trades.next(item.record);
    else d.bars.next(item.record);
  };
  let interrupted = false;
  replay: for await (const chunk of market.chunks()) {
    for (const item of chunk) {
      if (d.signal?.aborted) {
        interrupted = true;
        break replay;
      }
      const itemStep = Math.floor(item.tsEvent / MINUTE) * MINUTE;
      if (itemStep !== step) {
        const prev = step;
        if (!Number.isNaN(prev)) await endStep(itemStep);
        publisher.begin(itemStep, Number.isNaN(prev) ? -1 : prev);
        step = itemStep;
        clock = Math.max(scheduler.now(), itemStep);
        // Bars whose lateness ran out close now, in the new step.
        scheduler.advanceTo(clock);
      }
      push(item);
    }
    d.check?.();
  }
  const final = Number.isNaN(step) ? market.toMs : step + 2 * MINUTE;
  if (!Number.isNaN(step)) await endStep(final);
  publisher.begin(final, Number.isNaN(step) ? -1 : step);
  step = final;
  clock = final;
  d.trades.complete();
  d.bars.complete();
  scheduler.advanceTo(final);
  await publisher.end(final, true);
  await d.afterMark?.(final, true);
  d.check?.();
  return interrupted;
}
