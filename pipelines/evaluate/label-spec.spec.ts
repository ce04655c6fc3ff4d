import { describe, expect, it } from 'vitest';
import { fakeCard } from '../../models/testing/fake-model.ts';
import type { ModelCard } from '../../models/card.ts';
import { EvaluationError } from './errors.ts';
import { evaluationLabel } from './label-spec.ts';

function card(member: string, label: Partial<ModelCard['label']> = {}, horizonBars = 15, barMs = 60_000): ModelCard {
  const c = fakeCard(member, 'v1');
  return {
    ...c,
    barMs,
    horizonBars,
    label: { kind: 'fwd-logret-vol-band', horizonBars, k: 0.5, volFeature: 'rvol_30', definition: 'r = ...', classes: ['DOWN', 'FLAT', 'UP'], ...label },
  };
}

describe('the evaluation label', () => {
  it('is the label every card shares', () => {
    expect(evaluationLabel([card('a'), card('b')])).toEqual({ kind: 'fwd-logret-vol-band', horizonBars: 15, k: 0.5, volFeature: 'rvol_30' });
  });

  it('refuses members labelled differently (k or H), naming them', () => {
    const refusal = (cards: ModelCard[]): EvaluationError => {
      try {
        evaluationLabel(cards);
      } catch (e) {
        return e as EvaluationError;
      }
      throw new Error('not refused');
    };
    const k = refusal([card('a'), card('b', { k: 0.4 })]);
    expect(k.reason).toBe('LABEL_SPECS_DIFFER');
    expect(k.message).toContain('b is labelled with H 15, k 0.4');
    expect(refusal([card('a'), card('b', {}, 10)]).reason).toBe('LABEL_SPECS_DIFFER');
  });

  it('refuses a label it cannot recompute, and bars other than 1 minute', () => {
    const reason = (c: ModelCard): string => {
      try {
        evaluationLabel([c]);
        return 'accepted';
      } catch (e) {
        return (e as EvaluationError).reason;
      }
    };
    expect(reason(card('a', { kind: 'triple-barrier' }))).toBe('LABEL_UNSUPPORTED');
    expect(reason(card('a', { k: undefined }))).toBe('LABEL_UNSUPPORTED');
    expect(reason(card('a', { volFeature: 'atr_pct_14' }))).toBe('LABEL_UNSUPPORTED');
    expect(reason({ ...card('a'), horizonBars: 10 })).toBe('LABEL_UNSUPPORTED');
    expect(reason(card('a', {}, 15, 300_000))).toBe('BAR_INTERVAL_UNSUPPORTED');
    expect(reason(card('a'))).toBe('accepted');
  });
});
