import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import type { LoadOptions } from '../load.ts';
import { FakeModel } from '../testing/fake-model.ts';
import { applyChanges, EMPTY_ROSTER, planPromote, planRegister, planRollback, planShadow, type Roster } from './roster.ts';
import { ModelPool, servedSet, type ServedModel } from './serving.ts';
import { SHIPPED_STORE } from './testing/store.ts';

const META = { actor: 'test', reason: 'test' };

function roster(): Roster {
  let r = EMPTY_ROSTER;
  const step = (f: (r: Roster) => ReturnType<typeof planRegister>): void => {
    r = applyChanges(r, f(r));
  };
  step((r) => planRegister(r, 'xgb', 'v1', '../store/xgb/v1', META));
  step((r) => planPromote(r, 'xgb', 'v1', META));
  step((r) => planRegister(r, 'xgb', 'v2', 'models/xgb/v2', { ...META, shadow: true }));
  step((r) => planRegister(r, 'lgbm', 'v1', '/abs/lgbm/v1', META));
  step((r) => planPromote(r, 'lgbm', 'v1', META));
  step((r) => planRegister(r, 'nhits', 'v3', 'models/nhits/v3', { ...META, shadow: true }));
  return r;
}

/** A loader of FakeModels that records what it loaded; fails for folders in `failing`. */
function fakeLoader(failing = new Set<string>()) {
  const loads: { dir: string; opts: LoadOptions }[] = [];
  const models: FakeModel[] = [];
  const load = async (dir: string, opts: LoadOptions): Promise<FakeModel> => {
    loads.push({ dir, opts });
    if (failing.has(dir)) throw new Error(`cannot load ${dir}`);
    const m = new FakeModel({ member: opts.member!, version: dir.split('/').at(-1)!, role: opts.role, probabilities: () => [0.2, 0.3, 0.5] });
    models.push(m);
    return m;
  };
  return { load, loads, models };
}

describe('servedSet', () => {
  it('serves each member by name: champion, then shadows oldest first, folders resolved against the registry root', () => {
    expect(servedSet(roster(), '/reg')).toEqual<ServedModel[]>([
      { member: 'lgbm', version: 'v1', role: 'CHAMPION', dir: '/abs/lgbm/v1' },
      { member: 'nhits', version: 'v3', role: 'SHADOW', dir: '/reg/models/nhits/v3' },
      { member: 'xgb', version: 'v1', role: 'CHAMPION', dir: '/store/xgb/v1' },
      { member: 'xgb', version: 'v2', role: 'SHADOW', dir: '/reg/models/xgb/v2' },
    ]);
  });
});

describe('ModelPool', () => {
  it('loads only new versions, swaps roles without reloading, and releases what is no longer served', async () => {
    const f = fakeLoader();
    const pool = new ModelPool({ expectedFeatures: FEATURE_NAMES, load: f.load });
    let r = roster();
    const first = await pool.sync(servedSet(r, '/reg'));
    expect(first.map((m) => `${m.member}@${m.version}:${m.role}`)).toEqual(['lgbm@v1:CHAMPION', 'nhits@v3:SHADOW', 'xgb@v1:CHAMPION', 'xgb@v2:SHADOW']);
    expect(f.loads.map((l) => [l.dir, l.opts.member, l.opts.role, l.opts.expectedFeatures])).toEqual([
      ['/abs/lgbm/v1', 'lgbm', 'CHAMPION', FEATURE_NAMES],
      ['/reg/models/nhits/v3', 'nhits', 'SHADOW', FEATURE_NAMES],
      ['/store/xgb/v1', 'xgb', 'CHAMPION', FEATURE_NAMES],
      ['/reg/models/xgb/v2', 'xgb', 'SHADOW', FEATURE_NAMES],
    ]);

    // Promote xgb v2: both xgb models change role, nothing is loaded.
    r = applyChanges(r, planPromote(r, 'xgb', 'v2', META));
    const second = await pool.sync(servedSet(r, '/reg'));
    expect(second.map((m) => `${m.member}@${m.version}:${m.role}`)).toEqual(['lgbm@v1:CHAMPION', 'nhits@v3:SHADOW', 'xgb@v2:CHAMPION', 'xgb@v1:SHADOW']);
    expect(f.loads).toHaveLength(4);
    const row = new Float32Array(FEATURE_NAMES.length);
    expect([...(await second[2]!.predict(row, 1))]).toEqual([...new Float32Array([0.2, 0.3, 0.5])]);
    expect(f.models[3]!.calls).toHaveLength(1); // the view ran the session loaded for xgb v2
    expect(await pool.release()).toEqual([]);

    // Roll back: xgb v2 stops serving; the nhits shadow stops too.
    r = applyChanges(r, planRollback(r, 'xgb', META));
    r = applyChanges(r, planShadow(r, 'remove', 'nhits', 'v3', META));
    const third = await pool.sync(servedSet(r, '/reg'));
    expect(third.map((m) => `${m.member}@${m.version}:${m.role}`)).toEqual(['lgbm@v1:CHAMPION', 'xgb@v1:CHAMPION']);
    // Views do not close the session: the old set can finish its micro-batch until release().
    await second[2]!.close();
    expect(f.models[3]!.closed).toBe(false);
    expect(await pool.release()).toEqual(['nhits@v3', 'xgb@v2']);
    expect(f.models.map((m) => m.closed)).toEqual([false, true, false, true]);
    expect(pool.keys()).toEqual(['lgbm@v1', 'xgb@v1']);
    await pool.close();
    expect(f.models.every((m) => m.closed)).toBe(true);
  });

  it('rejects a sync whose model cannot load and keeps the set served before', async () => {
    const f = fakeLoader(new Set(['/reg/models/xgb/v3']));
    const pool = new ModelPool({ expectedFeatures: FEATURE_NAMES, load: f.load });
    let r = roster();
    await pool.sync(servedSet(r, '/reg'));
    r = applyChanges(r, planRegister(r, 'xgb', 'v3', 'models/xgb/v3', META));
    r = applyChanges(r, planPromote(r, 'xgb', 'v3', META));
    await expect(pool.sync(servedSet(r, '/reg'))).rejects.toThrow('cannot load /reg/models/xgb/v3');
    expect(await pool.release()).toEqual([]);
    expect(pool.keys()).toEqual(['lgbm@v1', 'nhits@v3', 'xgb@v1', 'xgb@v2']);
    await pool.close();
  });

  it('loads real ONNX models with loadModel and refuses one whose card is not the member served', async () => {
    const pool = new ModelPool({ expectedFeatures: FEATURE_NAMES });
    const [m] = await pool.sync([{ member: 'xgb', version: 'v1', role: 'SHADOW', dir: join(SHIPPED_STORE, 'xgb', 'v1') }]);
    expect([m!.member, m!.version, m!.role, m!.card.family]).toEqual(['xgb', 'v1', 'SHADOW', 'gbdt-xgboost']);
    expect(await m!.predict(new Float32Array(FEATURE_NAMES.length), 1)).toHaveLength(3);
    await expect(pool.sync([{ member: 'lgbm', version: 'v1', role: 'CHAMPION', dir: join(SHIPPED_STORE, 'xgb', 'v1') }])).rejects.toMatchObject({ name: 'ModelCardMismatchError', field: 'member' });
    await pool.close();
    expect(pool.keys()).toEqual([]);
  });
});
