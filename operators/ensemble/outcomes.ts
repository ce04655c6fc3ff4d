import { defer, type OperatorFunction } from 'rxjs';
import { concatMap } from 'rxjs/operators';
import type { VolRegime } from '../../schemas/ensemble-signal.ts';
import type { ModelRole } from '../../schemas/model-vote.ts';
import { labelOf, type ClassIndex } from './scoring.ts';

/** The label spec the outcomes are measured with: the models' horizon and band, and the bar length of the grid. */
export interface OutcomeSpec {
  /** H: the outcome of a bar is known H bars later. */
  readonly horizonBars: number;
  /** Bar length; the outcome bar of `openTime` is the one opening at openTime + H * barMs. */
  readonly barMs: number;
  /** Neutral band = k * vol * sqrt(H) (LabelSpec.k). */
  readonly k: number;
}

/** One member's probabilities on a scored bar (member `ensemble` for the ensemble's own vote). */
export interface PendingVote {
  readonly member: string;
  readonly modelVersion: string;
  readonly role: ModelRole;
  readonly pDown: number;
  readonly pFlat: number;
  readonly pUp: number;
}

/** A voted bar waiting for its outcome. */
export interface PendingBar {
  /** The feature vector voted on. */
  readonly featureId: string;
  readonly exchange: string;
  readonly symbol: string;
  /** Open time of the bar the vector closes on. */
  readonly openTime: number;
  /** tsEvent of the votes. */
  readonly tsVote: number;
  /** Close of that bar: the start of the forward return. */
  readonly close: number;
  /** rvol_30 at the bar: the 1-bar volatility of the label's band. */
  readonly vol: number;
  /** Market-wide volatility regime at the vote (the governance scores per regime with it). */
  readonly volRegime: VolRegime;
  readonly votes: readonly PendingVote[];
}

/** A later bar of an instrument, as the tracker needs it (a FeatureVector fits). */
export interface BarClose {
  readonly exchange: string;
  readonly symbol: string;
  readonly openTime: number;
  readonly close: number;
  readonly tsEvent: number;
}

/** A pending bar whose horizon has passed, with its realised forward return and class. */
export interface ResolvedOutcome {
  readonly bar: PendingBar;
  /** ln(close at openTime + H * barMs / close at openTime). */
  readonly fwdRet: number;
  /** labelOf(fwdRet, bar.vol, spec). */
  readonly label: ClassIndex;
  /** tsEvent of the bar that resolved it: when the outcome became known. */
  readonly tsEvent: number;
}

/** Counters of the tracker since it was built. */
export interface OutcomeCounts {
  /** Bars waiting for their outcome now. */
  readonly pending: number;
  /** Bars resolved. */
  readonly resolved: number;
  /** Bars that can no longer resolve: their outcome bar never came (a gap) or the queue overflowed. */
  readonly dropped: number;
  /** Bars ignored by add because they were not after the last added bar of their instrument (redelivery). */
  readonly ignored: number;
}

/** A bar or spec the tracker cannot use: a broken invariant of the caller (validation happens at the edge). */
export class OutcomeInputError extends Error {
  override readonly name = 'OutcomeInputError';
  readonly retriable = false;
  constructor(
    readonly field: 'horizonBars' | 'barMs' | 'k' | 'close' | 'vol' | 'openTime',
    readonly value: number,
  ) {
    super(`outcomes: ${field} ${value} is not valid`);
  }
}

const NONE: readonly ResolvedOutcome[] = Object.freeze([]);

interface Instrument {
  /** Pending bars in increasing openTime. */
  readonly queue: PendingBar[];
  lastAdded: number;
}

/**
 * Realised outcomes of voted bars, per instrument, without clocks: `add` registers a voted bar, `observe` is called
 * with every later bar of that instrument and returns the bars it resolves (those opened exactly H bars before it),
 * with fwdRet and the label of the models' definition (labelOf). A pending bar whose outcome bar has passed without
 * being observed (a gap in the grid) is dropped and counted, never resolved against a different horizon. Memory is
 * bounded: per instrument at most H + 1 pending bars (the oldest is dropped beyond that, which only happens when
 * observe is not called for each bar).
 */
export class OutcomeTracker {
  private readonly byExchange = new Map<string, Map<string, Instrument>>();
  private readonly horizonMs: number;
  private readonly maxQueue: number;
  private nPending = 0;
  private nResolved = 0;
  private nDropped = 0;
  private nIgnored = 0;

  constructor(private readonly spec: OutcomeSpec) {
    if (!Number.isInteger(spec.horizonBars) || spec.horizonBars < 1) throw new OutcomeInputError('horizonBars', spec.horizonBars);
    if (!(spec.barMs > 0) || !Number.isFinite(spec.barMs)) throw new OutcomeInputError('barMs', spec.barMs);
    if (!(spec.k >= 0) || !Number.isFinite(spec.k)) throw new OutcomeInputError('k', spec.k);
    this.horizonMs = spec.horizonBars * spec.barMs;
    this.maxQueue = spec.horizonBars + 1;
  }

  /** Registers a voted bar; false (and counted as ignored) when it is not after the last bar added for its instrument. */
  add(bar: PendingBar): boolean {
    if (!(bar.close > 0) || !Number.isFinite(bar.close)) throw new OutcomeInputError('close', bar.close);
    if (!(bar.vol >= 0) || !Number.isFinite(bar.vol)) throw new OutcomeInputError('vol', bar.vol);
    if (!Number.isFinite(bar.openTime)) throw new OutcomeInputError('openTime', bar.openTime);
    const inst = this.instrument(bar.exchange, bar.symbol);
    if (bar.openTime <= inst.lastAdded) {
      this.nIgnored++;
      return false;
    }
    inst.lastAdded = bar.openTime;
    inst.queue.push(bar);
    this.nPending++;
    if (inst.queue.length > this.maxQueue) {
      inst.queue.shift();
      this.nPending--;
      this.nDropped++;
    }
    return true;
  }

  /** A later bar of an instrument: returns the outcomes it resolves (usually none or one), oldest first. */
  observe(now: BarClose): readonly ResolvedOutcome[] {
    const queue = this.byExchange.get(now.exchange)?.get(now.symbol)?.queue;
    if (queue === undefined || queue.length === 0) return NONE;
    const horizon = this.horizonMs;
    if (queue[0]!.openTime + horizon > now.openTime) return NONE;
    if (!(now.close > 0) || !Number.isFinite(now.close)) throw new OutcomeInputError('close', now.close);
    let out: ResolvedOutcome[] | null = null;
    while (queue.length > 0 && queue[0]!.openTime + horizon <= now.openTime) {
      const bar = queue.shift()!;
      this.nPending--;
      if (bar.openTime + horizon !== now.openTime) {
        this.nDropped++;
        continue;
      }
      const fwdRet = Math.log(now.close / bar.close);
      (out ??= []).push({ bar, fwdRet, label: labelOf(fwdRet, bar.vol, this.spec), tsEvent: now.tsEvent });
      this.nResolved++;
    }
    return out ?? NONE;
  }

  /** Counters since the tracker was built. */
  counts(): OutcomeCounts {
    return { pending: this.nPending, resolved: this.nResolved, dropped: this.nDropped, ignored: this.nIgnored };
  }

  private instrument(exchange: string, symbol: string): Instrument {
    let bySymbol = this.byExchange.get(exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.byExchange.set(exchange, bySymbol);
    }
    let inst = bySymbol.get(symbol);
    if (inst === undefined) {
      inst = { queue: [], lastAdded: Number.NEGATIVE_INFINITY };
      bySymbol.set(symbol, inst);
    }
    return inst;
  }
}

/** One input of the outcomes operator: a voted bar to track, or a later bar that may resolve earlier ones. */
export type OutcomeInput = { readonly kind: 'pending'; readonly bar: PendingBar } | { readonly kind: 'observe'; readonly bar: BarClose };

/** The OutcomeTracker as an operator (state per subscription): emits every resolved outcome, in order. */
export function outcomes(spec: OutcomeSpec): OperatorFunction<OutcomeInput, ResolvedOutcome> {
  new OutcomeTracker(spec); // validates the spec at build time, not at the first subscription
  return (source) =>
    defer(() => {
      const tracker = new OutcomeTracker(spec);
      return source.pipe(
        concatMap((ev) => {
          if (ev.kind === 'observe') return tracker.observe(ev.bar);
          tracker.add(ev.bar);
          return NONE;
        }),
      );
    });
}
