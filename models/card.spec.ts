import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cardJsonSchema, parseCard } from './card.ts';
import { ModelCardInvalidError } from './errors.ts';
import { fakeCard } from './testing/fake-model.ts';

const SCHEMA_FILE = join(import.meta.dirname, 'card.schema.json');

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
