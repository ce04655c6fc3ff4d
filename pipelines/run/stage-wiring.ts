/** How one stage's epic is wired to its ports: shared by `qt run` (every stage in one process) and `qt pipeline <stage>`. */
import type { Observable, SchedulerLike } from 'rxjs';
import type { ClassifierModel } from '../../models/model-port.ts';
import { breakEvenOffsetBps } from '../../operators/exits/trading-costs.ts';
import type { Meter, Outgoing } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { brainsEpic } from '../brains/epic.ts';
import type { Config } from '../config.ts';
import { ensembleEpic, type ModelSwap } from '../ensemble/epic.ts';
import { executionEpic } from '../execution/epic.ts';
import { exitsEpic } from '../exits/epic.ts';
import { featuresEpic } from '../features/epic.ts';
import { learningEpic } from '../learning/epic.ts';
import type { LearningRegistry, Trainer } from '../learning/ports.ts';
import { riskEpic } from '../risk/epic.ts';

/** Wraps models so a replay driver knows when inference is in flight (it waits for it at every bar step). */
export class InflightTracker {
  readonly pending = new Set<Promise<unknown>>();

  /** Tracks any other work the replay must wait for (a model swap, a training); returns the same promise. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  /** The model with its predictions tracked. */
  wrap(m: ClassifierModel): ClassifierModel {
    return new Proxy(m, {
      get: (target, prop, receiver) => {
        if (prop !== 'predict') return Reflect.get(target, prop, receiver) as unknown;
        return (batch: Float32Array, rows: number) => this.track(target.predict(batch, rows));
      },
    });
  }
}

/** The stages whose epic reads topics (ingest reads the market source; the journal is a sink of its own). */
export type EpicStage = 'features' | 'ensemble' | 'learning' | 'brains' | 'risk' | 'execution' | 'exits';

/** How a process connects one stage's epic to its bus: what it reads in `qt.<stage>` and what becomes of its outputs. */
export interface StagePorts {
  /** The values of a topic read in consumer group `qt.<stage>`. */
  readonly input: <T extends TopicName>(topic: T, stage: EpicStage) => Observable<Topics[T]>;
  /** Takes the stage's outputs (publishes them). */
  readonly wire: (stage: EpicStage, out$: Observable<Outgoing>) => void;
}

/** What wiring one stage needs besides its ports (ChainDeps without the bus and the process around it). */
export interface StageDeps {
  readonly scheduler: SchedulerLike;
  readonly meter: Meter;
  readonly models: readonly ClassifierModel[];
  readonly config: Config;
  /** Follows model.registry.v1 (hot swap of the served models); without it the stage serves `models` throughout. */
  readonly swap?: ModelSwap;
  /** Continuous learning (config.learning.enabled): the trainer and the registry it registers, promotes and rolls back in. */
  readonly learning?: { readonly trainer: Trainer; readonly registry: LearningRegistry };
}

/**
 * Wires one stage's epic to its ports: the one definition of each stage's inputs and dependencies, shared by `qt run`
 * (every stage in one process, wireChain) and `qt pipeline <stage>` (one stage per process over Kafka). Learning needs
 * `d.learning`; without it the call does nothing.
 */
export function wireStage(stage: EpicStage, d: StageDeps, p: StagePorts): void {
  const { scheduler, meter, config } = d;
  const { input, wire } = p;
  const deps = { scheduler };
  switch (stage) {
    case 'features':
      return wire('features', featuresEpic({ bars: input('md.bars.1m.v1', 'features') }, deps));
    case 'ensemble':
      return wire(
        'ensemble',
        ensembleEpic(
          { vectors: input('feat.vectors.v1', 'ensemble'), registry: d.swap ? input('model.registry.v1', 'ensemble') : undefined },
          { ...deps, models: d.models, meter, maxWaitMs: config.ensemble.maxWaitMs, swap: d.swap, governance: config.governance, supervisor: config.supervisor },
        ),
      );
    case 'learning': {
      if (!d.learning) return;
      const { learning } = config;
      return wire(
        'learning',
        learningEpic(
          { bars: input('md.bars.1m.v1', 'learning'), scores: input('model.scores.v1', 'learning'), registry: input('model.registry.v1', 'learning') },
          {
            scheduler,
            trainer: d.learning.trainer,
            registry: d.learning.registry,
            config: {
              members: learning.members,
              retrainEveryMs: learning.retrainEveryMs,
              windowBars: learning.windowBars,
              minOutcomes: learning.minOutcomes,
              testEveryOutcomes: learning.testEveryOutcomes,
              maxOutcomes: learning.maxOutcomes,
              alpha: learning.alpha,
              margin: learning.margin,
              watchOutcomes: learning.watchOutcomes,
            },
          },
        ),
      );
    }
    case 'brains':
      return wire('brains', brainsEpic({ signals: input('ens.signals.v1', 'brains'), equity: input('pos.equity.v1', 'brains'), positions: input('pos.positions.v1', 'brains') }, { ...deps }));
    case 'risk':
      return wire('risk', riskEpic({ decisions: input('brain.decisions.v1', 'risk'), equity: input('pos.equity.v1', 'risk'), positions: input('pos.positions.v1', 'risk'), orders: input('exec.orders.v1', 'risk') }, { ...deps, config: config.risk }));
    case 'execution':
      return wire('execution', executionEpic({ orders: input('risk.orders.v1', 'execution'), exits: input('exit.events.v1', 'execution'), bars: input('md.bars.1m.v1', 'execution') }, { ...deps, config: config.broker }));
    case 'exits':
      return wire('exits', exitsEpic({ orders: input('risk.orders.v1', 'exits'), positions: input('pos.positions.v1', 'exits'), bars: input('md.bars.1m.v1', 'exits'), orderEvents: input('exec.orders.v1', 'exits') }, { ...deps, config: { breakEvenOffsetBps: breakEvenOffsetBps(config.broker) } }));
  }
}

