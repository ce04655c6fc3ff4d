import { map } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { VolRegime } from '../../schemas/ensemble-signal.ts';
import { capFloor, Governance, GovernanceConfigError, governanceConfig, governanceWeights, type GovernanceUpdate, type ScoredVote } from './governance.ts';
import type { ResolvedOutcome } from './outcomes.ts';
import type { ClassIndex } from './scoring.ts';

const UP: ClassIndex = 2;
const DOWN: ClassIndex = 0;
const SURE_UP = [0.1, 0.1, 0.8] as const;
const SURE_DOWN = [0.8, 0.1, 0.1] as const;
const UNIFORM = [1 / 3, 1 / 3, 1 / 3] as const;

function vote(member: string, p: readonly [number, number, number], modelVersion = 'v1', role: ScoredVote['role'] = 'CHAMPION'): ScoredVote {
  return { member, modelVersion, role, pDown: p[0], pFlat: p[1], pUp: p[2] };
}

function outcome(label: ClassIndex, volRegime: VolRegime, votes: readonly ScoredVote[], tsEvent = 0): ResolvedOutcome {
  const bar = { featureId: 'f', exchange: 'binance', symbol: 'BTC/USDT', openTime: 0, tsVote: 0, close: 100, vol: 0.01, volRegime, votes };
  return { bar, fwdRet: 0, label, tsEvent };
}

const champions = (...names: string[]) => names.map((member) => ({ member, modelVersion: 'v1' }));
const round = (xs: readonly number[]) => xs.map((x) => Math.round(x * 1e12) / 1e12);
const roundWeights = (w: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Math.round(v * 1e12) / 1e12]));

describe('capFloor', () => {
  it('leaves weights already inside the box as they are (after normalising)', () => {
    expect(round(capFloor([3, 3, 2, 2], 0.4, 0.1))).toEqual([0.3, 0.3, 0.2, 0.2]);
  });

  it('caps one dominant member at 0.4 and spreads the excess equally over the others', () => {
    // p = [0.85, 0.05, 0.05, 0.05]; λ = 0.15: 0.4 + 3 * (0.05 + 0.15) = 1
    expect(round(capFloor([0.85, 0.05, 0.05, 0.05], 0.4, 0.1))).toEqual([0.4, 0.2, 0.2, 0.2]);
    // p = [0.7, 0.2, 0.1, 0]: λ = 0.1 puts the first at the cap and the last exactly at the floor
    expect(round(capFloor([7, 2, 1, 0], 0.4, 0.1))).toEqual([0.4, 0.3, 0.2, 0.1]);
  });

  it('floors a useless member at 0.1 and takes the difference equally from the others', () => {
    // p = [0.3, 0.3, 0.4, 0]: 0.1 + 3 * λ + 1 = 1 -> λ = -1/30
    expect(round(capFloor([0.3, 0.3, 0.4, 0], 0.4, 0.1))).toEqual(round([0.3 - 1 / 30, 0.3 - 1 / 30, 0.4 - 1 / 30, 0.1]));
  });

  it('gives equal weights when every raw weight is zero', () => {
    expect(round(capFloor([0, 0, 0, 0], 0.4, 0.1))).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('gives equal weights when the box is infeasible: 2 members with cap 0.4, or 12 with floor 0.1', () => {
    expect(capFloor([0.9, 0.1], 0.4, 0.1)).toEqual([0.5, 0.5]);
    expect(capFloor(Array.from({ length: 12 }, (_, i) => i), 0.4, 0.1)).toEqual(Array.from({ length: 12 }, () => 1 / 12));
    expect(capFloor([5], 0.4, 0.1)).toEqual([1]);
    expect(capFloor([], 0.4, 0.1)).toEqual([]);
  });

  it('is the Euclidean projection: bounds hold, the sum is 1, and the free members move by one common shift', () => {
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 200; t++) {
      const n = 3 + (t % 6);
      const raw = Array.from({ length: n }, () => (next() < 0.2 ? 0 : next() ** 3));
      const total = raw.reduce((a, b) => a + b, 0);
      const p = raw.map((r) => (total > 0 ? r / total : 1 / n));
      const w = capFloor(raw, 0.4, 0.1);
      expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      w.forEach((x) => expect(x).toBeGreaterThanOrEqual(0.1 - 1e-12));
      w.forEach((x) => expect(x).toBeLessThanOrEqual(0.4 + 1e-12));
      const shifts = w.map((x, i) => x - p[i]!).filter((_, i) => w[i]! > 0.1 + 1e-12 && w[i]! < 0.4 - 1e-12);
      for (const s of shifts) expect(s).toBeCloseTo(shifts[0]!, 12);
      // KKT: a capped member's p + λ is at least the cap, a floored one's at most the floor.
      if (shifts.length > 0) w.forEach((x, i) => {
        if (x >= 0.4 - 1e-12) expect(p[i]! + shifts[0]!).toBeGreaterThanOrEqual(0.4 - 1e-9);
        if (x <= 0.1 + 1e-12) expect(p[i]! + shifts[0]!).toBeLessThanOrEqual(0.1 + 1e-9);
      });
    }
  });

  it('refuses bounds or weights that cannot work', () => {
    expect(() => capFloor([1, 1], 0.1, 0.4)).toThrow(GovernanceConfigError);
    expect(() => capFloor([1, -1], 0.6, 0.1)).toThrow(GovernanceConfigError);
    expect(() => capFloor([1, Number.NaN], 0.6, 0.1)).toThrow(GovernanceConfigError);
  });
});

describe('Governance: scores', () => {
  it('keeps the mean log loss of a member and of the live class-prior baseline (half-life Infinity: plain means)', () => {
    const g = new Governance({ halfLife: Number.POSITIVE_INFINITY });
    const v = vote('xgb', [0.1, 0.2, 0.7]);
    for (const label of [UP, UP, DOWN]) g.observe(v, label, 'NORMAL');
    const member = (-Math.log(0.7) * 2 - Math.log(0.1)) / 3;
    // The baseline predicts the Laplace-smoothed frequencies before each outcome: UP 1/3, UP 2/4, DOWN 1/5.
    const baseline = (Math.log(3) + Math.log(2) + Math.log(5)) / 3;
    const s = g.stats('xgb', 'v1')!;
    expect(s.outcomes).toBe(3);
    expect(s.ewLogLoss).toBeCloseTo(member, 12);
    expect(s.baselineEwLogLoss).toBeCloseTo(baseline, 12);
    expect(s.skill).toBeCloseTo(baseline - member, 12);
    expect(g.ewLogLoss('xgb', 'v1')).toBeCloseTo(member, 12);
    expect(g.stats('xgb', 'v1', 'NORMAL')).toEqual(s);
    expect(g.stats('xgb', 'v1', 'HIGH')!.outcomes).toBe(0);
  });

  it('weighs outcomes by half-life: with half-life 1 the older outcome counts half', () => {
    const g = new Governance({ halfLife: 1 });
    const v = vote('xgb', [0.1, 0.2, 0.7]);
    g.observe(v, UP, 'NORMAL');
    g.observe(v, DOWN, 'NORMAL');
    expect(g.ewLogLoss('xgb', 'v1')).toBeCloseTo((0.5 * -Math.log(0.7) - Math.log(0.1)) / 1.5, 12);
    // Baseline: 1/3 for UP, then counts {UP: 1} give DOWN (0 + 1) / (1 + 3).
    expect(g.stats('xgb', 'v1')!.baselineEwLogLoss).toBeCloseTo((0.5 * Math.log(3) + Math.log(4)) / 1.5, 12);
  });

  it('has no score for a member never seen', () => {
    const g = new Governance();
    expect(g.ewLogLoss('nope', 'v1')).toBeNaN();
    expect(g.stats('nope', 'v1')).toBeUndefined();
  });
});

describe('Governance: weights', () => {
  const cfg = { halfLife: Number.POSITIVE_INFINITY, minOutcomes: 2, byRegime: false };

  it('gives equal weights until every champion has minOutcomes, then weights by skill within cap and floor', () => {
    const g = new Governance(cfg);
    g.setMembers(champions('a', 'b', 'c'));
    const votes = [vote('a', SURE_UP), vote('b', UNIFORM), vote('c', SURE_DOWN)];
    expect(g.weights('NORMAL')).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
    g.observeOutcome(outcome(UP, 'NORMAL', votes));
    expect(g.weights('NORMAL')).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
    expect(g.weightBasis('NORMAL')).toBe('EQUAL');
    g.observeOutcome(outcome(UP, 'NORMAL', votes));
    // Baseline (ln 3 + ln 2) / 2 = 0.896; a: -ln 0.8 = 0.223 (skill 0.673); b: ln 3 and c: ln 10 (no skill).
    // Proportional: [1, 0, 0]; projected: a capped at 0.4, the rest 0.3 each.
    expect(g.weightBasis('NORMAL')).toBe('OVERALL');
    expect(roundWeights(g.weights('NORMAL'))).toEqual({ a: 0.4, b: 0.3, c: 0.3 });
    expect(g.stats('a', 'v1')!.skill).toBeCloseTo((Math.log(3) + Math.log(2)) / 2 + Math.log(0.8), 12);
  });

  it('uses the scores of the current market volatility regime when every champion has minOutcomes there', () => {
    const g = new Governance({ ...cfg, byRegime: true, cap: 1, floor: 0 });
    g.setMembers(champions('a', 'b'));
    const votes = [vote('a', SURE_UP), vote('b', SURE_DOWN)];
    g.observeOutcome(outcome(UP, 'HIGH', votes));
    g.observeOutcome(outcome(UP, 'HIGH', votes));
    g.observeOutcome(outcome(DOWN, 'NORMAL', votes));
    g.observeOutcome(outcome(DOWN, 'NORMAL', votes));
    expect([g.weightBasis('HIGH'), roundWeights(g.weights('HIGH'))]).toEqual(['REGIME', { a: 1, b: 0 }]);
    expect([g.weightBasis('NORMAL'), roundWeights(g.weights('NORMAL'))]).toEqual(['REGIME', { a: 0, b: 1 }]);
    // LOW has no outcomes: overall scores, where neither beats the baseline (1.125 against 1.263): equal weights.
    expect([g.weightBasis('LOW'), g.weights('LOW')]).toEqual(['OVERALL', { a: 0.5, b: 0.5 }]);
    const off = new Governance({ ...cfg, byRegime: false, cap: 1, floor: 0 });
    off.setMembers(champions('a', 'b'));
    for (const [label, r] of [[UP, 'HIGH'], [UP, 'HIGH'], [DOWN, 'NORMAL'], [DOWN, 'NORMAL']] as const) off.observeOutcome(outcome(label, r, votes));
    expect([off.weightBasis('HIGH'), off.weights('HIGH')]).toEqual(['OVERALL', { a: 0.5, b: 0.5 }]);
  });

  it('scores shadows and the ensemble without giving them weight', () => {
    const g = new Governance({ ...cfg, minOutcomes: 1 });
    g.setMembers(champions('a', 'b', 'c'), [{ member: 'a', modelVersion: 'v2' }, { member: 'ensemble', modelVersion: 'a@v1+b@v1+c@v1' }]);
    g.observeOutcome(outcome(UP, 'NORMAL', [
      vote('a', UNIFORM), vote('b', UNIFORM), vote('c', UNIFORM),
      vote('a', SURE_UP, 'v2', 'SHADOW'), vote('ensemble', SURE_UP, 'a@v1+b@v1+c@v1'),
    ]));
    expect(Object.keys(g.weights('NORMAL'))).toEqual(['a', 'b', 'c']);
    expect(g.weights('NORMAL')).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
    expect(g.ewLogLoss('a', 'v2')).toBeCloseTo(-Math.log(0.8), 12);
    expect(g.ewLogLoss('ensemble', 'a@v1+b@v1+c@v1')).toBeCloseTo(-Math.log(0.8), 12);
  });

  it('keeps scores per member@version: a promoted shadow keeps its record, a new version starts fresh, a retired one is forgotten', () => {
    const g = new Governance(cfg);
    g.setMembers(champions('a', 'b', 'c'), [{ member: 'a', modelVersion: 'v2' }]);
    const votes = [vote('a', UNIFORM), vote('b', UNIFORM), vote('c', UNIFORM), vote('a', SURE_UP, 'v2', 'SHADOW')];
    g.observeOutcome(outcome(UP, 'NORMAL', votes));
    g.observeOutcome(outcome(UP, 'NORMAL', votes));
    expect(g.weightBasis('NORMAL')).toBe('OVERALL');
    // Promote a@v2: it brings its two outcomes, and beats the baseline.
    g.setMembers([{ member: 'a', modelVersion: 'v2' }, ...champions('b', 'c')]);
    expect(g.stats('a', 'v1')).toBeUndefined();
    expect(g.weightBasis('NORMAL')).toBe('OVERALL');
    expect(roundWeights(g.weights('NORMAL'))).toEqual({ a: 0.4, b: 0.3, c: 0.3 });
    // A version never scored: equal weights until it has minOutcomes.
    g.setMembers([{ member: 'a', modelVersion: 'v3' }, ...champions('b', 'c')]);
    expect(g.weightBasis('NORMAL')).toBe('EQUAL');
    expect(g.weights('NORMAL')).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
    expect(g.roster().map((m) => `${m.member}@${m.modelVersion}`)).toEqual(['a@v3', 'b@v1', 'c@v1']);
  });

  it('has no weights without champions, and refuses a member named twice', () => {
    const g = new Governance();
    expect(g.weights('NORMAL')).toEqual({});
    expect(() => g.setMembers([{ member: 'a', modelVersion: 'v1' }, { member: 'a', modelVersion: 'v2' }])).toThrow(GovernanceConfigError);
  });

  it('refuses settings that cannot work and keeps defaults for undefined ones', () => {
    expect(() => governanceConfig({ halfLife: 0 })).toThrow(GovernanceConfigError);
    expect(() => governanceConfig({ cap: 0.05, floor: 0.1 })).toThrow(GovernanceConfigError);
    expect(() => governanceConfig({ minOutcomes: 1.5 })).toThrow(GovernanceConfigError);
    expect(governanceConfig({ cap: undefined })).toEqual({ halfLife: 500, cap: 0.4, floor: 0.1, minOutcomes: 200, byRegime: true });
    expect(() => governanceWeights({ floor: -1 })).toThrow(GovernanceConfigError);
  });
});

describe('governanceWeights operator (marbles)', () => {
  it('turns roster changes and outcomes into the weights of every regime', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const ev = {
        r: { kind: 'roster' as const, tsEvent: 1, champions: champions('x', 'y', 'z') },
        // x right and sure, y uniform, z sure and wrong: only x beats the baseline (ln 3).
        a: { kind: 'outcome' as const, outcome: outcome(UP, 'NORMAL', [vote('x', SURE_UP), vote('y', UNIFORM), vote('z', SURE_DOWN)], 2) },
        // In HIGH the roles swap: only z beats the baseline of the HIGH regime.
        b: { kind: 'outcome' as const, outcome: outcome(DOWN, 'HIGH', [vote('x', SURE_UP), vote('y', UNIFORM), vote('z', SURE_DOWN)], 3) },
      };
      const third = Math.round(1e12 / 3) / 1e12;
      const eq = { x: third, y: third, z: third };
      const xLeads = { x: 0.4, y: 0.3, z: 0.3 };
      const expected: Record<string, GovernanceUpdate> = {
        p: { tsEvent: 1, weights: { LOW: eq, NORMAL: eq, HIGH: eq } },
        q: { tsEvent: 2, weights: { LOW: xLeads, NORMAL: xLeads, HIGH: xLeads } },
        // LOW has no regime outcomes: overall, where x averages (ln 1.25 + ln 10) / 2 = 1.263 and z the same against a
        // baseline of (ln 3 + ln 4) / 2 = 1.243; only y (ln 3 = 1.099) beats it.
        s: { tsEvent: 3, weights: { LOW: { x: 0.3, y: 0.4, z: 0.3 }, NORMAL: xLeads, HIGH: { x: 0.3, y: 0.3, z: 0.4 } } },
      };
      const out = cold('r-a-b|', ev).pipe(
        governanceWeights({ halfLife: Number.POSITIVE_INFINITY, minOutcomes: 1 }),
        map((u) => ({ tsEvent: u.tsEvent, weights: { LOW: roundWeights(u.weights.LOW), NORMAL: roundWeights(u.weights.NORMAL), HIGH: roundWeights(u.weights.HIGH) } })),
      );
      expectObservable(out).toBe('p-q-s|', expected);
    });
  });
});
