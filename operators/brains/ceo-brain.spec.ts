import { map } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { SupervisorVerdict } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { CEO_DEFAULTS, ceoBrain, initialCeoState, stepCeo, type CeoConfig, type CeoInput, type CeoState, type CeoStep } from './ceo-brain.ts';
import type { MarketView } from './market-watch.ts';
import { equityPoint } from '../../test/fixtures/equity.ts';

const T0 = Date.UTC(2024, 0, 8, 12, 0);
const MIN = 60_000;

function equity(tsEvent: number, o: Partial<Equity> = {}): CeoInput {
  return { kind: 'equity', equity: equityPoint(tsEvent, o), now: tsEvent };
}

function market(tsEvent: number, view: Partial<MarketView> = {}, now = tsEvent, supervisor: SupervisorVerdict = 'OK', supervisorReason = ''): CeoInput {
  const m: MarketView = { asOfTs: tsEvent - MIN, newestTs: tsEvent, symbols: 3, staleSymbols: 0, medianVol: 0.001, medianAtrPct: 0.002, volRatio: 1, ...view };
  return { kind: 'market', tsEvent, market: m, supervisor, supervisorReason, now };
}

/** A calm market view after a signal carrying the given supervisor verdict. */
const supervised = (tsEvent: number, verdict: SupervisorVerdict, reason = ''): CeoInput => market(tsEvent, {}, tsEvent, verdict, reason);

function position(tsEvent: number, positionId: string, side: Position['side'], realizedPnl = 0): CeoInput {
  const p: Position = {
    id: `pos-${positionId}-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    exchange: 'binance',
    symbol: 'A',
    positionId,
    side,
    qty: side === 'FLAT' ? 0 : 1,
    avgEntry: 100,
    leverage: 1,
    markPrice: 100,
    realizedPnl,
    unrealizedPnl: 0,
    stopPrice: side === 'FLAT' ? 0 : 98,
  };
  return { kind: 'position', position: p, now: tsEvent };
}

/** Runs the inputs from the start state and returns every step. */
function run(inputs: readonly CeoInput[], config: Partial<CeoConfig> = {}, from: CeoState = initialCeoState()): CeoStep[] {
  const cfg = { ...CEO_DEFAULTS, ...config };
  const steps: CeoStep[] = [];
  let s = from;
  for (const i of inputs) {
    const step = stepCeo(s, i, cfg);
    steps.push(step);
    s = step.state;
  }
  return steps;
}
const last = (steps: readonly CeoStep[]): CeoStep => steps[steps.length - 1]!;

describe('stepCeo: drawdown rules', () => {
  it('starts NORMAL and stays NORMAL with nothing alarming', () => {
    const s = run([equity(T0)]);
    expect(last(s)).toMatchObject({ mode: 'NORMAL', reason: 'no alarm -> NORMAL', changed: false });
  });

  it('goes SAFE at a daily drawdown at or above 5%, saying why', () => {
    const s = run([equity(T0, { drawdownDay: 0.061 })]);
    expect(last(s)).toMatchObject({ mode: 'SAFE', reason: 'daily drawdown 6.1% >= 5.0% -> SAFE', changed: true });
  });

  it('goes SAFE at a weekly drawdown at or above 10%', () => {
    const s = run([equity(T0, { drawdownWeek: 0.12 })]);
    expect(last(s)).toMatchObject({ mode: 'SAFE', reason: 'weekly drawdown 12.0% >= 10.0% -> SAFE' });
  });

  it('goes straight from NORMAL to CRITICAL at a daily drawdown at or above 10%, or weekly at or above 20%', () => {
    expect(last(run([equity(T0, { drawdownDay: 0.104 })]))).toMatchObject({ mode: 'CRITICAL', reason: 'daily drawdown 10.4% >= 10.0% -> CRITICAL', changed: true });
    expect(last(run([equity(T0, { drawdownWeek: 0.21 })]))).toMatchObject({ mode: 'CRITICAL', reason: 'weekly drawdown 21.0% >= 20.0% -> CRITICAL' });
  });
});

describe('stepCeo: hysteresis', () => {
  it('holds SAFE inside the band, then relaxes only after 5 clear bar times', () => {
    const steps = run([
      equity(T0, { drawdownDay: 0.06 }), // SAFE
      equity(T0 + MIN, { drawdownDay: 0.045 }), // below 5% but not below 5% - 1% = 4%: band holds SAFE
      equity(T0 + 2 * MIN, { drawdownDay: 0.03 }), // clear 1
      equity(T0 + 2 * MIN, { drawdownDay: 0.03 }), // same bar time: does not count
      equity(T0 + 3 * MIN, { drawdownDay: 0.03 }), // clear 2
      equity(T0 + 4 * MIN, { drawdownDay: 0.03 }), // clear 3
      equity(T0 + 5 * MIN, { drawdownDay: 0.03 }), // clear 4
      equity(T0 + 6 * MIN, { drawdownDay: 0.03 }), // clear 5 -> NORMAL
    ]);
    expect(steps.map((s) => s.mode)).toEqual(['SAFE', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'NORMAL']);
    expect(steps.map((s) => s.changed)).toEqual([true, false, false, false, false, false, false, true]);
    expect(steps[1]!.reason).toBe('daily drawdown 4.5% still >= 4.0% (band below 5.0%) -> SAFE');
    expect(steps[3]!.reason).toBe(
      'daily drawdown 4.5% still >= 4.0% (band below 5.0%) -> SAFE; holding until NORMAL is clear for 5 bars (1 so far)',
    );
    expect(steps[6]!.reason).toContain('(4 so far)');
    expect(steps[7]!.reason).toBe('no alarm -> NORMAL (clear for 5 bars)');
  });

  it('restarts the count when the alarm comes back', () => {
    const steps = run(
      [
        equity(T0, { drawdownDay: 0.06 }),
        equity(T0 + MIN, { drawdownDay: 0.01 }), // clear 1
        equity(T0 + 2 * MIN, { drawdownDay: 0.01 }), // clear 2
        equity(T0 + 3 * MIN, { drawdownDay: 0.055 }), // alarm again: count back to 0
        equity(T0 + 4 * MIN, { drawdownDay: 0.01 }), // clear 1
        equity(T0 + 5 * MIN, { drawdownDay: 0.01 }), // clear 2
        equity(T0 + 6 * MIN, { drawdownDay: 0.01 }), // clear 3 -> NORMAL
      ],
      { clearEvaluations: 3 },
    );
    expect(steps.map((s) => s.mode)).toEqual(['SAFE', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'NORMAL']);
    expect(steps[3]!.reason).toBe('daily drawdown 5.5% >= 5.0% -> SAFE');
  });

  it('steps down from CRITICAL through SAFE, each after the clear count', () => {
    const steps = run(
      [
        equity(T0, { drawdownDay: 0.12 }), // CRITICAL
        equity(T0 + MIN, { drawdownDay: 0.095 }), // band of CRITICAL: 9%..10%
        equity(T0 + 2 * MIN, { drawdownDay: 0.07 }), // SAFE clear 1
        equity(T0 + 3 * MIN, { drawdownDay: 0.07 }), // clear 2 -> SAFE
        equity(T0 + 4 * MIN, { drawdownDay: 0.0 }), // NORMAL clear 1
        equity(T0 + 5 * MIN, { drawdownDay: 0.0 }), // clear 2 -> NORMAL
      ],
      { clearEvaluations: 2 },
    );
    expect(steps.map((s) => s.mode)).toEqual(['CRITICAL', 'CRITICAL', 'CRITICAL', 'SAFE', 'SAFE', 'NORMAL']);
    expect(steps[1]!.reason).toBe('daily drawdown 9.5% still >= 9.0% (band below 10.0%) -> CRITICAL');
    expect(steps[3]!.reason).toBe('daily drawdown 7.0% >= 5.0% -> SAFE (clear for 2 bars)');
  });
});

describe('stepCeo: stale data', () => {
  it('goes CRITICAL when more than half of the symbols have no bar for more than staleAfterMs', () => {
    const steps = run([market(T0, { symbols: 3, staleSymbols: 1 }), market(T0 + MIN, { symbols: 3, staleSymbols: 2 })]);
    expect(steps[0]!.mode).toBe('NORMAL'); // 1 of 3 is not more than half
    expect(last(steps)).toMatchObject({
      mode: 'CRITICAL',
      reason: 'stale: 2 of 3 symbols (66.7% > 50.0%) without a bar for > 180s -> CRITICAL',
      changed: true,
    });
  });

  it('goes CRITICAL when the newest data is more than staleAfterMs behind the clock, ahead of any drawdown rule', () => {
    const steps = run([market(T0), equity(T0 + 4 * MIN, { drawdownDay: 0.2 })]);
    expect(last(steps)).toMatchObject({ mode: 'CRITICAL', reason: 'stale: newest bar 240s behind the clock (> 180s) -> CRITICAL' });
    expect(last(run([market(T0), equity(T0 + 3 * MIN)])).mode).toBe('NORMAL'); // exactly 180 s: not more
  });

  it('does not judge staleness before any signal', () => {
    expect(last(run([equity(T0 + 100 * MIN)])).mode).toBe('NORMAL');
  });
});

describe('stepCeo: volatility regime', () => {
  it('goes SAFE when the median realised vol is 1.5x its EWMA, and holds SAFE inside the band', () => {
    const steps = run([market(T0, { volRatio: 1.49 }), market(T0 + MIN, { volRatio: 2 }), market(T0 + 2 * MIN, { volRatio: 1.4 }), market(T0 + 3 * MIN, { volRatio: 1.29 })], { clearEvaluations: 1 });
    expect(steps[0]!.mode).toBe('NORMAL');
    expect(steps[1]).toMatchObject({ mode: 'SAFE', reason: 'high volatility: median realised vol 2.00x its EWMA >= 1.5x -> SAFE' });
    expect(steps[2]).toMatchObject({ mode: 'SAFE', reason: 'high volatility: median realised vol 1.40x its EWMA still >= 1.30x (band) -> SAFE' });
    expect(steps[3]).toMatchObject({ mode: 'NORMAL', changed: true }); // below the band
  });

  it('goes SAFE when the median ATR/close is at least 1%, even while the EWMA warms up', () => {
    const steps = run([market(T0, { medianAtrPct: 0.012, volRatio: Number.NaN })]);
    expect(last(steps)).toMatchObject({ mode: 'SAFE', reason: 'high volatility: median ATR 1.2% >= 1.0% -> SAFE' });
  });
});

describe('stepCeo: AGGRESSIVE', () => {
  const cfg: Partial<CeoConfig> = { aggressiveMinWinRate: 0.5, aggressiveMinTrades: 2, winRateWindow: 4, clearEvaluations: 1 };
  const trades = (pnl2: number): CeoInput[] => [
    position(T0 + 10_000, 'p1', 'LONG'),
    position(T0 + 20_000, 'p1', 'FLAT', 5), // win
    position(T0 + 20_000, 'p1', 'FLAT', 5), // redelivered: counted once
    position(T0 + 30_000, 'p2', 'SHORT'),
    position(T0 + 40_000, 'p2', 'FLAT', pnl2),
  ];
  const calm = [market(T0 + 2 * MIN, { volRatio: 0.8 })]; // 0.8 <= 0.9: calm

  it('goes AGGRESSIVE in a calm regime with equity at its high and a good win rate', () => {
    const steps = run([equity(T0, { equity: 10_000 }), ...trades(-3), ...calm], cfg);
    expect(last(steps).state.results).toEqual([true, false]);
    expect(last(steps)).toMatchObject({
      mode: 'AGGRESSIVE',
      changed: true,
      reason: 'calm: vol 0.80x its EWMA <= 0.9x, equity at its high, win rate 50.0% over 2 -> AGGRESSIVE (clear for 1 bars)',
    });
  });

  it('stays NORMAL with a poor win rate, too few trades, or equity below its high', () => {
    expect(last(run([equity(T0), ...trades(-3), position(T0 + 50_000, 'p3', 'LONG'), position(T0 + 55_000, 'p3', 'FLAT', -1), ...calm], cfg)).mode).toBe('NORMAL'); // 1 of 3
    expect(last(run([equity(T0), ...trades(-3).slice(0, 2), ...calm], cfg)).mode).toBe('NORMAL'); // 1 trade < 2
    expect(last(run([equity(T0 - MIN, { equity: 10_100 }), equity(T0, { equity: 10_000 }), ...trades(-3), ...calm], cfg)).mode).toBe('NORMAL'); // 0.99% below peak > 0.5%
  });

  it('needs the clear count to relax into AGGRESSIVE, and leaves it at once when a drawdown alarm comes', () => {
    const slow = run([equity(T0), ...trades(-3), ...calm], { ...cfg, clearEvaluations: 5 });
    expect(last(slow).mode).toBe('NORMAL'); // one calm bar of the 5 needed
    const steps = run([equity(T0), ...trades(-3), ...calm, equity(T0 + 3 * MIN, { drawdownDay: 0.06 })], cfg);
    expect(steps[steps.length - 2]!.mode).toBe('AGGRESSIVE');
    expect(last(steps)).toMatchObject({ mode: 'SAFE', changed: true, reason: 'daily drawdown 6.0% >= 5.0% -> SAFE' });
  });
});

describe('stepCeo: supervisor verdict', () => {
  const drift = 'FEATURE_DRIFT xgb@v1: PSI 0.412 of rvol_30 over the last 1440 vectors';

  it('goes at least SAFE on DRIFT and CRITICAL on UNHEALTHY, naming the supervisor and its reason', () => {
    expect(last(run([supervised(T0, 'DRIFT', drift)]))).toMatchObject({ mode: 'SAFE', changed: true, reason: `supervisor DRIFT: ${drift} -> SAFE` });
    expect(last(run([supervised(T0, 'UNHEALTHY', 'INFERENCE_ERRORS xgb@v1: 3 of the last 60 inference calls of xgb@v1 failed')]))).toMatchObject({
      mode: 'CRITICAL',
      reason: 'supervisor UNHEALTHY: INFERENCE_ERRORS xgb@v1: 3 of the last 60 inference calls of xgb@v1 failed -> CRITICAL',
    });
    // a worse rule wins: DRIFT with a critical drawdown is CRITICAL
    expect(last(run([equity(T0, { drawdownDay: 0.12 }), supervised(T0, 'DRIFT', drift)])).mode).toBe('CRITICAL');
  });

  it('leaves the mode alone on BIAS (the consensus blocks the biased side) and on OK', () => {
    expect(last(run([supervised(T0, 'BIAS', 'BIAS ensemble: 80% LONG')]))).toMatchObject({ mode: 'NORMAL', reason: 'no alarm -> NORMAL' });
    expect(last(run([supervised(T0, 'OK')])).mode).toBe('NORMAL');
  });

  it('keeps the verdict of the last signal across equity and position inputs', () => {
    const steps = run([supervised(T0, 'DRIFT', drift), equity(T0 + MIN), equity(T0 + 2 * MIN), equity(T0 + 3 * MIN)], { clearEvaluations: 2 });
    expect(steps.map((s) => s.mode)).toEqual(['SAFE', 'SAFE', 'SAFE', 'SAFE']);
    expect(last(steps).state.supervisorReason).toBe(drift);
  });

  it('relaxes through the clear count once the verdict is OK again, stepping down from CRITICAL through SAFE', () => {
    const steps = run(
      [
        supervised(T0, 'UNHEALTHY', 'errors'), // CRITICAL
        supervised(T0 + MIN, 'DRIFT', drift), // SAFE candidate: clear 1 of 2
        supervised(T0 + MIN, 'DRIFT', drift), // same bar (another symbol): does not count
        supervised(T0 + 2 * MIN, 'DRIFT', drift), // clear 2 -> SAFE
        supervised(T0 + 3 * MIN, 'OK'), // NORMAL candidate: clear 1
        supervised(T0 + 4 * MIN, 'DRIFT', drift), // back: count restarts
        supervised(T0 + 5 * MIN, 'OK'), // clear 1
        supervised(T0 + 6 * MIN, 'OK'), // clear 2 -> NORMAL
      ],
      { clearEvaluations: 2 },
    );
    expect(steps.map((s) => s.mode)).toEqual(['CRITICAL', 'CRITICAL', 'CRITICAL', 'SAFE', 'SAFE', 'SAFE', 'SAFE', 'NORMAL']);
    expect(steps[1]!.reason).toBe('supervisor UNHEALTHY: errors -> CRITICAL; holding until SAFE is clear for 2 bars (1 so far)');
    expect(steps[3]!.reason).toBe(`supervisor DRIFT: ${drift} -> SAFE (clear for 2 bars)`);
    expect(steps[4]!.reason).toBe(`supervisor DRIFT: ${drift} -> SAFE (clear for 2 bars); holding until NORMAL is clear for 2 bars (1 so far)`);
    expect(steps[7]!.reason).toBe('no alarm -> NORMAL (clear for 2 bars)');
  });
});

describe('stepCeo: purity', () => {
  it('does not change the state it is given', () => {
    const s0 = run([market(T0), position(T0, 'p1', 'LONG'), equity(T0, { drawdownDay: 0.06 })]).at(-1)!.state;
    const before = structuredClone(s0);
    stepCeo(s0, position(T0 + MIN, 'p1', 'FLAT', 3));
    stepCeo(s0, market(T0 + MIN, { staleSymbols: 3 }));
    expect(s0).toEqual(before);
  });
});

describe('ceoBrain operator (marbles)', () => {
  it('emits the mode after each input, escalating at once and relaxing after the clear count', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d|', {
        a: equity(T0, { drawdownDay: 0.07 }),
        b: equity(T0 + MIN, { drawdownDay: 0.11 }),
        c: equity(T0 + 2 * MIN, { drawdownDay: 0.0 }),
        d: equity(T0 + 3 * MIN, { drawdownDay: 0.0 }),
      });
      const out = src.pipe(
        ceoBrain({ clearEvaluations: 2 }),
        map((s) => ({ mode: s.mode, changed: s.changed })),
      );
      expectObservable(out).toBe('w-x-y-z|', {
        w: { mode: 'SAFE', changed: true },
        x: { mode: 'CRITICAL', changed: true },
        y: { mode: 'CRITICAL', changed: false }, // clear 1 of 2
        z: { mode: 'NORMAL', changed: true }, // the candidate after 2 clear bars is NORMAL: it skips SAFE
      });
    });
  });
});
