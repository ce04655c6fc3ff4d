import type { StepMark } from '../../schemas/step-mark.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { Bus, Outgoing } from '../../schemas/ports.ts';
import { topicConfig } from '../../schemas/topic-config.ts';
import { kafkaPartition } from '../../sources/murmur2.ts';
import { ownedParts, partsOf, SOLE_REPLICA, type Replica } from './parts.ts';
import { PART_HEADER, SEQ_HEADER, STEP_HEADER, STEP_TOPIC, StepProtocolError, type SteppedStage } from './steps.ts';

/**
 * Publishes one stage's outputs (or one replica's) under the step protocol: tags each with its step, part and
 * sequence number within the part, counts them per part and partition, and ends the step with its mark once every
 * output is acknowledged.
 */
export class StepPublisher {
  private step = -1;
  private prevStep = -1;
  private readonly partsOf: number;
  private readonly parts: readonly number[];
  private readonly owned: ReadonlySet<number>;
  /** Next seq per part. */
  private seqs = new Map<number, number>();
  private counts = new Map<string, { topic: string; partition: number; records: number; part: number }>();
  private inFlight: Promise<void>[] = [];
  /** The open step was marked before a restart: its outputs are counted, not published again. */
  private silent = false;
  /** The marks queued for publishing, in step order. */
  private marks: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: Pick<Bus, 'publish'>,
    readonly stage: SteppedStage,
    replica: Replica = SOLE_REPLICA,
  ) {
    this.partsOf = partsOf(stage);
    this.parts = ownedParts(stage, replica);
    this.owned = new Set(this.parts);
  }

  /** True between begin() and end(). */
  get open(): boolean {
    return this.step >= 0;
  }

  /**
   * Starts a step: what is published until end() belongs to it. A step `marked` before a restart (its outputs and mark
   * acknowledged then) is replayed silently: its outputs are counted and dropped, and its mark is not sent again.
   */
  begin(step: number, prevStep: number, marked = false): void {
    if (!Number.isSafeInteger(step) || step < 0) throw new StepProtocolError(this.stage, `invalid step ${step}`);
    if (this.open) throw new StepProtocolError(this.stage, `step ${step} begun while step ${this.step} is open`);
    this.step = step;
    this.prevStep = prevStep;
    this.silent = marked;
    this.seqs = new Map();
    this.counts = new Map();
    this.inFlight = [];
  }

  /** Publishes one output of the open step; its promise settles with the bus's acknowledgement. */
  publish(o: Outgoing): Promise<void> {
    if (!this.open) throw new StepProtocolError(this.stage, `an output on ${o.topic} outside a step`);
    const part = this.partsOf === 1 ? 0 : kafkaPartition(o.key, this.partsOf);
    if (!this.owned.has(part)) throw new StepProtocolError(this.stage, `an output on ${o.topic} (key ${o.key}) of part ${part}, which this replica does not own`);
    const partition = kafkaPartition(o.key, topicConfig(o.topic).partitions);
    const k = `${part}|${o.topic}|${partition}`;
    const c = this.counts.get(k);
    if (c) c.records += 1;
    else this.counts.set(k, { topic: o.topic, partition, records: 1, part });
    const seq = this.seqs.get(part) ?? 0;
    this.seqs.set(part, seq + 1);
    const headers: Record<string, string> = { [STEP_HEADER]: String(this.step), [SEQ_HEADER]: String(seq) };
    if (this.partsOf > 1) headers[PART_HEADER] = String(part);
    if (this.silent) return Promise.resolve();
    const p = this.bus.publish(o.topic, o.key, o.value as never, headers);
    this.inFlight.push(p);
    return p;
  }

  /**
   * Ends the open step at once (the next may begin right away) and resolves with its mark once every output of the step
   * is acknowledged and the mark after them. Marks are published in step order, each without waiting for the one
   * before to be acknowledged, so a stage can process the next steps while the last ones' acknowledgements are on
   * their way. The mark covers every part this replica owns, those without records included.
   */
  end(clock: number, last: boolean): Promise<StepMark> {
    if (!this.open) return Promise.reject(new StepProtocolError(this.stage, 'end() without an open step'));
    const { step, prevStep, inFlight, parts, partsOf } = this;
    const counts = [...this.counts.values()].sort((a, b) => a.part - b.part || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    // The only replica's mark keeps the plain id; a replica's names its parts, so the journal keeps one row per replica.
    const id = parts.length === partsOf ? deriveId('step', this.stage, step) : deriveId('step', this.stage, step, `parts ${parts.join(',')} of ${partsOf}`);
    const mark: StepMark = { id, tsEvent: clock, tsInit: clock, stage: this.stage, step, prevStep, clock, last, counts, parts: [...parts], partsOf };
    // The step closes now: an output after this point is a protocol breach, not a record the mark misses.
    this.step = -1;
    if (this.silent) return Promise.resolve(mark);
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
