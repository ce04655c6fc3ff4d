import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../operators/features/feature-set.ts';
import { binOf, cardJsonSchema, parseCard, type ModelCard } from './card.ts';
import { ModelCardInvalidError } from './errors.ts';
import { fakeCard } from './testing/fake-model.ts';

const SCHEMA_FILE = join(import.meta.dirname, 'card.schema.json');
const STORE = join(import.meta.dirname, 'store');

/** A card with the optional annotations: feature deciles on train, prediction shares on validation. */
function annotated(): ModelCard {
  const card = fakeCard('xgb', 'v2');
  const edges = [-4, -3, -2, -1, 0, 0, 1, 2, 3];
  const stats = FEATURE_NAMES.map((feature) => ({ feature, edges, shares: [0.1, 0.1, 0.1, 0.1, 0.2, 0, 0.1, 0.1, 0.1, 0.1] }));
  return {
    ...card,
    label: { ...card.label, k: 0.5, volFeature: 'rvol_30' },
    data: {
      ...card.data,
      train: { ...card.data.train, featureStats: stats },
      validation: { ...card.data.validation, predictionShares: [0.3, 0.45, 0.25] },
    },
    metrics: { ...card.metrics, model: { ...card.metrics.model, ece: 0.01 } },
  };
}

describe('model card', () => {
  it('parses a complete card and keeps its fields', () => {
    const card = fakeCard('xgb', 'v3');
    expect(parseCard(JSON.stringify(card))).toEqual(card);
  });

  it('lists every problem of an invalid card', () => {
    const bad = { ...fakeCard('xgb', 'v1'), horizonBars: 0, onnx: { ...fakeCard('xgb', 'v1').onnx, sha256: 'xyz' } };
    try {
      parseCard(bad, 'm/card.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ModelCardInvalidError);
      const err = e as ModelCardInvalidError;
      expect(err.retriable).toBe(false);
      expect(err.file).toBe('m/card.json');
      expect(err.issues.some((i) => i.startsWith('horizonBars'))).toBe(true);
      expect(err.issues.some((i) => i.startsWith('onnx.sha256'))).toBe(true);
    }
  });

  it('keeps featureStats, predictionShares, ece and the label band', () => {
    const card = annotated();
    expect(parseCard(JSON.stringify(card))).toEqual(card);
  });

  it('refuses edges that decrease or are not 9, shares that are not 10 or do not sum to 1, 2 prediction shares', () => {
    const card = annotated();
    const stat = card.data.train.featureStats![0]!;
    const bad = {
      ...card,
      data: {
        ...card.data,
        train: {
          ...card.data.train,
          featureStats: [
            { ...stat, edges: [...stat.edges.slice(0, 8), -10] },
            { ...stat, edges: stat.edges.slice(1) },
            { ...stat, shares: stat.shares.map((v) => v / 2) },
            { ...stat, shares: [...stat.shares, 0] },
          ],
        },
        validation: { ...card.data.validation, predictionShares: [0.5, 0.5] },
      },
    };
    try {
      parseCard(bad);
      expect.unreachable();
    } catch (e) {
      const issues = (e as ModelCardInvalidError).issues;
      expect(issues.filter((i) => i.startsWith('data.train.featureStats.0.edges'))).toHaveLength(1);
      expect(issues.filter((i) => i.startsWith('data.train.featureStats.1.edges'))).toHaveLength(1);
      expect(issues.some((i) => i.startsWith('data.train.featureStats.2.shares') && i.includes('sum to 1'))).toBe(true);
      expect(issues.filter((i) => i.startsWith('data.train.featureStats.3.shares'))).toHaveLength(1);
      expect(issues.some((i) => i.startsWith('data.validation.predictionShares'))).toBe(true);
    }
  });

  it('binOf counts the edges <= x (numpy searchsorted side=right): ties go up, an empty bin between equal edges', () => {
    const edges = [-4, -3, -2, -1, 0, 0, 1, 2, 3];
    expect([-5, -4, -3.5, -1, -0.5, 0, 0.5, 2.9, 3, 99].map((x) => binOf(edges, x))).toEqual([0, 1, 1, 4, 4, 6, 6, 8, 9, 9]);
    // no x lands in bin 5 = [0, 0)
    expect(Array.from({ length: 200 }, (_, i) => binOf(edges, -5 + i / 20)).includes(5)).toBe(false);
    expect(binOf(edges, Number.NEGATIVE_INFINITY)).toBe(0);
    expect(binOf(edges, Number.POSITIVE_INFINITY)).toBe(9);
    expect(binOf(edges, Number.NaN)).toBe(-1);
  });

  // scripts/annotate-cards.ts added these to the shipped cards (the trainer writes them on every new card).
  it('every shipped card carries featureStats for FEATURE_NAMES, predictionShares and ece', () => {
    for (const member of readdirSync(STORE)) {
      for (const version of readdirSync(join(STORE, member))) {
        const card = parseCard(readFileSync(join(STORE, member, version, 'card.json'), 'utf8'));
        expect(card.data.train.featureStats?.map((f) => f.feature), `${member}/${version}`).toEqual([...FEATURE_NAMES]);
        expect(card.data.validation.predictionShares, `${member}/${version}`).toHaveLength(3);
        expect(card.metrics.model.ece, `${member}/${version}`).toBeGreaterThan(0);
      }
    }
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseCard('{not json')).toThrow(ModelCardInvalidError);
  });

  // The Python trainer's tests check the cards they write against this file.
  it('card.schema.json is the JSON Schema of CardSchema (regenerate: QT_WRITE_CARD_SCHEMA=1 npx vitest run models/card.spec.ts)', () => {
    const text = `${JSON.stringify(cardJsonSchema(), null, 2)}\n`;
    if (process.env.QT_WRITE_CARD_SCHEMA === '1') writeFileSync(SCHEMA_FILE, text);
    expect(existsSync(SCHEMA_FILE)).toBe(true);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(text);
  });
});
