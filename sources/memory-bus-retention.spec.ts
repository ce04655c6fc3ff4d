import { describe, expect, it } from 'vitest';
import { codecFor } from '../schemas/codec.ts';
import type { BusRecord } from '../schemas/ports.ts';
import type { Position } from '../schemas/position.ts';
import { TOPIC_CONFIGS } from '../schemas/topic-config.ts';
import { schemaOf, type TopicName } from '../schemas/topics.ts';
import type { Trade } from '../schemas/trade.ts';
import { sampleKey, samples, variants } from '../test/fixtures/messages.ts';
import { MemoryBus } from './memory-bus.ts';
import { BTC, collect, ETH, newBus, override, position, SOL, T, trade } from '../test/fixtures/bus.ts';

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
