import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { instrumentKey } from '../../schemas/common.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';

/** Settings of the market watch: data staleness and the market-wide volatility regime. */
export interface MarketWatchConfig {
  /** A symbol is stale when its last signal is more than this behind the last completed bar time (or the clock). */
  readonly staleAfterMs: number;
  /** A symbol silent for longer than this is forgotten (delisted, out of the data) and no longer counts as stale. */
  readonly forgetAfterMs: number;
  /** Weight of each new sample in the slow EWMA of the median realised volatility (one sample per bar time). */
  readonly volEwmaAlpha: number;
  /** Bar-time samples the EWMA needs before the volatility ratio is trusted. */
  readonly volWarmupBars: number;
}

/** Defaults of the market watch (1m bars: stale after 3 missing bars; EWMA of about 50 bars, trusted after 30). */
export const MARKET_WATCH_DEFAULTS: MarketWatchConfig = Object.freeze({
  staleAfterMs: 180_000,
  forgetAfterMs: 86_400_000,
  volEwmaAlpha: 0.02,
  volWarmupBars: 30,
});

/** The market as the CEO brain sees it: a snapshot of the last completed bar time, plus the newest event time. */
export interface MarketView {
  /** Bar time the snapshot describes (every live symbol has reported it); -Infinity before the first. */
  readonly asOfTs: number;
  /** Newest signal tsEvent seen (live, not from the snapshot); -Infinity before the first. */
  readonly newestTs: number;
  /** Instruments known (not forgotten) at the snapshot. */
  readonly symbols: number;
  /** Instruments whose last signal was more than staleAfterMs behind the snapshot's bar time. */
  readonly staleSymbols: number;
  /** Median of the latest realised volatility of the fresh instruments; NaN with none. */
  readonly medianVol: number;
  /** Median of the latest ATR/close of the fresh instruments; NaN with none. */
  readonly medianAtrPct: number;
  /** medianVol / the slow EWMA of the medians before it; NaN while the EWMA warms up. */
  readonly volRatio: number;
}

/** The view before any signal. */
export const EMPTY_MARKET_VIEW: MarketView = Object.freeze({
  asOfTs: Number.NEGATIVE_INFINITY,
  newestTs: Number.NEGATIVE_INFINITY,
  symbols: 0,
  staleSymbols: 0,
  medianVol: Number.NaN,
  medianAtrPct: Number.NaN,
  volRatio: Number.NaN,
});

/** Median of finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

interface SymbolSeen {
  lastTs: number;
  realizedVol: number;
  atrPct: number;
}

/**
 * Per-symbol staleness and the market-wide volatility regime, updated in place (one instance per subscription).
 * Each signal costs O(1); the O(n log n) snapshot is taken once per bar time, when the first signal of a newer bar
 * arrives: it describes the bar before, which every live symbol has had its turn to report (judging at the newest bar
 * would call every symbol after the first one stale for a moment). The EWMA takes one sample (the snapshot's median)
 * per bar time, so a bar with many symbols counts once.
 */
export class MarketWatch {
  private readonly symbols = new Map<string, SymbolSeen>();
  private newestTs = Number.NEGATIVE_INFINITY;
  private volEwma = Number.NaN;
  private volSamples = 0;
  private snapshot: MarketView = EMPTY_MARKET_VIEW;

  constructor(readonly config: MarketWatchConfig = MARKET_WATCH_DEFAULTS) {}

  /** Takes one signal; a late signal (older than what the symbol has) is ignored. */
  observe(signal: EnsembleSignal): void {
    if (signal.tsEvent > this.newestTs) {
      if (this.newestTs > Number.NEGATIVE_INFINITY) this.takeSnapshot(this.newestTs);
      this.newestTs = signal.tsEvent;
    }
    const key = instrumentKey(signal);
    const seen = this.symbols.get(key);
    const { realizedVol, atrPct } = signal.market;
    if (!seen) this.symbols.set(key, { lastTs: signal.tsEvent, realizedVol, atrPct });
    else if (signal.tsEvent >= seen.lastTs) {
      seen.lastTs = signal.tsEvent;
      seen.realizedVol = realizedVol;
      seen.atrPct = atrPct;
    }
  }

  /** The latest snapshot with the live newest event time. */
  view(): MarketView {
    return { ...this.snapshot, newestTs: this.newestTs };
  }

  private takeSnapshot(asOfTs: number): void {
    const cfg = this.config;
    const vols: number[] = [];
    const atrs: number[] = [];
    let stale = 0;
    for (const [k, s] of this.symbols) {
      const lag = asOfTs - s.lastTs;
      if (lag > cfg.forgetAfterMs) {
        this.symbols.delete(k);
      } else if (lag > cfg.staleAfterMs) {
        stale++;
      } else {
        vols.push(s.realizedVol);
        atrs.push(s.atrPct);
      }
    }
    const medianVol = median(vols);
    const warm = this.volSamples >= cfg.volWarmupBars && this.volEwma > 0;
    const volRatio = warm ? medianVol / this.volEwma : Number.NaN;
    if (Number.isFinite(medianVol)) {
      this.volEwma = Number.isNaN(this.volEwma) ? medianVol : this.volEwma + cfg.volEwmaAlpha * (medianVol - this.volEwma);
      this.volSamples++;
    }
    this.snapshot = { asOfTs, newestTs: asOfTs, symbols: this.symbols.size, staleSymbols: stale, medianVol, medianAtrPct: median(atrs), volRatio };
  }
}

/** Market view after each signal: staleness counts, median volatility and its ratio to the slow EWMA. */
export function marketWatch(config: Partial<MarketWatchConfig> = {}): OperatorFunction<EnsembleSignal, MarketView> {
  const cfg: MarketWatchConfig = { ...MARKET_WATCH_DEFAULTS, ...config };
  return (source) =>
    defer(() => {
      const watch = new MarketWatch(cfg);
      return source.pipe(
        map((signal) => {
          watch.observe(signal);
          return watch.view();
        }),
      );
    });
}
