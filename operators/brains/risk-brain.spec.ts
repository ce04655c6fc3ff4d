import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { assessRisk, RISK_BRAIN_DEFAULTS, riskBrain } from './risk-brain.ts';

describe('assessRisk', () => {
  it('multiplies the mode, volatility and confidence factors (hand-computed)', () => {
    // NORMAL 1 * vol min(1, 0.003 / 0.006) = 0.5 * conf min(1.25, 0.9 / 0.75) = 1.2 -> 0.6
    const v = assessRisk({ mode: 'NORMAL', atrPct: 0.006, confidence: 0.9 });
    expect(v.scale).toBeCloseTo(0.6, 12);
    expect(v.veto).toBe(false);
    expect(v.detail).toBe('mode NORMAL x1 * vol x0.500 * confidence x1.200 = 0.600');
  });

  it('does not scale up for low volatility, and caps the confidence factor', () => {
    // AGGRESSIVE 1.5 * vol min(1, 0.003 / 0.002) = 1 * conf min(1.25, 1 / 0.75 = 1.33) = 1.25 -> 1.875
    expect(assessRisk({ mode: 'AGGRESSIVE', atrPct: 0.002, confidence: 1 }).scale).toBeCloseTo(1.875, 12);
    // SAFE 0.5 * 1 * (0.75 / 0.75 = 1) -> 0.5
    expect(assessRisk({ mode: 'SAFE', atrPct: 0.003, confidence: 0.75 }).scale).toBeCloseTo(0.5, 12);
  });

  it('clamps the scale to 2', () => {
    const cfg = { ...RISK_BRAIN_DEFAULTS, modeScale: { ...RISK_BRAIN_DEFAULTS.modeScale, AGGRESSIVE: 3 } };
    expect(assessRisk({ mode: 'AGGRESSIVE', atrPct: 0.001, confidence: 1 }, cfg).scale).toBe(2); // 3 * 1 * 1.25 = 3.75
  });

  it('vetoes CRITICAL (scale 0), an absurd ATR, a missing ATR and a scale below the minimum', () => {
    expect(assessRisk({ mode: 'CRITICAL', atrPct: 0.002, confidence: 0.9 })).toMatchObject({ scale: 0, veto: true });
    expect(assessRisk({ mode: 'NORMAL', atrPct: 0.05, confidence: 0.9 })).toMatchObject({ scale: 0, veto: true, detail: 'atrPct 5.00% >= 5.00%: absurd volatility' });
    expect(assessRisk({ mode: 'NORMAL', atrPct: Number.NaN, confidence: 0.9 }).veto).toBe(true);
    expect(assessRisk({ mode: 'NORMAL', atrPct: 0, confidence: 0.9 }).veto).toBe(true);
    // SAFE 0.5 * vol 0.003 / 0.03 = 0.1 * conf 0.65 / 0.75 = 0.8667 -> 0.0433 < 0.05
    const small = assessRisk({ mode: 'SAFE', atrPct: 0.03, confidence: 0.65 });
    expect(small.scale).toBeCloseTo(0.5 * 0.1 * (0.65 / 0.75), 12);
    expect(small.veto).toBe(true);
  });
});

describe('riskBrain operator (marbles)', () => {
  it('emits one verdict per input', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a--b|', { a: { mode: 'NORMAL' as const, atrPct: 0.006, confidence: 0.75 }, b: { mode: 'CRITICAL' as const, atrPct: 0.002, confidence: 0.9 } });
      expectObservable(src.pipe(riskBrain())).toBe('x--y|', {
        x: { scale: 0.5, veto: false, detail: 'mode NORMAL x1 * vol x0.500 * confidence x1.000 = 0.500' },
        y: { scale: 0, veto: true, detail: 'mode CRITICAL x0 * vol x1.000 * confidence x1.200 = 0.000 < 0.05' },
      });
    });
  });
});
