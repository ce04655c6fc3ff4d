/**
 * The population stability index (PSI) of live observations against a distribution recorded at training time, and a
 * rolling histogram that keeps the live counts of the last W observations. The supervisor measures feature drift
 * (against a card's data.train.featureStats) and prediction drift (against data.validation.predictionShares) with them.
 */

/**
 * Shares are floored at this before the logarithm. PSI is undefined for an empty bin (ln 0); 1e-4 is the usual floor:
 * small enough that a bin expected at 10% and empty live still scores (0.1 - 1e-4) * ln(0.1 / 1e-4) ≈ 0.69 (a major
 * shift on its own, as it should), large enough that one such bin cannot dominate beyond that. A bin empty on both
 * sides (equal neighbouring edges leave one at training time) contributes exactly 0.
 */
export const PSI_EPSILON = 1e-4;

/** An invalid PSI input: a broken invariant of the caller (lengths differ, negative count, bin out of range). */
export class PsiInputError extends Error {
  override readonly name = 'PsiInputError';
  readonly retriable = false;
  constructor(detail: string) {
    super(`psi: ${detail}`);
  }
}

/**
 * The bin of a value against sorted cut points: the number of edges <= x (numpy `searchsorted(edges, x,
 * side='right')`), 0..edges.length; NaN has no bin: -1. The same rule as the trainer's featureStats (and binOf of
 * models/card.ts), so live shares and training shares count alike.
 */
export function binOf(edges: ArrayLike<number>, x: number): number {
  if (Number.isNaN(x)) return -1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * PSI = Σ (a_i - e_i) · ln(a_i / e_i) over bins, with a_i = counts_i / Σ counts the live shares and e_i the expected
 * shares, each floored at `epsilon`. 0 for identical distributions; by the usual reading < 0.1 is no shift, 0.1..0.25
 * a moderate one, > 0.25 a major one. NaN when there are no live observations.
 */
export function psi(counts: ArrayLike<number>, expected: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  if (counts.length !== expected.length) throw new PsiInputError(`${counts.length} counts against ${expected.length} expected shares`);
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!(c >= 0)) throw new PsiInputError(`count ${i} is ${c}`);
    total += c;
  }
  if (total === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < counts.length; i++) {
    const a = Math.max(epsilon, counts[i]! / total);
    const e = Math.max(epsilon, expected[i]!);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

/**
 * Counts per bin of the last `window` observations: a ring buffer of bin indices, so each push is O(1) (the bin that
 * leaves the window is decremented, the new one incremented). A push of -1 (a value without a bin, NaN) takes a slot
 * in the window without being counted.
 */
export class RollingHistogram {
  private readonly ring: Int16Array;
  private readonly bins: Int32Array;
  private next = 0;
  private slots = 0;
  private counted = 0;

  constructor(
    readonly binCount: number,
    readonly window: number,
  ) {
    if (!Number.isInteger(binCount) || binCount < 1 || binCount > 32_767) throw new PsiInputError(`binCount must be an integer in 1..32767, got ${binCount}`);
    if (!Number.isInteger(window) || window < 1) throw new PsiInputError(`window must be a positive integer, got ${window}`);
    this.ring = new Int16Array(window);
    this.bins = new Int32Array(binCount);
  }

  /** Adds one observation's bin (-1: none); the oldest leaves once the window is full. */
  push(bin: number): void {
    if (!(Number.isInteger(bin) && bin >= -1 && bin < this.binCount)) throw new PsiInputError(`bin ${bin} out of -1..${this.binCount - 1}`);
    if (this.slots === this.window) {
      const old = this.ring[this.next]!;
      if (old >= 0) {
        this.bins[old]!--;
        this.counted--;
      }
    } else {
      this.slots++;
    }
    this.ring[this.next] = bin;
    if (bin >= 0) {
      this.bins[bin]!++;
      this.counted++;
    }
    this.next = this.next + 1 === this.window ? 0 : this.next + 1;
  }

  /** Live counts per bin (a view: do not change it). */
  get counts(): ArrayLike<number> {
    return this.bins;
  }

  /** Observations counted in the window (pushes of -1 excluded). */
  get total(): number {
    return this.counted;
  }

  /** True once `window` observations have been pushed: the window is full from then on. */
  get full(): boolean {
    return this.slots === this.window;
  }

  /** Count of one bin. */
  count(bin: number): number {
    return this.bins[bin] ?? 0;
  }

  /** PSI of the window's counts against expected shares (NaN while nothing is counted). */
  psi(expected: ArrayLike<number>, epsilon = PSI_EPSILON): number {
    return psi(this.bins, expected, epsilon);
  }
}
