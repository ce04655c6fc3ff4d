import type { SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { deriveId } from '../../schemas/ids.ts';
import {
  advanceReference,
  allowedJump,
  DEFAULT_MAX_JUMP,
  edgeDeadLetter,
  emptyReference,
  excessJump,
  instrumentIndex,
  jumpLimits,
  numericId,
  PerInstrument,
  SeenWindow,
} from './edge-validation.ts';

const clock = { now: () => 5000 } as SchedulerLike;

describe('edgeDeadLetter', () => {
  const rec = { source: 'csv:/x/BTCUSDT-trades.csv', offset: 7, raw: '1,abc,2,3,4,True,True', value: null };

  it('carries the raw bytes, source, offset and reason', () => {
    const dl = edgeDeadLetter(rec, { key: null, tsEvent: undefined, reason: 'MALFORMED', message: 'price', stage: 'ingest', scheduler: clock });
    expect(dl).toEqual({
      id: deriveId('dlq', 'csv:/x/BTCUSDT-trades.csv', 7, '1,abc,2,3,4,True,True'),
      tsEvent: 5000,
      tsInit: 5000,
      sourceTopic: 'csv:/x/BTCUSDT-trades.csv',
      partition: -1,
      offset: 7,
      key: null,
      payload: Buffer.from('1,abc,2,3,4,True,True'),
      stage: 'ingest',
      errorClass: 'ValidationError',
      reason: 'MALFORMED',
      message: 'price',
    });
  });

  it('keeps the record time when it has one, and the clock otherwise', () => {
    const at = (tsEvent: unknown): number =>
      edgeDeadLetter(rec, { key: 'k', tsEvent, reason: 'LATE', message: '', stage: 's', scheduler: clock }).tsEvent;
    expect(at(1234)).toBe(1234);
    expect(at(Number.NaN)).toBe(5000);
    expect(at(12.5)).toBe(5000);
    expect(at('1234')).toBe(5000);
  });

  it('gives the same id for the same input and a different one for another line', () => {
    const a = edgeDeadLetter(rec, { key: null, tsEvent: 1, reason: 'R', message: '', stage: 's', scheduler: clock });
    const b = edgeDeadLetter(rec, { key: null, tsEvent: 1, reason: 'R', message: '', stage: 's', scheduler: clock });
    const c = edgeDeadLetter({ ...rec, offset: 8 }, { key: null, tsEvent: 1, reason: 'R', message: '', stage: 's', scheduler: clock });
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
  });
});

describe('instrumentIndex', () => {
  it('splits keys at the first colon so perpetual symbols keep theirs', () => {
    const idx = instrumentIndex(new Set(['binance:BTC/USDT', 'binanceusdm:BTC/USDT:USDT', 'nocolon']))!;
    expect(idx.get('binance')?.has('BTC/USDT')).toBe(true);
    expect(idx.get('binanceusdm')?.has('BTC/USDT:USDT')).toBe(true);
    expect(idx.get('binanceusdm')?.has('BTC/USDT')).toBe(false);
    expect([...idx.keys()]).toEqual(['binance', 'binanceusdm']);
    expect(instrumentIndex(undefined)).toBeUndefined();
  });
});

describe('PerInstrument', () => {
  it('creates one state per exchange and symbol and returns it again', () => {
    let made = 0;
    const p = new PerInstrument(() => ({ n: ++made }));
    const a = p.get('binance', 'BTC/USDT');
    expect(p.get('binance', 'ETH/USDT')).not.toBe(a);
    expect(p.get('binance', 'BTC/USDT')).toBe(a);
    expect(p.get('binanceusdm', 'BTC/USDT')).not.toBe(a);
    expect(made).toBe(3);
  });
});

describe('SeenWindow', () => {
  it('forgets keys whose time falls before the cutoff, remembering the highest numeric one', () => {
    const w = new SeenWindow<number>(100);
    w.add(1, 1000);
    w.add(2, 2000);
    w.add(3, 3000);
    w.evictBefore(2500);
    expect([w.has(1), w.has(2), w.has(3)]).toEqual([false, false, true]);
    expect(w.forgottenHigh).toBe(2);
    expect(w.size).toBe(1);
  });

  it('holds at most capacity keys', () => {
    const w = new SeenWindow<number>(3);
    for (let i = 1; i <= 10; i++) w.add(i, 0);
    expect(w.size).toBe(3);
    expect([w.has(7), w.has(8), w.has(10)]).toEqual([false, true, true]);
    expect(w.forgottenHigh).toBe(7);
  });

  it('stays bounded over a long stream (compaction keeps working)', () => {
    const w = new SeenWindow<number>(1_000_000);
    for (let i = 0; i < 50_000; i++) {
      w.add(i, i);
      w.evictBefore(i - 100);
    }
    expect(w.size).toBe(101);
    expect(w.has(49_899)).toBe(true);
    expect(w.has(49_898)).toBe(false);
  });
});

describe('numericId', () => {
  it('turns canonical integer ids into numbers and leaves everything else as strings', () => {
    expect(numericId('3735683259')).toBe(3735683259);
    expect(numericId('0')).toBe(0);
    expect(numericId('007')).toBe('007');
    expect(numericId('1e3')).toBe('1e3');
    expect(numericId('')).toBe('');
    expect(numericId('-1')).toBe('-1');
    expect(numericId('1234567890123456')).toBe('1234567890123456');
    expect(numericId('abc')).toBe('abc');
  });
});

describe('the sane-jump check', () => {
  const limits = jumpLimits(DEFAULT_MAX_JUMP, 60_000, 'test');

  it('allows maxJump within the window and widens it with the square root of the time past it', () => {
    expect(DEFAULT_MAX_JUMP).toBe(0.2);
    expect(allowedJump(limits, -5000)).toBe(0.2);
    expect(allowedJump(limits, 60_000)).toBe(0.2);
    expect(allowedJump(limits, 240_000)).toBeCloseTo(0.4, 12);
    expect(allowedJump(limits, 3_600_000)).toBeCloseTo(0.2 * Math.sqrt(60), 12);
  });

  it('gives the excess move, or 0 within the limit and without a reference', () => {
    const ref = emptyReference();
    expect(excessJump(ref, 0, 1e9, limits)).toBe(0);
    advanceReference(ref, 1000, 100);
    expect(excessJump(ref, 2000, 119, limits)).toBe(0);
    expect(excessJump(ref, 2000, 79, limits)).toBeCloseTo(0.21, 12);
    expect(excessJump(ref, 241_000, 139, limits)).toBe(0);
    expect(excessJump(ref, 2000, 1e9, jumpLimits(Number.POSITIVE_INFINITY, 1, 't'))).toBe(0);
  });

  it('moves the reference forward in event time only', () => {
    const ref = emptyReference();
    advanceReference(ref, 2000, 100);
    advanceReference(ref, 1500, 90);
    expect(ref).toEqual({ price: 100, ts: 2000 });
    advanceReference(ref, 2000, 101);
    expect(ref).toEqual({ price: 101, ts: 2000 });
  });

  it('refuses bad limits when an operator is made', () => {
    expect(() => jumpLimits(0, 1, 'op')).toThrow(/op: maxJump/);
    expect(() => jumpLimits(Number.NaN, 1, 'op')).toThrow(RangeError);
    expect(() => jumpLimits(0.2, 0, 'op')).toThrow(/jumpWindowMs/);
  });
});
