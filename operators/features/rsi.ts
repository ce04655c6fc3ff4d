import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';

/**
 * Wilder's RSI over `period` closes (default 14). Changes d = close_t - close_{t-1}; the first average gain and loss are
 * the simple means of the first `period` gains and losses (so the first value comes with close number period + 1), then
 * avg = (avg * (period - 1) + x) / period. RSI = 100 - 100 / (1 + avgGain / avgLoss), 100 when there are only gains,
 * and 50 when the price did not move at all (no gains, no losses: neither side dominates).
 */
export class Rsi {
  private prev = Number.NaN;
  private changes = 0;
  private avgGain = 0;
  private avgLoss = 0;

  constructor(readonly period = 14) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Rsi: period must be a positive integer, got ${period}`);
  }

  /** Takes the next close and returns the RSI in [0, 100] (NaN for the first `period` closes). */
  update(close: number): number {
    const prev = this.prev;
    this.prev = close;
    if (Number.isNaN(prev)) return Number.NaN;
    const d = close - prev;
    const gain = d > 0 ? d : 0;
    const loss = d < 0 ? -d : 0;
    const p = this.period;
    if (this.changes < p) {
      // Seed: accumulate sums, turned into means on the period-th change.
      this.changes++;
      this.avgGain += gain;
      this.avgLoss += loss;
      if (this.changes < p) return Number.NaN;
      this.avgGain /= p;
      this.avgLoss /= p;
    } else {
      this.avgGain = (this.avgGain * (p - 1) + gain) / p;
      this.avgLoss = (this.avgLoss * (p - 1) + loss) / p;
    }
    if (this.avgLoss === 0) return this.avgGain === 0 ? 50 : 100;
    return 100 - 100 / (1 + this.avgGain / this.avgLoss);
  }
}

/** Wilder RSI of a close series, one output per input, NaN for the first `period` closes. */
export function rsi(period = 14): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const k = new Rsi(period);
      return source.pipe(map((c) => k.update(c)));
    });
}
