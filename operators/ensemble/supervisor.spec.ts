import { filter, map } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Signal } from '../../schemas/ensemble-signal.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { ModelRole } from '../../schemas/model-vote.ts';
import {
  RollingMean,
  supervise,
  Supervisor,
  SUPERVISOR_DEFAULTS,
  SupervisorConfigError,
  supervisorConfig,
  type MemberBaseline,
  type SupervisedVote,
  type SupervisorConfig,
  type SupervisorInput,
  type SupervisorOutput,
} from './supervisor.ts';

const T0 = Date.UTC(2024, 0, 8, 12, 0);
const MIN = 60_000;

/** Deciles of a uniform feature on [-0.5, 0.5): edges -0.4 .. 0.4, 10% in each bin. */
const EDGES = [-0.4, -0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.4];
const UNIFORM = Array.from({ length: 10 }, () => 0.1);
/** The vector of these tests: one value. */
const F = ['f0'];
/** One value in the middle of each bin: the live shares are exactly the training shares. */
const MIDPOINTS = Array.from({ length: 10 }, (_, i) => -0.45 + 0.1 * i);

const champion: MemberBaseline = {
  member: 'xgb',
  version: 'v1',
  role: 'CHAMPION',
  featureStats: [{ feature: 'f0', edges: EDGES, shares: UNIFORM }],
  predictionShares: [0.3, 0.4, 0.3],
  brier: 0.5,
};
const shadow: MemberBaseline = { ...champion, version: 'v2', role: 'SHADOW' };
const bare: MemberBaseline = { member: 'nhits', version: 'n1', role: 'CHAMPION' };

type Cls = 'UP' | 'DOWN' | 'FLAT';
function vote(b: Pick<MemberBaseline, 'member' | 'version' | 'role'>, cls: Cls): SupervisedVote {
  const [pDown, pFlat, pUp] = cls === 'UP' ? [0.1, 0.2, 0.7] : cls === 'DOWN' ? [0.7, 0.2, 0.1] : [0.2, 0.6, 0.2];
  return { member: b.member, version: b.version, role: b.role, pDown, pFlat, pUp };
}
const votes = (tsEvent: number, side: Signal, ...vs: SupervisedVote[]): SupervisorInput => ({ kind: 'votes', tsEvent, votes: vs, ensembleSide: side });
const vector = (tsEvent: number, x: number): SupervisorInput => ({ kind: 'vector', tsEvent, values: [x] });

/** Events as scope:check:status[:side], verdicts as verdict/action. */
const brief = map((o: SupervisorOutput) =>
  o.kind === 'event' ? `${o.event.scope}:${o.event.check}:${o.event.status}${o.event.side ? `:${o.event.side}` : ''}` : `${o.verdict}/${o.action}`,
);
const eventsOnly = filter((o: SupervisorOutput) => o.kind === 'event');
const small: Partial<SupervisorConfig> = { biasWindow: 4, biasShare: 0.7, biasClearShare: 0.6 };

function marbles(body: (h: Parameters<Parameters<TestScheduler['run']>[0]>[0], ts: TestScheduler) => void): void {
  const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
  ts.run((helpers) => body(helpers, ts));
}

describe('supervise operator (marbles): bias', () => {
  it('raises BIAS on the member and the ensemble once the window is full and one-sided, and clears it when balanced', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const up = votes(T0, 'LONG', vote(champion, 'UP'));
      const flat = votes(T0 + MIN, 'FLAT', vote(champion, 'FLAT'));
      const src = cold('a-a-a-a-----b-----b', { a: up, b: flat });
      expectObservable(src.pipe(supervise({ scheduler: ts, config: small, baselines: [champion], featureNames: F }), brief)).toBe('x-x-x-(rsb)-w-----(cdx)', {
        x: 'OK/NONE', // 1, 2, 3 votes: the window is not full yet
        r: 'ensemble:BIAS:RAISED:LONG',
        s: 'xgb:BIAS:RAISED:LONG',
        b: 'BIAS/BLOCK', // 4 of 4 LONG > 70%: entries LONG are blocked
        w: 'BIAS/OBSERVE', // 3 of 4 = 75% still > 60%: held (hysteresis); a FLAT signal is not blocked
        c: 'ensemble:BIAS:CLEARED:LONG', // 2 of 4 = 50% <= 60%
        d: 'xgb:BIAS:CLEARED:LONG',
      });
    });
  });

  it('enforce blocks only the biased side: SHORT entries go on during a LONG bias', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const src = cold('aaaabc', { a: votes(T0, 'LONG'), b: votes(T0, 'SHORT'), c: votes(T0, 'LONG') });
      const out = src.pipe(supervise({ scheduler: ts, config: small }), filter((o) => o.kind === 'verdict'), brief);
      // after b the window is LONG LONG LONG SHORT: 75% LONG, still raised
      expectObservable(out).toBe('xxxbob', { x: 'OK/NONE', b: 'BIAS/BLOCK', o: 'BIAS/OBSERVE' });
    });
  });

  it('observe mode never blocks, and journals the bias with action OBSERVE', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const src = cold('aaaa', { a: votes(T0, 'SHORT') });
      const out = src.pipe(
        supervise({ scheduler: ts, config: { ...small, biasMode: 'observe' } }),
        map((o) => (o.kind === 'event' ? `${o.event.check}:${o.event.side}:${o.event.action}` : `${o.verdict}/${o.action}`)),
      );
      expectObservable(out).toBe('xxx(eo)', { x: 'OK/NONE', e: 'BIAS:SHORT:OBSERVE', o: 'BIAS/OBSERVE' });
    });
  });

  it('journals a shadow bias without changing the verdict', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const src = cold('aaaa', { a: votes(T0, 'FLAT', vote(champion, 'FLAT'), vote(shadow, 'UP')) });
      const out = src.pipe(supervise({ scheduler: ts, config: small, baselines: [champion, shadow], featureNames: F }), brief);
      expectObservable(out).toBe('xxx(sx)', { x: 'OK/NONE', s: 'xgb:BIAS:RAISED:LONG' });
    });
  });
});

describe('supervise operator (marbles): drift and health', () => {
  const cfg: Partial<SupervisorConfig> = { psiWindow: 20, psiEvery: 10 };
  const letters = 'abcdefghij';
  const shifted = 'ABCDEFGHIJ';
  const values: Record<string, SupervisorInput> = {};
  MIDPOINTS.forEach((x, i) => {
    values[letters[i]!] = vector(T0, x);
    values[shifted[i]!] = vector(T0, x + 0.3); // bins 3..9, four values in bin 9
  });

  it('does not raise FEATURE_DRIFT on the training distribution', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const src = cold(letters.repeat(6), values);
      expectObservable(src.pipe(supervise({ scheduler: ts, config: cfg, baselines: [champion], featureNames: F }), brief)).toBe('-'.repeat(60));
    });
  });

  it('raises FEATURE_DRIFT on a shifted distribution once the window holds it, and clears it only well back', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const src = cold(letters.repeat(2) + shifted.repeat(2) + letters.repeat(2), values);
      // vector 30: half shifted, PSI 0.241 <= 0.25; vector 40: PSI 2.49 raises; vector 50: half again, 0.241 > 0.2
      // holds; vector 60: PSI 0 clears.
      const expected = `${'-'.repeat(39)}r${'-'.repeat(19)}c`;
      expectObservable(src.pipe(supervise({ scheduler: ts, config: cfg, baselines: [champion], featureNames: F }), brief)).toBe(expected, {
        r: 'xgb:FEATURE_DRIFT:RAISED',
        c: 'xgb:FEATURE_DRIFT:CLEARED',
      });
    });
  });

  it('raises BRIER_DEGRADATION above the card Brier x 1.1 over the window, holds it down to x 1.05', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const o = (brier: number): SupervisorInput => ({ kind: 'outcome', tsEvent: T0, member: 'xgb', version: 'v1', brier });
      const src = cold('aaaabvcdefv', {
        a: o(0.5), // the fourth fills the window: 0.5, not above 0.5 x 1.1
        b: o(0.8), // (3 x 0.5 + 0.8) / 4 = 0.575 > 0.55: raised
        c: o(0.5), // 0.575
        d: o(0.56), // (0.5 + 0.8 + 0.5 + 0.56) / 4 = 0.59
        e: o(0.3), // (0.8 + 0.5 + 0.56 + 0.3) / 4 = 0.54: below the raise level, above 0.525: held
        f: o(0.5), // (0.5 + 0.56 + 0.3 + 0.5) / 4 = 0.465 <= 0.525: cleared
        v: votes(T0, 'FLAT'),
      });
      const out = src.pipe(supervise({ scheduler: ts, config: { brierWindow: 4 }, baselines: [champion], featureNames: F }), brief);
        expectObservable(out).toBe('----rw---cx', { r: 'xgb:BRIER_DEGRADATION:RAISED', w: 'DRIFT/OBSERVE', c: 'xgb:BRIER_DEGRADATION:CLEARED', x: 'OK/NONE' });
    });
  });

  it('raises PREDICTION_DRIFT when the predicted classes leave the card validation shares', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const cfgP: Partial<SupervisorConfig> = { predictionWindow: 10, biasWindow: 1000 };
      // 3 DOWN, 4 FLAT, 3 UP: the card shares exactly, PSI 0; then ten UP votes
      const src = cold('dddffffuuu' + 'uuuuuuu', {
        d: votes(T0, 'FLAT', vote(champion, 'DOWN')),
        f: votes(T0, 'FLAT', vote(champion, 'FLAT')),
        u: votes(T0, 'FLAT', vote(champion, 'UP')),
      });
      const out = src.pipe(supervise({ scheduler: ts, config: cfgP, baselines: [champion], featureNames: F }), eventsOnly, brief);
      // vote 11: 2 DOWN 4 FLAT 4 UP, PSI 0.069; vote 12: 1 DOWN 4 FLAT 5 UP, PSI 0.2 ln 3 + 0.2 ln(5/3) = 0.322 > 0.25
      expectObservable(out).toBe('-----------r', { r: 'xgb:PREDICTION_DRIFT:RAISED' });
    });
  });

  it('goes UNHEALTHY on inference errors and back to OK when the error window is clean', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const call = (ok: boolean): SupervisorInput => ({ kind: 'inference', tsEvent: T0, member: 'xgb', version: 'v1', ok, seconds: 0.01 });
      const src = cold('eev-e-v-oooo-v-o-v', { e: call(false), o: call(true), v: votes(T0, 'LONG') });
      const out = src.pipe(supervise({ scheduler: ts, config: { errorWindow: 5, maxErrors: 2, errorsClear: 0 }, baselines: [champion], featureNames: F }), brief);
      // third error: 3 > 2; four OK calls leave one error in the last 5 (> 0: held); the fifth clears
      expectObservable(out).toBe('--x-r-u------u-c-x', { x: 'OK/NONE', r: 'xgb:INFERENCE_ERRORS:RAISED', u: 'UNHEALTHY/OBSERVE', c: 'xgb:INFERENCE_ERRORS:CLEARED' });
    });
  });

  it('raises LATENCY on a slow mean and clears it at the lower level', () => {
    marbles(({ cold, expectObservable }, ts) => {
      const call = (seconds: number): SupervisorInput => ({ kind: 'inference', tsEvent: T0, member: 'xgb', version: 'v1', ok: true, seconds });
      const src = cold('abcdd', { a: call(1.5), b: call(1.5), c: call(0.7), d: call(0.4) });
      const out = src.pipe(supervise({ scheduler: ts, config: { latencyWindow: 2, latencyThresholdS: 1, latencyClearS: 0.5 }, baselines: [champion], featureNames: F }), brief);
      // means: -, 1.5 (raise), 1.1, 0.55 (held), 0.4 (clear)
      expectObservable(out).toBe('-r--c', { r: 'xgb:LATENCY:RAISED', c: 'xgb:LATENCY:CLEARED' });
    });
  });
});

describe('Supervisor', () => {
  it('reports a member without stats once as not monitored, never as drift', () => {
    const sup = new Supervisor({}, [bare]);
    const first = sup.drain(T0, 1);
    expect(first.map((e) => [e.scope, e.modelVersion, e.check, e.status, e.detail])).toEqual([
      ['nhits', 'n1', 'FEATURE_DRIFT', 'CLEARED', 'not monitored: the card has no featureStats'],
      ['nhits', 'n1', 'PREDICTION_DRIFT', 'CLEARED', 'not monitored: the card has no predictionShares'],
      ['nhits', 'n1', 'BRIER_DEGRADATION', 'CLEARED', 'not monitored: the card has no validation Brier'],
    ]);
    for (let i = 0; i < 3000; i++) sup.observeVector([5], T0 + i);
    for (let i = 0; i < 600; i++) sup.observeOutcome('nhits', 'n1', 2);
    sup.setBaselines([bare]);
    expect(sup.drain(T0 + 1, 2)).toEqual([]);
    expect(sup.verdictFor('LONG')).toEqual({ verdict: 'OK', reason: '', action: 'NONE' });
  });

  it('names a feature that is not in the vector as not monitored', () => {
    const sup = new Supervisor({}, [{ ...bare, featureStats: [{ feature: 'zz', edges: EDGES, shares: UNIFORM }] }], F);
    expect(sup.drain(T0, 0)[0]!.detail).toBe('not monitored: none of its featureStats features (zz) is in the vector');
  });

  it('gives events deterministic ids and the measured value and limit', () => {
    const sup = new Supervisor(small);
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [], 'SHORT');
    const [e] = sup.drain(T0 + MIN, 7);
    expect(e).toEqual({
      id: deriveId('sup', 'ensemble', '', 'BIAS', 'RAISED', T0 + MIN),
      tsEvent: T0 + MIN,
      tsInit: 7,
      scope: 'ensemble',
      modelVersion: '',
      check: 'BIAS',
      status: 'RAISED',
      verdict: 'BIAS',
      action: 'BLOCK',
      side: 'SHORT',
      value: 1,
      threshold: 0.7,
      detail: '100.0% of the last 4 signals of the ensemble are SHORT (> 70.0%)',
    });
    expect(sup.drain(T0 + 2 * MIN, 8)).toEqual([]); // only on changes
    expect(sup.raisedChecks().map((r) => [r.scope, r.check, r.side])).toEqual([['ensemble', 'BIAS', 'SHORT']]);
  });

  it('measures feature PSI against the card: all shifted is 3 (1e-4 - 0.1) ln(1e-3) + 0.3 ln 4', () => {
    const sup = new Supervisor({ psiWindow: 10, psiEvery: 10 }, [champion], F);
    for (const x of MIDPOINTS) sup.observeVector([x + 0.3], T0);
    const [e] = sup.drain(T0, 0).filter((x) => x.check === 'FEATURE_DRIFT');
    expect(e!.value).toBeCloseTo(3 * 0.0999 * Math.log(1000) + 0.3 * Math.log(4), 10);
    expect(e!.detail).toMatch(/^PSI 2\.486 of f0 over the last 10 vectors against the training deciles of xgb@v1 \(1 of 1 features above 0\.25\)$/);
  });

  it('ranks the verdict UNHEALTHY > DRIFT > BIAS with every reason, and still blocks the biased side', () => {
    const sup = new Supervisor({ ...small, errorWindow: 5, maxErrors: 1, psiWindow: 10, psiEvery: 10 }, [champion], F);
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [vote(champion, 'FLAT')], 'LONG');
    expect(sup.verdictFor('LONG').verdict).toBe('BIAS');
    for (const x of MIDPOINTS) sup.observeVector([x + 0.3], T0);
    expect(sup.verdictFor('LONG').verdict).toBe('DRIFT');
    sup.observeInference('xgb', 'v1', false, 0.1);
    sup.observeInference('xgb', 'v1', false, 0.1);
    const v = sup.verdictFor('LONG');
    expect(v.verdict).toBe('UNHEALTHY');
    expect(v.action).toBe('BLOCK');
    expect(v.reason.split('; ')).toEqual([
      'INFERENCE_ERRORS xgb@v1: 2 of the last 2 inference calls of xgb@v1 failed',
      expect.stringMatching(/^FEATURE_DRIFT xgb@v1: PSI 2\.486 of f0/),
      'BIAS ensemble: 100.0% of the last 4 signals of the ensemble are LONG (> 70.0%)',
    ]);
    expect(sup.verdictFor('SHORT')).toMatchObject({ verdict: 'UNHEALTHY', action: 'OBSERVE' });
    expect(sup.verdictFor('LONG')).toBe(v); // cached while nothing changes
  });

  it('keeps a promoted shadow its record, and clears the checks of a member that leaves the roster', () => {
    const sup = new Supervisor(small, [champion, shadow], F);
    sup.drain(T0, 0);
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [vote(champion, 'FLAT'), vote(shadow, 'DOWN')], 'FLAT');
    expect(sup.drain(T0, 0).map((e) => `${e.scope}@${e.modelVersion}:${e.status}`)).toEqual(['xgb@v2:RAISED']);
    expect(sup.verdictFor('SHORT').verdict).toBe('OK'); // a shadow
    sup.setBaselines([{ ...shadow, role: 'CHAMPION' }]);
    expect(sup.verdictFor('SHORT')).toMatchObject({ verdict: 'BIAS', action: 'BLOCK' });
    expect(sup.drain(T0 + MIN, 0)).toEqual([]); // v2 was raised and reported already; v1 had nothing raised
    sup.setBaselines([champion]);
    const gone = sup.drain(T0 + 2 * MIN, 0);
    expect(gone.map((e) => [e.scope, e.modelVersion, e.status, e.side, e.detail])).toEqual([['xgb', 'v2', 'CLEARED', 'SHORT', 'xgb@v2 left the roster']]);
    expect(sup.verdictFor('SHORT').verdict).toBe('OK');
  });

  it('supervises a member that votes without a baseline, unmonitored where it has no card data', () => {
    const sup = new Supervisor(small);
    const stray = { member: 'x', version: '1', role: 'CHAMPION' as ModelRole };
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [vote(stray, 'UP')], 'FLAT');
    const events = sup.drain(T0, 0).map((e) => `${e.check}:${e.status}`);
    expect(events).toEqual(['BIAS:RAISED', 'FEATURE_DRIFT:CLEARED', 'PREDICTION_DRIFT:CLEARED', 'BRIER_DEGRADATION:CLEARED']);
    expect(sup.verdictFor('LONG')).toMatchObject({ verdict: 'BIAS', action: 'BLOCK' });
  });

  it('holds a bias between the clear share and the raise share', () => {
    const sup = new Supervisor({ biasWindow: 10 });
    const actions: string[] = [];
    for (let i = 0; i < 10; i++) sup.observeVotes(T0, [], 'LONG');
    for (let i = 0; i < 4; i++) {
      actions.push(sup.verdictFor('LONG').action);
      sup.observeVotes(T0, [], 'FLAT');
    }
    actions.push(sup.verdictFor('LONG').action);
    // 100%, 90%, 80%, 70% (not above 70% any more, still above 60%), 60% (cleared)
    expect(actions).toEqual(['BLOCK', 'BLOCK', 'BLOCK', 'BLOCK', 'NONE']);
    expect(sup.drain(T0, 0).map((e) => `${e.status}:${e.value}:${e.threshold}`)).toEqual([]); // raised and cleared between drains: no net change
  });

  it('emits CLEARED then RAISED when a bias flips side between two drains', () => {
    const sup = new Supervisor(small);
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [], 'LONG');
    sup.drain(T0, 0);
    for (let i = 0; i < 4; i++) sup.observeVotes(T0, [], 'SHORT');
    const ev = sup.drain(T0 + MIN, 0);
    expect(ev.map((e) => `${e.status}:${e.side}`)).toEqual(['CLEARED:LONG', 'RAISED:SHORT']);
    expect(ev[0]!.detail).toBe('the bias turned from LONG to SHORT');
    expect(new Set(ev.map((e) => e.id)).size).toBe(2);
  });
});

describe('supervisorConfig', () => {
  it('documents the defaults and rejects settings that cannot work', () => {
    expect(supervisorConfig()).toEqual(SUPERVISOR_DEFAULTS);
    expect(SUPERVISOR_DEFAULTS).toMatchObject({ biasWindow: 200, biasShare: 0.7, biasMode: 'enforce', psiThreshold: 0.25, brierWindow: 500, brierDegradation: 0.1 });
    expect(supervisorConfig({ biasWindow: undefined }).biasWindow).toBe(200);
    expect(() => supervisorConfig({ biasWindow: 0 })).toThrow(SupervisorConfigError);
    expect(() => supervisorConfig({ biasShare: 0.5 })).toThrow(/biasShare/);
    expect(() => supervisorConfig({ biasClearShare: 0.8 })).toThrow(/biasClearShare/);
    expect(() => supervisorConfig({ psiClearThreshold: 0.3 })).toThrow(/psiClearThreshold/);
    expect(() => supervisorConfig({ maxErrors: 60 })).toThrow(/maxErrors/);
    expect(() => supervisorConfig({ biasMode: 'loud' as never })).toThrow(/biasMode/);
    expect(() => new Supervisor({}, [champion, champion])).toThrow(/xgb@v1 appears twice/);
    expect(() => new Supervisor({}, [{ ...bare, predictionShares: [0.5, 0.5] }])).toThrow(/predictionShares/);
    expect(() => new Supervisor({}, [{ ...bare, featureStats: [{ feature: 'f0', edges: EDGES, shares: [1] }] }])).toThrow(/1 shares for 9 edges/);
  });
});

describe('RollingMean', () => {
  it('averages the last W values', () => {
    const m = new RollingMean(3);
    expect(m.mean).toBeNaN();
    m.push(1);
    m.push(2);
    expect(m.mean).toBe(1.5);
    expect(m.full).toBe(false);
    m.push(3);
    m.push(10); // the 1 leaves
    expect(m.mean).toBe(5);
    expect(m.full).toBe(true);
  });
});
