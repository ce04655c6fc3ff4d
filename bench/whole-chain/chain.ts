/**
 * The RxJS chain of the whole-chain benchmark: pipelines/run/main.ts runAll's wiring, line for line, with the models
 * injected (so a ConstantModel can stand in) and without the journal stage (runAll itself is the journal variant).
 * Kept: the memory bus with Avro validation, the PromMeter message counters, the summary consumer (which also feeds
 * the benchmark's digests) and the bus metrics; dropped: the journal, progress, pacing and the metrics server.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import { map } from 'rxjs/operators';
import type { ClassifierModel } from '../../models/model-port.ts';
import { brainsEpic } from '../../pipelines/brains/epic.ts';
import type { Config } from '../../pipelines/config.ts';
import { ensembleEpic } from '../../pipelines/ensemble/epic.ts';
import { executionEpic } from '../../pipelines/execution/epic.ts';
import { breakEvenOffsetBps } from '../../operators/exits/trading-costs.ts';
import { exitsEpic } from '../../pipelines/exits/epic.ts';
import { featuresEpic } from '../../pipelines/features/epic.ts';
import { ingestEpic } from '../../pipelines/ingest/epic.ts';
import { ReplayScheduler } from '../../pipelines/replay-scheduler.ts';
import { riskEpic } from '../../pipelines/risk/epic.ts';
import { startBusMetrics } from '../../pipelines/run/bus-metrics.ts';
import { openMarket, type MarketItem } from '../../pipelines/run/market.ts';
import type { Bar } from '../../schemas/bar.ts';
import { METRICS, defineCounter } from '../../schemas/metrics.ts';
import type { Bus, Meter, Outgoing } from '../../schemas/ports.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import { DATA_TOPICS, dlqOf, type DataTopic, type TopicName, type Topics } from '../../schemas/topics.ts';
import type { Trade } from '../../schemas/trade.ts';
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

/** runAll's InflightTracker (not exported there): lets the driver wait for inference at every bar step. */
class InflightTracker {
  readonly pending = new Set<Promise<unknown>>();
  wrap(m: ClassifierModel): ClassifierModel {
    return new Proxy(m, {
      get: (target, prop, receiver) => {
        if (prop !== 'predict') return Reflect.get(target, prop, receiver) as unknown;
        return (batch: Float32Array, rows: number) => {
          const p = target.predict(batch, rows);
          this.pending.add(p);
          void p.finally(() => this.pending.delete(p)).catch(() => undefined);
          return p;
        };
      },
    });
  }
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

  const subs: Subscription[] = [];
  let failure: unknown;
  const fail = (e: unknown): void => {
    failure ??= e;
  };
  const msgIn = defineCounter(meter, METRICS.messagesIn);
  const msgOut = defineCounter(meter, METRICS.messagesOut);
  const input = <T extends TopicName>(topic: T, stage: string): Observable<Topics[T]> => {
    const labels = { stage, topic };
    return bus.consume(topic, `qt.${stage}`).pipe(
      map((r) => {
        msgIn.inc(labels);
        return r.value;
      }),
    );
  };
  const wire = (stage: string, out$: Observable<Outgoing>): void => {
    subs.push(
      out$.subscribe({
        next: (o) => {
          msgOut.inc({ stage, topic: o.topic });
          bus.publish(o.topic, o.key, o.value).catch(fail);
        },
        error: fail,
      }),
    );
  };

  const trades = new Subject<SourceRecord<Trade>>();
  const bars = new Subject<SourceRecord<Bar>>();
  const deps = { scheduler };
  wire('features', featuresEpic({ bars: input('md.bars.1m.v1', 'features') }, deps));
  wire('ensemble', ensembleEpic({ vectors: input('feat.vectors.v1', 'ensemble') }, { ...deps, models: wrapped, meter, maxWaitMs: config.ensemble.maxWaitMs }));
  wire('brains', brainsEpic({ signals: input('ens.signals.v1', 'brains'), equity: input('pos.equity.v1', 'brains'), positions: input('pos.positions.v1', 'brains') }, { ...deps }));
  wire('risk', riskEpic({ decisions: input('brain.decisions.v1', 'risk'), equity: input('pos.equity.v1', 'risk'), positions: input('pos.positions.v1', 'risk'), orders: input('exec.orders.v1', 'risk') }, { ...deps, config: config.risk }));
  wire('execution', executionEpic({ orders: input('risk.orders.v1', 'execution'), exits: input('exit.events.v1', 'execution'), bars: input('md.bars.1m.v1', 'execution') }, { ...deps, config: config.broker }));
  wire('exits', exitsEpic({ orders: input('risk.orders.v1', 'exits'), positions: input('pos.positions.v1', 'exits'), bars: input('md.bars.1m.v1', 'exits'), orderEvents: input('exec.orders.v1', 'exits') }, { ...deps, config: { breakEvenOffsetBps: breakEvenOffsetBps(config.broker) } }));

  const allTopics: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map((t: DataTopic) => dlqOf(t))];
  for (const t of allTopics) subs.push(bus.consume(t, 'qt.summary').subscribe((r) => tally.observe(t, r.value)));
  subs.push(startBusMetrics(bus, meter, allTopics));
  wire('ingest', ingestEpic({ trades, bars }, { scheduler, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, symbols: market.instruments }));

  const settle = async (stepMs: number): Promise<void> => {
    for (;;) {
      scheduler.advanceTo(stepMs);
      if (tracker.pending.size > 0) await Promise.allSettled([...tracker.pending]);
      await new Promise<void>((r) => setImmediate(r));
      if (failure) throw failure;
      if (tracker.pending.size === 0) return;
    }
  };
  const push = (item: MarketItem): void => {
    scheduler.setTime(item.tsEvent);
    if (item.kind === 'trade') trades.next(item.record);
    else bars.next(item.record);
  };

  const t1 = performance.now();
  let t2 = t1;
  let step = Number.NaN;
  try {
    for await (const chunk of market.chunks()) {
      for (const item of chunk) {
        const itemStep = Math.floor(item.tsEvent / MINUTE) * MINUTE;
        if (itemStep !== step) {
          if (!Number.isNaN(step)) await settle(itemStep);
          step = itemStep;
        }
        push(item);
      }
      if (failure) throw failure;
    }
    trades.complete();
    bars.complete();
    await settle(Number.isNaN(step) ? market.toMs : step + 2 * MINUTE);
    if (failure) throw failure;
    t2 = performance.now();
  } finally {
    for (const s of subs) s.unsubscribe();
    await bus.close();
  }
  return { open: (t1 - t0) / 1000, loop: (t2 - t1) / 1000, close: (performance.now() - t2) / 1000 };
}
