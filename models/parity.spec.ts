import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../operators/features/feature-set.ts';
import { loadModel } from './load.ts';
import type { ClassifierModel } from './model-port.ts';

const STORE = join(import.meta.dirname, 'store');

interface Parity {
  readonly member: string;
  readonly version: string;
  readonly features: readonly string[];
  readonly rows: number;
  readonly inputs: readonly (readonly number[])[];
  readonly probabilities: readonly (readonly number[])[];
}

const shipped = readdirSync(STORE).flatMap((member) => readdirSync(join(STORE, member)).map((version) => ({ member, version, dir: join(STORE, member, version) })));

describe('parity: onnxruntime-node reproduces the trainer', () => {
  const opened: ClassifierModel[] = [];
  afterAll(async () => {
    for (const m of opened) await m.close();
  });

  it('finds the shipped models', () => {
    expect(shipped.map((s) => `${s.member}/${s.version}`)).toContain('xgb/v1');
  });

  for (const { member, version, dir } of shipped) {
    it(`${member}/${version}: every parity row within 1e-4 of predict_proba`, async () => {
      const parity = JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8')) as Parity;
      expect(parity.rows).toBeGreaterThanOrEqual(1000);
      expect(parity.features).toEqual([...FEATURE_NAMES]);
      const model = await loadModel(dir, { member, expectedFeatures: FEATURE_NAMES });
      opened.push(model);
      const f = FEATURE_NAMES.length;
      const x = new Float32Array(parity.rows * f);
      parity.inputs.forEach((row, i) => x.set(row, i * f));
      const p = await model.predict(x, parity.rows);
      expect(p).toHaveLength(parity.rows * 3);
      let worst = 0;
      parity.probabilities.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - p[i * 3 + j]!)))));
      expect(worst).toBeLessThan(1e-4);
      // Batch size does not change a row's result: the first rows one at a time.
      for (let i = 0; i < 5; i++) {
        const one = await model.predict(x.slice(i * f, (i + 1) * f), 1);
        expect(Array.from(one)).toEqual(Array.from(p.subarray(i * 3, i * 3 + 3)));
      }
    });
  }
});
