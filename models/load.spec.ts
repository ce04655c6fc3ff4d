import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import { ModelCardInvalidError, ModelCardMismatchError, ModelInputError, ModelStoreError } from './errors.ts';
import { latestVersions, loadDefaultEnsemble, loadModel } from './load.ts';

const STORE = join(import.meta.dirname, 'store');
const SHIPPED = join(STORE, 'xgb', 'v1');
const tmp = mkdtempSync(join(tmpdir(), 'qt-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a shipped model (default xgb/v1) under <tmp>/<name>/<member>/<version>, with its card changed by `edit`. */
function copyWith(name: string, edit: (card: Record<string, unknown>) => void = () => undefined, version = 'v1', member = 'xgb'): string {
  const dir = join(tmp, name, member, version);
  mkdirSync(dir, { recursive: true });
  cpSync(join(STORE, member, 'v1'), dir, { recursive: true });
  const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as Record<string, unknown>;
  edit(card);
  writeFileSync(join(dir, 'card.json'), JSON.stringify(card));
  return dir;
}

async function refusal(dir: string, expectedFeatures: readonly string[] = FEATURE_NAMES, member = 'xgb'): Promise<ModelCardMismatchError> {
  try {
    const m = await loadModel(dir, { member, expectedFeatures });
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
    // a features model whose card claims the window: its columns are not the window's channels
    expect((await refusal(copyWith('window', (c) => ((c.input as { kind: string }).kind = 'window'))))).toMatchObject({ field: 'features', expected: JSON.stringify(WINDOW_CHANNELS) });
    // ... and with the window's channels, its graph is not [N, L, C]
    const claim = (c: Record<string, unknown>): void => {
      c.features = [...WINDOW_CHANNELS];
      c.input = { name: 'features', kind: 'window', windowLength: WINDOW_LENGTH, windowChannels: WINDOW_CHANNELS.length };
    };
    expect((await refusal(copyWith('window2', claim), FEATURE_NAMES))).toMatchObject({ field: 'input.shape', expected: `float32 [N, ${WINDOW_LENGTH}, ${WINDOW_CHANNELS.length}]`, actual: 'float32 [N, 10]' });
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

describe('loadModel: window models', () => {
  for (const member of ['nhits', 'patchtst']) {
    it(`${member}: loads the shipped model, whose card names the window's channels and length`, async () => {
      const m = await loadModel(join(STORE, member, 'v1'), { member, expectedFeatures: FEATURE_NAMES });
      expect(m.card.input).toEqual({ name: 'window', kind: 'window', windowLength: WINDOW_LENGTH, windowChannels: WINDOW_CHANNELS.length });
      expect(m.card.features).toEqual([...WINDOW_CHANNELS]);
      const width = WINDOW_LENGTH * WINDOW_CHANNELS.length;
      expect(await m.predict(new Float32Array(0), 0)).toHaveLength(0);
      const p = await m.predict(new Float32Array(2 * width), 2);
      expect(p).toHaveLength(6);
      expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 5);
      // a feature row is not a window
      await expect(m.predict(new Float32Array(FEATURE_NAMES.length), 1)).rejects.toBeInstanceOf(ModelInputError);
      await m.close();
    });
  }

  it('refuses a window model whose card disagrees with WINDOW_CHANNELS or WINDOW_LENGTH', async () => {
    const copy = (name: string, edit: (c: Record<string, unknown>) => void): string => copyWith(name, edit, 'v1', 'nhits');
    const input = (c: Record<string, unknown>): { windowLength: number; windowChannels: number } => c.input as { windowLength: number; windowChannels: number };
    const swapped = [WINDOW_CHANNELS[1], WINDOW_CHANNELS[0], ...WINDOW_CHANNELS.slice(2)];
    expect(await refusal(copy('w-order', (c) => (c.features = swapped)), FEATURE_NAMES, 'nhits')).toMatchObject({
      field: 'features',
      expected: JSON.stringify(WINDOW_CHANNELS),
      actual: JSON.stringify(swapped),
      retriable: false,
    });
    expect(await refusal(copy('w-length', (c) => (input(c).windowLength = 16)), FEATURE_NAMES, 'nhits')).toMatchObject({
      field: 'input.windowLength',
      expected: String(WINDOW_LENGTH),
      actual: '16',
    });
    expect(await refusal(copy('w-count', (c) => (input(c).windowChannels = 4)), FEATURE_NAMES, 'nhits')).toMatchObject({ field: 'input.windowChannels' });
    // the pipeline's window is another one: the shipped card does not match it
    const other = { channels: WINDOW_CHANNELS, length: 64 };
    await expect(loadModel(join(STORE, 'nhits', 'v1'), { member: 'nhits', expectedFeatures: FEATURE_NAMES, expectedWindow: other })).rejects.toMatchObject({
      name: 'ModelCardMismatchError',
      field: 'input.windowLength',
      expected: '64',
      actual: String(WINDOW_LENGTH),
    });
  });

  it('refuses a window card whose length matches the pipeline but not the graph', async () => {
    const other = { channels: WINDOW_CHANNELS, length: 16 };
    const dir = copyWith('w-graph', (c) => ((c.input as { windowLength: number }).windowLength = 16), 'v1', 'patchtst');
    await expect(loadModel(dir, { member: 'patchtst', expectedFeatures: FEATURE_NAMES, expectedWindow: other })).rejects.toMatchObject({
      field: 'input.shape',
      expected: `float32 [N, 16, ${WINDOW_CHANNELS.length}]`,
      actual: `float32 [N, ${WINDOW_LENGTH}, ${WINDOW_CHANNELS.length}]`,
    });
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

  it('loads the shipped store: four members, all champions, each with its input kind', async () => {
    const models = await loadDefaultEnsemble(STORE, { expectedFeatures: FEATURE_NAMES });
    expect(models.map((m) => [m.member, m.role, m.card.input.kind])).toEqual([
      ['lgbm', 'CHAMPION', 'features'],
      ['nhits', 'CHAMPION', 'window'],
      ['patchtst', 'CHAMPION', 'window'],
      ['xgb', 'CHAMPION', 'features'],
    ]);
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
