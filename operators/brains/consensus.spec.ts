import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { RefusalReason } from '../../schemas/brain-decision.ts';
import { DEFAULT_REGIME, type EnsembleSignal, type MemberVote } from '../../schemas/ensemble-signal.ts';
import { deriveId } from '../../schemas/ids.ts';
import { consensus, decide, decisionId, type ConsensusInput } from './consensus.ts';

const members: MemberVote[] = [
  { member: 'xgb', modelVersion: 'xgb-3', weight: 0.6, pDown: 0.1, pFlat: 0.2, pUp: 0.7 },
  { member: 'nhits', modelVersion: 'nhits-1', weight: 0.4, pDown: 0.2, pFlat: 0.2, pUp: 0.6 },
];

function sig(o: Partial<EnsembleSignal> = {}): EnsembleSignal {
  return {
    id: 'sig-abc',
    tsEvent: 1_704_715_200_000,
    tsInit: 1_704_715_200_100,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    featureId: 'f',
    pDown: 0.14,
    pFlat: 0.2,
    pUp: 0.66,
    signal: 'LONG',
    confidence: 0.66,
    members,
    supervisor: 'OK',
    supervisorReason: '',
    supervisorAction: 'NONE',
    regime: DEFAULT_REGIME,
    market: { close: 42_000, atrPct: 0.002, realizedVol: 0.001, rsi: 55, emaRatio: 0.002, ret: 0.01 },
    ...o,
  };
}

function input(o: Partial<ConsensusInput> = {}): ConsensusInput {
  return {
    signal: sig(),
    mode: 'NORMAL',
    modeReason: 'no alarm -> NORMAL',
    strategy: { strategy: 'trend-following', agrees: true, detail: 'trend 2.00 >= 1', trendStrength: 2 },
    risk: { scale: 0.88, veto: false, detail: 'ok' },
    positionOpen: false,
    ...o,
  };
}

describe('decide', () => {
  it('makes an INTENT when every brain agrees, copying the signal, members and market context', () => {
    const d = decide(input(), 7);
    expect(d).toEqual({
      id: deriveId('dec', 'sig-abc', 'xgb-3', 'nhits-1'),
      tsEvent: 1_704_715_200_000,
      tsInit: 7,
      exchange: 'binance',
      symbol: 'BTC/USDT',
      signalId: 'sig-abc',
      outcome: 'INTENT',
      refusal: 'NONE',
      refusalDetail: '',
      side: 'LONG',
      mode: 'NORMAL',
      modeReason: 'no alarm -> NORMAL',
      strategy: 'trend-following',
      riskScale: 0.88,
      confidence: 0.66,
      signal: 'LONG',
      members,
      close: 42_000,
      atrPct: 0.002,
    });
  });

  it('derives the id from the signal id and the member model versions', () => {
    expect(decisionId(sig())).toBe(deriveId('dec', 'sig-abc', 'xgb-3', 'nhits-1'));
    const retrained = sig({ members: [members[0]!, { ...members[1]!, modelVersion: 'nhits-2' }] });
    expect(decisionId(retrained)).not.toBe(decisionId(sig()));
  });

  it('refuses with each reason of the fixed list, in priority order', () => {
    const refusal = (o: Partial<ConsensusInput>) => {
      const d = decide(input(o), 0);
      return [d.outcome, d.refusal, d.refusalDetail, d.side];
    };
    expect(refusal({ mode: 'CRITICAL', modeReason: 'stale: x -> CRITICAL', signal: sig({ signal: 'FLAT' }) })).toEqual(['REFUSAL', 'MODE_CRITICAL', 'stale: x -> CRITICAL', null]);
    expect(refusal({ signal: sig({ signal: 'FLAT', confidence: 0.5 }) })).toEqual(['REFUSAL', 'SIGNAL_FLAT', 'ensemble FLAT at confidence 0.500', null]);
    expect(refusal({ signal: sig({ supervisor: 'BIAS', supervisorReason: '90% LONG', supervisorAction: 'BLOCK' }), positionOpen: true })).toEqual([
      'REFUSAL',
      'SUPERVISOR_BLOCK',
      'supervisor BIAS blocks LONG: 90% LONG',
      null,
    ]);
    expect(refusal({ positionOpen: true, strategy: { strategy: 'mean-reversion', agrees: false, detail: 'd', trendStrength: 0 } })).toEqual([
      'REFUSAL',
      'POSITION_ALREADY_OPEN',
      'a position is open on binance:BTC/USDT',
      null,
    ]);
    expect(refusal({ strategy: { strategy: 'mean-reversion', agrees: false, detail: 'RSI 55.0 is not < 30 for LONG', trendStrength: 0.2 }, risk: { scale: 0, veto: true, detail: 'v' } })).toEqual([
      'REFUSAL',
      'STRATEGY_DISAGREES',
      'mean-reversion: RSI 55.0 is not < 30 for LONG',
      null,
    ]);
    expect(refusal({ risk: { scale: 0.01, veto: true, detail: 'scale 0.010 < 0.05' } })).toEqual(['REFUSAL', 'RISK_BRAIN_VETO', 'scale 0.010 < 0.05', null]);
  });

  it('produces every reason of the RefusalReason enum', () => {
    const cases: Partial<ConsensusInput>[] = [
      {},
      { mode: 'CRITICAL' },
      { signal: sig({ signal: 'FLAT' }) },
      { signal: sig({ supervisor: 'BIAS', supervisorAction: 'BLOCK' }) },
      { positionOpen: true },
      { strategy: { strategy: 'mean-reversion', agrees: false, detail: '', trendStrength: 0 } },
      { risk: { scale: 0, veto: true, detail: '' } },
    ];
    const produced = new Set(cases.map((c) => decide(input(c), 0).refusal));
    // OTHER is the reader's fallback for reasons added later; no writer produces it.
    expect([...produced].sort()).toEqual((RefusalReason.avro as { symbols: string[] }).symbols.filter((r) => r !== 'OTHER').sort());
  });

  it('refuses on the supervisor action, never on the verdict alone: OBSERVE goes through whatever the verdict', () => {
    for (const supervisor of ['BIAS', 'DRIFT', 'UNHEALTHY'] as const) {
      // e.g. a LONG bias seen by a SHORT signal, or drift (the CEO brain acts on DRIFT and UNHEALTHY through the mode)
      expect(decide(input({ signal: sig({ signal: 'SHORT', supervisor, supervisorReason: 'x', supervisorAction: 'OBSERVE' }) }), 0)).toMatchObject({
        outcome: 'INTENT',
        side: 'SHORT',
      });
    }
    const blocked = decide(input({ signal: sig({ signal: 'SHORT', supervisor: 'BIAS', supervisorReason: 'BIAS ensemble: 80% SHORT', supervisorAction: 'BLOCK' }) }), 0);
    expect([blocked.refusal, blocked.refusalDetail]).toEqual(['SUPERVISOR_BLOCK', 'supervisor BIAS blocks SHORT: BIAS ensemble: 80% SHORT']);
    // a signal written before the supervisor (action NONE by default) is not blocked by a stale verdict field
    expect(decide(input({ signal: sig({ supervisor: 'BIAS', supervisorAction: 'NONE' }) }), 0).outcome).toBe('INTENT');
  });

  it('goes SHORT with a SHORT signal', () => {
    expect(decide(input({ signal: sig({ signal: 'SHORT' }) }), 0).side).toBe('SHORT');
  });
});

describe('consensus operator (marbles)', () => {
  it('emits one decision per input, stamped with the scheduler time', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const a = input();
      const b = input({ positionOpen: true });
      expectObservable(cold('a---b|', { a, b }).pipe(consensus(ts))).toBe('x---y|', { x: decide(a, 0), y: decide(b, 4) });
    });
  });
});
