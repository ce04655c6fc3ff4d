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
      'PRICE_JUMP',
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

describe('validateTrades: PRICE_JUMP (sane jump from the last valid price)', () => {
  /** Trades of one instrument at these prices, one second apart, ids 1.. */
  const walk = (prices: readonly number[], o: Partial<Record<keyof Trade, unknown>> = {}): SourceRecord<Trade>[] =>
    prices.map((price, i) => rec(trade({ tradeId: String(i + 1), tsEvent: 1000 + i * 1000, price, ...o })));

  it('refuses a move of more than 20 % from the last valid price by default, in either direction', () => {
    expect(reasons(runSync(walk([100, 119.9, 100, 80.1, 96, 116, 96, 76.5])))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'PRICE_JUMP', 'ok', 'PRICE_JUMP']);
  });

  it('writes a dead letter with the reason, key, time and both prices', () => {
    const rs = walk([100, 150]);
    const [, v] = runSync(rs);
    expect(v).toEqual(dead(rs[1]!, 'PRICE_JUMP', 42));
    expect(!v!.ok && v!.deadLetter.message).toMatch(/^price 150 moves 50\.00 % from 100, the last valid price of binance:BTC\/USDT .*20\.00 % allowed$/);
  });

  it('does not let a refused trade become the reference', () => {
    // If the first 150 moved the reference, the second would pass and 105 would then be refused.
    expect(reasons(runSync(walk([100, 150, 150, 105, 125])))).toEqual(['ok', 'PRICE_JUMP', 'PRICE_JUMP', 'ok', 'ok']);
  });

  it('keeps one reference per instrument', () => {
    const rs = [...walk([100]), ...walk([3000], { symbol: 'ETH/USDT' }), rec(trade({ tradeId: '9', tsEvent: 5000, price: 101 }))];
    expect(reasons(runSync(rs))).toEqual(['ok', 'ok', 'ok']);
  });

  it('takes maxJump from the options; Infinity turns the check off', () => {
    expect(reasons(runSync(walk([100, 104, 110]), { maxJump: 0.05 }))).toEqual(['ok', 'ok', 'PRICE_JUMP']);
    expect(reasons(runSync(walk([100, 1000, 1]), { maxJump: Number.POSITIVE_INFINITY }))).toEqual(['ok', 'ok', 'ok']);
  });

  it('refuses options that are not a positive fraction and a positive window', () => {
    for (const o of [{ maxJump: 0 }, { maxJump: -0.1 }, { maxJump: Number.NaN }, { jumpWindowMs: 0 }, { jumpWindowMs: Number.POSITIVE_INFINITY }]) {
      expect(() => validateTrades({ allowedLatenessMs: 0, stage: 'ingest', scheduler: fixedClock, ...o })).toThrow(RangeError);
    }
  });

  it('widens the limit with the square root of the silence past jumpWindowMs, so a genuine move after a gap passes', () => {
    const at = (tsEvent: number, price: number, id: string): SourceRecord<Trade> => rec(trade({ tradeId: id, tsEvent, price }));
    // 35 % after 30 s is refused; after 4 minutes (4 windows: 0.2 * sqrt(4) = 40 %) it passes.
    expect(reasons(runSync([at(0, 100, '1'), at(30_000, 135, '2')]))).toEqual(['ok', 'PRICE_JUMP']);
    expect(reasons(runSync([at(0, 100, '1'), at(240_000, 135, '2')]))).toEqual(['ok', 'ok']);
    // A price ten times the last one is still refused an hour later (0.2 * sqrt(60) = 155 %).
    expect(reasons(runSync([at(0, 100, '1'), at(3_600_000, 1000, '2')]))).toEqual(['ok', 'PRICE_JUMP']);
  });

  it('cannot lock an instrument out: a new level is accepted once enough time has passed since the last valid price', () => {
    // The market moves 30 % while the feed is silent, then trades every 10 s at the new level. 0.2 * sqrt(t / 60 s)
    // reaches 30 % at t = 135 s, so trades before that are refused (and never become the reference), later ones pass.
    const rs = [rec(trade({ tradeId: '1', tsEvent: 0, price: 100 }))];
    for (let i = 1; i <= 20; i++) rs.push(rec(trade({ tradeId: String(i + 1), tsEvent: i * 10_000, price: 130 })));
    const out = reasons(runSync(rs, { allowedLatenessMs: 1000 }));
    expect(out).toEqual(['ok', ...Array<string>(13).fill('PRICE_JUMP'), ...Array<string>(7).fill('ok')]);
  });

  it('compares with the newest valid price: a late trade inside the horizon does not move the reference back', () => {
    const rs = [
      rec(trade({ tradeId: '1', tsEvent: 1000, price: 100 })),
      rec(trade({ tradeId: '3', tsEvent: 2000, price: 110 })),
      rec(trade({ tradeId: '2', tsEvent: 1500, price: 100.5 })), // late but inside the horizon: passes
      rec(trade({ tradeId: '4', tsEvent: 2100, price: 131 })), // 19.1 % from 110 (30 % from 100.5)
    ];
    expect(reasons(runSync(rs, { allowedLatenessMs: 1000 }))).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('checks the jump only after the other reasons (a duplicate stays a duplicate)', () => {
    const rs = [rec(trade({ tradeId: '1', price: 100 })), rec(trade({ tradeId: '1', price: 500 }))];
    expect(reasons(runSync(rs))).toEqual(['ok', 'DUPLICATE_TRADE_ID']);
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
