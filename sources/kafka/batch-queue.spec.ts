import { describe, expect, it } from 'vitest';
import { BatchQueue } from './batch-queue.ts';

describe('BatchQueue', () => {
  it('sends full batches at once and the rest after the linger, one batch at a time, in order', async () => {
    const sent: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const q = new BatchQueue<number>(async (batch) => {
      inFlight++;
      most = Math.max(most, inFlight);
      sent.push([...batch]);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    }, (e) => e as Error, { maxBatchRecords: 3, lingerMs: 20 });
    const all = Array.from({ length: 7 }, (_, i) => q.push(i));
    await Promise.all(all);
    expect(sent.flat()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(sent[0]).toEqual([0, 1, 2]);
    expect(sent.every((b) => b.length <= 3)).toBe(true);
    expect(most).toBe(1);
    await q.drained();
  });

  it('a failed batch rejects its records and every later one with the translated failure', async () => {
    let calls = 0;
    const q = new BatchQueue<number>(async () => {
      calls++;
      throw new Error('not acknowledged');
    }, (e) => new Error(`publish failed: ${(e as Error).message}`), { lingerMs: 1 });
    await expect(q.push(1)).rejects.toThrow('publish failed: not acknowledged');
    await expect(q.push(2)).rejects.toThrow('publish failed: not acknowledged');
    expect(calls).toBe(1);
    expect(q.failure?.message).toBe('publish failed: not acknowledged');
    await expect(q.drained()).resolves.toBeUndefined();
  });
});
