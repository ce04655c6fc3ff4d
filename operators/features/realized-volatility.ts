import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { RollingStats } from './rolling-stats.ts';

/**
 * Realized volatility: the population standard deviation of the last `n` one-bar log returns (default 30), per bar,
 * not annualised. The first close gives no return, so the first value comes with close number n + 1.
 */
export class RealizedVolatility {
  private prev = Number.NaN;
  private readonly stats: RollingStats;

  constructor(readonly n = 30) {
    this.stats = new RollingStats(n);
  }

  /** Takes the next close and returns the volatility (NaN until n returns are known). */
  update(close: number): number {
    const prev = this.prev;
    this.prev = close;
    if (Number.isNaN(prev)) return Number.NaN;
    this.stats.push(Math.log(close / prev));
    return this.stats.std;
  }
}

/** Rolling standard deviation of one-bar log returns of a close series over n returns, NaN while warming up. */
export function realizedVolatility(n = 30): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const k = new RealizedVolatility(n);
      return source.pipe(map((c) => k.update(c)));
    });
}
