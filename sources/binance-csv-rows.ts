/**
 * Binance public-data CSV rows and file names (data.binance.vision layout): the 12-column kline row, the 6- or
 * 7-column trade row, and what a file name says about its contents. Pure functions, no I/O.
 */
import { barId, type Bar } from '../schemas/bar.ts';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Trade } from '../schemas/trade.ts';
import { binanceInstrument, EXCHANGE_OF_MARKET, marketFromPath, type BinanceMarket, type Instrument } from './symbols.ts';

/** What a data file holds. */
export type DataFileKind = 'klines' | 'trades';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Kline intervals of Binance file names and their length in ms (monthly `1mo` files are not supported). */
export const KLINE_INTERVAL_MS: Readonly<Record<string, number>> = {
  '1s': 1000, '1m': MINUTE, '3m': 3 * MINUTE, '5m': 5 * MINUTE, '15m': 15 * MINUTE, '30m': 30 * MINUTE,
  '1h': HOUR, '2h': 2 * HOUR, '4h': 4 * HOUR, '6h': 6 * HOUR, '8h': 8 * HOUR, '12h': 12 * HOUR, '1d': DAY,
  '3d': 3 * DAY, '1w': 7 * DAY,
};

/** A data file and what its name and folders say about it. */
export interface DataFileInfo {
  readonly path: string;
  readonly kind: DataFileKind;
  /** The Binance id from the file name, e.g. BTCUSDT. */
  readonly binanceId: string;
  readonly market: BinanceMarket;
  readonly exchange: string;
  /** ccxt unified symbol; the Binance id itself when it cannot be split. */
  readonly symbol: string;
  /** Kline interval, e.g. 1m (klines only). */
  readonly interval?: string;
  readonly intervalMs?: number;
  /** Event-time span the name promises, [fromMs, toMs), when it carries dates. */
  readonly fromMs?: number;
  readonly toMs?: number;
}

/** How to name instruments; the default follows the folders (usdm → binanceusdm, BTC/USDT:USDT). */
export interface NamingOptions {
  /** Forces the market instead of reading it from the folders. */
  readonly market?: BinanceMarket;
  /** Overrides the instrument of a Binance id (return null to use the default). */
  readonly instrumentOf?: (binanceId: string, path: string) => Instrument | null;
}

const NAME = /^([A-Za-z0-9_]+)-(trades|aggTrades|bookTicker|[0-9]+[a-zA-Z]+)-(.*?)\.csv(?:\.gz)?$/;
const DATES = /^(\d{4})-(\d{2})(?:-(\d{2}))?(?:_(\d{4})-(\d{2})-(\d{2}))?$/;

function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return path.slice(i + 1);
}

function dateSpan(s: string): { fromMs: number; toMs: number } | null {
  const m = DATES.exec(s);
  if (!m) return null;
  const [, y, mo, d, y2, mo2, d2] = m;
  const from = Date.UTC(Number(y), Number(mo) - 1, d ? Number(d) : 1);
  if (y2 !== undefined) return { fromMs: from, toMs: Date.UTC(Number(y2), Number(mo2) - 1, Number(d2)) + DAY };
  if (d !== undefined) return { fromMs: from, toMs: from + DAY };
  return { fromMs: from, toMs: Date.UTC(Number(y), Number(mo), 1) };
}

/** The kind of a data file from its name (`BTCUSDT-1m-…` klines, `BTCUSDT-trades-…` trades), or null. */
export function detectFileKind(path: string): DataFileKind | null {
  const m = NAME.exec(baseName(path));
  if (!m) return null;
  if (m[2] === 'trades') return 'trades';
  return KLINE_INTERVAL_MS[m[2]!] !== undefined ? 'klines' : null;
}

/** Everything the name and folders of a data file say; null when it is not a kline or trade file. */
export function describeDataFile(path: string, naming: NamingOptions = {}): DataFileInfo | null {
  const kind = detectFileKind(path);
  const m = NAME.exec(baseName(path));
  if (!kind || !m) return null;
  const binanceId = m[1]!.toUpperCase();
  const market = naming.market ?? marketFromPath(path);
  const inst = naming.instrumentOf?.(binanceId, path) ?? binanceInstrument(binanceId, market) ?? { exchange: EXCHANGE_OF_MARKET[market], symbol: binanceId };
  const span = dateSpan(m[3]!);
  return {
    path,
    kind,
    binanceId,
    market,
    exchange: inst.exchange,
    symbol: inst.symbol,
    ...(kind === 'klines' ? { interval: m[2]!, intervalMs: KLINE_INTERVAL_MS[m[2]!]! } : {}),
    ...(span ?? {}),
  };
}

/** Binance times are ms, or µs in spot dumps from 2025 on (and ns in some tools): scale by magnitude to ms. */
export function toMs(t: number): number {
  if (t > 1e17) return Math.floor(t / 1e6);
  if (t > 1e14) return Math.floor(t / 1e3);
  return t;
}

/** A numeric field; NaN when absent, empty, blank or not a number. */
export function num(s: string | undefined): number {
  if (s === undefined || s.length === 0) return Number.NaN;
  const n = Number(s);
  return n === 0 && s.trim().length === 0 ? Number.NaN : n;
}

/** An optional numeric field: 0 when empty (columns some sources leave blank), NaN when present but not a number. */
function optNum(s: string | undefined): number {
  return s === undefined || s.length === 0 ? 0 : num(s);
}

/** True when a first line is a header (USD-M dumps): its first field is a word, not a number. */
export function isHeader(fields: readonly string[]): boolean {
  return /^[A-Za-z_ "]+$/.test(fields[0] ?? '');
}

function malformed<T>(source: string, offset: number, raw: string, message: string): SourceRecord<T> {
  return { source, offset, raw, value: null, error: { reason: 'MALFORMED', message } };
}

/** Context of the rows of one file. */
export interface RowContext {
  readonly source: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly interval: string;
  readonly intervalMs: number;
}

const KLINE_FIELDS = ['open_time', 'open', 'high', 'low', 'close', 'volume'] as const;

/** A kline row as a Bar record (tsEvent = openTime + interval, tsInit = tsEvent); `time` is the row's open time. */
export function klineRecord(fields: readonly string[], openTime: number, ctx: RowContext, offset: number, raw: string): SourceRecord<Bar> {
  if (fields.length !== 12) return malformed(ctx.source, offset, raw, `kline row has ${fields.length} columns, expected 12`);
  const open = num(fields[1]);
  const high = num(fields[2]);
  const low = num(fields[3]);
  const close = num(fields[4]);
  const volume = num(fields[5]);
  const quoteVolume = optNum(fields[7]);
  const trades = optNum(fields[8]);
  const buyVolume = optNum(fields[9]);
  if (Number.isNaN(openTime + open + high + low + close + volume + quoteVolume + trades + buyVolume)) {
    const vals = [openTime, open, high, low, close, volume];
    const bad = vals.findIndex((v) => Number.isNaN(v));
    const name = bad >= 0 ? KLINE_FIELDS[bad] : Number.isNaN(quoteVolume) ? 'quote_asset_volume' : Number.isNaN(trades) ? 'number_of_trades' : 'taker_buy_base_asset_volume';
    return malformed(ctx.source, offset, raw, `kline field ${name} is not a number`);
  }
  const tsEvent = openTime + ctx.intervalMs;
  return {
    source: ctx.source,
    offset,
    raw,
    value: {
      id: barId(ctx.exchange, ctx.symbol, ctx.interval, openTime),
      tsEvent,
      tsInit: tsEvent,
      exchange: ctx.exchange,
      symbol: ctx.symbol,
      interval: ctx.interval,
      openTime,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume,
      buyVolume,
      trades,
    },
  };
}

function bool(s: string | undefined): boolean | undefined {
  switch (s) {
    case 'True':
    case 'true':
    case 'TRUE':
      return true;
    case 'False':
    case 'false':
    case 'FALSE':
      return false;
    default:
      return undefined;
  }
}

/** A trade row (`trade_id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]`) as a Trade record. */
export function tradeRecord(fields: readonly string[], time: number, ctx: RowContext, offset: number, raw: string): SourceRecord<Trade> {
  if (fields.length !== 7 && fields.length !== 6) return malformed(ctx.source, offset, raw, `trade row has ${fields.length} columns, expected 6 or 7`);
  const tradeId = fields[0]!;
  if (tradeId.length === 0 || tradeId.includes(' ')) return malformed(ctx.source, offset, raw, 'trade_id is empty or has blanks');
  const price = num(fields[1]);
  const size = num(fields[2]);
  if (Number.isNaN(price)) return malformed(ctx.source, offset, raw, 'trade field price is not a number');
  if (Number.isNaN(size)) return malformed(ctx.source, offset, raw, 'trade field qty is not a number');
  if (Number.isNaN(time)) return malformed(ctx.source, offset, raw, 'trade field time is not a number');
  const buyerMaker = bool(fields[5]);
  if (buyerMaker === undefined) return malformed(ctx.source, offset, raw, `is_buyer_maker ${JSON.stringify(fields[5])} is not true/false`);
  const bestMatch = fields[6];
  if (bestMatch !== undefined && bestMatch.length > 0 && bool(bestMatch) === undefined) {
    return malformed(ctx.source, offset, raw, `is_best_match ${JSON.stringify(bestMatch)} is not true/false/empty`);
  }
  return {
    source: ctx.source,
    offset,
    raw,
    value: {
      id: `${ctx.exchange}:${ctx.symbol}:${tradeId}`,
      tsEvent: time,
      tsInit: time,
      exchange: ctx.exchange,
      symbol: ctx.symbol,
      tradeId,
      price,
      size,
      // The buyer was the resting maker, so the aggressor sold.
      side: buyerMaker ? 'SELL' : 'BUY',
    },
  };
}
