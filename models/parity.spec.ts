import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import { inputWidth } from './card.ts';
import { loadModel } from './load.ts';
import type { ClassifierModel } from './model-port.ts';

const STORE = join(import.meta.dirname, 'store');

interface Parity {
  readonly member: string;
  readonly version: string;
  /** 'features' (absent in files written before window models) or 'window'. */
  readonly input?: 'features' | 'window';
  /** Feature names, or the window's channel names. */
  readonly features: readonly string[];
  readonly windowLength?: number;
  /** Each row: F feature values, or the window's L x C values, row-major, oldest bar first. */
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
    expect(shipped.map((s) => `${s.member}/${s.version}`)).toEqual(expect.arrayContaining(['xgb/v1', 'lgbm/v1', 'nhits/v1', 'patchtst/v1']));
  });

  for (const { member, version, dir } of shipped) {
    it(`${member}/${version}: every parity row within 1e-4 of the trainer's probabilities`, async () => {
      const parity = JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8')) as Parity;
      expect(parity.rows).toBeGreaterThanOrEqual(1000);
      expect(parity.inputs).toHaveLength(parity.rows);
      const model = await loadModel(dir, { member, expectedFeatures: FEATURE_NAMES });
      opened.push(model);
      expect(parity.input ?? 'features').toBe(model.card.input.kind);
      if (model.card.input.kind === 'window') {
        expect(parity.features).toEqual([...WINDOW_CHANNELS]);
        expect(parity.windowLength).toBe(WINDOW_LENGTH);
      } else {
        expect(parity.features).toEqual([...FEATURE_NAMES]);
      }
      const f = inputWidth(model.card);
      for (const row of parity.inputs) expect(row).toHaveLength(f);
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
