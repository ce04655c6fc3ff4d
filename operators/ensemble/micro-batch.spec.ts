import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { microBatch } from './micro-batch.ts';

interface Item {
  readonly id: string;
  readonly tsEvent: number;
}
const items: Record<string, Item> = {
  a: { id: 'a', tsEvent: 60_000 },
  b: { id: 'b', tsEvent: 60_000 },
  c: { id: 'c', tsEvent: 120_000 },
  d: { id: 'd', tsEvent: 180_000 },
  e: { id: 'e', tsEvent: 180_000 },
  z: { id: 'z', tsEvent: 60_000 }, // late: after the 60 000 batch left
};
const ts = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('microBatch', () => {
  it('emits a batch when an item with a later tsEvent arrives, and the last one on completion', () => {
    ts().run(({ cold, expectObservable }) => {
      const { a, b, c, d, e } = items;
      expectObservable(cold('-ab-c--de|', items).pipe(microBatch())).toBe('----x--y-(z|)', {
        x: [a, b],
        y: [c],
        z: [d, e],
      });
    });
  });

  it('starts a new batch for a late item instead of reopening a batch already emitted', () => {
    ts().run(({ cold, expectObservable }) => {
      const { a, c, z } = items;
      expectObservable(cold('a-c-z|', items).pipe(microBatch())).toBe('--x-y(w|)', { x: [a], y: [c], w: [z] });
    });
  });

  it('emits after maxWaitMs on the scheduler when no later item comes', () => {
    ts().run(({ cold, expectObservable, time }) => {
      const { a, b, c } = items;
      const wait = time('----|'); // 4 frames after the batch's first item
      // a at 0 and b at 1 leave at 4 on the timer; c at 8 leaves when the source completes at 10
      expectObservable(cold('ab------c-|', items).pipe(microBatch({ maxWaitMs: wait }))).toBe('----x-----(y|)', {
        x: [a, b],
        y: [c],
      });
    });
  });

  it('the timer of a batch does not cut the next batch short', () => {
    ts().run(({ cold, expectObservable }) => {
      const { a, c, d } = items;
      // a at 0 (timer due at 3), c at 2 closes a; c's own timer is due at 5, d at 4 closes c first
      expectObservable(cold('--c-d---|', items).pipe(microBatch({ maxWaitMs: 3 }))).toBe('----x--y|', { x: [c], y: [d] });
      expectObservable(cold('a-c-d---|', items).pipe(microBatch({ maxWaitMs: 3 }))).toBe('--x-y--z|', { x: [a], y: [c], z: [d] });
    });
  });

  it('emits nothing for an empty source and passes errors on', () => {
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold<Item>('---|').pipe(microBatch())).toBe('---|');
      expectObservable(cold('a-#', items).pipe(microBatch())).toBe('--#');
    });
  });
});
