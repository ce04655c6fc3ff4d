import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import { withDefaults } from '../risk/with-defaults.ts';

/** Strategies the strategy brain chooses between. */
export type StrategyName = 'trend-following' | 'mean-reversion';

/** Settings of the strategy brain. */
export interface StrategyConfig {
  /** Mean reversion goes LONG only when RSI is below this (volatility regime LOW or NORMAL). */
  readonly rsiOversold: number;
  /** Mean reversion goes SHORT only when RSI is above this (volatility regime LOW or NORMAL). */
  readonly rsiOverbought: number;
  /** The LONG bound in a HIGH volatility regime, where RSI swings wider and 30 is a routine reading. */
  readonly highVolRsiOversold: number;
  /** The SHORT bound in a HIGH volatility regime. */
  readonly highVolRsiOverbought: number;
}

/** Defaults of the strategy brain: the classic 30/70 band, widened to 20/80 when volatility is HIGH. */
export const STRATEGY_DEFAULTS: StrategyConfig = Object.freeze({
  rsiOversold: 30,
  rsiOverbought: 70,
  highVolRsiOversold: 20,
  highVolRsiOverbought: 80,
});

/** The strategy brain's view of one signal. */
export interface StrategyView {
  readonly strategy: StrategyName;
  /** True when the chosen strategy would trade the signal's direction. */
  readonly agrees: boolean;
  /** Why, for the decision's refusal detail. */
  readonly detail: string;
  /**
   * |emaRatio| / realizedVol, for information only (the regime decides): Infinity when the volatility is 0 and the
   * EMAs differ, 0 when both are 0.
   */
  readonly trendStrength: number;
}

/** Trend strength |emaRatio| / realizedVol: how far the EMAs are apart in units of 1-bar volatility. */
export function trendStrength(emaRatio: number, realizedVol: number): number {
  const num = Math.abs(emaRatio);
  if (num === 0) return 0;
  return realizedVol > 0 ? num / realizedVol : Number.POSITIVE_INFINITY;
}

/**
 * Chooses the strategy by the signal's regime (the symbol's own, as the regime detector found it at the bar) and says
 * whether it agrees with the signal:
 * - trend UP or DOWN: trend-following, which agrees when the signal's side is the trend's (LONG in UP, SHORT in DOWN),
 *   whatever the volatility (the trend regime is already measured in units of volatility);
 * - trend RANGE: mean-reversion, which agrees only when RSI is stretched against the move: below rsiOversold for LONG,
 *   above rsiOverbought for SHORT; in a HIGH volatility regime the band widens to highVolRsiOversold /
 *   highVolRsiOverbought, since RSI swings further there and a 30 or 70 is no longer stretched.
 * A signal without a detected regime carries DEFAULT_REGIME (NORMAL, RANGE): mean reversion with the normal band.
 * A FLAT signal never agrees.
 */
export function chooseStrategy(signal: EnsembleSignal, config: StrategyConfig = STRATEGY_DEFAULTS): StrategyView {
  const { emaRatio, realizedVol, rsi } = signal.market;
  const { trend, volatility } = signal.regime;
  const strength = trendStrength(emaRatio, realizedVol);
  const dir = signal.signal;
  const regime = `regime ${trend}/${volatility}`;
  if (trend !== 'RANGE') {
    if (dir === 'FLAT') return { strategy: 'trend-following', agrees: false, detail: `${regime}; signal FLAT`, trendStrength: strength };
    const agrees = trend === 'UP' ? dir === 'LONG' : dir === 'SHORT';
    return { strategy: 'trend-following', agrees, detail: `${regime}; ${dir} ${agrees ? 'follows' : 'is against'} the trend`, trendStrength: strength };
  }
  if (dir === 'FLAT') return { strategy: 'mean-reversion', agrees: false, detail: `${regime}; signal FLAT`, trendStrength: strength };
  const wide = volatility === 'HIGH';
  const oversold = wide ? config.highVolRsiOversold : config.rsiOversold;
  const overbought = wide ? config.highVolRsiOverbought : config.rsiOverbought;
  const agrees = dir === 'LONG' ? rsi < oversold : rsi > overbought;
  const bound = dir === 'LONG' ? `< ${oversold}` : `> ${overbought}`;
  const detail = `${regime}; RSI ${rsi.toFixed(1)} ${agrees ? 'is' : 'is not'} ${bound} for ${dir}`;
  return { strategy: 'mean-reversion', agrees, detail, trendStrength: strength };
}

/** The strategy brain as an operator: one view per signal. */
export function strategyBrain(config: Partial<StrategyConfig> = {}): OperatorFunction<EnsembleSignal, StrategyView> {
  const cfg = withDefaults(STRATEGY_DEFAULTS, config);
  return (source) => source.pipe(map((signal) => chooseStrategy(signal, cfg)));
}
