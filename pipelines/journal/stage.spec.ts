import { describe, expect, it } from 'vitest';
import type { Journal } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { sampleMessages } from '../../sinks/journal/test-messages.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { MAX_COMMIT_STALL_MS, startJournalStage, WRITE_CHUNK } from './stage.ts';

/** A journal that records what it is handed; its flush resolves when the test says so. */
class FakeJournal implements Journal {
  readonly writes: { topic: TopicName; n: number }[] = [];
  readonly written: unknown[] = [];
  flushes = 0;
  failWrite: Error | undefined;
  private releases: (() => void)[] = [];
  holdFlushes = false;

  async init(): Promise<void> {}
  write<T extends TopicName>(topic: T, messages: readonly Topics[T][]): Promise<void> {
    if (this.failWrite) return Promise.reject(this.failWrite);
    this.writes.push({ topic, n: messages.length });
    this.written.push(...messages);
    return Promise.resolve();
  }
  flush(): Promise<void> {
    this.flushes++;
    if (!this.holdFlushes) return Promise.resolve();
    return new Promise((r) => this.releases.push(r));
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
  async query<R>(): Promise<R[]> {
    return [];
  }
  async close(): Promise<void> {}
}

const GROUP = 'qt.journal';
const bar = (i: number) => sampleMessages(i)['md.bars.1m.v1'];
const trade = (i: number) => sampleMessages(i)['md.trades.v1'];
const newBus = (): MemoryBus => new MemoryBus({ clock: { now: () => Date.UTC(2025, 1, 1) } });
/** Records of the group committed on a topic, over all partitions. */
const committed = (bus: MemoryBus, topic: TopicName): number => bus.committed(GROUP, topic).reduce<number>((s, c) => s + (c ?? 0), 0);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('startJournalStage', () => {
  it('hands records over in chunks per topic, the rest on flush, and commits only once the flush is durable', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const errors: unknown[] = [];
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1', 'md.trades.v1'], flushEveryRows: 1_000_000, onError: (e) => errors.push(e) });
    for (let i = 0; i < WRITE_CHUNK + 10; i++) await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(i));
    for (let i = 0; i < 3; i++) await bus.publish('md.trades.v1', 'binance:BTC/USDT', trade(i));
    expect(journal.writes).toEqual([{ topic: 'md.bars.1m.v1', n: WRITE_CHUNK }]);
    expect(stage.rows()).toBe(WRITE_CHUNK + 13);

    journal.holdFlushes = true;
    const flushed = stage.flush();
    expect(journal.writes.slice(1)).toEqual([
      { topic: 'md.bars.1m.v1', n: 10 },
      { topic: 'md.trades.v1', n: 3 },
    ]);
    await tick();
    expect(journal.flushes).toBe(1);
    expect(committed(bus, 'md.bars.1m.v1')).toBe(0);
    journal.release();
    await flushed;
    expect(committed(bus, 'md.bars.1m.v1')).toBe(WRITE_CHUNK + 10);
    expect(committed(bus, 'md.trades.v1')).toBe(3);
    expect(journal.written).toHaveLength(WRITE_CHUNK + 13);
    expect(errors).toEqual([]);
    stage.stop();
    await bus.close();
  });

  it('flushes by itself once one topic has delivered flushEveryRows records since the last flush', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1', 'md.trades.v1'], flushEveryRows: 5, onError: () => undefined });
    for (let i = 0; i < 4; i++) {
      await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(i));
      await bus.publish('md.trades.v1', 'binance:BTC/USDT', trade(i));
    }
    // Eight records, but no topic has five: the tables' batches are left to fill.
    await tick();
    expect(journal.flushes).toBe(0);
    await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(4));
    await tick();
    expect(journal.flushes).toBe(1);
    expect(journal.written).toHaveLength(9);
    expect(committed(bus, 'md.bars.1m.v1')).toBe(5);
    expect(committed(bus, 'md.trades.v1')).toBe(4);
    stage.stop();
    await bus.close();
  });

  it('never commits past a write that failed, and reports it', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const errors: unknown[] = [];
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1'], flushEveryRows: 1_000_000, onError: (e) => errors.push(e) });
    const boom = new Error('cannot map');
    journal.failWrite = boom;
    await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(0));
    await expect(stage.flush()).rejects.toBe(boom);
    journal.failWrite = undefined;
    await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(1));
    await expect(stage.flush()).rejects.toBe(boom);
    expect(committed(bus, 'md.bars.1m.v1')).toBe(0);
    expect(errors).toContain(boom);
    stage.stop();
    await bus.close();
  });

  it('stop hands the records it still holds to the journal, without committing them', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1'], flushEveryRows: 1_000_000, onError: () => undefined });
    for (let i = 0; i < 3; i++) await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(i));
    stage.stop();
    expect(journal.writes).toEqual([{ topic: 'md.bars.1m.v1', n: 3 }]);
    // Unsubscribed: later records are not taken.
    await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(3));
    expect(journal.written).toHaveLength(3);
    expect(journal.flushes).toBe(0);
    expect(committed(bus, 'md.bars.1m.v1')).toBe(0);
    await bus.close();
  });

  it('keeps the offsets of a commit that failed for a retriable reason for the next flush, and gives up on others', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const errors: unknown[] = [];
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1'], flushEveryRows: 1_000_000, onError: (e) => errors.push(e) });
    for (let i = 0; i < 5; i++) await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(i));
    const commit = bus.commit.bind(bus);
    let failing: Error | undefined = Object.assign(new Error('rebalance in progress'), { retriable: true });
    bus.commit = (g, t, p, o) => (failing ? Promise.reject(failing) : commit(g, t, p, o));
    await stage.flush();
    expect(errors).toEqual([]);
    expect(committed(bus, 'md.bars.1m.v1')).toBe(0);
    // The next flush commits the kept offsets, with nothing new received.
    failing = undefined;
    await stage.flush();
    expect(committed(bus, 'md.bars.1m.v1')).toBe(5);
    // A failure that is not retriable stops the stage.
    await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(5));
    failing = Object.assign(new Error('not authorised'), { retriable: false });
    await stage.flush().catch(() => undefined);
    expect(errors).toHaveLength(1);
    stage.stop();
  });

  it('keeps commits a rebalance refuses for as long as MAX_COMMIT_STALL_MS, however many partitions and flushes', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const errors: unknown[] = [];
    let clock = 0;
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1'], flushEveryRows: 1_000_000, onError: (e) => errors.push(e), now: () => clock });
    // Bars of 60 symbols: every one of the topic's 12 partitions has records to commit.
    for (let i = 0; i < 60; i++) await bus.publish('md.bars.1m.v1', `binance:S${i}/USDT`, { ...bar(i), symbol: `S${i}/USDT` });
    const commit = bus.commit.bind(bus);
    let attempts = 0;
    let failing = true;
    bus.commit = (g, t, p, o) => {
      attempts++;
      return failing ? Promise.reject(Object.assign(new Error('rebalance in progress'), { retriable: true })) : commit(g, t, p, o);
    };
    // A flush every 200 ms for the whole stall limit: each stops at its first refused commit and keeps the rest.
    const flushes = MAX_COMMIT_STALL_MS / 200;
    for (let f = 0; f < flushes; f++, clock += 200) await stage.flush();
    expect(errors).toEqual([]);
    expect(attempts).toBe(flushes);
    failing = false;
    await stage.flush();
    expect(committed(bus, 'md.bars.1m.v1')).toBe(60);
    // A success starts the stall again; refused commits past the limit (at the fourth flush, 90 s on) stop the stage.
    failing = true;
    for (let f = 0; f < 4; f++, clock += MAX_COMMIT_STALL_MS / 2) {
      await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(100 + f));
      await stage.flush().catch(() => undefined);
    }
    expect(errors).toHaveLength(1);
    stage.stop();
  });

  it('a flush with nothing to commit does not end a stall: back-to-back flushes during a rebalance still hit the limit', async () => {
    const bus = newBus();
    const journal = new FakeJournal();
    const errors: unknown[] = [];
    let clock = 0;
    const stage = startJournalStage(bus, journal, { group: GROUP, topics: ['md.bars.1m.v1'], flushEveryRows: 1_000_000, onError: (e) => errors.push(e), now: () => clock });
    for (let i = 0; i < 5; i++) await bus.publish('md.bars.1m.v1', 'binance:BTC/USDT', bar(i));
    bus.commit = () => Promise.reject(Object.assign(new Error('rebalance in progress'), { retriable: true }));
    // A timer flushes without waiting for the last flush: the second of each pair finds the refused offsets not yet put
    // back, so it has nothing to commit.
    for (let f = 0; f < 4; f++, clock += MAX_COMMIT_STALL_MS / 2) await Promise.all([stage.flush(), stage.flush()].map((p) => p.catch(() => undefined)));
    expect(errors.length).toBeGreaterThan(0);
    stage.stop();
  });
});
