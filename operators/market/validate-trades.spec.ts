import { of, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { SourceRecord, Validated } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import { TRADE_REJECT_REASONS, validateTrades, type ValidateTradesOptions } from './validate-trades.ts';

const SOURCE = 'csv:test';

function trade(o: Partial<Record<keyof Trade, unknown>> = {}): Trade {
  const id = String(o.tradeId ?? '1');
  return { id: `binance:BTC/USDT:${id}`, tsEvent: 1000, tsInit: 1000, exchange: 'binance', symbol: 'BTC/USDT', tradeId: id, price: 100, size: 1, side: 'BUY', ...o } as Trade;
}

let line = 0;
function rec(value: Trade | null, error?: { reason: string; message: string }): SourceRecord<Trade> {
  line++;
  return { source: SOURCE, offset: line, raw: `raw line ${line}`, value, ...(error ? { error } : {}) };
}

function dead(r: SourceRecord<Trade>, reason: string, tsInit: number, tsEvent = r.value?.tsEvent ?? tsInit): Validated<Trade> {
  const dl: DeadLetter = {
    id: deriveId('dlq', r.source, r.offset, r.raw),
    tsEvent,
    tsInit,
    sourceTopic: r.source,
    partition: -1,
    offset: r.offset,
    key: r.value ? `${r.value.exchange}:${r.value.symbol}` : null,
    payload: Buffer.from(r.raw),
    stage: 'ingest',
    errorClass: 'ValidationError',
    reason,
    message: expect.any(String) as unknown as string,
  };
  return { ok: false, deadLetter: dl };
}

const fixedClock = { now: () => 42 } as SchedulerLike;

function runSync(records: SourceRecord<Trade>[], o: Partial<ValidateTradesOptions> = {}): Validated<Trade>[] {
  const out: Validated<Trade>[] = [];
  of(...records)
    .pipe(validateTrades({ allowedLatenessMs: 1000, stage: 'ingest', scheduler: fixedClock, ...o }))
    .subscribe((v) => out.push(v));
  return out;
}

function reasons(vs: Validated<Trade>[]): (string | 'ok')[] {
  return vs.map((v) => (v.ok ? 'ok' : v.deadLetter.reason));
}

describe('validateTrades (marbles)', () => {
  it('passes valid trades and turns bad ones into dead letters stamped with virtual time', () => {
    const a = rec(trade({ tradeId: '1', tsEvent: 1000 }));
    const b = rec(trade({ tradeId: '1', tsEvent: 1001 }));
    const c = rec(trade({ tradeId: '2', price: Number.NaN }));
    const d = rec(trade({ tradeId: '3', tsEvent: 0 }));
    const e = rec(trade({ tradeId: '4', tsEvent: 1200 }));
    const testScheduler = new TestScheduler((x, y) => expect(x).toEqual(y));
    testScheduler.run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d-e|', { a, b, c, d, e });
      const out = src.pipe(validateTrades({ allowedLatenessMs: 500, stage: 'ingest', scheduler: testScheduler }));
      expectObservable(out).toBe('v-w-x-y-z|', {
        v: { ok: true, value: a.value },
        w: dead(b, 'DUPLICATE_TRADE_ID', 2),
        x: dead(c, 'NON_FINITE_PRICE', 4),
        y: dead(d, 'LATE', 6),
        z: { ok: true, value: e.value },
      });
    });
  });

  it('keeps state per subscription', () => {
    const a = rec(trade({ tradeId: '1' }));
    const testScheduler = new TestScheduler((x, y) => expect(x).toEqual(y));
    testScheduler.run(({ cold, expectObservable }) => {
      const out = cold('a|', { a }).pipe(validateTrades({ allowedLatenessMs: 0, stage: 'ingest', scheduler: testScheduler }));
      // The second subscription would see id 1 as a duplicate if state leaked between subscriptions.
      expectObservable(out).toBe('v|', { v: { ok: true, value: a.value } });
      expectObservable(out).toBe('v|', { v: { ok: true, value: a.value } });
    });
  });
});

describe('validateTrades: one test per reason', () => {
  it('exports the fixed list of reasons', () => {
    expect(TRADE_REJECT_REASONS).toEqual([
      'MALFORMED', 'NON_FINITE_PRICE', 'NON_POSITIVE_PRICE', 'NON_FINITE_SIZE', 'NON_POSITIVE_SIZE', 'UNKNOWN_SYMBOL', 'LATE', 'DUPLICATE_TRADE_ID',
    ]);
  });

  it('MALFORMED: a record the source could not parse, with its message and no key', () => {
    const r = rec(null, { reason: 'MALFORMED', message: 'price "abc" is not a number' });
    const [v] = runSync([r]);
    expect(v).toEqual(dead(r, 'MALFORMED', 42));
    expect(!v!.ok && v!.deadLetter.message).toBe('price "abc" is not a number');
  });

  it('MALFORMED: a value with a bad side, time or trade id', () => {
    expect(reasons(runSync([rec(trade({ side: 'HOLD' })), rec(trade({ tsEvent: 1.5 })), rec(trade({ tsEvent: Number.NaN })), rec(trade({ tradeId: '' }))]))).toEqual(
      ['MALFORMED', 'MALFORMED', 'MALFORMED', 'MALFORMED'],
    );
  });

  it('NON_FINITE_PRICE and NON_POSITIVE_PRICE', () => {
    const rs = [Number.NaN, Number.POSITIVE_INFINITY, 0, -1].map((price, i) => rec(trade({ tradeId: String(i + 1), price })));
    expect(reasons(runSync(rs))).toEqual(['NON_FINITE_PRICE', 'NON_FINITE_PRICE', 'NON_POSITIVE_PRICE', 'NON_POSITIVE_PRICE']);
  });

  it('NON_FINITE_SIZE and NON_POSITIVE_SIZE', () => {
    const rs = [Number.NaN, Number.NEGATIVE_INFINITY, 0, -0.5].map((size, i) => rec(trade({ tradeId: String(i + 1), size })));
    expect(reasons(runSync(rs))).toEqual(['NON_FINITE_SIZE', 'NON_FINITE_SIZE', 'NON_POSITIVE_SIZE', 'NON_POSITIVE_SIZE']);
  });

  it('UNKNOWN_SYMBOL against exchange:symbol keys, perpetual symbols included', () => {
    const symbols = new Set(['binance:ETH/USDT', 'binanceusdm:BTC/USDT:USDT']);
    const rs = [
      rec(trade()),
      rec(trade({ symbol: 'ETH/USDT' })),
      rec(trade({ exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' })),
      rec(trade({ exchange: 'binanceusdm', symbol: 'BTC/USDT' })),
    ];
    const out = runSync(rs, { symbols });
    expect(reasons(out)).toEqual(['UNKNOWN_SYMBOL', 'ok', 'ok', 'UNKNOWN_SYMBOL']);
    expect(!out[0]!.ok && out[0]!.deadLetter.key).toBe('binance:BTC/USDT');
  });

  it('LATE: more than allowedLatenessMs behind the newest trade of the same instrument only', () => {
    const rs = [
      rec(trade({ tradeId: '10', tsEvent: 10_000 })),
      rec(trade({ tradeId: '8', tsEvent: 9_000 })), // exactly at the horizon: passes
      rec(trade({ tradeId: '7', tsEvent: 8_999 })),
      rec(trade({ tradeId: '1', tsEvent: 500, symbol: 'ETH/USDT' })), // another instrument has its own clock
      rec(trade({ tradeId: '11', tsEvent: 9_500 })), // out of order but inside the horizon
    ];
    const out = runSync(rs, { allowedLatenessMs: 1000 });
    expect(reasons(out)).toEqual(['ok', 'ok', 'LATE', 'ok', 'ok']);
    expect(!out[2]!.ok && out[2]!.deadLetter.tsEvent).toBe(8_999);
  });

  it('DUPLICATE_TRADE_ID: an id seen for the same instrument, not for another', () => {
    const rs = [rec(trade({ tradeId: '5' })), rec(trade({ tradeId: '5', symbol: 'ETH/USDT' })), rec(trade({ tradeId: '5', tsEvent: 1500 }))];
    expect(reasons(runSync(rs))).toEqual(['ok', 'ok', 'DUPLICATE_TRADE_ID']);
  });

  it('DUPLICATE_TRADE_ID: a numeric id at or below one already forgotten, unless ids carry no order', () => {
    const rs = (): SourceRecord<Trade>[] => [
      rec(trade({ tradeId: '1', tsEvent: 1000 })),
      rec(trade({ tradeId: '2', tsEvent: 5000 })), // id 1 leaves the window (older than 5000 - 1000)
      rec(trade({ tradeId: '1', tsEvent: 4500 })), // inside the horizon, but id 1 was already taken
    ];
    expect(reasons(runSync(rs(), { allowedLatenessMs: 1000 }))).toEqual(['ok', 'ok', 'DUPLICATE_TRADE_ID']);
    expect(reasons(runSync(rs(), { allowedLatenessMs: 1000, numericIdsIncrease: false }))).toEqual(['ok', 'ok', 'ok']);
  });

  it('does not let a refused trade move the lateness clock or take an id', () => {
    const rs = [
      rec(trade({ tradeId: '1', tsEvent: 1000 })),
      rec(trade({ tradeId: '2', tsEvent: 99_000, price: -1 })),
      rec(trade({ tradeId: '2', tsEvent: 1100 })),
    ];
    expect(reasons(runSync(rs))).toEqual(['ok', 'NON_POSITIVE_PRICE', 'ok']);
  });
});

describe('validateTrades on a valid stream', () => {
  it('passes every trade untouched (same object), in order', () => {
    const ts: Trade[] = [];
    for (let i = 0; i < 5000; i++) {
      ts.push(trade({ tradeId: String(i + 1), tsEvent: 1000 + Math.floor(i / 3), symbol: i % 2 ? 'BTC/USDT' : 'ETH/USDT' }));
    }
    const out = runSync(ts.map((t) => rec(t)), { allowedLatenessMs: 0, symbols: new Set(['binance:BTC/USDT', 'binance:ETH/USDT']) });
    expect(out.length).toBe(ts.length);
    expect(out.every((v, i) => v.ok && v.value === ts[i])).toBe(true);
  });
});
