import { Subject } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import type { Bar } from '../../schemas/bar.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { Config } from '../config.ts';
import { ingestEpic } from '../ingest/epic.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { openMarket } from '../run/market.ts';
import { exportDataset, type ExportOptions, type ExportSummary } from './export.ts';
import type { WalkForwardSplits } from './splits.ts';

/** What `qt dataset export` did: the market it read, the bars and dead letters of the ingest, the export's summary. */
export interface MarketExportResult {
  readonly market: string;
  /** Bars published by the ingest (aggregated from trades, or validated klines). */
  readonly bars: number;
  /** Records the ingest refused (md.trades.v1.dlq and md.bars.1m.v1.dlq). */
  readonly deadLetters: number;
  readonly summary: ExportSummary & { readonly splits?: WalkForwardSplits };
}

/**
 * Exports a dataset from the market `qt run` would replay (config.run: synthetic by default, Binance kline or trade
 * CSV files with --data): market records → ingestEpic (edge validation, trades → 1m bars, dead letters counted) →
 * exportDataset. The replay is deterministic: records are pushed in the source's event-time order and the ingest's
 * clock is a ReplayScheduler set to each record's event time, so the same market gives the same files.
 */
export async function exportMarketDataset(config: Config, opts: Omit<ExportOptions, 'bars$' | 'scheduler'>): Promise<MarketExportResult> {
  const market = await openMarket(config);
  const scheduler = new ReplayScheduler(market.fromMs);
  const trades = new Subject<SourceRecord<Trade>>();
  const barsIn = new Subject<SourceRecord<Bar>>();
  let bars = 0;
  let deadLetters = 0;
  const bars$ = ingestEpic(
    { trades, bars: barsIn },
    { scheduler, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, symbols: market.instruments },
  ).pipe(
    filter((o) => {
      if (o.topic.endsWith('.dlq')) deadLetters++;
      return o.topic === 'md.bars.1m.v1';
    }),
    map((o) => {
      bars++;
      return o.value as Bar;
    }),
  );
  // exportDataset subscribes before its first await, so every record pushed below reaches it.
  const done = exportDataset({ ...opts, bars$, scheduler });
  // If the export fails early, stop feeding it and report its error.
  let failed = false;
  done.catch(() => (failed = true));
  try {
    for await (const chunk of market.chunks()) {
      if (failed) break;
      for (const item of chunk) {
        scheduler.setTime(item.tsEvent);
        if (item.kind === 'trade') trades.next(item.record);
        else barsIn.next(item.record);
      }
    }
  } finally {
    trades.complete();
    barsIn.complete();
  }
  const summary = await done;
  return { market: market.description, bars, deadLetters, summary };
}
