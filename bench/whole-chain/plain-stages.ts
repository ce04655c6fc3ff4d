/**
 * What the plain loop needs beyond the product's exported engines: the micro-batching of the ensemble epic (its scoring
 * is the epic's own createEnsembleScorer) and a clock moved by hand.
 */
import type { SchedulerLike } from 'rxjs';
import type { ClassifierModel } from '../../models/model-port.ts';
import { createEnsembleScorer } from '../../pipelines/ensemble/epic.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { noopMeter, type Outgoing } from '../../schemas/ports.ts';

/**
 * The ensemble epic's micro-batching without RxJS: vectors of one tsEvent form a batch that closes when a vector of
 * another tsEvent arrives or maxWaitMs after its first vector (the replay timer); each batch is scored by the epic's
 * own scorer.
 */
export class PlainEnsemble {
  private open: { key: number; due: number; vectors: FeatureVector[] } | null = null;
  private readonly closed: { vectors: FeatureVector[]; tsInit: number }[] = [];
  /** Batches closed by a vector of another tsEvent before their timer (the chain would score them at once). */
  earlyCloses = 0;
  /** The epic's own scoring of a batch (pipelines/ensemble/epic.ts createEnsembleScorer). */
  readonly score: (batch: readonly FeatureVector[], tsInit: number) => Promise<Outgoing[]>;

  constructor(models: readonly ClassifierModel[], private readonly maxWaitMs: number) {
    this.score = createEnsembleScorer({ models, meter: noopMeter });
  }

  /** Takes a vector at clock time `now`. */
  add(v: FeatureVector, now: number): void {
    if (this.open && this.open.key === v.tsEvent) {
      this.open.vectors.push(v);
      return;
    }
    if (this.open) {
      this.closed.push({ vectors: this.open.vectors, tsInit: now });
      this.earlyCloses++;
    }
    this.open = { key: v.tsEvent, due: now + this.maxWaitMs, vectors: [v] };
  }

  /** Batches ready once the replay time reaches `ms`, in the order they closed (a timer closes at its due time). */
  takeReady(ms: number): { vectors: FeatureVector[]; tsInit: number }[] {
    if (this.open && this.open.due <= ms) {
      this.closed.push({ vectors: this.open.vectors, tsInit: this.open.due });
      this.open = null;
    }
    return this.closed.splice(0);
  }
}

/** A clock the plain loop moves by hand, usable where the engines take a Clock or read a SchedulerLike's now(). */
export function manualClock(startMs: number): { t: number; now(): number; asScheduler(): SchedulerLike } {
  const c = {
    t: startMs,
    now(): number {
      return c.t;
    },
    // The engines only call now(); nothing is scheduled on it.
    asScheduler: (): SchedulerLike => c as unknown as SchedulerLike,
  };
  return c;
}
