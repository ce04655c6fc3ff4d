import { from, merge, type Observable, type SchedulerLike } from 'rxjs';
import { concatMap, map } from 'rxjs/operators';
import type { ClassifierModel } from '../../models/model-port.ts';
import { microBatch } from '../../operators/ensemble/micro-batch.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { defineCounter, METRICS } from '../../schemas/metrics.ts';
import type { Outgoing } from '../../schemas/ports.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { EnsembleDesk, type EnsembleDeskDeps } from './desk.ts';

export { EnsembleConfigError, VECTOR_REJECTIONS, type VectorRejection } from './inputs.ts';

/**
 * How the ensemble stage follows the model registry: given a registry event, the models to serve from now on (loading
 * what is new), or null when the served set did not change; `release` closes the models no longer served, after the
 * swap. The run wires the registry's ModelPool behind it.
 */
export interface ModelSwap {
  apply(event: RegistryEvent): Promise<readonly ClassifierModel[] | null>;
  release(): Promise<void>;
}

/** Ports and settings of the ensemble stage. */
export interface EnsembleDeps extends EnsembleDeskDeps {
  /** Stamps tsInit; runs the maxWaitMs timer. */
  readonly scheduler: SchedulerLike;
  /** Flush a micro-batch this long after its first vector even if no later vector came (live use). */
  readonly maxWaitMs?: number;
  /** Follows registry changes (required when the `registry` input is given). */
  readonly swap?: ModelSwap;
}

/**
 * The ensemble's scoring of one micro-batch, without RxJS: the EnsembleDesk's `score` (see there). Loops without RxJS
 * (the chain benchmark's plain loop) call it directly.
 */
export function createEnsembleScorer(deps: EnsembleDeskDeps): (batch: readonly FeatureVector[], tsInit: number) => Promise<Outgoing[]> {
  const desk = new EnsembleDesk(deps);
  return (batch, tsInit) => desk.score(batch, tsInit);
}

/**
 * Ensemble: feature vectors in; per vector one model.votes.v1 per served model, one ens.signals.v1 from the champions'
 * soft vote (weights from the governance, verdict from the supervisor, regime from the detector), and the
 * model.scores.v1 of the votes this bar's close resolves; ens.supervisor.v1 when a check is raised or cleared. Vectors
 * whose bars closed together are micro-batched so each model runs once per batch; batches and registry changes are
 * processed one after another (concatMap), so a promotion or rollback takes effect between two batches - no bar is
 * lost or scored twice - and a replay gives the same messages. tsInit is the scheduler's time when the batch formed.
 * A vector the models cannot take becomes a dead letter on feat.vectors.v1.dlq.
 */
export function ensembleEpic(
  inputs: { readonly vectors: Observable<FeatureVector>; readonly registry?: Observable<RegistryEvent> },
  deps: EnsembleDeps,
): Observable<Outgoing> {
  const { scheduler } = deps;
  const desk = new EnsembleDesk(deps);
  const changes = defineCounter(deps.meter, METRICS.registryChanges);
  type Item = { readonly kind: 'batch'; readonly batch: readonly FeatureVector[]; readonly tsInit: number } | { readonly kind: 'registry'; readonly event: RegistryEvent };
  const batches$ = inputs.vectors.pipe(
    microBatch<FeatureVector>({ maxWaitMs: deps.maxWaitMs, scheduler }),
    map((batch): Item => ({ kind: 'batch', batch, tsInit: scheduler.now() })),
  );
  const registry$ = (inputs.registry ?? from([])).pipe(map((event): Item => ({ kind: 'registry', event })));
  return merge(registry$, batches$).pipe(
    concatMap((item) => from(handle(item))),
    concatMap((outs) => outs),
  );

  async function handle(item: Item): Promise<readonly Outgoing[]> {
    if (item.kind === 'batch') return desk.score(item.batch, item.tsInit);
    if (!deps.swap) throw new Error('ensembleEpic: a registry input needs deps.swap');
    const models = await deps.swap.apply(item.event);
    if (models) {
      desk.setModels(models);
      changes.inc({ member: item.event.member, action: item.event.action });
      await deps.swap.release();
    }
    return [];
  }
}
