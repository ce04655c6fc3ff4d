import type { Config } from '../config.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { marketBars } from '../run/market-bars.ts';
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
  const replay = marketBars(market, scheduler, config.market);
  const { bars$ } = replay;
  // exportDataset subscribes before its first await, so every record pushed below reaches it.
  const done = exportDataset({ ...opts, bars$, scheduler });
  // If the export fails early, stop feeding it and report its error.
  let failed = false;
  done.catch(() => (failed = true));
  try {
    for await (const chunk of market.chunks()) {
      if (failed) break;
      for (const item of chunk) replay.push(item);
    }
  } finally {
    replay.complete();
  }
  const summary = await done;
  return { market: market.description, bars: replay.counts.bars, deadLetters: replay.counts.deadLetters, summary };
}
