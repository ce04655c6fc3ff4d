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
 * - The work of a per-symbol stage (features, exits) is split in parts, one per partition of md.bars.1m.v1: a symbol's
 *   part is the partition its key falls in. Replica i of n owns the parts p with p % n = i, processes only their
 *   records, numbers its outputs per part (header `qt.part`) and marks the parts it owns; a consumer has a producer's
 *   step once marks cover every part. The parts do not depend on how many replicas there are, so neither do the
 *   records, their tags or their canonical order (part, then seq).
 */
import type { StepMark } from '../../schemas/step-mark.ts';
import type { BusRecord } from '../../schemas/ports.ts';
import type { TopicName } from '../../schemas/topics.ts';
import { stageOf } from '../stages.ts';
import { ownedParts, partOfKey, partsOf, SOLE_REPLICA, type Replica } from './parts.ts';

/** The topic of step marks. */
export const STEP_TOPIC = 'pipe.steps.v1';
/** Header with the step (ms) a record was published in. */
export const STEP_HEADER = 'qt.step';
/** Header with the record's position among everything its stage published in the step for its part. */
export const SEQ_HEADER = 'qt.seq';
/** Header with the part of the producer's work a record belongs to (absent: part 0, a stage that is not split). */
export const PART_HEADER = 'qt.part';

/**
 * How many records a stage may hold for steps it has not processed before it stops fetching the partitions its next
 * step does not need (backpressure); it fetches them again below half of it. Bounds what a stage far ahead of the
 * lockstep, or rebuilding a long history, holds in memory (a decoded feature vector is a few kB).
 */
export const MAX_BUFFERED_RECORDS = 50_000;

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
  /** This stage (these parts) marked the step before a restart: its outputs are all acknowledged, nothing to publish. */
  readonly marked: boolean;
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
  /** part * 2^32 + seq: the canonical position within the producer's step. */
  readonly pos: number;
  readonly producerRank: number;
  readonly lag: number;
  /** Undefined for a record of a part another replica owns: counted, not processed. */
  readonly record: StepRecord | undefined;
}

/** Parts and sequence numbers stay below these, so (part, seq) fits one safe integer. */
const MAX_PART = 0xffff;
const SEQ_SPAN = 2 ** 32;

/** The (step, part, seq) tags of a record published under the step protocol. */
export function stepTags(stage: string, r: Pick<BusRecord<unknown>, 'topic' | 'headers'>): { step: number; part: number; seq: number } {
  const rawStep = r.headers?.[STEP_HEADER] ?? '';
  const rawSeq = r.headers?.[SEQ_HEADER] ?? '';
  const rawPart = r.headers?.[PART_HEADER] ?? '0';
  const step = Number(rawStep);
  const seq = Number(rawSeq);
  const part = Number(rawPart);
  if (!/^\d{1,16}$/.test(rawStep) || !/^\d{1,10}$/.test(rawSeq) || !/^\d{1,5}$/.test(rawPart) || !Number.isSafeInteger(step) || seq >= SEQ_SPAN || part > MAX_PART) {
    throw new MissingStepTagsError(stage, r.topic);
  }
  return { step, part, seq };
}

/** What the marks of one producer say of one step, part by part (replicas mark their own parts). */
interface Coverage {
  readonly prevStep: number;
  readonly partsOf: number;
  /** The counts of each part marked so far (JSON, to compare a mark published again). */
  readonly parts: Map<number, string>;
  /** Records per `${topic}|${partition}`, summed over the parts marked. */
  readonly records: Map<string, number>;
}


/**
 * The inputs of one stepped stage (or of one replica of it): buffers records and marks as they arrive, in any order and
 * with duplicates, and hands out the next step once it is complete. A replica of a split stage counts every record of
 * its inputs (that is how it knows a step is complete) but keeps only those of the parts it owns. No I/O; one per
 * stage process.
 */
export class StepGate {
  private readonly edges: ReadonlyMap<string, StepEdge>;
  private readonly producers: readonly SteppedStage[];
  /** The parts this replica processes; undefined: every record. */
  private readonly owned: ReadonlySet<number> | undefined;
  private readonly ownedList: readonly number[];
  /** Steps this stage marked for every part it owns (before a restart) and has not processed since. */
  private readonly ownMarks = new Set<number>();
  /** Marks per producer and step, merged part by part. */
  private readonly marks = new Map<SteppedStage, Map<number, Coverage>>();
  /** Ingest's marks by the step before them: the sequence of steps. */
  private readonly byPrev = new Map<number, StepMark>();
  /** Records per `${topic}|${step}`, by (part, seq). */
  private readonly buffers = new Map<string, Map<number, Buffered>>();
  /** Distinct records per `${topic}|${step}`, by partition. */
  private readonly received = new Map<string, Map<number, number>>();
  private lastDone = -1;
  private lastPrev = -1;
  /** Records in `buffers`. */
  private held = 0;
  /** Records dropped as already seen or of a processed step. */
  duplicates = 0;

  constructor(
    readonly stage: SteppedStage,
    replica: Replica = SOLE_REPLICA,
  ) {
    const edges = stepEdges(stage);
    this.edges = new Map(edges.map((e) => [e.topic, e]));
    this.producers = [...new Set(['ingest' as const, ...edges.map((e) => e.producer)])];
    this.ownedList = ownedParts(stage, replica);
    this.owned = replica.count === 1 ? undefined : new Set(this.ownedList);
  }

  /** The last step processed (-1 before the first). */
  get done(): number {
    return this.lastDone;
  }

  /**
   * Takes a mark from pipe.steps.v1; marks of stages this one does not read are ignored. Its own marks (of every part it
   * owns) say which steps it finished before a restart.
   */
  offerMark(m: StepMark): void {
    if (m.stage === this.stage) {
      if (m.step > this.lastDone && m.partsOf === partsOf(this.stage) && this.ownedList.every((p) => m.parts.includes(p))) this.ownMarks.add(m.step);
      return;
    }
    const producer = m.stage as SteppedStage;
    if (!this.producers.includes(producer) || m.step <= this.lastPrev) return;
    let byStep = this.marks.get(producer);
    if (!byStep) this.marks.set(producer, (byStep = new Map()));
    let cov = byStep.get(m.step);
    if (!cov) byStep.set(m.step, (cov = { prevStep: m.prevStep, partsOf: m.partsOf, parts: new Map(), records: new Map() }));
    const differently = (why: string): StepProtocolError =>
      new StepProtocolError(this.stage, `${producer} marked step ${m.step} twice, differently: ${why} (a producer that is not deterministic, or two replicas owning one part)`);
    if (cov.prevStep !== m.prevStep) throw differently(`after step ${cov.prevStep}, then after ${m.prevStep}`);
    if (cov.partsOf !== m.partsOf) throw differently(`in ${cov.partsOf} parts, then in ${m.partsOf}`);
    for (const part of m.parts) {
      if (!Number.isInteger(part) || part < 0 || part >= m.partsOf) throw new StepProtocolError(this.stage, `${producer} marked step ${m.step} for part ${part} of ${m.partsOf}`);
      const counts = m.counts.filter((c) => c.part === part);
      const json = JSON.stringify(counts);
      const known = cov.parts.get(part);
      // A producer publishes a step again after a restart; deterministic, it must publish the same counts.
      if (known !== undefined) {
        if (known !== json) throw differently(`part ${part}`);
        continue;
      }
      cov.parts.set(part, json);
      for (const c of counts) {
        const k = `${c.topic}|${c.partition}`;
        cov.records.set(k, (cov.records.get(k) ?? 0) + c.records);
      }
    }
    if (producer === 'ingest' && m.step > this.lastDone && !this.byPrev.has(m.prevStep)) this.byPrev.set(m.prevStep, m);
  }

  /** Takes a record of a stepped input; returns false when it is dropped (a duplicate, or of a processed step). */
  offerRecord(r: BusRecord<unknown>): boolean {
    const edge = this.edges.get(r.topic);
    if (!edge) throw new StepProtocolError(this.stage, `${r.topic} is not a stepped input of ${this.stage}`);
    const { step, part, seq } = stepTags(this.stage, r);
    // The step that consumes it: the same step, or the one after it for a fed-back input.
    if (edge.lag === 0 ? step <= this.lastDone : step <= this.lastPrev) {
      this.duplicates += 1;
      return false;
    }
    const key = `${r.topic}|${step}`;
    let buf = this.buffers.get(key);
    if (!buf) this.buffers.set(key, (buf = new Map()));
    const pos = part * SEQ_SPAN + seq;
    if (buf.has(pos)) {
      this.duplicates += 1;
      return false;
    }
    const mine = this.owned === undefined || this.owned.has(partOfKey(this.stage, r.key));
    buf.set(pos, { pos, producerRank: rank(edge.producer), lag: edge.lag, record: mine ? { topic: edge.topic, value: r.value } : undefined });
    this.held += 1;
    let parts = this.received.get(key);
    if (!parts) this.received.set(key, (parts = new Map()));
    parts.set(r.partition, (parts.get(r.partition) ?? 0) + 1);
    return true;
  }

  /** The step and mark coverage an edge needs for the step after `prevStep` that starts at `step`. */
  private coverage(edge: StepEdge, step: number, prevStep: number): { at: number; cov: Coverage | undefined } {
    const at = edge.lag === 0 ? step : prevStep;
    return { at, cov: at < 0 ? undefined : this.marks.get(edge.producer)?.get(at) };
  }

  /** Records held for steps not processed yet (those of other replicas' parts included). */
  get buffered(): number {
    return this.held;
  }

  /**
   * Whether the next step may still need records of this partition of a stepped input: true unless every producer it
   * reads the topic from has marked the step in full and the partition has all the records the marks count. Unknown
   * (no mark yet of the next step from ingest) counts as not needed: no record is missing before ingest marks a step.
   * A stage may stop fetching a partition that is not needed (backpressure) without ever blocking its next step.
   */
  needs(topic: string, partition: number): boolean {
    const edge = this.edges.get(topic);
    const head = this.byPrev.get(this.lastDone);
    if (!edge || !head) return false;
    const { at, cov } = this.coverage(edge, head.step, head.prevStep);
    if (at < 0) return false;
    if (!cov || cov.parts.size < cov.partsOf) return true;
    const want = cov.records.get(`${topic}|${partition}`) ?? 0;
    return (this.received.get(`${topic}|${at}`)?.get(partition) ?? 0) < want;
  }

  /** What the next step waits for, in words (for a stage's log when it has waited long); undefined when nothing is known of it. */
  waitingFor(): string | undefined {
    const head = this.byPrev.get(this.lastDone);
    if (!head) return this.lastDone < 0 ? undefined : `ingest's mark of the step after ${this.lastDone}`;
    const missing: string[] = [];
    for (const edge of this.edges.values()) {
      const { at, cov } = this.coverage(edge, head.step, head.prevStep);
      if (at < 0) continue;
      if (!cov || cov.parts.size < cov.partsOf) {
        const parts = cov ? ` (parts ${[...Array(cov.partsOf).keys()].filter((p) => !cov.parts.has(p)).join(',')} of ${cov.partsOf})` : '';
        missing.push(`${edge.producer}'s mark of step ${at}${parts}`);
        continue;
      }
      for (const [k, want] of cov.records) {
        const [topic, partition] = k.split('|') as [string, string];
        if (topic !== edge.topic) continue;
        const got = this.received.get(`${topic}|${at}`)?.get(Number(partition)) ?? 0;
        if (got < want) missing.push(`${want - got} of ${want} records of ${topic}[${partition}] in step ${at}`);
      }
    }
    return missing.length === 0 ? undefined : `step ${head.step} waits for ${[...new Set(missing)].join(', ')}`;
  }

  /** The next step when all its inputs are in; undefined while something is missing. */
  next(): ReadyStep | undefined {
    const head = this.byPrev.get(this.lastDone);
    if (!head) return undefined;
    const { step, prevStep } = head;
    const marked = new Map<string, number>();
    for (const edge of this.edges.values()) {
      const { at, cov } = this.coverage(edge, step, prevStep);
      if (at < 0) continue;
      if (!cov || cov.parts.size < cov.partsOf) return undefined;
      let total = 0;
      for (const [k, want] of cov.records) {
        const [topic, partition] = k.split('|') as [string, string];
        if (topic !== edge.topic) continue;
        total += want;
        const got = this.received.get(`${topic}|${at}`)?.get(Number(partition)) ?? 0;
        if (got < want) return undefined;
        if (got > want) throw new StepProtocolError(this.stage, `${got} distinct records of ${topic}[${partition}] in step ${at}, marked ${want}`);
      }
      marked.set(edge.topic, total);
    }
    const items: Buffered[] = [];
    for (const edge of this.edges.values()) {
      const at = edge.lag === 0 ? step : prevStep;
      const key = `${edge.topic}|${at}`;
      const buf = this.buffers.get(key);
      // Records on a partition the marks do not list, or more than they count, break the producer's determinism.
      const want = marked.get(edge.topic) ?? 0;
      if ((buf?.size ?? 0) !== want) throw new StepProtocolError(this.stage, `${buf?.size ?? 0} distinct records of ${edge.topic} in step ${at}, marked ${want}`);
      if (buf) for (const b of buf.values()) if (b.record) items.push(b);
      this.held -= buf?.size ?? 0;
      this.buffers.delete(key);
      this.received.delete(key);
    }
    items.sort((a, b) => b.lag - a.lag || a.producerRank - b.producerRank || a.pos - b.pos);
    this.lastDone = step;
    this.lastPrev = prevStep;
    this.byPrev.delete(prevStep);
    // Marks older than the step before this one are no longer needed by any edge.
    for (const byStep of this.marks.values()) for (const s of [...byStep.keys()]) if (s < prevStep) byStep.delete(s);
    const wasMarked = this.ownMarks.delete(step);
    for (const s of this.ownMarks) if (s < step) this.ownMarks.delete(s);
    return { step, prevStep, clock: head.clock, last: head.last, marked: wasMarked, records: items.map((i) => i.record!) };
  }
}
