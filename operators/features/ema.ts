import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';

/**
 * Exponential moving average with alpha = 2 / (period + 1), seeded with the simple average of the first `period` values:
 * NaN for the first period - 1 values, the SMA at value number `period`, then ema += alpha * (x - ema).
 */
export class Ema {
  private readonly alpha: number;
  private count = 0;
  private sum = 0;
  private value = Number.NaN;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Ema: period must be a positive integer, got ${period}`);
    this.alpha = 2 / (period + 1);
  }

  /** Takes the next value and returns the EMA (NaN until `period` values have arrived). */
  update(x: number): number {
    if (this.count < this.period) {
      this.count++;
      this.sum += x;
      if (this.count === this.period) this.value = this.sum / this.period;
      return this.value;
    }
    this.value += this.alpha * (x - this.value);
    return this.value;
  }
}

/** EMA of a series (seeded with the SMA of the first `period` values), one output per input, NaN while warming up. */
export function ema(period: number): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const k = new Ema(period);
      return source.pipe(map((x) => k.update(x)));
    });
}
