import type { ModelCard } from '../../models/card.ts';
import { DEFAULT_LABEL, type LabelSpec } from '../../operators/ensemble/scoring.ts';
import { EvaluationError } from './errors.ts';

/** The bar interval the feature pipeline serves (1-minute bars); cards trained on another interval cannot be scored. */
export const EVALUATED_BAR_MS = 60_000;

/**
 * The one label every evaluated member was trained on, read from their cards. The evaluator recomputes labels with
 * `labelOf`, so it accepts only the `fwd-logret-vol-band` kind over rvol_30 with an explicit k, the same H in the card's
 * `horizonBars` and `label.horizonBars`, and 1-minute bars; members that disagree on any of it would be graded against
 * different targets, so they are refused together rather than scored apart.
 */
export function evaluationLabel(cards: readonly Pick<ModelCard, 'member' | 'barMs' | 'horizonBars' | 'label'>[]): LabelSpec {
  if (cards.length === 0) throw new EvaluationError('LABEL_UNSUPPORTED', 'no model to evaluate');
  const specs = cards.map((c): LabelSpec => {
    const l = c.label;
    if (c.barMs !== EVALUATED_BAR_MS) {
      throw new EvaluationError('BAR_INTERVAL_UNSUPPORTED', `${c.member} was trained on ${c.barMs} ms bars; the pipeline serves ${EVALUATED_BAR_MS} ms bars`);
    }
    if (l.kind !== DEFAULT_LABEL.kind || l.volFeature !== DEFAULT_LABEL.volFeature || l.k === undefined) {
      throw new EvaluationError(
        'LABEL_UNSUPPORTED',
        `${c.member}: label kind ${l.kind}, volFeature ${l.volFeature ?? '(none)'}, k ${l.k ?? '(none)'}; the evaluator recomputes only ${DEFAULT_LABEL.kind} over ${DEFAULT_LABEL.volFeature} with an explicit k`,
      );
    }
    if (l.horizonBars !== c.horizonBars) {
      throw new EvaluationError('LABEL_UNSUPPORTED', `${c.member}: horizonBars ${c.horizonBars} but label.horizonBars ${l.horizonBars}`);
    }
    return { kind: DEFAULT_LABEL.kind, horizonBars: l.horizonBars, k: l.k, volFeature: DEFAULT_LABEL.volFeature };
  });
  const first = specs[0]!;
  specs.forEach((s, i) => {
    if (s.horizonBars !== first.horizonBars || s.k !== first.k) {
      throw new EvaluationError(
        'LABEL_SPECS_DIFFER',
        `${cards[i]!.member} is labelled with H ${s.horizonBars}, k ${s.k}; ${cards[0]!.member} with H ${first.horizonBars}, k ${first.k}`,
      );
    }
  });
  return Object.freeze(first);
}
