import { describe, expect, it } from 'vitest';
import { describeDataFile, detectFileKind, isHeader, klineRecord, num, toMs, tradeRecord, type RowContext } from './binance-csv-rows.ts';

const ctx: RowContext = { source: 'csv:x', exchange: 'binance', symbol: 'BTC/USDT', interval: '1m', intervalMs: 60_000 };

function kline(line: string): ReturnType<typeof klineRecord> {
  const f = line.split(',');
  return klineRecord(f, toMs(num(f[0])), ctx, 3, line);
}
function trade(line: string): ReturnType<typeof tradeRecord> {
  const f = line.split(',');
  return tradeRecord(f, toMs(num(f[4])), ctx, 9, line);
}

describe('detectFileKind and describeDataFile', () => {
  it.each([
    ['/d/BTCUSDT-1m-2024-01-01.csv', 'klines'],
    ['BTCUSDT-1m-2024-01.csv.gz', 'klines'],
    ['BTCUSDT-15m-2024-01-01.csv', 'klines'],
    ['/d/BTCUSDT-trades-2024-08-08.csv.gz', 'trades'],
    ['BTCUSDT-aggTrades-2024-08-08.csv', null],
    ['BTCUSDT-1mo-2024-01.csv', null],
    ['BTCUSDT-1m-2024-01-01.zip', null],
    ['README.md', null],
  ])('%s -> %s', (path, kind) => {
    expect(detectFileKind(path)).toBe(kind);
  });

  it('reads instrument, interval and date span from the name and folders', () => {
    expect(describeDataFile('/data/klines-1m/usdm/BTCUSDT-1m-2025-05-04_2025-06-03.csv.gz')).toEqual({
      path: '/data/klines-1m/usdm/BTCUSDT-1m-2025-05-04_2025-06-03.csv.gz',
      kind: 'klines',
      binanceId: 'BTCUSDT',
      market: 'usdm',
      exchange: 'binanceusdm',
      symbol: 'BTC/USDT:USDT',
      interval: '1m',
      intervalMs: 60_000,
      fromMs: Date.UTC(2025, 4, 4),
      toMs: Date.UTC(2025, 5, 4),
    });
    const monthly = describeDataFile('spot/ETHBTC-trades-2024-02.csv')!;
    expect([monthly.kind, monthly.symbol, monthly.exchange, monthly.fromMs, monthly.toMs]).toEqual([
      'trades', 'ETH/BTC', 'binance', Date.UTC(2024, 1, 1), Date.UTC(2024, 2, 1),
    ]);
    expect(describeDataFile('x/BTCUSDT-trades-2024-08-08.csv')!.toMs).toBe(Date.UTC(2024, 7, 9));
  });

  it('lets the caller force the market or name the instrument', () => {
    expect(describeDataFile('/x/BTCUSDT-1m-2024-01-01.csv', { market: 'usdm' })!.symbol).toBe('BTC/USDT:USDT');
    const named = describeDataFile('/x/BTCUSDT-1m-2024-01-01.csv', { instrumentOf: (id) => ({ exchange: 'paper', symbol: `${id}!` }) })!;
    expect([named.exchange, named.symbol]).toEqual(['paper', 'BTCUSDT!']);
    // An id that cannot be split keeps the id as its symbol, so validation can refuse it by name.
    expect(describeDataFile('/x/FOOBAR-1m-2024-01-01.csv')!.symbol).toBe('FOOBAR');
  });
});

describe('toMs, num and isHeader', () => {
  it('scales µs and ns times to ms by magnitude', () => {
    expect(toMs(1704067200123)).toBe(1704067200123);
    expect(toMs(1704067200123456)).toBe(1704067200123);
    expect(toMs(1704067200123456789)).toBe(1704067200123);
  });

  it('reads numbers and refuses empty, blank and non-numeric text', () => {
    expect(num('42283.58000000')).toBe(42283.58);
    expect(num('0')).toBe(0);
    expect([num(''), num(' '), num('abc'), num(undefined)].every(Number.isNaN)).toBe(true);
  });

  it('knows a header from data', () => {
    expect(isHeader(['open_time', 'open'])).toBe(true);
    expect(isHeader(['id', 'price'])).toBe(true);
    expect(isHeader(['1704067200000', '1'])).toBe(false);
    expect(isHeader(['-5', '1'])).toBe(false);
  });
});

describe('klineRecord', () => {
  it('turns a 12-column row into a Bar closing one interval after it opens', () => {
    const line = '1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,1.03547608,79,19523.00000000,0.55694227,0';
    expect(kline(line)).toEqual({
      source: 'csv:x',
      offset: 3,
      raw: line,
      value: {
        id: 'binance:BTC/USDT:1m:1637971200000',
        tsEvent: 1637971260000,
        tsInit: 1637971260000,
        exchange: 'binance',
        symbol: 'BTC/USDT',
        interval: '1m',
        openTime: 1637971200000,
        open: 0.00002853,
        high: 0.00002854,
        low: 0.00002851,
        close: 0.00002854,
        volume: 36304.2,
        quoteVolume: 1.03547608,
        buyVolume: 19523,
        trades: 79,
      },
    });
  });

  it('reads empty quote volume, trade count and taker buy volume as 0', () => {
    const v = kline('1746372780000,95505.4,95505.5,95502.7,95502.7,16.536,1746372839999,,,,,0').value!;
    expect([v.quoteVolume, v.trades, v.buyVolume, v.volume]).toEqual([0, 0, 0, 16.536]);
  });

  it('reports a wrong column count or a non-numeric field as MALFORMED, never throws', () => {
    const short = kline('1746372780000,95505.4,95505.5');
    expect(short.value).toBeNull();
    expect(short.error).toEqual({ reason: 'MALFORMED', message: 'kline row has 3 columns, expected 12' });
    expect(kline('1746372780000,95505.4,x,95502.7,95502.7,16.536,1746372839999,,,,,0').error?.message).toBe('kline field high is not a number');
    expect(kline('1746372780000,95505.4,95505.5,95502.7,95502.7,,1746372839999,,,,,0').error?.message).toBe('kline field volume is not a number');
    expect(kline('1746372780000,95505.4,95505.5,95502.7,95502.7,1,1746372839999,,zz,,,0').error?.message).toBe('kline field number_of_trades is not a number');
    expect(kline('soon,95505.4,95505.5,95502.7,95502.7,1,1746372839999,,,,,0').error?.message).toBe('kline field open_time is not a number');
  });
});

describe('tradeRecord', () => {
  it('turns a 7-column spot row into a Trade; a buyer-maker trade was a taker SELL', () => {
    const line = '3735683259,61837.63000000,0.02000000,1236.7526,1723161255342,True,True';
    expect(trade(line)).toEqual({
      source: 'csv:x',
      offset: 9,
      raw: line,
      value: {
        id: 'binance:BTC/USDT:3735683259',
        tsEvent: 1723161255342,
        tsInit: 1723161255342,
        exchange: 'binance',
        symbol: 'BTC/USDT',
        tradeId: '3735683259',
        price: 61837.63,
        size: 0.02,
        side: 'SELL',
      },
    });
  });

  it('accepts 6 columns, lower-case booleans, an empty is_best_match and µs times', () => {
    expect(trade('1,2681.59,6.589,17668.99651,1723161600029,false').value?.side).toBe('BUY');
    expect(trade('1,2681.59,6.589,17668.99651,1723161600029,true,').value?.side).toBe('SELL');
    expect(trade('1,2681.59,6.589,17668.99651,1735689600000123,False,True').value?.tsEvent).toBe(1735689600000);
  });

  it('reports bad rows as MALFORMED', () => {
    const msg = (l: string): string | undefined => trade(l).error?.message;
    expect(msg('1,2,3,4,5')).toBe('trade row has 5 columns, expected 6 or 7');
    expect(msg(',2,3,4,1723161600029,true')).toBe('trade_id is empty or has blanks');
    expect(msg('1,abc,3,4,1723161600029,true')).toBe('trade field price is not a number');
    expect(msg('1,2,,4,1723161600029,true')).toBe('trade field qty is not a number');
    expect(msg('1,2,3,4,later,true')).toBe('trade field time is not a number');
    expect(msg('1,2,3,4,1723161600029,yes')).toBe('is_buyer_maker "yes" is not true/false');
    expect(msg('1,2,3,4,1723161600029,true,maybe')).toBe('is_best_match "maybe" is not true/false/empty');
    expect(trade('1,2,3,4,5,6').value).toBeNull();
  });
});
