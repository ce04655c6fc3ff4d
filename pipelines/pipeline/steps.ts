/**
 * The step protocol: how the stages of the chain agree on what each of them processes, so that the same input gives
 * the same outputs whether the stages share one process (`qt run`, memory bus) or each runs as its own process over
 * Kafka (`qt pipeline <stage>`), however the records interleave and however often a process restarts.
 *
 * - Ingest cuts the market into bar steps (the minute of the ticks it reads) and tags every record it publishes with
 *   its step and its sequence number within the step (headers `qt.step`, `qt.seq`).
 * - Every stage, once it has published (and had acknowledged) all its outputs of a step, publishes a StepMark on
 *   `pipe.steps.v1`: the step, the step before it, the step's clock and how many records it published per partition.
 * - A stage processes step s once every producer of its inputs has marked the step it needs and every record those
 *   marks count has arrived. Inputs from a stage earlier in the flow are those of step s; inputs fed back from a stage
 *   later in the flow (positions, equity and order events to brains and risk, exit events to execution) are those of
 *   the step before s. The records of a step are processed in one canonical order: fed-back before forward, then by
 *   the producer's place in the flow, then in the order the producer published them.
 * - A record already seen (same topic, step and sequence number: a resend, or a restarted producer publishing its steps
 *   again) is dropped, and so is a record of a step the stage has processed.
 */
import type { StepMark } from '../../schemas/step-mark.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { Bus, BusRecord, Outgoing } from '../../schemas/ports.ts';
import { topicConfig } from '../../schemas/topic-config.ts';
import type { TopicName } from '../../schemas/topics.ts';
import { kafkaPartition } from '../../sources/murmur2.ts';
import { stageOf, type StageName } from '../stages.ts';

/** The topic of step marks. */
export const STEP_TOPIC = 'pipe.steps.v1';
/** Header with the step (ms) a record was published in. */
export const STEP_HEADER = 'qt.step';
/** Header with the record's position among everything its stage published in the step. */
export const SEQ_HEADER = 'qt.seq';

/** The stages that follow the step protocol, in flow order (ingest starts each step). */
export const STEPPED_STAGES = ['ingest', 'features', 'ensemble', 'brains', 'risk', 'execution', 'exits'] as const;
/** A stage that follows the step protocol. */
export type SteppedStage = (typeof STEPPED_STAGES)[number];

/** True for a stage of the chain that follows the step protocol. */
export function isStepped(stage: string): stage is SteppedStage {
  return (STEPPED_STAGES as readonly string[]).includes(stage);
}

/** One stepped input of a stage: its producer and whether it is of the same step (0) or of the step before (1). */
export interface StepEdge {
  readonly topic: TopicName;
  readonly producer: SteppedStage;
  readonly lag: 0 | 1;
}

const rank = (s: SteppedStage): number => STEPPED_STAGES.indexOf(s);

/** The stepped inputs of a stage, from STAGES: each input topic published by a stepped stage. */
export function stepEdges(stage: SteppedStage): readonly StepEdge[] {
  const edges: StepEdge[] = [];
  for (const topic of stageOf(stage).inputs) {
    const producer = STEPPED_STAGES.find((p) => (stageOf(p).outputs as readonly string[]).includes(topic));
    if (producer) edges.push({ topic, producer, lag: rank(producer) < rank(stage) ? 0 : 1 });
  }
  return edges;
}

/** Inputs of a stage that no stepped stage publishes (the model registry feed): handled as they come. */
export function sideInputs(stage: SteppedStage): readonly TopicName[] {
  const stepped = new Set(stepEdges(stage).map((e) => e.topic));
  return stageOf(stage).inputs.filter((t) => !stepped.has(t));
}

/** A record of a step, ready to be processed. */
export interface StepRecord {
  readonly topic: TopicName;
  readonly value: unknown;
}

/** A step whose inputs are complete, with its records in canonical order. */
export interface ReadyStep {
  readonly step: number;
  readonly prevStep: number;
  readonly clock: number;
  readonly last: boolean;
  readonly records: readonly StepRecord[];
}

/** A stepped record or mark that breaks the protocol (a missing header, more records than marked): corrupt state. */
export class StepProtocolError extends Error {
  override readonly name: string = 'StepProtocolError';
  readonly retriable = false;
  constructor(readonly stage: string, reason: string) {
    super(`${stage}: step protocol: ${reason}`);
  }
}

/** A record of a stepped input without valid step tags (published outside the protocol): dead-lettered, not processed. */
export class MissingStepTagsError extends StepProtocolError {
  override readonly name = 'MissingStepTagsError';
  constructor(stage: string, readonly topic: string) {
    super(stage, `a record of ${topic} without valid ${STEP_HEADER}/${SEQ_HEADER} headers`);
  }
}

interface Buffered {
  readonly seq: number;
  readonly producerRank: number;
  readonly lag: number;
  readonly record: StepRecord;
}

/** The (step, seq) tags of a record published under the step protocol. */
export function stepTags(stage: string, r: Pick<BusRecord<unknown>, 'topic' | 'headers'>): { step: number; seq: number } {
  const rawStep = r.headers?.[STEP_HEADER] ?? '';
  const rawSeq = r.headers?.[SEQ_HEADER] ?? '';
  const step = Number(rawStep);
  const seq = Number(rawSeq);
  if (!/^\d{1,16}$/.test(rawStep) || !/^\d{1,16}$/.test(rawSeq) || !Number.isSafeInteger(step) || !Number.isSafeInteger(seq)) {
    throw new MissingStepTagsError(stage, r.topic);
  }
  return { step, seq };
}

/**
 * The inputs of one stepped stage: buffers records and marks as they arrive, in any order and with duplicates, and
 * hands out the next step once it is complete. No I/O; one per stage process.
 */
export class StepGate {
  private readonly edges: ReadonlyMap<string, StepEdge>;
  private readonly producers: readonly SteppedStage[];
  /** Marks per producer and step. */
  private readonly marks = new Map<SteppedStage, Map<number, StepMark>>();
  /** Ingest's marks by the step before them: the sequence of steps. */
  private readonly byPrev = new Map<number, StepMark>();
  /** Records per `${topic}|${step}`, by seq. */
  private readonly buffers = new Map<string, Map<number, Buffered>>();
  /** Distinct records per `${topic}|${step}`, by partition. */
  private readonly received = new Map<string, Map<number, number>>();
  private lastDone = -1;
  private lastPrev = -1;
  /** Records dropped as already seen or of a processed step. */
  duplicates = 0;

  constructor(readonly stage: SteppedStage) {
    const edges = stepEdges(stage);
    this.edges = new Map(edges.map((e) => [e.topic, e]));
    this.producers = [...new Set(['ingest' as const, ...edges.map((e) => e.producer)])];
  }

  /** The last step processed (-1 before the first). */
  get done(): number {
    return this.lastDone;
  }

  /** Takes a mark from pipe.steps.v1; marks of stages this one does not read are ignored. */
  offerMark(m: StepMark): void {
    const producer = m.stage as SteppedStage;
    if (!this.producers.includes(producer) || m.step <= this.lastPrev) return;
    let byStep = this.marks.get(producer);
    if (!byStep) this.marks.set(producer, (byStep = new Map()));
    const known = byStep.get(m.step);
    if (!known) byStep.set(m.step, m);
    // A producer publishes a step again after a restart; deterministic, it must publish the same mark.
    else if (known.prevStep !== m.prevStep || JSON.stringify(known.counts) !== JSON.stringify(m.counts)) {
      throw new StepProtocolError(this.stage, `${producer} marked step ${m.step} twice, differently (a producer that is not deterministic, or two producers of one stage)`);
    }
    if (producer === 'ingest' && m.step > this.lastDone && !this.byPrev.has(m.prevStep)) this.byPrev.set(m.prevStep, m);
  }

  /** Takes a record of a stepped input; returns false when it is dropped (a duplicate, or of a processed step). */
  offerRecord(r: BusRecord<unknown>): boolean {
    const edge = this.edges.get(r.topic);
    if (!edge) throw new StepProtocolError(this.stage, `${r.topic} is not a stepped input of ${this.stage}`);
    const { step, seq } = stepTags(this.stage, r);
    // The step that consumes it: the same step, or the one after it for a fed-back input.
    if (edge.lag === 0 ? step <= this.lastDone : step <= this.lastPrev) {
      this.duplicates += 1;
      return false;
    }
    const key = `${r.topic}|${step}`;
    let buf = this.buffers.get(key);
    if (!buf) this.buffers.set(key, (buf = new Map()));
    if (buf.has(seq)) {
      this.duplicates += 1;
      return false;
    }
    buf.set(seq, { seq, producerRank: rank(edge.producer), lag: edge.lag, record: { topic: edge.topic, value: r.value } });
    let parts = this.received.get(key);
    if (!parts) this.received.set(key, (parts = new Map()));
    parts.set(r.partition, (parts.get(r.partition) ?? 0) + 1);
    return true;
  }

  /** What the next step waits for, in words (for a stage's log when it has waited long); undefined when nothing is known of it. */
  waitingFor(): string | undefined {
    const head = this.byPrev.get(this.lastDone);
    if (!head) return this.lastDone < 0 ? undefined : `ingest's mark of the step after ${this.lastDone}`;
    const missing: string[] = [];
    for (const edge of this.edges.values()) {
      const at = edge.lag === 0 ? head.step : head.prevStep;
      if (at < 0) continue;
      const mark = this.marks.get(edge.producer)?.get(at);
      if (!mark) {
        missing.push(`${edge.producer}'s mark of step ${at}`);
        continue;
      }
      for (const c of mark.counts) {
        if (c.topic !== edge.topic) continue;
        const got = this.received.get(`${c.topic}|${at}`)?.get(c.partition) ?? 0;
        if (got < c.records) missing.push(`${c.records - got} of ${c.records} records of ${c.topic}[${c.partition}] in step ${at}`);
      }
    }
    return missing.length === 0 ? undefined : `step ${head.step} waits for ${[...new Set(missing)].join(', ')}`;
  }

  /** The next step when all its inputs are in; undefined while something is missing. */
  next(): ReadyStep | undefined {
    const head = this.byPrev.get(this.lastDone);
    if (!head) return undefined;
    const { step, prevStep } = head;
    for (const edge of this.edges.values()) {
      const at = edge.lag === 0 ? step : prevStep;
      if (at < 0) continue;
      const mark = this.marks.get(edge.producer)?.get(at);
      if (!mark) return undefined;
      for (const c of mark.counts) {
        if (c.topic !== edge.topic) continue;
        const got = this.received.get(`${c.topic}|${at}`)?.get(c.partition) ?? 0;
        if (got < c.records) return undefined;
        if (got > c.records) throw new StepProtocolError(this.stage, `${got} distinct records of ${c.topic}[${c.partition}] in step ${at}, marked ${c.records}`);
      }
    }
    const items: Buffered[] = [];
    for (const edge of this.edges.values()) {
      const at = edge.lag === 0 ? step : prevStep;
      const key = `${edge.topic}|${at}`;
      const buf = this.buffers.get(key);
      // Records on a partition the mark does not list, or more than it counts, break the producer's determinism.
      const marked = at < 0 ? 0 : this.marks.get(edge.producer)!.get(at)!.counts.filter((c) => c.topic === edge.topic).reduce((n, c) => n + c.records, 0);
      if ((buf?.size ?? 0) !== marked) throw new StepProtocolError(this.stage, `${buf?.size ?? 0} distinct records of ${edge.topic} in step ${at}, marked ${marked}`);
      if (buf) items.push(...buf.values());
      this.buffers.delete(key);
      this.received.delete(key);
    }
    items.sort((a, b) => b.lag - a.lag || a.producerRank - b.producerRank || a.seq - b.seq);
    this.lastDone = step;
    this.lastPrev = prevStep;
    this.byPrev.delete(prevStep);
    // Marks older than the step before this one are no longer needed by any edge.
    for (const byStep of this.marks.values()) for (const s of [...byStep.keys()]) if (s < prevStep) byStep.delete(s);
    return { step, prevStep, clock: head.clock, last: head.last, records: items.map((i) => i.record) };
  }
}

/**
 * Publishes one stage's outputs under the step protocol: tags each with its step and sequence number, counts them per
 * partition, and ends the step with its mark once every output is acknowledged.
 */
export class StepPublisher {
  private step = -1;
  private prevStep = -1;
  private seq = 0;
  private counts = new Map<string, { topic: string; partition: number; records: number }>();
  private inFlight: Promise<void>[] = [];
  /** The marks queued for publishing, in step order. */
  private marks: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: Pick<Bus, 'publish'>,
    readonly stage: SteppedStage,
  ) {}

  /** True between begin() and end(). */
  get open(): boolean {
    return this.step >= 0;
  }

  /** Starts a step: what is published until end() belongs to it. */
  begin(step: number, prevStep: number): void {
    if (!Number.isSafeInteger(step) || step < 0) throw new StepProtocolError(this.stage, `invalid step ${step}`);
    if (this.open) throw new StepProtocolError(this.stage, `step ${step} begun while step ${this.step} is open`);
    this.step = step;
    this.prevStep = prevStep;
    this.seq = 0;
    this.counts = new Map();
    this.inFlight = [];
  }

  /** Publishes one output of the open step; its promise settles with the bus's acknowledgement. */
  publish(o: Outgoing): Promise<void> {
    if (!this.open) throw new StepProtocolError(this.stage, `an output on ${o.topic} outside a step`);
    const partitions = topicConfig(o.topic).partitions;
    const partition = kafkaPartition(o.key, partitions);
    const k = `${o.topic}|${partition}`;
    const c = this.counts.get(k);
    if (c) c.records += 1;
    else this.counts.set(k, { topic: o.topic, partition, records: 1 });
    const p = this.bus.publish(o.topic, o.key, o.value as never, { [STEP_HEADER]: String(this.step), [SEQ_HEADER]: String(this.seq++) });
    this.inFlight.push(p);
    return p;
  }

  /**
   * Ends the open step at once (the next may begin right away) and resolves with its mark once every output of the step
   * is acknowledged and the mark after them. Marks are published in step order, each without waiting for the one
   * before to be acknowledged, so a stage can process the next steps while the last ones' acknowledgements are on
   * their way.
   */
  end(clock: number, last: boolean): Promise<StepMark> {
    if (!this.open) return Promise.reject(new StepProtocolError(this.stage, 'end() without an open step'));
    const { step, prevStep, inFlight } = this;
    const counts = [...this.counts.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const mark: StepMark = { id: deriveId('step', this.stage, step), tsEvent: clock, tsInit: clock, stage: this.stage, step, prevStep, clock, last, counts };
    // The step closes now: an output after this point is a protocol breach, not a record the mark misses.
    this.step = -1;
    // Queued behind the previous mark's publish (not its acknowledgement), after this step's outputs are acknowledged.
    const queued = this.marks.then(async () => {
      await Promise.all(inFlight);
      return { ack: this.bus.publish(STEP_TOPIC, this.stage, mark) };
    });
    // A failed mark fails every later one: a mark must never go out when an earlier step's could not.
    this.marks = queued.then(() => undefined);
    const marked = queued.then(async ({ ack }) => {
      await ack;
      return mark;
    });
    return marked;
  }
}
