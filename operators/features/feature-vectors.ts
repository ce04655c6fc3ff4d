import { defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import type { Bar } from '../../schemas/bar.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';
import { FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from './feature-set.ts';
import { createFeatureState, stepFeatures, type FeatureState } from './feature-state.ts';

/** Options of the feature stage. */
export interface FeatureVectorsOptions {
  /** Stamps tsInit of each vector. */
  readonly scheduler: SchedulerLike;
  /** Bar interval; a bar more than one interval after the previous one of its instrument is a gap. Default 60000. */
  readonly intervalMs?: number;
}

interface Instrument {
  state: FeatureState;
  lastOpenTime: number;
}

/**
 * Feature vectors from closed bars, per instrument, without RxJS: the engine behind `featureVectors` and the
 * benchmark's plain loop. Per instrument it keeps one FeatureState and the last bar's open time:
 * - a bar whose openTime is not after the last one (a redelivered or out-of-order bar) is ignored, so replays and
 *   at-least-once delivery do not feed a bar twice;
 * - a bar after a gap in the grid (openTime > last + interval) restarts the instrument's state, because returns and
 *   averages across a hole would mix unrelated prices; the warm-up (FEATURE_WARMUP_BARS) starts again.
 */
export class FeatureEngine {
  private readonly byExchange = new Map<string, Map<string, Instrument>>();
  private readonly intervalMs: number;

  constructor(private readonly opts: FeatureVectorsOptions) {
    this.intervalMs = opts.intervalMs ?? 60_000;
  }

  /** Feeds one bar; returns its feature vector, or null during the warm-up and for ignored bars. */
  onBar(bar: Bar): FeatureVector | null {
    let bySymbol = this.byExchange.get(bar.exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.byExchange.set(bar.exchange, bySymbol);
    }
    let inst = bySymbol.get(bar.symbol);
    if (inst === undefined) {
      inst = { state: createFeatureState(), lastOpenTime: Number.NaN };
      bySymbol.set(bar.symbol, inst);
    } else if (bar.openTime <= inst.lastOpenTime) {
      return null;
    } else if (bar.openTime !== inst.lastOpenTime + this.intervalMs) {
      inst.state = createFeatureState();
    }
    inst.lastOpenTime = bar.openTime;
    if (!stepFeatures(inst.state, bar)) return null;
    return toFeatureVector(bar, inst.state, this.opts.scheduler.now());
  }
}

/** The immutable feature vector of a bar from a state that has just stepped on it (stepFeatures returned true). */
export function toFeatureVector(bar: Bar, state: FeatureState, tsInit: number): FeatureVector {
  return {
    id: deriveId('feat', bar.id, FEATURE_SET),
    tsEvent: bar.tsEvent,
    tsInit,
    exchange: bar.exchange,
    symbol: bar.symbol,
    barId: bar.id,
    openTime: bar.openTime,
    close: bar.close,
    featureSet: FEATURE_SET,
    values: Array.from(state.values),
    windowLength: WINDOW_LENGTH,
    windowChannels: WINDOW_CHANNELS.length,
    window: state.window.toArray(),
  };
}

/**
 * Feature vectors of closed bars: per instrument (state in a Map per subscription), FEATURE_NAMES in order and the
 * window of the last WINDOW_LENGTH bars (WINDOW_CHANNELS, oldest first, row-major), from the bar and earlier bars only.
 * Emits nothing for the first FEATURE_WARMUP_BARS - 1 bars of an instrument, or of a run of bars after a gap, and
 * ignores bars not after the previous bar of their instrument (see FeatureEngine). Every value emitted is finite.
 */
export function featureVectors(opts: FeatureVectorsOptions): OperatorFunction<Bar, FeatureVector> {
  return (source) =>
    defer(() => {
      const engine = new FeatureEngine(opts);
      return source.pipe(
        map((bar) => engine.onBar(bar)),
        filter((v): v is FeatureVector => v !== null),
      );
    });
}
