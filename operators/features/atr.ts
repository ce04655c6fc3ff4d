import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';

/** The prices of a bar that the ATR reads. */
export interface HighLowClose {
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

/**
 * Wilder's average true range over `period` bars (default 14). The true range needs the previous close:
 * TR = max(high - low, |high - prevClose|, |low - prevClose|), so the first bar gives no TR. The first ATR is the mean
 * of the first `period` TRs (bar number period + 1), then atr = (atr * (period - 1) + TR) / period.
 */
export class Atr {
  private prevClose = Number.NaN;
  private count = 0;
  private value = 0;

  constructor(readonly period = 14) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Atr: period must be a positive integer, got ${period}`);
  }

  /** Takes the next bar and returns the ATR in price units (NaN for the first `period` bars). */
  update(high: number, low: number, close: number): number {
    const prev = this.prevClose;
    this.prevClose = close;
    if (Number.isNaN(prev)) return Number.NaN;
    const tr = Math.max(high - low, Math.abs(high - prev), Math.abs(low - prev));
    const p = this.period;
    if (this.count < p) {
      this.count++;
      this.value += tr;
      if (this.count < p) return Number.NaN;
      this.value /= p;
      return this.value;
    }
    this.value = (this.value * (p - 1) + tr) / p;
    return this.value;
  }
}

/** Wilder ATR of a bar series, one output per bar, NaN for the first `period` bars. */
export function atr(period = 14): OperatorFunction<HighLowClose, number> {
  return (source) =>
    defer(() => {
      const k = new Atr(period);
      return source.pipe(map((b) => k.update(b.high, b.low, b.close)));
    });
}
