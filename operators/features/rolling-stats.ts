import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';

/**
 * Mean and population standard deviation (divide by n) of the last `n` values, kept in a ring buffer: no shifting and no
 * allocation per update. Both are recomputed in two passes over the window, oldest first, so they depend only on the
 * values in the window, never on the history before it (no drift of running sums, identical results whatever bar a
 * replay starts from). n is small (30), so the two passes cost less than the bookkeeping of a running update would save.
 */
export class RollingStats {
  /** Mean of the window; NaN until it holds n values. */
  mean = Number.NaN;
  /** Population standard deviation of the window; NaN until full; exactly 0 when the values are equal. */
  std = Number.NaN;
  private readonly buf: Float64Array;
  private pos = 0;
  private count = 0;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`RollingStats: n must be a positive integer, got ${n}`);
    this.buf = new Float64Array(n);
  }

  /** True once the window holds n values. */
  get full(): boolean {
    return this.count >= this.n;
  }

  /** Adds a value (dropping the oldest once full) and updates `mean` and `std`. */
  push(x: number): void {
    const { buf, n } = this;
    buf[this.pos] = x;
    this.pos = this.pos + 1 === n ? 0 : this.pos + 1;
    if (this.count < n) this.count++;
    if (this.count < n) return;
    // pos now points at the oldest value: sum in time order so the result is a function of the window alone.
    let sum = 0;
    for (let i = this.pos; i < n; i++) sum += buf[i]!;
    for (let i = 0; i < this.pos; i++) sum += buf[i]!;
    const mean = sum / n;
    let ss = 0;
    for (let i = this.pos; i < n; i++) ss += (buf[i]! - mean) ** 2;
    for (let i = 0; i < this.pos; i++) ss += (buf[i]! - mean) ** 2;
    const std = Math.sqrt(ss / n);
    this.mean = mean;
    // Equal values can leave a residue of a few ulps (their sum rounds); call that what it is: no dispersion.
    this.std = std <= 1e-12 * Math.abs(mean) ? 0 : std;
  }
}

/** Rolling population standard deviation of the last n values; NaN until n values have arrived. */
export function rollingStd(n: number): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const stats = new RollingStats(n);
      return source.pipe(
        map((x) => {
          stats.push(x);
          return stats.std;
        }),
      );
    });
}
