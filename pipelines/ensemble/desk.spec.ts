import { describe, expect, it } from 'vitest';
import { FakeModel } from '../../models/testing/fake-model.ts';
import { FEATURE_NAMES, FEATURE_SET, featureIndex } from '../../operators/features/feature-set.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { MemberScore } from '../../schemas/member-score.ts';
import { noopMeter, type Outgoing } from '../../schemas/ports.ts';
import type { SupervisorEvent } from '../../schemas/supervisor-event.ts';
import { EnsembleDesk } from './desk.ts';

const M = 60_000;
const iVol = featureIndex('rvol_30');

/** A vector of one symbol at `minute` with the given close; rvol_30 = 0.001, the rest 0.1. */
function vector(symbol: string, minute: number, close: number): FeatureVector {
  const values = FEATURE_NAMES.map((_, i) => (i === iVol ? 0.001 : 0.1));
  return {
    id: `feat-${symbol}-${minute}`,
    tsEvent: (minute + 1) * M,
    tsInit: 0,
    exchange: 'x',
    symbol,
    barId: `bar-${symbol}-${minute}`,
    openTime: minute * M,
    close,
    featureSet: FEATURE_SET,
    values,
    windowLength: 0,
    windowChannels: 0,
    window: [],
  };
}

const of = <T>(outs: readonly Outgoing[], topic: string): T[] => outs.filter((o) => o.topic === topic).map((o) => o.value as T);

/** Runs the desk over `minutes` one-symbol bars whose close rises by 1% a bar (FakeModel labels: 1 bar ahead, k 0.5). */
async function replay(desk: EnsembleDesk, minutes: number, symbol = 'A'): Promise<Outgoing[]> {
  const outs: Outgoing[] = [];
  for (let m = 0; m < minutes; m++) outs.push(...(await desk.score([vector(symbol, m, 100 * 1.01 ** m)], (m + 1) * M)));
  return outs;
}

describe('EnsembleDesk: the ensemble stage with governance, outcomes, supervisor and regimes', () => {
  // In a market that always rises, `right` says UP, `wrong` says DOWN, `meh` is uninformed.
  const right = () => new FakeModel({ member: 'right', probabilities: () => [0.1, 0.1, 0.8] });
  const wrong = () => new FakeModel({ member: 'wrong', probabilities: () => [0.8, 0.1, 0.1] });
  const meh = () => new FakeModel({ member: 'meh', probabilities: () => [0.34, 0.33, 0.33] });

  it('scores every vote when its outcome is known, as model.scores.v1, the ensemble included', async () => {
    const desk = new EnsembleDesk({ models: [right(), wrong()], meter: noopMeter, governance: { minOutcomes: 5 } });
    const outs = await replay(desk, 3);
    const scores = of<MemberScore>(outs, 'model.scores.v1');
    // bars 0 and 1 are resolved by bars 1 and 2: two outcomes x (2 members + the ensemble)
    expect(scores.map((s) => `${s.featureId} ${s.member} ${s.label}`)).toEqual([
      'feat-A-0 right UP',
      'feat-A-0 wrong UP',
      'feat-A-0 ensemble UP',
      'feat-A-1 right UP',
      'feat-A-1 wrong UP',
      'feat-A-1 ensemble UP',
    ]);
    const first = scores[0]!;
    expect(first.fwdRet).toBeCloseTo(Math.log(1.01), 12);
    expect(first.logLoss).toBeCloseTo(-Math.log(0.8), 6);
    expect(first.hit).toBe(true);
    expect(scores[1]!.hit).toBe(false);
    expect(first.tsVote).toBe(M);
    expect(first.tsEvent).toBe(2 * M);
    expect(scores[2]!.modelVersion).toBe('right@v1+wrong@v1');
  });

  it('moves the weights to the member that is right, within the cap, and journals them on each signal', async () => {
    // A market going up or down 1% a bar in a fixed pseudo-random pattern (so the class prior has no edge); the first
    // feature carries the next move, which `seer` reads and `contrarian` reads backwards.
    const moves = Array.from({ length: 41 }, (_, i) => ((i * 7) % 5 < 2 ? -1 : 1));
    const seer = new FakeModel({ member: 'seer', probabilities: (row) => (row[0]! > 0 ? [0.1, 0.1, 0.8] : [0.8, 0.1, 0.1]) });
    const contrarian = new FakeModel({ member: 'contrarian', probabilities: (row) => (row[0]! > 0 ? [0.8, 0.1, 0.1] : [0.1, 0.1, 0.8]) });
    const desk = new EnsembleDesk({ models: [seer, contrarian, meh()], meter: noopMeter, governance: { minOutcomes: 5, halfLife: 10 } });
    const outs: Outgoing[] = [];
    let close = 100;
    for (let m = 0; m < 40; m++) {
      const v = vector('A', m, close);
      outs.push(...(await desk.score([{ ...v, values: [moves[m]!, ...v.values.slice(1)] }], (m + 1) * M)));
      close *= 1 + moves[m]! / 100;
    }
    const signals = of<EnsembleSignal>(outs, 'ens.signals.v1');
    const weights = (s: EnsembleSignal): Record<string, number> => Object.fromEntries(s.members.map((m) => [m.member, m.weight]));
    // equal before minOutcomes
    expect(weights(signals[0]!)).toEqual({ seer: 1 / 3, contrarian: 1 / 3, meh: 1 / 3 });
    const last = weights(signals.at(-1)!);
    expect(last.seer).toBeCloseTo(0.4, 9); // the only skill (log loss below the live class prior's), capped at 40%
    // no skill: the rest is shared equally (with three members a 40% cap leaves them 30% each, above the 10% floor)
    expect(last.contrarian).toBeCloseTo(0.3, 9);
    expect(last.meh).toBeCloseTo(0.3, 9);
    expect(last.seer! + last.contrarian! + last.meh!).toBeCloseTo(1, 12);
    // the score messages carry the weights after each outcome
    const lastScores = of<MemberScore>(outs, 'model.scores.v1').slice(-4);
    expect(Object.fromEntries(lastScores.map((s) => [s.member, s.weight]))).toMatchObject({ seer: last.seer, contrarian: last.contrarian, ensemble: 1 });
  });

  it('carries the supervisor verdict: an enforced one-sided bias blocks entries on that side only', async () => {
    const desk = new EnsembleDesk({ models: [right()], meter: noopMeter, supervisor: { biasWindow: 20, biasMode: 'enforce' } });
    const outs = await replay(desk, 30);
    const signals = of<EnsembleSignal>(outs, 'ens.signals.v1');
    expect(signals.slice(0, 19).every((s) => s.supervisorAction === 'NONE' && s.supervisor === 'OK')).toBe(true);
    const last = signals.at(-1)!;
    expect(last).toMatchObject({ signal: 'LONG', supervisor: 'BIAS', supervisorAction: 'BLOCK' });
    const raised = of<SupervisorEvent>(outs, 'ens.supervisor.v1').filter((e) => e.check === 'BIAS' && e.status === 'RAISED');
    expect(raised.map((e) => e.scope).sort()).toEqual(['ensemble', 'right']);
    expect(raised.every((e) => e.side === 'LONG' && e.action === 'BLOCK')).toBe(true);
  });

  it('observes without blocking in observe mode', async () => {
    const desk = new EnsembleDesk({ models: [right()], meter: noopMeter, supervisor: { biasWindow: 20, biasMode: 'observe' } });
    const last = of<EnsembleSignal>(await replay(desk, 30), 'ens.signals.v1').at(-1)!;
    expect(last).toMatchObject({ supervisor: 'BIAS', supervisorAction: 'OBSERVE' });
  });

  it('serves a new model set from the next batch on, scoring pending votes under the versions that cast them', async () => {
    const v1 = right();
    const desk = new EnsembleDesk({ models: [v1], meter: noopMeter });
    const before = await replay(desk, 2);
    const v2 = new FakeModel({ member: 'right', version: 'v2', probabilities: () => [0.2, 0.2, 0.6] });
    desk.setModels([v2, new FakeModel({ member: 'right', role: 'SHADOW', probabilities: () => [0.1, 0.1, 0.8] })]);
    const after = await desk.score([vector('A', 2, 100 * 1.01 ** 2)], 3 * M);
    expect(of<EnsembleSignal>(before, 'ens.signals.v1').every((s) => s.members[0]!.modelVersion === 'v1')).toBe(true);
    expect(of<EnsembleSignal>(after, 'ens.signals.v1')[0]!.members.map((m) => `${m.member}@${m.modelVersion}`)).toEqual(['right@v2']);
    // the vote cast by v1 at bar 1 is scored under v1 when bar 2 resolves it
    expect(of<MemberScore>(after, 'model.scores.v1').map((s) => `${s.member}@${s.modelVersion}`)).toEqual(['right@v1', 'ensemble@right@v1']);
  });
});
