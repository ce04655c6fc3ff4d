import { Subject, type Observable } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import type { Bar } from '../../schemas/bar.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import { ingestEpic } from '../ingest/epic.ts';
import type { ReplayScheduler } from '../replay-scheduler.ts';
import type { Market, MarketItem } from './market.ts';

/** A market replayed through the ingest without a bus: the validated bars, and what the ingest counted. */
export interface MarketBars {
  /** The ingest's bars (aggregated from trades, or validated klines), in event time; subscribe before pushing. */
  readonly bars$: Observable<Bar>;
  /** Bars out of the ingest and records it refused (md.trades.v1.dlq, md.bars.1m.v1.dlq). */
  readonly counts: { bars: number; deadLetters: number };
  /** Feeds one market record at its event time (the scheduler's clock follows it). */
  push(item: MarketItem): void;
  /** Ends the input: the ingest flushes its open bars and the bars complete. */
  complete(): void;
}

/**
 * The offline jobs' replay of a market (dataset export, evaluation): market records → ingestEpic (edge validation,
 * trades → 1m bars) with the scheduler set to each record's event time, so the same market gives the same bars.
 */
export function marketBars(market: Market, scheduler: ReplayScheduler, ingest: { readonly allowedLatenessMs: number; readonly maxJump?: number }): MarketBars {
  const trades = new Subject<SourceRecord<Trade>>();
  const bars = new Subject<SourceRecord<Bar>>();
  const counts = { bars: 0, deadLetters: 0 };
  const bars$ = ingestEpic(
    { trades, bars },
    { scheduler, allowedLatenessMs: ingest.allowedLatenessMs, ...(ingest.maxJump !== undefined ? { maxJump: ingest.maxJump } : {}), symbols: market.instruments },
  ).pipe(
    filter((o) => {
      if (o.topic.endsWith('.dlq')) counts.deadLetters++;
      return o.topic === 'md.bars.1m.v1';
    }),
    map((o) => {
      counts.bars++;
      return o.value as Bar;
    }),
  );
  return {
    bars$,
    counts,
    push(item) {
      scheduler.setTime(item.tsEvent);
      if (item.kind === 'trade') trades.next(item.record);
      else bars.next(item.record);
    },
    complete() {
      trades.complete();
      bars.complete();
    },
  };
}
