import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import { openDataFiles } from '../../sources/binance-csv.ts';
import { SYNTHETIC_EXCHANGE, syntheticRecordBatches, syntheticSymbols } from '../../sources/synthetic-market.ts';
import type { Config } from '../config.ts';

/** One input record of the replay, with its event time. */
export type MarketItem =
  | { readonly kind: 'trade'; readonly tsEvent: number; readonly record: SourceRecord<Trade> }
  | { readonly kind: 'bar'; readonly tsEvent: number; readonly record: SourceRecord<Bar> };

/** A market to replay: its time span, its instruments and its records in event-time order, in chunks. */
export interface Market {
  readonly description: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Known instruments (exchange:symbol); records of others are dead letters. */
  readonly instruments: ReadonlySet<string>;
  chunks(): AsyncIterable<readonly MarketItem[]>;
}

/** Start of the synthetic market when --from is not given: a fixed Monday, so runs are reproducible. */
export const DEFAULT_SYNTHETIC_START = Date.UTC(2025, 0, 6);
const DAY = 86_400_000;

/** Raised when the market cannot be opened (no files, mixed kinds, nothing in range). */
export class MarketOpenError extends Error {
  override readonly name = 'MarketOpenError';
  readonly retriable = false;
}

/** Opens the market the config asks for: Binance CSV files when --data is given, else the seeded synthetic market. */
export async function openMarket(config: Config): Promise<Market> {
  const run = config.run;
  if (run.data.length === 0) {
    const fromMs = run.from ?? DEFAULT_SYNTHETIC_START;
    const toMs = run.to ?? fromMs + run.syntheticDays * DAY;
    // `--symbols 8` asks the synthetic market for 8 symbols; names pick them.
    const count = run.symbols.length === 1 && /^\d+$/.test(run.symbols[0]!) ? Number(run.symbols[0]) : undefined;
    const symbols = count !== undefined ? syntheticSymbols(count) : run.symbols.length > 0 ? run.symbols : syntheticSymbols(run.syntheticSymbols);
    const opts = { symbols, seed: run.seed, fromMs, toMs, tradesPerMinute: config.market.tradesPerMinute };
    return {
      description: `synthetic market, ${symbols.length} symbols, seed ${run.seed}`,
      fromMs,
      toMs,
      instruments: new Set(symbols.map((s) => instrumentKey({ exchange: SYNTHETIC_EXCHANGE, symbol: s }))),
      async *chunks() {
        for (const batch of syntheticRecordBatches(opts)) {
          yield batch.map((record) => ({ kind: 'trade' as const, tsEvent: record.value!.tsEvent, record }));
        }
      },
    };
  }
  const files = await openDataFiles(run.data, { symbols: run.symbols, fromMs: run.from, toMs: run.to });
  if (files.kind === 'mixed') {
    throw new MarketOpenError('--data mixes kline and trade files; give one kind per run');
  }
  return {
    description: `${files.files.length} Binance ${files.kind} file(s)`,
    fromMs: files.fromMs,
    toMs: files.toMs,
    instruments: files.instruments,
    chunks: () => files.chunks(),
  };
}
