import { Subject } from 'rxjs';
import { join } from 'node:path';
import type { ClassifierModel } from '../../models/model-port.ts';
import { METRICS, defineGauge } from '../../schemas/metrics.ts';
import type { Bus, Journal } from '../../schemas/ports.ts';
import { DATA_TOPICS, dlqOf, type DataTopic, type TopicName } from '../../schemas/topics.ts';
import { openJournal } from '../../sinks/journal/open.ts';
import { PromMeter, startMetricsServer } from '../../sinks/prometheus.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import type { Config } from '../config.ts';
import { startJournalStage } from '../journal/stage.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { startBusMetrics } from './bus-metrics.ts';
import { PythonTrainer } from '../learning/python-trainer.ts';
import type { Trainer } from '../learning/ports.ts';
import { wireChain } from './chain.ts';
import { InflightTracker } from './stage-wiring.ts';
import { learningRegistry } from './learning-registry.ts';
import { startRegistryFeed } from './registry-feed.ts';
import { openServedModels } from './served-models.ts';
import { Progress } from './progress.ts';
import { openMarket } from './market.ts';
import { replayMarket } from './replay.ts';
import { SummaryCollector, type RunSummary } from './summary.ts';

/** What the all-in-one run needs from its surroundings. */
export interface RunIo {
  readonly stderr: NodeJS.WriteStream;
  /** Wall-clock ms, for pacing, progress and timing only (never in messages). */
  readonly wallNow: () => number;
  /** Called once every stage is wired, with the metrics server's URL when it runs. */
  readonly onReady?: (metricsUrl: string | undefined) => void;
  /** Wraps each loaded model (tests use it to delay inference and prove the replay does not depend on timing). */
  readonly decorateModel?: (m: ClassifierModel) => ClassifierModel;
  /** Aborting stops the replay at the next record; what was processed is settled, journaled and summarised. */
  readonly signal?: AbortSignal;
  /** Epoch ms for the registry's change times (default Date.now); never in market messages. */
  readonly epochNow?: () => number;
  /** Awaited at each bar step of the replay, before the chain settles on it (tests change the registry here). */
  readonly onStep?: (stepMs: number) => Promise<void> | void;
  /** Replaces the Python trainer of continuous learning (tests). */
  readonly trainer?: Trainer;
  /** Awaited after the last bar is processed, before the metrics server and the journal close. */
  readonly beforeShutdown?: (metricsUrl: string | undefined) => Promise<void>;
}

/** The result of a run. */
export interface RunResult {
  readonly summary: RunSummary;
  readonly journalPath: string;
  readonly seconds: number;
  /** True when the run was stopped by its abort signal before the end of the market. */
  readonly interrupted: boolean;
}

/**
 * Runs the whole chain in one process over the memory bus: market source → ingest → features → ensemble → brains →
 * risk → paper execution ⇄ exits, every topic into the journal. The replay advances in event time one bar step at a
 * time and waits for the chain to settle at each step, so the same input and seed give the same journal.
 */
export async function runAll(config: Config, io: RunIo): Promise<RunResult> {
  const wallStart = io.wallNow();
  // Every resource is released in reverse order, whether the run ends, fails or fails to start.
  const closers: (() => Promise<void>)[] = [];
  try {
    return await runWith(config, io, wallStart, closers);
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

async function runWith(config: Config, io: RunIo, wallStart: number, closers: (() => Promise<void>)[]): Promise<RunResult> {
  const market = await openMarket(config);
  const scheduler = new ReplayScheduler(market.fromMs);
  const bus: Bus = new MemoryBus({ clock: scheduler });
  closers.push(() => bus.close());
  const meter = new PromMeter();
  const journal: Journal = await openJournal(config.journal, { meter });
  closers.push(() => journal.close());
  const tracker = new InflightTracker();
  const served = await openServedModels(config, {
    now: io.epochNow ?? (() => Date.now()), // arch-allow: registry change times are wall-clock facts, not market time
    wrap: (m) => tracker.wrap(io.decorateModel ? io.decorateModel(m) : m),
    warn: (message) => io.stderr.write(`registry: ${message}\n`),
  });
  closers.push(() => served.close());
  const { models } = served;
  // The swap loads models on the event loop: the replay waits for it like for inference.
  const swap = { apply: (e: Parameters<typeof served.swap.apply>[0]) => tracker.track(served.swap.apply(e)), release: () => served.swap.release() };
  let learning: Parameters<typeof wireChain>[0]['learning'];
  if (config.learning.enabled) {
    const trainer = io.trainer ?? new PythonTrainer({ python: config.learning.python, workDir: join(config.ensemble.registryDir, 'work') });
    // Training runs while the replay goes on; tracked, so the replay waits for it and a rerun gives the same registry.
    const tracked: Trainer = { available: (m) => tracker.track(trainer.available(m)), train: (r) => tracker.track(trainer.train(r)) };
    learning = { trainer: tracked, registry: learningRegistry(served.registry) };
  }
  let ready = false;
  const server = config.metrics.enabled
    ? await startMetricsServer({ host: config.metrics.host, port: config.metrics.port, meter, ready: () => ready })
    : undefined;
  if (server) {
    closers.push(() => server.close());
    io.stderr.write(`metrics on ${server.url}/metrics\n`);
  }

  let failure: unknown;
  const fail = (e: unknown): void => {
    failure ??= e;
  };
  const steps = new InflightTracker();
  const ingestStep = defineGauge(meter, METRICS.stepTime);
  const chain = wireChain({ bus, scheduler, meter, models, config, instruments: market.instruments, fail, swap, learning, inflight: tracker, steps });
  const { subs, trades, bars } = chain;

  const allTopics: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map((t: DataTopic) => dlqOf(t))];
  const journalStage = startJournalStage(bus, journal, { group: 'qt.journal', topics: allTopics, flushEveryRows: config.journal.batchRows, onError: fail });
  const summary = new SummaryCollector(config.broker.initialEquity);
  for (const t of allTopics) subs.push(bus.consume(t, 'qt.summary').subscribe((r) => summary.observe(t, r.value)));
  subs.push(startBusMetrics(bus, meter, allTopics));
  // Every registry change is on model.registry.v1 (journaled) before the first bar, then each new one at an event-time
  // poll, so a promotion or rollback lands between two bar steps.
  const registryPolls = new Subject<void>();
  const feed = startRegistryFeed(bus, config.ensemble.registryDir, { polls: registryPolls, onError: fail });
  closers.push(async () => feed.stop());
  await feed.published;
  // Ingest last: everything downstream is subscribed before the first tick.
  chain.wireIngest();
  ready = true;
  io.onReady?.(server?.url);

  const progress = new Progress(io.stderr, config.run.progress, io.wallNow);
  const span = Math.max(1, market.toMs - market.fromMs);
  // A step is settled once every stage has marked it and no inference, swap or training is in flight.
  const settle = async (step: number): Promise<void> => {
    for (;;) {
      if (failure) throw failure;
      if (tracker.pending.size === 0 && steps.pending.size === 0 && chain.stages.every((s) => s.lastStep() >= step)) return;
      await Promise.allSettled([...tracker.pending, ...steps.pending]);
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  let lastFlush = io.wallNow();
  const flushPeriodically = async (): Promise<void> => {
    if (io.wallNow() - lastFlush < config.journal.flushIntervalMs) return;
    lastFlush = io.wallNow();
    await journalStage.flush();
  };
  const pace = async (eventMs: number): Promise<void> => {
    if (config.run.speed === 'max') return;
    const ahead = market.fromMs + (io.wallNow() - wallStart) * config.run.speed;
    const waitMs = (eventMs - ahead) / config.run.speed;
    if (waitMs > 2) await new Promise<void>((r) => setTimeout(r, waitMs));
  };

  let lastRegistryPoll = Number.NEGATIVE_INFINITY;
  let interrupted = false;
  try {
    interrupted = await replayMarket(market, {
      scheduler,
      publisher: chain.ingest,
      trades,
      bars,
      signal: io.signal,
      check: () => {
        if (failure) throw failure;
      },
      beforeMark: async (_step, next) => {
        await io.onStep?.(next);
        if (next - lastRegistryPoll >= config.ensemble.registryPollMs) {
          lastRegistryPoll = next;
          registryPolls.next();
        }
      },
      afterMark: async (step, last, marked) => {
        await marked;
        await settle(step);
        ingestStep.set({ stage: 'ingest' }, step / 1000);
        if (last) return;
        await flushPeriodically();
        await pace(step);
        const s = summary.s;
        progress.update((step - market.fromMs) / span, `${new Date(step).toISOString().slice(0, 16).replace('T', ' ')}  bars ${s.bars}  fills ${s.fills}  PnL ${s.pnl.toFixed(2)}`);
      },
    });
    await journalStage.flush();
    if (failure) throw failure;
    progress.update(1, 'done');
    progress.done();
    await io.beforeShutdown?.(server?.url);
  } finally {
    for (const s of chain.stages) s.close();
    for (const s of subs) s.unsubscribe();
    journalStage.stop();
  }
  return { summary: summary.s, journalPath: config.journal.url ?? config.journal.path, seconds: (io.wallNow() - wallStart) / 1000, interrupted };
}
