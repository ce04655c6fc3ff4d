/**
 * Binance symbol ids (`BTCUSDT`) to ccxt unified symbols (`BTC/USDT`, `BTC/USDT:USDT`) and exchange ids, for files whose
 * only hint is their name and folder.
 */

/** A Binance market family as laid out by data.binance.vision (`spot`, `futures/um`, `futures/cm`). */
export type BinanceMarket = 'spot' | 'usdm' | 'coinm';

/**
 * Quote assets Binance has listed; the split of `BTCUSDT` takes the longest one that is a suffix. AEUR is left out on
 * purpose: it would split ADAEUR as AD/AEUR.
 */
export const KNOWN_QUOTES: readonly string[] = [
  'USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'USDP', 'USDS', 'DAI', 'PAX', 'UST', 'VAI', 'EURI',
  'BTC', 'ETH', 'BNB', 'XRP', 'TRX', 'DOGE', 'DOT', 'SOL',
  'EUR', 'GBP', 'AUD', 'BRL', 'TRY', 'RUB', 'UAH', 'NGN', 'ZAR', 'IDRT', 'BIDR', 'BKRW', 'IDR', 'PLN', 'RON', 'ARS',
  'MXN', 'COP', 'CZK', 'JPY', 'USD',
];

const QUOTES_LONGEST_FIRST = [...KNOWN_QUOTES].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));

/** The ccxt exchange id of each market family. */
export const EXCHANGE_OF_MARKET: { readonly [M in BinanceMarket]: string } = {
  spot: 'binance',
  usdm: 'binanceusdm',
  coinm: 'binancecoinm',
};

/** An instrument as the bus names it. */
export interface Instrument {
  readonly exchange: string;
  readonly symbol: string;
}

/** Splits a Binance id into base and quote (longest known quote suffix wins); null when no known quote fits. */
export function splitBinanceSymbol(id: string): { base: string; quote: string } | null {
  const s = id.toUpperCase();
  for (const q of QUOTES_LONGEST_FIRST) {
    if (s.length > q.length && s.endsWith(q)) return { base: s.slice(0, -q.length), quote: q };
  }
  return null;
}

/**
 * The ccxt unified symbol of a Binance id in a market: spot `BTCUSDT` → `BTC/USDT`; USD-M perpetual `BTCUSDT` →
 * `BTC/USDT:USDT` and dated `BTCUSDT_250926` → `BTC/USDT:USDT-250926`; COIN-M `BTCUSD_PERP` → `BTC/USD:BTC`.
 * Null when the id cannot be split.
 */
export function toUnifiedSymbol(id: string, market: BinanceMarket): string | null {
  const [pair = '', suffix] = id.toUpperCase().split('_', 2);
  // COIN-M contracts are all quoted in USD, which would otherwise lose to TUSD in DOTUSD.
  const parts = market === 'coinm' ? (pair.length > 3 && pair.endsWith('USD') ? { base: pair.slice(0, -3), quote: 'USD' } : null) : splitBinanceSymbol(pair);
  if (!parts) return null;
  const { base, quote } = parts;
  if (market === 'spot') return suffix === undefined ? `${base}/${quote}` : null;
  const settle = market === 'usdm' ? quote : base;
  if (suffix === undefined || suffix === 'PERP') return `${base}/${quote}:${settle}`;
  return /^\d{6}$/.test(suffix) ? `${base}/${quote}:${settle}-${suffix}` : null;
}

/** The Binance id of a unified symbol: `BTC/USDT:USDT-250926` → `BTCUSDT_250926`, `BTC/USD:BTC` → `BTCUSD_PERP`. */
export function toBinanceId(symbol: string): string {
  const m = /^([^/]+)\/([^:]+)(?::([^-]+)(?:-(\d{6}))?)?$/.exec(symbol);
  if (!m) return symbol.replace(/[^A-Za-z0-9]/g, '').toUpperCase();
  const [, base, quote, settle, expiry] = m;
  const pair = `${base}${quote}`.toUpperCase();
  if (expiry) return `${pair}_${expiry}`;
  if (settle && settle === base) return `${pair}_PERP`;
  return pair;
}

/**
 * The market family of a file from its folders: a `usdm` or `um` folder is USD-M, `coinm` or `cm` is COIN-M,
 * anything else is spot.
 */
export function marketFromPath(path: string): BinanceMarket {
  const dirs = path.split(/[\\/]+/).slice(0, -1).map((d) => d.toLowerCase());
  for (let i = dirs.length - 1; i >= 0; i--) {
    const d = dirs[i];
    if (d === 'usdm' || d === 'um') return 'usdm';
    if (d === 'coinm' || d === 'cm') return 'coinm';
    if (d === 'spot') return 'spot';
  }
  return 'spot';
}

/** The instrument of a Binance id in a market; null when the id cannot be split. */
export function binanceInstrument(id: string, market: BinanceMarket): Instrument | null {
  const symbol = toUnifiedSymbol(id, market);
  return symbol === null ? null : { exchange: EXCHANGE_OF_MARKET[market], symbol };
}

/**
 * True when `wanted` names the instrument in any of the usual ways: the Binance id (`BTCUSDT`), the unified symbol
 * (`BTC/USDT:USDT`), its pair without the settle part (`BTC/USDT` also names the perpetual) or the bus key
 * (`binanceusdm:BTC/USDT:USDT`); case does not matter.
 */
export function matchesInstrument(wanted: string, id: string, inst: Instrument): boolean {
  const up = wanted.trim().toUpperCase();
  const sym = inst.symbol.toUpperCase();
  return up === id.toUpperCase() || up === sym || up === sym.split(':', 1)[0] || up === `${inst.exchange}:${inst.symbol}`.toUpperCase();
}
