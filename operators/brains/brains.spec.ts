import { lastValueFrom, from } from 'rxjs';
import { map, toArray } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIME, type EnsembleSignal, type MarketContext, type Regime } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { BRAINS_DEFAULTS, brains, brainsConfig, type BrainsEvent } from './brains.ts';
import { equityPoint } from '../../test/fixtures/equity.ts';

const MIN = 60_000;
const UP: Regime = { ...DEFAULT_REGIME, trend: 'UP' };
const DOWN: Regime = { ...DEFAULT_REGIME, trend: 'DOWN' };

function signal(tsEvent: number, o: Partial<EnsembleSignal> = {}, market: Partial<MarketContext> = {}): BrainsEvent {
  const s: EnsembleSignal = {
    id: `sig-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    featureId: 'f',
    pDown: 0.1,
    pFlat: 0.15,
    pUp: 0.75,
    signal: 'LONG',
    confidence: 0.75,
    members: [{ member: 'xgb', modelVersion: 'xgb-1', weight: 1, pDown: 0.1, pFlat: 0.15, pUp: 0.75 }],
    supervisor: 'OK',
    supervisorReason: '',
    supervisorAction: 'NONE',
    // An up trend: trend-following agrees with LONG.
    regime: UP,
    market: { close: 100, atrPct: 0.002, realizedVol: 0.001, rsi: 60, emaRatio: 0.002, ret: 0.01, ...market },
    ...o,
  };
  return { kind: 'signal', signal: s };
}

function equity(tsEvent: number, drawdownDay: number): BrainsEvent {
  return { kind: 'equity', equity: equityPoint(tsEvent, { drawdownDay, drawdownWeek: drawdownDay, drawdownMax: drawdownDay }) };
}

function position(tsEvent: number, side: Position['side']): BrainsEvent {
  const p: Position = {
    id: `pos-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    positionId: 'co-1',
    side,
    qty: side === 'FLAT' ? 0 : 1,
    avgEntry: 100,
    leverage: 1,
    markPrice: 100,
    realizedPnl: 0,
    unrealizedPnl: 0,
    stopPrice: 0,
  };
  return { kind: 'position', position: p };
}

const brief = map((d: { outcome: string; refusal: string; mode: string; riskScale: number; tsInit: number }) => ({
  outcome: d.outcome,
  refusal: d.refusal,
  mode: d.mode,
  riskScale: d.riskScale,
  tsInit: d.tsInit,
}));

describe('brains operator (marbles)', () => {
  it('decides each signal with the mode, position and scale in force at its arrival', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d-e-f|', {
        a: signal(0), // NORMAL: scale 1 * vol min(1, 0.003/0.002) = 1 * conf 0.75/0.75 = 1 -> 1
        b: equity(MIN, 0.06), // daily drawdown 6% -> SAFE
        c: signal(MIN), // SAFE: scale 0.5
        d: position(MIN, 'LONG'),
        e: signal(2 * MIN), // position open
        f: signal(2 * MIN, { signal: 'FLAT' }),
      });
      expectObservable(src.pipe(brains({ scheduler: ts }), brief)).toBe('a---c---e-f|', {
        a: { outcome: 'INTENT', refusal: 'NONE', mode: 'NORMAL', riskScale: 1, tsInit: 0 },
        c: { outcome: 'INTENT', refusal: 'NONE', mode: 'SAFE', riskScale: 0.5, tsInit: 4 },
        e: { outcome: 'REFUSAL', refusal: 'POSITION_ALREADY_OPEN', mode: 'SAFE', riskScale: 0.5, tsInit: 8 },
        f: { outcome: 'REFUSAL', refusal: 'SIGNAL_FLAT', mode: 'SAFE', riskScale: 0.5, tsInit: 10 },
      });
    });
  });

  it('sees an input only after it arrives: a drawdown after a signal does not touch that signal', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold('a-b-c|', { a: signal(0), b: equity(0, 0.12), c: signal(MIN) });
      expectObservable(src.pipe(brains({ scheduler: ts }), map((d) => [d.mode, d.refusal]))).toBe('a---c|', {
        a: ['NORMAL', 'NONE'],
        c: ['CRITICAL', 'MODE_CRITICAL'],
      });
    });
  });

  it('goes CRITICAL when the scheduler clock runs ahead of the data, and holds it while data resumes', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      // b arrives at virtual time 240 001 ms while the newest signal is from 0: lag > 180 s.
      const src = cold('a 4m b c|', { a: signal(0), b: equity(4 * MIN, 0), c: signal(4 * MIN) });
      const out = src.pipe(
        brains({ scheduler: ts }),
        map((d) => [d.refusal, d.modeReason]),
      );
      expectObservable(out).toBe('a 4m - c|', {
        a: ['NONE', 'no alarm -> NORMAL'],
        c: ['MODE_CRITICAL', 'stale: newest bar 240s behind the clock (> 180s) -> CRITICAL; holding until NORMAL is clear for 5 bars (0 so far)'],
      });
    });
  });

  it('refuses through the strategy and risk brains, and honours its config', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const src = cold('a-b-c|', {
        a: signal(0, { regime: DOWN }), // trend down, signal LONG: disagrees
        b: signal(MIN, {}, { atrPct: 0.06 }), // absurd ATR: veto
        c: signal(2 * MIN, {}, { atrPct: 0.03 }), // vetoed by the configured 2%, not by the default 5%
      });
      const out = src.pipe(brains({ scheduler: ts, config: { vetoAtrPct: 0.02 } }), map((d) => d.refusal));
      expectObservable(out).toBe('a-b-c|', { a: 'STRATEGY_DISAGREES', b: 'RISK_BRAIN_VETO', c: 'RISK_BRAIN_VETO' });
      const defaults = src.pipe(brains({ scheduler: ts }), map((d) => d.refusal));
      expectObservable(defaults).toBe('a-b-c|', { a: 'STRATEGY_DISAGREES', b: 'RISK_BRAIN_VETO', c: 'NONE' });
    });
  });

  it('blocks only the side the supervisor blocks, and lets OBSERVE through', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const bias = { supervisor: 'BIAS', supervisorReason: 'BIAS ensemble: 100.0% of the last 200 signals of the ensemble are LONG (> 70.0%)' } as const;
      const src = cold('a-b|', {
        a: signal(0, { ...bias, supervisorAction: 'BLOCK' }),
        b: signal(0, { ...bias, supervisorAction: 'OBSERVE', signal: 'SHORT', regime: DOWN, id: 'sig-short' }),
      });
      const out = src.pipe(brains({ scheduler: ts }), map((d) => [d.outcome, d.refusal, d.side, d.mode, d.refusalDetail]));
      expectObservable(out).toBe('a-b|', {
        a: ['REFUSAL', 'SUPERVISOR_BLOCK', null, 'NORMAL', `supervisor BIAS blocks LONG: ${bias.supervisorReason}`],
        b: ['INTENT', 'NONE', 'SHORT', 'NORMAL', ''],
      });
    });
  });

  it('moves the CEO mode with the supervisor verdict: DRIFT to SAFE, UNHEALTHY to CRITICAL, OK relaxes after the clear count', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const drift = { supervisor: 'DRIFT', supervisorReason: 'FEATURE_DRIFT xgb@xgb-1: PSI 0.400 of rvol_30', supervisorAction: 'OBSERVE' } as const;
      const sick = { supervisor: 'UNHEALTHY', supervisorReason: 'INFERENCE_ERRORS xgb@xgb-1: 3 of the last 60 inference calls of xgb@xgb-1 failed', supervisorAction: 'OBSERVE' } as const;
      const src = cold('a-b-c-d-e|', {
        a: signal(0, drift),
        b: signal(MIN, sick),
        c: signal(2 * MIN), // OK: clear 1 of 2
        d: signal(3 * MIN), // clear 2: relaxed
        e: signal(4 * MIN, drift),
      });
      const out = src.pipe(brains({ scheduler: ts, config: { clearEvaluations: 2 } }), map((d) => [d.mode, d.refusal, d.modeReason]));
      expectObservable(out).toBe('a-b-c-d-e|', {
        a: ['SAFE', 'NONE', `supervisor DRIFT: ${drift.supervisorReason} -> SAFE`],
        b: ['CRITICAL', 'MODE_CRITICAL', `supervisor UNHEALTHY: ${sick.supervisorReason} -> CRITICAL`],
        c: ['CRITICAL', 'MODE_CRITICAL', `supervisor UNHEALTHY: ${sick.supervisorReason} -> CRITICAL; holding until NORMAL is clear for 2 bars (1 so far)`],
        d: ['NORMAL', 'NONE', 'no alarm -> NORMAL (clear for 2 bars)'],
        e: ['SAFE', 'NONE', `supervisor DRIFT: ${drift.supervisorReason} -> SAFE`],
      });
    });
  });
});

describe('brains operator: determinism and config', () => {
  it('gives identical decisions for the same input on separate subscriptions', async () => {
    const events = [signal(0), equity(MIN, 0.06), position(MIN, 'LONG'), signal(MIN), position(2 * MIN, 'FLAT'), signal(2 * MIN, { signal: 'SHORT', regime: DOWN })];
    const clock = { now: () => 123, schedule: () => { throw new Error('unused'); } };
    const op = brains({ scheduler: clock as never });
    const a = await lastValueFrom(from(events).pipe(op, toArray()));
    const b = await lastValueFrom(from(events).pipe(op, toArray()));
    expect(a).toHaveLength(3);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.map((d) => [d.outcome, d.refusal, d.side])).toEqual([
      ['INTENT', 'NONE', 'LONG'],
      ['REFUSAL', 'POSITION_ALREADY_OPEN', null],
      ['INTENT', 'NONE', 'SHORT'],
    ]);
  });

  it('keeps defaults for settings given as undefined', () => {
    expect(brainsConfig({ clearEvaluations: undefined, staleAfterMs: 1 }).clearEvaluations).toBe(BRAINS_DEFAULTS.clearEvaluations);
    expect(brainsConfig({ staleAfterMs: 1 }).staleAfterMs).toBe(1);
  });
});
