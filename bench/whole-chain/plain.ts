/**
 * The plain loop of the whole-chain benchmark: the chain's computation without RxJS and without the bus. Messages go
 * through one FIFO queue and each is handed to the stages that consume its topic, in the order the memory bus would
 * deliver it (consumer groups in subscription order, one record and its consumers before the next record), with the
 * replay clock moved exactly as runAll's ReplayScheduler moves it, so every stage sees the same inputs and times.
 */
import { printOfBar } from '../../gateways/paper/market-print.ts';
import { PaperBroker } from '../../gateways/paper/paper-broker.ts';
import type { ClassifierModel } from '../../models/model-port.ts';
import type { Config } from '../../pipelines/config.ts';
import { openMarket } from '../../pipelines/run/market.ts';
import { ExitBook } from '../../operators/exits/exit-book.ts';
import { breakEvenOffsetBps } from '../../operators/exits/trading-costs.ts';
import { FeatureEngine } from '../../operators/features/feature-vectors.ts';
import { RiskDesk } from '../../operators/risk/risk-gate.ts';
import { instrumentKey } from '../../schemas/common.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';
import type { RunTimes } from './chain.ts';
import { createBarValidator } from '../../operators/market/validate-bars.ts';
import { BrainsDesk } from '../../operators/brains/brains.ts';
import { manualClock, PlainEnsemble } from './plain-stages.ts';
import type { Tally } from './tally.ts';

const MINUTE = 60_000;

/** Stages timed by an instrumented plain run. */
export const STAGES = ['source', 'ingest', 'features', 'ensemble', 'brains', 'risk', 'execution', 'exits', 'tally', 'queue+loop'] as const;
/** A stage timed by an instrumented plain run. */
export type Stage = (typeof STAGES)[number];
/** Wall ms per stage; ensemble includes the time awaiting predict(). */
export type StageTimes = Record<Stage, number>;

/** Zeroed stage times. */
export function stageTimes(): StageTimes {
  return Object.fromEntries(STAGES.map((s) => [s, 0])) as StageTimes;
}

/** What the plain run reports besides its times. */
export interface PlainResult extends RunTimes {
  /** Batches closed by a vector of a new tsEvent rather than by the timer (0 with 1-minute bars). */
  earlyCloses: number;
}

/**
 * Runs the plain loop over the config's market with the given models (not closed here); every message goes to
 * `tally`. With `stages`, each stage's wall time is added there (costs a few percent).
 */
export async function runPlain(config: Config, models: readonly ClassifierModel[], tally: Tally, stages?: StageTimes): Promise<PlainResult> {
  const t0 = performance.now();
  const market = await openMarket(config);
  const clock = manualClock(market.fromMs);
  const sched = clock.asScheduler();
  const validate = createBarValidator({ symbols: market.instruments, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, stage: 'ingest', scheduler: sched });
  const features = new FeatureEngine({ scheduler: sched });
  const ensemble = new PlainEnsemble(models, config.ensemble.maxWaitMs);
  const brains = new BrainsDesk();
  const risk = new RiskDesk(config.risk);
  const broker = new PaperBroker(config.broker, clock);
  const exits = new ExitBook({ breakEvenOffsetBps: breakEvenOffsetBps(config.broker) }, clock);

  let mark = 0;
  const lap = stages
    ? (s: Stage): void => {
        const now = performance.now();
        stages[s] += now - mark;
        mark = now;
      }
    : undefined;

  const queue: (Outgoing | undefined)[] = [];
  let head = 0;
  const emit = (m: Outgoing): void => {
    queue.push(m);
  };
  const emitAll = (ms: readonly Outgoing[]): void => {
    for (const m of ms) queue.push(m);
  };
  // One record to each consumer of its topic, in the bus's group order (the order runAll subscribes the epics).
  const deliver = (m: Outgoing): void => {
    const now = clock.t;
    switch (m.topic) {
      case 'md.bars.1m.v1': {
        const bar = m.value;
        const v = features.onBar(bar);
        if (v !== null) emit(out('feat.vectors.v1', instrumentKey(v), v));
        lap?.('features');
        emitAll(broker.step({ kind: 'print', print: printOfBar(bar) }));
        lap?.('execution');
        for (const e of exits.step({ kind: 'bar', bar })) emit(out('exit.events.v1', instrumentKey(e), e));
        lap?.('exits');
        break;
      }
      case 'feat.vectors.v1':
        ensemble.add(m.value, now);
        lap?.('ensemble');
        break;
      case 'ens.signals.v1': {
        const d = brains.step({ kind: 'signal', signal: m.value }, now);
        if (d) emit(out('brain.decisions.v1', instrumentKey(d), d));
        lap?.('brains');
        break;
      }
      case 'pos.equity.v1':
        brains.step({ kind: 'equity', equity: m.value }, now);
        lap?.('brains');
        risk.step({ kind: 'equity', equity: m.value }, now);
        lap?.('risk');
        break;
      case 'pos.positions.v1':
        brains.step({ kind: 'position', position: m.value }, now);
        lap?.('brains');
        risk.step({ kind: 'position', position: m.value }, now);
        lap?.('risk');
        for (const e of exits.step({ kind: 'position', position: m.value })) emit(out('exit.events.v1', instrumentKey(e), e));
        lap?.('exits');
        break;
      case 'brain.decisions.v1': {
        const o = risk.step({ kind: 'decision', decision: m.value }, now);
        if (o) emit(out('risk.orders.v1', instrumentKey(o), o));
        lap?.('risk');
        break;
      }
      case 'risk.orders.v1':
        emitAll(broker.step({ kind: 'order', order: m.value }));
        lap?.('execution');
        for (const e of exits.step({ kind: 'order', order: m.value })) emit(out('exit.events.v1', instrumentKey(e), e));
        lap?.('exits');
        break;
      case 'exit.events.v1':
        emitAll(broker.step({ kind: 'exit', exit: m.value }));
        lap?.('execution');
        break;
      case 'exec.orders.v1':
        risk.step({ kind: 'execution', event: m.value }, now);
        lap?.('risk');
        for (const e of exits.step({ kind: 'execution', event: m.value })) emit(out('exit.events.v1', instrumentKey(e), e));
        lap?.('exits');
        break;
      default:
        break;
    }
    tally.observe(m.topic, m.value);
    lap?.('tally');
  };
  const drain = (): void => {
    while (head < queue.length) {
      const m = queue[head]!;
      queue[head++] = undefined;
      deliver(m);
    }
    queue.length = 0;
    head = 0;
  };
  // runAll's settle: the replay timer closes the open batch at its due time, the clock moves to the step, then each
  // batch is scored and its messages published one by one, each with everything it causes before the next.
  const settle = async (stepMs: number): Promise<void> => {
    const ready = ensemble.takeReady(stepMs);
    if (stepMs > clock.t) clock.t = stepMs;
    for (const b of ready) {
      if (lap) mark = performance.now();
      const outs = await ensemble.score(b.vectors, b.tsInit);
      lap?.('ensemble');
      for (const o of outs) {
        emit(o);
        drain();
      }
    }
  };

  const t1 = performance.now();
  let step = Number.NaN;
  const it = market.chunks()[Symbol.asyncIterator]();
  for (;;) {
    if (lap) mark = performance.now();
    const r = await it.next();
    lap?.('source');
    if (r.done) break;
    for (const item of r.value) {
      const itemStep = Math.floor(item.tsEvent / MINUTE) * MINUTE;
      if (itemStep !== step) {
        if (!Number.isNaN(step)) await settle(itemStep);
        step = itemStep;
      }
      lap?.('queue+loop');
      if (item.tsEvent > clock.t) clock.t = item.tsEvent;
      if (item.kind !== 'bar') throw new Error('the plain loop reads kline files only (bars); trade files are not supported');
      const v = validate(item.record);
      emit(v.ok ? out('md.bars.1m.v1', instrumentKey(v.value), v.value) : out('md.bars.1m.v1.dlq', v.deadLetter.key ?? '', v.deadLetter));
      lap?.('ingest');
      drain();
    }
  }
  await settle(Number.isNaN(step) ? market.toMs : step + 2 * MINUTE);
  const t2 = performance.now();
  return { open: (t1 - t0) / 1000, loop: (t2 - t1) / 1000, close: 0, earlyCloses: ensemble.earlyCloses };
}
