import { take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { codecFor, EncodeError } from '../schemas/codec.ts';
import type { BusRecord } from '../schemas/ports.ts';
import type { Position } from '../schemas/position.ts';
import { TOPIC_CONFIGS, topicConfig, type TopicConfig } from '../schemas/topic-config.ts';
import { schemaOf, type TopicName } from '../schemas/topics.ts';
import type { Trade } from '../schemas/trade.ts';
import { sampleKey, samples, variants } from '../test/fixtures/messages.ts';
import { BusClosedError, InvalidPartitionError, MemoryBus, UnknownTopicError } from './memory-bus.ts';

const BTC = 'binance:BTC/USDT';
const ETH = 'binance:ETH/USDT';
const SOL = 'binance:SOL/USDT';
const T = 1_717_200_000_000;

function newBus(opts: { now?: () => number; topics?: TopicConfig[]; validate?: boolean } = {}) {
  let now = T;
  const clock = { now: opts.now ?? (() => now) };
  const bus = new MemoryBus({ clock, ...(opts.topics ? { topics: opts.topics } : {}), ...(opts.validate === undefined ? {} : { validate: opts.validate }) });
  return { bus, setNow: (ms: number) => (now = ms) };
}

/** A trade with a 4-digit trade id, so every sample encodes to the same number of bytes. */
function trade(i: number, key = BTC, tsEvent = T + i): Trade {
  const symbol = key.split(':')[1]!;
  return { ...samples['md.trades.v1'], id: `t-${key}-${String(i).padStart(5, '0')}`, tsEvent, symbol, tradeId: String(1000 + i) };
}

function position(key: string, version: number): Position {
  return { ...samples['pos.positions.v1'], id: `p-${key}-${version}`, symbol: key.split(':')[1]!, qty: version };
}

function collect<R>(bus: MemoryBus, topic: TopicName, group: string, from?: 'earliest' | 'latest') {
  const got: BusRecord<R>[] = [];
  const sub = bus.consume(topic, group, from ? { from } : {}).subscribe((r) => got.push(r as BusRecord<R>));
  return { got, sub };
}

const override = (name: TopicName, o: Partial<TopicConfig>): TopicConfig => ({ ...topicConfig(name), ...o });

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

describe('MemoryBus: retention', () => {
  it('drops records older than retention.ms from the head', () => {
    const topics = [override('md.trades.v1', { partitions: 1, retentionMs: 1_000 })];
    const { bus, setNow } = newBus({ topics });
    for (const [i, ts] of [T, T + 400, T + 900].entries()) bus.publishSync('md.trades.v1', BTC, trade(i, BTC, ts));
    setNow(T + 1_401);
    // Cutoff T + 401: T and T + 400 go, T + 900 stays; offsets are kept.
    bus.publishSync('md.trades.v1', BTC, trade(3, BTC, T + 1_401));
    expect(bus.records('md.trades.v1').map((r) => r.offset)).toEqual([2, 3]);
    expect(bus.startOffsets('md.trades.v1')).toEqual([2]);
    expect(bus.endOffsets('md.trades.v1')).toEqual([4]);
    // Reads apply retention too, without a publish.
    setNow(T + 1_901);
    expect(bus.records('md.trades.v1').map((r) => r.offset)).toEqual([3]);
    expect(bus.stats()['md.trades.v1']!.records).toBe(1);
    expect(collect<Trade>(bus, 'md.trades.v1', 'late').got.map((r) => r.offset)).toEqual([3]);
  });

  it('keeps everything with retention.ms = -1', () => {
    const topics = [override('md.trades.v1', { partitions: 1, retentionMs: -1 })];
    const { bus, setNow } = newBus({ topics });
    bus.publishSync('md.trades.v1', BTC, trade(0, BTC, 0));
    setNow(T * 10);
    bus.publishSync('md.trades.v1', BTC, trade(1));
    expect(bus.records('md.trades.v1')).toHaveLength(2);
  });

  it('drops the oldest records while the partition holds more than retention.bytes', () => {
    const size = codecFor(schemaOf('md.trades.v1')).encode(trade(0)).length;
    const topics = [override('md.trades.v1', { partitions: 1, retentionMs: -1, retentionBytes: 3 * size })];
    const { bus } = newBus({ topics });
    const live = collect<Trade>(bus, 'md.trades.v1', 'live');
    for (let i = 0; i < 5; i++) bus.publishSync('md.trades.v1', BTC, trade(i));
    expect(bus.records('md.trades.v1').map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(bus.stats()['md.trades.v1']).toEqual({ partitions: 1, records: 3, bytes: 3 * size });
    // Live consumers got every record; retention only limits what is kept.
    expect(live.got).toHaveLength(5);
  });

  it('stays exact over many records (amortised clean-up of the log)', () => {
    const size = codecFor(schemaOf('md.trades.v1')).encode(trade(0)).length;
    const topics = [override('md.trades.v1', { partitions: 1, retentionMs: -1, retentionBytes: 10 * size })];
    const { bus } = newBus({ topics });
    for (let i = 0; i < 5_000; i++) bus.publishSync('md.trades.v1', BTC, trade(i % 9_000));
    expect(bus.records('md.trades.v1').map((r) => r.offset)).toEqual([4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999]);
    expect(bus.startOffsets('md.trades.v1')).toEqual([4990]);
  });

  it('compacts pos.positions.v1 to the latest record per key', () => {
    const topics = [override('pos.positions.v1', { partitions: 1 })];
    const { bus } = newBus({ topics });
    const live = collect<Position>(bus, 'pos.positions.v1', 'live');
    bus.publishSync('pos.positions.v1', BTC, position(BTC, 1));
    bus.publishSync('pos.positions.v1', ETH, position(ETH, 1));
    bus.publishSync('pos.positions.v1', BTC, position(BTC, 2));
    const kept = bus.records('pos.positions.v1');
    expect(kept.map((r) => [r.offset, r.value.id])).toEqual([
      [1, `p-${ETH}-1`],
      [2, `p-${BTC}-2`],
    ]);
    expect(bus.startOffsets('pos.positions.v1')).toEqual([1]);
    expect(bus.endOffsets('pos.positions.v1')).toEqual([3]);
    expect(live.got).toHaveLength(3);
    const late = collect<Position>(bus, 'pos.positions.v1', 'late');
    expect(late.got.map((r) => r.value.id)).toEqual([`p-${ETH}-1`, `p-${BTC}-2`]);
  });

  it('compacts exactly over many updates of few keys', () => {
    const { bus } = newBus();
    const keys = [BTC, ETH, SOL];
    for (let v = 1; v <= 3_000; v++) for (const k of keys) bus.publishSync('pos.positions.v1', k, position(k, v));
    const kept = bus.records('pos.positions.v1');
    expect(kept.map((r) => r.value.id).sort()).toEqual(keys.map((k) => `p-${k}-3000`).sort());
    expect(bus.stats()['pos.positions.v1']!.records).toBe(3);
    // BTC and ETH share partition 1 (6000 records: the last two kept), SOL has partition 2 (3000 records).
    expect(bus.startOffsets('pos.positions.v1')).toEqual([0, 5998, 2999, 0, 0, 0]);
    expect(bus.endOffsets('pos.positions.v1')).toEqual([0, 6000, 3000, 0, 0, 0]);
  });
});

describe('MemoryBus: retained records are kept Avro-encoded', () => {
  const TOPICS = TOPIC_CONFIGS.map((c) => c.name);

  it('gives readers of retained records values deep-equal to what was published, for every topic', () => {
    const { bus } = newBus();
    const live = new Map(TOPICS.map((topic) => [topic, collect<unknown>(bus, topic, 'live').got]));
    const published = new Map<TopicName, BusRecord<unknown>[]>();
    for (const topic of TOPICS) {
      const values = [samples[topic], ...(variants[topic] ?? [])] as unknown[];
      published.set(topic, values.map((v, i) => bus.publishSync(topic, sampleKey(topic), v as never, i === 0 ? { source: 'spec' } : undefined)));
    }
    for (const topic of TOPICS) {
      const sent = published.get(topic)!;
      // Live delivery passes the published objects themselves; nothing is decoded on the hot path.
      expect(live.get(topic)!.map((r) => r.value), topic).toEqual(sent.map((r) => r.value));
      live.get(topic)!.forEach((r, i) => expect(r.value, topic).toBe(sent[i]!.value));
      // A new group and records() read the bytes back: equal values, new objects, the same metadata.
      const late = collect<unknown>(bus, topic, 'late').got;
      for (const got of [late, bus.records(topic)]) {
        expect(got, topic).toEqual(sent);
        got.forEach((r, i) => expect(r.value, topic).not.toBe(sent[i]!.value));
      }
      expect(late[0]!.headers).toEqual({ source: 'spec' });
      expect(late.slice(1).every((r) => r.headers === undefined)).toBe(true);
    }
  });

  it('decodes a bytes field into memory of its own: a reader cannot corrupt the log through it', () => {
    const { bus } = newBus();
    const topic = 'md.bars.1m.v1.dlq';
    bus.publishSync(topic, sampleKey(topic), samples[topic]);
    const first = bus.records(topic)[0]!.value;
    first.payload.fill(0);
    expect(bus.records(topic)[0]!.value).toEqual(samples[topic]);
  });

  it('reads back many records over several segments, after retention has dropped the oldest', () => {
    // 6-digit trade ids: every value encodes to the same size.
    const big = (i: number, key: string): Trade => ({ ...trade(i, key), tradeId: String(100_000 + i) });
    const size = codecFor(schemaOf('md.trades.v1')).encode(big(0, BTC)).length;
    const topics = [override('md.trades.v1', { partitions: 2, retentionMs: -1, retentionBytes: 20_000 * size })];
    const { bus } = newBus({ topics });
    const live = collect<Trade>(bus, 'md.trades.v1', 'live');
    const sent: Trade[] = [];
    for (let i = 0; i < 50_000; i++) {
      const v = big(i, i % 3 === 0 ? SOL : BTC);
      sent.push(v);
      bus.publishSync('md.trades.v1', v.symbol === 'SOL/USDT' ? SOL : BTC, v);
    }
    expect(live.got).toHaveLength(50_000);
    // SOL (every third trade) is alone in its partition, under the byte limit; BTC keeps its last 20 000 trades.
    const btc = sent.filter((v) => v.symbol === 'BTC/USDT');
    const kept = [...sent.filter((v) => v.symbol === 'SOL/USDT'), ...btc.slice(-20_000)].sort((a, b) => a.tsEvent - b.tsEvent);
    const late = collect<Trade>(bus, 'md.trades.v1', 'late').got;
    expect(late.map((r) => r.value)).toEqual(kept);
    expect(bus.records('md.trades.v1', bus.partitionFor('md.trades.v1', BTC)).map((r) => r.offset)).toEqual(
      Array.from({ length: 20_000 }, (_, i) => btc.length - 20_000 + i),
    );
    expect(bus.stats()['md.trades.v1']).toEqual({ partitions: 2, records: kept.length, bytes: kept.length * size });
  });

  it('compacts exactly over many segments, a key written once long ago surviving every rewrite', () => {
    const topics = [override('pos.positions.v1', { partitions: 1 })];
    const { bus } = newBus({ topics });
    const keys = Array.from({ length: 40 }, (_, k) => `binance:K${k}/USDT`);
    bus.publishSync('pos.positions.v1', 'binance:OLD/USDT', position('binance:OLD/USDT', 1));
    for (let v = 1; v <= 600; v++) for (const k of keys) bus.publishSync('pos.positions.v1', k, position(k, v));
    const expected = [position('binance:OLD/USDT', 1), ...keys.map((k) => position(k, 600))];
    expect(bus.records('pos.positions.v1').map((r) => r.value)).toEqual(expected);
    expect(collect<Position>(bus, 'pos.positions.v1', 'late').got.map((r) => [r.offset, r.value])).toEqual(
      expected.map((v, i) => [i === 0 ? 0 : 1 + 599 * 40 + i - 1, v]),
    );
    const size = (v: Position) => codecFor(schemaOf('pos.positions.v1')).encode(v).length;
    expect(bus.stats()['pos.positions.v1']).toEqual({ partitions: 1, records: 41, bytes: expected.reduce((s, v) => s + size(v), 0) });
  });

  it('skips in a catch-up the records that compaction removes while it runs', () => {
    const topics = [override('pos.positions.v1', { partitions: 1 })];
    const { bus } = newBus({ topics });
    const keys = Array.from({ length: 40 }, (_, k) => `binance:K${k}/USDT`);
    for (const k of keys) bus.publishSync('pos.positions.v1', k, position(k, 1));
    const got: string[] = [];
    bus.consume('pos.positions.v1', 'late').subscribe((r) => {
      got.push(r.value.id);
      // The first record's handler rewrites every key many times over: the rest of the catch-up is gone.
      if (got.length === 1) for (let v = 2; v <= 300; v++) for (const k of keys) bus.publishSync('pos.positions.v1', k, position(k, v));
    });
    expect(got).toHaveLength(1 + 299 * 40);
    expect(got.slice(0, 2)).toEqual([`p-${keys[0]}-1`, `p-${keys[0]}-2`]);
    expect(got.at(-1)).toBe(`p-${keys[39]}-300`);
  });

  it('skips in a catch-up a record that compaction removes after rewriting the segment the catch-up is in', () => {
    const topics = [override('pos.positions.v1', { partitions: 1 })];
    const { bus } = newBus({ topics });
    const A = 'binance:A/USDT';
    bus.publishSync('pos.positions.v1', BTC, position(BTC, 1));
    bus.publishSync('pos.positions.v1', A, position(A, 1));
    const got: string[] = [];
    bus.consume('pos.positions.v1', 'late').subscribe((r) => {
      got.push(r.value.id);
      if (got.length > 1) return;
      // Enough updates of BTC to seal and rewrite the segment (A's first record is copied over), then A is updated:
      // the rewritten copy of A's first record is the one removed, and the catch-up must see that.
      for (let v = 2; v <= 10_000; v++) bus.publishSync('pos.positions.v1', BTC, position(BTC, v));
      bus.publishSync('pos.positions.v1', A, position(A, 2));
    });
    expect(got).toHaveLength(1 + 9_999 + 1);
    expect(got.filter((id) => id.startsWith(`p-${A}`))).toEqual([`p-${A}-2`]);
  });
});
