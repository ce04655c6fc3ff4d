import { take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { codecFor, EncodeError } from '../schemas/codec.ts';
import { schemaOf, type TopicName } from '../schemas/topics.ts';
import type { Trade } from '../schemas/trade.ts';
import { samples } from '../test/fixtures/messages.ts';
import { BusClosedError, InvalidPartitionError, MemoryBus, UnknownTopicError } from './memory-bus.ts';
import { BTC, collect, ETH, newBus, SOL, T, trade } from '../test/fixtures/bus.ts';

describe('MemoryBus: offsets and partitions', () => {
  it('appends per partition with offsets from 0, the timestamp being tsEvent', async () => {
    const { bus } = newBus();
    const a = bus.publishSync('md.trades.v1', BTC, trade(0));
    const b = bus.publishSync('md.trades.v1', BTC, trade(1), { source: 'csv' });
    const c = bus.publishSync('md.trades.v1', ETH, trade(2, ETH));
    await bus.publish('md.trades.v1', BTC, trade(3));
    expect([a.offset, b.offset, c.offset]).toEqual([0, 1, 0]);
    expect(a).toMatchObject({ topic: 'md.trades.v1', key: BTC, timestamp: T });
    expect(b.headers).toEqual({ source: 'csv' });
    const ends = bus.endOffsets('md.trades.v1');
    expect(ends).toHaveLength(12);
    expect(ends.reduce((s, n) => s + n, 0)).toBe(4);
    expect(ends[a.partition]).toBe(3);
    expect(bus.records('md.trades.v1', a.partition).map((r) => r.offset)).toEqual([0, 1, 2]);
    // Across partitions, records come back in publish order.
    expect(bus.records('md.trades.v1').map((r) => r.value.tradeId)).toEqual(['1000', '1001', '1002', '1003']);
  });

  it("places keys on Kafka's partitions", () => {
    // Values from an independent implementation of Kafka's murmur2 (see murmur2.spec.ts).
    const { bus } = newBus();
    expect(bus.partitionFor('md.bars.1m.v1', BTC)).toBe(1);
    expect(bus.partitionFor('md.bars.1m.v1', ETH)).toBe(7);
    expect(bus.partitionFor('md.bars.1m.v1', SOL)).toBe(8);
    expect(bus.partitionFor('pos.positions.v1', BTC)).toBe(1);
    expect(bus.partitionFor('pos.positions.v1', SOL)).toBe(2);
    expect(bus.partitionFor('pos.equity.v1', 'paper')).toBe(0);
    expect(bus.publishSync('md.trades.v1', SOL, trade(0, SOL)).partition).toBe(8);
  });

  it('rejects an unknown topic, a bad commit and use after close', async () => {
    const { bus } = newBus();
    await expect(bus.publish('nope.v1' as TopicName, BTC, trade(0) as never)).rejects.toBeInstanceOf(UnknownTopicError);
    await expect(bus.commit('g', 'md.trades.v1', 12, 0)).rejects.toBeInstanceOf(InvalidPartitionError);
    await expect(bus.commit('g', 'md.trades.v1', 0, -2)).rejects.toBeInstanceOf(InvalidPartitionError);
    let error: unknown;
    bus.consume('nope.v1' as TopicName, 'g').subscribe({ error: (e) => (error = e) });
    expect(error).toBeInstanceOf(UnknownTopicError);
    let completed = false;
    bus.consume('md.trades.v1', 'g').subscribe({ complete: () => (completed = true) });
    await bus.close();
    expect(completed).toBe(true);
    await expect(bus.publish('md.trades.v1', BTC, trade(0))).rejects.toBeInstanceOf(BusClosedError);
  });
});

describe('MemoryBus: validation', () => {
  it('rejects a value that does not match the schema with EncodeError, appending nothing', async () => {
    const { bus } = newBus();
    const bad = { ...trade(0), price: 'cheap' } as unknown as Trade;
    const err = await bus.publish('md.trades.v1', BTC, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).paths).toEqual(['price']);
    expect(bus.endOffsets('md.trades.v1').every((n) => n === 0)).toBe(true);
  });

  it('skips the check with validate: false, still encoding: live readers get the object, late ones its decoded bytes', async () => {
    const { bus } = newBus({ validate: false });
    const live = collect<Trade>(bus, 'md.trades.v1', 'live');
    const odd = { ...trade(0), extra: 1 } as unknown as Trade;
    await bus.publish('md.trades.v1', BTC, odd);
    expect(live.got[0]!.value).toBe(odd);
    expect(bus.records('md.trades.v1').map((r) => r.value)).toEqual([trade(0)]);
  });

  it('with validate: false, still rejects a value that cannot be encoded at all, appending nothing', async () => {
    const { bus } = newBus({ validate: false });
    const bad = { ...trade(0), tradeId: 1000 } as unknown as Trade;
    await expect(bus.publish('md.trades.v1', BTC, bad)).rejects.toBeInstanceOf(EncodeError);
    expect(bus.endOffsets('md.trades.v1').every((n) => n === 0)).toBe(true);
    bus.publishSync('md.trades.v1', BTC, trade(1));
    expect(bus.records('md.trades.v1').map((r) => [r.offset, r.value])).toEqual([[0, trade(1)]]);
  });

  it('counts the Avro-encoded size of the retained values', () => {
    const { bus } = newBus();
    bus.publishSync('md.trades.v1', BTC, trade(0));
    bus.publishSync('md.trades.v1', ETH, trade(1, ETH));
    bus.publishSync('pos.equity.v1', 'paper', samples['pos.equity.v1']);
    const size = (t: TopicName, v: unknown) => codecFor(schemaOf(t)).encode(v as never).length;
    const stats = bus.stats();
    expect(stats['md.trades.v1']).toEqual({ partitions: 12, records: 2, bytes: size('md.trades.v1', trade(0)) + size('md.trades.v1', trade(1, ETH)) });
    expect(stats['pos.equity.v1']).toEqual({ partitions: 1, records: 1, bytes: size('pos.equity.v1', samples['pos.equity.v1']) });
    expect(stats['exec.fills.v1']).toEqual({ partitions: 6, records: 0, bytes: 0 });
  });
});

describe('MemoryBus: delivery', () => {
  it('delivers synchronously, before publish returns', () => {
    const { bus } = newBus();
    const { got } = collect<Trade>(bus, 'md.trades.v1', 'g');
    void bus.publish('md.trades.v1', BTC, trade(0));
    expect(got.map((r) => r.value.tradeId)).toEqual(['1000']);
  });

  it('never delivers re-entrantly: a record published by a handler is delivered after the handler returns', () => {
    const { bus } = newBus();
    const log: string[] = [];
    bus.consume('md.trades.v1', 'echo').subscribe((r) => {
      log.push(`echo got ${r.value.tradeId}`);
      if (r.value.tradeId === '1000') {
        bus.publishSync('md.trades.v1', BTC, trade(1));
        bus.publishSync('exec.fills.v1', BTC, samples['exec.fills.v1']);
        log.push('echo returns');
      }
    });
    bus.consume('exec.fills.v1', 'fills').subscribe(() => log.push('fills got fill'));
    bus.publishSync('md.trades.v1', BTC, trade(0));
    expect(log).toEqual(['echo got 1000', 'echo returns', 'echo got 1001', 'fills got fill']);
  });

  it('delivers every topic to every consumer in publish order', () => {
    const { bus } = newBus();
    const seen: string[] = [];
    bus.consume('md.trades.v1', 'x').subscribe((r) => seen.push(`trade ${r.value.tradeId}`));
    bus.consume('pos.equity.v1', 'x').subscribe((r) => seen.push(`equity ${r.value.id}`));
    bus.publishSync('md.trades.v1', SOL, trade(0, SOL));
    bus.publishSync('pos.equity.v1', 'paper', { ...samples['pos.equity.v1'], id: 'e1' });
    bus.publishSync('md.trades.v1', BTC, trade(1));
    expect(seen).toEqual(['trade 1000', 'equity e1', 'trade 1001']);
  });

  it('gives a late subscriber the retained records of all partitions in publish order, then live ones', () => {
    const { bus } = newBus();
    bus.publishSync('md.trades.v1', SOL, trade(0, SOL));
    bus.publishSync('md.trades.v1', BTC, trade(1));
    bus.publishSync('md.trades.v1', ETH, trade(2, ETH));
    const { got } = collect<Trade>(bus, 'md.trades.v1', 'late');
    bus.publishSync('md.trades.v1', SOL, trade(3, SOL));
    expect(got.map((r) => r.value.tradeId)).toEqual(['1000', '1001', '1002', '1003']);
  });

  it('starts a subscriber that joins during a delivery after that delivery, missing nothing', () => {
    const { bus } = newBus();
    const log: string[] = [];
    bus.consume('md.trades.v1', 'a').subscribe((r) => {
      log.push(`a ${r.value.tradeId}`);
      if (r.value.tradeId === '1000') {
        bus.consume('md.trades.v1', 'b').subscribe((x) => log.push(`b ${x.value.tradeId}`));
        bus.publishSync('md.trades.v1', BTC, trade(1));
        log.push('a returns');
      }
    });
    bus.publishSync('md.trades.v1', BTC, trade(0));
    bus.publishSync('md.trades.v1', BTC, trade(2));
    // b joined before 1001 was published: its catch-up (1000) runs after a returns, before 1001 goes to both.
    expect(log).toEqual(['a 1000', 'a returns', 'b 1000', 'a 1001', 'b 1001', 'a 1002', 'b 1002']);
  });

  it('stops a catch-up when the subscriber stops (take)', () => {
    const { bus } = newBus();
    for (let i = 0; i < 5; i++) bus.publishSync('md.trades.v1', BTC, trade(i));
    const got: string[] = [];
    bus.consume('md.trades.v1', 'g').pipe(take(2)).subscribe((r) => got.push(r.value.tradeId));
    bus.publishSync('md.trades.v1', BTC, trade(5));
    expect(got).toEqual(['1000', '1001']);
  });
});

describe('MemoryBus: consumer groups', () => {
  it('gives every record to each group', () => {
    const { bus } = newBus();
    const g1 = collect<Trade>(bus, 'md.trades.v1', 'g1');
    const g2 = collect<Trade>(bus, 'md.trades.v1', 'g2');
    for (const [i, k] of [BTC, ETH, SOL].entries()) bus.publishSync('md.trades.v1', k, trade(i, k));
    expect(g1.got.map((r) => r.value.tradeId)).toEqual(['1000', '1001', '1002']);
    expect(g2.got.map((r) => r.value.tradeId)).toEqual(['1000', '1001', '1002']);
  });

  it('splits partitions round-robin among the members of one group', () => {
    const { bus } = newBus();
    const a = collect<Trade>(bus, 'md.trades.v1', 'g');
    const b = collect<Trade>(bus, 'md.trades.v1', 'g');
    // Two members: a owns the even partitions, b the odd ones. SOL is on 8, BTC on 1, ETH on 7.
    for (let i = 0; i < 6; i++) {
      const k = [BTC, ETH, SOL][i % 3]!;
      bus.publishSync('md.trades.v1', k, trade(i, k));
    }
    expect(a.got.map((r) => r.key)).toEqual([SOL, SOL]);
    expect(b.got.map((r) => r.key)).toEqual([BTC, ETH, BTC, ETH]);
    expect(b.got.map((r) => r.offset)).toEqual([0, 0, 1, 1]);
  });

  it('rebalances on leave: the remaining member takes over from the committed offset', async () => {
    const { bus } = newBus();
    const a = collect<Trade>(bus, 'md.trades.v1', 'g');
    const b = collect<Trade>(bus, 'md.trades.v1', 'g');
    bus.publishSync('md.trades.v1', BTC, trade(0));
    bus.publishSync('md.trades.v1', BTC, trade(1));
    await bus.commit('g', 'md.trades.v1', 1, 0);
    expect(b.got).toHaveLength(2);
    b.sub.unsubscribe();
    // a now owns partition 1 and resumes after the commit: trade 1001 is redelivered (at-least-once).
    expect(a.got.map((r) => r.value.tradeId)).toEqual(['1001']);
    bus.publishSync('md.trades.v1', BTC, trade(2));
    expect(a.got.map((r) => r.value.tradeId)).toEqual(['1001', '1002']);
  });

  it('resumes a restarted group from its commit, redelivering what was not committed', async () => {
    const { bus } = newBus();
    const first = collect<Trade>(bus, 'md.trades.v1', 'journal');
    for (let i = 0; i < 5; i++) bus.publishSync('md.trades.v1', BTC, trade(i));
    expect(first.got).toHaveLength(5);
    await bus.commit('journal', 'md.trades.v1', 1, 2);
    first.sub.unsubscribe();
    bus.publishSync('md.trades.v1', BTC, trade(5));
    expect(bus.committed('journal', 'md.trades.v1')[1]).toBe(3);
    const second = collect<Trade>(bus, 'md.trades.v1', 'journal');
    expect(second.got.map((r) => r.offset)).toEqual([3, 4, 5]);
    bus.publishSync('md.trades.v1', BTC, trade(6));
    expect(second.got.map((r) => r.offset)).toEqual([3, 4, 5, 6]);
  });

  it('starts a group without commit at the earliest or the latest record', () => {
    const { bus } = newBus();
    bus.publishSync('md.trades.v1', BTC, trade(0));
    const earliest = collect<Trade>(bus, 'md.trades.v1', 'e', 'earliest');
    const latest = collect<Trade>(bus, 'md.trades.v1', 'l', 'latest');
    const byDefault = collect<Trade>(bus, 'md.trades.v1', 'd');
    bus.publishSync('md.trades.v1', BTC, trade(1));
    expect(earliest.got.map((r) => r.offset)).toEqual([0, 1]);
    expect(latest.got.map((r) => r.offset)).toEqual([1]);
    expect(byDefault.got.map((r) => r.offset)).toEqual([0, 1]);
  });
});
