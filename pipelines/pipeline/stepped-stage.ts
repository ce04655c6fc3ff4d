import { Observable, Subject, type Subscription } from 'rxjs';
import { map } from 'rxjs/operators';
import { METRICS, defineCounter, defineGauge } from '../../schemas/metrics.ts';
import type { Bus, BusRecord, Outgoing } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { wireStage, type InflightTracker, type StageDeps } from '../run/stage-wiring.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { deriveId } from '../../schemas/ids.ts';
import { DATA_TOPIC_SCHEMAS, dlqOf, type DataTopic } from '../../schemas/topics.ts';
import { replicaGroup, SOLE_REPLICA, type Replica } from './parts.ts';
import { StepPublisher } from './step-publisher.ts';
import { MAX_BUFFERED_RECORDS, MissingStepTagsError, sideInputs, STEP_TOPIC, StepGate, stepEdges, type ReadyStep, type SteppedStage } from './steps.ts';

/** The dead letter of a record without step tags: its bytes re-encoded, its position, the reason MISSING_STEP_TAGS. */
export function untaggedDeadLetter(stage: string, r: BusRecord<unknown>, e: MissingStepTagsError): DeadLetter {
  const reason = 'MISSING_STEP_TAGS';
  const payload = codecFor(DATA_TOPIC_SCHEMAS[r.topic as DataTopic] as never).encode(r.value as never);
  return {
    id: deriveId('dlq', r.topic, r.partition, r.offset, reason),
    tsEvent: r.timestamp,
    tsInit: r.timestamp,
    sourceTopic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    payload,
    stage,
    errorClass: e.name,
    reason,
    message: e.message,
  };
}

/** How long a (re)started stage waits to read the marks published before its start (wall time). */
export const OWN_MARKS_WAIT_MS = 30_000;

/** What a stepped stage needs besides its bus. */
export interface SteppedStageDeps extends Omit<StageDeps, 'scheduler' | 'learning'> {
  /** Tracks the stage's asynchronous work (inference, model swaps): a step ends only once it has settled. */
  readonly inflight: InflightTracker;
  /** Tracks each step's processing, so a driver can wait for the chain to settle. */
  readonly steps: InflightTracker;
  /** Receives the first error (a protocol breach, a failed publish); the stage stops processing. */
  readonly fail: (e: unknown) => void;
  /** Which replica of the stage this is (default the only one); replicas of features and exits share its parts. */
  readonly replica?: Replica;
  /** Consumer group (default `qt.<stage>` for the only replica, `qt.<stage>.replica-<i>` for one of several). */
  readonly group?: string;
  /** Told what the next step waits for when no step was processed for `stallWarnMs` of wall time (a process's log). */
  readonly warn?: (message: string) => void;
  /** Default 60000. */
  readonly stallWarnMs?: number;
  /** Told of the stage's progress worth a line in a process's log (the steps rebuilt after a restart). */
  readonly log?: (message: string) => void;
  /** How long a (re)started stage reads the marks published before its start before it processes on without them (default 30 s). */
  readonly ownMarksWaitMs?: number;
  /** Backpressure: records held before partitions are paused (default MAX_BUFFERED_RECORDS); needs Bus.pause. */
  readonly maxBufferedRecords?: number;
}

/** A running stepped stage. */
export interface SteppedStageHandle {
  readonly stage: SteppedStage;
  /** The last step processed and marked (-1 before the first). */
  lastStep(): number;
  /** Resolves once the step being processed (if any) and every step before it are marked. */
  idle(): Promise<void>;
  /** Stops reading: records that arrive from now on are left alone; a step in progress still ends whole (see idle()). */
  stop(): void;
  /** Stops reading and detaches the epic's outputs. */
  close(): void;
}

/**
 * Runs one stage of the chain under the step protocol (steps.ts) on a bus: wires its epic exactly as `qt run` does
 * (wireStage), reads its stepped inputs and the step marks in its consumer group, and processes each complete step
 * in canonical order on its own event-time clock (the step's clock), then publishes the step's outputs and its mark.
 * One replica of a split stage (features, exits) processes the records of the parts it owns and marks those parts.
 * The same code runs every stage in `qt run` (memory bus) and one stage in `qt pipeline <stage>` (Kafka).
 */
export function startSteppedStage(stage: Exclude<SteppedStage, 'ingest'>, bus: Bus, d: SteppedStageDeps): SteppedStageHandle {
  const replica = d.replica ?? SOLE_REPLICA;
  // Each of several replicas reads every partition of its inputs (a step is complete only when all its records are in).
  const group = d.group ?? replicaGroup(stage, replica);
  const gate = new StepGate(stage, replica);
  const publisher = new StepPublisher(bus, stage, replica);
  const scheduler = new ReplayScheduler(0);
  const msgIn = defineCounter(d.meter, METRICS.messagesIn);
  const msgOut = defineCounter(d.meter, METRICS.messagesOut);
  const stepTime = defineGauge(d.meter, METRICS.stepTime);
  const bufferedGauge = defineGauge(d.meter, METRICS.stageBuffered);
  const pausedGauge = defineGauge(d.meter, METRICS.stagePaused);
  const subjects = new Map<TopicName, Subject<unknown>>();
  /** The epic's output subscriptions: kept until the stage is dropped, so a step in progress at stop() still ends whole. */
  const outputs: Subscription[] = [];
  /** The bus consumers: stop() ends them. */
  const subs: Subscription[] = [];
  /** Outputs emitted outside a step (on a side input): published at the start of the next step. */
  const early: Outgoing[] = [];
  let failed = false;
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  let pumping = false;
  let marked = -1;
  /** The last step of a finite market is marked. */
  let ended = false;
  /** The mark of the last step processed, until it is acknowledged. */
  let lastMarking: Promise<void> = Promise.resolve();
  /** The end of pipe.steps.v1 when the stage started (-1 until known), and how far the stage has read it. */
  let stepsEnd = -1;
  let stepsRead = 0;
  /** True once the marks published before the start are read: no step is processed before. */
  let ownMarksRead = false;
  /** Steps rebuilt silently (marked before a restart). */
  let rebuilt = 0;
  const markedBefore = (): void => {
    ownMarksRead = true;
    pump();
  };
  const fail = (e: unknown): void => {
    failed = true;
    d.fail(e);
  };

  const input = <T extends TopicName>(topic: T): Observable<Topics[T]> => {
    if (sideInputs(stage).includes(topic)) {
      return bus.consume(topic, group).pipe(
        map((r) => {
          msgIn.inc({ stage, topic });
          return r.value;
        }),
      );
    }
    let s = subjects.get(topic);
    if (!s) subjects.set(topic, (s = new Subject<unknown>()));
    return s as unknown as Observable<Topics[T]>;
  };
  const wire = (_: string, out$: Observable<Outgoing>): void => {
    outputs.push(
      out$.subscribe({
        next: (o) => {
          msgOut.inc({ stage, topic: o.topic });
          if (!publisher.open) early.push(o);
          else publisher.publish(o).catch(fail);
        },
        error: fail,
      }),
    );
  };
  wireStage(stage, { ...d, scheduler }, { input, wire });

  const settle = async (until: number): Promise<void> => {
    for (;;) {
      if (d.inflight.pending.size === 0) {
        // Time flushes what waits on a timer (the ensemble's micro-batch): no later record of this step will come.
        scheduler.advanceTo(Math.max(scheduler.now(), until));
        if (d.inflight.pending.size === 0) return;
      }
      await Promise.allSettled([...d.inflight.pending]);
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  // Backpressure: while the stage holds more than `high` records, a partition that delivers one more is paused unless
  // the next step still needs records of it (gate.needs), so a pause never blocks the stage. Paused partitions are
  // fetched again once the stage holds less than half of that, or as soon as the next step needs them.
  const high = d.maxBufferedRecords ?? MAX_BUFFERED_RECORDS;
  const paused = new Map<string, { readonly topic: TopicName; readonly partition: number }>();
  const maybePause = (topic: TopicName, partition: number): void => {
    if (!bus.pause || gate.buffered <= high) return;
    const key = `${topic}|${partition}`;
    if (paused.has(key) || gate.needs(topic, partition)) return;
    bus.pause(group, topic, partition);
    paused.set(key, { topic, partition });
    pausedGauge.set({ stage }, paused.size);
  };
  const relieve = (): void => {
    if (paused.size === 0) return;
    const drained = gate.buffered < high / 2;
    for (const [key, { topic, partition }] of paused) {
      if (!drained && !gate.needs(topic, partition)) continue;
      bus.resume!(group, topic, partition);
      paused.delete(key);
    }
    pausedGauge.set({ stage }, paused.size);
  };

  const process = async (s: ReadyStep): Promise<void> => {
    if (s.marked) rebuilt += 1;
    else if (rebuilt > 0) {
      d.log?.(`rebuilt ${rebuilt} steps marked before the restart, without publishing them again; publishing from step ${s.step}`);
      rebuilt = 0;
    }
    publisher.begin(s.step, s.prevStep, s.marked);
    for (const o of early.splice(0)) publisher.publish(o).catch(fail);
    scheduler.advanceTo(Math.max(scheduler.now(), s.clock));
    for (const r of s.records) {
      msgIn.inc({ stage, topic: r.topic });
      subjects.get(r.topic)!.next(r.value);
    }
    await settle(s.clock + d.config.ensemble.maxWaitMs);
    // The next step may start while this one's outputs and mark are being acknowledged (marks go out in order).
    const marking = publisher.end(s.clock, s.last).then(() => {
      marked = s.step;
      stepTime.set({ stage }, s.step / 1000);
      if (s.last) ended = true;
    });
    d.steps.track(marking).catch(fail);
    lastMarking = marking;
  };
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    chain = chain.then(async () => {
      pumping = false;
      for (;;) {
        if (failed || stopped || !ownMarksRead) return;
        const s = gate.next();
        if (!s) return;
        relieve();
        bufferedGauge.set({ stage }, gate.buffered);
        await process(s);
      }
    });
    d.steps.track(chain).catch(fail);
  };

  for (const edge of stepEdges(stage)) {
    subs.push(
      bus.consume(edge.topic, group).subscribe({
        next: (r) => {
          if (stopped || failed) return;
          try {
            if (gate.offerRecord(r)) {
              bufferedGauge.set({ stage }, gate.buffered);
              maybePause(edge.topic, r.partition);
              pump();
            }
          } catch (e) {
            // A record published outside the protocol cannot be placed in a step: it goes to the dead letters.
            if (e instanceof MissingStepTagsError) bus.publish(dlqOf(edge.topic as DataTopic), r.key, untaggedDeadLetter(stage, r, e)).catch(fail);
            else fail(e);
          }
        },
        error: fail,
      }),
    );
  }
  subs.push(
    bus.consume(STEP_TOPIC, group).subscribe({
      next: (r) => {
        if (stopped || failed) return;
        try {
          gate.offerMark(r.value);
        } catch (e) {
          return fail(e);
        }
        relieve();
        stepsRead = Math.max(stepsRead, r.offset + 1);
        if (!ownMarksRead && stepsEnd >= 0 && stepsRead >= stepsEnd) markedBefore();
        pump();
      },
      error: fail,
    }),
  );
  // A restarted stage first reads the marks published before it started, its own among them: the steps it marked are
  // rebuilt silently (their outputs were acknowledged before their mark), so nothing is published twice and a step is
  // never published again with other contents (after a model promotion, say).
  // If they cannot all be read (expired by retention, one dead-lettered), it gives up after ownMarksWaitMs and publishes
  // every step again, as consumers drop what they have.
  Promise.all([bus.endOffsets?.(STEP_TOPIC) ?? [0], bus.startOffsets?.(STEP_TOPIC) ?? [0]]).then(([ends, starts]) => {
    stepsEnd = ends[0] ?? 0;
    if (!ownMarksRead && (stepsRead >= stepsEnd || (starts[0] ?? 0) >= stepsEnd)) markedBefore();
  }, fail);
  const ownMarksTimer = setTimeout(() => {
    if (ownMarksRead || stopped || failed) return;
    d.log?.(`read ${STEP_TOPIC} only to offset ${stepsRead} of ${stepsEnd} in ${d.ownMarksWaitMs ?? OWN_MARKS_WAIT_MS} ms: processing on, steps marked before the start are published again`);
    markedBefore();
  }, d.ownMarksWaitMs ?? OWN_MARKS_WAIT_MS);
  ownMarksTimer.unref();

  // A stage that waits long says for what: a producer down, or records gone from a topic (retention, compaction) that a
  // rebuild after a restart needs (docs/distributed-stages.md, Restarts).
  let progressAt = -1;
  let lastSeen = marked;
  const watchdog = d.warn
    ? setInterval(() => {
        if (marked !== lastSeen || progressAt < 0) {
          lastSeen = marked;
          progressAt = performance.now();
          return;
        }
        const what = ended ? undefined : !ownMarksRead ? `the marks published before the start (${STEP_TOPIC} read to offset ${stepsRead} of ${stepsEnd})` : gate.waitingFor();
        if (what && performance.now() - progressAt >= (d.stallWarnMs ?? 60_000)) {
          d.warn!(`no step for ${Math.round((performance.now() - progressAt) / 1000)} s: ${what}`);
          progressAt = performance.now();
        }
      }, Math.min(d.stallWarnMs ?? 60_000, 10_000))
    : undefined;
  watchdog?.unref();
  return {
    stage,
    lastStep: () => marked,
    idle: () => chain.then(() => lastMarking),
    stop: () => {
      stopped = true;
      for (const s of subs) s.unsubscribe();
    },
    close: () => {
      stopped = true;
      clearTimeout(ownMarksTimer);
      if (watchdog) clearInterval(watchdog);
      for (const s of [...subs, ...outputs]) s.unsubscribe();
    },
  };
}
