import type { Subject } from 'rxjs';
import type { Bar } from '../../schemas/bar.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import type { StepPublisher } from '../pipeline/step-publisher.ts';
import type { ReplayScheduler } from '../replay-scheduler.ts';
import type { Market, MarketItem } from './market.ts';

const MINUTE = 60_000;
/** Steps whose marks may be unacknowledged while ingest reads on (a bound on what a fast replay holds in memory). */
const MARKS_IN_FLIGHT = 32;

/** What drives ingest through a market replay. */
export interface ReplayDriver {
  /** Ingest's clock: set to each record's time, advanced to each step's start (its lateness timers close bars). */
  readonly scheduler: ReplayScheduler;
  /** Ingest's publisher: each step is begun and ended on it. */
  readonly publisher: StepPublisher;
  readonly trades: Subject<SourceRecord<Trade>>;
  readonly bars: Subject<SourceRecord<Bar>>;
  /** Aborting stops the replay at the next record; the open step is left unmarked. */
  readonly signal?: AbortSignal;
  /** Awaited at the end of each step of records, before its mark is published (qt run: registry polls, test hooks). */
  readonly beforeMark?: (step: number, nextStep: number) => Promise<void> | void;
  /**
   * Awaited after each step is ended, with its mark's acknowledgement (qt run awaits it and the chain's settling, then
   * flushes, paces and reports progress). At most MARKS_IN_FLIGHT marks are left unacknowledged.
   */
  readonly afterMark?: (step: number, last: boolean, marked: Promise<StepMark>) => Promise<void>;
  /** Throws the first failure of the chain, if any (checked after every chunk). */
  readonly check?: () => void;
}

/**
 * Replays a market through ingest under the step protocol: the records of each minute are one step, published with
 * their step tags and closed by ingest's step mark. After the last record a final step, two minutes on, completes the
 * sources and lets ingest close the last bars. The same driver feeds `qt run` and `qt pipeline ingest`. Resolves true
 * when the signal interrupted it: then the open step stays unmarked and no final step is published.
 */
export async function replayMarket(market: Market, d: ReplayDriver): Promise<boolean> {
  const { scheduler, publisher } = d;
  let step = Number.NaN;
  let clock = Number.NaN;
  const inFlight: Promise<StepMark>[] = [];
  const endStep = async (next: number): Promise<void> => {
    await d.beforeMark?.(step, next);
    const marked = publisher.end(clock, false);
    inFlight.push(marked);
    if (inFlight.length > MARKS_IN_FLIGHT) await inFlight.shift();
    await d.afterMark?.(step, false, marked);
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
      // A tick late by a minute or more stays in the open step (ingest's lateness rule judges it): steps only go on.
      const itemStep = Number.isNaN(step) ? Math.floor(item.tsEvent / MINUTE) * MINUTE : Math.max(step, Math.floor(item.tsEvent / MINUTE) * MINUTE);
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
  // Interrupted (SIGTERM, Ctrl-C): the open step is left unmarked, so no stage takes a partial minute for a whole one;
  // a restarted ingest publishes it again in full.
  if (interrupted) {
    await Promise.all(inFlight);
    return true;
  }
  const final = Number.isNaN(step) ? market.toMs : step + 2 * MINUTE;
  if (!Number.isNaN(step)) await endStep(final);
  publisher.begin(final, Number.isNaN(step) ? -1 : step);
  step = final;
  clock = final;
  d.trades.complete();
  d.bars.complete();
  scheduler.advanceTo(final);
  const marked = publisher.end(final, true);
  await d.afterMark?.(final, true, marked);
  await Promise.all([...inFlight, marked]);
  d.check?.();
  return interrupted;
}
