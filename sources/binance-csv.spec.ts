import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { firstValueFrom, lastValueFrom, take, toArray, type Observable, type SchedulerLike } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBars } from '../operators/market/validate-bars.ts';
import { validateTrades } from '../operators/market/validate-trades.ts';
import type { Bar } from '../schemas/bar.ts';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Trade } from '../schemas/trade.ts';
import { klineBatches, listDataFiles, openDataFiles, readKlineFiles, readTradeFiles, selectDataFiles, SourceFileError, tradeBatches, type DataFileItem } from './binance-csv.ts';

const FIX = join(import.meta.dirname, '..', 'test', 'fixtures', 'binance');
const T0 = Date.UTC(2024, 0, 1);
const M = 60_000;

const all = <T>(o: Observable<T>): Promise<T[]> => lastValueFrom(o.pipe(toArray()), { defaultValue: [] });
const tag = (r: SourceRecord<Bar | Trade>): string => (r.value ? `${r.value.exchange}:${r.value.symbol}@${r.value.tsEvent}` : `MALFORMED@${r.source.split('/').at(-1)}:${r.offset}`);

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'qt-binance-csv-'));
  for (const [sub, name] of [['spot', 'BTCUSDT-1m-2024-01-01.csv'], ['spot', 'ETHUSDT-1m-2024-01-01.csv'], ['usdm', 'BTCUSDT-1m-2024-01-01.csv'], ['spot', 'BTCUSDT-trades-2024-01-01.csv']]) {
    mkdirSync(join(tmp, 'gz', sub!), { recursive: true });
    writeFileSync(join(tmp, 'gz', sub!, `${name}.gz`), gzipSync(readFileSync(join(FIX, sub!, name!))));
  }
  // Two consecutive days of one symbol, to be read one after the other.
  mkdirSync(join(tmp, 'days'));
  writeFileSync(join(tmp, 'days', 'BTCUSDT-trades-2024-01-02.csv'), '11,100,1,100,1704153600000,False,True\n12,101,1,101,1704153600500,True,True\n');
  writeFileSync(join(tmp, 'days', 'BTCUSDT-trades-2024-01-01.csv'), '9,99,1,99,1704067200000,False,True\n10,99.5,1,99.5,1704153599999,False,True\n');
  writeFileSync(join(tmp, 'BTCUSDT-trades-2024-01-03.csv.gz'), Buffer.from('this is not gzip at all'));
  writeFileSync(join(tmp, 'ETHUSDT-trades-2024-01-03.csv'), `1,${'9'.repeat(1 << 21)}`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('listDataFiles and selectDataFiles', () => {
  it('finds *.csv and *.csv.gz recursively, sorted, without duplicates', async () => {
    const files = await listDataFiles([FIX, join(FIX, 'spot', 'BTCUSDT-1m-2024-01-01.csv')]);
    expect(files.map((f) => f.slice(FIX.length + 1))).toEqual([
      'spot/BTCUSDT-1m-2024-01-01.csv',
      'spot/BTCUSDT-5m-2024-01-01.csv',
      'spot/BTCUSDT-trades-2024-01-01.csv',
      'spot/ETHUSDT-1m-2024-01-01.csv',
      'spot/SOLUSDT-trades-2025-01-01.csv',
      'usdm/BTCUSDT-1m-2024-01-01.csv',
      'usdm/ETHUSDT-trades-2024-01-01.csv',
    ]);
  });

  it('fails with SourceFileError on a missing path', async () => {
    await expect(listDataFiles(join(FIX, 'nope'))).rejects.toMatchObject({ name: 'SourceFileError', reason: 'NOT_FOUND', retriable: false });
  });

  it('keeps the 1m kline files of the wanted symbols and names their instruments', async () => {
    const sel = await selectDataFiles(FIX, 'klines', { symbols: ['BTC/USDT'] });
    expect(sel.map((f) => `${f.exchange}:${f.symbol}`)).toEqual(['binance:BTC/USDT', 'binanceusdm:BTC/USDT:USDT']);
    const eth = await selectDataFiles(FIX, 'klines', { symbols: ['ETHUSDT'] });
    expect(eth.map((f) => f.symbol)).toEqual(['ETH/USDT']);
  });

  it('skips files whose dated names lie outside [fromMs, toMs)', async () => {
    const sel = await selectDataFiles(FIX, 'trades', { fromMs: Date.UTC(2025, 0, 1) });
    expect(sel.map((f) => f.symbol)).toEqual(['SOL/USDT']);
  });

  it('refuses an explicitly named file of the wrong kind', async () => {
    const err = await selectDataFiles(join(FIX, 'spot', 'BTCUSDT-trades-2024-01-01.csv'), 'klines').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceFileError);
    expect((err as SourceFileError).reason).toBe('NOT_A_DATA_FILE');
  });
});

describe('readKlineFiles', () => {
  it('merges spot and USD-M files in event-time order, ties by symbol', async () => {
    const recs = await all(readKlineFiles(FIX));
    // Computed by hand from the fixtures: closes at T0+1m, +2m, +3m; at each, BTC/USDT < BTC/USDT:USDT < ETH/USDT.
    expect(recs.map(tag)).toEqual([
      `binance:BTC/USDT@${T0 + M}`, `binanceusdm:BTC/USDT:USDT@${T0 + M}`, `binance:ETH/USDT@${T0 + M}`,
      `binance:BTC/USDT@${T0 + 2 * M}`, `binanceusdm:BTC/USDT:USDT@${T0 + 2 * M}`, `binance:ETH/USDT@${T0 + 2 * M}`,
      `binance:BTC/USDT@${T0 + 3 * M}`,
    ]);
  });

  it('reads the row values, skips the USD-M header, strips CRLF and fills empty columns with 0', async () => {
    const recs = await all(readKlineFiles(FIX));
    const perp = recs.filter((r) => r.value?.exchange === 'binanceusdm');
    expect(perp.map((r) => r.offset)).toEqual([2, 3]);
    expect(perp[0]!.value).toEqual({
      id: `binanceusdm:BTC/USDT:USDT:1m:${T0}`, tsEvent: T0 + M, tsInit: T0 + M, exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT',
      interval: '1m', openTime: T0, open: 42300.1, high: 42320.5, low: 42290, close: 42310, volume: 120.5, quoteVolume: 0, buyVolume: 0, trades: 0,
    });
    const eth = recs.find((r) => r.value?.symbol === 'ETH/USDT')!;
    expect(eth.raw.endsWith('\r')).toBe(false);
    expect(eth.value!.trades).toBe(2000);
    expect(eth.source).toBe(`csv:${join(FIX, 'spot', 'ETHUSDT-1m-2024-01-01.csv')}`);
  });

  it('filters by open time [fromMs, toMs)', async () => {
    const recs = await all(readKlineFiles(FIX, { fromMs: T0 + M, toMs: T0 + 2 * M }));
    expect(recs.map((r) => r.value!.openTime)).toEqual([T0 + M, T0 + M, T0 + M]);
  });

  it('reads another interval on request, with µs open times scaled to ms', async () => {
    const recs = await all(readKlineFiles(FIX, { interval: '5m' }));
    expect(recs.map((r) => [r.value!.interval, r.value!.openTime, r.value!.tsEvent])).toEqual([['5m', T0, T0 + 5 * M]]);
  });

  it('reads gzip files exactly like plain ones', async () => {
    const plain = await all(readKlineFiles(FIX));
    const gz = await all(readKlineFiles(join(tmp, 'gz')));
    expect(gz.map((r) => r.value)).toEqual(plain.map((r) => r.value));
    expect(gz.map((r) => [r.offset, r.raw])).toEqual(plain.map((r) => [r.offset, r.raw]));
  });

  it('gives the same records as an async iterable of batches', async () => {
    const batches: SourceRecord<Bar>[] = [];
    for await (const b of klineBatches(FIX, { batchSize: 2 })) {
      expect(b.length).toBeLessThanOrEqual(2);
      batches.push(...b);
    }
    expect(batches.map(tag)).toEqual((await all(readKlineFiles(FIX))).map(tag));
  });
});

describe('readTradeFiles', () => {
  it('merges files by trade time and passes bad rows through as MALFORMED records in place', async () => {
    const recs = await all(readTradeFiles(FIX, { toMs: Date.UTC(2025, 0, 1) }));
    expect(recs.map(tag)).toEqual([
      `binance:BTC/USDT@${T0 + 100}`, `binance:BTC/USDT@${T0 + 100}`, `binanceusdm:ETH/USDT:USDT@${T0 + 150}`,
      'MALFORMED@BTCUSDT-trades-2024-01-01.csv:3', 'MALFORMED@BTCUSDT-trades-2024-01-01.csv:4',
      `binanceusdm:ETH/USDT:USDT@${T0 + 350}`, `binance:BTC/USDT@${T0 + 400}`,
    ]);
    const bad = recs.filter((r) => r.value === null);
    expect(bad.map((r) => r.error?.reason)).toEqual(['MALFORMED', 'MALFORMED']);
    expect(bad[0]!.raw).toBe('3360000003,abc,0.1,1,1704067200200,False,True');
    expect(recs.map((r) => r.value?.side ?? '-')).toEqual(['SELL', 'BUY', 'SELL', '-', '-', 'BUY', 'BUY']);
  });

  it('reads µs trade times and an empty is_best_match', async () => {
    const recs = await all(readTradeFiles(join(FIX, 'spot', 'SOLUSDT-trades-2025-01-01.csv')));
    expect(recs.map((r) => [r.value!.tradeId, r.value!.tsEvent, r.value!.side])).toEqual([
      ['900000001', Date.UTC(2025, 0, 1), 'SELL'],
      ['900000002', Date.UTC(2025, 0, 1) + 500, 'BUY'],
    ]);
  });

  it('reads consecutive days of one symbol one after the other', async () => {
    const recs = await all(readTradeFiles(join(tmp, 'days')));
    expect(recs.map((r) => r.value!.tradeId)).toEqual(['9', '10', '11', '12']);
    expect(recs.map((r) => r.offset)).toEqual([1, 2, 1, 2]);
  });

  it('turns bad rows into dead letters downstream and passes the rest', async () => {
    const clock = { now: () => 0 } as SchedulerLike;
    const out = await all(readTradeFiles(join(FIX, 'spot'), { symbols: ['BTCUSDT'] }).pipe(validateTrades({ allowedLatenessMs: 0, stage: 'ingest', scheduler: clock })));
    expect(out.map((v) => (v.ok ? v.value.tradeId : `${v.deadLetter.reason}:${v.deadLetter.offset}`))).toEqual(['3360000001', '3360000002', 'MALFORMED:3', 'MALFORMED:4', '3360000005']);
    const dl = out.find((v) => !v.ok);
    expect(dl && !dl.ok && dl.deadLetter.payload.toString()).toBe('3360000003,abc,0.1,1,1704067200200,False,True');
  });

  it('names the source by the absolute path, so a bad row gives the same dead-letter id via a relative path', async () => {
    const abs = join(FIX, 'spot', 'BTCUSDT-trades-2024-01-01.csv');
    const rel = relative(process.cwd(), abs);
    expect(rel.startsWith('/')).toBe(false);
    const clock = { now: () => 0 } as SchedulerLike;
    const deadIds = async (path: string): Promise<string[]> =>
      (await all(readTradeFiles(path).pipe(validateTrades({ allowedLatenessMs: 0, stage: 'ingest', scheduler: clock })))).flatMap((v) => (v.ok ? [] : [v.deadLetter.id]));
    const [viaAbs, viaRel] = [await deadIds(abs), await deadIds(rel)];
    expect(viaAbs).toHaveLength(2);
    expect(viaRel).toEqual(viaAbs);
    expect((await all(readTradeFiles(rel)))[0]!.source).toBe(`csv:${abs}`);
  });

  it('errors with SourceFileError on a corrupt gzip file or a runaway line', async () => {
    const gz = await all(readTradeFiles(join(tmp, 'BTCUSDT-trades-2024-01-03.csv.gz'))).catch((e: unknown) => e);
    expect(gz).toMatchObject({ name: 'SourceFileError', reason: 'READ_FAILED' });
    const long = await all(readTradeFiles(join(tmp, 'ETHUSDT-trades-2024-01-03.csv'))).catch((e: unknown) => e);
    expect(long).toMatchObject({ name: 'SourceFileError', reason: 'READ_FAILED' });
  });
});

describe('openDataFiles', () => {
  const items = async (set: { chunks(): AsyncIterable<readonly DataFileItem[]> }): Promise<DataFileItem[]> => {
    const out: DataFileItem[] = [];
    for await (const c of set.chunks()) out.push(...c);
    return out;
  };

  it('opens kline files with their span (first open time to last close) and instruments', async () => {
    const set = await openDataFiles(join(FIX, 'usdm'), { symbols: ['BTCUSDT'] });
    expect([set.kind, set.fromMs, set.toMs, [...set.instruments]]).toEqual(['klines', T0, T0 + 2 * M, ['binanceusdm:BTC/USDT:USDT']]);
    expect((await items(set)).map((i) => [i.kind, i.tsEvent, i.record.offset])).toEqual([['bar', T0 + M, 2], ['bar', T0 + 2 * M, 3]]);
  });

  it('treats an empty symbols list as every instrument', async () => {
    const set = await openDataFiles(join(tmp, 'days'), { symbols: [] });
    expect([set.kind, set.fromMs, set.toMs]).toEqual(['trades', 1704067200000, 1704153600501]);
    expect((await items(set)).map((i) => (i.record.value as Trade).tradeId)).toEqual(['9', '10', '11', '12']);
  });

  it('replays a record without a time at the time of the record before it', async () => {
    const set = await openDataFiles(join(FIX, 'spot', 'BTCUSDT-trades-2024-01-01.csv'));
    expect((await items(set)).map((i) => i.tsEvent - T0)).toEqual([100, 100, 100, 100, 400]);
  });

  it('keeps a given span and reports mixed kinds', async () => {
    const set = await openDataFiles(FIX, { fromMs: T0, toMs: T0 + M });
    expect([set.kind, set.fromMs, set.toMs]).toEqual(['mixed', T0, T0 + M]);
    await expect(items(set)).rejects.toMatchObject({ name: 'SourceFileError', reason: 'NOT_A_DATA_FILE' });
  });

  it('fails with EMPTY when nothing is left in the span', async () => {
    await expect(openDataFiles(FIX, { fromMs: Date.UTC(2030, 0, 1) })).rejects.toMatchObject({ name: 'SourceFileError', reason: 'EMPTY' });
    await expect(openDataFiles(FIX, { symbols: ['DOGEUSDT'] })).rejects.toMatchObject({ reason: 'EMPTY' });
  });
});

const DATA = '/work/shared/data';
const KLINES_USDM = join(DATA, 'klines-1m', 'usdm', 'BTCUSDT-1m-2025-05-04_2025-06-03.csv.gz');
const ADABTC = join(DATA, 'klines-1m', 'spot', 'ADABTC-1m-2021-11-27_2021-11-27.csv.gz');
const TRADES_SPOT = join(DATA, 'trades', 'spot');
const haveData = existsSync(KLINES_USDM) && existsSync(ADABTC) && existsSync(TRADES_SPOT);
if (!haveData) console.log(`skipping real-data tests: ${DATA} (klines-1m, trades) is not on this machine`);

describe.skipIf(!haveData)('real Binance files in /work/shared/data (README values)', () => {
  it('ADABTC 2021-11-27 spot klines: 10 rows, 00:00 to 00:09', async () => {
    const recs = await all(readKlineFiles(ADABTC));
    expect(recs.length).toBe(10);
    expect(recs.every((r) => r.value !== null)).toBe(true);
    expect(recs[0]!.value!.openTime).toBe(Date.UTC(2021, 10, 27, 0, 0));
    expect(recs[9]!.value!.openTime).toBe(Date.UTC(2021, 10, 27, 0, 9));
    expect(recs[0]!.value!.symbol).toBe('ADA/BTC');
  });

  it('USD-M BTCUSDT 1m: first rows from 2025-05-04 15:33, empty Q/N/TB columns as 0', async () => {
    const recs = await firstValueFrom(readKlineFiles(KLINES_USDM).pipe(take(3), toArray()));
    expect(recs.map((r) => r.value!.openTime)).toEqual([0, 1, 2].map((i) => Date.UTC(2025, 4, 4, 15, 33 + i)));
    const b = recs[0]!.value!;
    expect([b.exchange, b.symbol, b.quoteVolume, b.trades, b.buyVolume]).toEqual(['binanceusdm', 'BTC/USDT:USDT', 0, 0, 0]);
    expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
  });

  it('USD-M BTCUSDT 1m: a ten-minute window in a file without gaps gives ten bars', async () => {
    const from = Date.UTC(2025, 4, 10);
    const recs = await all(readKlineFiles(KLINES_USDM, { fromMs: from, toMs: from + 10 * M }));
    expect(recs.map((r) => r.value!.openTime)).toEqual(Array.from({ length: 10 }, (_, i) => from + i * M));
  });

  it('spot BTCUSDT trades 2024-08-08/09: 9,738 + 10,166 rows, gap-free ids from 3735683259, all valid', async () => {
    const recs = await all(readTradeFiles(TRADES_SPOT, { symbols: ['BTCUSDT'] }));
    expect(recs.length).toBe(9738 + 10166);
    expect(recs[0]!.value!.tradeId).toBe('3735683259');
    expect(recs[0]!.value!.tsEvent).toBe(Date.UTC(2024, 7, 8, 23, 54, 15, 342));
    expect(recs[9737]!.value!.tradeId).toBe('3735692996');
    expect(recs.at(-1)!.value!.tradeId).toBe('3735703162');
    const clock = { now: () => 0 } as SchedulerLike;
    const validated = await all(readTradeFiles(TRADES_SPOT, { symbols: ['BTCUSDT'] }).pipe(
      validateTrades({ allowedLatenessMs: 0, stage: 'test', scheduler: clock, symbols: new Set(['binance:BTC/USDT']) }),
    ));
    expect(validated.filter((v) => !v.ok)).toEqual([]);
  });

  it('every trade file (spot and USD-M) passes validateTrades with the default sane-jump check', async () => {
    const clock = { now: () => 0 } as SchedulerLike;
    const out = await all(readTradeFiles(join(DATA, 'trades')).pipe(validateTrades({ allowedLatenessMs: 0, stage: 'test', scheduler: clock })));
    expect(out.length).toBeGreaterThan(100_000);
    expect(out.filter((v) => !v.ok).map((v) => !v.ok && `${v.deadLetter.reason} ${v.deadLetter.message}`)).toEqual([]);
  });

  it('every USD-M 1m kline file passes validateBars with the default sane-jump check (no dead letter)', async () => {
    const clock = { now: () => 0 } as SchedulerLike;
    const files = await listDataFiles(join(DATA, 'klines-1m', 'usdm'));
    expect(files.length).toBeGreaterThanOrEqual(20);
    const out = await all(readKlineFiles(files).pipe(validateBars({ allowedLatenessMs: 0, stage: 'test', scheduler: clock })));
    expect(out.length).toBeGreaterThan(700_000);
    expect(out.filter((v) => !v.ok).map((v) => !v.ok && `${v.deadLetter.reason} ${v.deadLetter.message}`)).toEqual([]);
  });

  it('every spot 1m kline file passes too, BTCUSDT of May and October 2021 read together (21 % apart across 5 months)', async () => {
    // The largest one-minute moves here are 19.3 % (AVAXUSDT wick, 2021-04-23) and 18.8 % (DOGEUSDT, 2021-04-16).
    const clock = { now: () => 0 } as SchedulerLike;
    const out = await all(readKlineFiles(join(DATA, 'klines-1m', 'spot')).pipe(validateBars({ allowedLatenessMs: 0, stage: 'test', scheduler: clock })));
    expect(out.length).toBeGreaterThan(900_000);
    expect(out.filter((v) => !v.ok).map((v) => !v.ok && `${v.deadLetter.reason} ${v.deadLetter.message}`)).toEqual([]);
    // Held to 20 % without the widening across the gap, every October bar would have been refused.
    const btc = await all(readKlineFiles(join(DATA, 'klines-1m', 'spot'), { symbols: ['BTCUSDT'] }).pipe(
      validateBars({ allowedLatenessMs: 0, stage: 'test', scheduler: clock, jumpWindowMs: 365 * 86_400_000 }),
    ));
    expect(btc.filter((v) => !v.ok).map((v) => !v.ok && v.deadLetter.reason)).toEqual(Array<string>(10).fill('PRICE_JUMP'));
  });

  it('USD-M ETHUSDT trades 2024-08-09: 25 rows, ids 4308082574 to 4308082598', async () => {
    const recs = await all(readTradeFiles(join(DATA, 'trades', 'usdm', 'ETHUSDT-trades-2024-08-09.csv.gz')));
    expect(recs.map((r) => Number(r.value!.tradeId))).toEqual(Array.from({ length: 25 }, (_, i) => 4308082574 + i));
    expect(recs[0]!.value!.symbol).toBe('ETH/USDT:USDT');
  });

  it('prints read throughput of a large file (no assertion on time)', async () => {
    const file = join(DATA, 'klines-1m', 'usdm', 'ETHUSDT-1m-2025-05-04_2025-06-15.csv.gz');
    const t0 = performance.now(); // arch-allow: stopwatch
    let n = 0;
    for await (const b of klineBatches(file)) n += b.length;
    const ms = performance.now() - t0; // arch-allow: stopwatch
    console.log(`binance csv: ${n} kline rows in ${ms.toFixed(0)} ms = ${((n / ms) * 1000 / 1e6).toFixed(2)} M rows/s`);
    let m = 0;
    const t1 = performance.now(); // arch-allow: stopwatch
    for await (const b of tradeBatches(join(DATA, 'trades'))) m += b.length;
    console.log(`binance csv: ${m} trade rows from ${(await listDataFiles(join(DATA, 'trades'))).length} files merged in ${(performance.now() - t1).toFixed(0)} ms`); // arch-allow: stopwatch
    expect(n).toBe(60_191);
  });
});
