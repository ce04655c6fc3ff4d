/**
 * The feature set served to the models: the one definition of the columns of `FeatureVector.values` and of its window.
 * Model cards name these features in this order; the model loader refuses a model whose card disagrees.
 */
export const FEATURE_SET = 'fs1';

/** Names of `FeatureVector.values`, in order. All are computed from the bar they close on and earlier bars only. */
export const FEATURE_NAMES = [
  'ret_1', // log(close_t / close_{t-1})
  'ret_5', // log(close_t / close_{t-5})
  'ret_15', // log(close_t / close_{t-15})
  'ret_60', // log(close_t / close_{t-60})
  'ema_ratio_12_26', // EMA12(close) / EMA26(close) - 1
  'ema_ratio_close_50', // close / EMA50(close) - 1
  'rsi_14', // Wilder RSI over 14 bars, 0..100
  'atr_pct_14', // Wilder ATR over 14 bars / close
  'rvol_30', // standard deviation of 1-bar log returns over the last 30 bars
  'vol_z_30', // (volume - mean) / std of volume over the last 30 bars
] as const;
/** A feature name. */
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** Channels of each row of `FeatureVector.window`, in order. */
export const WINDOW_CHANNELS = [
  'ret_1', // log return of the bar
  'range_hl', // log(high / low)
  'vol_z_30', // volume z-score, as above
] as const;

/** Number of bars in the window (L). */
export const WINDOW_LENGTH = 32;

/**
 * Bars an instrument needs before its first feature vector: 61, the vector closing on the 61st contiguous bar.
 * ret_60 needs 61 closes; the window needs 32 rows of vol_z_30, whose first value comes with bar 30 (30 + 32 - 1 = 61).
 * The other features are defined earlier (EMA50 at 50, rvol_30 at 31, EMA26 at 26, RSI14 and ATR14 at 15).
 * A gap in the bar grid starts the count again.
 */
export const FEATURE_WARMUP_BARS = 61;

/** Index of a feature in `values`. */
export function featureIndex(name: FeatureName): number {
  return FEATURE_NAMES.indexOf(name);
}
