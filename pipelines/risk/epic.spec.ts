import { asapScheduler, lastValueFrom, NEVER, of, scheduled } from 'rxjs';
import { map, toArray } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import type { Equity } from '../../schemas/equity.ts';
import { deriveId } from '../../schemas/ids.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Outgoing } from '../../schemas/ports.ts';
import { schemaOf } from '../../schemas/topics.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { riskEpic } from './epic.ts';
import { equityPoint } from '../../test/fixtures/equity.ts';

const MIN = 60_000;

/** The risk order inside an outgoing message (fails the test on any other topic). */
function orderOf(o: Outgoing): RiskOrder {
  if (o.topic !== 'risk.orders.v1') throw new Error(`unexpected topic ${o.topic}`);
  return o.value;
}

function decision(tsEvent: number, o: Partial<BrainDecision> = {}): BrainDecision {
  return {
    id: `dec-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    signalId: `sig-${tsEvent}`,
    outcome: 'INTENT',
    refusal: 'NONE',
    refusalDetail: '',
    side: 'LONG',
    mode: 'NORMAL',
    modeReason: '',
    strategy: 'trend-following',
    riskScale: 1,
    confidence: 0.8,
    signal: 'LONG',
    members: [],
    close: 100,
    atrPct: 0.01,
    ...o,
  };
}

function equity(tsEvent: number, value: number): Equity {
  return equityPoint(tsEvent, { equity: value, cash: value });
}

function position(tsEvent: number, side: Position['side'], positionId: string): Position {
  return {
    id: `pos-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    positionId,
    side,
    qty: side === 'FLAT' ? 0 : 50,
    avgEntry: 100,
    leverage: 1,
    markPrice: 100,
    realizedPnl: 0,
    unrealizedPnl: 0,
    stopPrice: 0,
  };
}

describe('riskEpic', () => {
  it('emits one risk.orders.v1 message per intent, keyed by instrument, taking the three inputs in arrival order', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ hot, expectObservable }) => {
      const d1 = decision(MIN);
      const decisions = hot('--a---b---c-d|', {
        a: d1, // approved: qty 1% * 20 000 / 1.5 = 133.33 (notional 13 333 under 1x equity)
        b: decision(2 * MIN, { outcome: 'REFUSAL', refusal: 'SIGNAL_FLAT', side: null }), // nothing
        c: decision(3 * MIN), // position open
        d: decision(4 * MIN, { symbol: 'ETH/USDT', confidence: 0.5 }),
      });
      const eq = hot('     -e-----------|', { e: equity(0, 20_000) });
      const positions = hot('--------p----|', { p: position(2 * MIN, 'LONG', deriveId('co', d1.id)) });
      const out = riskEpic({ decisions, equity: eq, positions }, { scheduler: ts }).pipe(
        map((o) => [o.topic, o.key, orderOf(o).denyReason, Number(orderOf(o).qty.toFixed(6)), orderOf(o).tsInit]),
      );
      expectObservable(out).toBe('--a-------c-d|', {
        a: ['risk.orders.v1', 'binance:BTC/USDT', 'NONE', 133.333333, 2],
        c: ['risk.orders.v1', 'binance:BTC/USDT', 'POSITION_OPEN', 0, 10],
        d: ['risk.orders.v1', 'binance:ETH/USDT', 'CONFIDENCE_BELOW_GATE', 0, 12],
      });
    });
  });

  it('takes exec.orders.v1 as `orders`: a REJECTED entry frees its instrument at once', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ hot, expectObservable }) => {
      const d1 = decision(MIN);
      const rejected: OrderEvent = {
        id: 'oe-1', tsEvent: MIN, tsInit: 0, exchange: 'binance', symbol: 'BTC/USDT', clientOrderId: deriveId('co', d1.id), venue: 'paper',
        status: 'REJECTED', purpose: 'ENTRY', side: 'BUY', type: 'MARKET', qty: 66, filledQty: 0, avgPrice: 0, reason: 'INSUFFICIENT_MARGIN',
      };
      const decisions = hot('--a---b|', { a: d1, b: decision(2 * MIN) });
      const eq = hot('     -e-----|', { e: equity(0, 10_000) });
      const orders = hot(' ----r--|', { r: rejected });
      const out = riskEpic({ decisions, equity: eq, positions: hot('-------|'), orders }, { scheduler: ts }).pipe(map((o) => orderOf(o).denyReason));
      expectObservable(out).toBe('--a---b|', { a: 'NONE', b: 'NONE' });
    });
  });

  it('passes its config to risk', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const out = riskEpic(
        { decisions: cold('-a|', { a: decision(MIN, { confidence: 0.6, atrPct: 0.02 }) }), equity: cold('e|', { e: equity(0, 10_000) }), positions: cold('|') },
        { scheduler: ts, config: { confidenceGate: 0.55, riskPerTrade: 0.02 } },
      ).pipe(map((o) => [orderOf(o).denyReason, Number(orderOf(o).riskFraction.toFixed(9))]));
      // stop distance 1.5 * 0.02 * 100 = 3; 2% of 10 000 = 200 -> qty 66.67, notional 6 667 under the 1x cap: the full 2% at risk
      expectObservable(out).toBe('-a|', { a: ['NONE', 0.02] });
    });
  });

  it('emits messages that encode with the Avro schema of their topic and decode to the same value', async () => {
    const clock = { now: () => 1_704_715_200_123, schedule: () => NEVER.subscribe() };
    const outs = await lastValueFrom(
      riskEpic(
        {
          // Decisions a tick later, so the equity point (synchronous) has arrived first.
          decisions: scheduled([decision(MIN), decision(2 * MIN), decision(3 * MIN, { symbol: 'ETH/USDT', side: 'SHORT' })], asapScheduler),
          equity: of(equity(0, 10_000)),
          positions: of(),
        },
        { scheduler: clock as never },
      ).pipe(toArray()),
    );
    expect(outs.map((o) => orderOf(o).denyReason)).toEqual(['NONE', 'POSITION_OPEN', 'NONE']);
    for (const o of outs) {
      const codec = codecFor(schemaOf(o.topic));
      expect(codec.decode(codec.encode(o.value as never))).toEqual(o.value);
    }
  });
});
