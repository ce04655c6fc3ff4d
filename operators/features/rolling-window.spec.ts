import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { RollingWindow, rollingWindow } from './rolling-window.ts';

describe('rollingWindow', () => {
  it('emits the last L rows, oldest first and row-major, once L rows have arrived (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('abcde|', { a: [1, 10], b: [2, 20], c: [3, 30], d: [4, 40], e: [5, 50] });
      expectObservable(src.pipe(rollingWindow(3, 2))).toBe('--xyz|', {
        x: [1, 10, 2, 20, 3, 30],
        y: [2, 20, 3, 30, 4, 40],
        z: [3, 30, 4, 40, 5, 50],
      });
    });
  });

  it('stays in time order after wrapping many times and returns a fresh array each time', () => {
    const w = new RollingWindow(4, 1);
    for (let i = 0; i < 103; i++) w.push([i]);
    const a = w.toArray();
    expect(a).toEqual([99, 100, 101, 102]);
    w.push([103]);
    expect(a).toEqual([99, 100, 101, 102]);
    expect(w.toArray()).toEqual([100, 101, 102, 103]);
  });

  it('reads only `channels` values of a longer row and reports when it is full', () => {
    const w = new RollingWindow(2, 2);
    w.push(Float64Array.of(1, 2, 99));
    expect(w.full).toBe(false);
    expect(w.toArray()).toEqual([1, 2]);
    w.push([3, 4, 99]);
    expect(w.full).toBe(true);
    expect(w.toArray()).toEqual([1, 2, 3, 4]);
  });
});
