import type { ClassifierModel } from '../../models/model-port.ts';
import { Registry } from '../../models/registry/registry.ts';
import { ModelPool, servedSet } from '../../models/registry/serving.ts';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import type { Config } from '../config.ts';

/**
 * The models `qt evaluate` scores: what the registry serves now (config.ensemble.registryDir, bootstrapped from the
 * shipped store on first use): the champions, which form the ensemble, and the shadows, scored as members of their own.
 * The caller closes them.
 */
export async function loadEvaluatedModels(config: Config): Promise<ClassifierModel[]> {
  const registry = await Registry.open(config.ensemble.registryDir, { modelsDir: config.ensemble.modelsDir, now: () => Date.now() });
  const pool = new ModelPool({ expectedFeatures: FEATURE_NAMES });
  return pool.sync(servedSet(registry.roster(), config.ensemble.registryDir));
}
