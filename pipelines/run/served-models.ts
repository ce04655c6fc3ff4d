import type { ClassifierModel } from '../../models/model-port.ts';
import { Registry } from '../../models/registry/registry.ts';
import { applyRegistryEvent, type Roster } from '../../models/registry/roster.ts';
import { ModelPool, servedKey, servedSet, type ServedModel } from '../../models/registry/serving.ts';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import type { Config } from '../config.ts';
import type { ModelSwap } from '../ensemble/epic.ts';

/** The models a process serves from the registry, and how it follows the registry's changes. */
export interface ServedModels {
  readonly registry: Registry;
  /** The models served at start (champions and shadows), in vote order. */
  readonly models: readonly ClassifierModel[];
  /** For the ensemble epic: a registry event in, the new served models out (null when nothing changed). */
  readonly swap: ModelSwap;
  /** Closes every loaded model. */
  close(): Promise<void>;
}

const describe = (served: readonly ServedModel[]): string => served.map((s) => `${servedKey(s)}:${s.role}`).join(',');

/**
 * Opens the registry (bootstrapping it from the shipped store on first use) and loads its served set. The swap folds
 * each model.registry.v1 event into the roster; when the served set changes it loads what is new (reusing loaded
 * sessions) and hands the new set over; a version that cannot be loaded (a card that does not match the pipeline's
 * features, a missing file) is refused: the stage keeps serving what it served, and `warn` says why.
 * `wrap` decorates every model handed to the stage (the replay's inflight tracker).
 */
export async function openServedModels(
  config: Config,
  opts: {
    readonly now: () => number;
    readonly wrap?: (m: ClassifierModel) => ClassifierModel;
    readonly warn: (message: string) => void;
  },
): Promise<ServedModels> {
  const registryDir = config.ensemble.registryDir;
  const registry = await Registry.open(registryDir, { modelsDir: config.ensemble.modelsDir, now: opts.now, onWarning: opts.warn });
  const pool = new ModelPool({ expectedFeatures: FEATURE_NAMES });
  const wrap = opts.wrap ?? ((m: ClassifierModel) => m);
  let roster: Roster = registry.roster();
  let served = servedSet(roster, registryDir);
  const models = (await pool.sync(served)).map(wrap);
  const swap: ModelSwap = {
    async apply(event: RegistryEvent) {
      roster = applyRegistryEvent(roster, event);
      const next = servedSet(roster, registryDir);
      if (describe(next) === describe(served)) return null;
      try {
        const loaded = await pool.sync(next);
        served = next;
        return loaded.map(wrap);
      } catch (e) {
        opts.warn(`registry seq ${event.seq} (${event.action} ${event.member} ${event.version}) not served: ${(e as Error).message}; still serving ${describe(served)}`);
        return null;
      }
    },
    async release() {
      await pool.release();
    },
  };
  return { registry, models, swap, close: () => pool.close() };
}
