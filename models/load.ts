import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import type { ModelRole } from '../schemas/model-vote.ts';
import { CLASSES, parseCard, type ModelCard } from './card.ts';
import { ModelCardInvalidError, ModelCardMismatchError, ModelStoreError } from './errors.ts';
import type { ClassifierModel } from './model-port.ts';
import { OnnxClassifierModel } from './onnx-model.ts';

/** What the pipeline expects of a model it loads. */
export interface LoadOptions {
  /** The member the model must be (defaults to the card's). */
  readonly member?: string;
  /** CHAMPION (default) or SHADOW. */
  readonly role?: ModelRole;
  /** The feature names the pipeline computes, in order (FEATURE_NAMES). */
  readonly expectedFeatures: readonly string[];
  /** The feature set the pipeline's vectors carry (default FEATURE_SET); the ensemble dead-letters any other. */
  readonly expectedFeatureSet?: string;
  /** The window the pipeline's vectors carry, for window models (default WINDOW_CHANNELS, WINDOW_LENGTH). */
  readonly expectedWindow?: { readonly channels: readonly string[]; readonly length: number };
}

function mismatch(dir: string, field: string, expected: unknown, actual: unknown): ModelCardMismatchError {
  const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  return new ModelCardMismatchError(dir, field, show(expected), show(actual));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Reads and validates `<dir>/card.json`. */
export function readCard(dir: string): ModelCard {
  const file = join(dir, 'card.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelCardInvalidError(file, [`cannot read: ${(e as Error).message}`]);
  }
  return parseCard(text, file);
}

/** Checks a card against what the pipeline serves; throws ModelCardMismatchError on the first disagreement. */
export function checkCard(dir: string, card: ModelCard, opts: LoadOptions): void {
  const version = basename(resolve(dir));
  if (opts.member !== undefined && card.member !== opts.member) throw mismatch(dir, 'member', opts.member, card.member);
  if (card.version !== version) throw mismatch(dir, 'version', version, card.version);
  const featureSet = opts.expectedFeatureSet ?? FEATURE_SET;
  if (card.featureSet !== featureSet) throw mismatch(dir, 'featureSet', featureSet, card.featureSet);
  if (card.input.kind === 'window') {
    // A window model reads FeatureVector.window: its columns are the window's channels, in order, over L bars.
    const window = opts.expectedWindow ?? { channels: WINDOW_CHANNELS, length: WINDOW_LENGTH };
    if (!sameList(card.features, window.channels)) throw mismatch(dir, 'features', window.channels, card.features);
    if (card.input.windowChannels !== window.channels.length) throw mismatch(dir, 'input.windowChannels', window.channels.length, card.input.windowChannels);
    if (card.input.windowLength !== window.length) throw mismatch(dir, 'input.windowLength', window.length, card.input.windowLength);
  } else if (!sameList(card.features, opts.expectedFeatures)) {
    throw mismatch(dir, 'features', opts.expectedFeatures, card.features);
  }
  if (!sameList(card.classes, CLASSES)) throw mismatch(dir, 'classes', CLASSES, card.classes);
  const bytes = readFileSync(join(dir, card.onnx.file));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== card.onnx.sha256) throw mismatch(dir, 'onnx.sha256', card.onnx.sha256, sha);
}

function checkSession(dir: string, card: ModelCard, m: OnnxClassifierModel): void {
  const input = m.session.inputMetadata.find((i) => i.name === card.input.name);
  if (!input) throw mismatch(dir, 'input.name', card.input.name, m.session.inputNames);
  const shape = input.isTensor ? input.shape : [];
  const row = card.input.kind === 'window' ? [card.input.windowLength, card.input.windowChannels] : [card.features.length];
  if (!input.isTensor || input.type !== 'float32' || shape.length !== 1 + row.length || typeof shape[0] === 'number' || row.some((d, i) => shape[i + 1] !== d)) {
    throw mismatch(dir, 'input.shape', `float32 [N, ${row.join(', ')}]`, input.isTensor ? `${input.type} [${shape.join(', ')}]` : 'not a tensor');
  }
  const output = m.session.outputMetadata.find((o) => o.name === card.outputs.probabilities);
  if (!output) throw mismatch(dir, 'outputs.probabilities', card.outputs.probabilities, m.session.outputNames);
  const oshape = output.isTensor ? output.shape : [];
  if (!output.isTensor || output.type !== 'float32' || oshape.length !== 2 || oshape[1] !== CLASSES.length) {
    throw mismatch(dir, 'outputs.shape', `float32 [N, ${CLASSES.length}]`, output.isTensor ? `${output.type} [${oshape.join(', ')}]` : 'not a tensor');
  }
}

/**
 * Loads `<dir>/model.onnx` after checking its card: member, version (the folder name), feature set, its input (kind
 * features: the feature names and order; kind window: the window's channels and order, channel count and length),
 * classes, sha256 of the file, then the graph's input ([N, F] or [N, L, C], N dynamic) and output shapes. Refuses with
 * ModelCardMismatchError or ModelCardInvalidError.
 */
export async function loadModel(dir: string, opts: LoadOptions): Promise<ClassifierModel> {
  const card = readCard(dir);
  checkCard(dir, card, opts);
  const m = await OnnxClassifierModel.open(join(dir, card.onnx.file), {
    member: card.member,
    version: card.version,
    role: opts.role ?? 'CHAMPION',
    card,
  });
  try {
    checkSession(dir, card, m);
  } catch (e) {
    await m.close();
    throw e;
  }
  return m;
}

const subdirs = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

/** The latest version folder of each member in a store `<store>/<member>/<version>/card.json`, by member name. */
export function latestVersions(storeDir: string): { member: string; dir: string }[] {
  if (!existsSync(storeDir)) throw new ModelStoreError(storeDir, 'NOT_FOUND');
  const out: { member: string; dir: string }[] = [];
  for (const member of subdirs(storeDir)) {
    const versions = subdirs(join(storeDir, member)).filter((v) => existsSync(join(storeDir, member, v, 'card.json')));
    const latest = versions.at(-1);
    if (latest === undefined) throw new ModelStoreError(join(storeDir, member), 'NO_VERSION');
    out.push({ member, dir: join(storeDir, member, latest) });
  }
  return out;
}

/**
 * Loads the latest version of every member of a model store (versions compared with numbers in them as numbers, so
 * v10 > v9), all as CHAMPION, ordered by member name: the store-only rule, without a registry. Where a registry
 * decides champions and shadows, serve servedSet(roster) through a ModelPool (models/registry/serving.ts); a new
 * registry starts from this same rule (Registry.open).
 */
export async function loadDefaultEnsemble(
  storeDir: string,
  opts: Pick<LoadOptions, 'expectedFeatures' | 'expectedFeatureSet' | 'expectedWindow'>,
): Promise<ClassifierModel[]> {
  const models: ClassifierModel[] = [];
  try {
    for (const { member, dir } of latestVersions(storeDir)) {
      models.push(await loadModel(dir, { ...opts, member, role: 'CHAMPION' }));
    }
  } catch (e) {
    for (const m of models) await m.close();
    throw e;
  }
  return models;
}
