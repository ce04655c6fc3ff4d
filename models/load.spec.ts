import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, FEATURE_SET } from '../operators/features/feature-set.ts';
import { ModelCardInvalidError, ModelCardMismatchError, ModelInputError, ModelStoreError } from './errors.ts';
import { latestVersions, loadDefaultEnsemble, loadModel } from './load.ts';

const SHIPPED = join(import.meta.dirname, 'store', 'xgb', 'v1');
const tmp = mkdtempSync(join(tmpdir(), 'qt-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the shipped model under <tmp>/<name>/xgb/<version>, with its card changed by `edit`. */
function copyWith(name: string, edit: (card: Record<string, unknown>) => void = () => undefined, version = 'v1'): string {
  const dir = join(tmp, name, 'xgb', version);
  mkdirSync(dir, { recursive: true });
  cpSync(SHIPPED, dir, { recursive: true });
  const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as Record<string, unknown>;
  edit(card);
  writeFileSync(join(dir, 'card.json'), JSON.stringify(card));
  return dir;
}

async function refusal(dir: string, expectedFeatures: readonly string[] = FEATURE_NAMES): Promise<ModelCardMismatchError> {
  try {
    const m = await loadModel(dir, { member: 'xgb', expectedFeatures });
    await m.close();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelCardMismatchError);
    return e as ModelCardMismatchError;
  }
  throw new Error('the model was loaded');
}

describe('loadModel', () => {
  it('loads the shipped model with its card', async () => {
    const m = await loadModel(SHIPPED, { member: 'xgb', role: 'SHADOW', expectedFeatures: FEATURE_NAMES });
    expect([m.member, m.version, m.role]).toEqual(['xgb', 'v1', 'SHADOW']);
    expect(m.card.features).toEqual([...FEATURE_NAMES]);
    expect(await m.predict(new Float32Array(0), 0)).toHaveLength(0);
    await expect(m.predict(new Float32Array(3), 1)).rejects.toBeInstanceOf(ModelInputError);
    await m.close();
  });

  it('refuses a card whose feature list differs from the pipeline\'s, in names or order', async () => {
    const swapped = [FEATURE_NAMES[1], FEATURE_NAMES[0], ...FEATURE_NAMES.slice(2)];
    const e = await refusal(copyWith('order', (c) => (c.features = swapped)));
    expect(e).toMatchObject({ field: 'features', retriable: false, expected: JSON.stringify(FEATURE_NAMES), actual: JSON.stringify(swapped) });
    expect((await refusal(SHIPPED, [...FEATURE_NAMES, 'extra'])).field).toBe('features');
  });

  it('refuses a card of another feature set, even with the same feature names', async () => {
    const e = await refusal(copyWith('fset', (c) => (c.featureSet = 'fs0')));
    expect(e).toMatchObject({ field: 'featureSet', expected: FEATURE_SET, actual: 'fs0', retriable: false });
    const m = await loadModel(copyWith('fset2', (c) => (c.featureSet = 'fs2')), { member: 'xgb', expectedFeatures: FEATURE_NAMES, expectedFeatureSet: 'fs2' });
    expect(m.card.featureSet).toBe('fs2');
    await m.close();
    await expect(loadDefaultEnsemble(join(tmp, 'fset'), { expectedFeatures: FEATURE_NAMES })).rejects.toMatchObject({ field: 'featureSet' });
  });

  it('refuses a model file whose sha256 differs from the card', async () => {
    const dir = copyWith('sha', (c) => ((c.onnx as { sha256: string }).sha256 = 'a'.repeat(64)));
    const e = await refusal(dir);
    expect(e.field).toBe('onnx.sha256');
    expect(e.expected).toBe('a'.repeat(64));
    expect(e.actual).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a tampered model file', async () => {
    const dir = copyWith('tampered');
    const f = join(dir, 'model.onnx');
    const bytes = readFileSync(f);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    writeFileSync(f, bytes);
    expect((await refusal(dir)).field).toBe('onnx.sha256');
  });

  it('refuses other classes, another member, a version that is not its folder, a window model', async () => {
    expect((await refusal(copyWith('classes', (c) => (c.classes = ['UP', 'FLAT', 'DOWN'])))).field).toBe('classes');
    expect((await refusal(copyWith('member', (c) => (c.member = 'lgbm'))))).toMatchObject({ field: 'member', expected: 'xgb', actual: 'lgbm' });
    expect((await refusal(copyWith('version', (c) => (c.version = 'v0'))))).toMatchObject({ field: 'version', expected: 'v1', actual: 'v0' });
    expect((await refusal(copyWith('window', (c) => ((c.input as { kind: string }).kind = 'window')))).field).toBe('input.kind');
  });

  it('refuses a card whose input name or width is not the graph\'s', async () => {
    expect((await refusal(copyWith('inname', (c) => ((c.input as { name: string }).name = 'x'))))).toMatchObject({ field: 'input.name' });
    const fewer = FEATURE_NAMES.slice(0, 9);
    const e = await refusal(copyWith('width', (c) => (c.features = fewer)), fewer);
    expect(e).toMatchObject({ field: 'input.shape', expected: 'float32 [N, 9]', actual: 'float32 [N, 10]' });
  });

  it('refuses an invalid or missing card', async () => {
    const dir = copyWith('invalid', (c) => delete c.metrics);
    await expect(loadModel(dir, { expectedFeatures: FEATURE_NAMES })).rejects.toBeInstanceOf(ModelCardInvalidError);
    await expect(loadModel(join(tmp, 'nowhere'), { expectedFeatures: FEATURE_NAMES })).rejects.toBeInstanceOf(ModelCardInvalidError);
  });
});

describe('loadDefaultEnsemble', () => {
  it('loads the latest version of each member as champion (v10 after v9)', async () => {
    copyWith('store', () => undefined, 'v9');
    copyWith('store', (c) => (c.version = 'v10'), 'v10');
    expect(latestVersions(join(tmp, 'store')).map((v) => v.dir)).toEqual([join(tmp, 'store', 'xgb', 'v10')]);
    const models = await loadDefaultEnsemble(join(tmp, 'store'), { expectedFeatures: FEATURE_NAMES });
    expect(models.map((m) => [m.member, m.version, m.role])).toEqual([['xgb', 'v10', 'CHAMPION']]);
    for (const m of models) await m.close();
  });

  it('loads the shipped store', async () => {
    const models = await loadDefaultEnsemble(join(import.meta.dirname, 'store'), { expectedFeatures: FEATURE_NAMES });
    expect(models.map((m) => m.member)).toEqual(['xgb']);
    for (const m of models) await m.close();
  });

  it('refuses a missing store, and a member folder without a version', async () => {
    await expect(loadDefaultEnsemble(join(tmp, 'absent'), { expectedFeatures: FEATURE_NAMES })).rejects.toBeInstanceOf(ModelStoreError);
    mkdirSync(join(tmp, 'empty', 'xgb'), { recursive: true });
    await expect(loadDefaultEnsemble(join(tmp, 'empty'), { expectedFeatures: FEATURE_NAMES })).rejects.toMatchObject({ reason: 'NO_VERSION' });
  });

  it('refuses the whole ensemble when one member is refused', async () => {
    copyWith('mixed', (c) => (c.features = ['a']));
    await expect(loadDefaultEnsemble(join(tmp, 'mixed'), { expectedFeatures: FEATURE_NAMES })).rejects.toBeInstanceOf(ModelCardMismatchError);
  });
});
