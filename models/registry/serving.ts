import type { ModelRole } from '../../schemas/model-vote.ts';
import { loadModel, type LoadOptions } from '../load.ts';
import type { ClassifierModel } from '../model-port.ts';
import { resolveArtifactDir } from './paths.ts';
import type { Roster } from './roster.ts';

/** One model the ensemble serves: a member's version in a role, and its artifact folder (absolute). */
export interface ServedModel {
  readonly member: string;
  readonly version: string;
  readonly role: ModelRole;
  readonly dir: string;
}

/**
 * What the roster serves: for each member by name, its champion as CHAMPION, then its shadows (oldest first) as
 * SHADOW. A member without a champion serves its shadows only. Folders are resolved against the registry root.
 */
export function servedSet(roster: Roster, registryDir: string): ServedModel[] {
  const out: ServedModel[] = [];
  for (const name of Object.keys(roster.members).sort()) {
    const m = roster.members[name]!;
    const at = (version: string, role: ModelRole): ServedModel => {
      const stored = m.versions[version];
      if (stored === undefined) throw new Error(`registry roster: ${name} serves ${version}, which was never registered`);
      return { member: name, version, role, dir: resolveArtifactDir(registryDir, stored) };
    };
    if (m.champion !== null) out.push(at(m.champion, 'CHAMPION'));
    for (const s of m.shadows) out.push(at(s, 'SHADOW'));
  }
  return out;
}

/** The key of a loaded model in a pool. */
export function servedKey(m: Pick<ServedModel, 'member' | 'version'>): string {
  return `${m.member}@${m.version}`;
}

/**
 * A model seen in another role: predictions from the same session, so a shadow promoted to champion (or back) is not
 * reloaded. Its close() does nothing: the session belongs to whoever loaded it (the ModelPool).
 */
export function roleView(model: ClassifierModel, role: ModelRole): ClassifierModel {
  return {
    member: model.member,
    version: model.version,
    role,
    card: model.card,
    predict: (batch, rows) => model.predict(batch, rows),
    close: async () => undefined,
  };
}

/** Loads a model folder as LoadOptions say (loadModel; a fake in tests). */
export type ModelLoader = (dir: string, opts: LoadOptions) => Promise<ClassifierModel>;

/** What a ModelPool checks every model against, and how it loads them. */
export interface ModelPoolOptions extends Pick<LoadOptions, 'expectedFeatures' | 'expectedFeatureSet' | 'expectedWindow'> {
  /** Default loadModel. */
  readonly load?: ModelLoader;
}

/**
 * Loaded models by member@version, for a hot swap between micro-batches: sync() loads only what the served set adds and
 * returns the models to serve; after the caller has swapped them in, release() closes the ones no longer served. Calls
 * run one at a time.
 */
export class ModelPool {
  private readonly loaded = new Map<string, ClassifierModel>();
  private readonly views = new Map<string, ClassifierModel>();
  /** Keys of the last served set that loaded completely. */
  private serving = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly load: ModelLoader;

  constructor(private readonly opts: ModelPoolOptions) {
    this.load = opts.load ?? loadModel;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** member@version of every loaded model. */
  keys(): string[] {
    return [...this.loaded.keys()];
  }

  /**
   * The models of a served set, in its order and with its roles, loading (with the member expected) only those not yet
   * loaded; a role change reuses the loaded session through a roleView. Rejects with the loader's error when a model
   * cannot be loaded: the set served before stays the one release() keeps.
   */
  sync(served: readonly ServedModel[]): Promise<ClassifierModel[]> {
    return this.serial(async () => {
      const { expectedFeatures, expectedFeatureSet, expectedWindow } = this.opts;
      for (const s of served) {
        const key = servedKey(s);
        if (this.loaded.has(key)) continue;
        const model = await this.load(s.dir, { member: s.member, role: s.role, expectedFeatures, expectedFeatureSet, expectedWindow });
        if (model.member !== s.member || model.version !== s.version) {
          await model.close();
          throw new Error(`model ${s.dir}: loaded ${servedKey(model)}, the registry serves ${key} from it`);
        }
        this.loaded.set(key, model);
      }
      const models = served.map((s) => {
        const key = `${servedKey(s)}:${s.role}`;
        let view = this.views.get(key);
        if (!view) this.views.set(key, (view = roleView(this.loaded.get(servedKey(s))!, s.role)));
        return view;
      });
      this.serving = new Set(served.map(servedKey));
      return models;
    });
  }

  /** Closes the loaded models the last sync() does not serve; returns their member@version. */
  release(): Promise<string[]> {
    return this.serial(async () => {
      const gone = [...this.loaded.keys()].filter((k) => !this.serving.has(k));
      for (const k of gone) await this.drop(k);
      return gone;
    });
  }

  /** Closes every model. */
  close(): Promise<void> {
    return this.serial(async () => {
      for (const k of [...this.loaded.keys()]) await this.drop(k);
      this.serving = new Set();
    });
  }

  private async drop(key: string): Promise<void> {
    const m = this.loaded.get(key);
    this.loaded.delete(key);
    for (const v of [...this.views.keys()]) if (v.startsWith(`${key}:`)) this.views.delete(v);
    await m?.close();
  }
}
