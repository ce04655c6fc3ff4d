import { defer, type OperatorFunction } from 'rxjs';
import { filter, map } from 'rxjs/operators';

/**
 * The last `length` rows of `channels` values each, in a ring buffer (no shifting, no allocation per row). Read out
 * oldest first, row-major: the layout of FeatureVector.window.
 */
export class RollingWindow {
  private readonly buf: Float64Array;
  private pos = 0;
  private count = 0;

  constructor(
    readonly length: number,
    readonly channels: number,
  ) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError(`RollingWindow: length must be a positive integer, got ${length}`);
    if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`RollingWindow: channels must be a positive integer, got ${channels}`);
    this.buf = new Float64Array(length * channels);
  }

  /** True once `length` rows have been pushed. */
  get full(): boolean {
    return this.count >= this.length;
  }

  /** Appends a row (its first `channels` values), dropping the oldest row once full. */
  push(row: ArrayLike<number>): void {
    const c = this.channels;
    const base = this.pos * c;
    for (let j = 0; j < c; j++) this.buf[base + j] = row[j]!;
    this.pos = this.pos + 1 === this.length ? 0 : this.pos + 1;
    if (this.count < this.length) this.count++;
  }

  /** A new array of the rows held, oldest first, row-major (length x channels once full). */
  toArray(): number[] {
    const c = this.channels;
    const rows = this.count;
    const out = new Array<number>(rows * c);
    // Oldest row: at pos once the ring has wrapped, at 0 before.
    const start = rows < this.length ? 0 : this.pos;
    let k = 0;
    for (let r = 0; r < rows; r++) {
      const base = ((start + r) % this.length) * c;
      for (let j = 0; j < c; j++) out[k++] = this.buf[base + j]!;
    }
    return out;
  }
}

/** Rolling window over rows: once `length` rows have arrived, emits the last `length` rows per row, oldest first, flat. */
export function rollingWindow(length: number, channels: number): OperatorFunction<ArrayLike<number>, number[]> {
  return (source) =>
    defer(() => {
      const w = new RollingWindow(length, channels);
      return source.pipe(
        map((row) => {
          w.push(row);
          return w.full ? w.toArray() : null;
        }),
        filter((x): x is number[] => x !== null),
      );
    });
}
