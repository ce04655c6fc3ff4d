import { join } from 'node:path';
import { Observable, type Subscription } from 'rxjs';
import type { ClassifierModel } from '../../models/model-port.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import { FeatureVectorSchema, type FeatureVector } from '../../schemas/feature-vector.ts';
import { METRICS, defineCounter } from '../../schemas/metrics.ts';
import type { Journal, Outgoing } from '../../schemas/ports.ts';
import { DATA_TOPICS, dlqOf, type DataTopic, type TopicName, type Topics } from '../../schemas/topics.ts';
import { openJournal } from '../../sinks/journal/open.ts';
import { PromMeter, startMetricsServer, type MetricsServer } from '../../sinks/prometheus.ts';
import { KafkaBus, type KafkaConsumerTuning } from '../../sources/kafka/kafka-bus.ts';
import { schemaIdsFor } from '../../sources/kafka/schema-registry.ts';
import { ConfigError, type Config } from '../config.ts';
import { startJournalStage, type JournalStage } from '../journal/stage.ts';
import type { Trainer } from '../learning/ports.ts';
import { PythonTrainer } from '../learning/python-trainer.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { InflightTracker, wireStage, type EpicStage, type StageDeps } from '../run/chain.ts';
import { learningRegistry } from '../run/learning-registry.ts';
import { openServedModels, type ServedModels } from '../run/served-models.ts';
import { stageOf, type StageName } from '../stages.ts';
import { OffsetTracker } from './offsets.ts';

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
  /** Offsets are committed this often (wall time), after the outputs so far are acknowledged. */
  readonly commitEveryMs: number;
  readonly stderr: NodeJS.WritableStream;
  /** Aborting starts the drain (SIGTERM, SIGINT). */
  readonly signal: AbortSignal;
  /** Called once the stage is ready (group joined, schemas resolved), with the metrics server's URL. */
  readonly onReady?: (metricsUrl: string) => void;
  /** Consumer tuning of the Kafka bus (tests on the mock cluster shorten it). */
  readonly consumer?: KafkaConsumerTuning;
}

const EPIC_STAGES: ReadonlySet<string> = new Set<EpicStage>(['features', 'ensemble', 'learning', 'brains', 'risk', 'execution', 'exits']);

/**
 * Runs one stage as its own process over Kafka (`qt pipeline <stage>`): wires the stage's epic exactly as `qt run`
 * does (wireStage), in consumer group `qt.<stage>`, serves /metrics, /livez and /readyz (ready once the group is joined
 * and the schemas resolved). Offsets are committed periodically and on drain, only up to records whose processing
 * (and the inference it started) finished, and only once every output published so far is acknowledged. The journal
 * stage commits after its flush. Resolves with the exit code: 0 after a drain on the signal, 1 on any failure
 * (crash-only: nothing is committed after it) or when the drain outlasts its deadline.
 */
export async function runStage(config: Config, opts: StageProcessOptions): Promise<number> {
  const spec = stageOf(opts.stage);
  if (spec.name === 'ingest') throw new StageNotRunnableError(spec.name, 'ingest reads a market source, not a topic; not supported as a process yet (use qt run)');
  if (config.kafka.bootstrap.length === 0) throw new ConfigError(['qt pipeline needs Kafka: set kafka.bootstrap (--bootstrap host:port or QT_KAFKA_BOOTSTRAP)']);
  if (spec.name === 'learning' && !config.learning.enabled) throw new ConfigError(['the learning stage runs only with learning.enabled (--learning)']);
  const group = spec.group;
  const closers: (() => Promise<unknown>)[] = [];
  let failure: unknown;
  let wake: () => void = () => undefined;
  const fail = (e: unknown): void => {
    failure ??= e;
    wake();
  };
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const log = (m: string): void => void opts.stderr.write(`qt pipeline ${spec.name}: ${m}\n`);

  const meter = new PromMeter();
  const bus = new KafkaBus({
    brokers: config.kafka.bootstrap,
    clientId: `${config.kafka.clientId}.${spec.name}`,
    schemaIds: schemaIdsFor(config.kafka.schemaRegistryUrl),
    ...(opts.consumer ? { consumer: opts.consumer } : {}),
  });
  closers.push(() => bus.close());
  let ready = false;
  let server: MetricsServer | undefined;
  const subs: Subscription[] = [];
  const pending = new Set<Promise<void>>();
  const offsets = new OffsetTracker();
  const tracker = new InflightTracker();
  let stopping = false;
  let journalStage: JournalStage | undefined;
  /** Runs the stage's timers due within the ensemble's longest wait (set once the stage's scheduler exists). */
  let flushTimers = (): void => undefined;
  let commits: Promise<void> = Promise.resolve();

  // Commits what is finished once everything published so far is acknowledged: an offset never runs ahead of its outputs.
  const commitFinished = (): Promise<void> => {
    commits = commits.then(async () => {
      if (failure !== undefined) return;
      if (journalStage) return journalStage.flush();
      const done = offsets.take();
      await Promise.all([...pending]);
      if (failure !== undefined) return;
      for (const c of done) await bus.commit(group, c.topic as TopicName, c.partition, c.offset);
    });
    commits.catch(fail);
    return commits;
  };

  try {
    server = await startMetricsServer({ host: config.metrics.host, port: opts.metricsPort, meter, ready: () => ready && failure === undefined });
    closers.push(() => server!.close());
    log(`metrics on ${server.url}/metrics`);
    await bus.connect();

    if (spec.name === 'journal') {
      const journal: Journal = await openJournal(config.journal, { meter });
      closers.push(() => journal.close());
      const topics: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map((t: DataTopic) => dlqOf(t))];
      journalStage = startJournalStage(bus, journal, { group, topics, flushEveryRows: config.journal.batchRows, onError: fail });
    } else {
      if (!EPIC_STAGES.has(spec.name)) throw new StageNotRunnableError(spec.name, 'no epic');
      const stage = spec.name as EpicStage;
      const scheduler = new ReplayScheduler(0);
      flushTimers = () => scheduler.advanceTo(scheduler.now() + config.ensemble.maxWaitMs);
      let models: readonly ClassifierModel[] = [];
      let served: ServedModels | undefined;
      let swap: StageDeps['swap'];
      let learning: StageDeps['learning'];
      if (stage === 'ensemble' || stage === 'learning') {
        served = await openServedModels(config, {
          now: () => Date.now(), // arch-allow: registry change times are wall-clock facts, not market time
          wrap: (m) => tracker.wrap(m),
          warn: (message) => log(`registry: ${message}`),
        });
        closers.push(() => served!.close());
        models = served.models;
        const s = served;
        swap = { apply: (e) => tracker.track(s.swap.apply(e)), release: () => s.swap.release() };
        if (stage === 'learning') {
          const trainer = new PythonTrainer({ python: config.learning.python, workDir: join(config.ensemble.registryDir, 'work') });
          const tracked: Trainer = { available: (m) => tracker.track(trainer.available(m)), train: (r) => tracker.track(trainer.train(r)) };
          learning = { trainer: tracked, registry: learningRegistry(s.registry) };
        }
      }
      const msgIn = defineCounter(meter, METRICS.messagesIn);
      const msgOut = defineCounter(meter, METRICS.messagesOut);
      // The ensemble holds a vector in a micro-batch until a later bar (or its timer) flushes it: a vector is finished
      // only when its signal (or its dead letter) has been published, not when it entered the batch.
      const awaitingSignal = new Map<string, () => void>();
      const vectorCodec = codecFor(FeatureVectorSchema);
      const outputFinishes = (o: Outgoing): void => {
        if (awaitingSignal.size === 0) return;
        let id: string | undefined;
        if (o.topic === 'ens.signals.v1') id = (o.value as EnsembleSignal).featureId;
        else if (o.topic === 'feat.vectors.v1.dlq') id = vectorCodec.decode((o.value as DeadLetter).payload).id;
        const finish = id === undefined ? undefined : awaitingSignal.get(id);
        if (finish) {
          awaitingSignal.delete(id!);
          finish();
        }
      };
      // A record is finished when its synchronous processing returned and the async work (inference) pending then settled.
      const input = <T extends TopicName>(topic: T, st: EpicStage): Observable<Topics[T]> =>
        new Observable<Topics[T]>((sub) =>
          bus.consume(topic, group).subscribe({
            next: (r) => {
              // After the stop signal a record is left alone: not finished, so not committed, and read again on restart.
              if (stopping || failure !== undefined) return;
              msgIn.inc({ stage: st, topic });
              const finish = offsets.delivered(r.topic, r.partition, r.offset);
              // Event time drives the stage's clock, as the replay scheduler does in qt run.
              scheduler.advanceTo(Math.max(scheduler.now(), (r.value as { tsEvent: number }).tsEvent));
              if (st === 'ensemble' && topic === 'feat.vectors.v1') {
                awaitingSignal.set((r.value as FeatureVector).id, finish);
                sub.next(r.value);
                return;
              }
              sub.next(r.value);
              if (tracker.pending.size === 0) return finish();
              // Outputs of the work are published from its continuations: finish after they ran.
              void Promise.allSettled([...tracker.pending]).then(() => setImmediate(finish));
            },
            error: (e: unknown) => sub.error(e),
            complete: () => sub.complete(),
          }),
        );
      const wire = (st: EpicStage, out$: Observable<Outgoing>): void => {
        subs.push(
          out$.subscribe({
            next: (o) => {
              msgOut.inc({ stage: st, topic: o.topic });
              const p = bus.publish(o.topic, o.key, o.value);
              pending.add(p);
              p.then(() => pending.delete(p), fail);
              outputFinishes(o);
            },
            error: fail,
          }),
        );
      };
      wireStage(stage, { scheduler, meter, models, config, swap, learning }, { input, wire });
    }

    await Promise.race([bus.ready(), stopped]);
    if (failure === undefined && !opts.signal.aborted) {
      ready = true;
      log('ready');
      opts.onReady?.(server.url);
    }
    const timer = setInterval(() => void commitFinished(), opts.commitEveryMs);
    closers.push(async () => clearInterval(timer));
    await stopped;
    if (failure !== undefined) throw failure;

    // Drain: stop taking records, let in-flight work settle, commit behind the acknowledged outputs, leave the group.
    ready = false;
    log('draining');
    let deadline: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new DrainTimeoutError(opts.drainDeadlineMs)), opts.drainDeadlineMs);
    });
    try {
      await Promise.race([
        overdue,
        (async () => {
          stopping = true;
          while (tracker.pending.size > 0 || offsets.unfinished() > 0) {
            // Time flushes what waits on a timer (the ensemble's micro-batch): no later record will come to do it.
            flushTimers();
            await Promise.allSettled([...tracker.pending]);
            await new Promise<void>((r) => setImmediate(r));
            if (failure !== undefined) throw failure;
          }
          await commitFinished();
          if (failure !== undefined) throw failure;
          for (const s of subs) s.unsubscribe();
          journalStage?.stop();
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
