/**
 * A binary min-heap for k-way merges: the sources sit in the heap ordered by their current head, the caller reads the
 * top, advances it in place and calls `topChanged()` (or `removeTop()` once it is exhausted). No allocation per step.
 */
export class MergeHeap<T> {
  private readonly h: T[];

  /** Builds the heap from the sources in O(n); `before(a, b)` is true when a's head comes first. */
  constructor(items: readonly T[], private readonly before: (a: T, b: T) => boolean) {
    this.h = [...items];
    for (let i = (this.h.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** Number of sources left. */
  get size(): number {
    return this.h.length;
  }

  /** The source whose head comes first, or undefined when empty. */
  top(): T | undefined {
    return this.h[0];
  }

  /** Restores the order after the top source's head moved on. */
  topChanged(): void {
    if (this.h.length > 1) this.siftDown(0);
  }

  /** Drops the top source (exhausted). */
  removeTop(): void {
    const last = this.h.pop();
    if (this.h.length === 0 || last === undefined) return;
    this.h[0] = last;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const h = this.h;
    const n = h.length;
    const item = h[start]!;
    let i = start;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(h[c + 1]!, h[c]!)) c++;
      if (!this.before(h[c]!, item)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = item;
  }
}
