import { Subject, type Subscription } from 'rxjs';
import type { ClassifierModel } from '../../models/model-port.ts';
import type { Bar } from '../../schemas/bar.ts';
import { METRICS, defineCounter, defineGauge } from '../../schemas/metrics.ts';
import type { Journal } from '../../schemas/ports.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import { DATA_TOPICS, dlqOf, type DataTopic, type TopicName } from '../../schemas/topics.ts';
import type { Trade } from '../../schemas/trade.ts';
import { openJournal } from '../../sinks/journal/open.ts';
import { PromMeter, startMetricsServer, type MetricsServer } from '../../sinks/prometheus.ts';
import { KafkaBus, type KafkaConsumerTuning } from '../../sources/kafka/kafka-bus.ts';
import { schemaIdsFor } from '../../sources/kafka/schema-registry.ts';
import { ConfigError, type Config } from '../config.ts';
import { startJournalStage, type JournalStage } from '../journal/stage.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { wireIngestStage } from '../run/chain.ts';
import { openMarket } from '../run/market.ts';
import { startRegistryFeed } from '../run/registry-feed.ts';
import { replayMarket } from '../run/replay.ts';
import { openServedModels, type ServedModels } from '../run/served-models.ts';
import { InflightTracker, type StageDeps } from '../run/stage-wiring.ts';
import { stageOf, type StageName } from '../stages.ts';
import { startSteppedStage, type SteppedStageHandle } from './stepped-stage.ts';
import { replicaProblem, SOLE_REPLICA, type Replica } from './parts.ts';
import { StepPublisher } from './step-publisher.ts';
import { isStepped, type SteppedStage } from './steps.ts';

/** A stage `qt pipeline` cannot run as a process of its own yet. */
export class StageNotRunnableError extends Error {
  override readonly name = 'StageNotRunnableError';
  readonly retriable = false;
  constructor(readonly stage: string, reason: string) {
    super(`qt pipeline ${stage}: ${reason}`);
  }
}

/** The drain after SIGTERM did not finish within its deadline. */
export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
  readonly retriable = true;
  constructor(readonly deadlineMs: number) {
    super(`drain did not finish within ${deadlineMs} ms`);
  }
}

/** How one stage process runs. */
export interface StageProcessOptions {
  readonly stage: StageName;
  /** Port of /metrics, /livez, /readyz (0 = any free port); the caller defaults it to the stage's metricsPort. */
  readonly metricsPort: number;
  /** After the stop signal, drain, commit and leave the group within this long, or give up (exit code 1). */
  readonly drainDeadlineMs: number;
  /** The journal flushes and commits its offsets this often (wall time). */
  readonly commitEveryMs: number;
  readonly stderr: NodeJS.WritableStream;
  /** Aborting starts the drain (SIGTERM, SIGINT). */
  readonly signal: AbortSignal;
  /** Called once the stage is ready (group joined, schemas resolved), with the metrics server's URL. */
  readonly onReady?: (metricsUrl: string) => void;
  /** Consumer tuning of the Kafka bus (tests on the mock cluster shorten it). */
  readonly consumer?: KafkaConsumerTuning;
  /** Backpressure of a chain stage: records held before the partitions running ahead are paused. */
  readonly maxBufferedRecords?: number;
  /** Which replica of a split stage (features, exits) this process is; default the only one. */
  readonly replica?: Replica;
  /** DELIBERATELY BROKEN journal that commits before it writes: only for the crash test to prove it catches one. */
  readonly brokenCommitBeforeWrite?: boolean;
}

/**
 * Runs one stage as its own process over Kafka (`qt pipeline <stage>`), serving /metrics, /livez and /readyz (ready
 * once its consumer group is joined and its schemas resolved).
 *
 * - ingest replays the configured market (the same driver as `qt run`) under the step protocol and exits 0 at its end.
 * - The chain's stages (features … exits) run under the step protocol exactly as in `qt run` (startSteppedStage). They
 *   commit no offsets: their state is a deterministic function of their inputs, so a restarted stage reads its retained
 *   inputs from the start, rebuilds its state and publishes its steps again (same ids, same step tags), and the
 *   consumers drop what they already have. A step's mark, published after its outputs are acknowledged, is its
 *   progress. The ensemble process also publishes the registry directory's log on model.registry.v1.
 * - The journal commits its offsets after each flush.
 *
 * Resolves with the exit code: 0 after a drain on the signal (or at the end of ingest's market), 1 on any failure
 * (crash-only) or when the drain outlasts its deadline.
 */
export async function runStage(config: Config, opts: StageProcessOptions): Promise<number> {
  const spec = stageOf(opts.stage);
  if (config.kafka.bootstrap.length === 0) throw new ConfigError(['qt pipeline needs Kafka: set kafka.bootstrap (--bootstrap host:port or QT_KAFKA_BOOTSTRAP)']);
  if (spec.name === 'learning') throw new StageNotRunnableError(spec.name, 'continuous learning runs inside qt run only (--learning); not as a process yet');
  const replica = opts.replica ?? SOLE_REPLICA;
  const problem = replicaProblem(spec.name, replica);
  if (problem) throw new ConfigError([`--replica: ${problem}`]);
  const group = spec.group;
  const closers: (() => Promise<unknown>)[] = [];
  let failure: unknown;
  let wake: () => void = () => undefined;
  const fail = (e: unknown): void => {
    failure ??= e;
    wake();
  };
  let ended = false;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const name = replica.count === 1 ? spec.name : `${spec.name} ${replica.index}/${replica.count}`;
  const log = (m: string): void => void opts.stderr.write(`qt pipeline ${name}: ${m}\n`);

  const meter = new PromMeter();
  const bus = new KafkaBus({
    brokers: config.kafka.bootstrap,
    clientId: `${config.kafka.clientId}.${spec.name}${replica.count === 1 ? '' : `.${replica.index}`}`,
    schemaIds: schemaIdsFor(config.kafka.schemaRegistryUrl),
    ...(opts.consumer ? { consumer: opts.consumer } : {}),
  });
  closers.push(() => bus.close());
  let ready = false;
  let server: MetricsServer | undefined;
  let journalStage: JournalStage | undefined;
  let stepped: SteppedStageHandle | undefined;
  let replay: Promise<boolean> | undefined;
  const subs: Subscription[] = [];

  try {
    server = await startMetricsServer({ host: config.metrics.host, port: opts.metricsPort, meter, ready: () => ready && failure === undefined });
    closers.push(() => server!.close());
    log(`metrics on ${server.url}/metrics`);
    await bus.connect();

    let startReplay: (() => Promise<boolean>) | undefined;
    if (spec.name === 'journal') {
      const journal: Journal = await openJournal(config.journal, { meter });
      closers.push(() => journal.close());
      const topics: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map((t: DataTopic) => dlqOf(t))];
      if (opts.brokenCommitBeforeWrite) log('DELIBERATELY BROKEN: commits offsets before the write (crash test only)');
      journalStage = startJournalStage(bus, journal, { group, topics, flushEveryRows: config.journal.batchRows, onError: fail, brokenCommitBeforeWrite: opts.brokenCommitBeforeWrite });
      const timer = setInterval(() => void journalStage!.flush().catch(fail), opts.commitEveryMs);
      closers.push(async () => clearInterval(timer));
    } else if (spec.name === 'ingest') {
      const market = await openMarket(config);
      const scheduler = new ReplayScheduler(market.fromMs);
      const publisher = new StepPublisher(bus, 'ingest');
      const trades = new Subject<SourceRecord<Trade>>();
      const bars = new Subject<SourceRecord<Bar>>();
      const msgOut = defineCounter(meter, METRICS.messagesOut);
      const stepTime = defineGauge(meter, METRICS.stepTime);
      subs.push(
        wireIngestStage({ scheduler, config, instruments: market.instruments }, { trades, bars }).subscribe({
          next: (o) => {
            msgOut.inc({ stage: 'ingest', topic: o.topic });
            publisher.publish(o).catch(fail);
          },
          error: fail,
        }),
      );
      const wallStart = Date.now(); // arch-allow: pacing of the replay is wall time
      let steps = 0;
      startReplay = () =>
        replayMarket(market, {
          scheduler,
          publisher,
          trades,
          bars,
          signal: opts.signal,
          check: () => {
            if (failure !== undefined) throw failure;
          },
          afterMark: async (step, _last, marked) => {
            steps += 1;
            marked.then(() => stepTime.set({ stage: 'ingest' }, step / 1000), fail);
            if (config.run.speed === 'max') return;
            const waitMs = (step - market.fromMs) / config.run.speed - (Date.now() - wallStart); // arch-allow: pacing
            if (waitMs > 2) await new Promise<void>((r) => setTimeout(r, waitMs));
          },
        }).then((interrupted) => {
          log(`${interrupted ? 'interrupted after' : 'market replayed:'} ${steps} steps`);
          return interrupted;
        });
    } else if (isStepped(spec.name)) {
      const stage = spec.name as Exclude<SteppedStage, 'ingest'>;
      const inflight = new InflightTracker();
      let models: readonly ClassifierModel[] = [];
      let swap: StageDeps['swap'];
      if (stage === 'ensemble') {
        const served: ServedModels = await openServedModels(config, {
          now: () => Date.now(), // arch-allow: registry change times are wall-clock facts, not market time
          wrap: (m) => inflight.wrap(m),
          warn: (message) => log(`registry: ${message}`),
        });
        closers.push(() => served.close());
        models = served.models;
        swap = { apply: (e) => inflight.track(served.swap.apply(e)), release: () => served.swap.release() };
        const feed = startRegistryFeed(bus, config.ensemble.registryDir, { pollMs: config.ensemble.registryPollMs, onError: fail });
        closers.push(async () => feed.stop());
        await feed.published;
      }
      stepped = startSteppedStage(stage, bus, { meter, models, config, swap, inflight, steps: new InflightTracker(), fail, replica, warn: log, log, maxBufferedRecords: opts.maxBufferedRecords });
    } else {
      throw new StageNotRunnableError(spec.name, 'no runner');
    }

    await Promise.race([bus.ready(), stopped]);
    if (failure === undefined && !opts.signal.aborted) {
      ready = true;
      log('ready');
      opts.onReady?.(server.url);
    }
    if (startReplay) {
      replay = startReplay();
      replay.then(() => {
        ended = true;
        wake();
      }, fail);
    }
    await stopped;
    if (failure !== undefined) throw failure;

    // Drain: stop taking records, finish the step in progress (its outputs and mark acknowledged), flush, leave.
    ready = false;
    log(ended ? 'done' : 'draining');
    let deadline: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new DrainTimeoutError(opts.drainDeadlineMs)), opts.drainDeadlineMs);
    });
    try {
      await Promise.race([
        overdue,
        (async () => {
          if (replay) await replay;
          if (stepped) {
            stepped.stop();
            await stepped.idle();
            stepped.close();
          }
          if (journalStage) {
            await journalStage.flush();
            journalStage.stop();
          }
          if (failure !== undefined) throw failure;
          for (const sub of subs) sub.unsubscribe();
          for (const close of closers.splice(0).reverse()) await close();
        })(),
      ]);
    } finally {
      clearTimeout(deadline);
    }
    log('stopped');
    return 0;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    log(`${err.name}: ${err.message}`);
    // Crash-only: nothing more is committed; the group notices the member gone when the process exits.
    return 1;
  }
}
