/**
 * The RxJS chain of the whole-chain benchmark: pipelines/run/main.ts runAll's wiring, line for line, with the models
 * injected (so a ConstantModel can stand in) and without the journal stage (runAll itself is the journal variant).
 * Kept: the memory bus with Avro validation, the PromMeter message counters, the summary consumer (which also feeds
 * the benchmark's digests) and the bus metrics; dropped: the journal, progress, pacing and the metrics server.
 */
import type { ClassifierModel } from '../../models/model-port.ts';
import type { Config } from '../../pipelines/config.ts';
import { ReplayScheduler } from '../../pipelines/replay-scheduler.ts';
import { startBusMetrics } from '../../pipelines/run/bus-metrics.ts';
import { wireChain } from '../../pipelines/run/chain.ts';
import { replayMarket } from '../../pipelines/run/replay.ts';
import { InflightTracker } from '../../pipelines/run/stage-wiring.ts';
import { openMarket } from '../../pipelines/run/market.ts';
import type { Bus, Meter } from '../../schemas/ports.ts';
import { DATA_TOPICS, dlqOf, type DataTopic, type TopicName } from '../../schemas/topics.ts';
import { PromMeter } from '../../sinks/prometheus.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import type { Tally } from './tally.ts';

const MINUTE = 60_000;

/** Wall times of one run, in seconds: opening the market, the replay loop (first record to settled end), teardown. */
export interface RunTimes {
  open: number;
  loop: number;
  close: number;
}

/** Runs the chain over the config's market with the given models (not closed here); every message goes to `tally`. */
export async function runChain(config: Config, models: readonly ClassifierModel[], tally: Tally): Promise<RunTimes> {
  const t0 = performance.now();
  const market = await openMarket(config);
  const scheduler = new ReplayScheduler(market.fromMs);
  const bus: Bus = new MemoryBus({ clock: scheduler });
  const meter: Meter = new PromMeter();
  const tracker = new InflightTracker();
  const wrapped = models.map((m) => tracker.wrap(m));

  let failure: unknown;
  const fail = (e: unknown): void => {
    failure ??= e;
  };
  const steps = new InflightTracker();
  const chain = wireChain({ bus, scheduler, meter, models: wrapped, config, instruments: market.instruments, fail, inflight: tracker, steps });
  const { subs, trades, bars } = chain;

  const allTopics: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map((t: DataTopic) => dlqOf(t))];
  for (const t of allTopics) subs.push(bus.consume(t, 'qt.summary').subscribe((r) => tally.observe(t, r.value)));
  subs.push(startBusMetrics(bus, meter, allTopics));
  chain.wireIngest();

  const settle = async (step: number): Promise<void> => {
    for (;;) {
      if (failure) throw failure;
      if (tracker.pending.size === 0 && steps.pending.size === 0 && chain.stages.every((s) => s.lastStep() >= step)) return;
      await Promise.allSettled([...tracker.pending, ...steps.pending]);
      await new Promise<void>((r) => setImmediate(r));
    }
  };

  const t1 = performance.now();
  let t2 = t1;
  try {
    await replayMarket(market, {
      scheduler,
      publisher: chain.ingest,
      trades,
      bars,
      check: () => {
        if (failure) throw failure;
      },
      afterMark: async (step, _last, marked) => {
        await marked;
        await settle(step);
      },
    });
    if (failure) throw failure;
    t2 = performance.now();
  } finally {
    for (const s of subs) s.unsubscribe();
    await bus.close();
  }
  return { open: (t1 - t0) / 1000, loop: (t2 - t1) / 1000, close: (performance.now() - t2) / 1000 };
}
