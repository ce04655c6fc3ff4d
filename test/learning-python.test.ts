import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of, queueScheduler, VirtualTimeScheduler } from 'rxjs';
import { filter, map, toArray } from 'rxjs/operators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../models/load.ts';
import { FEATURE_NAMES } from '../operators/features/feature-set.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import { learningEpic } from '../pipelines/learning/epic.ts';
import { FakeRegistry } from '../pipelines/learning/fakes.ts';
import { PythonTrainer, TrainerError } from '../pipelines/learning/python-trainer.ts';
import type { Bar } from '../schemas/bar.ts';
import type { LearningEvent } from '../schemas/learning-event.ts';
import { syntheticMarket } from '../sources/synthetic-market.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-learning-python-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DAY = 86_400_000;
const FROM = Date.UTC(2025, 0, 6);

/** Three synthetic symbols over three days, through the ingest stage as in a run: about 13000 one-minute bars. */
async function syntheticBars(): Promise<Bar[]> {
  const trades = syntheticMarket({ symbols: 3, seed: 42, fromMs: FROM, toMs: FROM + 3 * DAY, tradesPerMinute: 8 });
  return lastValueFrom(
    ingestEpic({ trades }, { scheduler: queueScheduler, allowedLatenessMs: 60_000 }).pipe(
      filter((o) => o.topic === 'md.bars.1m.v1'),
      map((o) => o.value as Bar),
      toArray(),
    ),
  );
}

describe('continuous learning with the real Python trainer', () => {
  let bars: Bar[];
  beforeAll(async () => {
    bars = await syntheticBars();
  });

  it('retrains xgb on synthetic bars; the artifact loads with loadModel and predicts as the trainer did', async () => {
    expect(bars.length).toBeGreaterThan(3 * 3 * 1400);
    const trainer = new PythonTrainer({ workDir: tmp });
    const a = await trainer.available('xgb');
    expect(a).toEqual({ ok: true, detail: '/usr/bin/python3 imports qt_training, numpy, onnx, xgboost' });
    const outDir = join(tmp, 'registry', 'models', 'xgb', 'v2');
    const r = await trainer.train({ member: 'xgb', version: 'v2', bars, horizon: 15, outDir });
    expect(r.dir).toBe(outDir);
    // trained on the window minus the features' warm-up; validated up to the last labelled bar
    expect(r.fromMs).toBeGreaterThanOrEqual(FROM);
    expect(r.fromMs).toBeLessThan(FROM + 2 * 3_600_000);
    expect(r.toMs).toBeGreaterThan(FROM + 3 * DAY - 3_600_000);
    expect(r.toMs).toBeLessThan(FROM + 3 * DAY);
    // the temporary dataset is gone
    expect(readdirSync(tmp).filter((n) => n.startsWith('qt-retrain-'))).toEqual([]);

    const model = await loadModel(outDir, { member: 'xgb', expectedFeatures: FEATURE_NAMES });
    try {
      expect(model.card).toMatchObject({ member: 'xgb', version: 'v2', horizonBars: 15, features: [...FEATURE_NAMES] });
      expect(model.card.params).toMatchObject({ n_estimators: 60, max_depth: 4, threads: 1 });
      const parity = JSON.parse(readFileSync(join(outDir, 'parity.json'), 'utf8')) as { rows: number; inputs: number[][]; probabilities: number[][] };
      expect(parity.rows).toBe(256);
      const x = new Float32Array(parity.rows * FEATURE_NAMES.length);
      parity.inputs.forEach((row, i) => x.set(row, i * FEATURE_NAMES.length));
      const p = await model.predict(x, parity.rows);
      let worst = 0;
      parity.probabilities.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - p[i * 3 + j]!)))));
      expect(worst).toBeLessThan(1e-4);
      for (let i = 0; i < parity.rows; i++) expect(p[i * 3]! + p[i * 3 + 1]! + p[i * 3 + 2]!).toBeCloseTo(1, 5);
    } finally {
      await model.close();
    }
  });

  it("fails a retrain cleanly: TrainerError with the reason and the trainer's message, no version folder left", async () => {
    const outDir = join(tmp, 'registry', 'models', 'xgb', 'v3');
    const fail = (t: PythonTrainer, input: readonly Bar[]): Promise<TrainerError> =>
      t.train({ member: 'xgb', version: 'v3', bars: input, horizon: 15, outDir }).then(
        () => Promise.reject(new Error('expected a failure')),
        (e: unknown) => e as TrainerError,
      );
    // 70 bars of one symbol: 10 vectors after the warm-up, none with a known 15-bar outcome
    const few = await fail(new PythonTrainer({ workDir: tmp }), bars.filter((b) => b.symbol === bars[0]!.symbol).slice(0, 70));
    expect(few).toBeInstanceOf(TrainerError);
    expect(few).toMatchObject({ reason: 'NO_DATA', retriable: false, member: 'xgb' });
    // the Python process refuses its arguments: its stderr is in the message
    const bad = await fail(new PythonTrainer({ workDir: tmp, settings: { xgb: ['--depth', 'deep'] } }), bars);
    expect(bad).toMatchObject({ name: 'TrainerError', reason: 'PROCESS_FAILED' });
    expect(bad.message).toMatch(/exited with 2: .*argument --depth: invalid int value: 'deep'/);
    expect(existsSync(outDir)).toBe(false);
    expect(readdirSync(tmp).filter((n) => n.startsWith('qt-retrain-'))).toEqual([]);
  });

  it('reports a missing interpreter or package as unavailable, with the reason, and the epic says so', async () => {
    const missing = new PythonTrainer({ python: join(tmp, 'no-such-python3') });
    const a = await missing.available('xgb');
    expect(a.ok).toBe(false);
    expect(a.detail).toMatch(/^python interpreter .*no-such-python3 cannot be started: spawn .* ENOENT$/);
    const err = await missing.train({ member: 'xgb', version: 'v9', bars: [], horizon: 15, outDir: join(tmp, 'x') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TrainerError', reason: 'UNAVAILABLE' });

    expect((await new PythonTrainer({ trainingDir: tmp }).available('xgb')).detail).toBe(`no qt_training package in ${tmp}`);
    expect((await new PythonTrainer().available('arima')).ok).toBe(false);

    const scheduler = new VirtualTimeScheduler();
    scheduler.frame = FROM;
    const events = await lastValueFrom(
      learningEpic(
        { bars: of(...bars.slice(0, 300)), scores: of() },
        { scheduler, trainer: missing, registry: new FakeRegistry({ xgb: 'v1' }), config: { members: ['xgb'], retrainEveryMs: 60 * 60_000 } },
      ).pipe(
        map((o) => o.value as LearningEvent),
        toArray(),
      ),
    );
    // at start, then at the tick an hour after the first bar (300 bars of 3 symbols span 100 minutes)
    expect(events.map((e) => e.step)).toEqual(['TRAINER_UNAVAILABLE', 'SCHEDULED', 'TRAINER_UNAVAILABLE']);
    expect(events[2]!.detail).toMatch(/cannot be started/);
  });
});
