import { double, field, long, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** md.bars.1m.v1: one closed OHLCV bar; tsEvent is the close time (openTime + interval). */
export const BarSchema = record('qt.md.Bar', {
  ...envelope,
  ...instrument,
  interval: field(string, { doc: 'bar interval, e.g. 1m' }),
  openTime: field(long, { doc: 'open time, ms since the epoch, on an interval boundary' }),
  open: double,
  high: double,
  low: double,
  close: double,
  volume: field(double, { doc: 'base volume' }),
  quoteVolume: field(double, { doc: 'quote volume' }),
  buyVolume: field(double, { doc: 'taker buy base volume' }),
  trades: field(long, { doc: 'number of trades' }),
}, 'A closed bar.');
/** md.bars.1m.v1 message. */
export type Bar = Infer<typeof BarSchema>;

/**
 * The id of a bar: `exchange:symbol:interval:openTime`, e.g. `binance:BTC/USDT:1m:1700000040000`. Readable and
 * deterministic, so a bar built from ticks and the same bar read from a kline file get the same id.
 */
export function barId(exchange: string, symbol: string, interval: string, openTime: number): string {
  return `${exchange}:${symbol}:${interval}:${openTime}`;
}
