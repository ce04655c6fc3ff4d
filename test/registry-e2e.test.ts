import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../models/registry/registry.ts';
import { addVersion, copyShippedStore } from '../models/registry/testing/store.ts';
import { loadConfig } from '../pipelines/config.ts';
import { runAll } from '../pipelines/run/main.ts';
import { DEFAULT_SYNTHETIC_START } from '../pipelines/run/market.ts';
import { openJournal } from '../sinks/journal/open.ts';

/**
 * Promotion and rollback end to end on the memory bus: `qt run`'s whole chain replays a synthetic market while the
 * registry changes under it (as `qt models promote|rollback` from another process would), and the ensemble stage picks
 * each change up between two bar steps, without a restart and without losing or repeating a bar.
 */

const tmp = mkdtempSync(join(tmpdir(), 'qt-registry-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const H = 3_600_000;
const START = DEFAULT_SYNTHETIC_START;
const PROMOTE_AT = START + 4 * H;
const ROLLBACK_AT = START + 8 * H;
const BROKEN_AT = START + 10 * H;
const journalPath = join(tmp, 'journal');
const registryDir = join(tmp, 'registry');
const modelsDir = copyShippedStore(join(tmp, 'store'));
const warnings: string[] = [];

async function query<R = Record<string, unknown>>(sql: string): Promise<R[]> {
  const j = await openJournal({ path: journalPath, batchRows: 10_000 });
  try {
    return await j.query<R>(sql);
  } finally {
    await j.close();
  }
}
const num = (v: unknown): number => Number(v);

describe('a model promotion and its rollback while qt run replays', () => {
  beforeAll(async () => {
    let t = Date.UTC(2026, 10, 24, 12);
    const now = (): number => (t += 1000);
    const registry = await Registry.open(registryDir, { modelsDir, now });
    await registry.register(addVersion(join(tmp, 'extra'), 'xgb', 'v2'), { actor: 'cli', reason: 'test candidate', shadow: true });
    // v3 checks out when registered; its ONNX file is damaged afterwards, so serving it must be refused.
    const v3 = addVersion(join(tmp, 'extra'), 'xgb', 'v3');
    await registry.register(v3, { actor: 'cli', reason: 'test broken', shadow: false });
    writeFileSync(join(v3, 'model.onnx'), 'not a model');

    const config = loadConfig({
      flags: {
        run: { syntheticSymbols: 3, syntheticDays: 0.5, seed: 5, progress: false },
        journal: { path: journalPath },
        metrics: { enabled: false },
        ensemble: { modelsDir, registryDir },
      },
    });
    const done = new Set<string>();
    await runAll(config, {
      stderr: { write: (s: string) => (warnings.push(s), true) } as unknown as NodeJS.WriteStream,
      wallNow: () => performance.now(),
      epochNow: now,
      onStep: async (stepMs) => {
        // Another process (qt models ...) changes the registry; the run sees it at its next poll.
        if (stepMs >= PROMOTE_AT && !done.has('promote')) {
          done.add('promote');
          await (await Registry.open(registryDir, { modelsDir, now })).promote('xgb', 'v2', { actor: 'cli', reason: 'test' });
        }
        if (stepMs >= ROLLBACK_AT && !done.has('rollback')) {
          done.add('rollback');
          await (await Registry.open(registryDir, { modelsDir, now })).rollback('xgb', { actor: 'cli', reason: 'test' });
        }
        if (stepMs >= BROKEN_AT && !done.has('broken')) {
          done.add('broken');
          await (await Registry.open(registryDir, { modelsDir, now })).promote('xgb', 'v3', { actor: 'cli', reason: 'test' });
        }
      },
    });
  }, 120_000);

  it('votes with every version in its time, switching at the bar step after each change', async () => {
    const signals = await query<{ v: string; ts: string }>(`
      SELECT members_model_version[indexOf(members_member, 'xgb')] AS v, toUnixTimestamp64Milli(ts_event) AS ts
      FROM qt.signals FINAL ORDER BY ts_event, symbol`);
    // consecutive runs of the version xgb voted with
    const runs: { v: string; first: number; last: number }[] = [];
    for (const s of signals) {
      const last = runs.at(-1);
      if (last?.v === s.v) last.last = num(s.ts);
      else runs.push({ v: s.v, first: num(s.ts), last: num(s.ts) });
    }
    // v1, then v2 after the promotion, then v1 again after the rollback (the broken v3 is never served)
    expect(runs.map((r) => r.v)).toEqual(['v1', 'v2', 'v1']);
    const [, promoted, after] = runs;
    // A change made during bar step s is polled at that step: it acts from the micro-batch the step flushes (the bars
    // that closed in the minute before) on, so the switch is within a minute of the change.
    const near = (ts: number, at: number): void => {
      expect(ts).toBeGreaterThanOrEqual(at - 60_000);
      expect(ts).toBeLessThanOrEqual(at + 60_000);
    };
    near(promoted!.first, PROMOTE_AT);
    near(after!.first, ROLLBACK_AT);
  });

  it('loses no bar and scores none twice across the swaps', async () => {
    const [v] = await query<{ vectors: string; signals: string; distinct: string }>(`
      SELECT (SELECT count() FROM qt.feature_vectors FINAL) AS vectors, count() AS signals, uniqExact(feature_id) AS distinct
      FROM qt.signals FINAL`);
    expect(num(v!.vectors)).toBeGreaterThan(3 * 600);
    expect(num(v!.signals)).toBe(num(v!.vectors));
    expect(num(v!.distinct)).toBe(num(v!.vectors));
  });

  it('keeps the demoted champion voting as a shadow while the new one acts, and drops it after the rollback', async () => {
    const rows = await query<{ version: string; role: string; first: string; last: string }>(`
      SELECT model_version AS version, role, toUnixTimestamp64Milli(min(ts_event)) AS first, toUnixTimestamp64Milli(max(ts_event)) AS last
      FROM qt.model_votes FINAL WHERE member = 'xgb' GROUP BY version, role ORDER BY first, version`);
    const find = (version: string, role: string) => rows.find((r) => r.version === version && r.role === role);
    // registered as a shadow: v2 votes without acting from the start
    expect(num(find('v2', 'SHADOW')!.first)).toBeLessThan(PROMOTE_AT);
    expect(num(find('v2', 'CHAMPION')!.first)).toBeGreaterThanOrEqual(PROMOTE_AT - 60_000);
    expect(num(find('v1', 'SHADOW')!.first)).toBe(num(find('v2', 'CHAMPION')!.first));
    expect(num(find('v1', 'SHADOW')!.last)).toBeLessThan(ROLLBACK_AT + 2 * 60_000);
    // the rollback drops v2 from serving
    expect(num(find('v2', 'CHAMPION')!.last)).toBeLessThan(ROLLBACK_AT + 2 * 60_000);
    expect(rows.filter((r) => r.version === 'v2' && num(r.last) > ROLLBACK_AT + 2 * 60_000)).toEqual([]);
  });

  it('refuses to serve a version whose artifact no longer matches its card, and keeps serving', async () => {
    expect(warnings.join('')).toMatch(/registry: registry seq \d+ \(PROMOTED xgb v3\) not served: .*sha256/);
    const [r] = await query<{ n: string }>(`SELECT count() AS n FROM qt.model_votes FINAL WHERE model_version = 'v3'`);
    expect(num(r!.n)).toBe(0);
  });

  it('journals every registry change and scores each version on realised outcomes', async () => {
    const events = await query<{ seq: string; member: string; action: string; version: string; actor: string }>(
      "SELECT seq, member, action, version, actor FROM qt.registry_events FINAL WHERE member = 'xgb' ORDER BY seq",
    );
    expect(events.map((e) => `${e.action} ${e.version} ${e.actor}`)).toEqual([
      'REGISTERED v1 bootstrap',
      'PROMOTED v1 bootstrap',
      'REGISTERED v2 cli',
      'SHADOW_ADDED v2 cli',
      'REGISTERED v3 cli',
      'PROMOTED v2 cli',
      'ROLLED_BACK v1 cli',
      'PROMOTED v3 cli',
    ]);
    const scores = await query<{ version: string; role: string; n: string }>(
      "SELECT model_version AS version, role, count() AS n FROM qt.model_scores FINAL WHERE member = 'xgb' GROUP BY version, role ORDER BY version, role",
    );
    expect(scores.map((s) => `${s.version} ${s.role}`)).toEqual(['v1 CHAMPION', 'v1 SHADOW', 'v2 CHAMPION', 'v2 SHADOW']);
    for (const s of scores) expect(num(s.n)).toBeGreaterThan(0);
  });
});
