import { of, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { SourceRecord, Validated } from '../../schemas/source-record.ts';
import { BAR_REJECT_REASONS, validateBars, type ValidateBarsOptions } from './validate-bars.ts';

const T0 = Date.UTC(2025, 0, 1);
const M = 60_000;

function bar(o: Partial<Record<keyof Bar, unknown>> = {}): Bar {
  const openTime = (o.openTime as number | undefined) ?? T0;
  return {
    id: `binance:BTC/USDT:1m:${openTime}`,
    tsEvent: openTime + M,
    tsInit: openTime + M,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    interval: '1m',
    openTime,
    open: 100,
    high: 110,
    low: 90,
    close: 105,
    volume: 10,
    quoteVolume: 1000,
    buyVolume: 4,
    trades: 50,
    ...o,
  } as Bar;
}

let line = 0;
function rec(value: Bar | null, error?: { reason: string; message: string }): SourceRecord<Bar> {
  line++;
  return { source: 'csv:bars', offset: line, raw: `bar line ${line}`, value, ...(error ? { error } : {}) };
}

function dead(r: SourceRecord<Bar>, reason: string, tsInit: number): Validated<Bar> {
  return {
    ok: false,
    deadLetter: {
      id: deriveId('dlq', r.source, r.offset, r.raw),
      tsEvent: r.value?.tsEvent ?? tsInit,
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
    },
  };
}

function runSync(records: SourceRecord<Bar>[], o: Partial<ValidateBarsOptions> = {}): Validated<Bar>[] {
  const out: Validated<Bar>[] = [];
  of(...records)
    .pipe(validateBars({ allowedLatenessMs: 0, stage: 'ingest', scheduler: { now: () => 7 } as SchedulerLike, ...o }))
    .subscribe((v) => out.push(v));
  return out;
}

const reasons = (vs: Validated<Bar>[]): string[] => vs.map((v) => (v.ok ? 'ok' : v.deadLetter.reason));

describe('validateBars (marbles)', () => {
  it('passes valid bars and turns bad ones into dead letters stamped with virtual time', () => {
    const a = rec(bar({ openTime: T0 }));
    const b = rec(bar({ openTime: T0 }));
    const c = rec(bar({ openTime: T0 + M, high: 101 }));
    const d = rec(null, { reason: 'MALFORMED', message: '11 columns' });
    const e = rec(bar({ openTime: T0 + M }));
    const testScheduler = new TestScheduler((x, y) => expect(x).toEqual(y));
    testScheduler.run(({ cold, expectObservable }) => {
      const out = cold('a-b-c-d-e|', { a, b, c, d, e }).pipe(validateBars({ allowedLatenessMs: 0, stage: 'ingest', scheduler: testScheduler }));
      expectObservable(out).toBe('v-w-x-y-z|', {
        v: { ok: true, value: a.value },
        w: dead(b, 'DUPLICATE_BAR', 2),
        x: dead(c, 'HIGH_BELOW_BODY', 4),
        y: dead(d, 'MALFORMED', 6),
        z: { ok: true, value: e.value },
      });
    });
  });
});

describe('validateBars: one test per reason', () => {
  it('exports the fixed list of reasons', () => {
    expect(BAR_REJECT_REASONS).toContain('DUPLICATE_BAR');
    expect(BAR_REJECT_REASONS).toContain('LATE');
    expect(BAR_REJECT_REASONS).toContain('PRICE_JUMP');
    expect(BAR_REJECT_REASONS.length).toBe(12);
  });

  it('MALFORMED: unparsed records and bars with an unknown interval or non-integer times', () => {
    const rs = [rec(null, { reason: 'MALFORMED', message: 'x' }), rec(bar({ interval: '7m' })), rec(bar({ openTime: Number.NaN })), rec(bar({ symbol: '' }))];
    expect(reasons(runSync(rs))).toEqual(['MALFORMED', 'MALFORMED', 'MALFORMED', 'MALFORMED']);
  });

  it('UNKNOWN_SYMBOL', () => {
    const out = runSync([rec(bar()), rec(bar({ symbol: 'ETH/USDT' }))], { symbols: new Set(['binance:ETH/USDT']) });
    expect(reasons(out)).toEqual(['UNKNOWN_SYMBOL', 'ok']);
  });

  it('NON_FINITE_PRICE and NON_POSITIVE_PRICE on any of open, high, low, close', () => {
    const rs = [
      rec(bar({ open: Number.NaN })),
      rec(bar({ close: Number.POSITIVE_INFINITY })),
      rec(bar({ low: 0 })),
      rec(bar({ open: -1, low: -2 })),
    ];
    expect(reasons(runSync(rs))).toEqual(['NON_FINITE_PRICE', 'NON_FINITE_PRICE', 'NON_POSITIVE_PRICE', 'NON_POSITIVE_PRICE']);
  });

  it('HIGH_BELOW_BODY and LOW_ABOVE_BODY; a flat bar with high = low passes', () => {
    const rs = [
      rec(bar({ open: 100, close: 106, high: 105.9, low: 99 })),
      rec(bar({ open: 100, close: 95, high: 101, low: 95.5 })),
      rec(bar({ open: 100, close: 100, high: 100, low: 100 })),
    ];
    expect(reasons(runSync(rs))).toEqual(['HIGH_BELOW_BODY', 'LOW_ABOVE_BODY', 'ok']);
  });

  it('NON_FINITE_VOLUME and NEGATIVE_VOLUME; zero volume passes', () => {
    const rs = [
      rec(bar({ openTime: T0, volume: Number.NaN })),
      rec(bar({ openTime: T0, quoteVolume: -1 })),
      rec(bar({ openTime: T0, trades: -3 })),
      rec(bar({ openTime: T0, volume: 0, quoteVolume: 0, buyVolume: 0, trades: 0 })),
    ];
    expect(reasons(runSync(rs))).toEqual(['NON_FINITE_VOLUME', 'NEGATIVE_VOLUME', 'NEGATIVE_VOLUME', 'ok']);
  });

  it('MISALIGNED_TIME: open time off the boundary or tsEvent not openTime + interval', () => {
    const rs = [rec(bar({ openTime: T0 + 1, tsEvent: T0 + 1 + M })), rec(bar({ openTime: T0, tsEvent: T0 + M - 1 })), rec(bar({ interval: '5m', openTime: T0, tsEvent: T0 + 5 * M }))];
    expect(reasons(runSync(rs))).toEqual(['MISALIGNED_TIME', 'MISALIGNED_TIME', 'ok']);
  });

  it('LATE: a bar closing more than allowedLatenessMs before the newest of its instrument', () => {
    const rs = [rec(bar({ openTime: T0 + 10 * M })), rec(bar({ openTime: T0 + 8 * M })), rec(bar({ openTime: T0 + 7 * M })), rec(bar({ openTime: T0, symbol: 'ETH/USDT' }))];
    expect(reasons(runSync(rs, { allowedLatenessMs: 2 * M }))).toEqual(['ok', 'ok', 'LATE', 'ok']);
  });

  it('DUPLICATE_BAR: the same open time twice for one instrument', () => {
    const rs = [rec(bar({ openTime: T0 })), rec(bar({ openTime: T0, symbol: 'ETH/USDT' })), rec(bar({ openTime: T0, close: 108 }))];
    expect(reasons(runSync(rs))).toEqual(['ok', 'ok', 'DUPLICATE_BAR']);
  });
});

describe('validateBars: PRICE_JUMP (open, high, low, close against the previous valid close)', () => {
  /** A 1m bar at minute i with the given prices (high and low default to the body). */
  const at = (i: number, open: number, close: number, o: Partial<Record<keyof Bar, unknown>> = {}): SourceRecord<Bar> =>
    rec(bar({ openTime: T0 + i * M, open, close, high: Math.max(open, close), low: Math.min(open, close), ...o }));

  it('refuses a bar whose open, high, low or close is more than 20 % from the previous valid close, by default', () => {
    const after100 = (next: SourceRecord<Bar>): Validated<Bar> => runSync([at(0, 100, 100), next])[1]!;
    const cases = [
      at(1, 100, 119.9), // close +19.9 %
      at(1, 100, 80.1), // close -19.9 %
      at(1, 100, 100, { high: 120.5 }),
      at(1, 100, 100, { low: 79.5 }),
      at(1, 121, 110),
      at(1, 110, 121), // high and close +21 %: named by the first field checked (open, high, low, close)
    ].map(after100);
    expect(reasons(cases)).toEqual(['ok', 'ok', 'PRICE_JUMP', 'PRICE_JUMP', 'PRICE_JUMP', 'PRICE_JUMP']);
    expect(cases.slice(2).map((v) => !v.ok && v.deadLetter.message.split(' ')[0])).toEqual(['high', 'low', 'open', 'high']);
    const r = at(1, 100, 100, { high: 130 });
    expect(runSync([at(0, 100, 100), r])[1]).toEqual(dead(r, 'PRICE_JUMP', 7));
  });

  it('does not let a refused bar\'s close become the reference', () => {
    // If the 150 bar moved the reference, the second one would pass and the 101 bar would be refused.
    expect(reasons(runSync([at(0, 100, 100), at(1, 150, 150), at(2, 150, 150), at(3, 101, 101)]))).toEqual(['ok', 'PRICE_JUMP', 'PRICE_JUMP', 'ok']);
  });

  it('keeps one reference per instrument and takes maxJump from the options (Infinity: off)', () => {
    expect(reasons(runSync([at(0, 100, 100), at(0, 3000, 3000, { symbol: 'ETH/USDT' }), at(1, 100, 101)]))).toEqual(['ok', 'ok', 'ok']);
    expect(reasons(runSync([at(0, 100, 100), at(1, 100, 104), at(2, 104, 110)], { maxJump: 0.05 }))).toEqual(['ok', 'ok', 'PRICE_JUMP']);
    expect(reasons(runSync([at(0, 100, 100), at(1, 1000, 1000)], { maxJump: Number.POSITIVE_INFINITY }))).toEqual(['ok', 'ok']);
    expect(() => validateBars({ allowedLatenessMs: 0, stage: 'ingest', scheduler: { now: () => 0 } as SchedulerLike, maxJump: 0 })).toThrow(RangeError);
    expect(() => validateBars({ allowedLatenessMs: 0, stage: 'ingest', scheduler: { now: () => 0 } as SchedulerLike, jumpWindowMs: -1 })).toThrow(RangeError);
  });

  it('widens the limit across a gap in the bars: one interval by default, or jumpWindowMs', () => {
    // 30 % after a one-bar step is refused; after a 4-minute hole (0.2 * sqrt(5) = 44.7 %) it passes.
    expect(reasons(runSync([at(0, 100, 100), at(1, 130, 130)]))).toEqual(['ok', 'PRICE_JUMP']);
    expect(reasons(runSync([at(0, 100, 100), at(5, 130, 130)]))).toEqual(['ok', 'ok']);
    expect(reasons(runSync([at(0, 100, 100), at(5, 130, 130)], { jumpWindowMs: 10 * M }))).toEqual(['ok', 'PRICE_JUMP']);
    // 5m bars: the window is five minutes, so a step of one bar is held to 20 %.
    const five = (i: number, p: number): SourceRecord<Bar> => rec(bar({ interval: '5m', openTime: T0 + i * 5 * M, tsEvent: T0 + (i + 1) * 5 * M, open: p, close: p, high: p, low: p }));
    expect(reasons(runSync([five(0, 100), five(1, 125)]))).toEqual(['ok', 'PRICE_JUMP']);
  });

  it('checks the jump only after the other reasons', () => {
    expect(reasons(runSync([at(0, 100, 100), at(0, 500, 500)]))).toEqual(['ok', 'DUPLICATE_BAR']);
  });
});

describe('validateBars on a valid stream', () => {
  it('passes every bar untouched, in order', () => {
    const bars = Array.from({ length: 2000 }, (_, i) => bar({ openTime: T0 + Math.floor(i / 2) * M, symbol: i % 2 ? 'ETH/USDT' : 'BTC/USDT' }));
    const out = runSync(bars.map((b) => rec(b)));
    expect(out.every((v, i) => v.ok && v.value === bars[i])).toBe(true);
    expect(out.length).toBe(2000);
  });
});
