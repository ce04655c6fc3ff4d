import { describe, expect, it } from 'vitest';
import { MergeHeap } from './merge-heap.ts';

describe('MergeHeap', () => {
  it('merges sorted sources in order, ties by rank', () => {
    const sources = [
      { rank: 0, xs: [1, 4, 4, 9], i: 0 },
      { rank: 1, xs: [2, 4, 7], i: 0 },
      { rank: 2, xs: [0, 10], i: 0 },
      { rank: 3, xs: [], i: 0 },
    ].filter((s) => s.xs.length > 0);
    type S = (typeof sources)[number];
    const heap = new MergeHeap<S>(sources, (a, b) => a.xs[a.i]! < b.xs[b.i]! || (a.xs[a.i] === b.xs[b.i] && a.rank < b.rank));
    const out: [number, number][] = [];
    for (let s = heap.top(); s !== undefined; s = heap.top()) {
      out.push([s.xs[s.i]!, s.rank]);
      if (++s.i < s.xs.length) heap.topChanged();
      else heap.removeTop();
    }
    expect(out).toEqual([[0, 2], [1, 0], [2, 1], [4, 0], [4, 0], [4, 1], [7, 1], [9, 0], [10, 2]]);
    expect(heap.size).toBe(0);
  });
});
