import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';

/** Log return over a horizon of h bars: log(close_t / close_{t-h}); NaN for the first h values. Ring of h closes. */
export class LogReturn {
  private readonly buf: Float64Array;
  private pos = 0;
  private count = 0;

  constructor(readonly horizon: number) {
    if (!Number.isInteger(horizon) || horizon < 1) throw new RangeError(`LogReturn: horizon must be a positive integer, got ${horizon}`);
    this.buf = new Float64Array(horizon);
  }

  /** Takes the next close and returns the log return against the close `horizon` values earlier (NaN until there is one). */
  update(close: number): number {
    // Before it is overwritten, the slot at pos holds the close from exactly `horizon` updates ago.
    const past = this.count >= this.horizon ? this.buf[this.pos]! : Number.NaN;
    this.buf[this.pos] = close;
    this.pos = this.pos + 1 === this.horizon ? 0 : this.pos + 1;
    this.count++;
    return Math.log(close / past);
  }
}

/** Log returns of a close series over `horizon` bars, one output per input, NaN for the first `horizon`. */
export function logReturn(horizon: number): OperatorFunction<number, number> {
  return (source) =>
    defer(() => {
      const k = new LogReturn(horizon);
      return source.pipe(map((c) => k.update(c)));
    });
}
