import { Atr } from './atr.ts';
import { Ema } from './ema.ts';
import { FEATURE_NAMES, FEATURE_WARMUP_BARS, WINDOW_CHANNELS, WINDOW_LENGTH, featureIndex } from './feature-set.ts';
import { LogReturn } from './log-return.ts';
import { RealizedVolatility } from './realized-volatility.ts';
import { RollingWindow } from './rolling-window.ts';
import { Rsi } from './rsi.ts';
import { ZScore } from './z-score.ts';

/** The fields of a bar the features read. */
export interface FeatureBar {
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** A computed feature is not finite after the warm-up: corrupt input got past validation, or a bug. Not retriable. */
export class FeatureInvariantError extends Error {
  override readonly name = 'FeatureInvariantError';
  readonly retriable = false;
  constructor(
    readonly feature: string,
    readonly value: number,
    readonly barIndex: number,
  ) {
    super(`feature ${feature} is ${value} at bar ${barIndex} after the warm-up`);
  }
}

const I_RET_1 = featureIndex('ret_1');
const I_RET_5 = featureIndex('ret_5');
const I_RET_15 = featureIndex('ret_15');
const I_RET_60 = featureIndex('ret_60');
const I_EMA_12_26 = featureIndex('ema_ratio_12_26');
const I_EMA_CLOSE_50 = featureIndex('ema_ratio_close_50');
const I_RSI = featureIndex('rsi_14');
const I_ATR = featureIndex('atr_pct_14');
const I_RVOL = featureIndex('rvol_30');
const I_VOLZ = featureIndex('vol_z_30');

// Where each window channel goes in a row; a channel this file does not compute fails at load, not at bar 61.
const C = WINDOW_CHANNELS.length;
function channelIndex(name: string): number {
  const i = (WINDOW_CHANNELS as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`window channel ${name} missing from WINDOW_CHANNELS`);
  return i;
}
const W_RET_1 = channelIndex('ret_1');
const W_RANGE = channelIndex('range_hl');
const W_VOLZ = channelIndex('vol_z_30');
if (new Set([W_RET_1, W_RANGE, W_VOLZ]).size !== C) throw new Error(`WINDOW_CHANNELS has channels feature-state.ts does not compute: ${WINDOW_CHANNELS.join(',')}`);

/**
 * The features of one instrument as mutable state: every kernel of the feature set, fed one bar at a time. The one
 * implementation of the features, shared by the RxJS operator, the dataset export and the benchmark's plain loop.
 */
export interface FeatureState {
  /** FEATURE_NAMES values of the last bar, valid when the last step returned true. */
  readonly values: Float64Array;
  /** Rows of WINDOW_CHANNELS for the last WINDOW_LENGTH bars. */
  readonly window: RollingWindow;
  /** Bars stepped so far. */
  bars: number;
  readonly ret1: LogReturn;
  readonly ret5: LogReturn;
  readonly ret15: LogReturn;
  readonly ret60: LogReturn;
  readonly ema12: Ema;
  readonly ema26: Ema;
  readonly ema50: Ema;
  readonly rsi14: Rsi;
  readonly atr14: Atr;
  readonly rvol30: RealizedVolatility;
  readonly volZ30: ZScore;
  /** Scratch row, reused for every bar. */
  readonly row: Float64Array;
}

/** Fresh feature state for one instrument (nothing warm). */
export function createFeatureState(): FeatureState {
  return {
    values: new Float64Array(FEATURE_NAMES.length).fill(Number.NaN),
    window: new RollingWindow(WINDOW_LENGTH, C),
    bars: 0,
    ret1: new LogReturn(1),
    ret5: new LogReturn(5),
    ret15: new LogReturn(15),
    ret60: new LogReturn(60),
    ema12: new Ema(12),
    ema26: new Ema(26),
    ema50: new Ema(50),
    rsi14: new Rsi(14),
    atr14: new Atr(14),
    rvol30: new RealizedVolatility(30),
    volZ30: new ZScore(30),
    row: new Float64Array(C),
  };
}

/**
 * Feeds the next bar of the instrument (bars must be consecutive on the grid) and computes its features into
 * `state.values` and its row of the window. Returns true when every feature and the full window are defined, which is
 * from bar FEATURE_WARMUP_BARS on. Throws FeatureInvariantError on a value that is not finite where it must be (a
 * window row, or any feature after the warm-up): bars are validated at the edge, so that is corrupt state.
 */
export function stepFeatures(s: FeatureState, bar: FeatureBar): boolean {
  const { close } = bar;
  const v = s.values;
  const r1 = s.ret1.update(close);
  v[I_RET_1] = r1;
  v[I_RET_5] = s.ret5.update(close);
  v[I_RET_15] = s.ret15.update(close);
  v[I_RET_60] = s.ret60.update(close);
  const e12 = s.ema12.update(close);
  const e26 = s.ema26.update(close);
  const e50 = s.ema50.update(close);
  v[I_EMA_12_26] = e12 / e26 - 1;
  v[I_EMA_CLOSE_50] = close / e50 - 1;
  v[I_RSI] = s.rsi14.update(close);
  v[I_ATR] = s.atr14.update(bar.high, bar.low, close) / close;
  v[I_RVOL] = s.rvol30.update(close);
  const volZ = s.volZ30.update(bar.volume);
  v[I_VOLZ] = volZ;
  s.bars++;
  // Channels, once defined, stay defined; so rows enter the window from the first bar where all are, and the window
  // is then always the last WINDOW_LENGTH bars.
  if (!Number.isNaN(r1) && !Number.isNaN(volZ)) {
    const row = s.row;
    row[W_RET_1] = r1;
    row[W_RANGE] = Math.log(bar.high / bar.low);
    row[W_VOLZ] = volZ;
    for (let j = 0; j < C; j++) {
      if (!Number.isFinite(row[j]!)) throw new FeatureInvariantError(`window.${WINDOW_CHANNELS[j]}`, row[j]!, s.bars - 1);
    }
    s.window.push(row);
  }
  if (s.bars < FEATURE_WARMUP_BARS) return false;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw new FeatureInvariantError(FEATURE_NAMES[i]!, v[i]!, s.bars - 1);
  }
  if (!s.window.full) throw new FeatureInvariantError('window', Number.NaN, s.bars - 1);
  return true;
}
