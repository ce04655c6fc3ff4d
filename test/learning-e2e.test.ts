import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCard } from '../models/load.ts';
import { copyShippedStore } from '../models/registry/testing/store.ts';
import { loadConfig } from '../pipelines/config.ts';
import { runAll, type RunResult } from '../pipelines/run/main.ts';
import { openJournal } from '../sinks/journal/open.ts';

/**
 * Continuous learning end to end in `qt run`: on its schedule the stage retrains xgb with the real Python trainer on
 * the latest bars, the registry serves the result as a shadow, the ensemble stage hot-loads it and scores it on realised
 * outcomes next to the champion, and the stage tests the pair and decides - every step journaled. Which way the
 * decision goes depends on the data; the test checks the steps and that the registry, the votes and the journal agree.
 */

const tmp = mkdtempSync(join(tmpdir(), 'qt-learning-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const journalPath = join(tmp, 'journal');
const registryDir = join(tmp, 'registry');
let result: RunResult;
/** The order of the steps of one retrain, for events that share a ts_event (the journal has no finer order). */
const STEP_ORDER = ['SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'TRAINING_FAILED', 'TRAINER_UNAVAILABLE', 'SHADOW_REGISTERED', 'TEST', 'PROMOTED', 'KEPT', 'ROLLED_BACK'];

async function query<R = Record<string, unknown>>(sql: string): Promise<R[]> {
  const j = await openJournal({ path: journalPath, batchRows: 10_000 });
  try {
    return await j.query<R>(sql);
  } finally {
    await j.close();
  }
}

describe('continuous learning in qt run with the real trainer', () => {
  beforeAll(async () => {
    const config = loadConfig({
      flags: {
        run: { syntheticSymbols: 3, syntheticDays: 1, seed: 3, progress: false },
        journal: { path: journalPath },
        metrics: { enabled: false },
        ensemble: { modelsDir: copyShippedStore(join(tmp, 'store')), registryDir },
        learning: { enabled: true, members: ['xgb'], retrainEveryMs: 4 * 3_600_000, windowBars: 230, minOutcomes: 150, testEveryOutcomes: 150, maxOutcomes: 450, watchOutcomes: 150 },
      },
    });
    result = await runAll(config, { stderr: process.stderr, wallNow: () => performance.now() });
  }, 240_000);

  it('retrains, registers a shadow, scores it live and decides, each step journaled in order', async () => {
    const steps = await query<{ step: string; candidate: string; champion: string; outcomes: string; p: number; detail: string }>(
      `SELECT step, candidate_version AS candidate, champion_version AS champion, outcomes, p_value AS p, detail FROM qt.learning_events FINAL
       WHERE member = 'xgb' ORDER BY ts_event, indexOf(${JSON.stringify(STEP_ORDER).replaceAll('"', "'")}, step)`,
    );
    const names = steps.map((s) => s.step);
    expect(names.slice(0, 4)).toEqual(['SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'SHADOW_REGISTERED']);
    const v2 = steps.find((s) => s.step === 'SHADOW_REGISTERED')!.candidate;
    expect(v2).toBe('v2');
    // tested on live outcomes against the champion, then a decision: promoted, or kept after maxOutcomes
    const tests = steps.filter((s) => s.step === 'TEST' && s.candidate === 'v2');
    expect(tests.length).toBeGreaterThan(0);
    for (const t of tests) {
      expect(Number(t.outcomes)).toBeGreaterThanOrEqual(150);
      expect(t.p).toBeGreaterThanOrEqual(0);
      expect(t.p).toBeLessThanOrEqual(1);
    }
    expect(names.some((n) => n === 'PROMOTED' || n === 'KEPT')).toBe(true);
  });

  it('serves the retrained model as a shadow: its votes and scores are in the journal', async () => {
    const card = readCard(join(registryDir, 'models', 'xgb', 'v2'));
    expect(card.member).toBe('xgb');
    expect(card.data.train.featureStats).toHaveLength(10);
    const [votes] = await query<{ n: string }>("SELECT count() AS n FROM qt.model_votes FINAL WHERE member = 'xgb' AND model_version = 'v2'");
    const [scores] = await query<{ n: string }>("SELECT count() AS n FROM qt.model_scores FINAL WHERE member = 'xgb' AND model_version = 'v2'");
    expect(Number(votes!.n)).toBeGreaterThan(300);
    expect(Number(scores!.n)).toBeGreaterThan(300);
  });

  it('leaves the registry, its journal and the run summary in agreement', async () => {
    const registry = await query<{ action: string; version: string; actor: string }>(
      "SELECT action, version, actor FROM qt.registry_events FINAL WHERE member = 'xgb' AND actor = 'learning' ORDER BY seq",
    );
    expect(registry.slice(0, 2).map((r) => `${r.action} ${r.version}`)).toEqual(['REGISTERED v2', 'SHADOW_ADDED v2']);
    const learned = await query<{ step: string; n: string }>('SELECT step, count() AS n FROM qt.learning_events FINAL GROUP BY step');
    for (const { step, n } of learned) expect(result.summary.learningSteps[step]).toBe(Number(n));
    if (learned.some((l) => l.step === 'PROMOTED')) expect(registry.map((r) => r.action)).toContain('PROMOTED');
  });
});
