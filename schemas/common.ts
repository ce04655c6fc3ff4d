import { field, long, string } from './avro.ts';

/** Fields every message carries (Nautilus style): a deterministic id, the domain time and the creation time. */
export const envelope = {
  id: field(string, { doc: 'deterministic id: derived from the inputs, never random' }),
  tsEvent: field(long, { doc: 'domain time of the event, ms since the epoch (UTC)' }),
  tsInit: field(long, { doc: 'time this message was created, ms since the epoch, from the injected clock' }),
} as const;

/** The instrument a message is about; its bus key is `exchange:symbol`. */
export const instrument = {
  exchange: field(string, { doc: 'ccxt exchange id, e.g. binance' }),
  symbol: field(string, { doc: 'ccxt unified symbol, e.g. BTC/USDT' }),
} as const;

/** The bus key of an instrument: `exchange:symbol`. */
export function instrumentKey(m: { readonly exchange: string; readonly symbol: string }): string {
  return `${m.exchange}:${m.symbol}`;
}
