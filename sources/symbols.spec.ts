import { describe, expect, it } from 'vitest';
import { binanceInstrument, marketFromPath, matchesInstrument, splitBinanceSymbol, toBinanceId, toUnifiedSymbol } from './symbols.ts';

describe('splitBinanceSymbol', () => {
  it.each([
    ['BTCUSDT', 'BTC', 'USDT'],
    ['ETHBTC', 'ETH', 'BTC'],
    ['ADABTC', 'ADA', 'BTC'],
    ['XRPETH', 'XRP', 'ETH'],
    ['BTCFDUSD', 'BTC', 'FDUSD'],
    ['BTCTUSD', 'BTC', 'TUSD'],
    ['ADAEUR', 'ADA', 'EUR'],
    ['WBTCBTC', 'WBTC', 'BTC'],
    ['USDCUSDT', 'USDC', 'USDT'],
    ['btcusdt', 'BTC', 'USDT'],
  ])('%s -> %s / %s', (id, base, quote) => {
    expect(splitBinanceSymbol(id)).toEqual({ base, quote });
  });

  it('returns null when no known quote fits or nothing is left for the base', () => {
    expect(splitBinanceSymbol('FOOBAR')).toBeNull();
    expect(splitBinanceSymbol('USDT')).toBeNull();
  });
});

describe('toUnifiedSymbol', () => {
  it('names spot, USD-M and COIN-M markets as ccxt does', () => {
    expect(toUnifiedSymbol('BTCUSDT', 'spot')).toBe('BTC/USDT');
    expect(toUnifiedSymbol('BTCUSDT', 'usdm')).toBe('BTC/USDT:USDT');
    expect(toUnifiedSymbol('ETHUSDC', 'usdm')).toBe('ETH/USDC:USDC');
    expect(toUnifiedSymbol('BTCUSDT_250926', 'usdm')).toBe('BTC/USDT:USDT-250926');
    expect(toUnifiedSymbol('BTCUSD_PERP', 'coinm')).toBe('BTC/USD:BTC');
    expect(toUnifiedSymbol('DOTUSD_PERP', 'coinm')).toBe('DOT/USD:DOT');
    expect(toUnifiedSymbol('ETHUSD_211231', 'coinm')).toBe('ETH/USD:ETH-211231');
  });

  it('refuses ids it cannot name', () => {
    expect(toUnifiedSymbol('FOOBAR', 'spot')).toBeNull();
    expect(toUnifiedSymbol('BTCUSDT_X', 'usdm')).toBeNull();
    expect(toUnifiedSymbol('BTCUSDT_250926', 'spot')).toBeNull();
  });
});

describe('toBinanceId', () => {
  it('inverts toUnifiedSymbol', () => {
    for (const [id, market] of [['BTCUSDT', 'spot'], ['BTCUSDT', 'usdm'], ['BTCUSDT_250926', 'usdm'], ['BTCUSD_PERP', 'coinm']] as const) {
      expect(toBinanceId(toUnifiedSymbol(id, market)!)).toBe(id);
    }
  });
});

describe('marketFromPath', () => {
  it('reads the market from the nearest market folder', () => {
    expect(marketFromPath('/data/klines-1m/usdm/BTCUSDT-1m-2025-05-04.csv.gz')).toBe('usdm');
    expect(marketFromPath('data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-01.zip')).toBe('usdm');
    expect(marketFromPath('data/futures/cm/daily/klines/BTCUSD_PERP-1m-2024-01-01.csv')).toBe('coinm');
    expect(marketFromPath('/data/spot/BTCUSDT-1m-2024-01-01.csv')).toBe('spot');
    expect(marketFromPath('BTCUSDT-1m-2024-01-01.csv')).toBe('spot');
    // The file name itself is not a folder.
    expect(marketFromPath('/x/usdm.csv')).toBe('spot');
  });
});

describe('binanceInstrument and matchesInstrument', () => {
  it('gives the exchange id of the market', () => {
    expect(binanceInstrument('BTCUSDT', 'spot')).toEqual({ exchange: 'binance', symbol: 'BTC/USDT' });
    expect(binanceInstrument('BTCUSDT', 'usdm')).toEqual({ exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' });
    expect(binanceInstrument('NOPE', 'spot')).toBeNull();
  });

  it('matches the id, the unified symbol and the bus key', () => {
    const inst = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' };
    expect(matchesInstrument('BTCUSDT', 'BTCUSDT', inst)).toBe(true);
    expect(matchesInstrument('btc/usdt:usdt', 'BTCUSDT', inst)).toBe(true);
    expect(matchesInstrument('binanceusdm:BTC/USDT:USDT', 'BTCUSDT', inst)).toBe(true);
    expect(matchesInstrument('BTC/USDT', 'BTCUSDT', inst)).toBe(true);
    expect(matchesInstrument('BTC/USDC', 'BTCUSDT', inst)).toBe(false);
    expect(matchesInstrument('binance:BTC/USDT', 'BTCUSDT', inst)).toBe(false);
    expect(matchesInstrument('ETHUSDT', 'BTCUSDT', inst)).toBe(false);
  });
});
