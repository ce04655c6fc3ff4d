import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';

/** Strategies the strategy brain chooses between. */
export type StrategyName = 'trend-following' | 'mean-reversion';

/** Settings of the strategy brain. */
export interface StrategyConfig {
  /**
   * Trend regime when |emaRatio| / realizedVol is at least this. On 1m Binance spot bars (2021, BTC/ETH/DOGE) the
   * ratio's median is about 0.7 and its 75th percentile about 1.15, so 1.0 calls roughly the top third a trend.
   */
  readonly trendThreshold: number;
  /** Mean reversion goes LONG only when RSI is below this. */
  readonly rsiOversold: number;
  /** Mean reversion goes SHORT only when RSI is above this. */
  readonly rsiOverbought: number;
}

/** Defaults of the strategy brain. */
export const STRATEGY_DEFAULTS: StrategyConfig = Object.freeze({
  trendThreshold: 1.0,
  rsiOversold: 30,
  rsiOverbought: 70,
});

/** The strategy brain's view of one signal. */
export interface StrategyView {
  readonly strategy: StrategyName;
  /** True when the chosen strategy would trade the signal's direction. */
  readonly agrees: boolean;
  /** Why, for the decision's refusal detail. */
  readonly detail: string;
  /** |emaRatio| / realizedVol (Infinity when the volatility is 0 and the EMAs differ, 0 when both are 0). */
  readonly trendStrength: number;
}

/** Trend strength |emaRatio| / realizedVol: how far the EMAs are apart in units of 1-bar volatility. */
export function trendStrength(emaRatio: number, realizedVol: number): number {
  const num = Math.abs(emaRatio);
  if (num === 0) return 0;
  return realizedVol > 0 ? num / realizedVol : Number.POSITIVE_INFINITY;
}

/**
 * Chooses the strategy by regime and says whether it agrees with the signal. Trend regime (strength >= threshold):
 * trend-following, which agrees when the EMA ratio has the sign of the signal. Otherwise mean-reversion, which agrees
 * only when RSI is stretched against the move: below rsiOversold for LONG, above rsiOverbought for SHORT.
 */
export function chooseStrategy(signal: EnsembleSignal, config: StrategyConfig = STRATEGY_DEFAULTS): StrategyView {
  const { emaRatio, realizedVol, rsi } = signal.market;
  const strength = trendStrength(emaRatio, realizedVol);
  const dir = signal.signal;
  const s = strength.toFixed(2);
  if (strength >= config.trendThreshold) {
    if (dir === 'FLAT') return { strategy: 'trend-following', agrees: false, detail: `trend ${s} >= ${config.trendThreshold}; signal FLAT`, trendStrength: strength };
    const agrees = dir === 'LONG' ? emaRatio > 0 : emaRatio < 0;
    const detail = `trend ${s} >= ${config.trendThreshold}; emaRatio ${emaRatio.toExponential(2)} ${agrees ? 'agrees with' : 'against'} ${dir}`;
    return { strategy: 'trend-following', agrees, detail, trendStrength: strength };
  }
  if (dir === 'FLAT') return { strategy: 'mean-reversion', agrees: false, detail: `trend ${s} < ${config.trendThreshold}; signal FLAT`, trendStrength: strength };
  const agrees = dir === 'LONG' ? rsi < config.rsiOversold : rsi > config.rsiOverbought;
  const bound = dir === 'LONG' ? `< ${config.rsiOversold}` : `> ${config.rsiOverbought}`;
  const detail = `trend ${s} < ${config.trendThreshold}; RSI ${rsi.toFixed(1)} ${agrees ? 'is' : 'is not'} ${bound} for ${dir}`;
  return { strategy: 'mean-reversion', agrees, detail, trendStrength: strength };
}

/** The strategy brain as an operator: one view per signal. */
export function strategyBrain(config: Partial<StrategyConfig> = {}): OperatorFunction<EnsembleSignal, StrategyView> {
  const cfg: StrategyConfig = { ...STRATEGY_DEFAULTS, ...config };
  return (source) => source.pipe(map((signal) => chooseStrategy(signal, cfg)));
}
