import { from, lastValueFrom, NEVER, of } from 'rxjs';
import { map, toArray } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import { DEFAULT_REGIME, type EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { Outgoing } from '../../schemas/ports.ts';
import { schemaOf } from '../../schemas/topics.ts';
import type { Position } from '../../schemas/position.ts';
import { brainsEpic } from './epic.ts';
import { equityPoint } from '../../test/fixtures/equity.ts';

const MIN = 60_000;

/** The decision inside an outgoing message (fails the test on any other topic). */
function decisionOf(o: Outgoing): BrainDecision {
  if (o.topic !== 'brain.decisions.v1') throw new Error(`unexpected topic ${o.topic}`);
  return o.value;
}

function signal(tsEvent: number, symbol = 'BTC/USDT'): EnsembleSignal {
  return {
    id: `sig-${symbol}-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol,
    featureId: 'f',
    pDown: 0.1,
    pFlat: 0.15,
    pUp: 0.75,
    signal: 'LONG',
    confidence: 0.75,
    members: [],
    supervisor: 'OK',
    supervisorReason: '',
    supervisorAction: 'NONE',
    regime: { ...DEFAULT_REGIME, trend: 'UP' },
    market: { close: 100, atrPct: 0.002, realizedVol: 0.001, rsi: 60, emaRatio: 0.002, ret: 0.01 },
  };
}

function equity(tsEvent: number, drawdownDay: number): Equity {
  return equityPoint(tsEvent, { drawdownDay });
}

function position(tsEvent: number, symbol: string, side: Position['side']): Position {
  return {
    id: `pos-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol,
    positionId: `co-${symbol}`,
    side,
    qty: side === 'FLAT' ? 0 : 1,
    avgEntry: 100,
    leverage: 1,
    markPrice: 100,
    realizedPnl: 0,
    unrealizedPnl: 0,
    stopPrice: 0,
  };
}

describe('brainsEpic', () => {
  it('emits one brain.decisions.v1 message per signal, keyed by instrument, taking the three inputs in arrival order', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ hot, expectObservable }) => {
      const signals = hot('--a-----c---e|', { a: signal(0), c: signal(MIN, 'ETH/USDT'), e: signal(2 * MIN) });
      const eq = hot('     ------b------|', { b: equity(MIN, 0.07) });
      const positions = hot('----p--------|', { p: position(0, 'BTC/USDT', 'LONG') });
      const out = brainsEpic({ signals, equity: eq, positions }, { scheduler: ts }).pipe(
        map((o) => [o.topic, o.key, decisionOf(o).refusal, decisionOf(o).mode, decisionOf(o).tsInit]),
      );
      expectObservable(out).toBe('--a-----c---e|', {
        a: ['brain.decisions.v1', 'binance:BTC/USDT', 'NONE', 'NORMAL', 2],
        c: ['brain.decisions.v1', 'binance:ETH/USDT', 'NONE', 'SAFE', 8], // after the 7% drawdown at frame 6
        e: ['brain.decisions.v1', 'binance:BTC/USDT', 'POSITION_ALREADY_OPEN', 'SAFE', 12], // after the position at frame 4
      });
    });
  });

  it('passes its config to the brains', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const out = brainsEpic(
        { signals: cold('a|', { a: { ...signal(0), regime: DEFAULT_REGIME } }), equity: cold('|'), positions: cold('|') },
        { scheduler: ts, config: { rsiOversold: 65 } }, // a range: mean reversion, RSI 60 is < 65 (not < the default 30)
      ).pipe(map((o) => [decisionOf(o).strategy, decisionOf(o).refusal]));
      expectObservable(out).toBe('a|', { a: ['mean-reversion', 'NONE'] });
    });
  });

  it('emits messages that encode with the Avro schema of their topic and decode to the same value', async () => {
    const clock = { now: () => 1_704_715_200_123, schedule: () => NEVER.subscribe() };
    const signals = from([signal(0), { ...signal(MIN), signal: 'FLAT' as const }, signal(2 * MIN, 'ETH/USDT')]);
    const outs = await lastValueFrom(
      brainsEpic({ signals, equity: of(equity(0, 0.01)), positions: of(position(0, 'BTC/USDT', 'LONG')) }, { scheduler: clock as never }).pipe(toArray()),
    );
    expect(outs).toHaveLength(3);
    for (const o of outs) {
      const codec = codecFor(schemaOf(o.topic));
      expect(codec.decode(codec.encode(o.value as never))).toEqual(o.value);
    }
  });
});
