import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { RollingStats } from './rolling-stats.ts';

/**
 * Rolling z-score (used on volume): (x - mean) / std over the last `n` values including x (default 30), with the
 * population standard deviation. When the window has no dispersion (std = 0, e.g. 30 empty minutes) the score is 0:
 * x equals the mean, so it is not unusual.
 */
export class ZScore {
  private readonly stats: RollingStats;

  constructor(readonly n = 30) {
    this.stats = new RollingStats(n);
  }

  /** Takes the next value and returns its z-score in the window (NaN until n values have arrived). */
  update(x: number): number {
    const s = this.stats;
    s.push(x);
    if (!s.full) return Number.NaN;
    return s.std === 0 ? 0 : (x - s.mean) / s.std;
  }
}

/** Rolling z-score over n values, one output per input, NaN for the first n - 1. */
export function zScore(n = 30): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const k = new ZScore(n);
      return source.pipe(map((x) => k.update(x)));
    });
}
