import { describe, expect, it } from 'vitest';
import { CommitQueue, type CommitOffset } from './commit-queue.ts';

describe('CommitQueue', () => {
  it('sends one request at a time, merging what comes meanwhile per partition (the latest offset wins)', async () => {
    const requests: CommitOffset[][] = [];
    let release!: () => void;
    let inFlight = 0;
    let most = 0;
    const q = new CommitQueue(async (offsets) => {
      inFlight++;
      most = Math.max(most, inFlight);
      requests.push([...offsets]);
      await new Promise<void>((r) => (release = r));
      inFlight--;
    }, (e) => e);
    const first = q.commit('t', 0, 5);
    // While the first request is on its way: three commits, two of them on one partition.
    const later = [q.commit('t', 0, 7), q.commit('t', 1, 3), q.commit('t', 0, 9)];
    await Promise.resolve();
    release();
    await first;
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all(later);
    expect(requests).toEqual([[{ topic: 't', partition: 0, offset: 5 }], [{ topic: 't', partition: 0, offset: 9 }, { topic: 't', partition: 1, offset: 3 }]]);
    expect(most).toBe(1);
  });

  it('rejects every commit of a failed request with the translated error, and sends the next one', async () => {
    let fail = true;
    const q = new CommitQueue(async () => {
      if (fail) throw new Error('rebalancing');
    }, (e) => Object.assign(new Error(`commit failed: ${(e as Error).message}`), { retriable: true }));
    const a = q.commit('t', 0, 1);
    const b = q.commit('t', 0, 2);
    await expect(a).rejects.toThrow('commit failed: rebalancing');
    await expect(b).rejects.toMatchObject({ retriable: true });
    fail = false;
    await expect(q.commit('t', 0, 3)).resolves.toBeUndefined();
  });
});
