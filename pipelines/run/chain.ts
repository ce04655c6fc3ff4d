import { Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { map } from 'rxjs/operators';
import type { ClassifierModel } from '../../models/model-port.ts';
import type { Bar } from '../../schemas/bar.ts';
import { METRICS, defineCounter } from '../../schemas/metrics.ts';
import type { Bus, Meter, Outgoing } from '../../schemas/ports.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { Config } from '../config.ts';
import type { ModelSwap } from '../ensemble/epic.ts';
import type { LearningRegistry, Trainer } from '../learning/ports.ts';
import { ingestEpic } from '../ingest/epic.ts';
import { startSteppedStage, type SteppedStageHandle } from '../pipeline/stepped-stage.ts';
import { StepPublisher } from '../pipeline/step-publisher.ts';
import { STEPPED_STAGES, type SteppedStage } from '../pipeline/steps.ts';
import { wireStage, type InflightTracker } from './stage-wiring.ts';

/** What the stages of one process need. */
export interface ChainDeps {
  readonly bus: Bus;
  readonly scheduler: SchedulerLike;
  readonly meter: Meter;
  readonly models: readonly ClassifierModel[];
  readonly config: Config;
  /** Known instruments of the market (exchange:symbol). */
  readonly instruments: ReadonlySet<string>;
  /** Receives the first error of any stage (the driver fails the run with it). */
  readonly fail: (e: unknown) => void;
  /** Follows model.registry.v1 (hot swap of the served models); without it the stage serves `models` throughout. */
  readonly swap?: ModelSwap;
  /** Continuous learning (config.learning.enabled): the trainer and the registry it registers, promotes and rolls back in. */
  readonly learning?: { readonly trainer: Trainer; readonly registry: LearningRegistry };
  /** Tracks asynchronous work (inference, model swaps, training): a step ends only once it has settled. */
  readonly inflight: InflightTracker;
  /** Tracks each stage's step processing, so the driver can wait for the chain to settle. */
  readonly steps: InflightTracker;
}

/** The wired chain: its subscriptions, its stepped stages and the ingest inputs the driver pushes source records into. */
export interface WiredChain {
  readonly subs: Subscription[];
  readonly trades: Subject<SourceRecord<Trade>>;
  readonly bars: Subject<SourceRecord<Bar>>;
  /** Ingest's publisher: the driver begins and ends each step on it. */
  readonly ingest: StepPublisher;
  /** The stages after ingest, each under the step protocol. */
  readonly stages: readonly SteppedStageHandle[];
  /** Wires ingest; call it after every other consumer (journal, summary, metrics) has subscribed. */
  wireIngest(): void;
}

/** Wires the ingest epic: source records pushed into `trades` and `bars` become validated market data. */
export function wireIngestStage(
  d: Pick<ChainDeps, 'scheduler' | 'config' | 'instruments'>,
  inputs: { readonly trades: Observable<SourceRecord<Trade>>; readonly bars: Observable<SourceRecord<Bar>> },
): Observable<Outgoing> {
  const { config } = d;
  return ingestEpic(inputs, { scheduler: d.scheduler, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, symbols: d.instruments });
}

/**
 * Wires every stage to the bus as one process runs them: each stage after ingest runs under the step protocol
 * (pipelines/pipeline/steps.ts) exactly as `qt pipeline <stage>` runs it over Kafka, so both give the same journal.
 * Learning, which is not part of the protocol, reads its topics as they come. Ingest publishes through `ingest`, whose
 * steps the driver begins and ends.
 */
export function wireChain(d: ChainDeps): WiredChain {
  const { bus, meter } = d;
  const subs: Subscription[] = [];
  const msgIn = defineCounter(meter, METRICS.messagesIn);
  const msgOut = defineCounter(meter, METRICS.messagesOut);
  const stages = STEPPED_STAGES.filter((s): s is Exclude<SteppedStage, 'ingest'> => s !== 'ingest').map((stage) =>
    startSteppedStage(stage, bus, { ...d, inflight: d.inflight, steps: d.steps, fail: d.fail }),
  );
  if (d.learning) {
    const input = <T extends TopicName>(topic: T, stage: string): Observable<Topics[T]> =>
      bus.consume(topic, `qt.${stage}`).pipe(
        map((r) => {
          msgIn.inc({ stage, topic });
          return r.value;
        }),
      );
    const wire = (stage: string, out$: Observable<Outgoing>): void => {
      subs.push(
        out$.subscribe({
          next: (o) => {
            msgOut.inc({ stage, topic: o.topic });
            bus.publish(o.topic, o.key, o.value).catch(d.fail);
          },
          error: d.fail,
        }),
      );
    };
    wireStage('learning', d, { input, wire });
  }
  const ingest = new StepPublisher(bus, 'ingest');
  const trades = new Subject<SourceRecord<Trade>>();
  const bars = new Subject<SourceRecord<Bar>>();
  return {
    subs,
    trades,
    bars,
    ingest,
    stages,
    wireIngest: () => {
      subs.push(
        wireIngestStage(d, { trades, bars }).subscribe({
          next: (o) => {
            msgOut.inc({ stage: 'ingest', topic: o.topic });
            ingest.publish(o).catch(d.fail);
          },
          error: d.fail,
        }),
      );
    },
  };
}
