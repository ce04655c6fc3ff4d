import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { Regime, TrendRegime, VolRegime } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { featureIndex } from '../features/feature-set.ts';
import { withDefaults } from '../risk/with-defaults.ts';

/**
 * The noise of the EMA gap of a random walk per unit of 1-bar volatility: the standard deviation of
 * EMA_fast / EMA_slow - 1 when log prices are a driftless random walk with 1-bar volatility 1 (small moves), i.e.
 * sqrt(sum_j (r1^(j+1) - r2^(j+1))^2) with r = 1 - 2 / (span + 1). For 12 and 26 bars it is 1.137.
 */
export function emaGapNoise(fastSpan: number, slowSpan: number): number {
  const r1 = 1 - 2 / (fastSpan + 1);
  const r2 = 1 - 2 / (slowSpan + 1);
  return Math.sqrt((r1 * r1) / (1 - r1 * r1) + (r2 * r2) / (1 - r2 * r2) - (2 * r1 * r2) / (1 - r1 * r2));
}

/** Settings of the regime detector (1m bars). */
export interface RegimeConfig {
  /** Half-life in bars of the slow EWMA of rvol_30 that the volatility is judged against. */
  readonly volHalfLifeBars: number;
  /** Bars of an instrument before its volatility ratio is trusted (NORMAL until then). */
  readonly volWarmupBars: number;
  /** Enter HIGH when rvol_30 / slow EWMA >= this. */
  readonly highEnter: number;
  /** Leave HIGH when the ratio falls below this. */
  readonly highExit: number;
  /** Enter LOW when the ratio <= this. */
  readonly lowEnter: number;
  /** Leave LOW when the ratio rises above this. */
  readonly lowExit: number;
  /** Trend statistic z = ema_ratio_12_26 / (rvol_30 * trendScale); trendScale is the statistic's noise per unit of vol. */
  readonly trendScale: number;
  /** Enter UP when z >= this (DOWN when z <= -this). */
  readonly trendEnter: number;
  /** Leave UP when z falls below this (DOWN when z rises above -this). */
  readonly trendExit: number;
  /** Bars a volatility regime holds before it may change again. */
  readonly volMinDwellBars: number;
  /** Bars a trend regime holds before it may change again. */
  readonly trendMinDwellBars: number;
  /** An instrument silent for longer than this no longer counts in the market-wide regimes. */
  readonly forgetAfterMs: number;
}

/**
 * Defaults, from the synthetic market (calm, trending and volatile hidden regimes; test/regime-synthetic.test.ts
 * prints the measurement) and the shape of 1m crypto bars:
 * - volHalfLifeBars 720 (12 h): the baseline must be slow against the regimes it should separate (tens of minutes to
 *   hours) yet follow a market's level over days. On the synthetic market rvol_30 / baseline has medians of about
 *   0.75 (calm), 1.0 (trending) and 2.2 (volatile).
 * - volWarmupBars 60: an hour of bars gives a first baseline; the feature warm-up already cost 61.
 * - highEnter 1.5 / highExit 1.2 and lowEnter 0.7 / lowExit 0.85: 1.5x is above the 90th percentile of trending
 *   markets' ratio and below the median of volatile ones; 0.7 is about the median of calm ones. The gaps between enter
 *   and exit are the hysteresis: a ratio hovering at a threshold does not flicker.
 * - trendScale emaGapNoise(12, 26) = 1.137: z is then about N(0, 1) in a driftless market (measured: calm 10th/90th
 *   percentiles near -1.5 / 1.3), so thresholds read as standard deviations.
 * - trendEnter 1.25 / trendExit 0.5: the synthetic trends (drift 0.4 per day) have a median z near ±1.25; measured on
 *   4 symbols x 3 days (seeds 7-9), entering at 1.25 calls about 60% of trending bars a trend of the right sign and
 *   18-25% of calm bars a trend (mostly the lag after a trend ends); entering at 1.0 / leaving at 0.3 gains 8 points on
 *   trends for 6 more on calm bars, 1.5 loses 5 points for 3. Leaving only below 0.5 keeps a trend through its noise.
 * - volMinDwellBars 5, trendMinDwellBars 10: a regime holds at least this long (a trend shorter than 10 minutes is
 *   noise for a 15-bar horizon); hysteresis handles small wobbles, the dwell the large ones.
 * - forgetAfterMs 1 day, as the market watch: a delisted symbol stops voting in the market-wide regimes.
 */
export const REGIME_DEFAULTS: RegimeConfig = Object.freeze({
  volHalfLifeBars: 720,
  volWarmupBars: 60,
  highEnter: 1.5,
  highExit: 1.2,
  lowEnter: 0.7,
  lowExit: 0.85,
  trendScale: emaGapNoise(12, 26),
  trendEnter: 1.25,
  trendExit: 0.5,
  volMinDwellBars: 5,
  trendMinDwellBars: 10,
  forgetAfterMs: 86_400_000,
});

/** A regime setting that cannot work (thresholds out of order, non-positive spans). */
export class RegimeConfigError extends Error {
  override readonly name = 'RegimeConfigError';
  readonly retriable = false;
  constructor(
    readonly field: keyof RegimeConfig,
    detail: string,
  ) {
    super(`regime: ${field} ${detail}`);
  }
}

/** Defaults overlaid with the given settings (undefined keeps a default), validated. */
export function regimeConfig(config: Partial<RegimeConfig> = {}): RegimeConfig {
  const cfg = withDefaults(REGIME_DEFAULTS, config);
  const fail = (field: keyof RegimeConfig, detail: string): never => {
    throw new RegimeConfigError(field, detail);
  };
  if (!(cfg.volHalfLifeBars > 0)) fail('volHalfLifeBars', `must be > 0, got ${cfg.volHalfLifeBars}`);
  for (const f of ['volWarmupBars', 'volMinDwellBars', 'trendMinDwellBars'] as const) {
    if (!Number.isInteger(cfg[f]) || cfg[f] < 0) fail(f, `must be an integer >= 0, got ${cfg[f]}`);
  }
  if (!(cfg.lowEnter > 0 && cfg.lowEnter <= cfg.lowExit && cfg.lowExit < cfg.highExit && cfg.highExit <= cfg.highEnter)) {
    fail('highEnter', `thresholds must satisfy 0 < lowEnter <= lowExit < highExit <= highEnter, got ${cfg.lowEnter}, ${cfg.lowExit}, ${cfg.highExit}, ${cfg.highEnter}`);
  }
  if (!(cfg.trendScale > 0) || !Number.isFinite(cfg.trendScale)) fail('trendScale', `must be finite and > 0, got ${cfg.trendScale}`);
  if (!(cfg.trendExit >= 0 && cfg.trendExit <= cfg.trendEnter && Number.isFinite(cfg.trendEnter))) {
    fail('trendEnter', `thresholds must satisfy 0 <= trendExit <= trendEnter, got ${cfg.trendExit}, ${cfg.trendEnter}`);
  }
  if (!(cfg.forgetAfterMs > 0)) fail('forgetAfterMs', `must be > 0, got ${cfg.forgetAfterMs}`);
  return cfg;
}

const VOLS: readonly VolRegime[] = ['LOW', 'NORMAL', 'HIGH'];
const TRENDS: readonly TrendRegime[] = ['DOWN', 'RANGE', 'UP'];
const LOW = 0;
const NORMAL = 1;
const HIGH = 2;
const DOWN = 0;
const RANGE = 1;
const UP = 2;

// Every combination once, frozen: observe allocates nothing per vector.
const REGIMES: readonly Regime[] = Array.from({ length: 81 }, (_, i) =>
  Object.freeze({ volatility: VOLS[Math.floor(i / 27)]!, trend: TRENDS[Math.floor(i / 9) % 3]!, marketVolatility: VOLS[Math.floor(i / 3) % 3]!, marketTrend: TRENDS[i % 3]! }),
);

const iVol = featureIndex('rvol_30');
const iEma = featureIndex('ema_ratio_12_26');

interface Instrument {
  lastOpenTime: number;
  /** Bias-corrected EWMA of rvol_30 over the bars before the current one: sum and weight. */
  volSum: number;
  volWeight: number;
  bars: number;
  vol: number;
  trend: number;
  volSince: number;
  trendSince: number;
}

/** The most common index of three counts; a tie at the top gives the middle one (NORMAL, RANGE). */
function mode(c: readonly number[]): number {
  const [a, b, d] = [c[0]!, c[1]!, c[2]!];
  if (a > b && a > d) return 0;
  if (d > a && d > b) return 2;
  return 1;
}

/**
 * Volatility and trend regimes per instrument and market-wide, from each feature vector's own values (computed from
 * its bar and earlier bars: no lookahead), without clocks. Per instrument:
 * - volatility: rvol_30 against the bias-corrected slow EWMA of the rvol_30 values before it; HIGH at >= highEnter
 *   until it falls below highExit, LOW at <= lowEnter until it rises above lowExit, NORMAL otherwise and during the
 *   warm-up;
 * - trend: z = ema_ratio_12_26 / (rvol_30 * trendScale); UP at z >= trendEnter until z < trendExit, DOWN symmetric,
 *   RANGE otherwise (a reversal from UP straight to DOWN needs z <= -trendEnter);
 * - a regime holds at least its minimum dwell before it changes again.
 * Market-wide: the most common regime among the instruments' latest ones (an instrument in its warm-up counts as
 * NORMAL / RANGE; one silent for more than forgetAfterMs is left out; ties give NORMAL / RANGE). A vector not after its instrument's last one (redelivered,
 * out of order), or one with a non-finite or non-positive rvol_30 or a non-finite EMA ratio, changes nothing and gets
 * the regimes in force.
 */
export class RegimeDetector {
  private readonly cfg: RegimeConfig;
  private readonly decay: number;
  private readonly byExchange = new Map<string, Map<string, Instrument>>();
  private readonly all: { readonly exchange: string; readonly symbol: string; readonly inst: Instrument }[] = [];
  private readonly volCount = [0, 0, 0];
  private readonly trendCount = [0, 0, 0];
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(config: Partial<RegimeConfig> = {}) {
    this.cfg = regimeConfig(config);
    this.decay = 2 ** (-1 / this.cfg.volHalfLifeBars);
  }

  /** The regimes at this vector's bar (updating the instrument's state first). */
  observe(v: FeatureVector): Regime {
    const cfg = this.cfg;
    if (v.openTime > this.sweptAt) this.sweep(v.openTime);
    const inst = this.instrument(v.exchange, v.symbol);
    const rvol = v.values[iVol] ?? Number.NaN;
    const ema = v.values[iEma] ?? Number.NaN;
    if (v.openTime > inst.lastOpenTime && rvol > 0 && Number.isFinite(rvol) && Number.isFinite(ema)) {
      inst.lastOpenTime = v.openTime;
      inst.bars++;
      inst.volSince++;
      inst.trendSince++;
      if (inst.bars > cfg.volWarmupBars && inst.volSince >= cfg.volMinDwellBars) {
        this.setVol(inst, nextVol(inst.vol, rvol / (inst.volSum / inst.volWeight), cfg));
      }
      inst.volSum = inst.volSum * this.decay + rvol;
      inst.volWeight = inst.volWeight * this.decay + 1;
      if (inst.trendSince >= cfg.trendMinDwellBars) this.setTrend(inst, nextTrend(inst.trend, ema / (rvol * cfg.trendScale), cfg));
    }
    return REGIMES[inst.vol * 27 + inst.trend * 9 + mode(this.volCount) * 3 + mode(this.trendCount)]!;
  }

  /** Instruments counted in the market-wide regimes. */
  instruments(): number {
    return this.all.length;
  }

  private setVol(inst: Instrument, vol: number): void {
    if (vol === inst.vol) return;
    this.volCount[inst.vol]!--;
    this.volCount[vol]!++;
    inst.vol = vol;
    inst.volSince = 0;
  }

  private setTrend(inst: Instrument, trend: number): void {
    if (trend === inst.trend) return;
    this.trendCount[inst.trend]!--;
    this.trendCount[trend]!++;
    inst.trend = trend;
    inst.trendSince = 0;
  }

  /** Once per new bar time: forgets instruments silent for longer than forgetAfterMs. */
  private sweep(openTime: number): void {
    this.sweptAt = openTime;
    const cutoff = openTime - this.cfg.forgetAfterMs;
    for (let i = this.all.length - 1; i >= 0; i--) {
      const { exchange, symbol, inst } = this.all[i]!;
      if (inst.lastOpenTime >= cutoff || inst.bars === 0) continue;
      this.volCount[inst.vol]!--;
      this.trendCount[inst.trend]!--;
      this.byExchange.get(exchange)!.delete(symbol);
      this.all.splice(i, 1);
    }
  }

  private instrument(exchange: string, symbol: string): Instrument {
    let bySymbol = this.byExchange.get(exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.byExchange.set(exchange, bySymbol);
    }
    let inst = bySymbol.get(symbol);
    if (inst === undefined) {
      // Dwell counters start satisfied: the first regime after the warm-up is taken at once.
      inst = { lastOpenTime: Number.NEGATIVE_INFINITY, volSum: 0, volWeight: 0, bars: 0, vol: NORMAL, trend: RANGE, volSince: Infinity, trendSince: Infinity };
      bySymbol.set(symbol, inst);
      this.all.push({ exchange, symbol, inst });
      this.volCount[NORMAL]!++;
      this.trendCount[RANGE]!++;
    }
    return inst;
  }
}

function nextVol(vol: number, ratio: number, cfg: RegimeConfig): number {
  if (!Number.isFinite(ratio)) return vol;
  if (ratio >= cfg.highEnter) return HIGH;
  if (ratio <= cfg.lowEnter) return LOW;
  if (vol === HIGH) return ratio < cfg.highExit ? NORMAL : HIGH;
  if (vol === LOW) return ratio > cfg.lowExit ? NORMAL : LOW;
  return NORMAL;
}

function nextTrend(trend: number, z: number, cfg: RegimeConfig): number {
  if (z >= cfg.trendEnter) return UP;
  if (z <= -cfg.trendEnter) return DOWN;
  if (trend === UP) return z < cfg.trendExit ? RANGE : UP;
  if (trend === DOWN) return z > -cfg.trendExit ? RANGE : DOWN;
  return RANGE;
}

/** The detector as an operator (state per subscription): one Regime per feature vector, in order. */
export function regimes(config: Partial<RegimeConfig> = {}): OperatorFunction<FeatureVector, Regime> {
  regimeConfig(config);
  return (source) =>
    defer(() => {
      const detector = new RegimeDetector(config);
      return source.pipe(map((v) => detector.observe(v)));
    });
}
