import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offsets.ts';

describe('OffsetTracker', () => {
  it('commits up to the highest offset below which every delivered record is finished', () => {
    const t = new OffsetTracker();
    const f0 = t.delivered('a', 0, 0);
    const f1 = t.delivered('a', 0, 1);
    const f2 = t.delivered('a', 0, 2);
    f0();
    f2();
    // Record 1 (async work pending) holds 2 back.
    expect(t.take()).toEqual([{ topic: 'a', partition: 0, offset: 0 }]);
    expect(t.unfinished()).toBe(1);
    f1();
    expect(t.take()).toEqual([{ topic: 'a', partition: 0, offset: 2 }]);
    expect(t.take()).toEqual([]);
  });

  it('keeps partitions apart and starts over on a redelivery from an earlier offset', () => {
    const t = new OffsetTracker();
    t.delivered('a', 0, 5)();
    t.delivered('a', 1, 9)();
    expect(t.take()).toEqual([{ topic: 'a', partition: 0, offset: 5 }, { topic: 'a', partition: 1, offset: 9 }]);
    // After a rebalance the partition is read again from its committed offset: nothing new to commit until past it.
    t.delivered('a', 0, 3)();
    expect(t.take()).toEqual([]);
    t.delivered('a', 0, 4)();
    t.delivered('a', 0, 6)();
    expect(t.take()).toEqual([{ topic: 'a', partition: 0, offset: 6 }]);
  });
});
